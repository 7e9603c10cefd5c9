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
use modwatch_testkit::{corpus, r#gen};
use serde_json::Value;

use crate::sigma::{Case, DIR, checklist_1, checklist_2, checklist_3, event, rule};

/// Rules or cases left out (name, reason).
type Exclusions = &'static [(&'static str, &'static str)];

/// sigma-rust 0.7 compares values only with values of the same type.
const TYPED: &str = "sigma-rust compares a number only with numbers (5 is not \"5\"); modwatch, like Elastic, also matches the digit string";
/// sigma-rust 0.7 compares `gt`/`gte`/`lt`/`lte` only with numbers.
const NUMBER_TEXT: &str = "sigma-rust compares `gt`/`gte`/`lt`/`lte` only with JSON numbers; modwatch also reads a string whose whole text is a number (\"10\") as that number";
/// sigma-rust 0.7 reads a JSON null as present.
const NULL: &str = "modwatch reads a JSON null as missing (so `exists: false` and `null` hold for it, `exists: true` does not); sigma-rust reads it as present, and its `null` does not hold for a missing field";
/// sigma-rust 0.7 does not look into arrays or objects (its issue #9).
const NESTED: &str = "sigma-rust matches no value inside an array or below an object (its issue #9); modwatch matches any element at any depth, and `contains` on an object any value below it";
/// sigma-rust 0.7 has no `re` flag modifiers.
const RE_FLAGS: &str = "sigma-rust does not know the `re` flag modifiers `i`, `m`, `s` (it refuses the rule)";

/// Checklist cases where modwatch and sigma-rust differ, and why. Each is a
/// difference of sigma-rust 0.7 from the Sigma specification or a choice the
/// specification leaves open, except where noted.
const EXCLUDED_CASES: Exclusions = &[
    ("integer equals number", TYPED),
    ("integer equals digit string", TYPED),
    ("array values: any", NESTED),
    ("nested arrays of objects", NESTED),
    ("contains on an object: any value below", NESTED),
    ("re|i", RE_FLAGS),
    ("re|s dot matches newline", RE_FLAGS),
    ("re|m anchors lines", RE_FLAGS),
    ("exists true", NULL),
    ("exists true, missing", NULL),
    ("exists false", NULL),
    ("null: missing", NULL),
    ("null: JSON null", NULL),
    ("null: present", NULL),
    ("not 1 of filter", NULL),
    ("gt: number string", NUMBER_TEXT),
    ("gt: float string", NUMBER_TEXT),
    ("lt: negative string", NUMBER_TEXT),
    ("gt: big number string, exactly", NUMBER_TEXT),
    (
        "base64",
        "sigma-rust encodes `base64` without padding and drops the last partial character (a prefix, for `contains`), so a whole padded value never equals it; modwatch encodes with padding, as pySigma does",
    ),
    (
        "fieldref",
        "sigma-rust compares `fieldref` values case-sensitively; Sigma strings (and modwatch) are case-insensitive",
    ),
    ("fieldref miss", "as `fieldref`: another case's record has `BOB` against `bob`"),
    ("fieldref, other field missing", "as `fieldref`: another case's record has `BOB` against `bob`"),
    (
        "keywords are substrings",
        "sigma-rust matches a keyword against whole values (a substring needs wildcards); modwatch matches substrings, as full-text search backends do",
    ),
    ("selection and keywords", "as `keywords are substrings`"),
    ("condition list is any", "sigma-rust reads only one condition string, not a list of conditions"),
];

/// Rules of cloud-pack.yml (by title) where they differ, and why: none.
const EXCLUDED_RULES: Exclusions = &[];

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
    all.extend(r#gen::mix(3000, 7));
    all.extend(cases.iter().map(|(_, _, extra, _)| event(extra.clone())));
    // Raw CloudTrail records only (sigma-rust reads no other shape), one per
    // event, and no dry runs (modwatch reports no match for a dry run, by
    // design: it changed nothing).
    let mut engine = Engine::new(
        None,
        Some("[[rule]]\nid = \"any\"\nname = \"any\"\nseverity = \"low\"\nquery = 'any where true'\n"),
    )
    .unwrap();
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

/// The records (indexes) each engine matches with one rule; an error if
/// sigma-rust cannot load the rule.
fn match_sets(
    text: &str,
    records: &[String],
    events: &[sigma_rust::Event],
) -> Result<(BTreeSet<usize>, BTreeSet<usize>), String> {
    let mut ours = Engine::new(None, Some(text)).unwrap_or_else(|e| panic!("modwatch: {e}\n{text}"));
    let theirs = sigma_rust::rule_from_yaml(text).map_err(|e| format!("sigma-rust cannot load it: {e}"))?;
    let mut a = BTreeSet::new();
    let mut b = BTreeSet::new();
    for (i, r) in records.iter().enumerate() {
        if ours.evaluate(r.as_bytes()).iter().any(|v| !v.matches.is_empty()) {
            a.insert(i);
        }
        if theirs.is_match(&events[i]) {
            b.insert(i);
        }
    }
    Ok((a, b))
}

#[test]
fn same_matches_as_sigma_rust_on_raw_cloudtrail() {
    let cases: Vec<Case> = [checklist_1(), checklist_2(), checklist_3()].concat();
    let records = records(&cases);
    assert!(records.len() > 200, "only {} raw CloudTrail records", records.len());
    let events: Vec<sigma_rust::Event> = records.iter().map(|r| sigma_rust::event_from_json(r).unwrap()).collect();
    let mut rules: Vec<(String, String, Exclusions)> =
        pack_rules().into_iter().map(|(t, text)| (t, text, EXCLUDED_RULES)).collect();
    rules.extend(cases.iter().map(|(name, detection, _, _)| (name.to_string(), rule(detection), EXCLUDED_CASES)));
    let mut failures = Vec::new();
    let mut matched = 0;
    for (name, text, excluded) in &rules {
        let (ours, theirs) = match match_sets(text, &records, &events) {
            Ok(sets) => sets,
            Err(_) if excluded.iter().any(|(n, _)| n == name) => continue,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
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
    assert!(
        failures.is_empty(),
        "{} of {} rules differ on {} records:\n{}",
        failures.len(),
        rules.len(),
        records.len(),
        failures.join("\n\n")
    );
    assert!(matched > 100, "the rules matched only {matched} records in all");
}
