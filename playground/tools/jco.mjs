// The component, transpiled by jco into an ES module with its core wasm
// files: playground/pkg/jco/modwatch.js, for Node and for a browser page
// (served under /pkg/ like the wasm-bindgen build). `just build-jco` runs it
// after writing the component with `modwatch component --out`.
//
//   node tools/jco.mjs COMPONENT.wasm

import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { transpile, writeFiles } from "@bytecodealliance/jco-transpile";

const component = process.argv[2];
if (!component) throw new Error("usage: node tools/jco.mjs COMPONENT.wasm (`just build-jco` writes it)");
const out = fileURLToPath(new URL("../pkg/jco/", import.meta.url));
rmSync(out, { recursive: true, force: true });
const { files, imports } = await transpile(component, {
  name: "modwatch",
  outDir: out,
  // Compile the core modules from their files (fetch in a browser, fs in
  // Node) rather than base64 in the JS: the same bytes the other hosts run.
  base64Cutoff: 0,
  emitTypescriptDeclarations: false,
});
if (imports.length) throw new Error(`the component must import nothing; jco sees ${imports.join(", ")}`);
await writeFiles(files);
console.log(`jco: ${Object.keys(files).length} files in ${out}`);
