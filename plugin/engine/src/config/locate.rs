//! Where a config problem is: the 1-based line:column of a key path in the
//! config's text.
//!
//! The validator works on the parsed `Value`, which has no positions, so this
//! walks the original text again, one key (or array index) at a time. It
//! only ever reads bytes through `get`, never recurses and never allocates
//! more than one decoded key at a time: it runs on text that the JSON parser
//! accepted, but must not panic on any text.

use super::Step;
use crate::error::Location;

/// The position of `steps` in `text`: a key's opening quote, or an array
/// item's first character. When a step is not in the text (a missing key),
/// the deepest step that is; the root value's first character for no steps.
/// `None` for a text with no value at all.
pub(super) fn path(text: &str, steps: &[Step]) -> Option<Location> {
    let b = text.as_bytes();
    let mut pos = skip_ws(b, 0);
    if pos >= b.len() {
        return None;
    }
    let mut found = pos;
    for step in steps {
        let next = match step {
            Step::Key(key) => member(b, pos, key),
            Step::Index(index) => item(b, pos, *index),
        };
        let Some((mark, value)) = next else { break };
        found = mark;
        pos = value;
    }
    Some(at_offset(b, found))
}

/// The position of a JSON syntax error that serde_json reports as a 1-based
/// line and a column counted in bytes (0 at the start of a line), as a
/// column counted in characters.
pub(super) fn syntax(text: &str, line: usize, byte_column: usize) -> Option<Location> {
    if line == 0 {
        return None;
    }
    let b = text.as_bytes();
    let start = if line == 1 {
        0
    } else {
        b.iter().enumerate().filter(|(_, c)| **c == b'\n').nth(line - 2).map_or(b.len(), |(i, _)| i + 1)
    };
    let end = start.saturating_add(byte_column).min(b.len());
    let column = b.get(start..end).map_or(0, chars);
    Some(location(line, column.max(1)))
}

fn location(line: usize, column: usize) -> Location {
    let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    Location { rule_id: None, line: n(line), column: n(column), pack_line: None }
}

/// The line:column of a byte offset, the column counted in characters.
fn at_offset(b: &[u8], offset: usize) -> Location {
    let before = b.get(..offset).unwrap_or(b);
    let line_start = before.iter().rposition(|c| *c == b'\n').map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|c| **c == b'\n').count();
    let column = 1 + before.get(line_start..).map_or(0, chars);
    location(line, column)
}

/// Characters in UTF-8 bytes: the bytes that are not continuation bytes.
fn chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|c| **c & 0xC0 != 0x80).count()
}

fn skip_ws(b: &[u8], mut at: usize) -> usize {
    while b.get(at).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// In the object at `pos`, the last member named `key` (serde_json keeps the
/// last of repeated keys, so that is the value the validator saw): the
/// offsets of its key and of its value.
fn member(b: &[u8], pos: usize, key: &str) -> Option<(usize, usize)> {
    if b.get(pos) != Some(&b'{') {
        return None;
    }
    let mut at = skip_ws(b, pos + 1);
    let mut hit = None;
    while b.get(at) == Some(&b'"') {
        let end = skip_string(b, at)?;
        // Keys may be written with escapes (`"inp\u0075t"`): compare them
        // decoded, as the parser did.
        let name = b.get(at..end).and_then(|raw| serde_json::from_slice::<String>(raw).ok());
        let colon = skip_ws(b, end);
        if b.get(colon) != Some(&b':') {
            break;
        }
        let value = skip_ws(b, colon + 1);
        if name.as_deref() == Some(key) {
            hit = Some((at, value));
        }
        let after = skip_ws(b, skip_value(b, value)?);
        if b.get(after) != Some(&b',') {
            break;
        }
        at = skip_ws(b, after + 1);
    }
    hit
}

/// In the array at `pos`, item `index`: its offset, twice (an item has no
/// key; the item itself is the mark).
fn item(b: &[u8], pos: usize, index: usize) -> Option<(usize, usize)> {
    if b.get(pos) != Some(&b'[') {
        return None;
    }
    let mut at = skip_ws(b, pos + 1);
    let mut n = 0;
    loop {
        if b.get(at).is_none_or(|c| *c == b']') {
            return None;
        }
        if n == index {
            return Some((at, at));
        }
        let after = skip_ws(b, skip_value(b, at)?);
        if b.get(after) != Some(&b',') {
            return None;
        }
        at = skip_ws(b, after + 1);
        n += 1;
    }
}

/// The offset just past the string whose opening quote is at `at`.
fn skip_string(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match b.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The offset just past the value that starts at `at`, counting brackets
/// instead of recursing, so any depth costs no stack.
fn skip_value(b: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = at;
    loop {
        let Some(&c) = b.get(i) else { return (depth == 0).then_some(i) };
        match c {
            b'"' => {
                i = skip_string(b, i)?;
                if depth == 0 {
                    return Some(i);
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                // At depth 0 this closes the enclosing container: the
                // scalar before it ended here.
                if depth == 0 {
                    return Some(i);
                }
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return Some(i),
            _ => {}
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, steps: &[Step]) -> Option<(u32, u32)> {
        path(text, steps).map(|l| (l.line, l.column))
    }

    fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }

    #[test]
    fn keys_and_items() {
        let text =
            "{\n  \"input\": {\"max_depth\": 1000},\n  \"scoring\": {\"change_windows\": [{}, {\"days\": [\"x\"]}]}\n}";
        assert_eq!(at(text, &[key("input")]), Some((2, 3)));
        assert_eq!(at(text, &[key("input"), key("max_depth")]), Some((2, 13)));
        let days = [key("scoring"), key("change_windows"), Step::Index(1), key("days")];
        assert_eq!(at(text, &days), Some((3, 39)));
        assert_eq!(at(text, &[key("scoring"), key("change_windows"), Step::Index(1)]), Some((3, 38)));
        // A missing key: the deepest step found.
        assert_eq!(at(text, &[key("input"), key("validate")]), Some((2, 3)));
        assert_eq!(at(text, &[]), Some((1, 1)));
    }

    #[test]
    fn repeated_escaped_and_wide() {
        assert_eq!(at(r#"{"a":1,"a":2}"#, &[key("a")]), Some((1, 8)));
        assert_eq!(at(r#"{"x":"é","inp\u0075t":0}"#, &[key("input")]), Some((1, 10)));
        assert_eq!(at(r#"{"k\"":[1,"]",{"a":[]}],"b":0}"#, &[key("b")]), Some((1, 25)));
    }

    #[test]
    fn any_text_is_safe() {
        for text in ["", " ", "{", "{\"", "{\"a\"", "{\"a\":", "[", "[1,", "\"\\", "}", "{\"a\":[[[[", "é"] {
            let _ = path(text, &[key("a"), Step::Index(3), key("b")]);
            let _ = syntax(text, 3, 99);
        }
        assert_eq!(syntax("{\n  é?", 2, 6).map(|l| (l.line, l.column)), Some((2, 4)));
        assert_eq!(syntax("", 1, 0).map(|l| (l.line, l.column)), Some((1, 1)));
    }
}
