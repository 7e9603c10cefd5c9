//! Properties of the engine over generated input (`docs/design.md#invariants`): every input gives
//! exactly one output and never panics; whatever is not a match passes
//! through byte for byte; tagging never removes or changes a field.
//!
//! Case counts keep the whole file to a few seconds in a debug build; set
//! `PROPTEST_CASES` to run more (e.g. `PROPTEST_CASES=20000` before a release).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::cell::RefCell;

use modwatch_engine::{Engine, Output, Status, Tagged};
use modwatch_testkit::shapes;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunConfig, TestCaseError, TestRunner};
use serde_json::Value;

/// Runs `strategy` for `cases` cases (or `PROPTEST_CASES`) through one engine
/// (its scoring state carries from case to case, as in a pipeline).
fn run<S: Strategy>(
    cases: u32,
    config: Option<&str>,
    strategy: S,
    check: impl Fn(&mut Engine, &S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases);
    let engine = RefCell::new(Engine::new(config, None).unwrap_or_else(|e| panic!("{e}")));
    let mut runner = TestRunner::new(RunConfig { cases, failure_persistence: None, ..RunConfig::default() });
    let result = runner.run(&strategy, |input| check(&mut engine.borrow_mut(), &input));
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// One output for one input: a tag-mode engine never drops, a single event
/// (not a batch object) has exactly one verdict, a replaced event is JSON, and
/// anything without a match comes back `Unchanged`.
fn one_output(event: &[u8], tagged: &Tagged) -> Result<(), TestCaseError> {
    let show = || String::from_utf8_lossy(event).chars().take(400).collect::<String>();
    // One verdict per record: a batch object has as many as it has records
    // (an empty batch none; it still passes through), anything else one.
    let records = serde_json::from_slice::<Value>(event)
        .ok()
        .and_then(|v| ["Records", "records"].iter().find_map(|k| v.get(k).and_then(Value::as_array).map(Vec::len)));
    prop_assert_eq!(tagged.verdicts.len(), records.unwrap_or(1), "verdicts for {}", show());
    let matched = tagged.verdicts.iter().any(|v| v.status == Status::Match);
    match &tagged.output {
        Output::Dropped => prop_assert!(false, "dropped in tag mode: {}", show()),
        Output::Unchanged => prop_assert!(!matched, "a match came back unchanged: {}", show()),
        Output::Replaced(bytes) => {
            prop_assert!(matched, "a non-match was replaced: {}", show());
            prop_assert!(serde_json::from_slice::<Value>(bytes).is_ok(), "tagged output is not JSON: {}", show());
        }
    }
    Ok(())
}

/// A tagged event keeps every field it had, with its value.
fn nothing_altered(event: &[u8], tagged: &Tagged) -> Result<(), TestCaseError> {
    if let Output::Replaced(bytes) = &tagged.output {
        let original: Value = serde_json::from_slice(event).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let output: Value = serde_json::from_slice(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Some(path) = shapes::first_altered(&original, &output, "") {
            prop_assert!(
                false,
                "{path}\n    event:  {}\n    tagged: {}",
                String::from_utf8_lossy(event),
                String::from_utf8_lossy(bytes)
            );
        }
    }
    Ok(())
}

#[test]
fn arbitrary_bytes_give_one_output() {
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        // Bytes that get past the prefilter: an operation name somewhere.
        (proptest::collection::vec(any::<u8>(), 0..128), proptest::collection::vec(any::<u8>(), 0..128))
            .prop_map(|(a, b)| [a, b"\"eventName\":\"TerminateInstances\"".to_vec(), b].concat()),
    ];
    run(3000, None, bytes, |engine, event| one_output(event, &engine.tag(event)));
}

#[test]
fn arbitrary_json_gives_one_output() {
    let events = || shapes::json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default());
    // `validate`: every event is parsed and judged, none skipped by the prefilter.
    for config in [None, Some(r#"{"input":{"validate":true}}"#)] {
        run(1500, config, events(), |engine, event| {
            let tagged = engine.tag(event);
            one_output(event, &tagged)?;
            nothing_altered(event, &tagged)
        });
    }
}

#[test]
fn mutated_corpus_events_give_one_output() {
    run(2000, None, shapes::mutated_corpus_event(), |engine, event| {
        let tagged = engine.tag(event);
        one_output(event, &tagged)?;
        nothing_altered(event, &tagged)
    });
}

#[test]
fn generated_cloud_events_pass_or_are_tagged_without_losing_a_field() {
    let matched = RefCell::new(0u32);
    run(2000, None, shapes::cloud_event(), |engine, event| {
        let tagged = engine.tag(event);
        one_output(event, &tagged)?;
        nothing_altered(event, &tagged)?;
        *matched.borrow_mut() += u32::from(tagged.verdicts[0].status == Status::Match);
        Ok(())
    });
    // The generator reaches the rules: a good share of its events match.
    assert!(*matched.borrow() > 200, "only {} of the generated events matched", matched.borrow());
}

#[test]
fn a_non_match_is_byte_identical_even_with_whitespace_and_escapes() {
    // Non-matching events as a shipper might write them: spaces, escapes,
    // odd key order. None may be re-serialised.
    let spaced = shapes::json_value().prop_map(|v| serde_json::to_string_pretty(&v).unwrap_or_default().into_bytes());
    run(1000, Some(r#"{"input":{"validate":true}}"#), spaced, |engine, event| {
        let tagged = engine.tag(event);
        if tagged.verdicts.iter().all(|v| v.status != Status::Match) {
            prop_assert_eq!(&tagged.output, &Output::Unchanged);
        }
        Ok(())
    });
}
