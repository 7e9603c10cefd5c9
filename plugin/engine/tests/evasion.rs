//! Evasion: operation names spelled otherwise (case, URL encoding, look-alike
//! characters, invisible characters, padding), records moved under envelopes,
//! and the fields a caller chooses. Each row says what Elasticsearch does with
//! the same rule (EQL `==` is a case-sensitive `term` query, `:` a
//! case-insensitive one; `docs/detection.md#eql`) and asserts
//! what modwatch does. `docs/hardening.md` has the table with the reasoning.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use modwatch_engine::{Engine, Status, Verdict};

fn engine(config: Option<&str>) -> Engine {
    Engine::new(config, None).unwrap_or_else(|e| panic!("{e}"))
}

/// A CloudTrail TerminateInstances record with `name` as `eventName`, written
/// raw into the JSON (so JSON escapes can be tried).
fn aws(name: &str) -> String {
    aws_by(name, "IAMUser", "arn:aws:iam::111122223333:user/alice", "aws-cli/2.15.0")
}

fn aws_by(name: &str, kind: &str, arn: &str, agent: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"{kind}","arn":"{arn}","accountId":"111122223333","sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"arn:aws:iam::111122223333:role/Deploy","userName":"Deploy"}}}}}},"eventTime":"2025-03-04T10:15:00Z","eventSource":"ec2.amazonaws.com","eventName":"{name}","sourceIPAddress":"203.0.113.7","userAgent":"{agent}","requestParameters":{{"instancesSet":{{"items":[{{"instanceId":"i-0123456789abcdef0"}}]}}}},"eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#
    )
}

/// An Azure Activity record with `op` as `operationName` (the seed rule's
/// `event.action : (...)` is case-insensitive) by the human `upn`.
fn azure(op: &str, upn: &str) -> String {
    format!(
        r#"{{"time":"2025-03-04T10:15:00Z","resourceId":"/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg/providers/Microsoft.Compute/snapshots/s1","operationName":"{op}","category":"Administrative","resultType":"Success","callerIpAddress":"203.0.113.7","correlationId":"c-1","identity":{{"claims":{{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"{upn}","http://schemas.microsoft.com/identity/claims/objectidentifier":"a3c1e2f4-1111-2222-3333-444455556666"}}}},"properties":{{"statusCode":"Created"}}}}"#
    )
}

/// A GCP audit entry with `method` as `methodName`.
fn gcp(method: &str) -> String {
    format!(
        r#"{{"protoPayload":{{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","serviceName":"compute.googleapis.com","methodName":"{method}","resourceName":"projects/p1/zones/z/instances/vm1","authenticationInfo":{{"principalEmail":"alice@example.com"}},"requestMetadata":{{"callerIp":"203.0.113.7"}}}},"resource":{{"type":"gce_instance","labels":{{"project_id":"p1"}}}},"timestamp":"2025-03-04T10:15:00Z","severity":"NOTICE"}}"#
    )
}

/// What the engine says about one event, in one line for a failure message.
fn judge(engine: &mut Engine, event: &str) -> Verdict {
    let mut v = engine.evaluate(event.as_bytes());
    assert!(!v.is_empty(), "no verdict for {event}");
    // A batch: the first record is the one the row is about.
    v.remove(0)
}

/// One row: what is tried, the event, what Elasticsearch does with the same
/// rule, what modwatch must say.
struct Row {
    name: &'static str,
    event: String,
    elastic: Status,
    modwatch: Status,
}

fn row(name: &'static str, event: String, elastic: Status, modwatch: Status) -> Row {
    Row { name, event, elastic, modwatch }
}

fn check(rows: Vec<Row>, config: Option<&str>) {
    let mut failures = Vec::new();
    // One engine for the rows: scoring state never changes a status.
    let mut engine = engine(config);
    for r in rows {
        let v = judge(&mut engine, &r.event);
        if v.status != r.modwatch {
            failures.push(format!(
                "{}: expected {:?} (Elastic: {:?}), got {}\n    event: {}",
                r.name,
                r.modwatch,
                r.elastic,
                v.to_json(),
                r.event
            ));
        }
    }
    assert!(failures.is_empty(), "{} rows failed:\n{}", failures.len(), failures.join("\n"));
}

use Status::{Match, NoMatch, Suppressed, Unrecognised};

