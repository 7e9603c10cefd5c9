//! proptest strategies for property tests: events built from parts (AWS
//! CloudTrail, Elastic ECS `aws.cloudtrail`, Azure Activity, GCP Cloud Audit),
//! JSON-ish values, raw bytes and mutated corpus events.
//!
//! Shared by the engine's properties (`plugin/engine/tests/properties.rs`) and
//! the native-vs-component properties (`host-test/tests/properties.rs`).
//!
//! Operation names come from the built-in pack itself (the operations its own
//! examples use, in their canonical case, plus the catalogue's lower-case
//! keys), never from a list written here, so every rule has events that can
//! reach it and the generator follows the pack as it grows.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use modwatch_engine::RuleSet;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// An operation as an event of one cloud spells it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    /// `eventSource`, `eventName`.
    Aws(String, String),
    /// `operationName`.
    Azure(String),
    /// `serviceName`, `methodName`.
    Gcp(String, String),
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// Every operation the built-in pack's examples use, and the catalogue's keys
/// as written (lower case). Sorted, so a seed always draws the same ones.
pub fn operations() -> &'static [Op] {
    static OPS: OnceLock<Vec<Op>> = OnceLock::new();
    OPS.get_or_init(|| {
        let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("the built-in pack loads: {e}"));
        let mut ops = BTreeSet::new();
        for example in rules.examples() {
            let Ok(v) = serde_json::from_str::<Value>(&example.event) else { continue };
            let aws = (str_at(&v, &["eventSource"]), str_at(&v, &["eventName"]));
            let ecs = (str_at(&v, &["event", "provider"]), str_at(&v, &["event", "action"]));
            if let (Some(src), Some(name)) = aws {
                ops.insert(Op::Aws(src.into(), name.into()));
            } else if let (Some(src), Some(name), Some(_)) = (ecs.0, ecs.1, v.pointer("/aws/cloudtrail")) {
                ops.insert(Op::Aws(src.into(), name.into()));
            }
            if let Some(name) = str_at(&v, &["operationName"]) {
                ops.insert(Op::Azure(name.into()));
            }
            if let Some(name) = str_at(&v, &["operationName", "value"]) {
                ops.insert(Op::Azure(name.into()));
            }
            if let (Some(svc), Some(method)) =
                (str_at(&v, &["protoPayload", "serviceName"]), str_at(&v, &["protoPayload", "methodName"]))
            {
                ops.insert(Op::Gcp(svc.into(), method.into()));
            }
        }
        let catalogue = include_str!("../../rules/operations.toml");
        for line in catalogue.lines() {
            let Some(op) = line.strip_prefix("op = \"").and_then(|l| l.strip_suffix('"')) else { continue };
            if op.contains('*') {
                continue;
            }
            if let Some((src, name)) = op.split_once(':') {
                ops.insert(Op::Aws(src.into(), name.into()));
            } else if op.starts_with("microsoft.") {
                ops.insert(Op::Azure(op.into()));
            } else {
                ops.insert(Op::Gcp("compute.googleapis.com".into(), format!("v1.{op}")));
            }
        }
        assert!(ops.len() > 200, "only {} operations found in the built-in pack", ops.len());
        ops.into_iter().collect()
    })
}

/// Operations of one cloud, with everyday non-matching ones mixed in.
fn ops_of(pick: fn(&Op) -> bool, everyday: &[Op]) -> Vec<Op> {
    operations().iter().filter(|o| pick(o)).cloned().chain(everyday.iter().cloned()).collect()
}

/// A sample from a non-empty list.
fn one_of<T: Clone + std::fmt::Debug + 'static>(items: Vec<T>) -> impl Strategy<Value = T> {
    let n = items.len();
    (0..n).prop_map(move |i| items[i].clone())
}

fn account() -> impl Strategy<Value = String> {
    prop_oneof![Just("111122223333".to_string()), Just("444455556666".to_string()), "[0-9]{12}"]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![Just("alice".to_string()), Just("bob".to_string()), "[a-z][a-z0-9._-]{0,12}", "\\PC{0,8}"]
}

