//! Properties of the public API over generated input: configs built from
//! the real keys with random, extreme and wrong-typed values, state documents
//! built around what `export_state` writes, and events, driven through
//! `Config::from_json`, `Engine::new`/`Engine::load`, `import_state`, `tag`,
//! `evaluate` and `export_state`. Nothing panics; a refused input says which
//! input it was and where; an exported state re-imports to the same export.
//!
//! Self-contained (no shared test modules) so that it can be a module of a
//! merged test binary. Case counts keep it to seconds in a debug build; set
//! `PROPTEST_CASES` to run more.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::cell::RefCell;
use std::sync::OnceLock;

use modwatch_engine::{Config, Engine, ErrorKind, LoadError, Overrides, Status};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Runs `check` on `cases` values of `strategy` (or `PROPTEST_CASES`).
/// (The runner takes a `Fn`; engines carried across cases need `FnMut`.)
fn run<S: Strategy>(cases: u32, strategy: S, check: impl FnMut(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases);
    let mut runner = TestRunner::new(RunConfig { cases, failure_persistence: None, ..RunConfig::default() });
    let check = RefCell::new(check);
    if let Err(e) = runner.run(&strategy, |value| (check.borrow_mut())(value)) {
        panic!("{e}");
    }
}

/// Every event of the corpus and the scenarios, as bytes.
fn events() -> &'static [Vec<u8>] {
    static EVENTS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let mut out = Vec::new();
        let mut files = vec![format!("{ROOT}/tests/corpus/events.ndjson")];
        for entry in std::fs::read_dir(format!("{ROOT}/tests/scenarios")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "ndjson") {
                files.push(path.display().to_string());
            }
        }
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                if let Ok(row) = serde_json::from_str::<Value>(line)
                    && let Some(event) = row.get("event")
                {
                    out.push(serde_json::to_vec(event).unwrap());
                }
            }
        }
        assert!(out.len() > 50, "the corpus and scenarios give events");
        out
    })
}

// ---------------------------------------------------------------- configs

