// `just bench-web`: the web build in headless Chromium (Debian's).
//
// 1. Page load to first result: a fresh page opened on `#sample=spec-1&run`
//    until the first row of results is drawn (navigation start to that
//    moment: HTML, JS, wasm compile, rule pack load, the run, the table).
// 2. Events/s of `Engine.tag` in the page's worker on the bench mix of
//    `just bench` (the same events: `modwatch_testkit::r#gen::mix(N, 1578)`), the
//    way that bench measures the native engine and the component: a fresh
//    engine, a warm-up pass, the best of three passes, one thread.
// 3. A whole run as a user sees it (tag, results parsed into rows, progress).
//
//   node bench/bench.mjs MIX.ndjson

import { readFileSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { open } from "../tests/chromium.mjs";

const mix = process.argv[2];
if (!mix) throw new Error("usage: node bench/bench.mjs MIX.ndjson (`just bench-web` writes the mix)");
const root = fileURLToPath(new URL("../../", import.meta.url));
const wasm = readFileSync(new URL("../pkg/modwatch_web_bg.wasm", import.meta.url));
const glue = readFileSync(new URL("../pkg/modwatch_web.js", import.meta.url));
const fmt = (n, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

const browser = await open();
try {
  // 1. Page load to first result, five fresh pages.
  const loads = [];
  for (let i = 0; i < 5; i++) {
    const page = await browser.context.newPage();
    await page.goto(`${browser.url}#sample=spec-1&run`);
    await page.waitForFunction(() => window.playground?.timings.firstResult != null, null, { timeout: 60_000 });
    loads.push(await page.evaluate(() => window.playground.timings.firstResult));
    if (process.env.MODWATCH_BENCH_DEBUG) {
      console.log(await page.evaluate(() => JSON.stringify({ ...window.playground.timings, resources: performance.getEntriesByType("resource").map((r) => [r.name.split("/").pop(), Math.round(r.startTime), Math.round(r.responseEnd)]) })));
    }
    await page.close();
  }

  // 2 and 3: the mix, from a file, in one page.
  const page = await browser.context.newPage();
  await page.goto(browser.url);
  await page.evaluate(() => window.playground.ready);
  await page.setInputFiles("#file", mix);
  const tag = await page.evaluate(() => window.playground.bench({ runs: 3 }));
  const run = await page.evaluate(async () => {
    const started = performance.now();
    await window.playground.run();
    return { ms: performance.now() - started, status: document.getElementById("run-status").textContent, rows: window.playground.state.rows.length };
  });
  await page.close();

  const size = statSync(mix).size;
  const result = {
    chromium: browser.version,
    wasm_bytes: wasm.length,
    wasm_gzip_bytes: gzipSync(wasm, { level: 9 }).length,
    glue_bytes: glue.length,
    mix: { file: mix.replace(root, ""), events: tag.events, bytes: size, matches: tag.matches },
    tag: { passes_ms: tag.passes, best_ms: tag.bestMs, events_per_second: tag.eventsPerSecond, mb_per_second: tag.mbPerSecond },
    page_run: { ms: run.ms, events_per_second: tag.events / (run.ms / 1000), rows: run.rows, status: run.status },
    load_to_first_result_ms: { first: loads[0], best: Math.min(...loads), all: loads },
  };
  writeFileSync(`${root}target/web/bench-web.json`, JSON.stringify(result, null, 2));

  console.log("modwatch web build in headless Chromium (playground/bench/bench.mjs)");
  console.log(`browser: ${result.chromium}; module ${fmt(wasm.length)} B (${fmt(result.wasm_gzip_bytes)} B gzipped) + ${fmt(glue.length)} B JS glue`);
  console.log(`mix: ${fmt(tag.events)} events, ${fmt(size / 1e6, 1)} MB (${result.mix.file}), ${fmt(tag.matches)} with a match`);
  console.log("");
  console.log(`${"mode".padEnd(34)} ${"seconds".padStart(8)} ${"events/s".padStart(10)} ${"MB/s".padStart(7)}`);
  console.log(`${"Engine.tag in a worker (best of 3)".padEnd(34)} ${fmt(tag.bestMs / 1000, 3).padStart(8)} ${fmt(tag.eventsPerSecond).padStart(10)} ${fmt(tag.mbPerSecond, 1).padStart(7)}`);
  console.log(`${"the page's run (rows, progress)".padEnd(34)} ${fmt(run.ms / 1000, 3).padStart(8)} ${fmt(result.page_run.events_per_second).padStart(10)} ${fmt(size / 1e6 / (run.ms / 1000), 1).padStart(7)}`);
  console.log("");
  console.log(`page load to first result (#sample=spec-1&run): first ${fmt(loads[0])} ms, best of 5 ${fmt(Math.min(...loads))} ms`);
  console.log(`passes: ${tag.passes.map((p) => fmt(p)).join(", ")} ms; written to target/web/bench-web.json`);
} finally {
  await browser.close();
}
