// How the page splits an input into events: the engine's splitter, through
// the web build (`splitEvents`), so the page splits as the CLI and the
// sidecar do. Needs `just build-web`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { web } from "./web.mjs";

const enc = new TextEncoder();
const dec = new TextDecoder();

function split(text) {
  const bytes = enc.encode(text);
  const { kind, spans } = web.splitEvents(bytes);
  const events = [];
  for (let i = 0; i < spans.length; i += 2) events.push(dec.decode(bytes.subarray(spans[i], spans[i + 1])));
  return [kind, events];
}

const cases = [
  ["empty", "  \n ", ["empty", []]],
  ["ndjson", '{"a":1}\n\n{"b":"x\\"}"}\r\n', ["ndjson", ['{"a":1}', '{"b":"x\\"}"}']]],
  ["ndjson keeps invalid lines", '{"a":1}\n{"b":\nnot json\n', ["ndjson", ['{"a":1}', '{"b":', "not json"]]],
  ["one line, unbalanced", '{"a":[1,2}', ["ndjson", ['{"a":[1,2}']]],
  ["array", ' [ {"a":1} , {"b":[2,{"c":"]"}]} ]\n', ["array", ['{"a":1}', '{"b":[2,{"c":"]"}]}']]],
  ["empty array", "[]", ["array", []]],
  ["array of scalars", '[1, "x", null]', ["array", ["1", '"x"', "null"]]],
  ["array followed by more is ndjson", "[1]\n[2]", ["ndjson", ["[1]", "[2]"]]],
  ["a pretty batch gives its records", '{\n  "Records": [\n    {"a": 1},\n    {"b": 2}\n  ]\n}\n', ["batch", ['{"a": 1}', '{"b": 2}']]],
  ["several pretty objects", '{\n "a": 1\n}\n{\n "b": 2\n}', ["values", ['{\n "a": 1\n}', '{\n "b": 2\n}']]],
  ["braces in strings", '{"q":"{{[["}\n{"r":"\\\\"}', ["ndjson", ['{"q":"{{[["}', '{"r":"\\\\"}']]],
];

for (const [name, input, want] of cases) {
  test(name, () => assert.deepEqual(split(input), want));
}

test("a record of a batch, as the engine splits it", () => {
  const batch = enc.encode('{"records":[{"a":1}, {"b":[2]}]}');
  assert.equal(web.batchRecord(batch, 1), '{"b":[2]}');
  assert.equal(web.batchRecord(batch, 2), undefined);
  assert.equal(web.batchRecord(enc.encode('{"a":1}'), 0), undefined);
});