/// AWS: `aws-ec2-instances-terminated` is `event.provider == "ec2.amazonaws.com"
/// and event.action == "TerminateInstances"`: `==` is case-sensitive and exact
/// in Elasticsearch, so only the spelling CloudTrail writes matches, and the
/// same in modwatch. A JSON escape is not a different spelling: the value is
/// the same string once decoded, in both.
#[test]
fn aws_operation_spellings() {
    check(
        vec![
            row("canonical", aws("TerminateInstances"), Match, Match),
            row("JSON escape \\u0049 (same string once decoded)", aws("Terminate\\u0049nstances"), Match, Match),
            row(
                "JSON escape of every letter",
                aws(&"TerminateInstances".chars().map(|c| format!("\\u{:04x}", c as u32)).collect::<String>()),
                Match,
                Match,
            ),
            row("lower case", aws("terminateinstances"), NoMatch, NoMatch),
            row("upper case", aws("TERMINATEINSTANCES"), NoMatch, NoMatch),
            row("URL-encoded I", aws("Terminate%49nstances"), NoMatch, NoMatch),
            row("Cyrillic i (U+0456)", aws("Terminate\u{456}nstances"), NoMatch, NoMatch),
            row("fullwidth T (U+FF34)", aws("\u{ff34}erminateInstances"), NoMatch, NoMatch),
            row("zero-width joiner inside", aws("Terminate\u{200d}Instances"), NoMatch, NoMatch),
            row("zero-width joiner as \\u200d", aws("Terminate\\u200dInstances"), NoMatch, NoMatch),
            row("padded with spaces", aws(" TerminateInstances "), NoMatch, NoMatch),
            row("trailing newline", aws("TerminateInstances\\n"), NoMatch, NoMatch),
            row("trailing NUL", aws("TerminateInstances\\u0000"), NoMatch, NoMatch),
        ],
        None,
    );
}

/// Azure: the seed rule's `event.action : (...)` is case-insensitive (a
/// `term` query with `case_insensitive: true`, ASCII letters only, no
/// trimming), and so are the pack's Azure rules.
#[test]
fn azure_operation_spellings() {
    let a = |op: &str| azure(op, "alice@contoso.com");
    check(
        vec![
            row("canonical", a("Microsoft.Compute/snapshots/write"), Match, Match),
            row("upper case (diagnostic-settings exports)", a("MICROSOFT.COMPUTE/SNAPSHOTS/WRITE"), Match, Match),
            row("lower case", a("microsoft.compute/snapshots/write"), Match, Match),
            row("escaped slashes \\/ (same string)", a("Microsoft.Compute\\/snapshots\\/write"), Match, Match),
            row("URL-encoded slash", a("Microsoft.Compute%2Fsnapshots%2Fwrite"), NoMatch, NoMatch),
            row("Cyrillic o (U+043E)", a("Micr\u{43e}soft.Compute/snapshots/write"), NoMatch, NoMatch),
            row("zero-width space inside", a("Microsoft.Compute/snap\u{200b}shots/write"), NoMatch, NoMatch),
            row("padded with spaces", a(" Microsoft.Compute/snapshots/write "), NoMatch, NoMatch),
        ],
        None,
    );
}

/// GCP: the pack's rules use `:` with a `*.` prefix for the version
/// (`v1.`, `beta.`), so case does not matter and any prefix is accepted.
#[test]
fn gcp_operation_spellings() {
    check(
        vec![
            row("canonical", gcp("v1.compute.instances.delete"), Match, Match),
            row("beta prefix", gcp("beta.compute.instances.delete"), Match, Match),
            row("upper case", gcp("V1.COMPUTE.INSTANCES.DELETE"), Match, Match),
            row("URL-encoded dot", gcp("v1.compute.instances%2Edelete"), NoMatch, NoMatch),
            row("Cyrillic e (U+0435)", gcp("v1.compute.instances.d\u{435}lete"), NoMatch, NoMatch),
            row("padded with spaces", gcp(" v1.compute.instances.delete "), NoMatch, NoMatch),
        ],
        None,
    );
}

