#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets into fuzz/seeds/<target>/ (not committed) from the
# repository's own data: the shared event corpus and batches (tests/corpus), the scenarios
# (tests/scenarios), the built-in pack split one rule per file (rules/*.toml), its queries and
# examples, the sample configs (scenario configs, docs/detection.md, the web build's default) and an exported
# scoring state after the corpus and after each scenario (the engine's `export_state` example).
# Idempotent: rebuilds the seeds from scratch each time (a second or so, plus the example's build).
set -euo pipefail
cd "$(dirname "$0")/.."

out=fuzz/seeds
rm -rf "$out"
mkdir -p "$out"/{event,fluent_bit,eql,rules,config,state}

python3 - "$out" <<'PY'
import glob, hashlib, json, os, re, sys, tomllib

out = sys.argv[1]

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)

def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

events = []
for path in ["tests/corpus/events.ndjson"] + sorted(glob.glob("tests/scenarios/*.ndjson")):
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line:
            continue
        row = json.loads(line)
        if "event" in row and "expect" in row:
            events.append(compact(row["event"]))
        elif "config" in row:
            put("config", compact(row["config"]))
for path in sorted(glob.glob("tests/corpus/*.json")):
    events.append(open(path, encoding="utf-8").read())

for path in sorted(glob.glob("rules/*.toml")):
    text = open(path, encoding="utf-8").read()
    for rule in tomllib.loads(text).get("rule", []):
        put("eql", rule["query"])
        events.extend(e["event"] for e in rule.get("example", []))
    # One pack per rule or catalogue entry: the text from one `[[rule]]` or
    # `[[operation]]` header to the next (a rule's examples stay with it).
    chunks = re.split(r"(?m)^(?=\[\[(?:rule|operation)\]\]\s*$)", text)
    for chunk in chunks:
        if chunk.lstrip().startswith("[["):
            put("rules", chunk)
put("rules", open("rules/seed.toml", encoding="utf-8").read())

for event in events:
    put("event", event)
    put("fluent_bit", event)

put("config", "{}")
put("config", open("plugin/web/default-config.json", encoding="utf-8").read())
readme = open("docs/detection.md", encoding="utf-8").read()
for block in re.findall(r"```json\n(.*?)```", readme, re.S):
    try:
        value = json.loads(block)
    except ValueError:
        continue
    if isinstance(value, dict) and set(value) <= {"rules", "input", "output", "threat", "points", "allowlist", "scoring"}:
        put("config", block)
PY

state() { cargo run -q -p modwatch-engine --example export_state -- "$@"; }
state tests/corpus/events.ndjson > "$out/state/corpus"
for f in tests/scenarios/*.ndjson; do
    state "$f" > "$out/state/$(basename "$f" .ndjson)"
done

for t in "$out"/*; do
    echo "$(basename "$t"): $(find "$t" -type f | wc -l) seeds"
done
