//! The Fluent Bit module driven exactly as Fluent Bit drives it
//! (`modwatch_host_test::fluent_bit`), snapshotted as it ships: no trap, no
//! dropped record, and the same output as the component's `tag` for every
//! event, in order, through one instance of each (scoring is stateful). With
//! too little stack or memory it fails visibly and recovers; the
//! configurations in docs/fluent-bit.md let every event it accepts through.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use modwatch::{Detector, Output, Status};
use modwatch_host_test::fluent_bit::{
    Answer, FILTER, FLUENT_BIT, FLUENT_BIT_SIGMA, FLUENT_BIT_SIGMA_RULES, FluentBit, Options, TANK, snapshotted,
};
use modwatch_testkit::corpus;
use wasmtime::{Engine, ExternType, Module, ValType};

/// Looks like a candidate to the prefilter, so the engine has to decode it.
const EC2: &str = r#""eventSource":"ec2.amazonaws.com","eventName":"RunInstances""#;

/// A generous wasmtime stack (docs/fluent-bit.md, "Stack and memory"): the
/// deepest candidate record the engine parses must pass in this much
/// wasmtime stack.
const STACK_BYTES: usize = 64 << 10;

/// wasm stacks (wasmtime), 1 KiB apart, to find the smallest that tags a
/// record (from 2 KiB: a match needs less than 4 KiB since the engine's bulky
/// steps stay out of line).
const SMALL_STACKS: [usize; 11] =
    [2 << 10, 3 << 10, 4 << 10, 5 << 10, 6 << 10, 7 << 10, 8 << 10, 9 << 10, 10 << 10, 11 << 10, 12 << 10];

