//! The hostile-input table for the component in wasmtime (the native rows
//! are `plugin/engine/tests/hostile.rs`, the CLI's `cli/tests/hostile.rs`):
//! each row a bad input, the verdict it must get, and proof that it passed
//! through. `docs/hardening.md` has the results and the figures measured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use modwatch::{Detector, Output, Status};
use modwatch_engine as native;
use modwatch_testkit::hostile::{rows, terminate};

/// In the component: each bad event gets its error verdict, the same JSON as
/// natively, and passes through unchanged. No trap.
#[test]
fn the_component_refuses_hostile_events_like_the_engine() {
    let mut detector = Detector::new(None, None).unwrap();
    let mut engine = native::Engine::new(None, None).unwrap();
    for (name, event, code) in rows() {
        let got = detector.tag(&event).unwrap_or_else(|e| panic!("{name}: the component trapped: {e:#}"));
        let want = engine.tag(&event);
        assert_eq!(got.verdicts.len(), 1, "{name}");
        let v = &got.verdicts[0];
        assert_eq!((v.status, v.error.as_ref().map(|e| e.code)), (Status::Error, Some(code)), "{name}: {}", v.json);
        assert_eq!(v.json, want.verdicts[0].to_json(), "{name}");
        assert!(matches!(got.output, Output::Unchanged), "{name}");
    }
    // Still working after all of them.
    let v = detector.evaluate(terminate("").as_bytes()).unwrap();
    assert_eq!(v[0].status, Status::Match);
}

/// 1,000,000 instance ids in the component: refused as too large under the
/// default limit; judged with the limit raised to 64 MiB, bulk capped, the
/// same verdict and the same output bytes as natively.
#[test]
fn a_million_instance_ids_in_the_component() {
    let ids: Vec<String> = (0..1_000_000).map(|i| format!(r#"{{"instanceId":"i-{i:017x}"}}"#)).collect();
    let event = terminate("").replace(r#"{"instanceId":"i-0123456789abcdef0"}"#, &ids.join(","));
    drop(ids);
    let mut detector = Detector::new(None, None).unwrap();
    let got = detector.tag(event.as_bytes()).unwrap();
    assert_eq!(got.verdicts[0].error.as_ref().map(|e| e.code), Some(103), "{}", got.verdicts[0].json);
    assert!(matches!(got.output, Output::Unchanged));

    let raised = r#"{"input":{"max_event_bytes":67108864}}"#;
    let mut detector = Detector::new(Some(raised), None).unwrap();
    let mut engine = native::Engine::new(Some(raised), None).unwrap();
    let got = detector.tag(event.as_bytes()).unwrap();
    let want = engine.tag(event.as_bytes());
    let v = &got.verdicts[0];
    assert_eq!(v.status, Status::Match, "{}", v.json);
    assert_eq!(v.score.as_ref().map(|s| s.points), Some(30.0), "3 points x bulk cap 10: {}", v.json);
    assert_eq!(v.json, want.verdicts[0].to_json());
    match (&got.output, &want.output) {
        (Output::Replaced(a), native::Output::Replaced(b)) => assert!(a == b, "outputs differ"),
        _ => panic!("not tagged in both"),
    }
}
