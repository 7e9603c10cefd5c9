// The web build (pkg/, as the page loads it), initialised for Node. A test
// that needs it fails, naming the command, when it has not been built.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const pkg = new URL("../pkg/", import.meta.url);
const wasmPath = new URL("modwatch_web_bg.wasm", pkg);
if (!existsSync(wasmPath)) {
  throw new Error(`the web build is missing (${fileURLToPath(wasmPath)}): run \`just build-web\``);
}
export const web = await import(new URL("modwatch_web.js", pkg));
web.initSync({ module: readFileSync(wasmPath) });