/// Event times: mostly RFC 3339 in one week (so windows fill and alerts
/// happen), sometimes far off, odd or not a time at all.
pub fn time() -> impl Strategy<Value = String> {
    let near = (0u32..7, 0u32..24, 0u32..60, 0u32..60, 0u32..1000)
        .prop_map(|(d, h, m, s, ms)| format!("2025-03-{:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z", d + 3));
    prop_oneof![
        8 => near,
        1 => Just("1970-01-01T00:00:00Z".to_string()),
        1 => Just("9999-12-31T23:59:59Z".to_string()),
        1 => Just("2025-03-04 10:15:00".to_string()),
        1 => Just("2025-03-04T10:15:00+14:00".to_string()),
        1 => Just("2025-03-04T10:15:00.123456789012345678901234567890Z".to_string()),
        1 => Just("2025-13-45T99:99:99Z".to_string()),
        1 => "\\PC{0,12}",
    ]
}

/// Source addresses: IPv4, IPv6, service names, junk.
pub fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u8..=255, 0u8..=255, 0u8..=255, 0u8..=255).prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        2 => (0u8..4, 0u8..=255).prop_map(|(a, b)| format!("203.0.113.{}", a * 50 + b % 50)),
        1 => any::<[u16; 8]>().prop_map(|g| g.iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":")),
        1 => Just("AWS Internal".to_string()),
        1 => Just("ec2.amazonaws.com".to_string()),
        1 => "[0-9a-f.:/]{0,20}",
    ]
}

/// Extra fields of any JSON-ish shape, under keys no format reads.
fn extras() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map("x[a-zA-Z_]{0,6}", json_value(), 0..4).prop_map(|m| m.into_iter().collect())
}

fn insert_all(target: &mut Value, extra: Map<String, Value>) {
    if let Value::Object(map) = target {
        for (k, v) in extra {
            map.entry(k).or_insert(v);
        }
    }
}

/// A raw CloudTrail record.
pub fn aws_record() -> impl Strategy<Value = Value> {
    let everyday = [
        Op::Aws("s3.amazonaws.com".into(), "GetObject".into()),
        Op::Aws("sts.amazonaws.com".into(), "AssumeRole".into()),
        Op::Aws("ec2.amazonaws.com".into(), "DescribeInstances".into()),
    ];
    let ops = ops_of(|o| matches!(o, Op::Aws(..)), &everyday);
    let kind = one_of(vec!["IAMUser", "AssumedRole", "Root", "AWSService", "FederatedUser", "AWSAccount"]);
    let error = prop_oneof![
        6 => Just(None),
        1 => Just(Some("Client.UnauthorizedOperation")),
        1 => Just(Some("AccessDenied")),
        1 => Just(Some("Client.DryRunOperation")),
    ];
    let ids = proptest::collection::vec("i-[0-9a-f]{17}", 0..25);
    (one_of(ops), kind, account(), name(), time(), ip(), error, ids, "[0-9a-f-]{8,36}", extras()).prop_map(
        |(op, kind, account, user, time, ip, error, ids, event_id, extra)| {
            let Op::Aws(source, name) = op else { unreachable!("AWS operations only") };
            let arn = match kind {
                "AssumedRole" => format!("arn:aws:sts::{account}:assumed-role/Deploy/{user}"),
                "Root" => format!("arn:aws:iam::{account}:root"),
                _ => format!("arn:aws:iam::{account}:user/{user}"),
            };
            let items: Vec<Value> = ids.iter().map(|id| json!({ "instanceId": id })).collect();
            let mut record = json!({
                "eventVersion": "1.09",
                "userIdentity": {
                    "type": kind, "arn": arn, "accountId": account, "userName": user,
                    "sessionContext": { "sessionIssuer": { "type": "Role", "arn": format!("arn:aws:iam::{account}:role/Deploy") } },
                },
                "eventTime": time,
                "eventSource": source,
                "eventName": name,
                "awsRegion": "us-east-1",
                "sourceIPAddress": ip,
                "userAgent": "aws-cli/2.15.0",
                "requestParameters": { "instancesSet": { "items": items }, "maxCount": ids.len() },
                "eventID": event_id,
                "eventType": "AwsApiCall",
                "recipientAccountId": account,
            });
            if let Some(code) = error {
                record["errorCode"] = json!(code);
                record["errorMessage"] = json!("denied");
            }
            insert_all(&mut record, extra);
            record
        },
    )
}