fn nested(depth: usize) -> Vec<u8> {
    format!("{{{EC2},\"x\":{}1{}}}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

/// A matching CloudTrail record, padded to `len` bytes with a field rules never read.
fn terminate(len: usize) -> Vec<u8> {
    let head = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"},"eventTime":"2024-03-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.7","requestParameters":{"instancesSet":{"items":[{"instanceId":"i-0abc"}]}},"pad":""#;
    let pad = len.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "p".repeat(pad)).into_bytes()
}

/// Every bad input of the component's tests, and a few Fluent Bit can send.
fn bad_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mut invalid_utf8 = format!("{{{EC2},\"x\":\"").into_bytes();
    invalid_utf8.extend_from_slice(b"\xff\xfe\"}");
    vec![
        ("invalid UTF-8", invalid_utf8),
        ("invalid JSON", format!("{{{EC2},").into_bytes()),
        ("not an object", format!("[{{{EC2}}}, 1]").into_bytes()),
        ("a 2 MiB event", format!("{{{EC2},\"x\":\"{}\"}}", "a".repeat(2 << 20)).into_bytes()),
        ("200-deep nesting", nested(200)),
        ("1,000-deep nesting, a candidate", nested(1000)),
        (
            "1,000-deep nesting, not a candidate",
            format!("{{\"x\":{}1{}}}", "[".repeat(1000), "]".repeat(1000)).into_bytes(),
        ),
        ("an empty record", Vec::new()),
        ("whitespace", b"   ".to_vec()),
        ("an empty object", b"{}".to_vec()),
        (
            "escapes hiding an operation",
            br#"{"eventSource":"ec2.amazonaws.com","eventName":"\u0054erminateInstances"}"#.to_vec(),
        ),
        ("a string, not an object", br#""TerminateInstances""#.to_vec()),
        ("a number", b"1578".to_vec()),
        ("a record over 8 KiB", terminate(20 << 10)),
        ("a non-matching record over 8 KiB", format!("{{\"log\":\"{}\"}}", "x".repeat(64 << 10)).into_bytes()),
        ("a 128-deep candidate", nested(127)),
    ]
}

/// One event through both; the failures found.
fn compare(
    what: &str,
    record: &[u8],
    fb: &mut FluentBit,
    component: &mut Detector,
    matches: &mut usize,
) -> Vec<String> {
    let tagged = component.tag(record).unwrap_or_else(|e| panic!("{what}: the component failed: {e:#}"));
    let answer = match fb.filter("cloudtrail", 1_709_287_200, 0, record) {
        Ok(answer) => answer,
        Err(e) => return vec![format!("{what}: trapped (Fluent Bit would drop the record): {e:#}")],
    };
    let is_match = tagged.verdicts.iter().any(|v| v.status == Status::Match);
    *matches += usize::from(is_match);
    let show = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned();
    let same = match (&tagged.output, &answer) {
        (Output::Unchanged, Answer::Unchanged) => !is_match,
        (Output::Replaced(want), Answer::Replaced(got)) => want == got && is_match,
        _ => false,
    };
    if same {
        return Vec::new();
    }
    let want = match &tagged.output {
        Output::Replaced(b) => format!("Replaced({})", show(b)),
        other => format!("{other:?}"),
    };
    let got = match &answer {
        Answer::Replaced(b) => format!("Replaced({})", show(b)),
        other => format!("{other:?}"),
    };
    vec![format!("{what}\n    event:      {}\n    component:  {want}\n    fluent-bit: {got}", show(record))]
}

#[test]
fn the_module_imports_nothing_and_exports_fluent_bits_abi() {
    for bytes in [FLUENT_BIT, snapshotted().unwrap()] {
        exports_fluent_bits_abi(bytes);
    }
}

fn exports_fluent_bits_abi(bytes: &[u8]) {
    let module = Module::new(&Engine::default(), bytes).unwrap();
    let imports: Vec<String> = module.imports().map(|i| format!("{}::{}", i.module(), i.name())).collect();
    assert!(imports.is_empty(), "the module imports {imports:?}; Fluent Bit provides nothing to it");
    let func = |name: &str| match module.get_export(name) {
        Some(ExternType::Func(f)) => {
            (f.params().map(|t| t.to_string()).collect(), f.results().map(|t| t.to_string()).collect())
        }
        other => panic!("`{name}` is not an exported function: {other:?}"),
    };
    let i32s = |n: usize| vec![ValType::I32.to_string(); n];
    // WAMR uses the module's allocator only for exactly these signatures.
    assert_eq!(func("malloc"), (i32s(1), i32s(1)));
    assert_eq!(func("free"), (i32s(1), Vec::<String>::new()));
    assert_eq!(func(FILTER), (i32s(6), i32s(1)));
    assert!(matches!(module.get_export("memory"), Some(ExternType::Memory(_))));
}

#[test]
fn corpus_and_bad_inputs_give_the_components_output_with_no_trap_and_no_drop() {
    let mut fb = FluentBit::new().unwrap();
    let mut component = Detector::new(None, None).unwrap();
    let (mut failures, mut matches, mut events) = (Vec::new(), 0, 0);
    let mut run = |what: &str, record: &[u8]| {
        events += 1;
        failures.extend(compare(what, record, &mut fb, &mut component, &mut matches));
    };
    let corpus = corpus::events();
    assert!(corpus.len() >= 80, "the corpus has {} events", corpus.len());
    for e in &corpus {
        run(&e.id, &e.event);
    }
    for file in ["s3-batch.json", "azure-records-batch.json"] {
        run(file, corpus::read(file).trim().as_bytes());
    }
    for (what, record) in bad_inputs() {
        run(what, &record);
    }
    // The generated mix: both clouds, raw and ECS, scoring that crosses the threshold.
    for (i, event) in modwatch_testkit::r#gen::mix(3_000, 1578).iter().enumerate() {
        run(&format!("mix #{i}"), event.as_bytes());
    }
    // The corpus again: the principals' windows now hold points, so scores and alerts differ.
    for e in &corpus {
        run(&format!("{} (again)", e.id), &e.event);
    }
    assert!(failures.is_empty(), "{} of {events} events differ:\n{}", failures.len(), failures.join("\n"));
    assert!(matches >= 100, "only {matches} matches: the comparison proves little");
}

