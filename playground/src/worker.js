// The engine, off the page's main thread: loads the rule pack and config,
// runs the events through `Engine.tag`, streams result rows with progress,
// and answers for one row's details. The page never blocks on the engine.
//
// Messages in:  hello · check {id, config, pack} · run {id, config, pack, text|file}
//               · detail {id, row} · bench {id, config, pack, text|file, runs}
// Messages out: hello · checked · load-error · progress · done · detail · bench · failed

import init, { Engine, batchRecord, builtinPack, defaultConfig, splitEvents, version } from "../pkg/modwatch_web.js";

const ready = init();

/** The last run: its input and, per row, the verdict and where it came from. */
let current = null;
/** The id of the run in progress; a newer run cancels an older one. */
let running = 0;

// Yields to pending messages (a newer run, a detail request) without the
// 4 ms clamp of nested timers.
const channel = new MessageChannel();
let wake = null;
channel.port1.onmessage = () => wake?.();
const yieldToMessages = () => new Promise((resolve) => {
  wake = resolve;
  channel.port2.postMessage(null);
});

/** A plain copy of an error, to cross postMessage (an Error loses its own fields). */
function plain(e) {
  if (e && e.name === "ModwatchError") {
    const { message, source, code, kind, ruleId, line, column, packLine, at, display, errors } = e;
    return { message, source, code, kind, ruleId, line, column, packLine, at, display, errors };
  }
  return { message: String(e?.message ?? e), source: "engine", errors: [] };
}

async function input({ text, file }) {
  const bytes = file ? new Uint8Array(await file.arrayBuffer()) : new TextEncoder().encode(text ?? "");
  // The engine's splitter, as the CLI and the sidecar split their inputs.
  const split = splitEvents(bytes);
  const result = { bytes, kind: split.kind, spans: split.spans };
  split.free();
  return result;
}

/** The engine the last check built, unused: the next run with the same rules takes it. */
let spare = null;

function build(id, config, pack) {
  if (spare && spare.config === config && spare.pack === pack) {
    const engine = spare.engine;
    spare = null;
    return engine;
  }
  try {
    return new Engine(config, pack);
  } catch (e) {
    postMessage({ type: "load-error", id, error: plain(e) });
    return null;
  }
}

async function run({ id, config, pack, text, file }) {
  running = id;
  const engine = build(id, config, pack);
  if (!engine) return;
  try {
    const started = performance.now();
    const { bytes, kind, spans } = await input({ text, file });
    const total = spans.length / 2;
    const mine = { id, bytes, spans, verdicts: [], rows: [], outputs: new Map() };
    current = mine;
    const info = { threshold: engine.threshold(), windowMinutes: engine.windowMinutes(), rules: engine.ruleCount(), warnings: JSON.parse(engine.warnings()) };
    postMessage({ type: "progress", id, done: 0, total, rows: [], kind, ...info });
    let rows = [];
    let posted = performance.now();
    for (let e = 0; e < total; e++) {
      const result = JSON.parse(engine.rows(bytes.subarray(spans[2 * e], spans[2 * e + 1])));
      if (result.output === "replaced") mine.outputs.set(e, result.event);
      const records = result.rows.length;
      for (let r = 0; r < records; r++) {
        // The verdict stays here for the details; the page gets the row.
        const { verdict, ...row } = result.rows[r];
        Object.assign(row, { e, r, records });
        mine.verdicts.push(verdict);
        mine.rows.push(row);
        rows.push(row);
      }
      // Report about ten times a second; in between, only the engine runs.
      if ((e & 63) === 63 && performance.now() - posted > 100) {
        postMessage({ type: "progress", id, done: e + 1, total, rows });
        rows = [];
        await yieldToMessages();
        if (running !== id) return;
        posted = performance.now();
      }
    }
    const ms = performance.now() - started;
    postMessage({ type: "done", id, done: total, total, rows, kind, ms, bytes: bytes.length, stats: JSON.parse(engine.stats()), ...info });
  } catch (e) {
    postMessage({ type: "failed", id, error: plain(e) });
  } finally {
    engine.free();
  }
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Record `r` of an event that is a batch of `records`, as the engine splits it. */
function record(text, r, records) {
  return records < 2 ? text : batchRecord(new TextEncoder().encode(text), r) ?? text;
}

function detail({ id, row }) {
  const at = current?.id === id ? current.rows[row] : undefined;
  if (!at) return { id, row, missing: true };
  const { e, r, records } = at;
  const inputText = new TextDecoder().decode(current.bytes.subarray(current.spans[2 * e], current.spans[2 * e + 1]));
  const output = current.outputs.get(e);
  return {
    id,
    row,
    event: e,
    record: r,
    records,
    verdict: JSON.stringify(current.verdicts[row], null, 2),
    input: pretty(record(inputText, r, records)),
    output: output === undefined ? null : pretty(record(output, r, records)),
  };
}

/** Events per second of `Engine.tag` alone, as `just bench` measures natively: a warm-up pass, then the best of `runs`, each on a fresh engine. */
async function bench({ id, config, pack, text, file, runs = 3 }) {
  const { bytes, spans } = await input({ text, file });
  const events = [];
  for (let i = 0; i < spans.length; i += 2) events.push(bytes.subarray(spans[i], spans[i + 1]));
  const pass = () => {
    const engine = new Engine(config, pack);
    let matches = 0;
    const started = performance.now();
    for (const event of events) {
      // `{"output":"replaced"` when a record matched.
      if (engine.tag(event).charCodeAt(11) === 114) matches++;
    }
    const ms = performance.now() - started;
    engine.free();
    return { ms, matches };
  };
  const warm = pass();
  const passes = [];
  for (let i = 0; i < runs; i++) passes.push(pass().ms);
  const best = Math.min(...passes);
  return {
    id,
    events: events.length,
    bytes: bytes.length,
    matches: warm.matches,
    passes,
    bestMs: best,
    eventsPerSecond: events.length / (best / 1000),
    mbPerSecond: bytes.length / 1e6 / (best / 1000),
  };
}

onmessage = async ({ data }) => {
  try {
    await ready;
    switch (data.type) {
      case "hello":
        postMessage({ type: "hello", builtinPack: builtinPack(), defaultConfig: defaultConfig(), version: version() });
        break;
      case "check": {
        spare?.engine.free();
        spare = null;
        try {
          const engine = new Engine(data.config, data.pack);
          spare = { config: data.config, pack: data.pack, engine };
          postMessage({ type: "checked", id: data.id, ok: true, rules: engine.ruleCount(), threshold: engine.threshold(), warnings: JSON.parse(engine.warnings()) });
        } catch (e) {
          postMessage({ type: "checked", id: data.id, ok: false, error: plain(e) });
        }
        break;
      }
      case "run":
        await run(data);
        break;
      case "detail":
        postMessage({ type: "detail", ...detail(data) });
        break;
      case "bench":
        postMessage({ type: "bench", ...(await bench(data)) });
        break;
    }
  } catch (e) {
    postMessage({ type: "failed", id: data.id, error: plain(e) });
  }
};
