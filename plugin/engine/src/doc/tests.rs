//! The parser against `serde_json` (with the duplicate-key check the engine
//! had before it had its own parser): the same texts accepted, the same
//! values, the same kind of refusal.

use std::cell::Cell;

use bumpalo::Bump;
use proptest::prelude::*;
use serde_json::Value;

use super::{Node, ParseError, parse, plain_run_end};

/// What the parser's result should be: `serde_json`'s tree, or the kind of
/// refusal (`true`: a repeated key).
fn oracle(text: &str) -> Result<Value, bool> {
    let duplicate = Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let value = serde::de::DeserializeSeed::deserialize(Unique(&duplicate), &mut de);
    match value.and_then(|v| de.end().map(|()| v)) {
        Ok(v) => Ok(v),
        Err(_) => Err(duplicate.get()),
    }
}

#[derive(Clone, Copy)]
struct Unique<'a>(&'a Cell<bool>);

impl<'de> serde::de::DeserializeSeed<'de> for Unique<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Unique<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        use serde::de::Error as _;
        // As the engine did: the whole object first, then its keys checked.
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "$serde_json::private::Number" && entries.is_empty() {
                let text: String = map.next_value()?;
                return text.parse::<serde_json::Number>().map(Value::Number).map_err(A::Error::custom);
            }
            entries.push((key, map.next_value_seed(self)?));
        }
        let mut out = serde_json::Map::new();
        for (key, value) in entries {
            if out.contains_key(&key) {
                self.0.set(true);
                return Err(A::Error::custom("duplicate key"));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// A document as a `serde_json` tree (recursive: test inputs nest little).
fn to_value(node: &Node<'_>) -> Value {
    match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Number(n) => Value::Number(n.as_str().parse().unwrap_or_else(|_| serde_json::Number::from(0))),
        Node::String(s) => Value::String((*s).to_string()),
        Node::Array(items) => Value::Array(items.iter().map(to_value).collect()),
        Node::Object(o) => Value::Object(o.members.iter().map(|(k, v)| ((*k).to_string(), to_value(v))).collect()),
    }
}

/// Parses with both and checks they agree; returns the parser's result kind.
fn agree(text: &str) -> Result<(), ParseError> {
    let arena = Bump::new();
    let ours = parse(text, &arena);
    match (&ours, oracle(text)) {
        (Ok(node), Ok(value)) => {
            let mine = to_value(node);
            assert_eq!(mine, value, "values differ on {text:?}");
            // Same key order and numbers as written (not only equal maps).
            assert_eq!(mine.to_string(), value.to_string(), "serialisations differ on {text:?}");
        }
        (Err(ParseError::DuplicateKey(_)), Err(true)) | (Err(ParseError::Invalid { .. }), Err(false)) => {}
        (ours, theirs) => panic!("disagree on {text:?}: ours {ours:?}, serde_json {theirs:?}"),
    }
    ours.map(|_| ())
}

fn corpus_files() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json" || e == "ndjson") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn agrees_with_serde_json_on_every_fixture() {
    let files = corpus_files();
    assert!(files.len() >= 10, "fixtures found: {files:?}");
    let mut accepted = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        // A whole file (a batch), and each line (an event per line).
        let _ = agree(&text);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            accepted += usize::from(agree(line).is_ok());
        }
    }
    assert!(accepted > 300, "{accepted} lines parsed");
}

