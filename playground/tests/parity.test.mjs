// One corpus, every artefact: the web build (pkg/, as the page loads it) gives
// the golden verdicts of tests/golden/corpus.verdicts.ndjson byte for byte,
// on one engine over the whole corpus in the golden file's order (scoring is
// stateful). Needs `just build-web`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { web } from "./web.mjs";
import { corpus, differences, golden, sigmaEvents, sigmaGolden, sigmaPack } from "./corpus.mjs";

const dec = new TextDecoder();

test("the web build gives the golden verdicts, byte for byte", () => {
  const events = corpus();
  const engine = new web.Engine(null, null);
  const got = [];
  const failures = [];
  for (const { id, bytes } of events) {
    for (const line of engine.evaluate(bytes).split("\n")) {
      const want = golden[got.length];
      if (line !== want) {
        failures.push(`record ${got.length + 1} (${id}):\n  event:    ${dec.decode(bytes).slice(0, 300)}\n  expected: ${want}\n  actual:   ${line}`);
      }
      got.push(line);
    }
  }
  assert.equal(got.length, golden.length, "records");
  assert.deepEqual(failures, [], `${failures.length} verdict(s) differ:\n\n${failures.join("\n\n")}`);
  const stats = JSON.parse(engine.stats());
  assert.equal(stats.records, String(golden.length));
  assert.equal(stats.matches, String(golden.filter((l) => l.startsWith('{"status":"match"')).length));
  engine.free();
});

test("tag gives the same verdicts and a tagged event for each match", () => {
  const engine = new web.Engine(null, web.builtinPack()); // the editor's text, unedited
  let n = 0;
  for (const { bytes } of corpus()) {
    const result = JSON.parse(engine.tag(bytes));
    for (const verdict of result.verdicts) assert.deepEqual(verdict, JSON.parse(golden[n++]));
    const matched = result.verdicts.some((v) => v.status === "match");
    assert.equal(result.output, matched ? "replaced" : "unchanged");
    if (matched) assert.equal(JSON.parse(result.event).threat.technique.id, result.verdicts[0].matches[0].technique);
  }
  assert.equal(n, golden.length);
});

test("load errors are JS errors with the engine's code, rule and position", () => {
  const pack = web.builtinPack().replace('any where event.provider == "ec2.amazonaws.com" and event.action == "CreateSnapshot"',
    'any where event.provider = "ec2.amazonaws.com" and event.action == "CreateSnapshot"');
  assert.throws(() => new web.Engine(null, pack), (e) => {
    assert.ok(e instanceof Error);
    assert.equal(e.name, "ModwatchError");
    assert.equal(e.source, "rules");
    assert.equal(e.code, 202);
    assert.equal(e.kind, "query_syntax");
    assert.equal(e.ruleId, "aws-ebs-snapshot-created");
    assert.equal(e.line, 1);
    assert.ok(e.column > 20, `column ${e.column}`);
    assert.ok(e.packLine > 1, `pack line ${e.packLine}`);
    assert.match(e.message, /^E202 rule "aws-ebs-snapshot-created" at 1:\d+ \(pack line \d+\) /);
    return true;
  });
  assert.throws(() => new web.Engine('{"scoring":{"threshold":"ten"}}', null), { name: "ModwatchError", source: "config", code: 302 });
  const engine = new web.Engine(web.defaultConfig(), null);
  assert.equal(engine.threshold(), 10);
  assert.equal(engine.windowMinutes(), 15);
  assert.throws(() => engine.importState("nope"), { name: "ModwatchError", source: "state", code: 400 });
  assert.match(web.version(), /^\d+\.\d+\.\d+/);
});

test("a Sigma pack gives the golden Sigma verdicts, as modwatch scan --rules does", () => {
  const engine = new web.Engine(null, sigmaPack);
  assert.equal(engine.ruleCount(), 6);
  const failures = differences(sigmaEvents(), sigmaGolden, (bytes) => engine.evaluate(bytes).split("\n"));
  assert.deepEqual(failures, [], failures.join("\n\n"));
  engine.free();
});

test("rule warnings are listed with their code, rule and place in the pack", () => {
  const pack = "title: Windows\nid: 00000000-0000-4000-8000-00000000000c\nlogsource:\n    product: windows\ndetection:\n    sel:\n        Image: x\n    condition: sel\n";
  const engine = new web.Engine(null, pack);
  const warnings = JSON.parse(engine.warnings());
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].code, 206);
  assert.equal(warnings[0].ruleId, "00000000-0000-4000-8000-00000000000c");
  assert.equal(warnings[0].at.line, 4); // the logsource's line
  engine.free();
  assert.deepEqual(JSON.parse(new web.Engine(null, null).warnings()), []);
});
