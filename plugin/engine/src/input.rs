//! Input: bytes → checked → parsed → records.
//!
//! Limits are checked on the bytes before any parse: size first (free), then
//! UTF-8 and nesting depth in one iterative pass, so hostile input can never
//! make the parser recurse deeper than `input.max_depth`.

use serde_json::Value;

use crate::config::Config;
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

/// Checks what must hold before a parse: UTF-8 and nesting depth, in
/// passes over the bytes that never recurse. Only events that will be
/// parsed pay for these.
pub(crate) fn check_before_parse(bytes: &[u8], config: &Config) -> Result<(), Error> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(Error::new(
            ErrorKind::InvalidUtf8,
            format!("event is not valid utf-8 (invalid byte at offset {})", e.valid_up_to()),
        ));
    }
    let depth = max_depth(bytes);
    if depth > config.max_depth {
        return Err(Error::new(
            ErrorKind::TooDeep,
            format!("event nests {depth} levels deep, over the limit of {}", config.max_depth),
        ));
    }
    Ok(())
}

/// The deepest nesting of `[`/`{` outside strings, found iteratively. Stops
/// counting past the hard ceiling: deeper is deeper.
fn max_depth(bytes: &[u8]) -> u32 {
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

/// Parses a checked event. An object with the same key twice is refused
/// (`duplicate_key`), as Elasticsearch refuses such a document: no cloud
/// writes one, and whichever value a parser kept (serde_json keeps the last)
/// is a guess that whoever wrote the line can steer, e.g. a second
/// `eventName` hiding the first from every rule.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, Error> {
    let duplicate = std::cell::Cell::new(None);
    let fail = |e: serde_json::Error| match duplicate.take() {
        Some(key) => Error::new(ErrorKind::DuplicateKey, format!("event has the key {key:?} twice in one object")),
        None => Error::new(ErrorKind::InvalidJson, format!("event is not valid json: {e}")),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // `check_before_parse` has bounded the nesting (at most 128 levels), so
    // the parser's recursion is bounded without its own fixed limit.
    de.disable_recursion_limit();
    let value = serde::de::DeserializeSeed::deserialize(Unique(&duplicate), &mut de).map_err(&fail)?;
    de.end().map_err(&fail)?;
    Ok(value)
}

/// Builds a `Value` as serde_json's own visitor does, except that a repeated
/// key in an object is an error (its name is left in the cell).
#[derive(Clone, Copy)]
struct Unique<'a>(&'a std::cell::Cell<Option<String>>);

