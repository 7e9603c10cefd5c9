//! Input: bytes → checked → parsed → records.
//!
//! Limits are checked on the bytes before any parse: size first (free), then
//! UTF-8 in a pass that never recurses. The parse itself (`doc::parse`) is
//! iterative and stops as soon as it is deeper than `input.max_depth`.

use bumpalo::Bump;

use crate::config::Config;
use crate::doc::{self, Node, ParseError};
use crate::error::{Error, ErrorKind};

/// How the records sit inside a parsed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The event is one record.
    Single,
    /// The event is `{"<key>": [record, …]}` (CloudTrail `Records`, Azure `records`).
    Batch(&'static str),
    /// An EventBridge envelope: the record is `detail`, tags go on the envelope.
    EventBridge,
}

/// Checks the limits that cost nothing: size and emptiness. Every event
/// goes through these.
pub(crate) fn check_size(bytes: &[u8], config: &Config) -> Result<(), Error> {
    if bytes.len() > config.max_event_bytes {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("event is {} bytes, over the limit of {} bytes", bytes.len(), config.max_event_bytes),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::new(ErrorKind::Empty, "event is empty"));
    }
    Ok(())
}

/// The keys of a batch object's array of records.
pub(crate) const BATCH_KEYS: [&str; 2] = ["Records", "records"];

/// True if the bytes could be a batch object (`{"Records":[…]}`,
/// `{"records":[…]}`). A key spelled with an escape makes the prefilter send
/// the event to the parser anyway, so the plain spellings suffice. Every
/// event the prefilter rules out goes through this: one SIMD substring
/// search, a small fraction of the prefilter's own pass.
pub(crate) fn may_be_batch(bytes: &[u8]) -> bool {
    memchr::memmem::find_iter(bytes, b"ecords\"").any(|at| at >= 2 && matches!(&bytes[at - 2..at], b"\"R" | b"\"r"))
}

/// Checks what must hold before a parse: UTF-8. Only events that will be
/// parsed pay for it. The event as text, for [`parse`].
pub(crate) fn check_before_parse(bytes: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidUtf8,
            format!("event is not valid utf-8 (invalid byte at offset {})", e.valid_up_to()),
        )
    })
}

