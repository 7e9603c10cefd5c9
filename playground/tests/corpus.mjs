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

/** The Sigma pack every host is held to (tests/sigma/formats.yml), as text. */
export const sigmaPack = readFileSync(`${root}tests/sigma/formats.yml`, "utf8");

/** Its golden verdicts on `sigmaEvents()`, one JSON line per record. */
export const sigmaGolden = readFileSync(`${root}tests/golden/sigma.verdicts.ndjson`, "utf8").split("\n").filter(Boolean);

/** The Sigma parity events: each event of tests/sigma/formats.ndjson, then each of tests/corpus/events.ndjson (testkit `corpus::sigma_events`). */
export function sigmaEvents() {
  const events = [];
  for (const file of ["tests/sigma/formats.ndjson", "tests/corpus/events.ndjson"]) {
    for (const line of readFileSync(`${root}${file}`, "utf8").split("\n")) {
      if (!line.trim()) continue;
      const fields = JSON.parse(line);
      events.push({ id: fields.id ?? `${fields.op} as ${fields.format}`, bytes: member(enc.encode(line), "event") });
    }
  }
  return events;
}

/** The Sigma correlation pack (tests/sigma/correlations.yml), as text. */
export const correlationPack = readFileSync(`${root}tests/sigma/correlations.yml`, "utf8");

/** Its stream (tests/sigma/correlations.ndjson): each row's note, the correlation ids it fires, in order, and its event. */
export function correlationStream() {
  return readFileSync(`${root}tests/sigma/correlations.ndjson`, "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => {
      const { note, fires } = JSON.parse(line);
      return { note, fires, bytes: member(enc.encode(line), "event") };
    });
}

/** The records of `verdictsOf(bytes)` over `events`, checked line by line against `want`. */
export function differences(events, want, verdictsOf) {
  const got = [];
  const failures = [];
  for (const { id, bytes } of events) {
    for (const line of verdictsOf(bytes)) {
      if (line !== want[got.length]) failures.push(`record ${got.length + 1} (${id}):\n  expected: ${want[got.length]}\n  actual:   ${line}`);
      got.push(line);
    }
  }
  if (got.length !== want.length) failures.push(`${got.length} records, ${want.length} golden`);
  return failures;
}
