//! The skin's plain functions, natively: what the wasm-bindgen wrappers return.
//! The web build itself is held to the golden verdicts by
//! `playground/tests/parity.test.mjs` (Node) and the page by the browser test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test fails by panicking")]

use modwatch_engine::{Config, Engine, RuleSet};
use modwatch_web::{
    DEFAULT_CONFIG, batch_record, builtin_pack_text, errors_json, load, rows_json, split_events, stats_json, tag_json,
    warnings_json,
};
use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn load_err(config: Option<&str>, rules: Option<&str>) -> Value {
    json(&load(config, rules).err().unwrap_or_else(|| panic!("expected a load error")))
}

/// Every record of the golden corpus, in the golden file's order.
fn corpus() -> Vec<String> {
    let text = std::fs::read_to_string(format!("{ROOT}/tests/corpus/events.ndjson")).unwrap();
    let mut events: Vec<String> =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| json(l)["event"].to_string()).collect();
    let batch = json(&std::fs::read_to_string(format!("{ROOT}/tests/corpus/s3-batch.json")).unwrap());
    events.extend(batch["Records"].as_array().unwrap().iter().map(Value::to_string));
    events
}

#[test]
fn the_builtin_pack_text_is_the_builtin_pack() {
    let text = builtin_pack_text();
    let as_pack = RuleSet::load(&Config::default(), Some(&text)).unwrap_or_else(|e| panic!("{e}"));
    let builtin = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(as_pack.ids().collect::<Vec<_>>(), builtin.ids().collect::<Vec<_>>());
    assert!(text.starts_with("# ==== rules/operations.toml ====\n"), "{}", &text[..80]);

    // Loaded as an edited pack, it gives the golden verdicts too.
    let golden = std::fs::read_to_string(format!("{ROOT}/tests/golden/corpus.verdicts.ndjson")).unwrap();
    let mut engine = load(None, Some(&text)).unwrap();
    let got: Vec<String> = corpus().iter().flat_map(|e| engine.evaluate(e.as_bytes())).map(|v| v.to_json()).collect();
    let want: Vec<&str> = golden.lines().collect();
    assert_eq!(got.len(), want.len());
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "record {}", i + 1);
    }
}

#[test]
fn the_default_config_is_the_engines_default() {
    assert_eq!(Config::from_json(DEFAULT_CONFIG), Ok(Config::default()));
    assert!(load(Some("  \n"), None).is_ok(), "a blank config means the defaults");
}

