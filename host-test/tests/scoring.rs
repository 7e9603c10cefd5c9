//! Per-principal scoring through the component in wasmtime:
//!
//! - every scenario file of `tests/scenarios/` (the end-to-end scenarios and one file
//!   per scoring behaviour, `docs/detection.md#scenarios`) gives, event by event, the same verdict in
//!   the component as in the native engine (whose own test checks each
//!   expected number);
//! - a generated stream of 100,000 events over 5,000 principals gives
//!   identical verdicts and outputs in both;
//! - export → import → continue gives the same verdicts as one run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use modwatch::{Detector, Output};
use modwatch_engine::Engine;
use serde_json::Value;

const SCENARIOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/scenarios");

/// Splits a scenario file into its config (first line `{"config":…}`) and
/// its events.
fn scenario(text: &str) -> (Option<String>, Vec<Vec<u8>>) {
    let mut config = None;
    let mut events = Vec::new();
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        if let Some(c) = row.get("config") {
            config = Some(c.to_string());
        } else {
            events.push(serde_json::to_vec(&row["event"]).unwrap());
        }
    }
    (config, events)
}

fn native_and_component(config: Option<&str>) -> (Engine, Detector) {
    (Engine::new(config, None).unwrap(), Detector::new(config, None).unwrap())
}