/// The deepest nesting of `[`/`{` outside strings, found iteratively. Stops
/// counting past the hard ceiling: deeper is deeper. Only a parse that
/// failed pays for this pass. A string is skipped with memchr (to its
/// closing quote, over escapes): strings are most of an audit event's bytes.
fn max_depth(bytes: &[u8]) -> u32 {
    let (mut depth, mut max, mut at) = (0u32, 0u32, 0usize);
    while let Some(&b) = bytes.get(at) {
        at += 1;
        match b {
            b'"' => loop {
                // The string's end: the first quote no backslash escapes.
                let Some(i) = bytes.get(at..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) else {
                    return max;
                };
                at += i + 1;
                if bytes[at - 1] == b'"' {
                    break;
                }
                at += 1; // the escaped byte
            },
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    max = depth;
                    if max > crate::config::MAX_DEPTH_CEILING {
                        return max;
                    }
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Parses a checked event into `arena` (`doc::parse`: iterative, strings
/// and numbers borrowed from the bytes). An object with the same key twice is
/// refused (`duplicate_key`), as Elasticsearch refuses such a document: no
/// cloud writes one, and whichever value a parser kept is a guess that
/// whoever wrote the line can steer, e.g. a second `eventName` hiding the
/// first from every rule.
///
/// Nesting deeper than `input.max_depth` (`too_deep`) is reported before any
/// other fault of the text, wherever it is: the parse stops at the first
/// fault, so a failed parse counts the depth over the whole text.
pub(crate) fn parse<'a>(text: &'a str, arena: &'a Bump, config: &Config) -> Result<&'a Node<'a>, Error> {
    doc::parse_within(text, arena, config.max_depth).map_err(|e| {
        let depth = max_depth(text.as_bytes());
        if depth > config.max_depth || e == ParseError::TooDeep {
            return Error::new(
                ErrorKind::TooDeep,
                format!(
                    "event nests {} levels deep, over the limit of {}",
                    depth.max(config.max_depth + 1),
                    config.max_depth
                ),
            );
        }
        match e {
            ParseError::DuplicateKey(key) => {
                Error::new(ErrorKind::DuplicateKey, format!("event has the key {key:?} twice in one object"))
            }
            _ => Error::new(ErrorKind::InvalidJson, format!("event is not valid json: {e}")),
        }
    })
}

/// Where the records are.
pub(crate) fn shape(value: &Node<'_>) -> Shape {
    let Node::Object(map) = value else { return Shape::Single };
    for key in BATCH_KEYS {
        if let Some(Node::Array(_)) = map.get(key) {
            // A CloudTrail record or Azure record never has these keys itself,
            // so an object that does is a batch envelope.
            return Shape::Batch(key);
        }
    }
    if map.get("detail-type").and_then(Node::as_str) == Some("AWS API Call via CloudTrail")
        && matches!(map.get("detail"), Some(Node::Object(_)))
    {
        return Shape::EventBridge;
    }
    Shape::Single
}

/// The records of an event, in order, by shape.
pub(crate) fn records<'a>(value: &'a Node<'a>, shape: Shape) -> &'a [Node<'a>] {
    match (shape, value) {
        (Shape::Batch(key), Node::Object(map)) => match map.get(key) {
            Some(Node::Array(items)) => items,
            _ => &[],
        },
        (Shape::EventBridge, Node::Object(map)) => map.get("detail").map(std::slice::from_ref).unwrap_or_default(),
        _ => std::slice::from_ref(value),
    }
}

/// The objects the tags of each record go into, in record order.
pub(crate) fn tag_targets<'a>(value: &'a Node<'a>, shape: Shape) -> &'a [Node<'a>] {
    match shape {
        Shape::Batch(_) => records(value, shape),
        Shape::Single | Shape::EventBridge => std::slice::from_ref(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(bytes: &[u8]) -> Option<ErrorKind> {
        let (c, arena) = (Config::default(), Bump::new());
        let parsed = check_size(bytes, &c).and_then(|()| check_before_parse(bytes)).and_then(|t| parse(t, &arena, &c));
        parsed.err().map(|e| e.kind())
    }

    #[test]
    fn limits() {
        assert_eq!(kind(br#"{"a":1}"#), None);
        assert_eq!(kind(b"  \n"), Some(ErrorKind::Empty));
        assert_eq!(kind(b"{\"a\":\"\xff\"}"), Some(ErrorKind::InvalidUtf8));
        let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert_eq!(kind(deep.as_bytes()), Some(ErrorKind::TooDeep));
        let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert_eq!(kind(ok.as_bytes()), None);
        assert!(parse(&ok, &Bump::new(), &Config::default()).is_ok(), "128 levels parse");
        // Brackets inside strings do not count.
        let quoted = format!("{{\"a\":\"{}\"}}", "[".repeat(500));
        assert_eq!(kind(quoted.as_bytes()), None);
        let big = vec![b' '; 1024 * 1024 + 1];
        assert_eq!(kind(&big), Some(ErrorKind::TooLarge));
        // Too deep wins over any other fault, before or after the deep part,
        // and the message counts the whole text (up to the ceiling).
        let deep_after = |head: &str| format!("{{{head}\"b\":{}1{}}}", "[".repeat(129), "]".repeat(129));
        for head in ["\"a\":tru,", "\"x\":{\"a\":1,\"a\":1},", ""] {
            assert_eq!(kind(deep_after(head).as_bytes()), Some(ErrorKind::TooDeep), "{head}");
        }
        assert_eq!(kind(format!("{}1,]{}", "[".repeat(129), "]".repeat(128)).as_bytes()), Some(ErrorKind::TooDeep));
        let e = parse(&deep_after(""), &Bump::new(), &Config::default()).err().map(|e| e.message().to_string());
        assert_eq!(e.as_deref(), Some("event nests 129 levels deep, over the limit of 128"));
        // Very deep input stops the scan early instead of counting on.
        assert_eq!(max_depth("[".repeat(100_000).as_bytes()), 129);
        // Escaped quotes and backslashes inside strings; unterminated strings.
        assert_eq!(max_depth(br#"{"a\"[":"[\\","b":[{"c":"\"{{"}]}"#), 3);
        assert_eq!(max_depth(br#"["\\"]"#), 1);
        assert_eq!(max_depth(br#"[["\"#), 2);
        assert_eq!(max_depth(br#"[["abc"#), 2);
        assert_eq!(max_depth(br#"[["abc\"#), 2);
    }

    /// The byte-at-a-time scan `max_depth` replaces.
    fn max_depth_bytewise(bytes: &[u8]) -> u32 {
        let (mut depth, mut max, mut in_string, mut escaped) = (0u32, 0u32, false, false);
        for &b in bytes {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        max
    }

    #[test]
    fn max_depth_agrees_with_a_bytewise_scan() {
        let alphabet = br#"{}[]"\a:"#;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..2000 {
            let text: Vec<u8> = (0..len % 40)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            assert_eq!(max_depth(&text), max_depth_bytewise(&text), "{:?}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn parse_keeps_numbers_as_written_and_refuses_duplicate_keys() {
        let (arena, c) = (Bump::new(), Config::default());
        let parse = |s| parse(s, &arena, &c);
        let kind = |s: &'static str| parse(s).err().map(|e| e.kind());
        // Numbers exactly as written (`doc::tests` checks the whole tree
        // against serde_json's).
        let text = r#"{"a":1e400,"b":18446744073709551617,"c":-0,"d":[1.50,{"e":null}],"f":true,"g":"\u00e9"}"#;
        let ours = parse(text).ok();
        let number = |key: &str| ours.and_then(|o| o.get(key)).map(|n| format!("{n:?}"));
        assert_eq!(number("b").as_deref(), Some("Number(Number(\"18446744073709551617\"))"));
        assert_eq!(number("a").as_deref(), Some("Number(Number(\"1e400\"))"));
        assert_eq!(ours.and_then(|o| o.get("g")).and_then(Node::as_str), Some("\u{e9}"));
        assert_eq!(kind(r#"{"a":1,"a":1}"#), Some(ErrorKind::DuplicateKey));
        assert_eq!(kind(r#"{"x":{"a":1,"b":2,"a":3}}"#), Some(ErrorKind::DuplicateKey));
        assert_eq!(kind(r#"[{"a":1},{"a":1}]"#), None, "the same key in two objects is fine");
        assert_eq!(kind(r#"{"a":{"b":1},"b":{"a":1}}"#), None);
        assert_eq!(kind(r#"{"a":1,"a":1"#), Some(ErrorKind::InvalidJson), "unterminated: invalid first");
        assert_eq!(kind(r#"{"a":1,}"#), Some(ErrorKind::InvalidJson));
        // serde_json's internal number token is an ordinary key.
        assert_eq!(kind(r#"{"$serde_json::private::Number":"x"}"#), None);
        assert!(parse(r#"{"a":1}"#).err().is_none());
        let e = parse(r#"{"a":[1,]}"#).err().map(|e| e.message().to_string());
        assert_eq!(e.as_deref(), Some("event is not valid json: expected value at line 1 column 9"));
    }

    #[test]
    fn batches_are_seen_in_the_bytes() {
        assert!(may_be_batch(br#"{"Records":[]}"#));
        assert!(may_be_batch(br#"{"a":1, "records" : [1]}"#));
        assert!(!may_be_batch(br#"{"Records_x":[]}"#));
        assert!(!may_be_batch(br#"{"xRecords":[]}"#));
        assert!(!may_be_batch(br#"ecords""#));
    }

    #[test]
    fn shapes() {
        let (arena, c) = (Bump::new(), Config::default());
        let v = |s: &'static str| parse(s, &arena, &c).unwrap_or(&Node::Null);
        assert_eq!(shape(v(r#"{"Records":[{"a":1},{"b":2}]}"#)), Shape::Batch("Records"));
        assert_eq!(shape(v(r#"{"records":[]}"#)), Shape::Batch("records"));
        assert_eq!(shape(v(r#"{"records":"x"}"#)), Shape::Single);
        let eb = v(r#"{"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"X"}}"#);
        assert_eq!(shape(eb), Shape::EventBridge);
        assert_eq!(records(eb, Shape::EventBridge)[0].get("eventName").and_then(Node::as_str), Some("X"));
        assert_eq!(records(v(r#"{"Records":[{"a":1},{"b":2}]}"#), Shape::Batch("Records")).len(), 2);
    }
}
