// Writes pkg/samples.json, the page's bundled samples, from the repository's
// own test files: the end-to-end scenarios and the scoring-behaviour files of
// tests/scenarios/ (docs/detection.md#scenarios), and labelled events of
// tests/corpus/. Each event keeps its bytes as written. Run by `just build-web`.
// The `spec-N` ids are kept as they are: links (`#sample=spec-4`) and the
// browser tests use them.

import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { valueEnd } from "../src/split.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const out = fileURLToPath(new URL("../pkg/samples.json", import.meta.url));

/** The text of member `key` of a one-line JSON object, as written. */
function member(line, key) {
  const needle = `"${key}":`;
  const at = line.indexOf(needle);
  if (at < 0) return null;
  const bytes = new TextEncoder().encode(line);
  const start = new TextEncoder().encode(line.slice(0, at + needle.length)).length;
  return new TextDecoder().decode(bytes.subarray(start, valueEnd(bytes, start)));
}

const NAMES = {
  "1-aws-snapshot-share": ["spec-1", "1. AWS: snapshot created, shared with another account, un-shared, then made public"],
  "2-azure-snapshot-capture": ["spec-2", "2. Azure: snapshot written, then a VM captured (Started, then Succeeded)"],
  "3-aws-run-then-terminate": ["spec-3", "3. AWS: RunInstances, then the same instance terminated"],
  "scenario-4-vm-deletes-new-ip-outside-window": ["spec-4", "4. Five VM deletions in ten minutes from a new IP, outside the change window: alert"],
  "scenario-5-backup-account-nightly": ["spec-5", "5. Backup service accounts' nightly snapshots: suppressed, no alert"],
  "score-1-window": ["score-window", "Window: events leave the 15-minute window; a late event"],
  "score-2-threshold": ["score-threshold", "Threshold: the event that reaches 10 points carries the alert"],
  "score-3-bulk": ["score-bulk", "Bulk: one call on several resources scores points × count"],
  "score-4-unfamiliar-ip": ["score-ip", "Unfamiliar source IP after the learning period (+2)"],
  "score-5-change-window": ["score-change-window", "Outside the change window: points × 1.5"],
  "score-6-allowlist": ["score-allowlist", "Allowlisted principals and user agents are suppressed"],
  "score-7-failed-and-dry-run": ["score-failed", "Failed calls score 1; dry runs never match"],
  "score-8-lifecycle": ["score-lifecycle", "Azure lifecycle records: one operation scores once"],
  "score-9-principal-cap": ["score-cap", "At most N principals tracked (least recently seen evicted)"],
};

const samples = [];
for (const file of readdirSync(`${root}tests/scenarios`).filter((f) => f.endsWith(".ndjson")).sort()) {
  const base = file.replace(/\.ndjson$/, "");
  const [id, name] = NAMES[base] ?? [base, base];
  let config = null;
  const events = [];
  const expect = [];
  for (const line of readFileSync(`${root}tests/scenarios/${file}`, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const parsed = JSON.parse(line);
    if (parsed.config) config = parsed.config;
    if (parsed.event) {
      events.push(member(line, "event"));
      expect.push(parsed.expect ?? null);
    }
  }
  const group = id.startsWith("spec-") ? "End-to-end scenarios" : "Scoring behaviours";
  samples.push({ id, group, name, source: `tests/scenarios/${file}`, config, text: events.join("\n") + "\n", expect });
}

const corpus = readFileSync(`${root}tests/corpus/events.ndjson`, "utf8").split("\n").filter((l) => l.trim());
const pick = (test) => {
  const lines = corpus.filter((l) => test(JSON.parse(l)));
  return {
    text: lines.map((l) => member(l, "event")).join("\n") + "\n",
    expect: lines.map((l) => ({ label: JSON.parse(l).expect, why: JSON.parse(l).why })),
    count: lines.length,
  };
};
for (const [id, name, test] of [
  ["corpus-aws", "AWS CloudTrail events (raw and ECS)", (e) => e.format.startsWith("aws")],
  ["corpus-azure", "Azure Activity events (raw and ECS)", (e) => e.format.startsWith("azure")],
  ["corpus-gcp", "GCP Cloud Audit events (raw and ECS)", (e) => e.format.startsWith("gcp")],
  ["corpus-all", "The whole labelled corpus", () => true],
]) {
  const { text, expect, count } = pick(test);
  samples.push({ id, group: "Labelled corpus (tests/corpus)", name: `${name}: ${count} events`, source: "tests/corpus/events.ndjson", config: null, text, expect });
}
samples.push({
  id: "corpus-s3-batch",
  group: "Labelled corpus (tests/corpus)",
  name: 'A CloudTrail S3 log file: one {"Records":[…]} object, 9 records',
  source: "tests/corpus/s3-batch.json",
  config: null,
  text: readFileSync(`${root}tests/corpus/s3-batch.json`, "utf8"),
  expect: null,
});

mkdirSync(fileURLToPath(new URL("../pkg/", import.meta.url)), { recursive: true });
writeFileSync(out, JSON.stringify(samples));
console.log(`wrote ${samples.length} samples to ${out}`);
