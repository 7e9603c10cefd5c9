//! The hostile-input table (`docs/hardening.md`; the contract is `docs/design.md#invariants`), natively: each row is an input an
//! attacker or a broken shipper could send, with what the engine must do.
//! `docs/hardening.md` lists every row with the result observed here.
//!
//! Memory is measured with a counting allocator (`modwatch_testkit::counting`,
//! installed by `tests/main.rs`: live heap bytes of the test's own thread);
//! the tests of this file also run one at a time.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::sync::{Mutex, MutexGuard, PoisonError};

use modwatch_engine::{Engine, ErrorKind, Output, Status, Verdict};
use modwatch_testkit::counting::{live, peak_during as peak_heap};
use serde_json::Value;

/// One test at a time, so the heap counters are this test's.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn engine(config: Option<&str>) -> Engine {
    Engine::new(config, None).unwrap_or_else(|e| panic!("{e}"))
}

fn one(engine: &mut Engine, event: &[u8]) -> (Verdict, Output) {
    let mut tagged = engine.tag(event);
    assert_eq!(tagged.verdicts.len(), 1, "one verdict per single event");
    (tagged.verdicts.remove(0), tagged.output)
}

/// A TerminateInstances record by `user` whose `requestParameters` is
/// `params` (raw JSON) and with `extra` raw fields before the closing brace.
fn terminate(user: &str, time: &str, params: &str, extra: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/{user}","accountId":"111122223333","userName":"{user}"}},"eventTime":"{time}","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","sourceIPAddress":"203.0.113.7","requestParameters":{params},"eventType":"AwsApiCall","recipientAccountId":"111122223333"{extra}}}"#
    )
}

/// A RunInstances record whose `maxCount` is written as `count` (raw JSON).
fn run_instances(count: &str, extra: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"}},"eventTime":"2025-03-04T10:15:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","sourceIPAddress":"203.0.113.7","requestParameters":{{"instancesSet":{{"items":[{{"imageId":"ami-1","minCount":1,"maxCount":{count}}}]}}}},"eventType":"AwsApiCall","recipientAccountId":"111122223333"{extra}}}"#
    )
}

const ONE_ID: &str = r#"{"instancesSet":{"items":[{"instanceId":"i-0123456789abcdef0"}]}}"#;

/// What a row of the event table expects.
#[derive(Debug)]
enum Want {
    /// An error verdict with this kind; the event passes through unchanged.
    Error(ErrorKind),
    /// A match that scored this many points (the event is tagged).
    Scored(f64),
    /// A match with no time: tagged, and the verdict says so.
    MatchWithoutTime,
    /// Ruled out by the prefilter without a parse: no match, unchanged.
    NotParsed,
}

