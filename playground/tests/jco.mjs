// The component transpiled by jco (pkg/jco/, `just build-jco`), for Node. A
// test that needs it fails, naming the command, when it has not been built.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../pkg/jco/modwatch.js", import.meta.url);
if (!existsSync(entry)) {
  throw new Error(`the jco build is missing (${fileURLToPath(entry)}): run \`just build-jco\``);
}
const { detection } = await import(entry);
export { detection };
