//! One corpus, two artefacts: every labelled event through the native engine
//! and through the component in wasmtime. The verdicts must be the same JSON,
//! the tagged output the same bytes, and `match` exactly where the label says.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use modwatch::{Detector, Output, Status, Verdict};
use modwatch_engine as native;
use modwatch_testkit::corpus;

/// Runs `event` through both, in step; returns the failures found.
fn check(
    label: &str,
    event: &[u8],
    expected: &[bool],
    engine: &mut native::Engine,
    detector: &mut Detector,
) -> Vec<String> {
    let mut failures = Vec::new();
    let mut fail = |what: String| failures.push(format!("{label}: {what}"));
    let want = engine.tag(event);
    let got = detector.tag(event).unwrap_or_else(|e| panic!("{label}: the component failed: {e:#}"));

    let want_json: Vec<String> = want.verdicts.iter().map(native::Verdict::to_json).collect();
    let got_json: Vec<&str> = got.verdicts.iter().map(|v| v.json.as_str()).collect();
    if want_json != got_json {
        fail(format!("verdicts differ\n    native:    {want_json:?}\n    component: {got_json:?}"));
    }
    let same_output = match (&want.output, &got.output) {
        (native::Output::Unchanged, Output::Unchanged) | (native::Output::Dropped, Output::Dropped) => true,
        (native::Output::Replaced(a), Output::Replaced(b)) => a == b,
        _ => false,
    };
    if !same_output {
        fail(format!("outputs differ\n    native:    {:?}\n    component: {:?}", kind(&want.output), got.output));
    }
    if got.verdicts.len() != expected.len() {
        fail(format!("{} verdicts for {} records: {got_json:?}", got.verdicts.len(), expected.len()));
    }
    for (i, (v, &expect_match)) in got.verdicts.iter().zip(expected).enumerate() {
        if (v.status == Status::Match) != expect_match {
            let expected = if expect_match { "match" } else { "no match" };
            fail(format!("record {}: expected {expected}, got {}", i + 1, summary(v)));
        }
    }
    failures
}

fn kind(output: &native::Output) -> &'static str {
    match output {
        native::Output::Unchanged => "Unchanged",
        native::Output::Replaced(_) => "Replaced(..)",
        native::Output::Dropped => "Dropped",
    }
}

fn summary(v: &Verdict) -> String {
    format!("{:?} {}", v.status, v.json)
}

#[test]
fn corpus_verdicts_are_the_same_natively_and_in_the_component_and_follow_the_labels() {
    let mut engine = native::Engine::new(None, None).expect("the built-in pack loads natively");
    let mut detector = Detector::new(None, None).expect("the built-in pack loads in the component");
    let mut failures = Vec::new();
    let events = corpus::events();
    assert!(events.len() >= 80, "the corpus has {} events", events.len());
    for e in &events {
        failures.extend(check(&e.id, &e.event, &[e.expect_match], &mut engine, &mut detector));
    }
    let batches: [(&str, &[(&str, bool)]); 2] =
        [("s3-batch.json", &corpus::S3_BATCH_LABELS), ("azure-records-batch.json", &corpus::AZURE_BATCH_LABELS)];
    for (file, labels) in batches {
        let expected: Vec<bool> = labels.iter().map(|(_, m)| *m).collect();
        failures.extend(check(file, corpus::read(file).as_bytes(), &expected, &mut engine, &mut detector));
    }
    let native_stats = engine.stats();
    let stats = detector.stats().unwrap();
    if (native_stats.events, native_stats.records, native_stats.matches) != (stats.events, stats.records, stats.matches)
    {
        failures.push(format!("stats differ\n    native:    {native_stats:?}\n    component: {stats:?}"));
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// The component gives the golden verdicts of `tests/golden/corpus.verdicts.ndjson`
/// (written by the engine's tests with `MODWATCH_BLESS=1`): the corpus events,
/// then the records of `s3-batch.json` one by one, through one engine.
#[test]
fn component_verdicts_are_the_golden_ones() {
    let batch: serde_json::Value = serde_json::from_str(&corpus::read("s3-batch.json")).unwrap();
    let records = batch["Records"].as_array().unwrap().iter().enumerate();
    let events = corpus::events()
        .into_iter()
        .map(|e| (e.id, e.event))
        .chain(records.map(|(i, r)| (format!("s3-batch#{}", i + 1), serde_json::to_vec(r).unwrap())));
    let mut detector = Detector::new(None, None).unwrap();
    let mut got = Vec::new();
    for (id, event) in events {
        got.extend(detector.evaluate(&event).unwrap().into_iter().map(|v| (id.clone(), v.json)));
    }
    assert_golden("corpus.verdicts.ndjson", &got);
}

/// A Sigma pack through the component gives the golden verdicts of
/// `tests/golden/sigma.verdicts.ndjson` (the native engine's, written by its
/// tests) on the Sigma parity events, through one engine.
#[test]
fn component_sigma_verdicts_are_the_golden_ones() {
    let mut detector = Detector::new(None, Some(&corpus::sigma_pack())).unwrap();
    let mut got = Vec::new();
    for (id, event) in corpus::sigma_events() {
        got.extend(detector.evaluate(&event).unwrap().into_iter().map(|v| (id.clone(), v.json)));
    }
    assert_golden("sigma.verdicts.ndjson", &got);
}

/// `got` (event id, verdict JSON), in order, is the golden file `name`.
fn assert_golden(name: &str, got: &[(String, String)]) {
    let golden_path = corpus::corpus_dir().join("../golden").join(name);
    let golden = std::fs::read_to_string(&golden_path)
        .unwrap_or_else(|e| panic!("{}: {e} (the engine's tests write it)", golden_path.display()));
    let want: Vec<&str> = golden.lines().collect();
    let failures: Vec<String> = got
        .iter()
        .zip(&want)
        .filter(|((_, got), want)| got != *want)
        .map(|((id, got), want)| format!("{id}\n    golden:    {want}\n    component: {got}"))
        .collect();
    assert!(failures.is_empty(), "{} records differ from the golden file:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(got.len(), want.len(), "record count differs from the golden file");
}
