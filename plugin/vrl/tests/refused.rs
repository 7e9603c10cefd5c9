//! Rules whose conditions the VRL program cannot express are refused, each
//! with its reason, instead of being written as conditions that never hold.

use modwatch_engine::ErrorKind;

/// One Sigma rule for CloudTrail with `detection` (YAML, indented by four).
fn sigma(id: &str, detection: &str) -> String {
    format!(
        "title: {id}\nid: {id}\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n{detection}\nlevel: high\n"
    )
}

#[test]
fn rules_the_program_cannot_express_are_refused_with_their_reasons() {
    let pack = [
        // Translatable: exported alone, it gives a program.
        sigma("plain", "    selection:\n        eventName|contains: Snapshot\n    condition: selection"),
        sigma(
            "field-ref",
            "    selection:\n        eventName: CreateSnapshot\n        userIdentity.accountId|fieldref: recipientAccountId\n    condition: selection",
        ),
        sigma("keywords", "    keywords:\n        - snapshot\n    condition: keywords"),
        sigma("below", "    selection:\n        requestParameters|contains: Suspended\n    condition: selection"),
    ];
    assert!(modwatch_vrl::export(Some(&pack[0]), false, None).is_ok(), "a rule the program can express is exported");
    let Err(errors) = modwatch_vrl::export(Some(&pack.join("---\n")), false, None) else {
        panic!("a pack with rules the program cannot express was exported")
    };
    let got: Vec<(String, String)> = errors
        .0
        .iter()
        .map(|e| {
            assert_eq!(e.kind(), ErrorKind::RuleNotExportable, "{e}");
            let id = e.location().and_then(|l| l.rule_id.clone()).unwrap_or_default();
            (id, e.to_string())
        })
        .collect();
    let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["field-ref", "keywords", "below"], "{got:#?}");
    let reasons = [
        r#"E207 rule "field-ref" cannot be exported to VRL: its condition compares field "cloud.account.id" with field "#,
        r#"E207 rule "keywords" cannot be exported to VRL: its condition searches every value of the event (Sigma keywords)"#,
        r#"E207 rule "below" cannot be exported to VRL: its condition searches every value below "modwatch.params" (Sigma `contains` on an object)"#,
    ];
    for ((_, text), want) in got.iter().zip(reasons) {
        assert!(text.starts_with(want), "expected {want:?}…, got {text:?}");
    }
}
