// `just bench-web`, second part: the two JS builds of the engine side by side
// in Node (V8, as in Chromium), on the mix of `just bench`: the wasm-bindgen
// build's `Engine.tag` per event, and the component transpiled by jco with
// `tag` per event and `tag-chunk` with chunks of 1,000. A fresh engine per
// pass, a warm-up pass, the best of three, one thread.
//
//   node bench/jco.mjs MIX.ndjson

import { readFileSync } from "node:fs";
import { web } from "../tests/web.mjs";
import { detection } from "../tests/jco.mjs";

const mix = process.argv[2];
if (!mix) throw new Error("usage: node bench/jco.mjs MIX.ndjson (`just bench-web` writes the mix)");
const text = readFileSync(mix);
const events = [];
for (let start = 0; start < text.length; ) {
  let end = text.indexOf(0x0a, start);
  if (end < 0) end = text.length;
  if (end > start) events.push(text.subarray(start, end));
  start = end + 1;
}
const CHUNK = 1000;
const chunks = [];
for (let i = 0; i < events.length; i += CHUNK) {
  const part = events.slice(i, i + CHUNK);
  const bytes = new Uint8Array(part.reduce((n, e) => n + e.length, 0));
  const ends = new Uint32Array(part.length);
  let at = 0;
  part.forEach((e, j) => {
    bytes.set(e, at);
    at += e.length;
    ends[j] = at;
  });
  chunks.push({ bytes, ends });
}

const modes = {
  "wasm-bindgen, Engine.tag": () => {
    const engine = new web.Engine(null, null);
    let matches = 0;
    for (const e of events) matches += engine.tag(e).startsWith('{"output":"replaced"') ? 1 : 0;
    engine.free();
    return matches;
  },
  "jco, tag": () => {
    const engine = detection.Engine.create(undefined, undefined);
    let matches = 0;
    for (const e of events) matches += engine.tag(e).verdicts.some((v) => v.status === "match") ? 1 : 0;
    return matches;
  },
  "jco, tag-chunk of 1000": () => {
    const engine = detection.Engine.create(undefined, undefined);
    let matches = 0;
    for (const { bytes, ends } of chunks) {
      const events = new Set(engine.tagChunk(bytes, ends).verdicts.filter((v) => v.verdict.status === "match").map((v) => v.event));
      matches += events.size;
    }
    return matches;
  },
};

const fmt = (n, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(`modwatch in Node ${process.version}: the wasm-bindgen build and the component in jco (playground/bench/jco.mjs)`);
console.log(`mix: ${fmt(events.length)} events, ${fmt(text.length / 1e6, 1)} MB`);
console.log("");
console.log(`${"mode".padEnd(26)} ${"seconds".padStart(8)} ${"events/s".padStart(10)} ${"vs wasm-bindgen".padStart(16)} ${"matches".padStart(8)}`);
let base;
for (const [mode, pass] of Object.entries(modes)) {
  pass();
  let best = Infinity;
  let matches = 0;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    matches = pass();
    best = Math.min(best, performance.now() - started);
  }
  const rate = events.length / (best / 1000);
  base ??= rate;
  console.log(`${mode.padEnd(26)} ${fmt(best / 1000, 3).padStart(8)} ${fmt(rate).padStart(10)} ${fmt(rate / base, 2).padStart(15)}x ${String(matches).padStart(8)}`);
}
