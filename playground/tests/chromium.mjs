// Debian's Chromium, headless, driven by playwright-core: never a browser a
// test tool downloads (scripts/setup-web.sh installs this one). Shared by the
// browser test and the benchmark.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { serve } from "../serve.mjs";

export const CHROMIUM = process.env.MODWATCH_CHROMIUM ?? "/usr/bin/chromium";

/** The page served on 127.0.0.1 and a fresh headless Chromium; `close()` ends both. */
export async function open({ width = 1440, height = 1000 } = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`./scripts/setup-web.sh\` (Debian's chromium)`);
  const pkg = new URL("../pkg/modwatch_web_bg.wasm", import.meta.url);
  if (!existsSync(pkg)) throw new Error("the web build is missing: run `just build-web`");
  const server = await serve({ port: 0 });
  const profile = mkdtempSync(join(tmpdir(), "modwatch-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width, height },
    // No network beyond loopback on this machine: nothing in the background.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  const version = context.browser()?.version() ?? (await context.newCDPSession(context.pages()[0] ?? (await context.newPage())).then((s) => s.send("Browser.getVersion")).then((v) => v.product));
  return {
    url: server.url,
    context,
    version,
    async close() {
      await context.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
