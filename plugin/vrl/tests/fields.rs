#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test: a failure is a panic naming the event, the field and both values"
)]
//! Field parity: for every field `docs/fields.md` lists, on every record of
//! every corpus and scenario event, the values the exported program's field
//! lookup gives (the lookup its rules read) are the values the engine's
//! normalised view gives. The tag parity test only sees the fields some rule
//! reads; this one sees a field no rule reads yet.
//!
//! The fields come from the document itself (the first column of each table,
//! every backquoted name elsewhere, `{a,b}` expanded), so a field added there
//! is tested here. A family `prefix.*` is tested through every concrete path
//! below it that has a value in some event.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use modwatch_engine::export::field_values;
use modwatch_engine::{Config, RuleSet};
use serde_json::Value as Json;
use vrl::value::Value;

use crate::vrl_host::{compile, corpus, repo, run};

/// Field values where the program cannot give what the engine gives:
/// (field, event label, why). The test fails if one of these agrees.
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    // The program indexes a record by `flatten`, which gives one key `a.b`
    // for a key "a.b" and a key "a" holding {"b": …} side by side; the
    // engine's walk finds both (the program's header says so).
    ("modwatch.params.a.b", "extra #1", SIDE_BY_SIDE),
    ("aws.cloudtrail.flattened.request_parameters.a.b", "extra #1", SIDE_BY_SIDE),
    ("requestParameters.a.b", "extra #1", SIDE_BY_SIDE),
    // The program walks `modwatch_vrl::ARRAY_DEPTH` levels of arrays inside
    // arrays (VRL has no recursion); the engine walks any depth.
    ("modwatch.params.deep", "extra #2", TOO_DEEP),
    ("aws.cloudtrail.flattened.request_parameters.deep", "extra #2", TOO_DEEP),
    ("requestParameters.deep", "extra #2", TOO_DEEP),
];
const SIDE_BY_SIDE: &str = "a dotted key beside the same path as objects: VRL sees one";
const TOO_DEEP: &str = "arrays nested deeper than ARRAY_DEPTH";

/// Events beyond the corpus, for the document's fields no corpus event has.
fn extra_events() -> Vec<(String, Json)> {
    use serde_json::json;
    let events = [
        // A CloudTrail service event (`serviceEventDetails`).
        json!({"eventVersion": "1.08", "eventSource": "ec2.amazonaws.com", "eventName": "SnapshotShared",
            "eventType": "AwsServiceEvent", "eventCategory": "Management", "awsRegion": "eu-west-1",
            "eventTime": "2026-03-02T10:00:00Z", "eventID": "svc-1", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
            "serviceEventDetails": {"snapshotId": "snap-1", "shared": true, "size": 8, "targets": [{"account": "999"}, {"account": ""}]}}),
        // The two documented limits of the program's field index.
        ct(json!({"a.b": "dotted", "a": {"b": "nested"}})),
        ct(json!({"deep": [[[[[[[[[["ten arrays down"]]]]]]]]]]})),
    ];
    events.into_iter().enumerate().map(|(i, e)| (format!("extra #{i}"), e)).collect()
}

/// A raw CloudTrail record with these request parameters.
fn ct(params: Json) -> Json {
    serde_json::json!({"eventVersion": "1.09", "eventSource": "ec2.amazonaws.com", "eventName": "CreateImage",
        "eventTime": "2026-03-02T10:00:00Z", "eventID": "x-1", "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"},
        "requestParameters": params})
}

/// Every corpus and scenario event (scenario configs do not change what a
/// field reads), then the extra ones.
fn events() -> Vec<(String, Json)> {
    let mut out: Vec<(String, Json)> = corpus().into_iter().map(|(name, _, event)| (name, event)).collect();
    out.extend(extra_events());
    out
}

/// `a.{b,c}.d` → `a.b.d`, `a.c.d`.
fn expand(name: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (name.find('{'), name.find('}')) else { return vec![name.to_string()] };
    let (head, tail) = (&name[..open], &name[close + 1..]);
    name[open + 1..close].split(',').flat_map(|alt| expand(&format!("{head}{}{tail}", alt.trim()))).collect()
}

/// The fields of `docs/fields.md`: field names and `prefix.*` families
/// (as the prefix). Only the sections (`## …`) count: the introduction
/// names raw paths as examples.
fn documented() -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(repo().join("docs/fields.md")).unwrap();
    let mut names = Vec::new();
    let mut in_section = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            in_section = true;
            continue;
        }
        if !in_section {
            continue;
        }
        // A table row names its field in the first cell; the other cells
        // are where the value comes from, in each format.
        let part = match line.strip_prefix('|') {
            Some(row) => row.split('|').next().unwrap_or(""),
            None => line,
        };
        for (i, chunk) in part.split('`').enumerate() {
            if i % 2 == 1 {
                names.extend(expand(chunk));
            }
        }
    }
    let (mut fields, mut families) = (Vec::new(), Vec::new());
    for name in names {
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "._@*".contains(c)),
            "docs/fields.md: `{name}` is not a field name"
        );
        match name.strip_suffix(".*") {
            Some(prefix) => families.push(prefix.to_string()),
            None => fields.push(name),
        }
    }
    let mut seen = BTreeSet::new();
    fields.retain(|f| seen.insert(f.clone()));
    families.retain(|f| seen.insert(f.clone()));
    assert!(fields.len() >= 40 && families.len() >= 5, "docs/fields.md parsed: {fields:?} {families:?}");
    (fields, families)
}

