use proptest::prelude::*;
use serde_json::Value;

use super::*;

/// A named input, its layout and the `(line, event)` of each event.
type Case = (&'static str, &'static str, Layout, &'static [(u64, &'static str)]);

/// The layout and `(line, event)` of each event.
fn events(input: &str) -> (Layout, Vec<(u64, &str)>) {
    let s = split(input.as_bytes());
    (s.layout, s.events.iter().map(|e| (e.line, &input[e.range()])).collect())
}

#[test]
fn layouts_and_events() {
    use Layout::*;
    #[rustfmt::skip]
    let cases: &[Case] = &[
        ("empty", "", Empty, &[]),
        ("only whitespace", "  \n\r\n\t", Empty, &[]),
        ("ndjson", "{\"a\":1}\n\n{\"b\":\"x\\\"}\"}\r\n", Ndjson, &[(1, "{\"a\":1}"), (3, "{\"b\":\"x\\\"}\"}")]),
        ("ndjson: blank and bad lines", "{\"a\":1}\n\n  \nnot json\r\n[1]\n{\"b\":2}", Ndjson,
            &[(1, "{\"a\":1}"), (4, "not json"), (5, "[1]"), (6, "{\"b\":2}")]),
        ("ndjson: crlf and a blank crlf line", "{\"a\":1}\r\n\r\n{\"b\":2}\r\n", Ndjson, &[(1, "{\"a\":1}"), (3, "{\"b\":2}")]),
        ("ndjson: spaces around a line are kept", "  {\"a\":1} \n", Ndjson, &[(1, "  {\"a\":1} ")]),
        ("ndjson: an unbalanced line is an event", "{\"a\":1}\n{\"b\":\nnot json\n", Ndjson,
            &[(1, "{\"a\":1}"), (2, "{\"b\":"), (3, "not json")]),
        ("ndjson: starts with no value", "hello\n{\n}\n", Ndjson, &[(1, "hello"), (2, "{"), (3, "}")]),
        ("ndjson: a batch line stays one event", "{\"Records\":[{\"a\":1},{\"a\":2}]}\n{\"b\":2}\n", Ndjson,
            &[(1, "{\"Records\":[{\"a\":1},{\"a\":2}]}"), (2, "{\"b\":2}")]),
        ("ndjson: braces in strings", "{\"q\":\"{{[[\"}\n{\"r\":\"\\\\\"}", Ndjson, &[(1, "{\"q\":\"{{[[\"}"), (2, "{\"r\":\"\\\\\"}")]),
        ("one line, unbalanced", "{\"a\":[1,2}", Ndjson, &[(1, "{\"a\":[1,2}")]),
        ("one object alone", " {\"a\":1}\n", Ndjson, &[(1, " {\"a\":1}")]),
        ("unbalanced over lines: lines", "{\n\"a\": 1\n", Ndjson, &[(1, "{"), (2, "\"a\": 1")]),
        ("unterminated string", "[\"abc\n", Ndjson, &[(1, "[\"abc")]),
        ("array", " [ {\"a\":1} , {\"b\":[2,{\"c\":\"]\"}]} ]\n", Array, &[(1, "{\"a\":1}"), (1, "{\"b\":[2,{\"c\":\"]\"}]}")]),
        ("array, pretty", "\n[\n  {\"a\": 1},\n  {\"b\": [2, 3]}\n]\n", Array, &[(3, "{\"a\": 1}"), (4, "{\"b\": [2, 3]}")]),
        ("empty array", "[]", Array, &[]),
        ("empty array, spaced", " [ \n ] \n", Array, &[]),
        ("array of scalars", "[1, \"x\", null,true]", Array, &[(1, "1"), (1, "\"x\""), (1, "null"), (1, "true")]),
        ("array: escaped quote", "[\"a\\\"]\", 2]", Array, &[(1, "\"a\\\"]\""), (1, "2")]),
        ("array: an invalid element is an event", "[{\"a\" 1}, 2]", Array, &[(1, "{\"a\" 1}"), (1, "2")]),
        ("array, then more: ndjson", "[1]\n[2]", Ndjson, &[(1, "[1]"), (2, "[2]")]),
        ("array, then garbage on its line", "[1,2] x\n", Ndjson, &[(1, "[1,2] x")]),
        ("array, pretty, then garbage", "[\n1\n] x", Values, &[(1, "[\n1\n]"), (3, "x")]),
        ("array with a trailing comma", "[1,]", Ndjson, &[(1, "[1,]")]),
        ("array, pretty, trailing comma", "[\n1,\n]", Values, &[(1, "[\n1,\n]")]),
        ("array without commas", "[\n1 2\n]", Values, &[(1, "[\n1 2\n]")]),
        ("batch", "{\"Records\": [\n{\"a\":1},\n{\"a\":2}]}", Batch, &[(2, "{\"a\":1}"), (3, "{\"a\":2}")]),
        ("batch, lower case", "{\"records\":[{\"a\":1}]}", Batch, &[(1, "{\"a\":1}")]),
        ("batch, pretty", "{\n  \"Records\": [\n    {\"a\": 1}\n  ]\n}\n", Batch, &[(3, "{\"a\": 1}")]),
        ("batch, spaced", " { \"records\" :\t[ 1 , 2 ] } ", Batch, &[(1, "1"), (1, "2")]),
        ("batch, escaped key", "{\"Rec\\u006frds\":[1]}", Batch, &[(1, "1")]),
        ("batch, empty", "{\"Records\":[]}", Batch, &[]),
        ("another key beside the records", "{\"records\":[{\"a\":1}],\"x\":1}", Ndjson, &[(1, "{\"records\":[{\"a\":1}],\"x\":1}")]),
        ("other key", "{\"Record\":[1]}", Ndjson, &[(1, "{\"Record\":[1]}")]),
        ("records not an array", "{\"Records\":{\"a\":1}}", Ndjson, &[(1, "{\"Records\":{\"a\":1}}")]),
        ("pretty object", "{\n \"a\": 1\n}\n", Values, &[(1, "{\n \"a\": 1\n}")]),
        ("pretty objects", "{\n \"a\": 1\n}\n{\n \"b\": 2\n}", Values, &[(1, "{\n \"a\": 1\n}"), (4, "{\n \"b\": 2\n}")]),
        ("pretty, then unbalanced", "{\n \"a\": 1\n}\n{\n \"b\": ", Values, &[(1, "{\n \"a\": 1\n}"), (4, "{\n \"b\": ")]),
        ("pretty, commas between", "{\n}\n,{\n}", Values, &[(1, "{\n}"), (3, ","), (3, "{\n}")]),
        ("pretty, stray closer", "{\n}\n]\n{\"a\":1}", Values, &[(1, "{\n}"), (3, "]"), (4, "{\"a\":1}")]),
        ("pretty batch, then more", "{\"Records\": [\n1]}\n{}", Values, &[(1, "{\"Records\": [\n1]}"), (3, "{}")]),
    ];
    for (name, input, layout, want) in cases {
        assert_eq!(events(input), (*layout, want.to_vec()), "{name}: {input:?}");
    }
}