/// An Elastic ECS `aws.cloudtrail` document.
pub fn aws_ecs() -> impl Strategy<Value = Value> {
    let ops = ops_of(|o| matches!(o, Op::Aws(..)), &[]);
    let outcome = one_of(vec!["success", "failure", "unknown"]);
    (one_of(ops), account(), name(), time(), ip(), outcome, extras()).prop_map(
        |(op, account, user, time, ip, outcome, extra)| {
            let Op::Aws(source, name) = op else { unreachable!("AWS operations only") };
            let mut doc = json!({
                "@timestamp": time,
                "event": { "dataset": "aws.cloudtrail", "action": name, "provider": source, "outcome": outcome, "kind": "event" },
                "cloud": { "provider": "aws", "account": { "id": account } },
                "user": { "name": user },
                "source": { "ip": ip },
                "aws": { "cloudtrail": {
                    "event_type": "AwsApiCall",
                    "user_identity": { "type": "IAMUser", "arn": format!("arn:aws:iam::{account}:user/{user}") },
                } },
            });
            insert_all(&mut doc, extra);
            doc
        },
    )
}

/// A raw Azure Activity record (diagnostic-settings shape).
pub fn azure_record() -> impl Strategy<Value = Value> {
    let everyday = [
        Op::Azure("Microsoft.Storage/storageAccounts/listKeys/action".into()),
        Op::Azure("Microsoft.Compute/virtualMachines/read".into()),
    ];
    let ops = ops_of(|o| matches!(o, Op::Azure(..)), &everyday);
    let result = one_of(vec!["Start", "Accept", "Success", "Failure", "Started", "Succeeded", "Failed"]);
    (one_of(ops), "[0-9a-f]{8}", name(), time(), ip(), result, "[0-9a-f]{4}", extras()).prop_map(
        |(op, oid, user, time, ip, result, correlation, extra)| {
            let Op::Azure(op) = op else { unreachable!("Azure operations only") };
            let mut record = json!({
                "time": time,
                "resourceId": "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
                "operationName": op,
                "category": "Administrative",
                "resultType": result,
                "callerIpAddress": ip,
                "correlationId": correlation,
                "identity": { "claims": {
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": format!("{user}@contoso.com"),
                    "http://schemas.microsoft.com/identity/claims/objectidentifier": format!("{oid}-1111-2222-3333-444455556666"),
                } },
            });
            insert_all(&mut record, extra);
            record
        },
    )
}

/// A GCP Cloud Audit Log entry.
pub fn gcp_entry() -> impl Strategy<Value = Value> {
    let everyday = [Op::Gcp("compute.googleapis.com".into(), "v1.compute.instances.get".into())];
    let ops = ops_of(|o| matches!(o, Op::Gcp(..)), &everyday);
    let phase = one_of(vec![None, Some((true, false)), Some((false, true)), Some((true, true))]);
    (one_of(ops), name(), time(), ip(), phase, proptest::option::of(0i64..16), extras()).prop_map(
        |(op, user, time, ip, phase, status, extra)| {
            let Op::Gcp(service, method) = op else { unreachable!("GCP operations only") };
            let mut entry = json!({
                "protoPayload": {
                    "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                    "serviceName": service,
                    "methodName": method,
                    "resourceName": "projects/p1/zones/us-central1-a/instances/vm1",
                    "authenticationInfo": { "principalEmail": format!("{user}@example.com") },
                    "requestMetadata": { "callerIp": ip },
                },
                "resource": { "type": "gce_instance", "labels": { "project_id": "p1" } },
                "timestamp": time,
                "severity": "NOTICE",
                "logName": "projects/p1/logs/cloudaudit.googleapis.com%2Factivity",
            });
            if let Some((first, last)) = phase {
                entry["operation"] = json!({ "id": "op-1", "producer": service, "first": first, "last": last });
            }
            if let Some(code) = status {
                entry["protoPayload"]["status"] = json!({ "code": code });
            }
            insert_all(&mut entry, extra);
            entry
        },
    )
}

/// One event of any of the shapes above, as compact JSON bytes.
pub fn cloud_event() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![aws_record(), aws_ecs(), azure_record(), gcp_entry()]
        .prop_map(|v| serde_json::to_vec(&v).unwrap_or_default())
}

