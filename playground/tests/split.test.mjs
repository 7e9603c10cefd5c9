// How the playground splits an input into events (src/split.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { splitEvents } from "../src/split.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

function split(text) {
  const bytes = enc.encode(text);
  const { kind, spans } = splitEvents(bytes);
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
  ["pretty batch is one event", '{\n  "Records": [\n    {"a": 1}\n  ]\n}\n', ["values", ['{\n  "Records": [\n    {"a": 1}\n  ]\n}']]],
  ["several pretty objects", '{\n "a": 1\n}\n{\n "b": 2\n}', ["values", ['{\n "a": 1\n}', '{\n "b": 2\n}']]],
  ["pretty, then unbalanced", '{\n "a": 1\n}\n{\n "b": ', ["values", ['{\n "a": 1\n}', '{\n "b": ']]],
  ["braces in strings", '{"q":"{{[["}\n{"r":"\\\\"}', ["ndjson", ['{"q":"{{[["}', '{"r":"\\\\"}']]],
];

for (const [name, input, want] of cases) {
  test(name, () => assert.deepEqual(split(input), want));
}