#[test]
fn sniffing_the_head() {
    use Sniff::*;
    #[rustfmt::skip]
    let cases: &[(&str, bool, Option<Sniff>)] = &[
        ("", false, None), ("", true, Some(Whole)), (" \n", false, None), (" \n", true, Some(Whole)),
        ("x", false, Some(Lines)), ("\"ab", false, Some(Lines)), ("1\n", false, Some(Lines)),
        ("{\"a\":", false, None), ("{\"a\":", true, Some(Whole)),
        ("{\"a\":1}", false, None), ("{\"a\":1}\n ", false, None), ("{\"a\":1}\n", true, Some(Whole)),
        ("{\"a\":1}\n{", false, Some(Lines)), ("{\"a\":1} x", false, Some(Lines)), ("[1]\n[2]", true, Some(Lines)),
        ("{\n", false, Some(Whole)), ("[\n  {\"a\"", false, Some(Whole)), ("{\"a\":\"\n", false, Some(Whole)),
        ("[\n]\n{", false, Some(Whole)),
    ];
    for (head, at_end, want) in cases {
        assert_eq!(sniff(head.as_bytes(), *at_end), *want, "{head:?} at_end={at_end}");
    }
}

#[test]
fn timestamped_pairs() {
    fn records(input: &str) -> Option<Vec<&str>> {
        timestamped_records(input.as_bytes()).map(|r| r.into_iter().map(|r| &input[r]).collect())
    }
    let flush =
        r#"[[1764700000.123457,{"tag":"modwatch.in.ab","a":[1,{"b":"]"}]}], [1764700001.0, {"tag":"modwatch.in.ab"}]]"#;
    assert_eq!(
        records(flush),
        Some(vec![r#"{"tag":"modwatch.in.ab","a":[1,{"b":"]"}]}"#, r#"{"tag":"modwatch.in.ab"}"#])
    );
    assert_eq!(records(" [[-1,{}]]\n"), Some(vec!["{}"]));
    for other in [
        "[]",
        "{\"a\":1}",
        "[[1,{}],[2]]",
        "[[1,{}],{}]",
        "[[\"t\",{}]]",
        "[[1,{},3]]",
        "[[1,[]]]",
        "[[1,{}]] x",
        "[[1,{}]",
    ] {
        assert_eq!(records(other), None, "{other}");
    }
}

#[test]
fn line_events() {
    let cases: [(&str, Option<&str>); 7] = [
        ("{\"a\":1}\n", Some("{\"a\":1}")),
        ("{\"a\":1}\r\n", Some("{\"a\":1}")),
        ("x\r\r\n", Some("x\r")),
        (" x ", Some(" x ")),
        ("", None),
        (" \t\r\n", None),
        ("\r", None),
    ];
    for (line, want) in cases {
        assert_eq!(line_event(line.as_bytes()), want.map(str::as_bytes), "{line:?}");
    }
}

#[test]
fn deep_nesting_needs_no_stack() {
    let deep = format!("[{}{}]", "[".repeat(1 << 20), "]".repeat(1 << 20));
    let s = split(deep.as_bytes());
    assert_eq!((s.layout, s.events.len(), s.events[0].range()), (Layout::Array, 1, 1..deep.len() - 1));
    assert_eq!(split("[".repeat(1 << 20).as_bytes()).layout, Layout::Ndjson);
}

/// Bytes that steer the scan, and a few that do not.
fn scan_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![4 => prop::sample::select(b"{}[]\",:\\ \n\r\tRrecods1".to_vec()), 1 => any::<u8>()];
    prop::collection::vec(byte, 0..48)
}

/// JSON values whose strings hold the bytes that steer the scan.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[\\[\\]{}\",:\\\\ \n\ta-z]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z\"{]{1,4}", inner), 1..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn config() -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    /// Any input: no panic, events non-empty, in bounds, in order, on the
    /// line they start on; a head's answer never changes with more input,
    /// and `Lines` means exactly the events of `lines`.
    #[test]
    fn any_input_splits_in_bounds(input in scan_bytes()) {
        let s = split(&input);
        let mut last = 0;
        for e in &s.events {
            prop_assert!(last <= e.start && e.start < e.end && e.end <= input.len(), "{e:?} after {last}");
            let line = 1 + input[..e.start].iter().filter(|&&b| b == b'\n').count() as u64;
            prop_assert_eq!(e.line, line);
            last = e.end;
        }
        prop_assert_eq!(s.layout == Layout::Empty, input.iter().all(|&b| is_space(b)));
        let whole = sniff(&input, true);
        prop_assert!(whole.is_some());
        for k in 0..=input.len() {
            if let Some(early) = sniff(&input[..k], false) {
                prop_assert_eq!(Some(early), whole, "head of {} bytes", k);
            }
        }
        if whole == Some(Sniff::Lines) {
            prop_assert_eq!(&s, &Split { layout: Layout::Ndjson, events: lines(&input) });
        }
    }

    /// Values written in each layout come back one event each.
    #[test]
    fn written_values_come_back(values in prop::collection::vec(json(), 2..5), pretty in any::<bool>()) {
        let text = |v: &Value| if pretty { serde_json::to_string_pretty(v) } else { serde_json::to_string(v) };
        let array = text(&Value::Array(values.clone())).unwrap_or_default();
        let batch = text(&serde_json::json!({ "Records": values })).unwrap_or_default();
        let ndjson = values.iter().map(|v| serde_json::to_string(v).unwrap_or_default()).collect::<Vec<_>>().join("\r\n\n");
        let objects: Vec<Value> = values.iter().map(|v| serde_json::json!({ "v": v })).collect();
        let concatenated = objects.iter().map(|v| serde_json::to_string_pretty(v).unwrap_or_default()).collect::<Vec<_>>().join("\n");
        for (layout, input, want) in [
            (Layout::Array, &array, &values),
            (Layout::Batch, &batch, &values),
            (Layout::Ndjson, &ndjson, &values),
            (Layout::Values, &concatenated, &objects),
        ] {
            let s = split(input.as_bytes());
            let got: Vec<Value> =
                s.events.iter().map(|e| serde_json::from_slice(&input.as_bytes()[e.range()]).unwrap_or_default()).collect();
            prop_assert_eq!((s.layout, &got), (layout, want), "{}", input);
        }
    }
}