/// Keys that formats and tags read, and others.
fn key() -> impl Strategy<Value = String> {
    let known: Vec<String> = [
        "eventName",
        "eventSource",
        "eventVersion",
        "eventType",
        "userIdentity",
        "type",
        "arn",
        "accountId",
        "eventTime",
        "requestParameters",
        "instancesSet",
        "items",
        "instanceId",
        "errorCode",
        "operationName",
        "resultType",
        "identity",
        "claims",
        "protoPayload",
        "methodName",
        "serviceName",
        "operation",
        "first",
        "event",
        "dataset",
        "action",
        "provider",
        "outcome",
        "kind",
        "Records",
        "records",
        "detail",
        "detail-type",
        "aws",
        "cloudtrail",
        "rule",
        "threat",
        "modwatch",
        "value",
        "OperationNameValue",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    prop_oneof![3 => one_of(known), 1 => "\\PC{0,6}"]
}

/// Strings that formats and rules look for, and others.
fn text() -> impl Strategy<Value = String> {
    let known: Vec<String> = [
        "ec2.amazonaws.com",
        "TerminateInstances",
        "RunInstances",
        "aws.cloudtrail",
        "azure.activitylogs",
        "gcp.audit",
        "Microsoft.Compute/snapshots/write",
        "AWS API Call via CloudTrail",
        "AssumedRole",
        "IAMUser",
        "AWSService",
        "Success",
        "Failure",
        "2025-03-04T10:15:00Z",
        "v1.compute.instances.delete",
        "compute.googleapis.com",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    prop_oneof![3 => one_of(known), 2 => "\\PC{0,10}", 1 => "[\\u{0}-\\u{7f}]{0,6}"]
}

/// Numbers as written, including ones no machine type holds.
fn number() -> impl Strategy<Value = Value> {
    let literal = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| format!("{x:e}")),
        Just("1e400".to_string()),
        Just("-1e400".to_string()),
        Just("18446744073709551617".to_string()),
        Just("-0".to_string()),
        Just("-0.0".to_string()),
        Just("1e-400".to_string()),
        "-?[1-9][0-9]{0,40}(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,5})?",
    ];
    literal.prop_map(|s| serde_json::from_str::<Value>(&s).unwrap_or(Value::Null))
}

/// Any JSON value, nested a few levels, with keys and strings that matter.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf =
        prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool), number(), text().prop_map(Value::String)];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A byte-level change to an event: what a broken shipper or a hostile one
/// could do to a line.
#[derive(Debug, Clone)]
pub enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    let junk = prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..6),
        one_of(vec![
            b"{".to_vec(),
            b"[".to_vec(),
            b"\"".to_vec(),
            b"\\u0000".to_vec(),
            b",".to_vec(),
            b"\xff".to_vec()
        ]),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), junk).prop_map(|(i, j)| Mutation::Insert(i, j)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

/// Applies mutations in order (positions taken modulo the length).
pub fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip(i, b) => {
                if let Some(x) = bytes.get_mut(i % len) {
                    *x ^= b | 1;
                }
            }
            Mutation::Insert(i, junk) => {
                let at = (i % len).min(bytes.len());
                bytes.splice(at..at, junk.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let at = (i % len).min(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
            Mutation::Duplicate(i, n) => {
                let at = (i % len).min(bytes.len());
                let end = (at + n).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(end..end, copy);
            }
        }
    }
    bytes
}

/// The labelled corpus events, compact JSON.
pub fn corpus() -> &'static [Vec<u8>] {
    static EVENTS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let text = include_str!("../../tests/corpus/events.ndjson");
        let events: Vec<Vec<u8>> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| serde_json::to_vec(&v["event"]).unwrap_or_default())
            .collect();
        assert!(events.len() >= 80, "the corpus has {} events", events.len());
        events
    })
}

/// A corpus event with a few mutations.
pub fn mutated_corpus_event() -> impl Strategy<Value = Vec<u8>> {
    (0..corpus().len(), proptest::collection::vec(mutation(), 1..4)).prop_map(|(i, m)| mutate(corpus()[i].clone(), &m))
}

/// Every key path of `original` (objects by key, arrays by index) has its
/// original value in `tagged`; arrays keep their length. The first path that
/// does not, if any.
pub fn first_altered(original: &Value, tagged: &Value, path: &str) -> Option<String> {
    match (original, tagged) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(k, v)| match b.get(k) {
            Some(w) => first_altered(v, w, &format!("{path}.{k}")),
            None => Some(format!("{path}.{k} removed")),
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (v, w))| first_altered(v, w, &format!("{path}[{i}]")))
        }
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: {a} became {b}")),
    }
}
