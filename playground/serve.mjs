// A tiny static server for the playground, on 127.0.0.1 only, with the MIME
// types a module worker and WebAssembly need. No dependencies.
//
//   node serve.mjs [--port 8700]      (`just playground`)
//   import { serve } from "./serve.mjs"; const { url, close } = await serve({ port: 0 });

import { createServer } from "node:http";
import { createReadStream, statSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL(".", import.meta.url));
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ndjson": "application/x-ndjson",
  ".toml": "text/plain; charset=utf-8",
};
// Only the page's own files: never node_modules, the tests or the tools.
const PUBLIC = /^\/(index\.html|style\.css|src\/[\w.-]+\.js|pkg\/.+)$/;

export function serve({ port = 8700, host = "127.0.0.1", quiet = true } = {}) {
  const server = createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (path === "/") path = "/index.html";
    const file = normalize(join(ROOT, path));
    let size = -1;
    if (PUBLIC.test(path) && file.startsWith(ROOT) && !path.includes(`..${sep}`)) {
      try {
        const st = statSync(file);
        if (st.isFile()) size = st.size;
      } catch {
        // missing: 404 below
      }
    }
    if (!quiet) console.log(`${req.method} ${path} ${size < 0 ? 404 : 200}`);
    if (size < 0) {
      const hint = path.startsWith("/pkg/") ? " (run `just build-web`)" : "";
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${path}${hint}\n`);
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "content-length": size,
      "cache-control": "no-cache",
    });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const { port: actual } = server.address();
      resolve({ url: `http://${host}:${actual}/`, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf("--port");
  const port = at > 0 ? Number(process.argv[at + 1]) : Number(process.env.PORT ?? 8700);
  const { url } = await serve({ port, quiet: !process.argv.includes("--verbose") });
  console.log(`modwatch playground: ${url}  (Ctrl+C to stop)`);
}
