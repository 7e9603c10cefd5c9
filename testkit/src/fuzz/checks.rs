//! One function per engine fuzz target: it feeds the input to the engine
//! through a public entry point, checks invariants that must hold for any
//! input (panicking when one does not), and returns the kind of result, a
//! short word the regression test compares with the one written down for
//! each kept input (`tests/fuzz/kinds.txt`).
//!
//! Engines that load a rule pack are built once per process and their
//! scoring state is reset before every input, so an input gives the same
//! result whatever ran before it (libFuzzer's minimiser relies on that).

use std::cell::RefCell;
use std::sync::OnceLock;

use modwatch_engine::{Config, Engine, ErrorKind, Errors, LoadError, Output, RuleSet, Status, Tagged, Verdict};
use serde_json::Value;

use super::json::{kept, parse};

/// A few real events of every format (every 11th of the shared corpus).
fn samples() -> &'static [Vec<u8>] {
    static SAMPLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        include_str!("../../../tests/corpus/events.ndjson")
            .lines()
            .step_by(11)
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|row| serde_json::to_vec(&row["event"]).ok())
            .collect()
    })
}

/// An engine and the empty scoring state it is reset to before each input.
struct Fresh {
    engine: Engine,
    blank: String,
}

impl Fresh {
    fn new(config: &str, rules: Option<&str>) -> Fresh {
        let engine = Engine::new(Some(config), rules).unwrap_or_else(|e| panic!("fuzz engine refused: {e}"));
        let blank = engine.export_state();
        Fresh { engine, blank }
    }

    fn reset(&mut self) -> &mut Engine {
        if let Err(e) = self.engine.import_state(&self.blank) {
            panic!("an engine's own empty state is refused: {e}");
        }
        &mut self.engine
    }
}

/// The built-in pack three times: with the prefilter (the default), with
/// `input.validate` (every event parsed, every rule evaluated) and
/// `output.error_field`, and the same for `evaluate`.
struct EventEngines {
    plain: Fresh,
    validate: Fresh,
    evaluate: Fresh,
}

const VALIDATE: &str = r#"{"input":{"validate":true},"output":{"error_field":true}}"#;

thread_local! {
    static EVENT: RefCell<Option<EventEngines>> = const { RefCell::new(None) };
    static STATE: RefCell<Option<Fresh>> = const { RefCell::new(None) };
}

/// `event`: any bytes as one event, through `Engine::tag` (with and without
/// the prefilter) and `Engine::evaluate`.
///
/// Invariants: every verdict serialises to JSON; `tag` and `evaluate` judge
/// alike; the prefilter never hides nor invents a match; a non-match comes
/// back unchanged (or, with `error_field`, a refused object with
/// `modwatch.error` spliced in front); a match comes back as a JSON object that
/// keeps every field the event had.
pub fn event(data: &[u8]) -> String {
    EVENT.with(|cell| {
        let mut slot = cell.borrow_mut();
        let engines = slot.get_or_insert_with(|| EventEngines {
            plain: Fresh::new("{}", None),
            validate: Fresh::new(VALIDATE, None),
            evaluate: Fresh::new(VALIDATE, None),
        });
        let plain = engines.plain.reset().tag(data);
        let valid = engines.validate.reset().tag(data);
        let verdicts = engines.evaluate.reset().evaluate(data);
        for v in plain.verdicts.iter().chain(&valid.verdicts).chain(&verdicts) {
            assert!(parse(v.to_json().as_bytes()).is_some_and(|j| j.is_object()), "verdict is not JSON: {v:?}");
        }
        assert_eq!(verdicts, valid.verdicts, "evaluate and tag disagree");
        let matched = |t: &Tagged| -> Vec<(Status, Vec<String>)> {
            t.verdicts
                .iter()
                .filter(|v| matches!(v.status, Status::Match | Status::Suppressed))
                .map(|v| (v.status, v.matches.iter().map(|m| m.rule_id.clone()).collect()))
                .collect()
        };
        assert_eq!(matched(&plain), matched(&valid), "the prefilter changed a match");
        check_output(data, &plain, false);
        check_output(data, &valid, true);
        kind(&valid.verdicts)
    })
}

/// The statuses of the verdicts (with the error's name), comma-separated.
fn kind(verdicts: &[Verdict]) -> String {
    let names: Vec<String> = verdicts
        .iter()
        .map(|v| match (&v.error, v.status) {
            (Some(e), _) => format!("error:{}", e.kind),
            (None, s) => serde_json::to_value(s).ok().and_then(|s| s.as_str().map(str::to_string)).unwrap_or_default(),
        })
        .collect();
    names.join(",")
}