#[test]
fn scenarios_give_the_same_verdicts_in_the_component() {
    let mut files: Vec<_> = std::fs::read_dir(SCENARIOS).unwrap().filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let mut failures = Vec::new();
    let mut alerts = 0;
    for file in files.iter().filter(|p| p.extension().is_some_and(|x| x == "ndjson")) {
        let (config, events) = scenario(&std::fs::read_to_string(file).unwrap());
        let (mut native, mut component) = native_and_component(config.as_deref());
        for (n, event) in events.iter().enumerate() {
            let want: Vec<String> = native.evaluate(event).iter().map(|v| v.to_json()).collect();
            let got: Vec<String> = component.evaluate(event).unwrap().into_iter().map(|v| v.json).collect();
            alerts += got.iter().filter(|j| j.contains("\"alert\":{")).count();
            if want != got {
                failures.push(format!(
                    "{} event {}:\n  native    {want:?}\n  component {got:?}",
                    file.display(),
                    n + 1
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(alerts >= 3, "the scenarios raise alerts in the component ({alerts})");
}

/// A deterministic stream: matching operations of three clouds over many
/// principals and IPs, times mostly increasing with some out of order, Azure
/// lifecycle records and GCP first/last entries, and non-matching events.
fn stream(n: usize, principals: u64) -> Vec<Vec<u8>> {
    let mut state: u64 = 0x5eed_1578;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let r = next();
        let who = r % principals;
        let ip = format!("203.0.{}.{}", (r >> 20) % 4, (r >> 24) % 16);
        // ~3 events a second, up to 4 minutes out of order.
        let t = 1_772_400_000 + (i as u64) / 3 - (r >> 32) % 240 * u64::from(r % 7 == 0);
        let time = fmt_time(t);
        let event = match (r >> 8) % 8 {
            0 | 1 => format!(
                r#"{{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","eventTime":"{time}","eventID":"e{i}","sourceIPAddress":"{ip}","recipientAccountId":"111122223333","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u{who}","accountId":"111122223333","userName":"u{who}"}},"requestParameters":{{"instancesSet":{{"items":[{{"instanceId":"i-{i:x}"}},{{"instanceId":"i-{r:x}"}}]}}}}}}"#
            ),
            2 => format!(
                r#"{{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"{time}","eventID":"e{i}","sourceIPAddress":"{ip}","recipientAccountId":"111122223333","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/R{who}/s","accountId":"111122223333","sessionContext":{{"sessionIssuer":{{"arn":"arn:aws:iam::111122223333:role/R{who}","userName":"R{who}"}}}}}},"requestParameters":{{"instancesSet":{{"items":[{{"imageId":"ami-1","minCount":1,"maxCount":{}}}]}}}}{}}}"#,
                r % 5 + 1,
                if r % 11 == 0 { r#","errorCode":"Client.UnauthorizedOperation""# } else { "" }
            ),
            3 | 4 => format!(
                r#"{{"time":"{time}","operationName":"MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE","resultType":"{}","correlationId":"c{}","resourceId":"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM{}","callerIpAddress":"{ip}","identity":{{"claims":{{"http://schemas.microsoft.com/identity/claims/objectidentifier":"oid-{who}","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name":"user{who}@contoso.com"}}}}}}"#,
                ["Start", "Accept", "Success"][(r % 3) as usize],
                i / 3,
                i / 3
            ),
            5 => format!(
                r#"{{"protoPayload":{{"methodName":"v1.compute.instances.delete","serviceName":"compute.googleapis.com","authenticationInfo":{{"principalEmail":"p{who}@example.com"}},"requestMetadata":{{"callerIp":"{ip}"}}}},"resource":{{"labels":{{"project_id":"proj"}}}},"timestamp":"{time}","operation":{{"id":"op{}","{}":true}}}}"#,
                i / 2,
                if i % 2 == 0 { "first" } else { "last" }
            ),
            _ => format!(
                r#"{{"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"{time}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/u{who}"}}}}"#
            ),
        };
        out.push(event.into_bytes());
    }
    out
}

fn fmt_time(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // 2026-03-01 is day 20513 since the epoch; the stream stays in March 2026.
    let day = days - 20_513 + 1;
    format!("2026-03-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[test]
fn a_long_stream_gives_identical_verdicts_and_outputs() {
    let events = stream(100_000, 5_000);
    let (mut native, mut component) = native_and_component(None);
    let mut differences = 0;
    let mut first = None;
    for (i, event) in events.iter().enumerate() {
        let want = native.tag(event);
        let got = component.tag(event).unwrap();
        let want_json: Vec<String> = want.verdicts.iter().map(|v| v.to_json()).collect();
        let got_json: Vec<String> = got.verdicts.into_iter().map(|v| v.json).collect();
        let same_output = match (&want.output, &got.output) {
            (modwatch_engine::Output::Unchanged, Output::Unchanged) => true,
            (modwatch_engine::Output::Replaced(a), Output::Replaced(b)) => a == b,
            (modwatch_engine::Output::Dropped, Output::Dropped) => true,
            _ => false,
        };
        if want_json != got_json || !same_output {
            differences += 1;
            first.get_or_insert_with(|| format!("event {i}: native {want_json:?} component {got_json:?}"));
        }
    }
    assert_eq!(differences, 0, "{}", first.unwrap_or_default());
    let (a, b) = (native.stats(), component.stats().unwrap());
    assert_eq!((a.matches, a.alerts, a.principals), (b.matches, b.alerts, b.principals));
    assert!(a.alerts > 100, "the stream raises alerts: {}", a.alerts);
    assert!(a.principals > 4_000, "many principals tracked: {}", a.principals);
}

#[test]
fn export_import_continue_equals_one_run() {
    let events = stream(20_000, 500);
    let (half, rest) = events.split_at(10_000);
    let (_, mut whole) = native_and_component(None);
    let mut want = Vec::new();
    for e in half {
        whole.evaluate(e).unwrap();
    }
    for e in rest {
        want.extend(whole.evaluate(e).unwrap().into_iter().map(|v| v.json));
    }
    let mut first = Detector::new(None, None).unwrap();
    for e in half {
        first.evaluate(e).unwrap();
    }
    let state = first.export_state().unwrap();
    let mut second = Detector::new(None, None).unwrap();
    second.import_state(&state).unwrap().unwrap();
    let mut got = Vec::new();
    for e in rest {
        got.extend(second.evaluate(e).unwrap().into_iter().map(|v| v.json));
    }
    assert_eq!(want.len(), got.len());
    let first_diff = want.iter().zip(&got).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "first difference at verdict {first_diff:?}");
    // And the native engine imports the component's export.
    let mut native = Engine::new(None, None).unwrap();
    native.import_state(&state).unwrap();
    assert_eq!(native.export_state(), state);
}