/// Every dotted path to a scalar in `v` (arrays walked through), and every
/// tail of one that starts at a key: the candidates for `prefix.<tail>`.
fn tails(v: &Json, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Json::Object(m) => {
            for (k, x) in m {
                tails(x, &if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out);
            }
        }
        Json::Array(a) => a.iter().for_each(|x| tails(x, path, out)),
        _ => {
            for (i, _) in path.match_indices('.') {
                out.insert(path[i + 1..].to_string());
            }
            out.insert(path.to_string());
        }
    }
}

/// The concrete fields of each family: `prefix.<tail>` where some event has
/// a value for it.
fn family_fields(families: &[String], events: &[(String, Json)]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, event) in events {
        let mut candidates = BTreeSet::new();
        tails(event, "", &mut candidates);
        for prefix in families {
            for tail in &candidates {
                let field = format!("{prefix}.{tail}");
                if field_values(event, &field).iter().flatten().any(|v| !v.is_empty()) {
                    out.entry(prefix.clone()).or_default().insert(field);
                }
            }
        }
    }
    out.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect()
}

/// The probe output of each record, in record order: the values of each
/// field, in field order (`None`: not a record the program recognised).
fn probes(out: &Json) -> Vec<Option<Vec<Json>>> {
    fn probe(r: &Json) -> Option<Vec<Json>> {
        let text = r.get(modwatch_vrl::PROBE_KEY)?.as_str()?;
        Some(text.lines().map(|line| serde_json::from_str(line).unwrap()).collect())
    }
    for key in ["Records", "records"] {
        if let Some(Json::Array(items)) = out.get(key) {
            return items.iter().map(probe).collect();
        }
    }
    vec![probe(out)]
}

/// Values as VRL holds them (numbers as i64/f64), in a canonical order: a
/// field's values are a set with repeats to a query, not a sequence.
fn canonical(values: &[Json]) -> Vec<Json> {
    let mut out: Vec<Json> = values.iter().map(|v| serde_json::to_value(Value::from(v.clone())).unwrap()).collect();
    out.sort_by_key(Json::to_string);
    out
}

#[test]
fn every_documented_field_reads_as_the_engine_reads_it() {
    let started = Instant::now();
    let events = events();
    let (plain, families) = documented();
    let by_family = family_fields(&families, &events);
    let uncovered: Vec<&String> = families.iter().filter(|f| !by_family.contains_key(*f)).collect();
    assert!(
        uncovered.is_empty(),
        "no event has a value below these families; add one to extra_events(): {uncovered:?}"
    );
    let mut fields: Vec<String> = plain.clone();
    for field in by_family.values().flatten() {
        if !fields.contains(field) {
            fields.push(field.clone());
        }
    }

    println!("{} fields to compare, found in {:.1?}", fields.len(), started.elapsed());
    let set = RuleSet::load(&Config::default(), None).unwrap();
    let names: Vec<&str> = fields.iter().map(String::as_str).collect();
    let source = modwatch_vrl::probe(&set, &Config::default(), &names);
    let compiling = Instant::now();
    let (program, _) = compile(&source);
    println!("compiled the probe program ({} lines) in {:.1?}", source.lines().count(), compiling.elapsed());

    let mut exceptions: BTreeMap<(&str, &str), (&str, bool)> =
        EXCEPTIONS.iter().map(|(f, e, why)| ((*f, *e), (*why, false))).collect();
    let (mut records, mut compared, mut with_values) = (0, 0, 0);
    let mut failures = Vec::new();
    for (label, event) in &events {
        let out = run(&program, event);
        let got = probes(&out);
        let mut diffs = Vec::new();
        for (f, field) in fields.iter().enumerate() {
            let want = field_values(event, field);
            assert_eq!(want.len(), got.len(), "{label}: the engine and the program see different records");
            let several = want.len() > 1;
            for (i, (want, got)) in want.iter().zip(&got).enumerate() {
                let record = if several { format!("{label} record {i}") } else { label.clone() };
                let (want, got) = match (want, got) {
                    (None, None) => continue,
                    (Some(w), Some(g)) => {
                        let g = match g.get(f) {
                            Some(Json::Array(values)) => values.clone(),
                            other => panic!("{record}: the probe has no list for {field}: {other:?}"),
                        };
                        (canonical(w), canonical(&g))
                    }
                    (w, g) => {
                        panic!("{record}: recognised by the engine: {}, by the program: {}", w.is_some(), g.is_some())
                    }
                };
                compared += 1;
                with_values += usize::from(!want.is_empty());
                let key = if exceptions.contains_key(&(field.as_str(), label.as_str())) { label.as_str() } else { "*" };
                let excepted = exceptions.get_mut(&(field.as_str(), key));
                match excepted {
                    Some((_, seen)) => *seen |= want != got,
                    None if want != got => {
                        diffs.push(format!(
                            "  {field}\n    engine: {}\n    vrl:    {}",
                            Json::from(want),
                            Json::from(got)
                        ));
                    }
                    None => {}
                }
            }
        }
        records += got.len();
        if !diffs.is_empty() {
            failures.push(format!("{label}\n  event: {event}\n{}", diffs.join("\n")));
        }
    }
    let stale: Vec<String> = exceptions
        .iter()
        .filter(|(_, (_, seen))| !seen)
        .map(|((f, e), (why, _))| format!("{f} on {e} ({why})"))
        .collect();
    println!(
        "{} fields ({} named, {} below {} families) x {} events ({} records): {} comparisons, {} with values, {} events differ, in {:.1?}",
        fields.len(),
        plain.len(),
        fields.len() - plain.len(),
        by_family.len(),
        events.len(),
        records,
        compared,
        with_values,
        failures.len(),
        started.elapsed()
    );
    assert!(failures.is_empty(), "{} events read differently:\n{}", failures.len(), failures.join("\n\n"));
    assert!(stale.is_empty(), "these exceptions now agree with the engine; remove them:\n{}", stale.join("\n"));
}
