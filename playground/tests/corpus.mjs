// The corpus in the golden file's order, and the golden verdicts, for the
// parity tests of every JS-hosted build (wasm-bindgen, jco).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { member } from "../tools/json-member.mjs";
import { web } from "./web.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const enc = new TextEncoder();

/** The golden verdicts, one JSON line per record. */
export const golden = readFileSync(`${root}tests/golden/corpus.verdicts.ndjson`, "utf8").split("\n").filter(Boolean);

/** The corpus in the golden file's order: each event of events.ndjson, then each record of s3-batch.json. */
export function corpus() {
  const events = [];
  for (const line of readFileSync(`${root}tests/corpus/events.ndjson`, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const bytes = enc.encode(line);
    events.push({ id: JSON.parse(line).id, bytes: member(bytes, "event") });
  }
  const batch = member(readFileSync(`${root}tests/corpus/s3-batch.json`), "Records");
  // The engine's splitter, through the web build, as the page splits input.
  const { kind, spans } = web.splitEvents(batch);
  assert.equal(kind, "array");
  for (let i = 0; i < spans.length; i += 2) {
    events.push({ id: `s3-batch.json record ${i / 2 + 1}`, bytes: batch.subarray(spans[i], spans[i + 1]) });
  }
  return events;
}
