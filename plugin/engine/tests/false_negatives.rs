//! Three classes of records that real logs carry and that once passed
//! untagged (`tests/false-negatives.ndjson`, built from the vendors'
//! documented shapes): Azure records in the REST shape, whose `eventName` is
//! an object; AWS console actions, whose `invokedBy` is the console's sign-in
//! endpoint; and AWS service events of another account using a shared
//! snapshot, whose `userIdentity` may have no `type`. Each row says what the
//! built-in pack must decide, and the service callers that must stay
//! suppressed sit beside them.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use modwatch_engine::{Engine, Format, Status};
use serde_json::Value;

const ROWS: &str = include_str!("../../../tests/false-negatives.ndjson");

fn rows() -> Vec<Value> {
    ROWS.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn each_row_gets_its_documented_verdict() {
    let mut engine = Engine::new(None, None).unwrap();
    let rows = rows();
    assert!(rows.len() >= 10, "every class has rows");
    for row in rows {
        let name = row["name"].as_str().unwrap();
        let event = serde_json::to_vec(&row["event"]).unwrap();
        let verdicts = engine.evaluate(&event);
        assert_eq!(verdicts.len(), 1, "{name}");
        let v = &verdicts[0];
        let want = match row["expect"].as_str().unwrap() {
            "match" => Status::Match,
            "no-match" => Status::NoMatch,
            "suppressed" => Status::Suppressed,
            other => panic!("{name}: unknown expectation {other}"),
        };
        assert_eq!(v.status, want, "{name}: {}", row["why"]);
        if let Some(category) = row.get("category") {
            assert_eq!(v.category.as_deref(), category.as_str(), "{name}");
        }
    }
}

#[test]
fn the_rest_shape_is_azure_whatever_eventname_holds() {
    let mut engine = Engine::new(None, None).unwrap();
    // The matching rows: a record the prefilter rules out is never parsed,
    // so its verdict names no format.
    for row in rows().iter().filter(|r| r["name"].as_str().unwrap().starts_with("azure-rest") && r["expect"] == "match")
    {
        let v = engine.evaluate(&serde_json::to_vec(&row["event"]).unwrap()).remove(0);
        assert_eq!(v.format, Some(Format::AzureActivityRest), "{}", row["name"]);
        assert_eq!(v.principal.as_ref().map(|p| p.id.as_str()), Some("a3c1e2f4-1111-2222-3333-444455556666"));
    }
    // A CloudTrail record is still one with its `eventName` a string and no
    // `eventSource` (validating, so the record is parsed whatever the
    // prefilter says).
    let mut engine = Engine::new(Some(r#"{"input":{"validate":true}}"#), None).unwrap();
    let v = engine.evaluate(br#"{"eventName":"TerminateInstances","eventTime":"2025-03-04T10:15:00Z"}"#).remove(0);
    assert_eq!(v.format, Some(Format::AwsCloudtrail));
}

#[test]
fn console_and_shared_snapshot_principals_are_the_people_and_accounts() {
    let mut engine = Engine::new(None, None).unwrap();
    for row in rows() {
        let name = row["name"].as_str().unwrap();
        let v = engine.evaluate(&serde_json::to_vec(&row["event"]).unwrap()).remove(0);
        let id = v.principal.as_ref().map(|p| p.id.as_str());
        match name {
            "aws-console-signin" | "aws-console-internal" => {
                assert_eq!(id, Some("arn:aws:iam::111122223333:user/alice"), "{name}");
                assert_eq!(v.suppressed_by, None, "{name}");
            }
            "aws-shared-volume-no-type" | "aws-shared-copy-no-type" => {
                assert_eq!(id, Some("444455556666"), "{name}: the account that used the share");
                assert_eq!(v.principal_key(), Some("111122223333|444455556666"), "{name}");
            }
            "aws-service-invoked" => {
                assert_eq!(v.suppressed_by.as_deref(), Some("aws_service_caller:autoscaling.amazonaws.com"));
            }
            "aws-service-linked-role" => {
                assert_eq!(v.suppressed_by.as_deref(), Some("aws_service_caller:autoscaling.amazonaws.com"));
            }
            _ => {}
        }
    }
}