fn check_output(data: &[u8], tagged: &Tagged, error_field: bool) {
    let any_match = tagged.verdicts.iter().any(Verdict::is_match);
    // With `error_field`, a refused event may come back with
    // `modwatch.error` spliced in (which refusals do is the engine's call).
    let spliced_error = error_field && tagged.verdicts.iter().any(|v| v.status == Status::Error);
    match &tagged.output {
        Output::Unchanged => assert!(!any_match, "a match came back unchanged"),
        Output::Dropped => panic!("an event was dropped in tag mode"),
        Output::Replaced(bytes) if any_match => {
            let orig = parse(data).unwrap_or_else(|| panic!("a match that is not JSON"));
            let out = parse(bytes).unwrap_or_else(|| panic!("tagged output is not JSON"));
            assert!(out.is_object(), "tagged output is not an object");
            assert!(kept(&orig, &out), "tagging lost or changed a field");
            assert_ne!(orig, out, "a match came back without tags");
        }
        Output::Replaced(bytes) => {
            assert!(spliced_error, "a non-match was replaced: {:?}", tagged.verdicts);
            assert!(bytes.starts_with(br#"{"modwatch":{"error":"#), "error field not spliced first");
            // A refused event may be invalid JSON past its braces, or too
            // deep to parse here; when it parses, nothing of it is lost.
            if let (Some(orig), Some(out)) = (parse(data), parse(bytes)) {
                assert!(kept(&orig, &out), "the error field lost or changed a field");
            }
        }
    }
}

/// A rule pack of one rule with `query` as its query (a TOML basic string).
pub fn one_rule_pack(query: &str) -> String {
    let mut escaped = String::with_capacity(query.len() + 2);
    for c in query.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            c if c.is_control() && c != '\t' => escaped.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => escaped.push(c),
        }
    }
    format!(
        "[[rule]]\nid = \"fuzz\"\nname = \"fuzz\"\nseverity = \"low\"\ncategory = \"DELETE\"\nquery = \"{escaped}\"\n"
    )
}

/// `eql`: any text as the query of a one-rule pack (so the parser, the
/// compiler and the prefilter's literal derivation all see it).
///
/// Invariants: a refused query is refused with a query error (2xx: syntax,
/// rejected or pattern) whose line lies inside the query; a compiled query
/// judges the sample events the same with and without the prefilter (the
/// literals it derives never hide a match).
pub fn eql(data: &[u8]) -> String {
    let Ok(query) = std::str::from_utf8(data) else { return "not-utf8".into() };
    let pack = one_rule_pack(query);
    let plain = Config::default().with_builtin_rules(false);
    let validate = plain.clone().with_validate(true);
    match RuleSet::load(&validate, Some(&pack)) {
        Err(Errors(errors)) => {
            let lines = query.split('\n').count() as u32;
            for e in &errors {
                assert!(
                    matches!(e.kind(), ErrorKind::QuerySyntax | ErrorKind::QueryRejected | ErrorKind::PatternInvalid),
                    "a query error of the wrong kind: {e}"
                );
                let line = e.location().map_or(1, |l| l.line);
                assert!((1..=lines).contains(&line), "error outside the query ({lines} lines): {e}");
                assert!(!e.to_string().is_empty());
            }
            format!("refused:{}", errors.first().map_or("", |e| e.kind().name()))
        }
        Ok(set) => {
            assert_eq!(set.len(), 1, "one rule loads as one rule");
            let again = RuleSet::load(&plain, Some(&pack)).unwrap_or_else(|e| panic!("loads once, not twice: {e}"));
            let mut all = Engine::with_parts(validate, set);
            let mut filtered = Engine::with_parts(plain, again);
            for event in samples() {
                let a = all.evaluate(event);
                let b = filtered.evaluate(event);
                assert_eq!(a.len(), 1, "one verdict per sample");
                if a.iter().any(|v| v.status != Status::NoMatch) {
                    assert_eq!(
                        a.iter().map(|v| v.status).collect::<Vec<_>>(),
                        b.iter().map(|v| v.status).collect::<Vec<_>>(),
                        "the prefilter changed the verdict on {}",
                        String::from_utf8_lossy(event)
                    );
                }
            }
            "loaded".into()
        }
    }
}

