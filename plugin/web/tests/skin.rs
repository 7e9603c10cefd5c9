//! The skin's plain functions, natively: what the wasm-bindgen wrappers return.
//! The web build itself is held to the golden verdicts by
//! `playground/tests/parity.test.mjs` (Node) and the page by the browser test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test fails by panicking")]

use modwatch_engine::{Config, Engine, RuleSet};
use modwatch_web::{DEFAULT_CONFIG, builtin_pack_text, errors_json, load, stats_json, tag_json};
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
    assert_eq!(load_err(Some("{"), None)["code"], 300);
    assert_eq!(json(&errors_json("state", &modwatch_engine::Errors(Vec::new())))["source"], "state");
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
    assert_eq!(text, r#"{"output":"unchanged","verdicts":[{"status":"no_match","points":0}],"keys":[null]}"#);
    let truncated = br#"{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances""#;
    assert!(tag_json(&mut engine, truncated).contains(r#""code":100"#));
    let verdicts = tag_json(&mut Engine::new(None, None).unwrap(), matching.as_bytes());
    let key = want.verdicts[0].principal_key().unwrap();
    assert!(key.ends_with(&format!("|{}", want.verdicts[0].principal.as_ref().unwrap().id)), "{key}");
    let tail = format!("\"verdicts\":[{}],\"keys\":[{}]}}", want.verdicts[0].to_json(), Value::from(key));
    assert!(verdicts.ends_with(&tail), "{verdicts}");

    let stats = json(&stats_json(&engine.stats()));
    assert_eq!(stats["events"], "3");
    assert_eq!(stats["by_category"]["DELETE"], "1", "{stats}");
}
