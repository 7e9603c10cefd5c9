//! The hostile-input table shared by the component's rows
//! (`host-test/tests/hostile.rs`) and the CLI's (`cli/tests/hostile.rs`):
//! each row a bad event and the error code it must get. The native rows are
//! the engine's own (`plugin/engine/tests/hostile.rs`); `docs/hardening.md`
//! has the results.

/// A TerminateInstances record with `extra` raw fields at its end.
pub fn terminate(extra: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"}},"eventTime":"2025-03-04T10:15:00Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","sourceIPAddress":"203.0.113.7","requestParameters":{{"instancesSet":{{"items":[{{"instanceId":"i-0123456789abcdef0"}}]}}}},"eventType":"AwsApiCall","recipientAccountId":"111122223333"{extra}}}"#
    )
}

/// `terminate` with an extra field `depth` arrays deep.
fn nested(depth: usize) -> String {
    terminate(&format!(r#","x":{}1{}"#, "[".repeat(depth), "]".repeat(depth)))
}

/// The bad events of the table, each with the error code it must get.
pub fn rows() -> Vec<(&'static str, Vec<u8>, u16)> {
    let base = terminate("");
    vec![
        ("invalid JSON", base.as_bytes()[..base.len() - 1].to_vec(), 100),
        ("invalid UTF-8", [&base.as_bytes()[..base.len() - 1], b",\"x\":\"\xff\xfe\"}"].concat(), 101),
        ("10,000-deep arrays", nested(10_000).into_bytes(), 104),
        (
            "10,000-deep objects",
            terminate(&format!(r#","x":{}1{}"#, r#"{"a":"#.repeat(10_000), "}".repeat(10_000))).into_bytes(),
            104,
        ),
        (
            "duplicate eventName",
            base.replacen(
                r#""eventName":"TerminateInstances""#,
                r#""eventName":"TerminateInstances","eventName":"DescribeInstances""#,
                1,
            )
            .into_bytes(),
            106,
        ),
    ]
}
