// The playground page: editors, samples, the run, the results table and the
// score timeline. The engine itself runs in a Web Worker (worker.js).

import { Editor } from "./editor.js";
import { drawChart } from "./chart.js";

const $ = (id) => document.getElementById(id);
const PAGE = 100;
const STORE = { pack: "modwatch.playground.pack", config: "modwatch.playground.config" };
const fmt = new Intl.NumberFormat("en-US");
/** How the engine's splitter read the input, in words. */
const KINDS = { array: "JSON array", batch: "batch object", values: "JSON", ndjson: "NDJSON", empty: "empty" };

const state = {
  builtinPack: "",
  defaultConfig: "",
  samples: [],
  file: null,
  expect: null,
  expectSource: "",
  configBeforeSample: null,
  configSetBySample: null,
  rows: [],
  counts: {},
  runId: 0,
  run: null,
  info: { threshold: 10, windowMinutes: 15 },
  page: 0,
  open: new Set(),
  picked: -1,
  problems: [],
  checkId: 0,
  // Milliseconds since navigation start: the engine answered, the first row was drawn.
  timings: { engine: null, firstResult: null },
};

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const waiting = new Map();
const pack = new Editor($("pack-editor"), { onChange: () => edited() });
const config = new Editor($("config-editor"), { onChange: () => edited() });

// ---------------------------------------------------------------- worker

worker.onmessage = ({ data }) => {
  switch (data.type) {
    case "hello": return hello(data);
    case "checked": return checked(data);
    case "load-error": return finish(data.id, () => loadFailed(data.error));
    case "progress": return progress(data);
    case "done": return finish(data.id, () => done(data));
    case "failed": return finish(data.id, () => failed(data.error));
    case "detail": return showDetail(data);
    case "bench": return waiting.get(`bench${data.id}`)?.(data);
  }
};
worker.onerror = (e) => failed({ message: `the engine's worker failed to start: ${e.message ?? "see the console"}` });

let helloDone;
const ready = new Promise((resolve) => (helloDone = resolve));
worker.postMessage({ type: "hello" });
// Fetched while the worker compiles the engine.
const samplesLoaded = fetch("pkg/samples.json")
  .then((response) => response.json())
  .catch(() => []);

async function hello({ builtinPack, defaultConfig, version }) {
  state.timings.engine = performance.now();
  state.builtinPack = builtinPack;
  state.defaultConfig = defaultConfig;
  pack.value = load(STORE.pack) ?? builtinPack;
  config.value = load(STORE.config) ?? defaultConfig;
  $("engine-status").textContent = `modwatch ${version}, running as WebAssembly in this page.`;
  jumpList();
  editedLabel();
  check();
  state.samples = await samplesLoaded;
  sampleList();
  $("run").disabled = false;
  helloDone();
  fromHash();
}

// ---------------------------------------------------------------- editors