/// A JSON value as text: plausible values of every type the config uses,
/// and the extremes around them.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("-15".to_string()),
        Just("1".to_string()),
        Just("15".to_string()),
        Just("128".to_string()),
        Just("129".to_string()),
        Just("1000000".to_string()),
        Just("1.5".to_string()),
        Just("0.001".to_string()),
        Just("1e400".to_string()),
        Just("-1e400".to_string()),
        Just("18446744073709551617".to_string()),
        Just("9223372036854775808".to_string()),
        Just("-9223372036854775809".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("null".to_string()),
        Just(r#""NaN""#.to_string()),
        Just(r#""Infinity""#.to_string()),
        Just(r#""15""#.to_string()),
        Just(r#""""#.to_string()),
        Just(r#""tag""#.to_string()),
        Just(r#""drop-non-matches""#.to_string()),
        Just(r#""09:00""#.to_string()),
        Just(r#""24:00""#.to_string()),
        Just(r#""+30:00""#.to_string()),
        Just(r#""-05:30""#.to_string()),
        Just(r#""é\u00e9\ud83d\ude00""#.to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just(r#"["mon","fri"]"#.to_string()),
        Just(r#"["10.0.0.0/8","2001:db8::/129"]"#.to_string()),
        Just(r#"["svc-*"]"#.to_string()),
        Just(r#"["*"]"#.to_string()),
        Just(r#"[1,"a",null]"#.to_string()),
        (1usize..300).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u32>().prop_map(|n| n.to_string()),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| format!("{x:e}")),
        "[a-z:+*?0-9 ]{0,8}".prop_map(|s| Value::from(s).to_string()),
    ]
}

/// An object of some of `keys` (each with a value from `value`) and
/// sometimes a key the config does not know, with random whitespace.
fn object(keys: &'static [&'static str], value: BoxedStrategy<String>) -> BoxedStrategy<String> {
    let member = (prop::sample::select(keys), value).prop_map(|(k, v)| format!("{}: {v}", Value::from(k)));
    let unknown = ("[a-zA-Z_.]{1,8}", scalar()).prop_map(|(k, v)| format!("{}: {v}", Value::from(k)));
    (
        prop::collection::vec(member, 0..4),
        prop::option::weighted(0.15, unknown),
        prop::sample::select(&[" ", "\n  ", ""][..]),
    )
        .prop_map(|(mut members, unknown, ws)| {
            members.extend(unknown);
            format!("{{{ws}{}{ws}}}", members.join(&format!(",{ws}")))
        })
        .boxed()
}

/// A config document: the real sections and keys, with random values.
fn config_text() -> impl Strategy<Value = String> {
    let s = || scalar().boxed();
    let window = object(&["days", "start", "end", "utc_offset"], s());
    let windows = prop_oneof![prop::collection::vec(window, 0..3).prop_map(|w| format!("[{}]", w.join(","))), s()];
    let ip = object(&["points", "learning_hours", "known_networks"], s());
    let scoring_value = prop_oneof![4 => s(), 1 => ip, 1 => windows].boxed();
    let sections: Vec<(&str, BoxedStrategy<String>)> = vec![
        ("rules", object(&["builtin"], s())),
        ("input", object(&["max_event_bytes", "max_depth", "validate"], s())),
        ("output", object(&["mode", "error_field", "routing_fields"], s())),
        ("threat", object(&["tactic"], object(&["id", "name"], s()))),
        ("points", object(&["DELETE", "CREATE", "EXPOSE_PUBLIC", "delete", "A.B"], s())),
        ("allowlist", object(&["aws_service_callers", "principals", "user_agents"], s())),
        (
            "scoring",
            object(
                &[
                    "window_minutes",
                    "out_of_order_minutes",
                    "threshold",
                    "bulk_cap",
                    "max_principals",
                    "unfamiliar_ip",
                    "change_windows",
                    "outside_window_multiplier",
                ],
                scoring_value,
            ),
        ),
    ];
    let bodies: Vec<BoxedStrategy<(usize, String)>> =
        sections.into_iter().enumerate().map(|(i, (_, body))| body.prop_map(move |b| (i, b)).boxed()).collect();
    let member = prop::strategy::Union::new(bodies);
    const NAMES: [&str; 7] = ["rules", "input", "output", "threat", "points", "allowlist", "scoring"];
    prop_oneof![
        8 => prop::collection::vec((member, prop::bool::weighted(0.1)), 0..5).prop_map(|members| {
            let parts: Vec<String> = members
                .into_iter()
                .map(|((i, body), wrong)| {
                    // Sometimes a section that is not an object.
                    let body = if wrong { "[1]".to_string() } else { body };
                    format!("{}: {body}", Value::from(NAMES[i]))
                })
                .collect();
            format!("{{\n{}\n}}", parts.join(",\n"))
        }),
        1 => scalar(),
        1 => "[ -~\n]{0,40}",
    ]
}

/// The (line, column) of a config error must be a place in the text: a line
/// that exists and a column at most one past its last character.
fn in_text(text: &str, line: u32, column: u32) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    line >= 1 && column >= 1 && (line as usize) <= lines.len().max(1) && {
        let chars = lines.get(line as usize - 1).map_or(0, |l| l.chars().count());
        column as usize <= chars + 1
    }
}

/// Checks what must hold of any config text, and returns the engine when it
/// was accepted.
fn check_config(text: &str, overrides: &Overrides) -> Result<Option<Engine>, TestCaseError> {
    let parsed = Config::from_json(text);
    if let Err(errors) = &parsed {
        prop_assert!(!errors.0.is_empty(), "refused without a reason: {text}");
        for e in &errors.0 {
            prop_assert!((300..400).contains(&e.code()), "not a config error: {e}\n{text}");
            let at = e.location();
            prop_assert!(at.is_some(), "a config error without a position: {e}\n{text}");
            let at = at.unwrap();
            prop_assert!(
                in_text(text, at.line, at.column),
                "{}:{} is not in the text: {e}\n{text}",
                at.line,
                at.column
            );
            prop_assert!(at.rule_id.is_none() && at.pack_line.is_none(), "{e}");
            // An unknown key is placed at that key's opening quote.
            if e.kind() == ErrorKind::ConfigUnknownKey {
                let line = text.split('\n').nth(at.line as usize - 1).unwrap_or("");
                prop_assert_eq!(line.chars().nth(at.column as usize - 1), Some('"'), "{} in\n{}", e, text);
            }
        }
    }
    match (Engine::load(Some(text), None, overrides), parsed) {
        (Err(LoadError::Config(got)), Err(want)) => {
            prop_assert_eq!(got, want);
            Ok(None)
        }
        (Ok(engine), Ok(config)) => {
            let config = config.with_overrides(overrides);
            prop_assert_eq!(engine.config(), &config);
            if let Some(v) = overrides.validate {
                prop_assert_eq!(engine.config().validate(), v);
            }
            // An accepted config is in range: what the scorer divides by
            // and what bounds the parser's recursion.
            let c = engine.config();
            prop_assert!(c.scoring().window_secs() >= 60 && c.scoring().max_principals() >= 1);
            prop_assert!((1..=128).contains(&c.max_depth()) && c.max_event_bytes() >= 64);
            Ok(Some(engine))
        }
        // The config was accepted but the engine refused: only for no
        // rules at all is that impossible, so the built-in pack must load.
        (Err(e), parsed) => {
            Err(TestCaseError::fail(format!("engine refused ({}): {e}\nconfig parsed: {}", e.input(), parsed.is_ok())))
        }
        (Ok(_), Err(e)) => Err(TestCaseError::fail(format!("engine accepted a refused config: {e}"))),
    }
}

/// Tags and evaluates some events, then checks that the exported state
/// imports and exports to itself.
fn exercise(engine: &mut Engine, events: &[&[u8]]) -> Result<(), TestCaseError> {
    for event in events {
        let tagged = engine.tag(event);
        prop_assert!(!tagged.verdicts.is_empty() || looks_like_empty_batch(event));
        for v in tagged.verdicts.iter().chain(&engine.evaluate(event)) {
            match (&v.principal, v.principal_key()) {
                (Some(p), Some(key)) => prop_assert!(key.ends_with(&format!("|{}", p.id)), "{key}"),
                (None, None) => {}
                (p, key) => prop_assert!(false, "principal {p:?} with key {key:?}"),
            }
        }
    }
    round_trip(engine)
}

fn looks_like_empty_batch(event: &[u8]) -> bool {
    serde_json::from_slice::<Value>(event)
        .ok()
        .is_some_and(|v| ["Records", "records"].iter().any(|k| v.get(k).and_then(Value::as_array).is_some()))
}

/// export → import → export gives the same text.
fn round_trip(engine: &mut Engine) -> Result<(), TestCaseError> {
    let first = engine.export_state();
    if let Err(e) = engine.import_state(&first) {
        return Err(TestCaseError::fail(format!("an engine refuses its own state: {e}\n{first}")));
    }
    prop_assert_eq!(engine.export_state(), first);
    Ok(())
}

#[test]
fn any_config_is_refused_with_positions_or_gives_a_working_engine() {
    let overrides = (prop::option::of(any::<bool>()), prop::option::of(any::<bool>()))
        .prop_map(|(validate, builtin_rules)| Overrides { validate, builtin_rules });
    let picks = prop::collection::vec(any::<prop::sample::Index>(), 1..4);
    let mut accepted = 0;
    run(96, (config_text(), overrides, picks), |(text, overrides, picks)| {
        if let Some(mut engine) = check_config(&text, &overrides)? {
            accepted += 1;
            let all = events();
            let chosen: Vec<&[u8]> = picks.iter().map(|i| all[i.index(all.len())].as_slice()).collect();
            exercise(&mut engine, &chosen)?;
        }
        Ok(())
    });
    // The generator must reach both sides, or the property says little.
    assert!(accepted > 0, "no generated config was accepted");
}

#[test]
fn every_absurd_value_is_refused_not_run() {
    // The values that once reached the scorer or the parser unchecked.
    for (key, text) in [
        ("scoring.window_minutes", r#"{"scoring":{"window_minutes":0}}"#),
        ("scoring.window_minutes", r#"{"scoring":{"window_minutes":-1}}"#),
        ("scoring.window_minutes", r#"{"scoring":{"window_minutes":1e400}}"#),
        ("input.max_depth", r#"{"input":{"max_depth":1000000}}"#),
        ("input.max_depth", r#"{"input":{"max_depth":"NaN"}}"#),
        ("scoring.max_principals", r#"{"scoring":{"max_principals":0}}"#),
    ] {
        match Engine::new(Some(text), None) {
            Err(LoadError::Config(errors)) => {
                assert!(errors.to_string().contains(key), "{text}: {errors}");
                assert!(errors.0.iter().all(|e| e.location().is_some_and(|l| l.line == 1 && l.column > 1)), "{errors}");
            }
            Err(other) => panic!("{text}: refused as {}: {other}", other.input()),
            Ok(_) => panic!("{text}: accepted"),
        }
    }
}

// ---------------------------------------------------------------- inputs

#[test]
fn a_refused_input_is_named() {
    const PACK: &str =
        "[[rule]]\nid = \"r\"\nname = \"r\"\nseverity = \"low\"\nquery = 'any where event.action == \"x\"'\n";
    let bad_pack = prop_oneof![
        Just("[[rule]".to_string()),
        Just(PACK.replace("low", "urgent")),
        Just(PACK.replace("==", "=")),
        "[ -~\n]{1,60}".prop_map(|t| format!("{PACK}{t}")),
    ];
    let bad_config = prop_oneof![Just("{".to_string()), Just(r#"{"colour":1}"#.to_string()), Just("[]".to_string())];
    run(48, (bad_pack, bad_config), |(pack, config)| {
        // A config is checked first: with both bad, the config is named.
        let both = Engine::new(Some(&config), Some(&pack));
        prop_assert!(matches!(&both, Err(LoadError::Config(_))), "{:?}", both.err());
        match Engine::new(None, Some(&pack)) {
            Err(LoadError::Rules(errors)) => {
                prop_assert!(errors.0.iter().all(|e| (200..300).contains(&e.code())), "{errors}");
            }
            // Random text appended to a pack may still be a valid pack.
            Ok(_) => {}
            Err(other) => prop_assert!(false, "named {}: {other}", other.input()),
        }
        Ok(())
    });
}

// ---------------------------------------------------------------- state

/// The state of an engine after the scenario events: principals with
/// buckets, IPs and operations, as `export_state` writes it.
fn exported() -> &'static Value {
    static STATE: OnceLock<Value> = OnceLock::new();
    STATE.get_or_init(|| {
        let mut engine = Engine::new(None, None).unwrap();
        for event in events() {
            engine.tag(event);
        }
        let state: Value = serde_json::from_str(&engine.export_state()).unwrap();
        assert!(state["principals"].as_array().is_some_and(|p| p.len() > 2), "{state}");
        state
    })
}

/// A value to put into a state document: the extremes of what `export`
/// writes, and the wrong types.
fn state_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(60)),
        Just(json!(1u64 << 40)),
        Just(json!((1u64 << 40) + 1)),
        Just(json!(-(1i64 << 40) - 1)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(4_294_967_296u64)),
        Just(json!(1.5)),
        Just(json!("ffffffff")),
        Just(json!("xyz")),
        Just(json!("modwatch-state")),
        Just(json!([])),
        Just(json!([[0, 0, 0, 0]])),
        Just(json!([[4_294_967_295u64, 4_294_967_295u64, 70_000, 70_000]])),
        Just(json!([[1, 2]])),
        Just(json!(["0000000g"])),
        Just(json!({})),
        any::<i64>().prop_map(Value::from),
        any::<u32>().prop_map(|n| Value::from(format!("{n:08x}"))),
    ]
}

/// One change to a state document.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace a top-level field.
    Top(&'static str, Value),
    /// Replace a field of principal `i`.
    Principal(prop::sample::Index, &'static str, Value),
    /// Remove a field of principal `i`.
    Remove(prop::sample::Index, &'static str),
    /// Duplicate principal `i` (the same key twice).
    Duplicate(prop::sample::Index),
    /// Drop principals past `n`.
    Truncate(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    const TOP: &[&str] = &["format", "version", "bucket_secs", "latest", "evictions", "alerts", "principals"];
    const FIELDS: &[&str] = &["key", "first_seen", "last_seen", "alerted", "buckets", "ips", "ops"];
    prop_oneof![
        1 => (prop::sample::select(TOP), state_value()).prop_map(|(k, v)| Edit::Top(k, v)),
        3 => (any::<prop::sample::Index>(), prop::sample::select(FIELDS), state_value())
            .prop_map(|(i, k, v)| Edit::Principal(i, k, v)),
        1 => (any::<prop::sample::Index>(), prop::sample::select(FIELDS)).prop_map(|(i, k)| Edit::Remove(i, k)),
        1 => any::<prop::sample::Index>().prop_map(Edit::Duplicate),
        1 => any::<prop::sample::Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(state: &mut Value, edit: &Edit) {
    // (Earlier edits may have left anything in any place: only objects are
    // indexed into.)
    if let Edit::Top(k, v) = edit {
        if let Some(top) = state.as_object_mut() {
            top.insert(k.to_string(), v.clone());
        }
        return;
    }
    let Some(principals) = state.get_mut("principals").and_then(Value::as_array_mut) else { return };
    let n = principals.len();
    match edit {
        Edit::Principal(i, k, v) if n > 0 => {
            if let Some(p) = principals[i.index(n)].as_object_mut() {
                p.insert(k.to_string(), v.clone());
            }
        }
        Edit::Remove(i, k) if n > 0 => {
            if let Some(p) = principals[i.index(n)].as_object_mut() {
                p.remove(*k);
            }
        }
        Edit::Duplicate(i) if n > 0 => {
            let copy = principals[i.index(n)].clone();
            principals.push(copy);
        }
        Edit::Truncate(i) => principals.truncate(i.index(n + 1)),
        _ => {}
    }
}

#[test]
fn any_state_is_refused_as_state_or_round_trips() {
    let configs = [None, Some(r#"{"scoring":{"window_minutes":1,"max_principals":2}}"#)];
    let mut engines: Vec<Engine> = configs.iter().map(|c| Engine::new(*c, None).unwrap()).collect();
    let picks = prop::collection::vec(any::<prop::sample::Index>(), 0..3);
    let raw = prop_oneof![Just(String::new()), Just("{".to_string()), "[ -~]{0,40}"];
    let doc = prop_oneof![
        8 => prop::collection::vec(edit(), 0..4).prop_map(|edits| {
            let mut state = exported().clone();
            for e in &edits {
                apply(&mut state, e);
            }
            state.to_string()
        }),
        1 => raw,
    ];
    let (mut imported, mut refused) = (0, 0);
    run(160, (doc, any::<prop::sample::Index>(), picks), |(text, which, picks)| {
        let engine = &mut engines[which.index(configs.len())];
        let before = engine.export_state();
        match engine.import_state(&text) {
            Err(LoadError::State(e)) => {
                refused += 1;
                prop_assert_eq!(e.kind(), ErrorKind::StateInvalid, "{}", e);
                prop_assert_eq!(engine.export_state(), before, "a refused state changed the engine");
            }
            Err(other) => prop_assert!(false, "a state refused as {}: {other}", other.input()),
            Ok(()) => {
                imported += 1;
                let all = events();
                let chosen: Vec<&[u8]> = picks.iter().map(|i| all[i.index(all.len())].as_slice()).collect();
                round_trip(engine)?;
                exercise(engine, &chosen)?;
            }
        }
        Ok(())
    });
    assert!(imported > 0 && refused > 0, "imported {imported}, refused {refused}");
}

// ---------------------------------------------------------------- events

/// Corpus events with a few bytes changed, and JSON that is nearly an event.
fn event() -> impl Strategy<Value = Vec<u8>> {
    let corpus = any::<prop::sample::Index>().prop_map(|i| events()[i.index(events().len())].clone());
    let mutated = (corpus.clone(), prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)).prop_map(
        |(mut bytes, edits)| {
            for (i, b) in edits {
                let n = bytes.len();
                bytes[i.index(n)] = b;
            }
            bytes
        },
    );
    let deep = (1usize..400).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes());
    let records = prop::collection::vec(corpus.clone(), 0..3).prop_map(|list| {
        let values: Vec<Value> = list.iter().filter_map(|b| serde_json::from_slice(b).ok()).collect();
        json!({ "Records": values }).to_string().into_bytes()
    });
    prop_oneof![3 => corpus, 3 => mutated, 1 => deep, 1 => records, 1 => prop::collection::vec(any::<u8>(), 0..64)]
}

#[test]
fn any_event_gives_verdicts_and_a_state_that_round_trips() {
    let configs = [
        None,
        Some(r#"{"input":{"validate":true,"max_depth":8},"output":{"error_field":true}}"#),
        Some(r#"{"output":{"mode":"drop-non-matches"},"scoring":{"window_minutes":1,"threshold":0.001}}"#),
    ];
    let mut engines: Vec<Engine> = configs.iter().map(|c| Engine::new(*c, None).unwrap()).collect();
    run(256, (event(), any::<prop::sample::Index>()), |(event, which)| {
        let engine = &mut engines[which.index(configs.len())];
        exercise(engine, &[&event])?;
        let verdicts = engine.evaluate(&event);
        prop_assert!(verdicts.iter().all(|v| v.status != Status::Error || v.error.is_some()));
        Ok(())
    });
}
