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

/// Parses a checked event.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, Error> {
    let invalid = |e: serde_json::Error| Error::new(ErrorKind::InvalidJson, format!("event is not valid json: {e}"));
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // `check_before_parse` has bounded the nesting (at most 128 levels), so
    // the parser's recursion is bounded without its own fixed limit.
    de.disable_recursion_limit();
    let value = serde::Deserialize::deserialize(&mut de).map_err(invalid)?;
    de.end().map_err(invalid)?;
    Ok(value)
}

/// Where the records are.
pub(crate) fn shape(value: &Value) -> Shape {
    let Value::Object(map) = value else { return Shape::Single };
    for key in ["Records", "records"] {
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