function load(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function save(key, value, pristine) {
  try {
    if (value === pristine) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // storage full or disabled: the editors still work
  }
}

function packArg() {
  return pack.value === state.builtinPack ? null : pack.value;
}

let checkTimer = 0;
function edited() {
  editedLabel();
  clearTimeout(checkTimer);
  checkTimer = setTimeout(() => {
    save(STORE.pack, pack.value, state.builtinPack);
    save(STORE.config, config.value, state.defaultConfig);
    jumpList();
    check();
  }, 400);
}

function editedLabel() {
  const onPack = !$("pack-editor").hidden;
  const same = onPack ? pack.value === state.builtinPack : config.value === state.defaultConfig;
  $("edited").textContent = same ? (onPack ? "The built-in pack." : "The default config.") : "Edited (kept in this browser).";
  $("reset").textContent = onPack ? "Reset to built-in" : "Reset to defaults";
  $("reset").disabled = same;
}

function check() {
  const id = ++state.checkId;
  worker.postMessage({ type: "check", id, config: config.value, pack: packArg() });
}

function checked({ id, ok, rules, error, warnings = [] }) {
  if (id !== state.checkId) return;
  const status = $("check-status");
  if (ok) {
    // Warnings: rules that loaded but will not run as written (a Sigma rule
    // whose logsource modwatch does not read), listed like problems.
    const noted = warnings.length ? `, ${warnings.length} warning${warnings.length === 1 ? "" : "s"}` : "";
    status.className = "check ok";
    status.textContent = `✓ ${rules} rules loaded, config OK${noted}`;
    showProblems(warnings.length ? problemsOf({ source: "rules", errors: warnings }).map((p) => ({ ...p, warning: true })) : []);
  } else {
    const problems = problemsOf(error);
    status.className = "check bad";
    status.textContent = `✗ ${problems.length} problem${problems.length === 1 ? "" : "s"} in the ${error.source === "config" ? "config" : "rule pack"}`;
    showProblems(problems);
  }
}

function lineColumn(text, offset) {
  let line = 1, start = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

function problemsOf(error) {
  const list = error.errors?.length ? error.errors : [error];
  // The engine says where each problem is in the text it refused, and how to
  // word it beside that position.
  return list.map((e) => ({ source: error.source, code: e.code, text: e.display ?? e.message, ...(e.at ?? {}) }));
}

function showProblems(problems) {
  state.problems = problems;
  pack.mark(problems.filter((p) => p.source === "rules"));
  config.mark(problems.filter((p) => p.source === "config"));
  const list = $("problems");
  list.replaceChildren(
    ...problems.map((p) => {
      const li = document.createElement("li");
      const where = p.source === "config" ? "Config" : p.source === "rules" ? "Rule pack" : "Engine";
      if (p.warning) li.className = "warning";
      li.append(`${where}${p.warning ? " warning" : ""}: `);
      if (p.line) {
        const a = document.createElement("a");
        a.textContent = `line ${p.line}:${p.column}`;
        a.title = "Show in the editor";
        a.addEventListener("click", () => reveal(p));
        li.append(a, " ");
      }
      li.append(p.text);
      return li;
    }),
  );
}

function reveal(p) {
  tab(p.source === "config" ? "config" : "pack");
  (p.source === "config" ? config : pack).reveal(p.line, p.column);
}

function tab(which) {
  const onPack = which === "pack";
  $("tab-pack").setAttribute("aria-selected", String(onPack));
  $("tab-config").setAttribute("aria-selected", String(!onPack));
  $("pack-editor").hidden = !onPack;
  $("config-editor").hidden = onPack;
  $("jump-label").hidden = !onPack;
  editedLabel();
}

function jumpList() {
  const options = [new Option("a file of the pack…", "")];
  const re = /^# ==== (rules\/\S+) ====$/gm;
  for (let m = re.exec(pack.value); m; m = re.exec(pack.value)) {
    options.push(new Option(m[1], String(lineColumn(pack.value, m.index).line)));
  }
  $("jump").replaceChildren(...options);
}

$("jump").addEventListener("change", (ev) => {
  if (ev.target.value) pack.reveal(Number(ev.target.value) + 1, 1);
  ev.target.value = "";
});
$("tab-pack").addEventListener("click", () => tab("pack"));
$("tab-config").addEventListener("click", () => tab("config"));
$("reset").addEventListener("click", () => {
  if ($("pack-editor").hidden) config.value = state.defaultConfig;
  else pack.value = state.builtinPack;
  edited();
});

// ---------------------------------------------------------------- events

function sampleList() {
  const select = $("sample");
  const groups = new Map();
  for (const s of state.samples) {
    if (!groups.has(s.group)) groups.set(s.group, document.createElement("optgroup"));
    groups.get(s.group).label = s.group;
    groups.get(s.group).append(new Option(s.name, s.id));
  }
  select.append(...groups.values());
}

function merge(base, over) {
  if (!over || typeof over !== "object" || Array.isArray(over)) return over;
  const out = base && typeof base === "object" && !Array.isArray(base) ? { ...base } : {};
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out;
}

function useSample(id) {
  const sample = state.samples.find((s) => s.id === id);
  if (!sample) return;
  clearFile();
  if (state.configSetBySample !== null && config.value === state.configSetBySample) config.value = state.configBeforeSample;
  state.configSetBySample = null;
  const events = sample.text.split("\n").filter((l) => l.trim()).length;
  let note = `${events === 1 ? "One event" : `${events} events`} from ${sample.source}.`;
  if (sample.config) {
    let current;
    try {
      current = JSON.parse(config.value || "{}");
    } catch {
      current = JSON.parse(state.defaultConfig);
    }
    state.configBeforeSample = config.value;
    config.value = JSON.stringify(merge(current, sample.config), null, 2);
    state.configSetBySample = config.value;
    note += ` It sets ${paths(sample.config).join(", ")} in the config (undone when you pick another sample).`;
  }
  $("events").value = sample.text;
  $("sample").value = id;
  $("sample-note").textContent = note;
  state.expect = sample.expect;
  state.expectSource = sample.source;
  history.replaceState(null, "", `#sample=${id}`);
  edited();
  eventsHint();
}

function paths(obj, prefix = "") {
  return Object.entries(obj).flatMap(([k, v]) =>
    v && typeof v === "object" && !Array.isArray(v) ? paths(v, `${prefix}${k}.`) : [`${prefix}${k}`],
  );
}

function setFile(file) {
  if (file.size <= 1_000_000) {
    // Small: into the text box, where it can be read and edited.
    file.text().then((text) => {
      clearFile();
      $("events").value = text;
      $("sample").value = "";
      $("sample-note").textContent = `Opened ${file.name} (${fmt.format(file.size)} bytes).`;
      state.expect = null;
      eventsHint();
    });
    return;
  }
  state.file = file;
  state.expect = null;
  $("file-name").textContent = `${file.name} (${(file.size / 1e6).toFixed(1)} MB)`;
  $("file-chip").hidden = false;
  $("events").disabled = true;
  $("sample").value = "";
  $("sample-note").textContent = `Running the file ${file.name}; it is too large to show here. × uses the text box again.`;
  eventsHint();
}

function clearFile() {
  state.file = null;
  $("file").value = "";
  $("file-chip").hidden = true;
  $("events").disabled = false;
}

function eventsHint() {
  const text = $("events").value;
  const lines = state.file ? 0 : text.split("\n").filter((l) => l.trim()).length;
  $("events-hint").textContent = state.file ? "" : lines ? `${fmt.format(lines)} non-empty line${lines === 1 ? "" : "s"}.` : "";
}

$("sample").addEventListener("change", (ev) => useSample(ev.target.value));
$("file").addEventListener("change", (ev) => ev.target.files[0] && setFile(ev.target.files[0]));
$("file-clear").addEventListener("click", () => {
  clearFile();
  $("sample-note").textContent = "";
});
$("events").addEventListener("input", () => {
  state.expect = null;
  $("sample").value = "";
  eventsHint();
});
for (const kind of ["dragenter", "dragover"]) {
  $("events").addEventListener(kind, (ev) => {
    ev.preventDefault();
    $("events").classList.add("dragging");
  });
}
$("events").addEventListener("dragleave", () => $("events").classList.remove("dragging"));
$("events").addEventListener("drop", (ev) => {
  ev.preventDefault();
  $("events").classList.remove("dragging");
  const file = ev.dataTransfer?.files?.[0];
  if (file) setFile(file);
});

// ---------------------------------------------------------------- run

function run() {
  if ($("run").disabled) return Promise.resolve(null);
  const id = ++state.runId;
  state.run = { id, started: performance.now(), rendered: false, fresh: false };
  $("progress").hidden = false;
  $("progress").removeAttribute("value");
  $("run-status").className = "";
  $("run-status").textContent = "Loading the rules…";
  const message = { type: "run", id, config: config.value, pack: packArg() };
  if (state.file) message.file = state.file;
  else message.text = $("events").value;
  worker.postMessage(message);
  return new Promise((resolve) => waiting.set(`run${id}`, resolve));
}

function finish(id, then) {
  if (id !== state.runId) return;
  then();
  $("progress").hidden = true;
  const resolve = waiting.get(`run${id}`);
  waiting.delete(`run${id}`);
  resolve?.({ rows: state.rows.length, status: $("run-status").textContent });
}

function loadFailed(error) {
  const problems = problemsOf(error);
  showProblems(problems);
  $("check-status").className = "check bad";
  $("check-status").textContent = `✗ ${problems.length} problem${problems.length === 1 ? "" : "s"}`;
  $("run-status").className = "bad";
  $("run-status").textContent = `Not run: the ${error.source === "config" ? "config" : "rule pack"} has ${problems.length === 1 ? "a problem" : `${problems.length} problems`} (listed under the editor). The results below are from the last run.`;
  const first = problems.find((p) => p.line);
  if (first) reveal(first);
  render();
}

function failed(error) {
  $("run-status").className = "bad";
  $("run-status").textContent = `The engine failed: ${error.message}`;
}

function take(rows) {
  for (const row of rows) {
    row.i = state.rows.length;
    state.rows.push(row);
    state.counts[row.status] = (state.counts[row.status] ?? 0) + 1;
    if (row.alert) state.counts.alerts = (state.counts.alerts ?? 0) + 1;
  }
}

/** The rules loaded and the run began: the previous results give way. */
function fresh() {
  if (state.run.fresh) return;
  state.run.fresh = true;
  state.rows = [];
  state.counts = {};
  state.page = 0;
  state.open = new Set();
  state.picked = -1;
}

function progress(data) {
  if (data.id !== state.runId) return;
  fresh();
  if (data.threshold !== undefined) state.info = { threshold: data.threshold, windowMinutes: data.windowMinutes, rules: data.rules };
  const before = state.rows.length;
  take(data.rows);
  $("progress").max = Math.max(data.total, 1);
  $("progress").value = data.done;
  $("run-status").textContent = `${fmt.format(data.done)} of ${fmt.format(data.total)} events…`;
  summary(null);
  if (before < PAGE && state.rows.length > before) render();
}

function done(data) {
  fresh();
  take(data.rows);
  checked({ id: state.checkId, ok: true, rules: data.rules, warnings: data.warnings }); // it loaded: no problems, maybe warnings
  const rate = data.total / Math.max(data.ms / 1000, 1e-9);
  $("run-status").textContent = `Done: ${fmt.format(data.total)} events (${KINDS[data.kind] ?? data.kind}) in ${fmt.format(Math.round(data.ms))} ms, ${fmt.format(Math.round(rate))} events/s.`;
  summary(data);
  render();
  principals();
}

// ---------------------------------------------------------------- results

function summary(data) {
  const c = state.counts;
  const stats = data?.stats;
  const cards = [
    ["Events", stats ? Number(stats.events) : null],
    ["Records", state.rows.length],
    ["Matches", c.match ?? 0, "matches"],
    ["Suppressed", c.suppressed ?? 0],
    ["Alerts", c.alerts ?? 0, "alerts"],
    // Only for a pack with Sigma correlation rules.
    ["Correlation alerts", Object.keys(stats?.by_correlation ?? {}).length ? Number(stats.correlation_alerts) : null, "alerts"],
    ["Errors", c.error ?? 0],
    ["Unrecognised", c.unrecognised ?? 0],
    ["Principals scored", stats ? Number(stats.principals) : null],
  ];
  $("summary").replaceChildren(
    ...cards.filter(([, v]) => v !== null).map(([label, value, cls]) => {
      const card = document.createElement("div");
      card.className = `card ${cls ?? ""}`;
      card.innerHTML = `<b>${fmt.format(value)}</b><span>${label}</span>`;
      return card;
    }),
  );
}

function visible() {
  const onlyMatches = $("only-matches").checked;
  const onlyAlerts = $("only-alerts").checked;
  const q = $("search").value.trim().toLowerCase();
  return state.rows.filter(
    (r) =>
      (!onlyMatches || r.status === "match") &&
      (!onlyAlerts || r.alert) &&
      (!q || `${r.op} ${r.principal} ${r.principalId} ${r.rule} ${r.category} ${r.cloud} ${r.status} ${r.error}`.toLowerCase().includes(q)),
  );
}

function cell(text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  if (text instanceof Node) td.append(text);
  else td.textContent = text;
  return td;
}

function badge(text, cls, title) {
  const span = document.createElement("span");
  span.className = `badge ${cls}`;
  span.textContent = text;
  if (title) span.title = title;
  return span;
}

function render() {
  const rows = visible();
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  state.page = Math.min(state.page, pages - 1);
  const slice = rows.slice(state.page * PAGE, (state.page + 1) * PAGE);
  const body = document.createElement("tbody");
  for (const r of slice) {
    const tr = document.createElement("tr");
    tr.className = `row ${r.status}${r.alert ? " is-alert" : ""}${r.i === state.picked ? " picked" : ""}`;
    tr.dataset.row = r.i;
    const n = r.records > 1 ? `${r.e + 1}.${r.r + 1}` : String(r.e + 1);
    const op = document.createDocumentFragment();
    op.append(r.error || r.op || (r.status === "unrecognised" ? "(format not recognised)" : "—"));
    if (r.rule) {
      const rule = document.createElement("span");
      rule.className = "rule";
      rule.textContent = r.rules > 1 ? `${r.rule} +${r.rules - 1} more` : r.rule;
      op.append(rule);
    }
    let category = "";
    if (r.status === "suppressed") category = badge("suppressed", "sup", r.suppressedBy);
    else if (r.category) category = badge(r.category, r.high ? "cat-hi" : "cat");
    const points = document.createDocumentFragment();
    if (r.added !== null) {
      points.append(`+${r.added}`);
      for (const reason of r.reasons) {
        const span = document.createElement("span");
        span.className = "reason";
        span.textContent = reason.replaceAll("_", " ");
        points.append(span);
      }
    } else if (r.status === "match" || r.status === "suppressed") points.append(String(r.points));
    tr.append(
      cell(n, "num"),
      cell(r.time, "mono"),
      cell(r.cloud ? badge(r.cloud, `cloud-${r.cloud}`, r.format) : ""),
      cell(op, "op"),
      cell(r.principal, "who"),
      cell(category),
      cell(points, "num"),
      cell(r.score === null ? "" : String(r.score), "num"),
      cell(r.alert ? badge("ALERT", "alert-badge") : ""),
    );
    tr.children[4].title = r.principalId;
    body.append(tr);
    if (state.open.has(r.i)) body.append(detailRow(r.i));
  }
  $("table").tBodies[0].replaceWith(body);
  if (slice.length && state.run && !state.run.rendered) {
    state.run.rendered = true;
    state.timings.firstResult ??= performance.now();
  }
  pager(rows.length, pages);
}

function pager(count, pages) {
  const el = $("pager");
  el.replaceChildren();
  if (!count) {
    el.textContent = state.rows.length ? "No rows match the filters." : "";
    return;
  }
  const from = state.page * PAGE + 1;
  const to = Math.min(count, (state.page + 1) * PAGE);
  const prev = document.createElement("button");
  prev.textContent = "‹ Previous";
  prev.disabled = state.page === 0;
  prev.onclick = () => {
    state.page--;
    render();
  };
  const next = document.createElement("button");
  next.textContent = "Next ›";
  next.disabled = state.page >= pages - 1;
  next.onclick = () => {
    state.page++;
    render();
  };
  el.append(`Rows ${fmt.format(from)}–${fmt.format(to)} of ${fmt.format(count)} `, prev, " ", next);
}

function detailRow(i) {
  const tr = document.createElement("tr");
  tr.className = "detail";
  tr.dataset.detail = i;
  const td = document.createElement("td");
  td.colSpan = 9;
  td.textContent = "Loading…";
  tr.append(td);
  worker.postMessage({ type: "detail", id: state.runId, row: i });
  return tr;
}

function showDetail({ id, row, missing, verdict, input, output, records, record }) {
  const td = document.querySelector(`tr[data-detail="${row}"] td`);
  if (!td || id !== state.runId) return;
  if (missing) {
    td.textContent = "This row belongs to an earlier run.";
    return;
  }
  const r = state.rows[row];
  const block = (title, text) => {
    const div = document.createElement("div");
    const h = document.createElement("h3");
    h.textContent = title;
    const pre = document.createElement("pre");
    pre.textContent = text;
    div.append(h, pre);
    return div;
  };
  const grid = document.createElement("div");
  grid.className = "detail-grid";
  const batch = records > 1 ? ` (record ${record + 1} of ${records} of a batch)` : "";
  grid.append(
    block("Verdict", verdict),
    output === null
      ? block(`Event${batch}: not a match, so it passes through unchanged`, input)
      : block(`Tagged event${batch}: the event with the detection fields added`, output),
  );
  const parts = [grid];
  const expected = state.expect?.[r.e];
  if (expected) {
    const p = document.createElement("p");
    p.className = "expected";
    const what = expected.label
      ? `${expected.label}. ${expected.why ?? ""}`
      : Object.entries(expected).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(", ");
    p.textContent = `Expected by ${state.expectSource}: ${what}`;
    parts.unshift(p);
  }
  td.replaceChildren(...parts);
}

$("table").addEventListener("click", (ev) => {
  const tr = ev.target.closest("tr.row");
  if (!tr) return;
  const i = Number(tr.dataset.row);
  if (state.open.has(i)) state.open.delete(i);
  else state.open.add(i);
  render();
});
for (const id of ["only-matches", "only-alerts"]) {
  $(id).addEventListener("change", () => {
    state.page = 0;
    render();
  });
}
$("search").addEventListener("input", () => {
  state.page = 0;
  render();
});

// ---------------------------------------------------------------- timeline

function principals() {
  const by = new Map();
  for (const r of state.rows) {
    if (r.score === null || r.t === null) continue;
    const p = by.get(r.key) ?? { key: r.key, name: r.principal, max: 0, alerts: 0, n: 0 };
    p.max = Math.max(p.max, r.score);
    p.alerts += r.alert ? 1 : 0;
    p.n++;
    by.set(r.key, p);
  }
  const list = [...by.values()].sort((a, b) => b.alerts - a.alerts || b.max - a.max || a.name.localeCompare(b.name));
  const select = $("principal");
  const keep = select.value;
  select.replaceChildren(
    ...list.map((p) => {
      const label = `${p.name} (highest score ${p.max}${p.alerts ? `, ${p.alerts} alert${p.alerts === 1 ? "" : "s"}` : ""}, ${p.n} scored event${p.n === 1 ? "" : "s"})`;
      const option = new Option(label, p.key);
      option.title = p.key;
      return option;
    }),
  );
  if (list.some((p) => p.key === keep)) select.value = keep;
  chart();
}

function chart() {
  const key = $("principal").value;
  const points = state.rows
    .filter((r) => r.key === key && r.score !== null && r.t !== null)
    .map((r) => ({ t: r.t, added: r.added, score: r.score, alert: r.alert, op: r.op, category: r.category, time: r.time, row: r.i }))
    .sort((a, b) => a.t - b.t);
  drawChart($("chart"), points, { threshold: state.info.threshold, windowMinutes: state.info.windowMinutes, onPick: pick });
}

function pick(i) {
  $("only-matches").checked = false;
  $("only-alerts").checked = false;
  $("search").value = "";
  state.page = Math.floor(i / PAGE);
  state.picked = i;
  state.open.add(i);
  render();
  document.querySelector(`tr[data-row="${i}"]`)?.scrollIntoView({ block: "center", behavior: "smooth" });
}

$("principal").addEventListener("change", chart);

// ---------------------------------------------------------------- keys, links, hooks

$("run").addEventListener("click", () => run());
document.addEventListener("keydown", (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") {
    ev.preventDefault();
    run();
  }
});

/** `#sample=spec-4` picks a sample; `&run` runs it. */
function fromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("sample")) useSample(params.get("sample"));
  if (params.has("run")) run();
}

function bench(options = {}) {
  const id = ++state.runId;
  const message = { type: "bench", id, config: config.value, pack: packArg(), runs: options.runs ?? 3 };
  if (state.file) message.file = state.file;
  else message.text = $("events").value;
  worker.postMessage(message);
  return new Promise((resolve) => waiting.set(`bench${id}`, resolve));
}

// For the browser test and the benchmark (playground/tests, playground/bench).
window.playground = { ready, run, bench, state, timings: state.timings };