#[test]
fn rule_errors_carry_the_rule_and_position() {
    let pack = "[[rule]]\nid = \"r1\"\nname = \"one\"\nseverity = \"low\"\nquery = '''\nany where event.action == \"x\"\n  and event.provider = \"y\"\n'''\n";
    let e = load_err(None, Some(pack));
    assert_eq!(e["source"], "rules");
    assert_eq!(e["code"], 202);
    assert_eq!(e["kind"], "query_syntax");
    assert_eq!(e["ruleId"], "r1");
    assert_eq!((e["line"].as_u64(), e["column"].as_u64(), e["packLine"].as_u64()), (Some(2), Some(22), Some(7)));
    assert!(e["message"].as_str().unwrap().starts_with("E202 rule \"r1\" at 2:22 (pack line 7) "), "{e}");
    assert_eq!(e["errors"].as_array().map(Vec::len), Some(1));
    assert!(!e["errors"][0]["message"].as_str().unwrap().starts_with("E202"), "the plain sentence: {e}");
    // Where an editor of the pack puts its cursor, and the line beside it.
    assert_eq!(e["at"], serde_json::json!({"line": 7, "column": 22}), "{e}");
    assert_eq!(e["display"], r#"E202 rule "r1": `=` is not supported, use `==`"#, "{e}");

    let two = load_err(None, Some("[[rule]]\nid = \"a\"\nseverity = \"urgent\"\n"));
    assert_eq!(two["code"], 201);
    assert_eq!(two["ruleId"], "a");
    let syntax = load_err(None, Some("[[rule]\nid = 'a'"));
    assert_eq!((syntax["code"].as_u64(), syntax["line"].as_u64()), (Some(200), Some(1)));
    assert_eq!(syntax["ruleId"], Value::Null);
}

#[test]
fn config_errors_say_so_and_list_every_problem() {
    let e = load_err(Some(r#"{"scoring":{"threshold":-1},"colour":1}"#), None);
    assert_eq!(e["source"], "config");
    assert_eq!(e["errors"].as_array().map(Vec::len), Some(2), "{e}");
    // Each at its key: `colour` (column 29, listed first), `threshold` (column 13).
    assert_eq!((e["line"].as_u64(), e["column"].as_u64()), (Some(1), Some(29)), "{e}");
    assert_eq!((e["errors"][1]["line"].as_u64(), e["errors"][1]["column"].as_u64()), (Some(1), Some(13)), "{e}");
    assert_eq!(e["ruleId"], Value::Null);
    assert_eq!(e["at"], serde_json::json!({"line": 1, "column": 29}), "{e}");
    assert_eq!(load_err(Some("{"), None)["code"], 300);
    assert_eq!(json(&errors_json("state", &modwatch_engine::Errors(Vec::new())))["source"], "state");
}

#[test]
fn warnings_are_listed_like_errors_for_the_editor() {
    // A Sigma rule for a logsource modwatch does not read loads with a
    // warning, placed where the editor shows it.
    let pack = "title: Windows\nid: 00000000-0000-4000-8000-00000000000c\nlogsource:\n    product: windows\ndetection:\n    sel:\n        Image: x\n    condition: sel\n";
    let engine = load(None, Some(pack)).unwrap();
    let w = json(&warnings_json(&engine));
    assert_eq!(w.as_array().map(Vec::len), Some(1), "{w}");
    assert_eq!((w[0]["code"].as_u64(), w[0]["kind"].as_str()), (Some(206), Some("rule_unsupported")), "{w}");
    assert_eq!(w[0]["ruleId"], "00000000-0000-4000-8000-00000000000c", "{w}");
    assert_eq!(w[0]["at"]["line"], 4, "the logsource's line: {w}");
    assert!(
        w[0]["display"].as_str().is_some_and(|d| d.starts_with("E206 rule ") && d.contains("product: windows")),
        "{w}"
    );
    assert_eq!(json(&warnings_json(&load(None, None).unwrap())), serde_json::json!([]));
}

#[test]
fn tag_gives_the_output_and_the_engines_verdict_lines() {
    let mut engine = Engine::new(None, None).unwrap();
    let events = corpus();
    let matching = &events[0];
    let mut native = Engine::new(None, None).unwrap();
    let want = native.tag(matching.as_bytes());

    let got = json(&tag_json(&mut engine, matching.as_bytes()));
    assert_eq!(got["output"], "replaced");
    let modwatch_engine::Output::Replaced(bytes) = want.output else { panic!("corpus event 1 is a match") };
    assert_eq!(got["event"].as_str().map(str::as_bytes), Some(bytes.as_slice()));
    let text = tag_json(&mut engine, b"{\"eventName\":\"GetObject\"}");
    assert_eq!(text, r#"{"output":"unchanged","verdicts":[{"status":"no_match","points":0}]}"#);
    let truncated = br#"{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances""#;
    assert!(tag_json(&mut engine, truncated).contains(r#""code":100"#));
    let verdicts = tag_json(&mut Engine::new(None, None).unwrap(), matching.as_bytes());
    assert!(verdicts.ends_with(&format!("\"verdicts\":[{}]}}", want.verdicts[0].to_json())), "{verdicts}");

    let stats = json(&stats_json(&engine.stats()));
    assert_eq!(stats["events"], "3");
    assert_eq!(stats["by_category"]["DELETE"], "1", "{stats}");
    assert_eq!(stats["by_correlation"], json("{}"), "no correlation rules");
}

#[test]
fn stats_count_correlation_alerts_per_rule() {
    let dir = format!("{ROOT}/tests/sigma");
    let mut engine = load(None, Some(&std::fs::read_to_string(format!("{dir}/correlations.yml")).unwrap())).unwrap();
    for line in std::fs::read_to_string(format!("{dir}/correlations.ndjson")).unwrap().lines() {
        tag_json(&mut engine, json(line)["event"].to_string().as_bytes());
    }
    let stats = json(&stats_json(&engine.stats()));
    // tests/sigma/correlations.ndjson: 2, 1, 2 and 2 alerts, over 3, 3, 3
    // and 2 principals; every number a decimal string.
    let per_rule: Vec<(String, Value, Value)> = stats["by_correlation"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, c)| (id[24..].to_string(), c["alerts"].clone(), c["groups"].clone()))
        .collect();
    let want = [
        ("0000000c0001", "2", "3"),
        ("0000000c0002", "1", "3"),
        ("0000000c0003", "2", "3"),
        ("0000000c0004", "2", "2"),
    ];
    let want: Vec<(String, Value, Value)> =
        want.iter().map(|(id, a, g)| (id.to_string(), Value::from(*a), Value::from(*g))).collect();
    assert_eq!(per_rule, want, "{stats}");
    assert_eq!(stats["correlation_alerts"], "7");
}

#[test]
fn rows_carry_what_the_page_shows_from_the_engine() {
    let mut engine = load(None, None).unwrap();
    let mut native = Engine::new(None, None).unwrap();
    for event in corpus() {
        let want = native.tag(event.as_bytes());
        let got = json(&rows_json(&mut engine, event.as_bytes()));
        let rows = got["rows"].as_array().unwrap();
        assert_eq!(rows.len(), want.verdicts.len(), "{event}");
        for (row, v) in rows.iter().zip(&want.verdicts) {
            assert_eq!(row["verdict"], json(&v.to_json()), "the engine's own verdict: {event}");
            assert_eq!(row["key"], v.principal_key().unwrap_or(""), "the scoring key: {event}");
            let t = v.time.as_deref().and_then(modwatch_engine::time::parse_millis);
            assert_eq!(row["t"].as_i64(), t, "the time the engine reads: {event}");
            let high = v.category.as_deref().is_some_and(|c| Config::default().points_of(c) >= 4);
            assert_eq!(row["high"], high, "{event}");
            assert_eq!(row["cloud"], v.format.map_or("", |f| f.cloud()));
        }
    }
    // The rows of a bad event (one the prefilter lets through): one, with its error as one line.
    let bad = json(&rows_json(&mut engine, br#"{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances""#));
    assert_eq!(bad["rows"][0]["status"], "error");
    assert!(bad["rows"][0]["error"].as_str().unwrap().starts_with("E100 "), "{bad}");
}

#[test]
fn the_page_splits_with_the_engines_splitter() {
    let s = split_events(b" [ {\"a\":1} , {\"b\":2} ]\n");
    assert_eq!((s.kind(), s.spans()), ("array".to_string(), vec![3, 10, 13, 20]));
    let batch = br#"{"Records": [ {"x":1}, {"y":[2]} ]}"#;
    let s = split_events(batch);
    assert_eq!((s.kind(), s.spans()), ("batch".to_string(), vec![14, 21, 23, 32]));
    assert_eq!(batch_record(batch, 1).as_deref(), Some(r#"{"y":[2]}"#));
    assert_eq!(batch_record(batch, 2), None);
    assert_eq!(batch_record(b"{\"a\":1}\n{\"b\":2}", 0), None, "not a batch");
    assert_eq!(split_events(b"{\"a\":1}\n\n{\"b\":2}\r\n").spans(), vec![0, 7, 9, 16]);
    assert_eq!(split_events(b"  \n").kind(), "empty");
}
