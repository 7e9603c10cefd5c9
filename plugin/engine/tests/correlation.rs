//! Sigma correlation rules: hand-checkable windows for each type
//! (`tests/sigma/correlations.ndjson` says on every row which correlation
//! fires and why), the alert in the verdict and the tags, the state carried
//! through export and import at every point of the stream, bounds, chains,
//! and errors.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use modwatch_engine::{Config, Engine, Output, RuleSet, Status};
use serde_json::{Value, json};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/sigma");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The stream: (note, correlation ids expected to fire, event bytes).
fn stream() -> Vec<(String, Vec<String>, Vec<u8>)> {
    read("correlations.ndjson")
        .lines()
        .map(|l| {
            let row: Value = serde_json::from_str(l).unwrap();
            let fires = row["fires"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
            (row["note"].as_str().unwrap().to_string(), fires, serde_json::to_vec(&row["event"]).unwrap())
        })
        .collect()
}

fn engine(config: Option<&str>) -> Engine {
    Engine::new(config, Some(&read("correlations.yml"))).unwrap_or_else(|e| panic!("{e}"))
}

/// The correlation ids a verdict of `event` carries.
fn fired(engine: &mut Engine, event: &[u8]) -> Vec<String> {
    let verdicts = engine.evaluate(event);
    verdicts.iter().flat_map(|v| v.correlations.iter().map(|c| c.id.clone())).collect()
}

#[test]
fn each_type_fires_exactly_where_the_stream_says() {
    let mut e = engine(None);
    let mut failures = Vec::new();
    for (n, (note, want, event)) in stream().iter().enumerate() {
        let verdicts = e.evaluate(event);
        let got: Vec<String> = verdicts.iter().flat_map(|v| v.correlations.iter().map(|c| c.id.clone())).collect();
        if &got != want {
            failures.push(format!("row {}: {note}: fired {got:?}, expected {want:?}", n + 1));
        }
        // The base rules are named by correlations without `generate`:
        // their matches are not matches of their own.
        let status = if want.is_empty() { Status::NoMatch } else { Status::Match };
        if verdicts[0].status != status {
            failures.push(format!("row {}: {note}: status {:?}", n + 1, verdicts[0].status));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let stats = e.stats();
    assert_eq!((stats.correlation_alerts, stats.matches), (7, 7), "{stats:?}");
    // Per correlation rule: the alerts the stream says each raises, and its
    // groups (principals): alice, bob and carol terminate; bob, alice and
    // dave stop and start; alice and bob snapshot. The totals are the sums.
    let per: Vec<(&str, u64, u64)> =
        stats.by_correlation.iter().map(|(id, c)| (&id[24..], c.alerts, c.groups)).collect();
    assert_eq!(per, [("0000000c0001", 2, 3), ("0000000c0002", 1, 3), ("0000000c0003", 2, 3), ("0000000c0004", 2, 2)]);
    let groups: u64 = stats.by_correlation.values().map(|c| c.groups).sum();
    assert_eq!(groups, stats.correlation_groups);
}

#[test]
fn the_alert_names_the_correlation_its_group_and_window() {
    let mut e = engine(None);
    let rows = stream();
    for (_, _, event) in &rows[..3] {
        e.tag(event);
    }
    let tagged = e.tag(&rows[3].2);
    let v = &tagged.verdicts[0];
    assert_eq!(v.correlations.len(), 1);
    let alert = serde_json::to_value(&v.correlations[0]).unwrap();
    assert_eq!(
        alert,
        json!({
            "id": "6d6f6477-6174-6368-0000-0000000c0001",
            "title": "Three instances terminated by one principal within ten minutes",
            "type": "event_count",
            "level": "high",
            "group": {"userIdentity.arn": "arn:aws:iam::111122223333:user/alice"},
            "count": 3,
            "condition": {"gte": 3},
            "timespan": "10m",
            "first": "2026-03-02T10:00:00Z",
            "last": "2026-03-02T10:09:59Z",
        })
    );
    // The correlation is the match: its rule, its level's points, `SIGMA`.
    assert_eq!(v.matches.len(), 1);
    assert_eq!(
        (v.matches[0].rule_id.as_str(), v.matches[0].category.as_str()),
        (alert["id"].as_str().unwrap(), "SIGMA")
    );
    assert_eq!((v.points, v.matches[0].severity.as_str()), (3, "high"));
    let Output::Replaced(bytes) = &tagged.output else { panic!("a fired correlation tags its event") };
    let out: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(out["event"]["kind"], "alert");
    assert_eq!(out["modwatch"]["correlations"][0], alert);
    assert_eq!(out["rule"]["id"], alert["id"]);
    assert_eq!(out["sigma"]["title"], alert["title"]);
    assert_eq!(out["threat"]["technique"]["subtechnique"]["id"], "T1578.003");
    // value_count says which field it counted.
    let mut e = engine(None);
    for (_, _, event) in &rows[..5] {
        e.evaluate(event);
    }
    let v = e.evaluate(&rows[5].2);
    let alert = serde_json::to_value(&v[0].correlations[0]).unwrap();
    assert_eq!(alert["condition"], json!({"gte": 3, "field": "awsRegion"}));
    assert_eq!((alert["count"].as_u64(), alert["first"].as_str()), (Some(3), Some("2026-03-02T10:04:00Z")));
}

#[test]
fn generate_keeps_the_base_rules_matches() {
    // Both correlations over terminations generate it; a rule named by any
    // correlation without `generate` would stay silent.
    let text = read("correlations.yml")
        .replacen("correlation:\n    type: event_count", "correlation:\n    generate: true\n    type: event_count", 1)
        .replacen("correlation:\n    type: value_count", "correlation:\n    generate: true\n    type: value_count", 1);
    let mut e = Engine::new(None, Some(&text)).unwrap();
    let rows = stream();
    let ids = |e: &mut Engine, event: &[u8]| -> Vec<String> {
        e.evaluate(event)[0].matches.iter().map(|m| m.rule_id.clone()).collect()
    };
    for (_, _, event) in &rows[..3] {
        assert_eq!(ids(&mut e, event), ["6d6f6477-6174-6368-0000-0000000b0001"]);
    }
    // Ranked like any matches: the base rule's operation is catalogued
    // (DELETE, 3 points), the correlation is high (3): a tie keeps pack
    // order, where correlations come last.
    assert_eq!(
        ids(&mut e, &rows[3].2),
        ["6d6f6477-6174-6368-0000-0000000b0001", "6d6f6477-6174-6368-0000-0000000c0001"]
    );
    // The other rules are still silent.
    assert_eq!(ids(&mut e, &rows[12].2), Vec::<String>::new());
}

/// Every verdict of the stream, as JSON, in one run.
fn run(e: &mut Engine, rows: &[(String, Vec<String>, Vec<u8>)]) -> Vec<String> {
    rows.iter().flat_map(|(_, _, ev)| e.evaluate(ev)).map(|v| v.to_json()).collect()
}

#[test]
fn export_and_import_at_every_point_equal_one_run() {
    let rows = stream();
    let mut whole = engine(None);
    let want = run(&mut whole, &rows);
    let final_state = whole.export_state();
    let state: Value = serde_json::from_str(&final_state).unwrap();
    assert_eq!(state["version"], 2);
    assert_eq!(state["correlations"].as_array().map(Vec::len), Some(4), "{state}");
    for split in 0..=rows.len() {
        let mut first = engine(None);
        let mut got = run(&mut first, &rows[..split]);
        let saved = first.export_state();
        let mut second = engine(None);
        second.import_state(&saved).unwrap_or_else(|e| panic!("split {split}: {e}"));
        assert_eq!(second.export_state(), saved, "split {split}: export → import → export");
        got.extend(run(&mut second, &rows[split..]));
        assert_eq!(got, want, "split {split}");
        assert_eq!(second.export_state(), final_state, "split {split}");
    }
}

#[test]
fn states_of_other_versions_and_rules() {
    let rows = stream();
    // A version 1 state (no correlations) imports: correlations start empty.
    let mut plain = Engine::new(None, None).unwrap();
    for (_, _, ev) in &rows {
        plain.evaluate(ev);
    }
    let v1 = plain.export_state();
    assert!(v1.contains(r#""version":1"#), "{v1}");
    let mut e = engine(None);
    e.import_state(&v1).unwrap();
    assert_eq!(fired(&mut e, &rows[0].2), Vec::<String>::new());
    // A state with correlations imports into an engine without them (their
    // state is dropped), and one whose correlation changed type is refused.
    let mut e = engine(None);
    run(&mut e, &rows[..5]);
    let v2 = e.export_state();
    Engine::new(None, None).unwrap().import_state(&v2).unwrap();
    let changed = read("correlations.yml").replacen("type: event_count", "type: temporal", 1);
    let err = Engine::new(None, Some(&changed)).unwrap().import_state(&v2).err().map(|e| e.to_string());
    assert!(err.as_deref().is_some_and(|e| e.contains("as event_count, the rules make it temporal")), "{err:?}");
    // A hostile state: more entries than the group keeps, a step it has not.
    let mut doc: Value = serde_json::from_str(&v2).unwrap();
    let entries = &mut doc["correlations"][0]["groups"][0]["entries"];
    *entries = json!((0..9).map(|i| [1_772_445_600 + i, 1]).collect::<Vec<_>>());
    let err = engine(None).import_state(&doc.to_string()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("9 entries, more than the 4 it keeps"), "{err}");
    let mut doc: Value = serde_json::from_str(&v2).unwrap();
    doc["correlations"][2]["groups"] = json!([{"key": "k", "now": 0, "held": false, "entries": [[0, 3]]}]);
    let err = engine(None).import_state(&doc.to_string()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("entry value 3 is not one it keeps"), "{err}");
    let mut doc: Value = serde_json::from_str(&v1).unwrap();
    doc["correlations"] = json!([]);
    let err = engine(None).import_state(&doc.to_string()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("a version 1 state has no correlations"), "{err}");
}

#[test]
fn groups_are_capped_like_principals() {
    // Two groups per correlation at most: the least recently seen goes.
    let mut e = engine(Some(r#"{"scoring":{"max_principals":2}}"#));
    let rows = stream();
    // alice, bob, alice, alice (fires), then carol's three: alice or bob is
    // evicted each time a third principal appears.
    for (_, _, ev) in &rows {
        e.evaluate(ev);
    }
    let s = e.stats();
    assert!(s.correlation_groups <= 8, "{s:?}");
    assert!(s.correlation_evictions > 0, "{s:?}");
    // Each principal's windows here fit between evictions: the same alerts.
    assert_eq!(s.correlation_alerts, 7, "{s:?}");
    let state: Value = serde_json::from_str(&e.export_state()).unwrap();
    for c in state["correlations"].as_array().unwrap() {
        assert!(c["groups"].as_array().unwrap().len() <= 2, "{c}");
    }
    // One group: bob's first termination evicts alice's, so her third
    // termination is the second her new group counts, and nothing fires.
    let mut e = engine(Some(r#"{"scoring":{"max_principals":1}}"#));
    let got: Vec<Vec<String>> = rows[..4].iter().map(|(_, _, ev)| fired(&mut e, ev)).collect();
    assert!(got.iter().all(Vec::is_empty), "{got:?}");
}

const BASE: &str = "title: Instances terminated\nid: base-terminate\nname: terminate\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n    sel:\n        eventName: TerminateInstances\n    condition: sel\n---\ntitle: Snapshot deleted\nid: base-delete-snapshot\nname: delete_snapshot\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n    sel:\n        eventName: DeleteSnapshot\n    condition: sel\n";

#[test]
fn correlations_chain() {
    // Two terminations in 10 minutes (silent: the outer rule names it),
    // then a snapshot deleted: the outer rule fires on the deletion only.
    let rules = format!(
        "{BASE}---\ntitle: Two terminations\nid: inner\nname: two_terminations\ncorrelation:\n    type: event_count\n    rules: [terminate]\n    group-by: [userIdentity.arn]\n    timespan: 10m\n    condition: {{gte: 2}}\n---\ntitle: Terminations then a snapshot deleted\nid: outer\ncorrelation:\n    type: temporal_ordered\n    rules: [two_terminations, delete_snapshot]\n    group-by: [userIdentity.arn]\n    timespan: 30m\nlevel: critical\n"
    );
    let mut e = Engine::new(None, Some(&rules)).unwrap_or_else(|e| panic!("{e}"));
    let ev = |name: &str, t: &str| {
        json!({"eventSource": "ec2.amazonaws.com", "eventName": name, "eventTime": format!("2026-03-02T{t}Z"),
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/erin", "accountId": "111122223333"},
            "recipientAccountId": "111122223333"})
        .to_string()
    };
    let got: Vec<Vec<String>> = [
        ("DeleteSnapshot", "09:59:00"),
        ("TerminateInstances", "10:00:00"),
        ("TerminateInstances", "10:01:00"),
        ("DeleteSnapshot", "10:02:00"),
        ("DeleteSnapshot", "10:03:00"),
    ]
    .iter()
    .map(|(n, t)| fired(&mut e, ev(n, t).as_bytes()))
    .collect();
    let none = Vec::<String>::new();
    assert_eq!(got, [none.clone(), none.clone(), none.clone(), vec!["outer".to_string()], none]);
}

#[test]
fn aliases_group_rules_by_different_fields() {
    // `who` is the user who terminated, and the owner named in the request
    // of the deletion, whoever deleted.
    let rules = format!(
        "{BASE}---\ntitle: A user's instances terminated and their snapshot deleted\nid: aliased\ncorrelation:\n    type: temporal\n    rules: [terminate, delete_snapshot]\n    group-by: [who]\n    timespan: 10m\n    aliases:\n        who:\n            terminate: userIdentity.userName\n            delete_snapshot: requestParameters.ownerAlias\n"
    );
    let mut e = Engine::new(None, Some(&rules)).unwrap_or_else(|e| panic!("{e}"));
    let ev = |name: &str, t: &str, user: &str, owner: &str| {
        json!({"eventSource": "ec2.amazonaws.com", "eventName": name, "eventTime": format!("2026-03-02T{t}Z"),
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{user}"), "userName": user, "accountId": "111122223333"},
            "requestParameters": {"ownerAlias": owner}, "recipientAccountId": "111122223333"})
        .to_string()
    };
    let got: Vec<Vec<String>> = [
        ev("TerminateInstances", "10:00:00", "erin", "-"),
        ev("DeleteSnapshot", "10:01:00", "admin", "frank"),
        ev("DeleteSnapshot", "10:02:00", "admin", "erin"),
    ]
    .iter()
    .map(|e2| fired(&mut e, e2.as_bytes()))
    .collect();
    assert_eq!(got, [vec![], vec![], vec!["aliased".to_string()]]);
    let v = &e.evaluate(ev("TerminateInstances", "10:03:00", "frank", "-").as_bytes())[0];
    let alert = serde_json::to_value(&v.correlations[0]).unwrap();
    assert_eq!(alert["group"], json!({"who": "frank"}));
}

fn load_errors(text: &str) -> Vec<String> {
    let errors = RuleSet::load(&Config::default(), Some(text)).err().map(|e| e.0).unwrap_or_default();
    errors.iter().map(ToString::to_string).collect()
}

#[test]
fn bad_correlations_get_every_problem_at_once() {
    let text = format!(
        "{BASE}---\ntitle: Bad one\nid: bad-one\ncorrelation:\n    type: value_sum\n    rules: [terminate, nowhere]\n    timespan: 10 minutes\n    condition: {{gte: 2}}\n---\ntitle: Bad two\nid: bad-two\ncorrelation:\n    type: value_count\n    rules: [terminate]\n    group-by: [userIdentity.arn]\n    timespan: 1h\n    condition:\n        gte: 5000\n    groupby: x\n---\ntitle: Cycle\nid: cycle\nname: cycle\ncorrelation:\n    type: temporal\n    rules: [cycle, terminate]\n    timespan: 1h\n"
    );
    let errors = load_errors(&text);
    let want = [
        ("bad-one", "at 22:11", "correlation type \"value_sum\" is not supported"),
        ("bad-one", "at 24:15", "timespan \"10 minutes\" is not"),
        ("bad-two", "at 35:14", "gte takes a whole number from 0 to 1000"),
        ("bad-two", "at 36:5", "unknown correlation key \"groupby\""),
        ("bad-two", "at 34:5", "a value_count condition needs the `field`"),
        ("cycle", "at 43:12", "correlation rules name each other in a cycle"),
    ];
    assert_eq!(errors.len(), want.len(), "{}", errors.join("\n"));
    for (id, at, msg) in want {
        assert!(
            errors.iter().any(|e| e.contains(&format!("rule \"{id}\" {at}")) && e.contains(msg)),
            "no {id} {at} {msg:?} in\n{}",
            errors.join("\n")
        );
    }
    // An unknown rule name, reported after the documents that parse.
    let text = format!(
        "{BASE}---\ntitle: Unknown\nid: unknown-ref\ncorrelation:\n    type: event_count\n    rules: [terminate, nowhere]\n    timespan: 10m\n    condition: {{gte: 2}}\n"
    );
    let errors = load_errors(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("rule \"unknown-ref\" at 23:24") && errors[0].contains("\"nowhere\""), "{errors:?}");
    // Two rules of one name: correlations could not tell which.
    let twice = BASE.replace("name: delete_snapshot", "name: terminate");
    let errors = load_errors(&twice);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("rule \"base-delete-snapshot\" at 12:7")
            && errors[0].contains("\"terminate\" is used twice"),
        "{errors:?}"
    );
}