/// Built with `output.routing_fields`, the module adds the principal key and
/// partition token to every recognised record, matching or not, exactly as
/// the component with that config does; the token is the engine's.
#[test]
fn the_routing_module_routes_every_recognised_record_as_the_component_does() {
    const ROUTING: &str = r#"{"output":{"routing_fields":true}}"#;
    let mut fb = FluentBit::with_options(Options { routing: true, ..Options::default() }).unwrap();
    let mut component = Detector::new(Some(ROUTING), None).unwrap();
    let (mut failures, mut routed, mut unmatched) = (Vec::new(), 0, 0);
    let events = corpus::events().into_iter().map(|e| (e.id, e.event));
    let mix = modwatch_testkit::r#gen::mix(500, 13)
        .into_iter()
        .enumerate()
        .map(|(i, e)| (format!("mix #{i}"), e.into_bytes()));
    for (what, record) in events.chain(mix) {
        let tagged = component.tag(&record).unwrap();
        let answer =
            fb.filter("cloudtrail", 1_709_287_200, 0, &record).unwrap_or_else(|e| panic!("{what}: trapped: {e:#}"));
        let got = match &answer {
            Answer::Replaced(bytes) => bytes.clone(),
            Answer::Unchanged => record.clone(),
            Answer::Dropped => panic!("{what}: dropped"),
        };
        let want = match &tagged.output {
            Output::Replaced(bytes) => bytes.clone(),
            _ => record.clone(),
        };
        if got != want {
            failures.push(format!(
                "{what}\n    component:  {}\n    fluent-bit: {}",
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&got)
            ));
            continue;
        }
        let Some(key) = tagged.verdicts.first().and_then(|v| v.principal.as_ref()).map(|p| p.key.clone()) else {
            continue;
        };
        let out: serde_json::Value = serde_json::from_slice(&got).unwrap();
        assert_eq!(out["modwatch"]["principal_key"], key.as_str(), "{what}");
        assert_eq!(out["modwatch"]["partition"], modwatch_engine::partition_token(&key).as_str(), "{what}");
        routed += 1;
        unmatched += usize::from(tagged.verdicts.iter().all(|v| v.status != Status::Match));
    }
    assert!(failures.is_empty(), "{} events differ:\n{}", failures.len(), failures.join("\n"));
    assert!(routed >= 400 && unmatched >= 300, "{routed} routed, {unmatched} of them not matches");
}

/// A Sigma pack embedded at build time (`MODWATCH_FB_RULES`) tags as the
/// component with the same pack does, on the Sigma parity events, whose
/// verdicts in the component are the golden ones (`tests/corpus.rs`). The
/// module also carries the correlation pack (`tests/correlation.rs`).
#[test]
fn an_embedded_sigma_pack_gives_the_components_output() {
    assert!(FLUENT_BIT_SIGMA_RULES.contains(&corpus::sigma_pack()));
    let mut fb = FluentBit::from_build(FLUENT_BIT_SIGMA).unwrap();
    let mut component = Detector::new(None, Some(FLUENT_BIT_SIGMA_RULES)).unwrap();
    let (mut failures, mut matches) = (Vec::new(), 0);
    let events = corpus::sigma_events();
    for (id, event) in &events {
        failures.extend(compare(id, event, &mut fb, &mut component, &mut matches));
    }
    assert!(failures.is_empty(), "{} of {} events differ:\n{}", failures.len(), events.len(), failures.join("\n"));
    assert!(matches >= 8, "only {matches} matches: the comparison proves little");
}

