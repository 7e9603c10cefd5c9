//! The native engine and the component in wasmtime give the same verdicts and
//! the same output bytes on generated events: AWS, ECS, Azure and GCP events
//! built from the pack's own operations (`modwatch_testkit::shapes`), the
//! benchmark mix (`modwatch_testkit::r#gen`), mutated corpus events and arbitrary
//! JSON, in the same order through one engine each (so scoring state, alerts
//! and evictions are compared too).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::cell::RefCell;

use modwatch::{Detector, Output};
use modwatch_engine as native;
use modwatch_testkit::shapes;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunConfig, TestCaseError, TestRunner};

/// Runs one event through both; fails on any difference.
fn same(event: &[u8], engine: &mut native::Engine, detector: &mut Detector) -> Result<(), TestCaseError> {
    let want = engine.tag(event);
    let got = detector.tag(event).map_err(|e| TestCaseError::fail(format!("the component failed: {e:#}")))?;
    let want_json: Vec<String> = want.verdicts.iter().map(native::Verdict::to_json).collect();
    let got_json: Vec<&str> = got.verdicts.iter().map(|v| v.json.as_str()).collect();
    let event_text = || String::from_utf8_lossy(event).chars().take(600).collect::<String>();
    prop_assert_eq!(&want_json, &got_json, "verdicts differ on {}", event_text());
    let same_output = match (&want.output, &got.output) {
        (native::Output::Unchanged, Output::Unchanged) | (native::Output::Dropped, Output::Dropped) => true,
        (native::Output::Replaced(a), Output::Replaced(b)) => a == b,
        _ => false,
    };
    prop_assert!(same_output, "outputs differ on {}", event_text());
    Ok(())
}

/// Sequences of events from `strategy`, `cases` of them, through one native
/// engine and one component instance with `config`, in step.
fn in_step(cases: u32, config: Option<&str>, strategy: impl Strategy<Value = Vec<Vec<u8>>>) {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases);
    let engine = RefCell::new(native::Engine::new(config, None).unwrap_or_else(|e| panic!("{e}")));
    let detector = RefCell::new(Detector::new(config, None).unwrap_or_else(|e| panic!("{e}")));
    let mut runner = TestRunner::new(RunConfig { cases, failure_persistence: None, ..RunConfig::default() });
    let result = runner.run(&strategy, |events| {
        for event in &events {
            same(event, &mut engine.borrow_mut(), &mut detector.borrow_mut())?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (native_stats, stats) = (engine.borrow().stats(), detector.borrow_mut().stats().unwrap());
    assert_eq!(
        (
            native_stats.events,
            native_stats.matches,
            native_stats.alerts,
            native_stats.principals,
            native_stats.evictions
        ),
        (stats.events, stats.matches, stats.alerts, stats.principals, stats.evictions),
        "stats differ"
    );
    assert_eq!(engine.borrow().export_state(), detector.borrow_mut().export_state().unwrap(), "exported states differ");
}

/// A small principal cap so evictions happen; a low threshold so alerts do.
const TIGHT: &str = r#"{"scoring":{"max_principals":16,"threshold":4}}"#;

#[test]
fn generated_cloud_events_get_the_same_verdicts_natively_and_in_the_component() {
    let events = || proptest::collection::vec(shapes::cloud_event(), 1..12);
    in_step(250, None, events());
    in_step(100, Some(TIGHT), events());
}

#[test]
fn hostile_events_get_the_same_verdicts_natively_and_in_the_component() {
    let one = prop_oneof![
        shapes::mutated_corpus_event(),
        shapes::json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        proptest::collection::vec(any::<u8>(), 0..128),
    ];
    in_step(200, Some(r#"{"input":{"validate":true}}"#), proptest::collection::vec(one, 1..8));
}

#[test]
fn the_benchmark_mix_gets_the_same_verdicts_natively_and_in_the_component() {
    // The mix is deterministic per seed; proptest picks seeds and slices.
    let slices = (any::<u64>(), 1usize..200).prop_map(|(seed, n)| {
        modwatch_testkit::r#gen::mix(n, seed).into_iter().map(String::into_bytes).collect::<Vec<_>>()
    });
    in_step(20, Some(TIGHT), slices);
}