#[test]
fn refuses_what_serde_json_refuses() {
    let refused = [
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "{\"a\":1,}",
        "[01]",
        "[-]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[1e+]",
        "[+1]",
        "[NaN]",
        "[tru]",
        "[nul]",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":1 \"b\":2}",
        "[\"a\u{1}\"]",
        "[\"\\x\"]",
        "[\"\\u12\"]",
        "[\"\\ud800\"]",
        "[\"\\ud800\\u0041\"]",
        "[\"\\udc00\"]",
        "[\"\\ud800\\ud800\"]",
        "[1] 2",
        "[1]]",
        "\"abc",
        "[\"\\",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1,\"\\u0061\":2}",
        "{\"x\":{\"a\":1},\"x\":[]}",
        "[\u{a0}1]",
    ];
    for text in refused {
        assert!(agree(text).is_err(), "accepted {text:?}");
    }
    let accepted = [
        "0",
        "-0",
        "  [ 1 , -2.5e+3 , 1E400 , 18446744073709551617 ] \n",
        "{\"a\":{\"b\":[{}, [], null, true, false]}}",
        "\"\\ud83d\\ude00 \\u00e9 \\/ \\b\\f\\n\\r\\t \\\" \\\\\"",
        "{\"\":1,\"a\":{\"\":2}}",
        "[{\"a\":1},{\"a\":1}]",
        "{\"a\":{\"b\":1},\"b\":{\"a\":1}}",
        "\"é ü 日本\"",
        "[\"\u{7f}\"]",
    ];
    for text in accepted {
        assert_eq!(agree(text), Ok(()), "{text:?}");
    }
}

#[test]
fn errors_say_where() {
    let arena = Bump::new();
    let err = parse("{\"a\":1,\n  \"b\": tru}", &arena).err();
    assert_eq!(err, Some(ParseError::Invalid { what: "expected ident", line: 2, column: 11 }));
    let err = parse("{\"a\":1,\"b\":2,\"a\":3}", &arena).err();
    assert_eq!(err, Some(ParseError::DuplicateKey("a".into())));
}

#[test]
fn hostile_inputs() {
    let arena = Bump::new();
    // Nesting far past any limit parses without recursion (the engine
    // refuses depth over `input.max_depth` before parsing).
    for open in ["[", "{\"a\":"] {
        let close = if open == "[" { "]" } else { "}" };
        let deep = format!("{}1{}", open.repeat(100_000), close.repeat(100_000));
        assert!(parse(&deep, &arena).is_ok(), "{open}");
        let unterminated = open.repeat(100_000);
        assert!(parse(&unterminated, &arena).is_err());
    }
    let deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
    assert_eq!(agree(&deep), Ok(()));
    // Long strings, with and without escapes.
    let long = "x".repeat(1 << 20);
    assert_eq!(agree(&format!("[\"{long}\"]")), Ok(()));
    assert_eq!(agree(&format!("[\"{long}\\n{long}\"]")), Ok(()));
    // Many keys: unique, then the same key twice spelled differently, far apart.
    let keys: Vec<String> = (0..5000).map(|i| format!("\"k{i}\":{i}")).collect();
    let big = format!("{{{}}}", keys.join(","));
    assert_eq!(agree(&big), Ok(()));
    let dup = format!("{{{},\"\\u006b17\":0}}", keys.join(","));
    assert_eq!(agree(&dup), Err(ParseError::DuplicateKey("k17".into())));
    // The first key repeated is the one named, as serde_json meets them.
    let two = format!("{{{},\"k9\":0,\"k3\":0}}", keys[..20].join(","));
    assert_eq!(agree(&two), Err(ParseError::DuplicateKey("k9".into())));
}

#[test]
fn unescaped_strings_borrow_the_text() {
    let arena = Bump::new();
    let text = r#"{"plain":"abc","escaped":"a\nb"}"#;
    let Ok(Node::Object(o)) = parse(text, &arena) else { panic!("not an object") };
    let plain = o.get("plain").and_then(Node::as_str).unwrap_or_default();
    let range = text.as_bytes().as_ptr_range();
    assert!(range.contains(&plain.as_ptr()), "borrowed from the text");
    assert_eq!(o.get("escaped").and_then(Node::as_str), Some("a\nb"));
    assert_eq!((o.span.start, o.span.end), (0, text.len() as u32));
}