/// `rules`: any text as a rule pack (`Engine::new(None, Some(text))`).
///
/// Invariants: a refused pack is refused with rule-pack errors (2xx); a
/// loaded pack judges its own examples and the sample events without
/// panicking, one verdict each.
pub fn rules(data: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(data) else { return "not-utf8".into() };
    let mut engine = match build(None, Some(text), 200..300) {
        Ok(engine) => engine,
        Err(refused) => return refused,
    };
    let examples: Vec<String> = engine.rules().examples().take(8).map(|e| e.event.clone()).collect();
    for event in examples.iter().map(String::as_bytes).chain(samples().iter().map(Vec::as_slice)) {
        assert!(!engine.tag(event).verdicts.is_empty(), "no verdict");
    }
    "loaded".into()
}

/// `Engine::new`; a refusal gives `refused:<first error's kind>` and must
/// list only errors with codes in `codes`.
fn build(config: Option<&str>, rules: Option<&str>, codes: std::ops::Range<u16>) -> Result<Engine, String> {
    Engine::new(config, rules).map_err(|refused| {
        let errors = refused.errors();
        assert!(!errors.is_empty(), "refused without a reason");
        for e in errors {
            assert!(codes.contains(&e.code()), "an error outside {codes:?}: {e}");
        }
        format!("refused:{}", errors[0].kind().name())
    })
}

/// The rules a fuzzed config runs with: the seed rule, the operation
/// catalogue and a bulk AWS rule (the built-in pack when the config asks).
const CONFIG_RULES: &str = concat!(
    include_str!("../../../rules/seed.toml"),
    include_str!("../../../rules/operations.toml"),
    r#"
[[rule]]
id = "fuzz-aws-terminate"
name = "terminate"
severity = "high"
category = "DELETE"
bulk = "modwatch.params.instancesSet.items.instanceId"
query = 'any where event.provider == "ec2.amazonaws.com" and event.action == "TerminateInstances"'
"#
);

/// `config`: any text as the JSON config (`Engine::new(Some(text), …)`).
///
/// Invariants: a refused config is refused with config errors (3xx); an
/// accepted one builds an engine that tags the sample events without
/// panicking and whose exported state imports again.
pub fn config(data: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(data) else { return "not-utf8".into() };
    let mut engine = match build(Some(text), Some(CONFIG_RULES), 300..400) {
        Ok(engine) => engine,
        Err(refused) => return refused,
    };
    tag_and_reimport(&mut engine, samples());
    "loaded".into()
}

/// Tags `events` (a verdict each, no panic), then exports the scoring state
/// and imports it again: an engine must take back its own state.
fn tag_and_reimport(engine: &mut Engine, events: &[Vec<u8>]) {
    for event in events {
        assert!(!engine.tag(event).verdicts.is_empty(), "no verdict");
    }
    let state = engine.export_state();
    if let Err(e) = engine.import_state(&state) {
        panic!("an engine refuses its own state: {e}");
    }
}

/// The events `state` runs after an import: every scenario event.
fn scenario_events() -> &'static [Vec<u8>] {
    static EVENTS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        [
            include_str!("../../../tests/scenarios/score-2-threshold.ndjson"),
            include_str!("../../../tests/scenarios/score-4-unfamiliar-ip.ndjson"),
            include_str!("../../../tests/scenarios/score-8-lifecycle.ndjson"),
        ]
        .iter()
        .flat_map(|file| file.lines())
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|row| row.get("event").is_some())
        .filter_map(|row| serde_json::to_vec(&row["event"]).ok())
        .collect()
    })
}

/// `state`: any text as exported scoring state (`Engine::import_state`).
///
/// Invariants: a refused state is refused with `state_invalid` (4xx); an
/// imported one exports to a document that imports to the same export, and
/// the engine then scores events without panicking.
pub fn state(data: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(data) else { return "not-utf8".into() };
    STATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fresh = slot.get_or_insert_with(|| Fresh::new("{}", None));
        let engine = fresh.reset();
        match engine.import_state(text) {
            Err(e) => {
                assert!(matches!(&e, LoadError::State(s) if s.kind() == ErrorKind::StateInvalid), "{e}");
                "refused".into()
            }
            Ok(()) => {
                let first = engine.export_state();
                if let Err(e) = engine.import_state(&first) {
                    panic!("an exported state is refused: {e}");
                }
                assert_eq!(engine.export_state(), first, "export → import → export changed the state");
                tag_and_reimport(engine, scenario_events());
                "imported".into()
            }
        }
    })
}
