//! The built-in rule pack against its own examples and the labelled corpus.
//!
//! - every example of every rule gives the verdict the rule says it should;
//! - every rule fires on at least one example or corpus event (a rule that
//!   never fires is untested);
//! - every corpus event gets its label (`tests/corpus/`).
//!
//! Failures are collected and printed together, each with the event, the
//! expected and the actual verdict.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::collections::BTreeSet;

use modwatch_engine::{Config, Engine, RuleSet, Status, Verdict};
use serde_json::Value;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/corpus");

fn engine() -> Engine {
    Engine::new(None, None).unwrap_or_else(|e| panic!("built-in pack must load:\n{e}"))
}

fn show(v: &[Verdict]) -> String {
    v.iter().map(Verdict::to_json).collect::<Vec<_>>().join("\n      ")
}

fn fail_report(failures: &[String]) {
    if !failures.is_empty() {
        panic!("{} failure(s):\n\n{}", failures.len(), failures.join("\n\n"));
    }
}

/// A labelled corpus event.
struct Labelled {
    id: String,
    expect_match: bool,
    event: String,
}

fn corpus() -> Vec<Labelled> {
    let text = std::fs::read_to_string(format!("{CORPUS}/events.ndjson")).unwrap_or_else(|e| panic!("corpus: {e}"));
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("corpus line: {e}"));
        out.push(Labelled {
            id: v["id"].as_str().unwrap_or_default().to_string(),
            expect_match: v["expect"] == "match",
            event: serde_json::to_string(&v["event"]).unwrap_or_default(),
        });
    }
    // s3-batch.json records, in order, with the labels its README gives.
    let batch: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{CORPUS}/s3-batch.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("s3-batch.json: {e}"));
    let labels = [true, true, false, false, false, false, false, false, true];
    let records = batch["Records"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), labels.len(), "s3-batch.json has 9 records");
    for (i, (record, expect_match)) in records.iter().zip(labels).enumerate() {
        out.push(Labelled {
            id: format!("s3-batch#{}", i + 1),
            expect_match,
            event: serde_json::to_string(record).unwrap_or_default(),
        });
    }
    out
}

#[test]
fn corpus_events_get_their_labels() {
    let mut engine = engine();
    let mut failures = Vec::new();
    for e in corpus() {
        let verdicts = engine.evaluate(e.event.as_bytes());
        let matched = verdicts.iter().any(Verdict::is_match);
        if matched != e.expect_match || verdicts.len() != 1 {
            failures.push(format!(
                "{}: expected {}, got:\n      {}\n    event: {}",
                e.id,
                if e.expect_match { "match" } else { "no match" },
                show(&verdicts),
                &e.event[..e.event.len().min(400)]
            ));
        }
    }
    fail_report(&failures);
}

#[test]
fn batch_files_give_one_verdict_per_record() {
    let mut engine = engine();
    let s3 = std::fs::read(format!("{CORPUS}/s3-batch.json")).unwrap_or_default();
    let verdicts = engine.evaluate(&s3);
    let statuses: Vec<bool> = verdicts.iter().map(Verdict::is_match).collect();
    assert_eq!(statuses, vec![true, true, false, false, false, false, false, false, true], "{}", show(&verdicts));
    let azure = std::fs::read(format!("{CORPUS}/azure-records-batch.json")).unwrap_or_default();
    let verdicts = engine.evaluate(&azure);
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0].status, Status::NoMatch, "{}", show(&verdicts));
}

#[test]
fn every_rule_example_holds() {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let mut engine = engine();
    let mut failures = Vec::new();
    let mut count = 0;
    for ex in rules.examples() {
        count += 1;
        let verdicts = engine.evaluate(ex.event.as_bytes());
        let fired = verdicts.iter().any(|v| v.matches.iter().any(|m| m.rule_id == ex.rule_id));
        if fired != ex.expect_match {
            failures.push(format!(
                "rule {}: example expects {}, got:\n      {}\n    event: {}",
                ex.rule_id,
                if ex.expect_match { "a match" } else { "no match by this rule" },
                show(&verdicts),
                ex.event
            ));
        }
    }
    assert!(count > 0, "the built-in pack has no examples");
    fail_report(&failures);
}

