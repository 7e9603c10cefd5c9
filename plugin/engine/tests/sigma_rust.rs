//! Parity with the `sigma-rust` crate: the project's own Sigma rules (the
//! CloudTrail rules of `tests/sigma/cloud-pack.yml` and the Sigma checklist)
//! evaluated on raw CloudTrail records by modwatch and by sigma-rust must
//! give the same match sets. The rules use raw CloudTrail field names, which
//! is what sigma-rust reads (it has no field mappings).
//!
//! Where the two differ by design, the rule or checklist case is left out
//! below with the reason; every exclusion must still be needed (a test fails
//! when one is not), so the list stays true.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::collections::BTreeSet;

use modwatch_engine::{Engine, Format, Outcome};
use modwatch_testkit::{corpus, gen};
use serde_json::Value;

use crate::sigma::{Case, DIR, checklist_1, checklist_2, checklist_3, event, rule};

/// Checklist cases where modwatch and sigma-rust differ, and why.
const EXCLUDED_CASES: &[(&str, &str)] = &[];

/// Rules of cloud-pack.yml (by title) where they differ, and why.
const EXCLUDED_RULES: &[(&str, &str)] = &[];

/// The raw CloudTrail records the rules run on: the corpus's, the Sigma
/// format fixtures', a generated mix's and the checklist cases' own.
fn records(cases: &[Case]) -> Vec<String> {
    let mut all: Vec<String> = corpus::events().into_iter().map(|e| String::from_utf8(e.event).unwrap()).collect();
    let batch: Value = serde_json::from_str(&corpus::read("s3-batch.json")).unwrap();
    all.extend(batch["Records"].as_array().unwrap().iter().map(Value::to_string));
    for line in std::fs::read_to_string(format!("{DIR}/formats.ndjson")).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        all.push(v["event"].to_string());
    }
    all.extend(gen::mix(3000, 7));
    all.extend(cases.iter().map(|(_, _, extra, _)| event(extra.clone())));
    // Raw CloudTrail records only (sigma-rust reads no other shape), one per
    // event, and no dry runs (modwatch reports no match for a dry run, by
    // design: it changed nothing).
    let mut engine = Engine::new(None, Some("[[rule]]\nid = \"any\"\nname = \"any\"\nseverity = \"low\"\nquery = 'any where true'\n")).unwrap();
    all.retain(|e| {
        let v = engine.evaluate(e.as_bytes());
        matches!(v.as_slice(), [one] if one.format == Some(Format::AwsCloudtrail) && one.outcome != Some(Outcome::DryRun))
    });
    all
}

/// The CloudTrail rules of cloud-pack.yml: (title, YAML text).
fn pack_rules() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(format!("{DIR}/cloud-pack.yml")).unwrap();
    text.split("\n---\n")
        .filter(|doc| doc.contains("product: aws"))
        .map(|doc| {
            let title = doc.lines().find_map(|l| l.strip_prefix("title: ")).unwrap().to_string();
            (title, doc.to_string())
        })
        .collect()
}

/// The records (indexes) each engine matches with one rule.
fn match_sets(text: &str, records: &[String]) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let mut ours = Engine::new(None, Some(text)).unwrap_or_else(|e| panic!("modwatch: {e}\n{text}"));
    let theirs = sigma_rust::rule_from_yaml(text).unwrap_or_else(|e| panic!("sigma-rust: {e}\n{text}"));
    let mut a = BTreeSet::new();
    let mut b = BTreeSet::new();
    for (i, r) in records.iter().enumerate() {
        if ours.evaluate(r.as_bytes()).iter().any(|v| !v.matches.is_empty()) {
            a.insert(i);
        }
        if theirs.is_match(&sigma_rust::event_from_json(r).unwrap()) {
            b.insert(i);
        }
    }
    (a, b)
}

#[test]
fn same_matches_as_sigma_rust_on_raw_cloudtrail() {
    let cases: Vec<Case> = [checklist_1(), checklist_2(), checklist_3()].concat();
    let records = records(&cases);
    assert!(records.len() > 200, "only {} raw CloudTrail records", records.len());
    let mut rules: Vec<(String, String, &[(&str, &str)])> =
        pack_rules().into_iter().map(|(t, text)| (t, text, EXCLUDED_RULES)).collect();
    rules.extend(cases.iter().map(|(name, detection, _, _)| (name.to_string(), rule(detection), EXCLUDED_CASES)));
    let mut failures = Vec::new();
    let mut matched = 0;
    for (name, text, excluded) in &rules {
        let (ours, theirs) = match_sets(text, &records);
        matched += ours.len();
        let differs = ours != theirs;
        match excluded.iter().find(|(n, _)| n == name) {
            Some(_) if differs => {}
            Some(_) => failures.push(format!("{name}: excluded, but both engines agree: drop the exclusion")),
            None if differs => {
                let only = |a: &BTreeSet<usize>, b: &BTreeSet<usize>| {
                    a.difference(b).take(2).map(|i| records[*i].clone()).collect::<Vec<_>>().join("\n    ")
                };
                failures.push(format!(
                    "{name}: modwatch matches {}, sigma-rust {}\n  modwatch only:\n    {}\n  sigma-rust only:\n    {}",
                    ours.len(),
                    theirs.len(),
                    only(&ours, &theirs),
                    only(&theirs, &ours)
                ));
            }
            None => {}
        }
    }
    assert!(failures.is_empty(), "{} rule(s) differ:\n{}", failures.len(), failures.join("\n\n"));
    assert!(matched > 100, "the rules matched only {matched} records in all");
}