#[test]
fn records_over_8_kib_and_1000_deep_pass_or_are_tagged() {
    let mut fb = FluentBit::new().unwrap();
    for size in [8 << 10, (8 << 10) + 1, 100 << 10, 1 << 20] {
        let record = terminate(size);
        let Answer::Replaced(out) = fb.filter("t", 0, 0, &record).unwrap() else { panic!("{size} bytes: not tagged") };
        assert!(out.starts_with(&record[..record.len() - 1]) && out.len() > record.len(), "{size} bytes");
        assert!(String::from_utf8_lossy(&out).contains("\"T1578\""), "{size} bytes");
        let plain = format!("{{\"log\":\"{}\"}}", "x".repeat(size));
        assert_eq!(fb.filter("t", 0, 0, plain.as_bytes()).unwrap(), Answer::Unchanged, "{size} bytes");
    }
    // Over `input.max_event_bytes` (1 MiB): refused by the engine, still passed on.
    assert_eq!(fb.filter("t", 0, 0, &terminate(3 << 20)).unwrap(), Answer::Unchanged);
    // Up to `input.max_depth` (128, the object itself counting as one level)
    // the record is parsed and, being a RunInstances, tagged; deeper ones are
    // refused before any parse and passed on untouched.
    for depth in [126, 127] {
        assert!(matches!(fb.filter("t", 0, 0, &nested(depth)).unwrap(), Answer::Replaced(_)), "{depth} deep");
    }
    for depth in [128, 1000, 100_000] {
        assert_eq!(fb.filter("t", 0, 0, &nested(depth)).unwrap(), Answer::Unchanged, "{depth} deep");
    }
}

