//! Sigma rules as a rule-pack format: the checklist of the specification's
//! features (modifiers, conditions, null and exists, case, escapes), the same
//! verdict on every input shape of an operation, metadata in the tags,
//! errors with positions, warnings, prefilter literals, and packs mixing
//! Sigma and TOML files.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use modwatch_engine::{Config, Engine, FILE_MARKER, RuleSet, Status, Verdict};
use serde_json::{Value, json};

pub(crate) const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/sigma");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A checklist case: name, detection, the event's extra keys, and whether
/// the rule must match.
pub(crate) type Case = (&'static str, &'static str, Value, bool);

/// A CloudTrail Sigma rule with this detection (indented under `detection:`).
pub(crate) fn rule(detection: &str) -> String {
    let body: String = detection.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "title: Checklist\nid: 00000000-0000-4000-8000-000000000001\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n{body}level: high\n"
    )
}

/// A raw CloudTrail record by an IAM user, with `extra` keys merged in.
pub(crate) fn event(extra: Value) -> String {
    let mut e = json!({
        "eventVersion": "1.09",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances",
        "eventTime": "2026-03-02T10:00:00Z",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "accountId": "111122223333", "userName": "bob", "principalId": "AIDA1"},
        "recipientAccountId": "111122223333",
        "eventType": "AwsApiCall",
    });
    if let (Value::Object(e), Value::Object(x)) = (&mut e, extra) {
        for (k, v) in x {
            e.insert(k, v);
        }
    }
    e.to_string()
}

fn matched(engine: &mut Engine, event: &str) -> bool {
    engine.evaluate(event.as_bytes()).iter().any(Verdict::is_match)
}

