//! The component itself in wasmtime: what it imports, how it refuses bad rule
//! packs, and that bad events give error verdicts instead of traps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use modwatch::{COMPONENT, Detector, DetectorError, LoadError, Output, Status, TagResult};
use wasmtime::component::Component;
use wasmtime::{Engine, Store};

/// Looks like a candidate to any prefilter, so the engine has to decode it.
const EC2: &str = r#""eventSource":"ec2.amazonaws.com","eventName":"RunInstances""#;
const VALIDATE: &str = r#"{"input":{"validate":true}}"#;

#[test]
fn the_component_imports_nothing() {
    let engine = Engine::default();
    let component = Component::new(&engine, COMPONENT).unwrap();
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(&engine).map(|(name, _)| name.to_string()).collect();
    assert!(imports.is_empty(), "the component imports {imports:?}; it must need no WASI nor anything else");
    let exports: Vec<String> = ty.exports(&engine).map(|(name, _)| name.to_string()).collect();
    assert_eq!(exports, ["modwatch:detector/detection@0.1.0"]);
    // Instantiating with an empty store and no linker entries works.
    let _ = Store::new(&engine, ());
    Detector::new(None, None).unwrap();
}

#[test]
fn a_bad_rule_pack_is_refused_with_every_rule_and_position() {
    let pack = r#"
[[rule]]
id = "broken-query"
name = "A query that does not parse"
severity = "high"
query = "any where event.action == "

[[rule]]
id = "bad-severity"
name = "A severity Elastic does not have"
severity = "extreme"
query = 'any where event.action == "TerminateInstances"'
"#;
    let err = Detector::new(None, Some(pack)).expect_err("the pack must be refused");
    let DetectorError::Refused(LoadError::Rules(problems)) = &err else {
        panic!("expected a rules error, got {err}");
    };
    let query = problems
        .iter()
        .find(|p| p.rule_id.as_deref() == Some("broken-query"))
        .unwrap_or_else(|| panic!("no problem names rule broken-query: {err}"));
    assert!((200..300).contains(&query.code), "{query}");
    assert!(query.line.is_some() && query.column.is_some(), "no line:column in {query}");
    assert!(problems.iter().any(|p| p.rule_id.as_deref() == Some("bad-severity")), "{err}");
    // Printed as the CLI prints it: code, rule, line:column, message.
    let text = err.to_string();
    assert!(text.contains("rule \"broken-query\" at "), "{text}");
}

#[test]
fn a_bad_config_is_refused() {
    let err = Detector::new(Some(r#"{"no such key":1}"#), None).expect_err("the config must be refused");
    assert!(matches!(&err, DetectorError::Refused(LoadError::Config(p)) if !p.is_empty()), "{err}");
    let err = Detector::new(Some("not json"), None).expect_err("the config must be refused");
    assert!(err.problems().iter().all(|p| (300..400).contains(&p.code)), "{err}");
}

fn nested(depth: usize) -> Vec<u8> {
    format!("{{{EC2},\"x\":{}1{}}}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

fn bad_events() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut invalid_utf8 = format!("{{{EC2},\"x\":\"").into_bytes();
    invalid_utf8.extend_from_slice(b"\xff\xfe\"}");
    let huge = format!("{{{EC2},\"x\":\"{}\"}}", "a".repeat(2 << 20)).into_bytes();
    vec![
        ("invalid UTF-8", invalid_utf8, "invalid_utf8"),
        ("invalid JSON", format!("{{{EC2},").into_bytes(), "invalid_json"),
        ("not an object", format!("[{{{EC2}}}, 1]").into_bytes(), "not_an_object"),
        ("a 2 MiB event", huge, "too_large"),
        ("200-deep nesting", nested(200), "too_deep"),
    ]
}

fn assert_error(what: &str, t: &TagResult, kind: &str) {
    assert_eq!(t.output, Output::Unchanged, "{what}: the event must pass through unchanged");
    assert_eq!(t.verdicts.len(), 1, "{what}: {:?}", t.verdicts);
    let v = &t.verdicts[0];
    assert_eq!(v.status, Status::Error, "{what}: {}", v.json);
    let e = v.error.as_ref().unwrap_or_else(|| panic!("{what}: no error in {}", v.json));
    assert_eq!(e.kind, kind, "{what}: {}", v.json);
    assert!((100..200).contains(&e.code), "{what}: {}", v.json);
    assert!(v.json.contains(kind), "{what}: {}", v.json);
}

#[test]
fn bad_events_give_error_verdicts_and_pass_through_never_a_trap() {
    let mut validating = Detector::new(Some(VALIDATE), None).unwrap();
    let mut default = Detector::new(None, None).unwrap();
    for (what, bytes, kind) in bad_events() {
        assert_error(what, &validating.tag(&bytes).unwrap(), kind);
        // With the prefilter on, the event may be passed on unread, but
        // still unchanged and with one verdict.
        let t = default.tag(&bytes).unwrap_or_else(|e| panic!("{what}: trapped: {e:#}"));
        assert_eq!((t.output, t.verdicts.len()), (Output::Unchanged, 1), "{what}");
        let v = validating.evaluate(&bytes).unwrap();
        assert_eq!(v.len(), 1, "{what}");
    }
    // 128 levels are allowed; the instance still works after all that.
    let ok = validating.tag(&nested(100)).unwrap();
    assert_ne!(ok.verdicts[0].status, Status::Error, "{}", ok.verdicts[0].json);
    let stats = validating.stats().unwrap();
    assert_eq!(stats.errors, 2 * bad_events().len() as u64, "{stats:?}");
}

#[test]
fn batch_is_tag_on_each_in_order() {
    let events: Vec<Vec<u8>> = std::iter::once(nested(3)).chain(bad_events().into_iter().map(|(_, b, _)| b)).collect();
    let mut one = Detector::new(None, None).unwrap();
    let mut each = Detector::new(None, None).unwrap();
    let batched = one.batch(&events).unwrap();
    let tagged: Vec<TagResult> = events.iter().map(|e| each.tag(e).unwrap()).collect();
    assert_eq!(batched, tagged);
    assert_eq!(one.stats().unwrap(), each.stats().unwrap());
}

#[test]
fn the_event_limit_comes_from_the_config() {
    assert_eq!(Detector::new(None, None).unwrap().max_event_bytes().unwrap(), 1 << 20);
    let mut small = Detector::new(Some(r#"{"input":{"max_event_bytes":4096}}"#), None).unwrap();
    assert_eq!(small.max_event_bytes().unwrap(), 4096);
}
