// One corpus, every artefact: the component itself, transpiled by jco
// (pkg/jco/, `just build-jco`), gives the golden verdicts of
// tests/golden/corpus.verdicts.ndjson byte for byte in Node, per event and
// through `tag-chunk`, and tags each match as the wasm-bindgen build does.
// Needs `just build-jco` and `just build-web`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { detection } from "./jco.mjs";
import { web } from "./web.mjs";
import {
  correlationPack,
  correlationStream,
  corpus,
  differences,
  golden,
  sigmaEvents,
  sigmaGolden,
  sigmaPack,
} from "./corpus.mjs";

const dec = new TextDecoder();

test("the component in jco gives the golden verdicts, byte for byte", () => {
  const engine = detection.Engine.create(undefined, undefined);
  const got = [];
  const failures = [];
  for (const { id, bytes } of corpus()) {
    for (const verdict of engine.evaluate(bytes)) {
      const want = golden[got.length];
      if (verdict.json !== want) {
        failures.push(`record ${got.length + 1} (${id}):\n  event:    ${dec.decode(bytes).slice(0, 300)}\n  expected: ${want}\n  actual:   ${verdict.json}`);
      }
      got.push(verdict.json);
    }
  }
  assert.equal(got.length, golden.length, "records");
  assert.deepEqual(failures, [], `${failures.length} verdict(s) differ:\n\n${failures.join("\n\n")}`);
  const stats = engine.stats();
  assert.equal(stats.records, BigInt(golden.length));
  assert.equal(stats.matches, BigInt(golden.filter((l) => l.startsWith('{"status":"match"')).length));
});

test("tag-chunk in jco returns only what changed, as tag does in the wasm-bindgen build", () => {
  const events = corpus();
  const ends = new Uint32Array(events.length);
  const bytes = new Uint8Array(events.reduce((n, e) => n + e.bytes.length, 0));
  let at = 0;
  events.forEach((e, i) => {
    bytes.set(e.bytes, at);
    at += e.bytes.length;
    ends[i] = at;
  });
  const engine = detection.Engine.create(undefined, undefined);
  const chunk = engine.tagChunk(bytes, ends);
  assert.equal(chunk.records, golden.length);
  // Every verdict that is not a plain no-match, in order, and no other.
  const changed = golden.filter((l) => !l.startsWith('{"status":"no_match"'));
  assert.deepEqual(chunk.verdicts.map((v) => v.verdict.json), changed);
  assert.deepEqual(Array.from(chunk.dropped), []);
  const byWeb = new web.Engine(null, null);
  const replaced = new Map(chunk.replaced.map((r) => [r.event, dec.decode(r.bytes)]));
  events.forEach(({ id, bytes }, i) => {
    const result = JSON.parse(byWeb.tag(bytes));
    assert.equal(replaced.get(i), result.output === "replaced" ? result.event : undefined, id);
  });
  byWeb.free();
});

test("a refused rule pack is thrown as the WIT error, every problem with its code and position", () => {
  // jco throws the `error` variant itself: `{ tag, val }`.
  assert.throws(() => detection.Engine.create(undefined, 'this is = "not a pack'), (e) => {
    assert.equal(e.tag, "rules", JSON.stringify(e));
    assert.ok(e.val.length >= 1);
    assert.ok(e.val.every((p) => p.code >= 200 && p.code < 300 && p.line >= 1), JSON.stringify(e.val));
    return true;
  });
});

test("the component in jco gives the golden Sigma verdicts for a Sigma pack", () => {
  const engine = detection.Engine.create(undefined, sigmaPack);
  const failures = differences(sigmaEvents(), sigmaGolden, (bytes) => engine.evaluate(bytes).map((v) => v.json));
  assert.deepEqual(failures, [], failures.join("\n\n"));
  assert.deepEqual(engine.warnings(), []);
});

test("warnings cross the interface as problems", () => {
  const pack = "title: Windows\nid: 00000000-0000-4000-8000-00000000000c\nlogsource:\n    product: windows\ndetection:\n    sel:\n        Image: x\n    condition: sel\n";
  const [warning, ...rest] = detection.Engine.create(undefined, pack).warnings();
  assert.deepEqual(rest, []);
  assert.equal(warning.code, 206);
  assert.equal(warning.kind, "rule_unsupported");
  assert.equal(warning.ruleId, "00000000-0000-4000-8000-00000000000c");
  assert.equal(warning.line, 4);
});

test("Sigma correlations raise the same alerts in the web build as in the component in jco, in order", () => {
  const component = detection.Engine.create(undefined, correlationPack);
  const byWeb = new web.Engine(null, correlationPack);
  const stream = correlationStream();
  stream.forEach(({ note, fires, bytes }, i) => {
    const want = component.tag(bytes);
    const got = JSON.parse(byWeb.tag(bytes));
    const what = `row ${i + 1}: ${note}`;
    assert.deepEqual(got.verdicts, want.verdicts.map((v) => JSON.parse(v.json)), what);
    assert.equal(got.output, want.output.tag, what);
    assert.equal(got.event, want.output.tag === "replaced" ? dec.decode(want.output.val) : undefined, what);
    // Where the stream says, and in its order, in the verdict and in the tags.
    const fired = got.verdicts.flatMap((v) => (v.correlations ?? []).map((c) => c.id));
    assert.deepEqual(fired, fires, what);
    const tagged = got.event === undefined ? [] : (JSON.parse(got.event).modwatch?.correlations ?? []).map((c) => c.id);
    assert.deepEqual(tagged, fires, what);
  });
  assert.equal(stream.reduce((n, row) => n + row.fires.length, 0), 7);
  // The counters per correlation rule: `correlation-stats` in the component,
  // `by_correlation` in the web build's stats.
  const perRule = component.correlationStats().map((c) => [c.ruleId, String(c.alerts), String(c.groups), String(c.evictions)]);
  const byCorrelation = JSON.parse(byWeb.stats()).by_correlation;
  assert.deepEqual(
    perRule,
    Object.entries(byCorrelation).map(([id, c]) => [id, c.alerts, c.groups, c.evictions]),
  );
  assert.deepEqual(perRule.map((c) => c[1]), ["2", "1", "2", "2"]);
  assert.equal(JSON.parse(byWeb.stats()).correlation_alerts, "7");
  byWeb.free();
});