/// Runs (name, detection, event extras, expected) cases, reporting every failure.
fn table(cases: &[Case]) {
    let mut failures = Vec::new();
    for (name, detection, extra, want) in cases {
        let text = rule(detection);
        match Engine::new(None, Some(&text)) {
            Ok(mut engine) => {
                let got = matched(&mut engine, &event(extra.clone()));
                if got != *want {
                    failures.push(format!("{name}: want {want}, got {got}\n{detection}\n  extra: {extra}"));
                }
            }
            Err(e) => failures.push(format!("{name}: did not load: {e}\n{detection}")),
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn checklist_1_values_and_case() {
    table(&checklist_1());
}

/// The cases of `checklist_1_values_and_case` (the sigma-rust parity test runs them too).
pub(crate) fn checklist_1() -> Vec<Case> {
    vec![
        ("plain equality ignores case", "sel:\n  eventName: runinstances\ncondition: sel", json!({}), true),
        ("plain equality is whole-value", "sel:\n  eventName: Run\ncondition: sel", json!({}), false),
        (
            "value list is any",
            "sel:\n  eventName:\n    - StopInstances\n    - RunInstances\ncondition: sel",
            json!({}),
            true,
        ),
        ("map is all", "sel:\n  eventName: RunInstances\n  awsRegion: us-east-1\ncondition: sel", json!({}), false),
        ("list of maps is any", "sel:\n  - eventName: Nope\n  - awsRegion: eu-west-1\ncondition: sel", json!({}), true),
        ("star wildcard", "sel:\n  eventName: 'Run*'\ncondition: sel", json!({}), true),
        ("question wildcard", "sel:\n  eventName: 'RunInstance?'\ncondition: sel", json!({}), true),
        (
            "escaped star is literal",
            "sel:\n  requestParameters.name: 'a\\*b'\ncondition: sel",
            json!({"requestParameters": {"name": "a*b"}}),
            true,
        ),
        (
            "escaped star is not a wildcard",
            "sel:\n  requestParameters.name: 'a\\*b'\ncondition: sel",
            json!({"requestParameters": {"name": "axxb"}}),
            false,
        ),
        (
            "escaped question",
            "sel:\n  requestParameters.name: 'a\\?'\ncondition: sel",
            json!({"requestParameters": {"name": "ab"}}),
            false,
        ),
        (
            "escaped backslash then star",
            "sel:\n  requestParameters.name: 'a\\\\*'\ncondition: sel",
            json!({"requestParameters": {"name": "a\\xyz"}}),
            true,
        ),
        (
            "lone backslash is literal",
            "sel:\n  requestParameters.path: 'C:\\temp'\ncondition: sel",
            json!({"requestParameters": {"path": "c:\\TEMP"}}),
            true,
        ),
        ("cased keeps case", "sel:\n  eventName|cased: runinstances\ncondition: sel", json!({}), false),
        ("cased exact", "sel:\n  eventName|cased: RunInstances\ncondition: sel", json!({}), true),
        (
            "integer equals number",
            "sel:\n  requestParameters.maxCount: 5\ncondition: sel",
            json!({"requestParameters": {"maxCount": 5}}),
            true,
        ),
        (
            "integer equals digit string",
            "sel:\n  requestParameters.maxCount: 5\ncondition: sel",
            json!({"requestParameters": {"maxCount": "5"}}),
            true,
        ),
        ("boolean equals boolean", "sel:\n  readOnly: false\ncondition: sel", json!({"readOnly": false}), true),
        ("quoted 'true' equals boolean", "sel:\n  readOnly: 'true'\ncondition: sel", json!({"readOnly": true}), true),
        (
            "array values: any",
            "sel:\n  requestParameters.ids: i-2\ncondition: sel",
            json!({"requestParameters": {"ids": ["i-1", "i-2"]}}),
            true,
        ),
        (
            "nested arrays of objects",
            "sel:\n  requestParameters.items.id: i-2\ncondition: sel",
            json!({"requestParameters": {"items": [{"id": "i-1"}, {"id": "i-2"}]}}),
            true,
        ),
    ]
}

#[test]
fn checklist_2_modifiers() {
    table(&checklist_2());
}

/// The cases of `checklist_2_modifiers` (the sigma-rust parity test runs them too).
pub(crate) fn checklist_2() -> Vec<Case> {
    let p = |v: Value| json!({ "requestParameters": v });
    vec![
        ("contains", "sel:\n  userAgent|contains: CLI/2\ncondition: sel", json!({}), true),
        ("contains miss", "sel:\n  userAgent|contains: boto3\ncondition: sel", json!({}), false),
        ("startswith", "sel:\n  userAgent|startswith: AWS-CLI\ncondition: sel", json!({}), true),
        ("endswith", "sel:\n  userAgent|endswith: python/3.11\ncondition: sel", json!({}), true),
        ("endswith miss", "sel:\n  userAgent|endswith: aws-cli\ncondition: sel", json!({}), false),
        (
            "contains|all",
            "sel:\n  userAgent|contains|all:\n    - aws-cli\n    - Python\ncondition: sel",
            json!({}),
            true,
        ),
        (
            "contains|all miss",
            "sel:\n  userAgent|contains|all:\n    - aws-cli\n    - boto3\ncondition: sel",
            json!({}),
            false,
        ),
        ("contains keeps wildcards", "sel:\n  userAgent|contains: 'cli*Python'\ncondition: sel", json!({}), true),
        (
            "contains on an object: any value below",
            "sel:\n  requestParameters|contains: Suspended\ncondition: sel",
            p(json!({"VersioningConfiguration": {"Status": "Suspended"}})),
            true,
        ),
        ("re is unanchored", "sel:\n  userIdentity.arn|re: ':user/b.b$'\ncondition: sel", json!({}), true),
        ("re is case-sensitive", "sel:\n  userIdentity.arn|re: ':USER/'\ncondition: sel", json!({}), false),
        ("re|i", "sel:\n  userIdentity.arn|re|i: ':USER/'\ncondition: sel", json!({}), true),
        (
            "re|s dot matches newline",
            "sel:\n  requestParameters.s|re|s: 'a.b'\ncondition: sel",
            p(json!({"s": "a\nb"})),
            true,
        ),
        ("re without s", "sel:\n  requestParameters.s|re: 'a.b'\ncondition: sel", p(json!({"s": "a\nb"})), false),
        (
            "re|m anchors lines",
            "sel:\n  requestParameters.s|re|m: '^b$'\ncondition: sel",
            p(json!({"s": "a\nb"})),
            true,
        ),
        ("cidr v4", "sel:\n  sourceIPAddress|cidr: 203.0.113.0/24\ncondition: sel", json!({}), true),
        ("cidr v4 miss", "sel:\n  sourceIPAddress|cidr: 198.51.100.0/24\ncondition: sel", json!({}), false),
        (
            "cidr v6",
            "sel:\n  sourceIPAddress|cidr: '2001:db8::/32'\ncondition: sel",
            json!({"sourceIPAddress": "2001:db8::1"}),
            true,
        ),
        ("exists true", "sel:\n  errorCode|exists: true\ncondition: sel", json!({"errorCode": "AccessDenied"}), true),
        ("exists true, missing", "sel:\n  errorCode|exists: true\ncondition: sel", json!({}), false),
        ("exists false", "sel:\n  errorCode|exists: false\ncondition: sel", json!({}), true),
        ("null: missing", "sel:\n  errorCode: null\ncondition: sel", json!({}), true),
        ("null: JSON null", "sel:\n  errorCode: null\ncondition: sel", json!({"errorCode": null}), true),
        ("null: present", "sel:\n  errorCode: null\ncondition: sel", json!({"errorCode": "X"}), false),
        ("gt", "sel:\n  requestParameters.maxCount|gt: 10\ncondition: sel", p(json!({"maxCount": 50})), true),
        ("gt equal", "sel:\n  requestParameters.maxCount|gt: 50\ncondition: sel", p(json!({"maxCount": 50})), false),
        ("gte", "sel:\n  requestParameters.maxCount|gte: 50\ncondition: sel", p(json!({"maxCount": 50})), true),
        ("lt", "sel:\n  requestParameters.maxCount|lt: 3\ncondition: sel", p(json!({"maxCount": 2})), true),
        ("lte", "sel:\n  requestParameters.maxCount|lte: 1.5\ncondition: sel", p(json!({"maxCount": 2})), false),
        // Comparisons are numeric: a string that is wholly a number is read as
        // that number (text order would say "10" < "9" and "-20" > "-10");
        // any other string, and a boolean, fails every comparison.
        (
            "gt: number string",
            "sel:\n  requestParameters.sizeText|gt: 9\ncondition: sel",
            p(json!({"sizeText": "10"})),
            true,
        ),
        (
            "gt: number string below",
            "sel:\n  requestParameters.sizeText|gt: 10\ncondition: sel",
            p(json!({"sizeText": "9"})),
            false,
        ),
        ("gt: text", "sel:\n  requestParameters.label|gt: 1\ncondition: sel", p(json!({"label": "abc"})), false),
        (
            "lt: text starting with digits",
            "sel:\n  requestParameters.label|lt: 100\ncondition: sel",
            p(json!({"label": "10 GB"})),
            false,
        ),
        ("lte: boolean", "sel:\n  requestParameters.label|lte: 1\ncondition: sel", p(json!({"label": false})), false),
        ("gte: float", "sel:\n  requestParameters.ratio|gte: 2.5\ncondition: sel", p(json!({"ratio": 2.75})), true),
        (
            "gt: float string",
            "sel:\n  requestParameters.ratioText|gt: 9.5\ncondition: sel",
            p(json!({"ratioText": "10.5"})),
            true,
        ),
        ("gt: negative", "sel:\n  requestParameters.offset|gt: -10\ncondition: sel", p(json!({"offset": -9})), true),
        (
            "lt: negative string",
            "sel:\n  requestParameters.offset|lt: -10\ncondition: sel",
            p(json!({"offset": "-20"})),
            true,
        ),
        (
            "gt: big integer, exactly",
            "sel:\n  requestParameters.bytesSent|gt: 9007199254740992\ncondition: sel",
            p(json!({"bytesSent": 9_007_199_254_740_993_u64})),
            true,
        ),
        (
            "gt: big number string, exactly",
            "sel:\n  requestParameters.bytesText|gt: 123456789012345678900\ncondition: sel",
            p(json!({"bytesText": "123456789012345678901"})),
            true,
        ),
        (
            "base64",
            "sel:\n  requestParameters.userData|base64: '#!/bin/bash'\ncondition: sel",
            p(json!({"userData": "IyEvYmluL2Jhc2g="})),
            true,
        ),
        (
            "base64offset|contains",
            "sel:\n  requestParameters.userData|base64offset|contains: '/bin/bash'\ncondition: sel",
            p(json!({"userData": "IyEvYmluL2Jhc2gKY3VybA=="})),
            true,
        ),
        (
            "base64offset miss",
            "sel:\n  requestParameters.userData|base64offset|contains: '/bin/zsh'\ncondition: sel",
            p(json!({"userData": "IyEvYmluL2Jhc2gKY3VybA=="})),
            false,
        ),
        (
            "fieldref",
            "sel:\n  userIdentity.userName|fieldref: requestParameters.userName\ncondition: sel",
            p(json!({"userName": "BOB"})),
            true,
        ),
        (
            "fieldref miss",
            "sel:\n  userIdentity.userName|fieldref: requestParameters.userName\ncondition: sel",
            p(json!({"userName": "eve"})),
            false,
        ),
        (
            "fieldref, other field missing",
            "sel:\n  userIdentity.userName|fieldref: requestParameters.userName\ncondition: sel",
            json!({}),
            false,
        ),
    ]
}

#[test]
fn checklist_3_conditions_and_keywords() {
    table(&checklist_3());
}

/// The cases of `checklist_3_conditions_and_keywords` (the sigma-rust parity test runs them too).
pub(crate) fn checklist_3() -> Vec<Case> {
    vec![
        ("and", "a:\n  eventName: RunInstances\nb:\n  awsRegion: eu-west-1\ncondition: a and b", json!({}), true),
        ("or", "a:\n  eventName: Nope\nb:\n  awsRegion: eu-west-1\ncondition: a or b", json!({}), true),
        ("not", "a:\n  eventName: RunInstances\ncondition: not a", json!({}), false),
        (
            "precedence: not > and > or",
            "a:\n  eventName: Nope\nb:\n  awsRegion: eu-west-1\nc:\n  eventName: RunInstances\ncondition: a and b or not c",
            json!({}),
            false,
        ),
        (
            "parentheses",
            "a:\n  eventName: Nope\nb:\n  awsRegion: eu-west-1\nc:\n  eventName: RunInstances\ncondition: a and (b or c)",
            json!({}),
            false,
        ),
        (
            "1 of pattern",
            "sel_a:\n  eventName: Nope\nsel_b:\n  awsRegion: eu-west-1\ncondition: 1 of sel_*",
            json!({}),
            true,
        ),
        (
            "all of pattern",
            "sel_a:\n  eventName: Nope\nsel_b:\n  awsRegion: eu-west-1\ncondition: all of sel_*",
            json!({}),
            false,
        ),
        ("1 of them", "a:\n  eventName: Nope\nb:\n  awsRegion: eu-west-1\ncondition: 1 of them", json!({}), true),
        (
            "all of them",
            "a:\n  eventName: RunInstances\nb:\n  awsRegion: eu-west-1\ncondition: all of them",
            json!({}),
            true,
        ),
        (
            "not 1 of filter",
            "sel:\n  eventName: RunInstances\nfilter_a:\n  userIdentity.type: Root\nfilter_b:\n  errorCode|exists: true\ncondition: sel and not 1 of filter_*",
            json!({}),
            true,
        ),
        ("keywords anywhere, any case", "keywords:\n  - 'IAMUSER'\ncondition: keywords", json!({}), true),
        ("keywords are substrings", "keywords:\n  - 'user/bo'\ncondition: keywords", json!({}), true),
        ("keywords miss", "keywords:\n  - 'TerminateInstances'\ncondition: keywords", json!({}), false),
        (
            "keywords in nested values",
            "keywords:\n  - 'subnet-0abc'\ncondition: keywords",
            json!({"requestParameters": {"networkInterfaceSet": {"items": [{"subnetId": "subnet-0abc"}]}}}),
            true,
        ),
        (
            "selection and keywords",
            "sel:\n  eventName: RunInstances\nkeywords:\n  - eu-west\ncondition: sel and keywords",
            json!({}),
            true,
        ),
        (
            "condition list is any",
            "a:\n  eventName: Nope\nb:\n  awsRegion: eu-west-1\ncondition:\n  - a\n  - b",
            json!({}),
            true,
        ),
    ]
}

#[test]
fn same_verdict_in_every_format() {
    let mut engine = Engine::new(None, Some(&read("formats.yml"))).unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeMap::<String, Vec<(String, Vec<String>)>>::new();
    for line in read("formats.ndjson").lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let verdicts = engine.evaluate(v["event"].to_string().as_bytes());
        let format = verdicts.first().and_then(|v| v.format).map(|f| f.name().to_string()).unwrap_or_default();
        if format != v["format"] {
            failures.push(format!("{} read as {format:?}", v["format"]));
        }
        let mut ids: Vec<String> = verdicts.iter().flat_map(|v| v.matches.iter().map(|m| m.rule_id.clone())).collect();
        ids.sort();
        seen.entry(v["op"].as_str().unwrap_or_default().to_string()).or_default().push((format, ids));
    }
    for (op, shapes) in &seen {
        let first = &shapes[0].1;
        if first.is_empty() {
            failures.push(format!("{op}: no rule matched {}", shapes[0].0));
        }
        for (format, ids) in shapes {
            if ids != first {
                failures.push(format!("{op}: {format} matched {ids:?}, {} matched {first:?}", shapes[0].0));
            }
        }
    }
    // Every rule of the file fires on its operation.
    let fired: std::collections::BTreeSet<&String> = seen.values().flat_map(|s| s[0].1.iter()).collect();
    assert_eq!(fired.len(), 6, "{fired:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn metadata_and_attack_reach_the_tags() {
    let text = read("formats.yml");
    let mut engine = Engine::new(None, Some(&text)).unwrap_or_else(|e| panic!("{e}"));
    let line = read("formats.ndjson").lines().next().map(str::to_string).unwrap_or_default();
    let event: Value = serde_json::from_str(&line).unwrap();
    let tagged = engine.tag(event["event"].to_string().as_bytes());
    let modwatch_engine::Output::Replaced(bytes) = tagged.output else { panic!("not tagged: {tagged:?}") };
    let out: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(out["rule"]["id"], "5b0d7a6e-3f0e-4c59-9d1e-0b8c3f6a1001");
    assert_eq!(out["rule"]["uuid"], "5b0d7a6e-3f0e-4c59-9d1e-0b8c3f6a1001");
    assert_eq!(out["rule"]["name"], "Azure Snapshot Created Or Updated");
    assert_eq!(out["rule"]["ruleset"], "sigma");
    assert_eq!(out["sigma"]["level"], "medium");
    assert_eq!(out["sigma"]["status"], "experimental");
    assert_eq!(out["sigma"]["falsepositives"], json!(["Scheduled backups"]));
    assert_eq!(out["sigma"]["tags"], json!(["attack.defense-evasion", "attack.t1578.001"]));
    assert_eq!(out["threat"]["tactic"], json!({"id": "TA0005", "name": "Defense Evasion"}));
    assert_eq!(out["threat"]["technique"]["id"], "T1578");
    assert_eq!(out["threat"]["technique"]["subtechnique"]["id"], "T1578.001");
    // A catalogued operation: the catalogue's category and points.
    assert_eq!(out["modwatch"]["category"], "CREATE");
    assert!(out["modwatch"]["principal_score"].as_f64().is_some_and(|s| s > 0.0), "{out}");
}

#[test]
fn uncatalogued_operations_score_by_level() {
    let text = rule("sel:\n  eventName: PutUserPolicy\ncondition: sel");
    let mut engine = Engine::new(None, Some(&text)).unwrap_or_else(|e| panic!("{e}"));
    let verdicts =
        engine.evaluate(event(json!({"eventSource": "iam.amazonaws.com", "eventName": "PutUserPolicy"})).as_bytes());
    assert_eq!(verdicts[0].status, Status::Match);
    assert_eq!(verdicts[0].category.as_deref(), Some("SIGMA"));
    assert_eq!(verdicts[0].points, 3, "level high");
}

#[test]
fn errors_come_all_at_once_with_positions() {
    let text = "title: Bad\nid: 00000000-0000-4000-8000-00000000000b\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n    sel:\n        eventName|contians: x\n        userAgent|re: '(unclosed'\n        sourceIPAddress|cidr: 300.1.2.3/8\n    condition: sel and (other\nlevel: urgent\n";
    let errors = RuleSet::load(&Config::default(), Some(text)).err().map(|e| e.0).unwrap_or_default();
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 5, "{shown:#?}");
    let at = |i: usize| errors[i].location().map(|l| (l.rule_id.clone().unwrap_or_default(), l.line, l.column));
    let id = "00000000-0000-4000-8000-00000000000b".to_string();
    let mut positions: Vec<_> = (0..5).filter_map(at).collect();
    positions.sort();
    assert_eq!(
        positions,
        [(id.clone(), 8, 9), (id.clone(), 9, 23), (id.clone(), 10, 31), (id.clone(), 11, 30), (id.clone(), 12, 8)],
        "{shown:#?}"
    );
    assert!(shown.iter().any(|s| s.contains("unknown value modifier \"contians\"")), "{shown:#?}");
    assert!(shown.iter().any(|s| s.contains("level must be")), "{shown:#?}");
    // YAML syntax: where it breaks.
    let bad =
        RuleSet::load(&Config::default(), Some("title: x\ndetection: [a,\n")).err().map(|e| e.0).unwrap_or_default();
    assert_eq!(bad.len(), 1);
    assert!(bad[0].to_string().starts_with("E200"), "{}", bad[0]);
}

#[test]
fn unknown_logsource_warns_and_never_matches() {
    let text = "title: Windows\nid: 00000000-0000-4000-8000-00000000000c\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    sel:\n        Image|endswith: '\\cmd.exe'\n    condition: sel\n";
    let set = RuleSet::load(&Config::default(), Some(text)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.len(), 1);
    assert_eq!(set.warnings().len(), 1);
    let w = set.warnings()[0].to_string();
    assert!(w.starts_with("E206") && w.contains("product: windows") && w.contains("never matches"), "{w}");
    let mut engine = Engine::new(None, Some(text)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!matched(&mut engine, &event(json!({"Image": "C:\\Windows\\cmd.exe"}))));
}

#[test]
fn prefilter_literals_come_from_sigma_rules() {
    let set = RuleSet::load(&Config::default(), Some(&read("formats.yml"))).unwrap_or_else(|e| panic!("{e}"));
    // Every rule constrains the raw bytes: none is evaluated on every event.
    assert!(set.unfiltered().is_empty(), "{:?}", set.unfiltered());
    let mut engine = Engine::new(None, Some(&read("formats.yml"))).unwrap_or_else(|e| panic!("{e}"));
    engine.evaluate(event(json!({"eventName": "DescribeInstances"})).as_bytes());
    assert_eq!(engine.stats().prefiltered, 1);
}

#[test]
fn user_pipelines_map_fields() {
    let text = "name: mine\ntransformations:\n  - type: field_name_mapping\n    rule_conditions:\n      - type: logsource\n        product: aws\n        service: cloudtrail\n    mapping:\n      Actor: userIdentity.arn\n---\n".to_string()
        + &rule("sel:\n  Actor|endswith: ':user/bob'\ncondition: sel");
    let mut engine = Engine::new(None, Some(&text)).unwrap_or_else(|e| panic!("{e}"));
    assert!(matched(&mut engine, &event(json!({}))));
}

#[test]
fn sigma_and_toml_files_in_one_pack() {
    let toml = "[[rule]]\nid = 'toml-rule'\nname = 'toml'\nseverity = 'low'\nquery = 'any where event.action == \"TerminateInstances\"'\n";
    let sigma = rule("sel:\n  eventName: RunInstances\ncondition: sel");
    let pack = format!("{FILE_MARKER}a.toml\n{toml}{FILE_MARKER}b.yml\n{sigma}");
    let mut engine = Engine::new(None, Some(&pack)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(engine.rules().len(), 2);
    assert!(matched(&mut engine, &event(json!({}))));
    assert!(matched(&mut engine, &event(json!({"eventName": "TerminateInstances"}))));
    // Errors name their file.
    let broken = format!("{FILE_MARKER}a.toml\n{toml}{FILE_MARKER}b.yml\ntitle: x\nlogsource: {{product: aws}}\n");
    let e = Engine::new(None, Some(&broken)).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("b.yml: a Sigma rule needs a `detection`"), "{e}");
}

/// The verdicts of the Sigma pack every host is held to (testkit
/// `corpus::sigma_pack`) on its events (`corpus::sigma_events`), one JSON
/// line per record: `tests/golden/sigma.verdicts.ndjson`, which the
/// component, the Fluent Bit module, the web build and `modwatch scan
/// --rules` must give too. `MODWATCH_BLESS=1 cargo test -p modwatch-engine
/// --test main sigma::golden` rewrites it; review the diff.
#[test]
fn golden_sigma_verdicts() {
    let golden_path = format!("{DIR}/../golden/sigma.verdicts.ndjson");
    let pack = modwatch_testkit::corpus::sigma_pack();
    let mut engine = Engine::new(None, Some(&pack)).unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    for (_, event) in modwatch_testkit::corpus::sigma_events() {
        for v in engine.evaluate(&event) {
            out.push_str(&v.to_json());
            out.push('\n');
        }
    }
    // Every rule of the pack fires somewhere, and most records do not match.
    let verdicts: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let fired: std::collections::BTreeSet<&str> = verdicts
        .iter()
        .flat_map(|v| v["matches"].as_array().into_iter().flatten())
        .filter_map(|m| m["rule_id"].as_str())
        .collect();
    assert_eq!(fired.len(), 6, "{fired:?}");
    let matched = verdicts.iter().filter(|v| v["status"] == "match").count();
    assert!(matched * 2 < verdicts.len(), "{matched} of {} records match", verdicts.len());
    if std::env::var_os("MODWATCH_BLESS").is_some() {
        std::fs::write(&golden_path, &out).unwrap_or_else(|e| panic!("{golden_path}: {e}"));
        return;
    }
    let want = std::fs::read_to_string(&golden_path)
        .unwrap_or_else(|e| panic!("{golden_path}: {e} (run with MODWATCH_BLESS=1 to create it)"));
    for (i, (got, want)) in out.lines().zip(want.lines()).enumerate() {
        assert_eq!(got, want, "record {} differs from the golden verdict", i + 1);
    }
    assert_eq!(out.lines().count(), want.lines().count(), "record count differs from the golden file");
}

/// The built-in pack with the 108 cloud rules of `cloud-pack.yml` gives the
/// same matches, rule by rule, whether the prefilter decides what is parsed
/// and which rules run, or every event is parsed and judged by every rule
/// (`input.validate`): on the generated mix of the benches (raw and ECS
/// CloudTrail and Azure, 16% of it matching this pack), the corpus and the
/// Sigma events of every host.
#[test]
fn prefilter_never_changes_a_sigma_verdict() {
    let pack = read("cloud-pack.yml");
    let engine = |config: &str| {
        let config = Config::from_json(config).unwrap_or_else(|e| panic!("{e}"));
        let rules = RuleSet::load(&config, Some(&pack)).unwrap_or_else(|e| panic!("{e}"));
        Engine::with_parts(config, rules)
    };
    let (mut fast, mut full) = (engine("{}"), engine(r#"{"input":{"validate":true}}"#));
    let mut events: Vec<Vec<u8>> = modwatch_testkit::r#gen::mix(3000, 7).into_iter().map(String::into_bytes).collect();
    events.extend(modwatch_testkit::corpus::events().into_iter().map(|e| e.event));
    events.extend(modwatch_testkit::corpus::sigma_events().into_iter().map(|(_, e)| e));
    let matches = |verdicts: Vec<Verdict>| -> Vec<Vec<String>> {
        verdicts.into_iter().map(|v| v.matches.into_iter().map(|m| m.rule_id).collect()).collect()
    };
    let mut matched = 0;
    for event in &events {
        let (a, b) = (matches(fast.evaluate(event)), matches(full.evaluate(event)));
        assert_eq!(a, b, "{}", String::from_utf8_lossy(event));
        matched += usize::from(a.iter().any(|m| !m.is_empty()));
    }
    assert!(matched > 300, "{matched} of {} events match", events.len());
    assert!(fast.stats().prefiltered * 2 > events.len() as u64, "most events are ruled out unparsed");
}
