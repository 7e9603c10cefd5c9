//! The modwatch engine for browsers and Node.js: a thin wasm-bindgen skin over
//! `modwatch-engine`, used by the rule playground (`playground/`).
//!
//! Everything crosses as text built here: events go in as bytes; results come
//! out as JSON whose verdicts are the engine's own [`me::Verdict::to_json`]
//! lines, so every host prints the same bytes; 64-bit counters are decimal
//! strings (a JS number is a double). Load errors become JS `Error`s named
//! `ModwatchError` carrying the engine's code, kind and message and, for rule
//! errors, the rule id and line:column. The plain functions under the
//! wrappers hold all of it and are tested natively (`tests/skin.rs`).

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
/// tagged event, when replaced>","verdicts":[…],"keys":[…]}`. `keys` has one
/// entry per verdict: the principal's scoring key
/// ([`me::Verdict::principal_key`]), or `null`.
pub fn tag_json(engine: &mut me::Engine, event: &[u8]) -> String {
    let tagged = engine.tag(event);
    let mut out = String::with_capacity(256);
    match &tagged.output {
        me::Output::Unchanged => out.push_str(r#"{"output":"unchanged","#),
        me::Output::Dropped => out.push_str(r#"{"output":"dropped","#),
        me::Output::Replaced(bytes) => {
            out.push_str(r#"{"output":"replaced","event":"#);
            // A string, not raw JSON: the output is the engine's bytes, shown as they are.
            out.push_str(&Value::String(String::from_utf8_lossy(bytes).into_owned()).to_string());
            out.push(',');
        }
    }
    out.push_str(r#""verdicts":["#);
    out.push_str(&join(&tagged.verdicts, ","));
    out.push_str(r#"],"keys":"#);
    let keys = tagged.verdicts.iter().map(|v| v.principal_key().map_or(Value::Null, Value::from));
    out.push_str(&Value::Array(keys.collect()).to_string());
    out.push('}');
    out
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
/// first one's `code`, `kind`, `ruleId`, `line`, `column` and `packLine` are at
/// the top, and `errors` holds each. `source` says which input was refused:
/// `config`, `rules` or `state`. For query errors `line:column` is in the
/// query and `packLine` the line of the pack where that query line is; for
/// config errors `line:column` is the offending key in the config text.
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
    })
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

    /// How many rules are loaded.
    #[wasm_bindgen(js_name = ruleCount)]
    pub fn rule_count(&self) -> u32 {
        u32::try_from(self.0.rules().len()).unwrap_or(u32::MAX)
    }
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