#[test]
fn the_deepest_parsed_record_needs_no_more_stack_than_documented() {
    let mut fb = FluentBit::with_options(Options { max_wasm_stack: Some(STACK_BYTES), ..Options::default() }).unwrap();
    // The deepest record the engine parses (`input.max_depth`): the deepest
    // recursion there is.
    let mut validating = Detector::new(Some(r#"{"input":{"validate":true}}"#), None).unwrap();
    let deepest = (100..=127).rev().find(|&d| validating.tag(&nested(d)).unwrap().verdicts[0].status != Status::Error);
    let deepest = deepest.expect("a record nested 101 deep must be parsed");
    assert!(deepest >= 120, "only {deepest} levels parse");
    for record in [nested(deepest), nested(1000), terminate(100 << 10)] {
        fb.filter("t", 0, 0, &record).unwrap_or_else(|e| panic!("trapped with {STACK_BYTES} bytes of stack: {e:#}"));
    }
}

#[test]
fn a_null_record_is_answered_with_empty_and_malloc_never_traps() {
    let mut fb = FluentBit::new().unwrap();
    // Fluent Bit passes NULL when the copy into the module failed: "" is the only safe answer.
    assert_eq!(fb.filter_null_record("t", 10).unwrap(), Answer::Dropped);
    // More than linear memory can hold: 0, not a trap (WAMR then passes NULL).
    assert_eq!(fb.malloc(u32::MAX - 1).unwrap(), 0);
    // Large blocks come back and are reused: memory does not grow per record.
    let ptr = fb.malloc(256 << 20).unwrap();
    assert_ne!(ptr, 0, "a 256 MiB record must fit");
    fb.free(ptr).unwrap();
    let record = terminate(64 << 10);
    fb.filter("t", 0, 0, &record).unwrap();
    let pages = fb.memory_bytes();
    for _ in 0..200 {
        assert!(matches!(fb.filter("t", 0, 0, &record).unwrap(), Answer::Replaced(_)));
    }
    assert_eq!(fb.memory_bytes(), pages, "memory grew over 200 records of the same size: a leak");
    fb.free(0).unwrap();
}

#[test]
fn state_persists_across_calls_so_an_alert_is_raised() {
    let mut fb = FluentBit::new().unwrap();
    let outputs: Vec<String> = (0..5)
        .map(|_| match fb.filter("t", 0, 0, &terminate(2048)).unwrap() {
            Answer::Replaced(out) => String::from_utf8(out).unwrap(),
            other => panic!("not tagged: {other:?}"),
        })
        .collect();
    // 3 points each: the threshold of 10 is crossed on the fourth (a duplicate scores 0 only with an eventID).
    assert!(outputs.iter().any(|o| o.contains("\"alert\"")), "no alert after 5 terminations: {outputs:?}");
}

/// The `modwatch.error` object of a replaced record.
fn module_error(answer: &Answer) -> serde_json::Value {
    let Answer::Replaced(out) = answer else { panic!("not replaced: {answer:?}") };
    let out: serde_json::Value = serde_json::from_slice(out).unwrap();
    out["modwatch"]["error"].clone()
}

fn is_tagged(answer: &Answer) -> bool {
    matches!(answer, Answer::Replaced(out) if String::from_utf8_lossy(out).contains("\"T1578\""))
}

/// The smallest of [`SMALL_STACKS`] at which the snapshot tags `record`,
/// with that instance.
fn smallest_stack_that_tags(record: &[u8]) -> Option<(usize, FluentBit)> {
    SMALL_STACKS.iter().find_map(|&bytes| {
        let options = Options { max_wasm_stack: Some(bytes), ..Options::default() };
        let mut fb = FluentBit::with_options(options).unwrap();
        fb.filter("t", 0, 0, record).is_ok_and(|a| is_tagged(&a)).then_some((bytes, fb))
    })
}

/// Nothing in the engine recurses on a record's nesting (the parser, the
/// walks of rules and normalisers, the output writer): a matching record 120
/// levels deep is tagged in the smallest stack that tags a flat one, and that
/// stack is within Fluent Bit's default (`wasm_stack_size` 8K; here wasmtime's
/// stack of compiled code, which WAMR's interpreter needs more of).
#[test]
fn a_deep_record_needs_no_more_stack_than_a_flat_one() {
    let (flat, mut fb) = smallest_stack_that_tags(&nested(0)).expect("no stack up to 12 KiB tags a flat record");
    for depth in [1, 30, 120, 126] {
        let answer =
            fb.filter("t", 0, 0, &nested(depth)).unwrap_or_else(|e| panic!("{depth} deep, {flat} bytes: {e:#}"));
        assert!(is_tagged(&answer), "{depth} deep, {flat} bytes: {answer:?}");
    }
    assert!(flat <= 8 << 10, "a flat record needs {flat} bytes of stack");
    // The other way round: the deep record needs all of that stack too.
    let (deep, _) = smallest_stack_that_tags(&nested(120)).expect("no stack up to 12 KiB tags a deep record");
    assert_eq!(deep, flat);
}

/// A trap mid-record costs that record only, as Fluent Bit drops a record
/// whose call trapped: the next record says so in `modwatch.error`, the
/// counter counts it, and detection goes on. The trap is the host cutting the
/// call short halfway through the record (out of fuel), as a stack or memory
/// that runs out would. Without the snapshot's stack reset the same holds.
#[test]
fn a_trap_mid_record_costs_that_record_only_and_says_so() {
    for as_built in [false, true] {
        let what = if as_built { "as built" } else { "snapshotted" };
        let mut fb = FluentBit::with_options(Options { fuel: true, as_built, ..Options::default() }).unwrap();
        // (As built, the first record builds the engine.)
        for _ in 0..2 {
            assert!(is_tagged(&fb.filter("t", 0, 0, &terminate(2048)).unwrap()), "{what}");
        }
        let spent = fb.fuel().unwrap();
        for round in 1..=3u32 {
            fb.set_fuel(spent.malloc + spent.filter / 2).unwrap();
            assert!(fb.filter("t", 0, 0, &terminate(2048)).is_err(), "{what}: half the fuel must trap");
            fb.set_fuel(TANK).unwrap();
            let next = fb.filter("t", 0, 0, br#"{"log":"next"}"#).unwrap();
            let error = module_error(&next);
            assert_eq!(error["code"], 500, "{what}: {error}");
            assert!(error["message"].as_str().unwrap().contains(&format!("{round} traps so far")), "{error}");
            assert_eq!(fb.errors().unwrap(), round);
            // Detection goes on, and the trap is reported once.
            assert_eq!(fb.filter("t", 0, 0, br#"{"log":"after"}"#).unwrap(), Answer::Unchanged, "{what}");
            let tagged = fb.filter("t", 0, 0, &terminate(2048)).unwrap();
            assert!(is_tagged(&tagged) && module_error(&tagged).is_null(), "{what}: {tagged:?}");
        }
    }
}

/// A wasm stack too small for tagging (flat or deep, any record that
/// matches) but enough for a record the prefilter passes: the matching record
/// traps and the next one carries `modwatch.error`.
#[test]
fn a_stack_too_small_to_tag_traps_that_record_only_and_says_so() {
    let (enough, _) = smallest_stack_that_tags(&terminate(2048)).expect("no stack up to 12 KiB tags a record");
    let small = SMALL_STACKS.iter().rev().copied().find(|&bytes| bytes < enough);
    let small = small.expect("the smallest stack tried tags a record: try smaller ones");
    let mut fb = FluentBit::with_options(Options { max_wasm_stack: Some(small), ..Options::default() }).unwrap();
    for round in 1..=2u32 {
        assert!(fb.filter("t", 0, 0, &terminate(2048)).is_err(), "{small} bytes: a matching record must trap");
        let next = fb.filter("t", 0, 0, br#"{"log":"next"}"#).unwrap();
        let error = module_error(&next);
        assert_eq!(error["code"], 500, "{error}");
        assert_eq!(fb.errors().unwrap(), round);
        assert_eq!(fb.filter("t", 0, 0, br#"{"log":"after"}"#).unwrap(), Answer::Unchanged);
    }
}

/// A module that must build its engine at run time with too little memory
/// for it: the build traps (that record is lost), every later record comes
/// out with `modwatch.error`, and once memory allows the retried build
/// succeeds and detection resumes. The snapshot builds nothing at run time.
#[test]
fn a_heap_too_small_for_the_engine_fails_visibly_and_recovers() {
    let mut fb = FluentBit::with_options(Options { as_built: true, ..Options::default() }).unwrap();
    fb.set_max_memory(Some(fb.memory_bytes() + (256 << 10)));
    assert!(fb.filter("t", 0, 0, &terminate(2048)).is_err(), "building in 256 KiB more must trap");
    // The failed build kept what it had allocated: memory is full. Once it
    // may grow again, records come out marked until the build is retried.
    fb.set_max_memory(None);
    let mut off = 0;
    let resumed = loop {
        let answer = fb.filter("t", 0, 0, &terminate(2048)).unwrap();
        let error = module_error(&answer);
        if error.is_null() {
            break answer;
        }
        assert_eq!(error["code"], 501, "{error}");
        assert!(!is_tagged(&answer), "tagged with detection off");
        off += 1;
        assert!(off < 100, "detection never resumed");
    };
    assert!(is_tagged(&resumed), "{resumed:?}");
    assert!(off >= 1, "{off}");
    assert_eq!(fb.errors().unwrap(), 1);
    // The snapshot starts with the engine built: the same memory is enough.
    let mut fb = FluentBit::new().unwrap();
    fb.set_max_memory(Some(fb.memory_bytes() + (256 << 10)));
    for _ in 0..50 {
        assert!(is_tagged(&fb.filter("t", 0, 0, &terminate(2048)).unwrap()));
    }
    assert_eq!(fb.errors().unwrap(), 0);
}

/// The tail input of the documented configurations (classic and YAML) lets
/// through every event the module accepts (`input.max_event_bytes`, 1 MiB,
/// plus the newline), skips longer lines instead of stopping, and the wasm
/// filter is set up as the module needs.
#[test]
fn the_documented_configurations_let_every_accepted_event_through() {
    // The engine's limit, from the engine: the largest event it accepts.
    let mut engine = modwatch_engine::Engine::new(None, None).unwrap();
    let at = |n: usize| format!("{{\"log\":\"{}\"}}", "x".repeat(n - 10)).into_bytes();
    assert_ne!(engine.evaluate(&at(MAX_EVENT_BYTES))[0].status, modwatch_engine::Status::Error);
    assert_eq!(engine.evaluate(&at(MAX_EVENT_BYTES + 1))[0].status, modwatch_engine::Status::Error);

    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/fluent-bit.md")).unwrap();
    let blocks = |lang: &str| -> Vec<String> {
        let fence = format!("```{lang}\n");
        docs.split(&fence).skip(1).filter_map(|rest| rest.split("```").next().map(str::to_string)).collect()
    };
    let classic: Vec<_> = blocks("text").into_iter().filter(|b| b.contains("[INPUT]")).collect();
    let yaml: Vec<_> = blocks("yaml").into_iter().filter(|b| b.contains("pipeline:")).collect();
    assert!(!classic.is_empty() && !yaml.is_empty(), "docs/fluent-bit.md lost its configurations");
    let mut sections = Vec::new();
    for block in &classic {
        sections.extend(classic_sections(block));
    }
    for block in &yaml {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(block).unwrap();
        for (kind, list) in [("INPUT", "inputs"), ("FILTER", "filters")] {
            for item in doc["pipeline"][list].as_sequence().unwrap() {
                let map = item.as_mapping().unwrap();
                let text = |v: &serde_yaml_ng::Value| match v {
                    serde_yaml_ng::Value::String(s) => s.clone(),
                    other => serde_yaml_ng::to_string(other).unwrap().trim().to_string(),
                };
                sections.push((kind.to_string(), map.iter().map(|(k, v)| (text(k), text(v))).collect()));
            }
        }
    }
    let (mut tails, mut filters) = (0, 0);
    for (kind, keys) in &sections {
        let get = |k: &str| keys.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str());
        if kind == "INPUT" && get("name") == Some("tail") {
            tails += 1;
            let max = get("buffer_max_size").map(fluent_bit_size).expect("tail without buffer_max_size");
            let chunk = get("buffer_chunk_size").map(fluent_bit_size).expect("tail without buffer_chunk_size");
            assert!(
                max > MAX_EVENT_BYTES,
                "buffer_max_size {max} cannot hold a {MAX_EVENT_BYTES}-byte event and its newline"
            );
            assert!(chunk <= max, "buffer_chunk_size {chunk} over buffer_max_size {max}");
            assert!(
                matches!(get("skip_long_lines"), Some("on" | "true")),
                "longer lines must be skipped, not stop the file"
            );
        }
        if kind == "FILTER" && get("name") == Some("wasm") {
            filters += 1;
            assert_eq!(get("event_format"), Some("json"));
            assert_eq!(get("function_name"), Some(FILTER));
            // The documented configurations run at Fluent Bit's default
            // stack: the module's stack does not grow with a record's
            // nesting (`a_deep_record_needs_no_more_stack_than_a_flat_one`).
            assert_eq!(get("wasm_stack_size"), None, "the documented filter needs no stack setting");
        }
    }
    assert_eq!((tails, filters), (classic.len() + yaml.len(), classic.len() + yaml.len()));
}

/// `input.max_event_bytes` by default.
const MAX_EVENT_BYTES: usize = 1 << 20;

/// The `[SECTION]`s of a classic configuration, each with its keys.
fn classic_sections(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push((name.to_ascii_uppercase(), Vec::new()));
        } else if let Some((_, keys)) = sections.last_mut() {
            let (key, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            keys.push((key.to_string(), value.trim().to_string()));
        }
    }
    sections
}

/// A size as Fluent Bit reads one (`flb_utils_size_to_bytes`): K, M and G
/// are powers of 1,000.
fn fluent_bit_size(text: &str) -> usize {
    let text = text.trim().to_ascii_uppercase();
    let text = text.strip_suffix('B').unwrap_or(&text);
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let n: usize = digits.parse().unwrap_or_else(|_| panic!("not a size: {text}"));
    n * match unit {
        "" => 1,
        "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        other => panic!("unknown size unit {other}"),
    }
}
