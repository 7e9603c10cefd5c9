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
    assert!(s.find("b").is_none(), "b was the least recently seen");
    let order: Vec<String> = s.export(&c)["principals"]
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
    let exported = s.export(&c).to_string();
    let mut t = Scorer::import(&c, &exported).unwrap_or_default();
    assert_eq!(t.export(&c).to_string(), exported);
    // The imported state remembers the IP and the operation.
    let again = t.score(&c, &i);
    assert_eq!(again.reasons, vec!["duplicate".to_string()]);
    for bad in ["", "{}", r#"{"format":"modwatch-state","version":1,"bucket_secs":7,"principals":[]}"#] {
        assert!(Scorer::import(&c, bad).is_err(), "{bad}");
    }
    let broken = exported.replace("\"first_seen\":", "\"first_seen\":\"x\",\"was\":");
    assert!(Scorer::import(&c, &broken).is_err());
}

#[test]
fn state_size_is_bounded() {
    // Fixed-size per principal; this is the figure the README reports.
    let per = Scorer::bytes_per_principal(64);
    assert!(per <= 512, "{per} bytes per principal");
}

#[test]
fn colliding_keys_stay_apart() {
    let c = cfg();
    let mut s = Scorer::default();
    s.score(&c, &input("a", "2026-01-01T00:00:00Z", 3));
    // Force the overflow path: a second key filed as if its hash were taken.
    let slot = s.touch("b", 0, usize::MAX);
    s.index.remove(&fnv("b"));
    s.overflow.insert("b".into(), slot);
    assert_eq!(s.find("b"), Some(slot));
    assert_eq!(s.score(&c, &input("b", "2026-01-01T00:00:00Z", 1)).principal_score, 1.0);
    assert_eq!(s.score(&c, &input("a", "2026-01-01T00:00:01Z", 1)).principal_score, 4.0);
    assert_eq!(s.len(), 2);
}

#[test]
fn import_refuses_times_no_event_has() {
    // Found by the `state` fuzz target (tests/fuzz/state/): a principal
    // imported with `first_seen` near i64::MAX overflowed
    // `first_seen + learning_secs` when its next event came from a new IP.
    let c = cfg();
    let mut s = Scorer::default();
    s.score(&c, &input("k", "2026-01-01T00:00:00Z", 1));
    let exported = s.export(&c);
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
            let e = Scorer::import(&c, &with(key, t)).err();
            assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::StateInvalid), "{key} = {t}");
        }
    }
    // The first and last second of year 0000 to 9999 are event times.
    for text in ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
        let t = time::parse(text).unwrap_or(i64::MAX);
        assert!(Scorer::import(&c, &with("first_seen", t)).is_ok(), "{text}");
    }
    // The fuzz input's path: a new IP after such an import scores, no overflow.
    let mut t = Scorer::import(&c, &with("first_seen", MAX_EVENT_TIME)).unwrap_or_default();
    let mut i = input("k", "2026-01-01T00:01:00Z", 1);
    i.source_ip = Some("198.51.100.1");
    assert_eq!(t.score(&c, &i).principal_score, 2.0);
}
