//! The engine end to end: the scenarios (`docs/detection.md#scenarios`), tag mode, bad input (`docs/design.md#invariants`),
//! and the seed rule loaded alone.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use modwatch_engine::{Config, Engine, ErrorKind, Output, RuleSet, Status, Verdict};
use serde_json::{Value, json};

const SCENARIOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/scenarios");
const SEED: &str = include_str!("../../../rules/seed.toml");

fn engine() -> Engine {
    Engine::new(None, None).unwrap_or_else(|e| panic!("{e}"))
}

fn one(engine: &mut Engine, event: &[u8]) -> Verdict {
    let mut v = engine.evaluate(event);
    assert_eq!(v.len(), 1, "one verdict per single event");
    v.remove(0)
}

/// The verdict fields scenario files can expect, by name.
fn observed(v: &Verdict) -> Value {
    let score = v.score.as_ref();
    json!({
        "status": v.status,
        "category": v.category,
        "points": v.points,
        "subtechnique": v.matches.first().and_then(|m| m.subtechnique.clone()),
        "scored": score.map(|s| s.points),
        "score": score.map(|s| s.principal_score),
        "alert": score.map(|s| s.alert.is_some()),
        "reasons": score.map(|s| s.reasons.clone()),
    })
}

/// Every file of `tests/scenarios/`: an optional first line `{"config":…}`,
/// then events with the verdict fields they expect, run in order through one
/// engine (`docs/detection.md#scenarios`: the end-to-end scenarios and one file per scoring behaviour).
#[test]
fn scenarios() {
    let mut files: Vec<_> = std::fs::read_dir(SCENARIOS)
        .unwrap_or_else(|e| panic!("{SCENARIOS}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    files.sort();
    assert!(files.len() >= 14, "scenario files: {}", files.len());
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let mut lines = text.lines().enumerate().peekable();
        let mut config = None;
        if let Some((_, first)) = lines.peek() {
            let row: Value = serde_json::from_str(first).unwrap_or_default();
            if let Some(c) = row.get("config") {
                config = Some(c.to_string());
                lines.next();
            }
        }
        let mut engine = Engine::new(config.as_deref(), None).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (n, line) in lines {
            let row: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let event = serde_json::to_vec(&row["event"]).unwrap_or_default();
            let v = one(&mut engine, &event);
            let got = observed(&v);
            for (key, want) in row["expect"].as_object().into_iter().flatten() {
                let same = match (&got[key], want) {
                    (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                    (a, b) => a == b,
                };
                if !same {
                    failures.push(format!(
                        "{} line {}: {key} expected {want}, got {}\n    verdict: {}",
                        file.file_name().unwrap_or_default().to_string_lossy(),
                        n + 1,
                        got[key],
                        v.to_json()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

const TERMINATE: &str = r#"{"eventVersion":"1.08","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","eventTime":"2024-05-01T10:00:00Z","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"},"recipientAccountId":"111122223333","sourceIPAddress":"203.0.113.7","requestParameters":{"instancesSet":{"items":[{"instanceId":"i-0abc"}]}},"event":"not-an-object","n":12345678901234567890123}"#;

/// The exact bytes tags add, key order and number formats included: what
/// the `serde_json::Value` route wrote, which the byte writer must keep. A
/// match (its `event` is not an object, so `event.*` tags are left out), and
/// the alert of `score-2-threshold` (the fourth scored match of a principal).
#[test]
fn tags_are_written_byte_for_byte() {
    const TAGS: &str = r#","threat":{"framework":"MITRE ATT&CK","tactic":{"id":"TA0005","name":"Defense Evasion"},"technique":{"id":"T1578","name":"Modify Cloud Compute Infrastructure","subtechnique":{"id":"T1578.003","name":"Delete Cloud Instance"}}},"rule":{"id":"aws-ec2-instances-terminated","name":"EC2 instances terminated","ruleset":"modwatch-builtin"},"#;
    const MODWATCH: &str = r#""modwatch":{"category":"DELETE","points":3,"severity":"high","operation":"ec2.amazonaws.com:terminateinstances","outcome":"success","principal":{"id":"arn:aws:iam::111122223333:user/alice","display":"alice","type":"IAMUser","account":"111122223333"},"format":"aws-cloudtrail","matches":[{"rule_id":"aws-ec2-instances-terminated","rule_name":"EC2 instances terminated","category":"DELETE","points":3}],"scored_points":3.0,"#;
    let tagged = |engine: &mut Engine, event: &str| match engine.tag(event.as_bytes()).output {
        Output::Replaced(bytes) => String::from_utf8(bytes).unwrap_or_default(),
        other => panic!("{event} is tagged: {other:?}"),
    };
    let open = |event: &str| event.strip_suffix('}').unwrap_or(event).to_string();
    let want = format!(r#"{}{TAGS}{MODWATCH}"principal_score":3.0}}}}"#, open(TERMINATE));
    assert_eq!(tagged(&mut engine(), TERMINATE), want);
    let text = std::fs::read_to_string(format!("{SCENARIOS}/score-2-threshold.ndjson")).unwrap_or_default();
    let events: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|row| row["event"].to_string())
        .collect();
    let mut engine = engine();
    let outputs: Vec<String> = events.iter().take(4).map(|e| tagged(&mut engine, e)).collect();
    let alert = r#""principal_score":12.0,"alert":{"score":12.0,"threshold":10.0,"window_minutes":15,"operations":4,"first":"2026-03-02T11:00:00Z","last":"2026-03-02T11:03:00Z"}}}"#;
    let event = r#""event":{"risk_score":73,"severity":3,"kind":"alert"},"#;
    assert_eq!(outputs.last(), Some(&format!("{}{TAGS}{event}{MODWATCH}{alert}", open(&events[3]))));
}

#[test]
fn tag_mode_adds_fields_and_keeps_everything_else() {
    let mut engine = engine();
    let tagged = engine.tag(TERMINATE.as_bytes());
    let Output::Replaced(bytes) = tagged.output else { panic!("a match is tagged: {:?}", tagged.output) };
    let out: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    assert_eq!(out["rule"]["id"], "aws-ec2-instances-terminated");
    assert_eq!(out["rule"]["ruleset"], "modwatch-builtin");
    assert_eq!(out["threat"]["framework"], "MITRE ATT&CK");
    assert_eq!(out["threat"]["tactic"]["id"], "TA0005");
    assert_eq!(out["threat"]["technique"]["id"], "T1578");
    assert_eq!(out["threat"]["technique"]["name"], "Modify Cloud Compute Infrastructure");
    assert_eq!(out["threat"]["technique"]["subtechnique"]["id"], "T1578.003");
    assert_eq!(out["modwatch"]["category"], "DELETE");
    assert_eq!(out["modwatch"]["points"], 3);
    assert_eq!(out["modwatch"]["principal"]["id"], "arn:aws:iam::111122223333:user/alice");
    assert!(out["modwatch"]["matches"].as_array().is_some_and(|m| !m.is_empty()));
    // Existing fields are untouched: `event` was a string and stays one (no
    // risk_score can be added under it); the big number keeps every digit.
    assert_eq!(out["event"], "not-an-object");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("\"n\":12345678901234567890123"), "{text}");
    // The original keys come first, in their order.
    assert!(text.starts_with(r#"{"eventVersion":"1.08","eventSource":"ec2.amazonaws.com""#), "{text}");
    let original: Value = serde_json::from_str(TERMINATE).unwrap_or_default();
    for (k, v) in original.as_object().into_iter().flatten() {
        assert_eq!(&out[k], v, "field {k} unchanged");
    }
}

#[test]
fn non_matches_pass_byte_for_byte() {
    let mut engine = engine();
    for event in [
        &br#"{"eventVersion":"1.08","eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#[..],
        br#"{ "eventSource" : "ec2.amazonaws.com",   "eventName":"DescribeInstances" }"#,
        br#"{"message":"TerminateInstances is a word in this log line"}"#,
        br#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","errorCode":"Client.DryRunOperation","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"}}"#,
    ] {
        let t = engine.tag(event);
        assert_eq!(t.output, Output::Unchanged, "{}", String::from_utf8_lossy(event));
        assert!(!t.verdicts[0].is_match());
    }
}

#[test]
fn drop_mode_drops_only_non_matches() {
    let mut engine =
        Engine::new(Some(r#"{"output":{"mode":"drop-non-matches"}}"#), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(engine.tag(br#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#).output, Output::Dropped);
    assert!(matches!(engine.tag(TERMINATE.as_bytes()).output, Output::Replaced(_)));
}

/// `docs/design.md#invariants`: every bad input gives an error verdict with a stable code and
/// passes through unchanged; nothing panics.
#[test]
fn bad_input_is_reported_and_passed_through() {
    // Each event carries the literals the EC2 rules need, so the prefilter
    // sends it to the parser; `not_candidates_are_not_parsed` covers the rest.
    const EC2: &str = r#""eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances""#;
    let deep = format!("{{{EC2},\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    let big = format!(r#"{{{EC2},"pad":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let cases: Vec<(&str, Vec<u8>, ErrorKind)> = vec![
        ("invalid json", format!("{{{EC2}").into_bytes(), ErrorKind::InvalidJson),
        ("trailing garbage", format!("{{{EC2}}} x").into_bytes(), ErrorKind::InvalidJson),
        ("invalid utf-8 bytes", [format!("{{{EC2},\"x\":\"").as_bytes(), b"\xff\"}"].concat(), ErrorKind::InvalidUtf8),
        ("not an object", format!("[{{{EC2}}}]").into_bytes(), ErrorKind::NotAnObject),
        // A string has no operation key; its escape makes it a candidate.
        ("a string", br#""ec2.amazonaws.com \u0054erminateInstances""#.to_vec(), ErrorKind::NotAnObject),
        ("empty", b"   ".to_vec(), ErrorKind::Empty),
        ("too deep", deep.into_bytes(), ErrorKind::TooDeep),
        ("too large", big.into_bytes(), ErrorKind::TooLarge),
    ];
    let mut engine = engine();
    for (name, bytes, kind) in cases {
        let t = engine.tag(&bytes);
        assert_eq!(t.output, Output::Unchanged, "{name}");
        assert_eq!(t.verdicts.len(), 1, "{name}");
        let v = &t.verdicts[0];
        assert_eq!(v.status, Status::Error, "{name}: {}", v.to_json());
        let err = v.error.as_ref().unwrap_or_else(|| panic!("{name}: no error"));
        assert_eq!(err.code, kind.code(), "{name}: {}", v.to_json());
        assert!(!err.message.is_empty());
    }
    assert_eq!(engine.stats().errors, 8);
}

/// An event that contains none of the literals any rule needs is passed on
/// without being parsed (a `no_match` verdict), whatever it holds; with
/// `input.validate` it is parsed and its error reported.
#[test]
fn not_candidates_are_not_parsed() {
    let mut fast = engine();
    let t = fast.tag(b"{not json at all");
    assert_eq!((t.output, t.verdicts[0].status), (Output::Unchanged, Status::NoMatch));
    assert_eq!(fast.stats().prefiltered, 1);
    let mut strict = Engine::new(Some(r#"{"input":{"validate":true}}"#), None).unwrap_or_else(|e| panic!("{e}"));
    let t = strict.tag(b"{not json at all");
    assert_eq!((t.output, t.verdicts[0].status), (Output::Unchanged, Status::Error));
}

#[test]
fn wrong_types_and_missing_fields_are_no_match_not_errors() {
    let mut engine = engine();
    for event in [
        r#"{"eventSource":"ec2.amazonaws.com","eventName":5}"#,
        r#"{"eventSource":["ec2.amazonaws.com"],"eventName":{"x":"TerminateInstances"}}"#,
        r#"{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","userIdentity":"root","requestParameters":"x"}"#,
        r#"{"operationName":{"value":null},"resultType":7,"identity":[]}"#,
        r#"{"protoPayload":{"methodName":"v1.compute.instances.delete","status":{"code":"seven"},"authenticationInfo":null}}"#,
        r#"{"eventSource":"ec2.amazonaws.com","eventName":null}"#,
    ] {
        let v = engine.evaluate(event.as_bytes());
        assert_eq!(v.len(), 1, "{event}");
        assert_ne!(v[0].status, Status::Error, "{event}: {}", v[0].to_json());
    }
    // A TerminateInstances with no identity at all still matches: the rule
    // does not need one.
    let bare = engine.evaluate(br#"{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances"}"#);
    assert_eq!(bare[0].status, Status::Match, "{}", bare[0].to_json());
}

#[test]
fn huge_arrays_are_fine() {
    // 30,000 ids: about 0.8 MB, under the default 1 MiB limit.
    let ids: Vec<String> = (0..30_000).map(|i| format!(r#"{{"instanceId":"i-{i:08x}"}}"#)).collect();
    let event = format!(
        r#"{{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","requestParameters":{{"instancesSet":{{"items":[{}]}}}}}}"#,
        ids.join(",")
    );
    let mut engine = engine();
    assert_eq!(one(&mut engine, event.as_bytes()).status, Status::Match);
}

#[test]
fn error_field_is_added_when_asked_for() {
    let mut engine = Engine::new(Some(r#"{"output":{"error_field":true},"input":{"max_depth":4}}"#), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let t = engine.tag(br#"{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","a":[[[[[1]]]]]}"#);
    let Output::Replaced(bytes) = t.output else { panic!("expected the error field") };
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    assert_eq!(v["modwatch"]["error"]["code"], ErrorKind::TooDeep.code());
    assert_eq!(v["a"], json!([[[[[1]]]]]));
    // Invalid JSON cannot be made valid by adding a field: it passes as is.
    assert_eq!(engine.tag(b"{x").output, Output::Unchanged);
}

/// `output.routing_fields`: every record of a recognised format, matching or
/// not, gets its principal key and partition token; the prefilter no longer
/// spares the parse, and `drop-non-matches` still drops non-matches.
#[test]
fn routing_fields_are_added_to_every_recognised_record() {
    let load = |config: &str| Engine::new(Some(config), None).unwrap_or_else(|e| panic!("{e}"));
    let mut engine = load(r#"{"output":{"routing_fields":true}}"#);
    let describe = r#"{"eventVersion":"1.08","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"recipientAccountId":"111122223333"}"#;
    let key = "111122223333|arn:aws:iam::111122223333:user/alice";
    for event in [describe, TERMINATE] {
        let t = engine.tag(event.as_bytes());
        assert_eq!(t.verdicts[0].principal_key(), Some(key), "{event}");
        let Output::Replaced(bytes) = t.output else { panic!("routing fields on {event}") };
        let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(v["modwatch"]["principal_key"], key);
        assert_eq!(v["modwatch"]["partition"], modwatch_engine::partition_token(key));
        assert_eq!(t.verdicts[0].partition_token().as_deref(), v["modwatch"]["partition"].as_str());
    }
    assert_eq!(engine.stats().prefiltered, 0, "every event parsed");
    // No principal: the token of the empty key; not a cloud record: nothing.
    let t = engine.tag(br#"{"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances"}"#);
    let Output::Replaced(bytes) = t.output else { panic!("a record with no principal is routed too") };
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    assert_eq!(v["modwatch"], json!({ "partition": modwatch_engine::partition_token("") }));
    assert_eq!(engine.tag(br#"{"hello":"world"}"#).output, Output::Unchanged);
    // Each record of a batch gets its own.
    let batch = format!(r#"{{"Records":[{describe},{{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}}]}}"#);
    let Output::Replaced(bytes) = engine.tag(batch.as_bytes()).output else { panic!("batch is routed") };
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    assert_eq!(v["Records"][0]["modwatch"]["principal_key"], key);
    assert_eq!(v["Records"][1]["modwatch"]["partition"], modwatch_engine::partition_token(""));
    // Off by default; and `drop-non-matches` drops what did not match.
    assert_eq!(self::engine().tag(describe.as_bytes()).output, Output::Unchanged);
    let mut dropping = load(r#"{"output":{"routing_fields":true,"mode":"drop-non-matches"}}"#);
    assert_eq!(dropping.tag(describe.as_bytes()).output, Output::Dropped);
    assert!(matches!(dropping.tag(TERMINATE.as_bytes()).output, Output::Replaced(_)));
}

#[test]
fn batches_and_envelopes() {
    let mut engine = engine();
    let batch =
        format!(r#"{{"Records":[{TERMINATE},{{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}},7]}}"#);
    let t = engine.tag(batch.as_bytes());
    let statuses: Vec<Status> = t.verdicts.iter().map(|v| v.status).collect();
    assert_eq!(statuses, vec![Status::Match, Status::NoMatch, Status::Error]);
    let Output::Replaced(bytes) = t.output else { panic!("batch with a match is tagged") };
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    assert_eq!(v["Records"][0]["modwatch"]["category"], "DELETE");
    assert!(v["Records"][1].get("modwatch").is_none());
    assert_eq!(v["Records"][2], 7);

    let envelope = format!(
        r#"{{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{TERMINATE}}}"#
    );
    let t = engine.tag(envelope.as_bytes());
    assert_eq!(t.verdicts[0].status, Status::Match);
    let Output::Replaced(bytes) = t.output else { panic!("envelope is tagged") };
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    assert_eq!(v["rule"]["id"], "aws-ec2-instances-terminated");
}

#[test]
fn unknown_shapes_are_counted() {
    let mut engine = Engine::new(Some(r#"{"input":{"validate":true}}"#), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one(&mut engine, br#"{"message":"hello"}"#).status, Status::Unrecognised);
    assert_eq!(engine.stats().unrecognised, 1);
}

#[test]
fn allowlists_suppress_and_count() {
    let mut engine = engine();
    let svc = r#"{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","userIdentity":{"type":"AWSService","invokedBy":"autoscaling.amazonaws.com"}}"#;
    let v = one(&mut engine, svc.as_bytes());
    assert_eq!(v.status, Status::Suppressed);
    assert_eq!(v.suppressed_by.as_deref(), Some("aws_service_caller:autoscaling.amazonaws.com"));
    let backup = r#"{"operationName":"MICROSOFT.COMPUTE/SNAPSHOTS/WRITE","resultType":"Success","resourceId":"/subscriptions/s/x","identity":{"claims":{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name":"azure-backup-service@contoso.com"}}}"#;
    assert_eq!(one(&mut engine, backup.as_bytes()).status, Status::Suppressed);
    assert_eq!(engine.stats().suppressed, 2);
    let mut open = Engine::new(Some(r#"{"allowlist":{"aws_service_callers":false,"principals":[]}}"#), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one(&mut open, svc.as_bytes()).status, Status::Match);
}

/// Missing fields (`docs/detection.md#eql`): the seed, loaded alone from its rule file.
#[test]
fn seed_rule_alone_behaves_as_elastic() {
    let config = Config::from_json(r#"{"allowlist":{"principals":[]}}"#).unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::load(&config, Some(SEED)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rules.ids().collect::<Vec<_>>(), vec!["seed-azure-compute-modification"]);
    let mut engine = Engine::with_parts(config, rules);
    let azure = |op: &str, claims: &str| {
        format!(
            r#"{{"operationName":"{op}","resultType":"Success","resourceId":"/subscriptions/s/x","identity":{{"claims":{{{claims}}}}}}}"#
        )
    };
    let name = "\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name\"";
    let cases = [
        // No user.name at all (a service principal): `not user.name : (…)` is true.
        (azure("MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE", r#""appid":"a""#), true),
        (azure("microsoft.compute/snapshots/write", &format!(r#"{name}:"alice@contoso.com""#)), true),
        // The exclusion compares the UPN's local part, case-insensitively.
        (azure("Microsoft.Compute/disks/write", &format!(r#"{name}:"AZURE-BACKUP-SERVICE@contoso.com""#)), false),
        (azure("Microsoft.Compute/disks/write", &format!(r#"{name}:"azure-site-recovery""#)), false),
        // Not in the seed's list: capture is never selected by the seed.
        (azure("Microsoft.Compute/virtualMachines/capture/action", r#""appid":"a""#), false),
    ];
    for (event, want) in cases {
        assert_eq!(one(&mut engine, event.as_bytes()).is_match(), want, "{event}");
    }
    // `==` is case-sensitive: an ECS document whose dataset is spelled
    // differently does not match.
    let ecs = r#"{"event":{"dataset":"Azure.ActivityLogs","action":"MICROSOFT.COMPUTE/DISKS/WRITE"},"azure":{"activitylogs":{}}}"#;
    assert!(!one(&mut engine, ecs.as_bytes()).is_match());
    let ecs_ok = r#"{"event":{"dataset":"azure.activitylogs","action":"MICROSOFT.COMPUTE/DISKS/WRITE"}}"#;
    assert!(one(&mut engine, ecs_ok.as_bytes()).is_match());
}

/// A raw record has none of the tag keys: its bytes are kept exactly as they
/// came (spacing, number spelling, key order) and the tags are appended.
#[test]
fn tags_are_appended_to_the_original_bytes() {
    let raw = r#"{ "eventSource": "ec2.amazonaws.com", "eventName": "TerminateInstances", "n": 1.50e2,
 "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-1"}]}} }"#;
    let mut engine = engine();
    let Output::Replaced(bytes) = engine.tag(raw.as_bytes()).output else { panic!("a match is tagged") };
    let text = String::from_utf8(bytes).unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["modwatch"]["category"], "DELETE");
    assert_eq!(v["rule"]["id"], "aws-ec2-instances-terminated");
    let original_end = raw.rfind('}').unwrap_or(0);
    assert!(text.starts_with(&raw[..original_end]), "everything before the closing brace stays: {text}");
}
