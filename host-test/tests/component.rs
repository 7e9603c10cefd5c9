//! The component itself in wasmtime: what it imports, how it refuses bad rule
//! packs, and that bad events give error verdicts instead of traps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use modwatch::{COMPONENT, Chunk, Detector, DetectorError, LoadError, Output, Status, TagResult};
use modwatch_testkit::corpus;
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
    assert_eq!(exports, ["modwatch:detector/detection@0.4.0"]);
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
fn warnings_cross_the_interface_with_rule_and_position() {
    // A Sigma rule whose logsource modwatch does not read loads, never
    // matches, and says so; a pack without such rules has no warning.
    let pack = "# modwatch-file: rules/windows.yml\ntitle: Windows\nid: 00000000-0000-4000-8000-00000000000c\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    sel:\n        Image|endswith: '\\cmd.exe'\n    condition: sel\n";
    let mut detector = Detector::new(None, Some(pack)).unwrap();
    let warnings = detector.warnings().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert_eq!((w.code, w.kind.as_str()), (206, "rule_unsupported"), "{w}");
    assert_eq!(w.rule_id.as_deref(), Some("00000000-0000-4000-8000-00000000000c"), "{w}");
    assert_eq!(w.line, Some(4), "the logsource's line: {w}");
    assert!(w.column.is_some(), "{w}");
    assert!(w.message.starts_with("rules/windows.yml: logsource (product: windows"), "{w}");
    assert!(Detector::new(None, None).unwrap().warnings().unwrap().is_empty());
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

/// With `output.routing_fields`, a recognised record that matches no rule
/// comes back with its principal key and the engine's partition token.
#[test]
fn routing_fields_are_added_to_a_record_that_does_not_match() {
    let mut detector = Detector::new(Some(r#"{"output":{"routing_fields":true}}"#), None).unwrap();
    let event = br#"{"eventVersion":"1.08","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/ops/alice","accountId":"111122223333","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/ops","userName":"ops"}}},"recipientAccountId":"111122223333"}"#;
    let t = detector.tag(event).unwrap();
    assert_eq!(t.verdicts[0].status, Status::NoMatch);
    let key = t.verdicts[0].principal.as_ref().map(|p| p.key.clone()).unwrap();
    let Output::Replaced(bytes) = t.output else { panic!("the routing fields are added") };
    let out: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(out["modwatch"]["principal_key"], key.as_str());
    assert_eq!(out["modwatch"]["partition"], modwatch_engine::partition_token(&key).as_str());
    let mut engine = modwatch_engine::Engine::new(Some(r#"{"output":{"routing_fields":true}}"#), None).unwrap();
    assert_eq!(engine.evaluate(event)[0].partition_token().as_deref(), out["modwatch"]["partition"].as_str());
    // Without the setting, the same event passes unchanged.
    assert_eq!(Detector::new(None, None).unwrap().tag(event).unwrap().output, Output::Unchanged);
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

/// The corpus, the bad events, a batch object and an event the config turns
/// into an error output: every kind of output and verdict a chunk returns.
fn chunk_events() -> Vec<Vec<u8>> {
    let mut events: Vec<Vec<u8>> = corpus::events().into_iter().map(|e| e.event).collect();
    events.extend(bad_events().into_iter().map(|(_, b, _)| b));
    events.push(corpus::read("s3-batch.json").into_bytes());
    events.push(Vec::new());
    events
}

#[test]
fn a_chunk_is_tag_on_each_with_only_what_changed_coming_back() {
    let events = chunk_events();
    for config in [None, Some(VALIDATE), Some(r#"{"output":{"mode":"drop-non-matches"}}"#)] {
        let mut chunked = Detector::new(config, None).unwrap();
        let mut each = Detector::new(config, None).unwrap();
        let mut chunk = Chunk::default();
        for e in &events {
            chunk.push(e).unwrap();
        }
        let result = chunked.tag_chunk(&chunk).unwrap();
        let tagged: Vec<TagResult> = events.iter().map(|e| each.tag(e).unwrap()).collect();
        let records: usize = tagged.iter().map(|t| t.verdicts.len()).sum();
        assert_eq!(result.records as usize, records, "{config:?}");
        // Nothing unchanged and no plain no-match crossed back.
        let changed = tagged.iter().filter(|t| t.output != Output::Unchanged).count();
        assert_eq!(result.replaced.len() + result.dropped.len(), changed, "{config:?}");
        assert!(result.verdicts.iter().all(|v| v.verdict.status != Status::NoMatch), "{config:?}");
        assert!(result.verdicts.len() < records, "{config:?}: the corpus has plain no-matches");
        let expected: Vec<TagResult> = tagged
            .into_iter()
            .map(|mut t| {
                t.verdicts.retain(|v| v.status != Status::NoMatch);
                t
            })
            .collect();
        assert_eq!(result.per_event(events.len()), expected, "{config:?}");
        assert_eq!(chunked.stats().unwrap(), each.stats().unwrap(), "{config:?}");
    }
}

#[test]
fn tag_events_goes_through_the_chunk_in_order() {
    let events = chunk_events();
    let mut chunked = Detector::new(None, None).unwrap();
    let results = chunked.tag_events(&events).unwrap();
    assert_eq!(results.len(), events.len());
    let corpus = corpus::events();
    for (label, result) in corpus.iter().zip(&results) {
        let matched = result.verdicts.iter().any(|v| v.status == Status::Match);
        assert_eq!(matched, label.expect_match, "{}", label.id);
        assert_eq!(matches!(result.output, Output::Replaced(_)), matched, "{}", label.id);
    }
    assert!(Detector::new(None, None).unwrap().tag_events(&[] as &[Vec<u8>]).unwrap().is_empty());
}

#[test]
fn offsets_out_of_order_or_past_the_buffer_never_trap() {
    let mut detector = Detector::new(None, None).unwrap();
    let bytes = format!("{{{EC2}}}").into_bytes();
    let len = bytes.len() as u32;
    // Through the generated bindings, below `Chunk`, which never makes these.
    for ends in [vec![len, 3, len + 100], vec![u32::MAX], vec![0, 0, len]] {
        let result = detector.tag_chunk_raw(&bytes, &ends).unwrap();
        let events: Vec<u32> = result.verdicts.iter().map(|v| v.event).collect();
        assert!(events.iter().all(|&i| (i as usize) < ends.len()), "{ends:?}: {events:?}");
        assert!(result.records as usize >= ends.len(), "{ends:?}");
    }
    assert!(detector.tag(&bytes).unwrap().verdicts[0].status != Status::Error);
}