/// Invalid JSON, invalid UTF-8, deep nesting, numbers no machine type holds,
/// impossible times: each gives its verdict, nothing panics, and the event
/// passes through (errors) or is tagged (matches) with nothing of it changed.
#[test]
fn hostile_events() {
    let _serial = serial();
    let deep_arrays = terminate(
        "alice",
        "2025-03-04T10:15:00Z",
        ONE_ID,
        &format!(r#","x":{}1{}"#, "[".repeat(10_000), "]".repeat(10_000)),
    );
    let deep_objects = terminate(
        "alice",
        "2025-03-04T10:15:00Z",
        ONE_ID,
        &format!(r#","x":{}1{}"#, r#"{"a":"#.repeat(10_000), "}".repeat(10_000)),
    );
    let unclosed = terminate("alice", "2025-03-04T10:15:00Z", ONE_ID, &format!(r#","x":{}"#, "[".repeat(10_000)));
    let base = terminate("alice", "2025-03-04T10:15:00Z", ONE_ID, "");
    let t = |time: &str| terminate("alice", time, ONE_ID, "");
    let rows: Vec<(&str, Vec<u8>, Want)> = vec![
        ("invalid json: cut short", base.as_bytes()[..base.len() - 1].to_vec(), Want::Error(ErrorKind::InvalidJson)),
        ("invalid json: trailing garbage", format!("{base} }}").into_bytes(), Want::Error(ErrorKind::InvalidJson)),
        // No operation name in quotes: not a prefilter candidate, so not
        // parsed (`input.validate` would report it as invalid JSON).
        ("invalid json: single quotes", base.replace('"', "'").into_bytes(), Want::NotParsed),
        ("invalid json: NaN", run_instances("NaN", "").into_bytes(), Want::Error(ErrorKind::InvalidJson)),
        (
            "invalid json: lone surrogate escape",
            terminate("\\ud800", "2025-03-04T10:15:00Z", ONE_ID, "").into_bytes(),
            Want::Error(ErrorKind::InvalidJson),
        ),
        (
            "invalid json: raw control character",
            terminate("al\u{1}ice", "2025-03-04T10:15:00Z", ONE_ID, "").into_bytes(),
            Want::Error(ErrorKind::InvalidJson),
        ),
        (
            "invalid utf-8: 0xff",
            [&base.as_bytes()[..base.len() - 1], b",\"x\":\"\xff\"}"].concat(),
            Want::Error(ErrorKind::InvalidUtf8),
        ),
        (
            "invalid utf-8: overlong '/'",
            [&base.as_bytes()[..base.len() - 1], b",\"x\":\"\xc0\xaf\"}"].concat(),
            Want::Error(ErrorKind::InvalidUtf8),
        ),
        (
            "invalid utf-8: encoded surrogate",
            [&base.as_bytes()[..base.len() - 1], b",\"x\":\"\xed\xa0\x80\"}"].concat(),
            Want::Error(ErrorKind::InvalidUtf8),
        ),
        (
            "invalid utf-8: truncated sequence at the end",
            [base.as_bytes(), b"\xe2\x82"].concat(),
            Want::Error(ErrorKind::InvalidUtf8),
        ),
        ("10,000-deep arrays", deep_arrays.into_bytes(), Want::Error(ErrorKind::TooDeep)),
        ("10,000-deep objects", deep_objects.into_bytes(), Want::Error(ErrorKind::TooDeep)),
        ("10,000 unclosed brackets", unclosed.into_bytes(), Want::Error(ErrorKind::TooDeep)),
        // Numbers are kept as written (`arbitrary_precision`): a count no u64
        // holds is not a count, so the call scores as one resource.
        ("maxCount 1e400", run_instances("1e400", "").into_bytes(), Want::Scored(1.0)),
        ("maxCount 2^64+1", run_instances("18446744073709551617", "").into_bytes(), Want::Scored(1.0)),
        ("maxCount -5", run_instances("-5", "").into_bytes(), Want::Scored(1.0)),
        ("maxCount -0", run_instances("-0", "").into_bytes(), Want::Scored(1.0)),
        ("maxCount 1e3 (not a whole-number literal)", run_instances("1e3", "").into_bytes(), Want::Scored(1.0)),
        ("maxCount \"7\" (a digit string)", run_instances("\"7\"", "").into_bytes(), Want::Scored(7.0)),
        ("maxCount 2^64-1: capped", run_instances("18446744073709551615", "").into_bytes(), Want::Scored(10.0)),
        ("maxCount 1e-400", run_instances("1e-400", "").into_bytes(), Want::Scored(1.0)),
        (
            "eventTime a number 1e400",
            terminate("alice", "x", ONE_ID, "").replace(r#""eventTime":"x""#, r#""eventTime":1e400"#).into_bytes(),
            Want::MatchWithoutTime,
        ),
        ("eventTime offset +99:99", t("2025-03-04T10:15:00+99:99").into_bytes(), Want::Scored(3.0)),
        ("eventTime 1e400 seconds as text", t("1e400").into_bytes(), Want::MatchWithoutTime),
        ("eventTime year 0000", t("0000-01-01T00:00:00Z").into_bytes(), Want::Scored(3.0)),
        ("eventTime year 9999", t("9999-12-31T23:59:60Z").into_bytes(), Want::Scored(3.0)),
        (
            "eventTime 40-digit fraction",
            t("2025-03-04T10:15:00.1234567890123456789012345678901234567890Z").into_bytes(),
            Want::Scored(3.0),
        ),
        ("eventTime month 13", t("2025-13-04T10:15:00Z").into_bytes(), Want::MatchWithoutTime),
    ];
    let mut failures = Vec::new();
    let mut engine = engine(None);
    for (i, (name, event, want)) in rows.into_iter().enumerate() {
        // Each row by its own principal, so rows do not share a window (no
        // late-event or duplicate effects between them).
        let event = rename(&event, i);
        let (v, output) = one(&mut engine, &event);
        let ok = match &want {
            Want::Error(kind) => {
                v.status == Status::Error
                    && v.error.as_ref().is_some_and(|e| e.code == kind.code())
                    && output == Output::Unchanged
            }
            Want::Scored(points) => {
                v.status == Status::Match
                    && v.score.as_ref().is_some_and(|s| s.points == *points)
                    && matches!(&output, Output::Replaced(b) if b.starts_with(&event[..event.len() - 1]))
            }
            Want::MatchWithoutTime => v.status == Status::Match && matches!(output, Output::Replaced(_)),
            Want::NotParsed => v.status == Status::NoMatch && output == Output::Unchanged,
        };
        if !ok {
            failures.push(format!("{name}: expected {want:?}, got {}", v.to_json()));
        }
    }
    assert!(failures.is_empty(), "{} rows failed:\n{}", failures.len(), failures.join("\n"));
}

/// `event` with user `alice` renamed `u` + four digits (same length).
fn rename(event: &[u8], i: usize) -> Vec<u8> {
    let to = format!("u{i:04}");
    let mut out = Vec::with_capacity(event.len());
    let mut rest = event;
    while let Some(at) = rest.windows(5).position(|w| w == b"alice") {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to.as_bytes());
        rest = &rest[at + 5..];
    }
    out.extend_from_slice(rest);
    out
}

/// The same 10,000-deep event with `output.error_field`: refused, passed
/// through with `modwatch.error` spliced in, still valid JSON (the engine's
/// depth check runs before any parse, so nothing recursed 10,000 deep).
#[test]
fn deep_nesting_gets_an_error_field_when_asked() {
    let _serial = serial();
    let mut engine = engine(Some(r#"{"output":{"error_field":true}}"#));
    let event = terminate(
        "alice",
        "2025-03-04T10:15:00Z",
        ONE_ID,
        &format!(r#","x":{}1{}"#, "[".repeat(10_000), "]".repeat(10_000)),
    );
    let (v, output) = one(&mut engine, event.as_bytes());
    assert_eq!(v.error.as_ref().map(|e| e.code), Some(ErrorKind::TooDeep.code()), "{}", v.to_json());
    let Output::Replaced(bytes) = output else { panic!("no error field added") };
    // The event's own bytes after one spliced field (not parsed back: the
    // point is that nothing here recurses 10,000 deep).
    let text = String::from_utf8(bytes).unwrap();
    let (head, rest) = text.split_at(text.find(r#","eventVersion""#).unwrap());
    let tag: Value = serde_json::from_str(&format!("{head}}}")).unwrap();
    assert_eq!(tag["modwatch"]["error"]["code"], ErrorKind::TooDeep.code());
    assert_eq!(&rest[1..], &event[1..]);
}

/// 1,000,000 instance ids in one TerminateInstances (37 MB): over the default
/// 1 MiB limit it is refused before any parse (no memory, no time) and passes
/// through; with the limit raised it is judged, its bulk is capped at
/// `bulk_cap`, and the heap it needs is a small multiple of its size.
#[test]
fn a_million_instance_ids() {
    let _serial = serial();
    let start = std::time::Instant::now();
    let ids: Vec<String> = (0..1_000_000).map(|i| format!(r#"{{"instanceId":"i-{i:017x}"}}"#)).collect();
    let event = terminate(
        "alice",
        "2025-03-04T10:15:00Z",
        &format!(r#"{{"instancesSet":{{"items":[{}]}}}}"#, ids.join(",")),
        "",
    );
    drop(ids);
    println!("built in {:?}", start.elapsed());
    let size = event.len();
    assert!(size > 37_000_000, "{size} bytes");

    let mut default = engine(None);
    let ((v, output), heap) = peak_heap(|| one(&mut default, event.as_bytes()));
    assert_eq!(v.error.as_ref().map(|e| e.code), Some(ErrorKind::TooLarge.code()), "{}", v.to_json());
    assert_eq!(output, Output::Unchanged);
    assert!(heap < 64 * 1024, "refusing a {size}-byte event took {heap} bytes of heap");

    let mut raised = engine(Some(r#"{"input":{"max_event_bytes":67108864}}"#));
    let start = std::time::Instant::now();
    let ((v, output), heap) = peak_heap(|| one(&mut raised, event.as_bytes()));
    println!("1,000,000 ids judged and tagged in {:?}", start.elapsed());
    assert_eq!(v.status, Status::Match, "{}", v.to_json());
    let score = v.score.as_ref().unwrap();
    assert_eq!(score.points, 30.0, "3 points x min(1,000,000, bulk_cap 10): {}", v.to_json());
    assert!(score.reasons.iter().any(|r| r == "bulk"), "{}", v.to_json());
    let Output::Replaced(bytes) = output else { panic!("not tagged") };
    assert!(bytes.starts_with(&event.as_bytes()[..size - 1]), "the event's own bytes are kept");
    println!(
        "1,000,000 ids: {size} bytes, peak heap while judging and tagging {heap} bytes ({:.1}x)",
        heap as f64 / size as f64
    );
    // The parsed tree (one map per id) plus the tagged copy: measured about
    // 7x; 12x leaves room for allocator growth policy.
    assert!(heap < 12 * size, "peak heap {heap} bytes for a {size}-byte event");
}

/// Principal spraying: more distinct principals than `scoring.max_principals`.
/// The tracked count stays at the cap, every extra principal is an eviction,
/// the live heap stops growing at the cap, and the exported state is bounded
/// by the cap. (`benches/scoring.rs` runs the full 1,000,000 against the
/// default cap of 100,000.)
#[test]
fn principal_spraying_stays_under_the_cap() {
    let _serial = serial();
    const CAP: usize = 500;
    const SPRAY: usize = 5_000;
    let mut engine = engine(Some(&format!(r#"{{"scoring":{{"max_principals":{CAP}}}}}"#)));
    let event = |n: usize| {
        let time = format!("2025-03-04T{:02}:{:02}:00Z", 10 + n / 3600, (n / 60) % 60);
        terminate(&format!("user-{n:08}"), &time, ONE_ID, &format!(r#","eventID":"e-{n}""#))
    };
    let live_before = live();
    for n in 0..CAP {
        assert_eq!(one(&mut engine, event(n).as_bytes()).0.status, Status::Match);
    }
    let at_cap = live() - live_before;
    for n in CAP..SPRAY {
        one(&mut engine, event(n).as_bytes());
    }
    let after = live() - live_before;
    let stats = engine.stats();
    assert_eq!(stats.principals, CAP as u64);
    assert_eq!(stats.evictions, (SPRAY - CAP) as u64);
    assert_eq!(stats.matches, SPRAY as u64);
    println!("live heap: {at_cap} bytes at the cap of {CAP}, {after} bytes after {SPRAY} principals");
    assert!(after < at_cap + at_cap / 4, "the heap grew from {at_cap} to {after} bytes past the cap");
    // The key here is 45 bytes; the state per principal is fixed-size.
    let state = engine.export_state();
    let per_principal = state.len() / CAP;
    println!("exported state: {} bytes, {per_principal} per principal", state.len());
    assert!(state.len() < CAP * 2048, "exported state of {} bytes for {CAP} principals", state.len());
    assert!(Engine::bytes_per_principal(45) < 1024);
    // Importing it gives the same principals, still at the cap.
    let mut restarted = engine_with_cap(CAP);
    restarted.import_state(&state).unwrap();
    assert_eq!(restarted.stats().principals, CAP as u64);
    assert_eq!(restarted.export_state(), state);
}

fn engine_with_cap(cap: usize) -> Engine {
    engine(Some(&format!(r#"{{"scoring":{{"max_principals":{cap}}}}}"#)))
}

/// A one-rule pack (TOML) with `query`, and no examples.
fn pack(query: &str) -> String {
    format!("[[rule]]\nid = \"hostile\"\nname = \"hostile\"\nseverity = \"low\"\nquery = '''\n{query}\n'''\n")
}

/// Patterns that make backtracking matchers take exponential or quadratic
/// time, over a value of 1,000,000 characters that almost matches. They load,
/// and each event is judged in one pass: an exponential matcher would not
/// finish this test in any lifetime, a quadratic one would take hours.
#[test]
fn pathological_patterns_load_and_match_in_linear_time() {
    let _serial = serial();
    // 1,000,000 characters in a release build (`cargo test --release`), the
    // figures in docs/hardening.md; 200,000 in a debug build, where the
    // engine's own matcher is unoptimised. Either is far beyond what an
    // exponential matcher (2^n) or a quadratic one (n^2 steps) could finish.
    let n = if cfg!(debug_assertions) { 200_000 } else { 1_000_000 };
    let value = "a".repeat(n);
    let event = format!(r#"{{"eventSource":"ec2.amazonaws.com","eventName":"X","x":"{value}"}}"#);
    let near = format!(r#"{{"eventSource":"ec2.amazonaws.com","eventName":"X","x":"{value}b"}}"#);
    let config = r#"{"input":{"max_event_bytes":2000000}}"#;
    println!("value of {n} characters");
    let rows: [(&str, &str, bool); 8] = [
        ("regex (a+)+b", r#"any where x regex "(a+)+b""#, true),
        ("regex (a|aa)*b", r#"any where x regex "(a|aa)*b""#, true),
        ("regex (a*)*b, case-insensitive", r#"any where x regex~ "(a*)*B""#, true),
        ("regex .*a.*a.*a.*a.*b", r#"any where x regex ".*a.*a.*a.*a.*b""#, true),
        ("wildcard *a*a*a*a*a*a*b", r#"any where x : "*a*a*a*a*a*a*b""#, true),
        ("wildcard *a*a*a*a*a*a*b*, like", r#"any where x like "*a*a*a*a*a*a*b*""#, true),
        ("wildcard *a?a?a?a?a?b*", r#"any where x : "*a?a?a?a?a?b*""#, true),
        ("stringContains aaaaaaaab", r#"any where stringContains~(x, "aaaaaaaab")"#, true),
    ];
    for (name, query, near_matches) in rows {
        let start = std::time::Instant::now();
        let mut engine = Engine::new(Some(config), Some(&pack(query))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let loaded = start.elapsed();
        assert_eq!(one(&mut engine, event.as_bytes()).0.status, Status::NoMatch, "{name}");
        let no_match = start.elapsed() - loaded;
        let status = if near_matches { Status::Match } else { Status::NoMatch };
        assert_eq!(one(&mut engine, near.as_bytes()).0.status, status, "{name}");
        println!("{name}: load {loaded:?}, no-match {no_match:?}, total {:?}", start.elapsed());
    }
}

/// Patterns too big to compile are a load error naming the rule (E205), not
/// an out-of-memory: `regex-lite`'s size limit holds the compiled program to
/// 1 MiB, and the Lucene parser bounds nesting and repetition.
#[test]
fn giant_patterns_are_refused_at_load() {
    let _serial = serial();
    let alternatives: Vec<String> = (0..100_000).map(|i| format!("x{i:06}")).collect();
    let rows: Vec<(&str, String, u16)> = vec![
        ("nested repetition", r#"any where x regex "((a{1000}){1000}){1000}""#.to_string(), 205),
        ("repetition over the bound", r#"any where x regex "a{1001}""#.to_string(), 205),
        ("100,000 alternatives", format!(r#"any where x regex "{}""#, alternatives.join("|")), 205),
        ("groups nested 1,000 deep", format!(r#"any where x regex "{}a{}""#, "(".repeat(1000), ")".repeat(1000)), 205),
        ("query nested 10,000 deep", format!("any where {}x == \"a\"{}", "(".repeat(10_000), ")".repeat(10_000)), 203),
        ("10,000 nots", format!("any where {}x == \"a\"", "not ".repeat(10_000)), 203),
    ];
    for (name, query, code) in rows {
        let ((), heap) = peak_heap(|| match Engine::new(None, Some(&pack(&query))) {
            Ok(_) => panic!("{name}: loaded"),
            Err(errors) => {
                let codes: Vec<u16> = errors.errors().iter().map(|e| e.code()).collect();
                assert_eq!(codes, [code], "{name}: {errors}");
                assert!(errors.errors()[0].to_string().contains("rule \"hostile\""), "{name}: {errors}");
            }
        });
        println!("{name}: refused, peak heap {heap} bytes");
        assert!(heap < 256 << 20, "{name}: {heap} bytes of heap to refuse");
    }
}

/// Absurd configuration values are refused at load with the config codes
/// (300 syntax, 301 unknown key, 302 invalid value), each naming its key; an
/// engine already running is not affected.
#[test]
fn absurd_configs_are_refused() {
    let _serial = serial();
    let window = |w: &str| format!(r#"{{"scoring":{{"change_windows":[{w}]}}}}"#);
    let rows: Vec<(&str, String, u16, &str)> = vec![
        ("window 0", r#"{"scoring":{"window_minutes":0}}"#.into(), 302, "scoring.window_minutes"),
        ("window negative", r#"{"scoring":{"window_minutes":-15}}"#.into(), 302, "scoring.window_minutes"),
        (
            "window 10^20",
            r#"{"scoring":{"window_minutes":100000000000000000000}}"#.into(),
            302,
            "scoring.window_minutes",
        ),
        ("window 1.5", r#"{"scoring":{"window_minutes":1.5}}"#.into(), 302, "scoring.window_minutes"),
        ("window as text", r#"{"scoring":{"window_minutes":"15"}}"#.into(), 302, "scoring.window_minutes"),
        (
            "out of order 10^20",
            r#"{"scoring":{"out_of_order_minutes":1e20}}"#.into(),
            302,
            "scoring.out_of_order_minutes",
        ),
        ("threshold 0", r#"{"scoring":{"threshold":0}}"#.into(), 302, "scoring.threshold"),
        ("threshold negative", r#"{"scoring":{"threshold":-1}}"#.into(), 302, "scoring.threshold"),
        ("threshold 1e400", r#"{"scoring":{"threshold":1e400}}"#.into(), 302, "scoring.threshold"),
        ("bulk cap 0", r#"{"scoring":{"bulk_cap":0}}"#.into(), 302, "scoring.bulk_cap"),
        ("max principals 0", r#"{"scoring":{"max_principals":0}}"#.into(), 302, "scoring.max_principals"),
        (
            "max principals 10^12",
            r#"{"scoring":{"max_principals":1000000000000}}"#.into(),
            302,
            "scoring.max_principals",
        ),
        ("max depth 10^6", r#"{"input":{"max_depth":1000000}}"#.into(), 302, "input.max_depth"),
        ("max depth 0", r#"{"input":{"max_depth":0}}"#.into(), 302, "input.max_depth"),
        ("max event bytes 0", r#"{"input":{"max_event_bytes":0}}"#.into(), 302, "input.max_event_bytes"),
        (
            "max event bytes 2^63",
            r#"{"input":{"max_event_bytes":9223372036854775808}}"#.into(),
            302,
            "input.max_event_bytes",
        ),
        (
            "max event bytes 2^64+1",
            r#"{"input":{"max_event_bytes":18446744073709551617}}"#.into(),
            302,
            "input.max_event_bytes",
        ),
        (
            "multiplier 0.5",
            r#"{"scoring":{"outside_window_multiplier":0.5}}"#.into(),
            302,
            "scoring.outside_window_multiplier",
        ),
        ("ip points -2", r#"{"scoring":{"unfamiliar_ip":{"points":-2}}}"#.into(), 302, "scoring.unfamiliar_ip.points"),
        (
            "learning 10^9 hours",
            r#"{"scoring":{"unfamiliar_ip":{"learning_hours":1000000000}}}"#.into(),
            302,
            "learning_hours",
        ),
        (
            "CIDR /99",
            r#"{"scoring":{"unfamiliar_ip":{"known_networks":["10.0.0.0/99"]}}}"#.into(),
            302,
            "known_networks",
        ),
        (
            "CIDR /129 v6",
            r#"{"scoring":{"unfamiliar_ip":{"known_networks":["2001:db8::/129"]}}}"#.into(),
            302,
            "known_networks",
        ),
        (
            "CIDR /-1",
            r#"{"scoring":{"unfamiliar_ip":{"known_networks":["10.0.0.0/-1"]}}}"#.into(),
            302,
            "known_networks",
        ),
        (
            "CIDR 300.0.0.0/8",
            r#"{"scoring":{"unfamiliar_ip":{"known_networks":["300.0.0.0/8"]}}}"#.into(),
            302,
            "known_networks",
        ),
        ("points 10^9", r#"{"points":{"DELETE":1000000000}}"#.into(), 302, "points.DELETE"),
        ("day 9", window(r#"{"days":["9"],"start":"09:00","end":"17:00"}"#), 302, "days"),
        ("day as a number", window(r#"{"days":[9],"start":"09:00","end":"17:00"}"#), 302, "days"),
        ("no days", window(r#"{"days":[],"start":"09:00","end":"17:00"}"#), 302, "days"),
        ("start 25:00", window(r#"{"days":["mon"],"start":"25:00","end":"17:00"}"#), 302, "start"),
        ("end 23:60", window(r#"{"days":["mon"],"start":"09:00","end":"23:60"}"#), 302, "end"),
        ("start 9:00 (one digit)", window(r#"{"days":["mon"],"start":"9:00","end":"17:00"}"#), 302, "start"),
        ("start equals end", window(r#"{"days":["mon"],"start":"09:00","end":"09:00"}"#), 302, "start"),
        (
            "offset 30 h",
            window(r#"{"days":["mon"],"start":"09:00","end":"17:00","utc_offset":"+30:00"}"#),
            302,
            "utc_offset",
        ),
        (
            "offset -99:99",
            window(r#"{"days":["mon"],"start":"09:00","end":"17:00","utc_offset":"-99:99"}"#),
            302,
            "utc_offset",
        ),
        ("allow every principal", r#"{"allowlist":{"principals":["*"]}}"#.into(), 302, "allowlist.principals"),
        ("allow every user agent", r#"{"allowlist":{"user_agents":["?*"]}}"#.into(), 302, "allowlist.user_agents"),
        ("unknown key", r#"{"scoring":{"window":15}}"#.into(), 301, "scoring.window"),
        ("not JSON", "{scoring:{}}".into(), 300, "not valid JSON"),
        ("nested 10,000 deep", format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)), 300, "config"),
    ];
    let mut running = engine(None);
    let event = terminate("alice", "2025-03-04T10:15:00Z", ONE_ID, "");
    let mut failures = Vec::new();
    for (name, config, code, key) in rows {
        match Engine::new(Some(&config), None) {
            Ok(_) => failures.push(format!("{name}: accepted {config}")),
            Err(errors) => {
                let text = errors.to_string();
                if !errors.errors().iter().all(|e| e.code() == code) || !text.contains(key) {
                    failures.push(format!("{name}: expected E{code} naming {key:?}, got {text}"));
                }
            }
        }
        // The engine that was running still runs, with its own config.
        assert_eq!(one(&mut running, event.as_bytes()).0.status, Status::Match, "{name}");
    }
    assert!(failures.is_empty(), "{} rows failed:\n{}", failures.len(), failures.join("\n"));
}