#[test]
fn every_rule_has_both_kinds_of_example_and_fires() {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let mut engine = engine();
    let mut fired = BTreeSet::new();
    let mut events: Vec<String> = rules.examples().map(|e| e.event.clone()).collect();
    events.extend(corpus().into_iter().map(|e| e.event));
    for event in &events {
        for v in engine.evaluate(event.as_bytes()) {
            fired.extend(v.matches.iter().map(|m| m.rule_id.clone()));
        }
    }
    let mut failures = Vec::new();
    for id in rules.ids() {
        let (pos, neg) = rules
            .examples()
            .filter(|e| e.rule_id == id)
            .fold((0, 0), |(p, n), e| if e.expect_match { (p + 1, n) } else { (p, n + 1) });
        if pos == 0 || neg == 0 {
            failures.push(format!("rule {id}: needs at least one match and one no-match example ({pos} / {neg})"));
        }
        if !fired.contains(id) {
            failures.push(format!("rule {id}: never fires on any example or corpus event"));
        }
    }
    fail_report(&failures);
}

#[test]
fn every_rule_is_prefiltered() {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rules.unfiltered(), Vec::<&str>::new(), "rules the prefilter cannot rule out");
    // Every built-in rule names its operations, so an event is judged from
    // its operation values alone unless one of them is a candidate.
    assert_eq!(rules.full_scan(), Vec::<&str>::new(), "rules that need a pass over all the bytes");
}

#[test]
fn prefilter_never_changes_a_verdict() {
    // The same events with `input.validate` (every event parsed and judged
    // by every rule) and without (the prefilter decides what is parsed).
    let mut fast = engine();
    let config = Config::from_json(r#"{"input":{"validate":true}}"#).unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::load(&config, None).unwrap_or_else(|e| panic!("{e}"));
    let mut full = Engine::with_parts(config, rules);
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let mut events: Vec<String> = rules.examples().map(|e| e.event.clone()).collect();
    events.extend(corpus().into_iter().map(|e| e.event));
    // And each event pretty-printed: whitespace around every `:`.
    let pretty: Vec<String> = events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .filter_map(|v| serde_json::to_string_pretty(&v).ok())
        .collect();
    events.extend(pretty.into_iter().map(|p| p.replace("\": ", "\"\n :\t")));
    for event in events {
        let a: Vec<_> = fast.evaluate(event.as_bytes()).into_iter().map(|v| v.is_match()).collect();
        let b: Vec<_> = full.evaluate(event.as_bytes()).into_iter().map(|v| v.is_match()).collect();
        assert_eq!(a, b, "{event}");
    }
}

/// The verdicts of the corpus, one JSON line per record, as a golden file
/// every artefact (component, Fluent Bit module, browser build) is compared
/// with. `MODWATCH_BLESS=1 cargo test -p modwatch-engine --test main rules::golden`
/// rewrites it; review the diff.
#[test]
fn golden_corpus_verdicts() {
    let golden_path = format!("{CORPUS}/../golden/corpus.verdicts.ndjson");
    let mut engine = engine();
    let mut out = String::new();
    for e in corpus() {
        for v in engine.evaluate(e.event.as_bytes()) {
            out.push_str(&v.to_json());
            out.push('\n');
        }
    }
    if std::env::var_os("MODWATCH_BLESS").is_some() {
        std::fs::create_dir_all(format!("{CORPUS}/../golden")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&golden_path, &out).unwrap_or_else(|e| panic!("{golden_path}: {e}"));
        return;
    }
    let want = std::fs::read_to_string(&golden_path)
        .unwrap_or_else(|e| panic!("{golden_path}: {e} (run with MODWATCH_BLESS=1 to create it)"));
    for (i, (got, want)) in out.lines().zip(want.lines()).enumerate() {
        assert_eq!(got, want, "corpus record {} differs from the golden verdict", i + 1);
    }
    assert_eq!(out.lines().count(), want.lines().count(), "record count differs from the golden file");
}
