//! The modwatch engine for browsers and Node.js: a thin wasm-bindgen skin over
//! `modwatch-engine`, used by the rule playground (`playground/`).
//!
//! Everything crosses as text built here: events go in as bytes; results come
//! out as JSON whose verdicts are the engine's own [`me::Verdict::to_json`]
//! lines, so every host prints the same bytes; 64-bit counters are decimal
//! strings (a JS number is a double). Load errors become JS `Error`s named
//! `ModwatchError` carrying the engine's code, kind and message, the rule id,
//! and where the problem is in the text that was refused (`at`). The page
//! knows nothing the engine knows: inputs are split by the engine's splitter
//! ([`split_events`]), and each record comes back as a result row
//! ([`rows_json`]) with its principal's scoring key, its time in
//! milliseconds and its risk already worked out. The plain functions under
//! the wrappers hold all of it and are tested natively (`tests/skin.rs`).

use modwatch_engine as me;
use serde_json::Value;
use wasm_bindgen::prelude::*;

/// The default configuration with every key written out, for the playground's
/// editor (a test holds it equal to `Config::default()`).
pub const DEFAULT_CONFIG: &str = include_str!("../default-config.json");

/// The built-in pack as one TOML text: the files of `rules/` in load order,
/// each after a comment naming it. The files hold only arrays of tables, so
/// the concatenation is one valid pack with the same rules in the same order.
pub fn builtin_pack_text() -> String {
    let mut out = String::new();
    for (name, text) in me::RuleSet::builtin_sources() {
        out.push_str("# ==== rules/");
        out.push_str(name);
        out.push_str(" ====\n");
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Builds an engine with `Engine::new`. A blank config means the defaults.
/// The error is a `ModwatchError`'s JSON, saying which input was refused.
pub fn load(config: Option<&str>, rules: Option<&str>) -> Result<me::Engine, String> {
    let config = config.filter(|text| !text.trim().is_empty());
    me::Engine::new(config, rules).map_err(|e| errors_json(e.input(), &e.into_errors()))
}

/// Tags one event: `{"output":"unchanged"|"replaced"|"dropped","event":"<the
/// tagged event, when replaced>","verdicts":[…]}`.
pub fn tag_json(engine: &mut me::Engine, event: &[u8]) -> String {
    let tagged = engine.tag(event);
    let mut out = String::with_capacity(256);
    output_json(&mut out, &tagged.output);
    out.push_str(r#""verdicts":["#);
    out.push_str(&join(&tagged.verdicts, ","));
    out.push_str("]}");
    out
}

/// Tags one event and summarises each record for the playground's results
/// table: `{"output":…,"event":…,"rows":[{row},…]}` (`output` and `event` as
/// in [`tag_json`]). A row holds what the page shows and groups by: `status`,
/// `time` (as written) and `t` (Unix milliseconds, `null` when the record has
/// no time the engine reads), `cloud`, `format`, `op`, `principal` (display
/// name), `principalId`, `key` (the principal's scoring key: rows with the
/// same key share a window), `category`, `high` (a category worth 4 points
/// or more), `rule` (the best match), `rules` (how many matched), `points`,
/// `added` and `score` (what scoring added and the principal's score after
/// it, `null` when not scored), `reasons`, `alert`, `suppressedBy`, `error`
/// (the event error as one line), and `verdict`, the engine's verdict.
pub fn rows_json(engine: &mut me::Engine, event: &[u8]) -> String {
    let tagged = engine.tag(event);
    let mut out = String::with_capacity(512);
    output_json(&mut out, &tagged.output);
    out.push_str(r#""rows":["#);
    for (i, v) in tagged.verdicts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let row = row(engine.config(), v).to_string();
        // The verdict goes in as the engine's own JSON text, not re-serialised.
        out.push_str(&row[..row.len() - 1]);
        out.push_str(r#","verdict":"#);
        out.push_str(&v.to_json());
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// The result row of one record (see [`rows_json`]), without its verdict.
fn row(config: &me::Config, v: &me::Verdict) -> Value {
    let principal = v.principal.as_ref();
    let score = v.score.as_ref();
    let category = v.category.as_deref();
    serde_json::json!({
        "status": v.status,
        "time": v.time.as_deref().unwrap_or(""),
        "t": v.time.as_deref().and_then(me::time::parse_millis),
        "cloud": v.format.map_or("", |f| f.cloud()),
        "format": v.format.map_or("", |f| f.name()),
        "op": v.op.as_deref().unwrap_or(""),
        "principal": principal.map_or("", |p| p.display.as_deref().unwrap_or(&p.id)),
        "principalId": principal.map_or("", |p| p.id.as_str()),
        "key": v.principal_key().unwrap_or(""),
        "category": category.unwrap_or(""),
        "high": category.is_some_and(|c| config.points_of(c) >= HIGH_RISK_POINTS),
        "rule": v.matches.first().map_or("", |m| m.rule_id.as_str()),
        "rules": v.matches.len(),
        "points": v.points,
        "added": score.map(|s| s.points),
        "score": score.map(|s| s.principal_score),
        "reasons": score.map_or(&[][..], |s| &s.reasons[..]),
        "alert": score.is_some_and(|s| s.alert.is_some()),
        "suppressedBy": v.suppressed_by.as_deref().unwrap_or(""),
        "error": v.error.as_ref().map_or(String::new(), |e| format!("E{} {}", e.code, e.message)),
    })
}

/// Categories whose configured points reach this are shown as high risk
/// (with the default points: public exposure, export, external share and
/// guard-rails switched off).
const HIGH_RISK_POINTS: u32 = 4;

/// `{"output":"…",` and, when replaced, `"event":"…",`.
fn output_json(out: &mut String, output: &me::Output) {
    match output {
        me::Output::Unchanged => out.push_str(r#"{"output":"unchanged","#),
        me::Output::Dropped => out.push_str(r#"{"output":"dropped","#),
        me::Output::Replaced(bytes) => {
            out.push_str(r#"{"output":"replaced","event":"#);
            // A string, not raw JSON: the output is the engine's bytes, shown as they are.
            out.push_str(&Value::String(String::from_utf8_lossy(bytes).into_owned()).to_string());
            out.push(',');
        }
    }
}

/// The verdicts on one event, one `Verdict::to_json` line per record.
pub fn verdict_lines(verdicts: &[me::Verdict]) -> String {
    join(verdicts, "\n")
}

fn join(verdicts: &[me::Verdict], separator: &str) -> String {
    verdicts.iter().map(me::Verdict::to_json).collect::<Vec<_>>().join(separator)
}

/// The counters as JSON, every number a decimal string.
pub fn stats_json(stats: &me::Stats) -> String {
    fn stringify(value: &mut Value) {
        match value {
            Value::Number(n) => *value = Value::String(n.to_string()),
            Value::Object(map) => map.values_mut().for_each(stringify),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(stats).unwrap_or(Value::Null);
    stringify(&mut value);
    value.to_string()
}

/// Errors as the fields of a `ModwatchError`: `message` lists them all, the
/// first one's `code`, `kind`, `ruleId`, `line`, `column`, `packLine` and `at`
/// are at the top, and `errors` holds each. `source` says which input was
/// refused: `config`, `rules` or `state`. For query errors `line:column` is
/// in the query and `packLine` the line of the pack where that query line is;
/// for config errors `line:column` is the offending key in the config text.
/// `at` is `{line, column}` in the text that was refused (the config or the
/// pack, where an editor puts its cursor), or `null`; `display` is the error
/// as one line for a list of problems.
pub fn errors_json(source: &str, errors: &me::Errors) -> String {
    let list: Vec<Value> = errors.0.iter().map(error_value).collect();
    let mut top = list.first().cloned().unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    if let Value::Object(map) = &mut top {
        map.insert("message".into(), errors.to_string().into());
        map.insert("source".into(), source.into());
        map.insert("errors".into(), list.into());
    }
    top.to_string()
}

/// The pack's warnings (what loaded but will not run as written, e.g. a
/// Sigma rule whose logsource modwatch does not read): a JSON list of
/// objects with the fields of each error in [`errors_json`]'s `errors`.
pub fn warnings_json(engine: &me::Engine) -> String {
    Value::Array(engine.rules().warnings().iter().map(error_value).collect()).to_string()
}

fn error_value(e: &me::Error) -> Value {
    let at = e.location();
    serde_json::json!({
        "code": e.code(),
        "kind": e.kind().name(),
        "message": e.message(),
        "text": e.to_string(),
        "ruleId": at.and_then(|l| l.rule_id.clone()),
        "line": at.map(|l| l.line),
        "column": at.map(|l| l.column),
        "packLine": at.and_then(|l| l.pack_line),
        "at": editor_position(e),
        "display": display(e),
    })
}

/// Where the error is in the text that was refused, for an editor.
fn editor_position(e: &me::Error) -> Option<Value> {
    let at = e.location()?;
    let (line, column) = match (at.pack_line, at.pack_column) {
        (Some(line), column) => (line, column.unwrap_or(1)),
        // Config errors: their line:column is in the config text.
        (None, _) if at.line > 0 => (at.line, at.column.max(1)),
        (None, _) => return None,
    };
    Some(serde_json::json!({ "line": line, "column": column }))
}

/// `E202 rule "r1": message`: the error without its position (an editor
/// shows that) or the name of the pack the message starts with.
fn display(e: &me::Error) -> String {
    let message = e.message();
    let message = message.strip_prefix("rule pack: ").unwrap_or(message);
    match e.location().and_then(|l| l.rule_id.as_deref()) {
        Some(id) => format!("E{} rule {id:?}: {message}", e.code()),
        None => format!("E{}: {message}", e.code()),
    }
}

#[wasm_bindgen(inline_js = "export function modwatch_error(json) {
    const fields = JSON.parse(json);
    const error = new Error(fields.message);
    error.name = 'ModwatchError';
    return Object.assign(error, fields);
}")]
extern "C" {
    /// A JS `Error` with the fields of [`errors_json`].
    fn modwatch_error(json: &str) -> JsValue;
}

/// A modwatch engine: config, rules, per-principal scoring state, counters.
#[wasm_bindgen(js_name = Engine)]
#[derive(Debug)]
pub struct WebEngine(me::Engine);

#[wasm_bindgen(js_class = Engine)]
impl WebEngine {
    /// `new Engine(configJson, rulePackToml)`: `null` config means the
    /// defaults, `null` pack the built-in one (a given pack replaces it).
    /// Throws a `ModwatchError` listing every problem.
    #[wasm_bindgen(constructor)]
    pub fn new(config: Option<String>, rules: Option<String>) -> Result<WebEngine, JsValue> {
        load(config.as_deref(), rules.as_deref()).map(WebEngine).map_err(|e| modwatch_error(&e))
    }

    /// Tags one event (bytes): JSON text, see [`tag_json`]. Never throws.
    pub fn tag(&mut self, event: &[u8]) -> String {
        tag_json(&mut self.0, event)
    }

    /// Tags one event and summarises each record: JSON text, see
    /// [`rows_json`]. Never throws.
    pub fn rows(&mut self, event: &[u8]) -> String {
        rows_json(&mut self.0, event)
    }

    /// The verdicts on one event: one JSON line per record. Never throws.
    pub fn evaluate(&mut self, event: &[u8]) -> String {
        verdict_lines(&self.0.evaluate(event))
    }

    /// The counters since the engine was built, JSON with string numbers.
    pub fn stats(&self) -> String {
        stats_json(&self.0.stats())
    }

    /// The per-principal scoring state, JSON.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> String {
        self.0.export_state()
    }

    /// Replaces the scoring state; throws a `ModwatchError` and keeps the
    /// current state if `state` is not one.
    #[wasm_bindgen(js_name = importState)]
    pub fn import_state(&mut self, state: &str) -> Result<(), JsValue> {
        self.0.import_state(state).map_err(|e| modwatch_error(&errors_json(e.input(), &e.into_errors())))
    }

    /// The alert threshold, in points (`scoring.threshold`).
    pub fn threshold(&self) -> f64 {
        self.0.config().scoring().threshold_milli() as f64 / 1000.0
    }

    /// The scoring window, in minutes (`scoring.window_minutes`).
    #[wasm_bindgen(js_name = windowMinutes)]
    pub fn window_minutes(&self) -> f64 {
        self.0.config().scoring().window_secs() as f64 / 60.0
    }

    /// What loaded but will not run as written, JSON: see [`warnings_json`].
    pub fn warnings(&self) -> String {
        warnings_json(&self.0)
    }

    /// How many rules are loaded.
    #[wasm_bindgen(js_name = ruleCount)]
    pub fn rule_count(&self) -> u32 {
        u32::try_from(self.0.rules().len()).unwrap_or(u32::MAX)
    }
}

/// An input split into events by the engine's splitter, as every host
/// splits it: how it was read and where each event's bytes are.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Split {
    kind: &'static str,
    spans: Vec<u32>,
}

#[wasm_bindgen]
impl Split {
    /// How the input was read: `ndjson`, `array`, `batch`, `values` or `empty`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.kind.to_string()
    }

    /// The events' byte ranges, flat: `[start0, end0, start1, end1, …]`.
    #[wasm_bindgen(getter)]
    pub fn spans(&self) -> Vec<u32> {
        self.spans.clone()
    }
}

/// Splits an input (bytes) into events; see [`Split`].
#[wasm_bindgen(js_name = splitEvents)]
pub fn split_events(input: &[u8]) -> Split {
    let split = me::split::split(input);
    Split { kind: layout_name(split.layout), spans: spans(&split) }
}

/// Record `index` of a batch event (`{"Records":[…]}`, `{"records":[…]}`),
/// as the engine's splitter finds it, for showing one record of a batch;
/// `undefined` when the event is not a batch or has no such record.
#[wasm_bindgen(js_name = batchRecord)]
pub fn batch_record(event: &[u8], index: u32) -> Option<String> {
    let split = me::split::split(event);
    if split.layout != me::split::Layout::Batch {
        return None;
    }
    let span = split.events.get(usize::try_from(index).ok()?)?;
    Some(String::from_utf8_lossy(event.get(span.range())?).into_owned())
}

/// The name the page knows a layout by.
fn layout_name(layout: me::split::Layout) -> &'static str {
    match layout {
        me::split::Layout::Empty => "empty",
        me::split::Layout::Array => "array",
        me::split::Layout::Batch => "batch",
        me::split::Layout::Ndjson => "ndjson",
        me::split::Layout::Values => "values",
    }
}

/// The events' byte ranges, flat. An input over 4 GiB cannot reach a
/// browser's wasm memory, so every offset fits a `u32`.
fn spans(split: &me::split::Split) -> Vec<u32> {
    let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    split.events.iter().flat_map(|s| [at(s.start), at(s.end)]).collect()
}

/// The built-in rule pack as one TOML text (see [`builtin_pack_text`]).
#[wasm_bindgen(js_name = builtinPack)]
pub fn builtin_pack() -> String {
    builtin_pack_text()
}

/// The default config with every key written out.
#[wasm_bindgen(js_name = defaultConfig)]
pub fn default_config() -> String {
    DEFAULT_CONFIG.to_string()
}

/// The version of modwatch.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