/// Records moved under envelopes. Elasticsearch runs EQL on the document as
/// indexed: the integrations split CloudTrail `Records` and read the record
/// out of their input, and an unknown wrapper leaves the fields where the
/// rule does not look. modwatch unwraps what the integrations unwrap (S3
/// `Records`, Azure `records`, the EventBridge envelope) and says
/// `unrecognised` for the rest, counted in the stats, never a silent pass.
#[test]
fn envelopes() {
    let record = aws("TerminateInstances");
    let quoted = serde_json::to_string(&record).unwrap();
    check(
        vec![
            row("CloudTrail S3 file {\"Records\":[…]}", format!(r#"{{"Records":[{record}]}}"#), Match, Match),
            row(
                "EventBridge envelope",
                format!(
                    r#"{{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{record}}}"#
                ),
                Match,
                Match,
            ),
            row("detail without detail-type", format!(r#"{{"version":"0","detail":{record}}}"#), NoMatch, Unrecognised),
            row("message holding the record as a string", format!(r#"{{"message":{quoted}}}"#), NoMatch, Unrecognised),
            row(
                "log holding the record as a string (Fluent Bit, no parser)",
                format!(r#"{{"log":{quoted}}}"#),
                NoMatch,
                Unrecognised,
            ),
            row(
                "an Elasticsearch hit {\"_source\":…}",
                format!(r#"{{"_index":"logs","_id":"1","_source":{record}}}"#),
                NoMatch,
                Unrecognised,
            ),
            row("only event.original", format!(r#"{{"event":{{"original":{quoted}}}}}"#), NoMatch, Unrecognised),
            row("records as an object, not an array", format!(r#"{{"Records":{record}}}"#), NoMatch, Unrecognised),
        ],
        // Every event parsed: a record quoted inside a string is not even a
        // prefilter candidate (its quotes are escaped), so by default it is a
        // plain `no_match` without a parse; parsed, it is `unrecognised`.
        Some(r#"{"input":{"validate":true}}"#),
    );
}

/// Fields the caller chooses. CloudTrail's `eventName`, Azure's
/// `operationName` and GCP's `methodName` are written by the provider from the
/// API that ran; a caller cannot choose them. A caller does choose its user
/// agent, the request parameters and, for an assumed role, the session name.
/// An allowlist on a user agent is therefore a bypass anyone can use; one on
/// a principal must name the role, not the session.
#[test]
fn caller_chosen_fields() {
    let assumed = |session: &str, agent: &str| {
        aws_by(
            "TerminateInstances",
            "AssumedRole",
            &format!("arn:aws:sts::111122223333:assumed-role/Deploy/{session}"),
            agent,
        )
    };
    check(
        vec![
            row("user agent spoofed to an allow-listed one", assumed("alice", "Terraform/1.9.0"), Match, Suppressed),
            row("another user agent", assumed("alice", "aws-cli/2.15.0"), Match, Match),
        ],
        Some(r#"{"allowlist":{"user_agents":["Terraform/*"]}}"#),
    );
    check(
        vec![
            // The session name is the caller's choice (`RoleSessionName`):
            // an allowlist entry must not match it.
            row("session name chosen to look allow-listed", assumed("backup-job", "aws-cli/2.15.0"), Match, Match),
            row(
                "the role allow-listed by ARN",
                aws_by(
                    "TerminateInstances",
                    "AssumedRole",
                    "arn:aws:sts::111122223333:assumed-role/Backup/x",
                    "aws-cli/2.15.0",
                )
                .replace("role/Deploy", "role/Backup"),
                Match,
                Suppressed,
            ),
        ],
        Some(r#"{"allowlist":{"principals":["*backup*"]}}"#),
    );
}

/// Duplicate keys: Elasticsearch refuses the document (a parse error: strict
/// duplicate detection has been on since 6.0), so no rule sees it. modwatch
/// refuses it too (error 106, the event passes through unchanged) instead of
/// judging whichever value a parser kept.
#[test]
fn duplicate_keys() {
    let hidden = aws("TerminateInstances").replacen(
        r#""eventName":"TerminateInstances""#,
        r#""eventName":"TerminateInstances","eventName":"DescribeInstances""#,
        1,
    );
    let shown = aws("TerminateInstances").replacen(
        r#""eventName":"TerminateInstances""#,
        r#""eventName":"DescribeInstances","eventName":"TerminateInstances""#,
        1,
    );
    let nested =
        aws("TerminateInstances").replacen(r#""type":"IAMUser""#, r#""type":"IAMUser","type":"AWSService""#, 1);
    let mut failures = Vec::new();
    for (name, event) in [
        ("a second eventName hides the first", hidden),
        ("a first eventName hidden by the second", shown),
        ("userIdentity.type twice", nested),
    ] {
        let mut engine = engine(Some(r#"{"output":{"error_field":true}}"#));
        let tagged = engine.tag(event.as_bytes());
        let v = &tagged.verdicts[0];
        let code = v.error.as_ref().map(|e| e.code);
        if v.status != Status::Error || code != Some(106) {
            failures.push(format!("{name}: expected error 106, got {}", v.to_json()));
        }
        // Passed through with the error spliced in (error_field), nothing else changed.
        let modwatch_engine::Output::Replaced(out) = &tagged.output else {
            failures.push(format!("{name}: no error field"));
            continue;
        };
        let text = String::from_utf8_lossy(out);
        if !text.starts_with(r#"{"modwatch":{"error":{"code":106"#) || !text.ends_with(&event[1..]) {
            failures.push(format!("{name}: output {text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
