use serde_json::{Value, json};

use super::*;

fn cfg() -> Scoring {
    Scoring::default()
}

fn input<'a>(key: &'a str, time: &'a str, base: u32) -> Input<'a> {
    Input { key, time: Some(time), source_ip: None, dedup: None, base, bulk: 1, failed: false, lifecycle_only: false }
}

#[test]
fn buckets_slide() {
    let c = cfg();
    let mut s = Scorer::default();
    assert_eq!(s.score(&c, &input("a", "2026-01-01T00:00:00Z", 3)).principal_score, 3.0);
    assert_eq!(s.score(&c, &input("a", "2026-01-01T00:14:00Z", 3)).principal_score, 6.0);
    // 15 minutes after the first: it has left the window.
    assert_eq!(s.score(&c, &input("a", "2026-01-01T00:15:00Z", 3)).principal_score, 6.0);
    assert_eq!(s.score(&c, &input("a", "2026-01-01T00:29:00Z", 1)).principal_score, 4.0);
}

#[test]
fn lru_order_and_eviction() {
    let c = Scoring { max_principals: 3, ..cfg() };
    let mut s = Scorer::default();
    for k in ["a", "b", "c", "a", "d"] {
        s.score(&c, &input(k, "2026-01-01T00:00:00Z", 1));
    }
    assert_eq!(s.len(), 3);
    assert_eq!(s.evictions, 1);
    assert!(!s.principals.contains_key("b"), "b was the least recently seen");
    let exported: Value = serde_json::from_str(&s.export(&c, &[])).unwrap_or_default();
    let order: Vec<String> = exported["principals"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["key"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(order, vec!["c", "a", "d"]);
}

#[test]
fn export_import_round_trip() {
    let c = Scoring { learning_secs: 0, ..cfg() };
    let mut s = Scorer::default();
    let mut i = input("k", "2026-01-01T00:00:00Z", 3);
    i.source_ip = Some("198.51.100.1");
    i.dedup = Some("op-1");
    s.score(&c, &i);
    s.score(&c, &input("j", "2026-01-01T00:01:00Z", 2));
    let exported = s.export(&c, &[]);
    let mut t = Scorer::import(&c, &[], &exported).unwrap_or_default();
    assert_eq!(t.export(&c, &[]), exported);
    // The imported state remembers the IP and the operation.
    let again = t.score(&c, &i);
    assert_eq!(again.reasons, vec!["duplicate".to_string()]);
    for bad in ["", "{}", r#"{"format":"modwatch-state","version":1,"bucket_secs":7,"principals":[]}"#] {
        assert!(Scorer::import(&c, &[], bad).is_err(), "{bad}");
    }
    let broken = exported.replace("\"first_seen\":", "\"first_seen\":\"x\",\"was\":");
    assert!(Scorer::import(&c, &[], &broken).is_err());
}

#[test]
fn state_size_is_bounded() {
    // Fixed-size per principal; the measured figure is in docs/performance.md#scoring.
    let per = Scorer::bytes_per_principal(64);
    assert!(per <= 512, "{per} bytes per principal");
}

#[test]
fn eviction_follows_the_cap_of_each_call() {
    let c = Scoring { max_principals: 2, ..cfg() };
    let mut s = Scorer::default();
    for k in ["a", "b"] {
        s.score(&c, &input(k, "2026-01-01T00:00:00Z", 1));
    }
    // Teaching an IP makes a principal the most recently seen, too.
    s.teach(&c, "a", None, Some("198.51.100.1"));
    s.score(&c, &input("c", "2026-01-01T00:00:00Z", 1));
    assert_eq!((s.len(), s.evictions), (2, 1));
    assert!(s.principals.contains_key("a") && !s.principals.contains_key("b"));
    // A known principal at the cap evicts nobody.
    assert_eq!(s.score(&c, &input("a", "2026-01-01T00:00:01Z", 1)).principal_score, 2.0);
    assert_eq!(s.evictions, 1);
    // Under a lower cap (0 is read as 1), each new principal evicts one:
    // the state shrinks as new principals come, not all at once.
    s.score(&Scoring { max_principals: 0, ..cfg() }, &input("d", "2026-01-01T00:00:00Z", 1));
    assert_eq!((s.len(), s.evictions), (2, 2));
}

/// An export of the hand-written JSON the state format was first written
/// with: the derived serialisation must give it byte for byte.
const EXPORT_V1: &str = r#"{"format":"modwatch-state","version":1,"bucket_secs":60,"latest":1767226622,"evictions":1,"alerts":1,"principals":[{"key":"l","first_seen":1767226591,"last_seen":1767226591,"alerted":false,"buckets":[[29453776,1000,1,31]],"ips":[],"ops":[]},{"key":"111122223333|arn:aws:iam::111122223333:user/al\"iceé","first_seen":1767226622,"last_seen":1767226622,"alerted":false,"buckets":[[29453777,5000,1,2]],"ips":["f4b63f34"],"ops":["953c8ba8"]},{"key":"k","first_seen":1767226590,"last_seen":1767226590,"alerted":true,"buckets":[[29453776,40000,1,30]],"ips":["c172176e"],"ops":[]}]}"#;

#[test]
fn export_format_is_stable() {
    let c = Scoring { learning_secs: 0, max_principals: 3, ..cfg() };
    let mut s = Scorer::default();
    s.score(&c, &input("j", "2026-01-01T00:01:00Z", 2));
    s.score(&c, &input("k", "2026-01-01T00:16:30Z", 40));
    s.score(&c, &input("l", "2026-01-01T00:16:31Z", 1));
    let mut i = input("111122223333|arn:aws:iam::111122223333:user/al\"ice\u{e9}", "2026-01-01T00:17:02Z", 3);
    i.source_ip = Some("198.51.100.1");
    i.dedup = Some("op-1");
    s.score(&c, &i);
    s.teach(&c, "k", None, Some("203.0.113.9"));
    assert_eq!(s.export(&c, &[]), EXPORT_V1);
    let t = Scorer::import(&c, &[], EXPORT_V1).unwrap_or_default();
    assert_eq!((t.export(&c, &[]), t.evictions, t.alerts), (EXPORT_V1.to_string(), 1, 1));
    let empty = r#"{"format":"modwatch-state","version":1,"bucket_secs":60,"latest":null,"evictions":0,"alerts":0,"principals":[]}"#;
    assert_eq!(Scorer::default().export(&c, &[]), empty);
}

#[test]
fn import_errors_name_the_problem() {
    let c = cfg();
    let head = r#"{"format":"modwatch-state","version":1"#;
    let doc = |rest: &str| format!(r#"{head},"bucket_secs":60,{rest}}}"#);
    let one =
        |p: &str| doc(&format!(r#""principals":[{{"key":"k","first_seen":0,"last_seen":0,"alerted":false,{p}}}]"#));
    let cases: [(&str, String, &str); 14] = [
        ("not json", "{".into(), "state is not valid json"),
        ("empty object", "{}".into(), "not a modwatch-state version 1 or 2 document"),
        ("another format", r#"{"format":"x","version":1}"#.into(), "not a modwatch-state version 1 or 2 document"),
        ("another version", r#"{"format":"modwatch-state","version":3}"#.into(), "version 1 or 2"),
        (
            "other buckets",
            format!(r#"{head},"bucket_secs":7}}"#),
            "saved with 7 s buckets, the config's window gives 60 s",
        ),
        ("no bucket size", format!("{head}}}"), "saved with no bucket_secs"),
        ("no principals", doc(r#""latest":null"#), "no principals list"),
        ("latest far out", doc(r#""latest":1099511627777,"principals":[]"#), "1099511627777 is not an event time"),
        ("key not a string", doc(r#""principals":[{"key":1}]"#), "invalid type: integer `1`, expected a string"),
        ("missing field", doc(r#""principals":[{"key":"k"}]"#), "missing field `first_seen`"),
        ("short bucket", one(r#""buckets":[[1,2,3]],"ips":[],"ops":[]"#), "expected a tuple of size 4"),
        ("bucket index", one(r#""buckets":[[4294967296,1,1,0]],"ips":[],"ops":[]"#), "bucket index 4294967296 is over"),
        ("bad hash", one(r#""buckets":[],"ips":["zz"],"ops":[]"#), r#""zz" is not a hash as hex digits"#),
        ("good", one(r#""buckets":[],"ips":[],"ops":[]"#), ""),
    ];
    for (name, text, want) in cases {
        let got = Scorer::import(&c, &[], &text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(if want.is_empty() { got.is_empty() } else { got.contains(want) }, "{name}: {got:?} lacks {want:?}");
    }
}

#[test]
fn import_refuses_times_no_event_has() {
    // Found by the `state` fuzz target (tests/fuzz/state/): a principal
    // imported with `first_seen` near i64::MAX overflowed
    // `first_seen + learning_secs` when its next event came from a new IP.
    let c = cfg();
    let mut s = Scorer::default();
    s.score(&c, &input("k", "2026-01-01T00:00:00Z", 1));
    let exported: Value = serde_json::from_str(&s.export(&c, &[])).unwrap_or_default();
    let with = |key: &str, t: i64| {
        let mut v = exported.clone();
        if key == "latest" {
            v["latest"] = json!(t);
        } else {
            v["principals"][0][key] = json!(t);
        }
        v.to_string()
    };
    for key in ["first_seen", "last_seen", "latest"] {
        for t in [i64::MAX, i64::MIN, MAX_EVENT_TIME + 1] {
            let e = Scorer::import(&c, &[], &with(key, t)).err();
            assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::StateInvalid), "{key} = {t}");
        }
    }
    // The first and last second of year 0000 to 9999 are event times.
    for text in ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
        let t = time::parse(text).unwrap_or(i64::MAX);
        assert!(Scorer::import(&c, &[], &with("first_seen", t)).is_ok(), "{text}");
    }
    // The fuzz input's path: a new IP after such an import scores, no overflow.
    let mut t = Scorer::import(&c, &[], &with("first_seen", MAX_EVENT_TIME)).unwrap_or_default();
    let mut i = input("k", "2026-01-01T00:01:00Z", 1);
    i.source_ip = Some("198.51.100.1");
    assert_eq!(t.score(&c, &i).principal_score, 2.0);
}