/// With `arbitrary_precision`, serde_json hands a number to a visitor as a
/// one-entry map under this key, its value the number as written (the same
/// token serde_json's own `Value` visitor recognises).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

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
        use serde_json::map::Entry;
        // Entries are gathered first so that the map is allocated at its
        // exact size: most objects of an event have a handful of keys, and a
        // growing map's spare room is most of its memory.
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == NUMBER_TOKEN && entries.is_empty() {
                let text: String = map.next_value()?;
                return text.parse::<serde_json::Number>().map(Value::Number).map_err(A::Error::custom);
            }
            entries.push((key, map.next_value_seed(self)?));
        }
        let mut out = serde_json::Map::with_capacity(entries.len());
        for (key, value) in entries {
            match out.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(slot) => {
                    self.0.set(Some(slot.key().clone()));
                    return Err(A::Error::custom("duplicate key"));
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Where the records are.
pub(crate) fn shape(value: &Value) -> Shape {
    let Value::Object(map) = value else { return Shape::Single };
    for key in BATCH_KEYS {
        if let Some(Value::Array(_)) = map.get(key) {
            // A CloudTrail record or Azure record never has these keys itself,
            // so an object that does is a batch envelope.
            return Shape::Batch(key);
        }
    }
    if map.get("detail-type").and_then(Value::as_str) == Some("AWS API Call via CloudTrail")
        && matches!(map.get("detail"), Some(Value::Object(_)))
    {
        return Shape::EventBridge;
    }
    Shape::Single
}

/// The records of an event, in order, by shape.
pub(crate) fn records(value: &Value, shape: Shape) -> Vec<&Value> {
    match (shape, value) {
        (Shape::Batch(key), Value::Object(map)) => match map.get(key) {
            Some(Value::Array(items)) => items.iter().collect(),
            _ => Vec::new(),
        },
        (Shape::EventBridge, Value::Object(map)) => map.get("detail").into_iter().collect(),
        _ => vec![value],
    }
}

/// The objects the tags of each record go into, in record order.
pub(crate) fn tag_targets(value: &mut Value, shape: Shape) -> Vec<&mut Value> {
    match shape {
        Shape::Batch(key) => match value.get_mut(key) {
            Some(Value::Array(items)) => items.iter_mut().collect(),
            _ => Vec::new(),
        },
        Shape::Single | Shape::EventBridge => vec![value],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(bytes: &[u8]) -> Option<ErrorKind> {
        let c = Config::default();
        check_size(bytes, &c).and_then(|()| check_before_parse(bytes, &c)).err().map(|e| e.kind())
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
        assert!(parse(ok.as_bytes()).is_ok(), "128 levels parse");
        // Brackets inside strings do not count.
        let quoted = format!("{{\"a\":\"{}\"}}", "[".repeat(500));
        assert_eq!(kind(quoted.as_bytes()), None);
        let big = vec![b' '; 1024 * 1024 + 1];
        assert_eq!(kind(&big), Some(ErrorKind::TooLarge));
        // Very deep input stops the scan early instead of counting on.
        assert_eq!(max_depth("[".repeat(100_000).as_bytes()), 129);
    }

    #[test]
    fn parse_keeps_numbers_as_written_and_refuses_duplicate_keys() {
        let kind = |s: &str| parse(s.as_bytes()).err().map(|e| e.kind());
        // The same tree as serde_json's own `Value`, numbers as serde_json keeps them.
        let text = r#"{"a":1e400,"b":18446744073709551617,"c":-0,"d":[1.50,{"e":null}],"f":true,"g":"\u00e9"}"#;
        let ours = parse(text.as_bytes()).unwrap_or_default();
        let theirs: Value = serde_json::from_str(text).unwrap_or_default();
        assert_eq!(ours.to_string(), theirs.to_string());
        assert!(ours.to_string().contains("18446744073709551617,"), "{ours}");
        assert_eq!(kind(r#"{"a":1,"a":1}"#), Some(ErrorKind::DuplicateKey));
        assert_eq!(kind(r#"{"x":{"a":1,"b":2,"a":3}}"#), Some(ErrorKind::DuplicateKey));
        assert_eq!(kind(r#"[{"a":1},{"a":1}]"#), None, "the same key in two objects is fine");
        assert_eq!(kind(r#"{"a":{"b":1},"b":{"a":1}}"#), None);
        assert_eq!(kind(r#"{"a":1,"a":1"#), Some(ErrorKind::InvalidJson), "unterminated: invalid first");
        assert_eq!(kind(r#"{"a":1,}"#), Some(ErrorKind::InvalidJson));
        // An object that spells serde_json's number token is read as serde_json reads it.
        assert_eq!(kind(r#"{"$serde_json::private::Number":"x"}"#), Some(ErrorKind::InvalidJson));
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
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
        assert_eq!(shape(&v(r#"{"Records":[{"a":1},{"b":2}]}"#)), Shape::Batch("Records"));
        assert_eq!(shape(&v(r#"{"records":[]}"#)), Shape::Batch("records"));
        assert_eq!(shape(&v(r#"{"records":"x"}"#)), Shape::Single);
        let eb = v(r#"{"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"X"}}"#);
        assert_eq!(shape(&eb), Shape::EventBridge);
        assert_eq!(records(&eb, Shape::EventBridge)[0]["eventName"], "X");
        assert_eq!(records(&v(r#"{"Records":[{"a":1},{"b":2}]}"#), Shape::Batch("Records")).len(), 2);
    }
}