/// JSON texts: values with random whitespace, escapes and number forms.
fn json_text() -> impl Strategy<Value = String> {
    let ws = prop::sample::select(vec!["", " ", "\n", "\t ", "\r\n"]);
    let string = prop::collection::vec(
        prop_oneof![
            prop::char::any()
                .prop_filter("not a quote, backslash or control", |c| !matches!(c, '"' | '\\') && *c >= ' ')
                .prop_map(|c| c.to_string()),
            prop::sample::select(vec![
                "\\\"",
                "\\\\",
                "\\/",
                "\\b",
                "\\f",
                "\\n",
                "\\r",
                "\\t",
                "\\u0041",
                "\\u00e9",
                "\\ud83d\\ude00",
                "\\u0000",
                "k",
                "a",
            ])
            .prop_map(str::to_string),
        ],
        0..6,
    )
    .prop_map(|parts| format!("\"{}\"", parts.concat()));
    let number = (any::<bool>(), 0u64..u64::MAX, prop::option::of(0u32..1000), prop::option::of(-400i32..400))
        .prop_map(|(neg, int, frac, exp)| {
            let mut s = if neg { "-".to_string() } else { String::new() };
            s.push_str(&int.to_string());
            if let Some(f) = frac {
                s.push_str(&format!(".{f}"));
            }
            if let Some(e) = exp {
                s.push_str(&format!("e{e}"));
            }
            s
        });
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        number,
        string.clone(),
    ];
    leaf.prop_recursive(6, 48, 6, move |inner| {
        let ws = ws.clone();
        prop_oneof![
            (prop::collection::vec((inner.clone(), ws.clone()), 0..6)).prop_map(|items| format!(
                "[{}]",
                items.into_iter().map(|(v, w)| format!("{w}{v}{w}")).collect::<Vec<_>>().join(",")
            )),
            (prop::collection::vec((string.clone(), inner, ws), 0..6)).prop_map(|members| format!(
                "{{{}}}",
                members.into_iter().map(|(k, v, w)| format!("{w}{k}{w}:{v}")).collect::<Vec<_>>().join(",")
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn agrees_on_generated_json(text in json_text()) {
        let _ = agree(&text);
    }

    /// Damaged JSON: a byte replaced, removed or inserted.
    #[test]
    fn agrees_on_damaged_json(text in json_text(), at in any::<prop::sample::Index>(), byte in prop::sample::select(
        b"{}[]\",:\\ 0-.eEtfnu\x01a".to_vec()), how in 0u8..3) {
        let mut bytes = text.into_bytes();
        let i = at.index(bytes.len() + 1);
        match how {
            0 if i < bytes.len() => bytes[i] = byte,
            1 if i < bytes.len() => { bytes.remove(i); }
            _ => bytes.insert(i, byte),
        }
        if let Ok(text) = String::from_utf8(bytes) {
            let _ = agree(&text);
        }
    }
}

/// The eight-bytes-at-a-time scan stops where a byte-at-a-time one does: at
/// every offset of a chunk, for each kind of stop, among bytes on either
/// side of each limit (0x20, the quote, the backslash, 0x80) and after a
/// second stop that a borrow could mistake.
#[test]
fn plain_runs_end_at_the_first_stop() {
    let naive =
        |b: &[u8], from: usize| (from..b.len()).find(|&i| matches!(b[i], b'"' | b'\\' | 0..0x20)).unwrap_or(b.len());
    for filler in [0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff] {
        for stop in [0x00, 0x01, 0x1f, b'"', b'\\'] {
            for len in 0..20 {
                for at in 0..=len {
                    let mut bytes = vec![filler; len];
                    if let Some(b) = bytes.get_mut(at) {
                        *b = stop;
                    }
                    if let Some(b) = bytes.get_mut(at + 1) {
                        *b = 0x00;
                    }
                    for from in 0..=len {
                        assert_eq!(plain_run_end(&bytes, from), naive(&bytes, from), "{bytes:x?} from {from}");
                    }
                }
            }
        }
    }
}
