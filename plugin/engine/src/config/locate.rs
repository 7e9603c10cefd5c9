//! Where a config problem is: the 1-based line:column of a key path in the
//! config's text.
//!
//! The validator works on the parsed `Value`, which has no positions, so this
//! walks the original text again, one key (or array index) at a time. It
//! only ever reads bytes through `get` and never recurses: it runs on text
//! that the JSON parser accepted, but must not panic on any text. Each
//! object and array it walks is scanned once and remembered, and lines are
//! indexed once, so placing every problem of a config with thousands of them
//! stays linear in the text.

use std::collections::HashMap;

use super::Step;
use crate::error::Location;

/// Finds key paths in one config text.
#[derive(Debug)]
pub(super) struct Locator<'t> {
    b: &'t [u8],
    /// Per object (by the offset of its `{`): each member's decoded key →
    /// the offsets of its key and its value.
    objects: HashMap<usize, HashMap<String, (usize, usize)>>,
    /// Per array (by the offset of its `[`): the offset of each item.
    arrays: HashMap<usize, Vec<usize>>,
    /// The offset where each line starts.
    lines: Vec<usize>,
    /// The last offset placed, its line and its column: problems come
    /// mostly in text order, so columns are counted on from there.
    last: (usize, usize, usize),
}

impl<'t> Locator<'t> {
    pub(super) fn new(text: &'t str) -> Locator<'t> {
        let b = text.as_bytes();
        let lines = std::iter::once(0).chain(b.iter().enumerate().filter(|(_, c)| **c == b'\n').map(|(i, _)| i + 1));
        Locator { b, objects: HashMap::new(), arrays: HashMap::new(), lines: lines.collect(), last: (0, 0, 1) }
    }

    /// The position of `steps`: a key's opening quote, or an array item's
    /// first character. When a step is not in the text (a missing key), the
    /// deepest step that is; the root value's first character for no steps.
    /// `None` for a text with no value at all.
    pub(super) fn path(&mut self, steps: &[Step]) -> Option<Location> {
        let b = self.b;
        let mut pos = skip_ws(b, 0);
        if pos >= b.len() {
            return None;
        }
        let mut found = pos;
        for step in steps {
            let next = match step {
                Step::Key(key) => self.objects.entry(pos).or_insert_with(|| members(b, pos)).get(key.as_str()).copied(),
                Step::Index(index) => {
                    self.arrays.entry(pos).or_insert_with(|| items(b, pos)).get(*index).map(|&at| (at, at))
                }
            };
            let Some((mark, value)) = next else { break };
            found = mark;
            pos = value;
        }
        Some(self.at_offset(found))
    }

    /// The line:column of a byte offset, the column counted in characters.
    fn at_offset(&mut self, offset: usize) -> Location {
        let offset = offset.min(self.b.len());
        let line = self.lines.partition_point(|start| *start <= offset).saturating_sub(1);
        let (last_offset, last_line, last_column) = self.last;
        let column = if line == last_line && last_offset <= offset {
            last_column + self.b.get(last_offset..offset).map_or(0, chars)
        } else {
            let start = self.lines.get(line).copied().unwrap_or(0);
            1 + self.b.get(start..offset).map_or(0, chars)
        };
        self.last = (offset, line, column);
        location(line + 1, column)
    }
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

/// The members of the object at `pos`: decoded key → the offsets of the
/// key and of its value. A repeated key keeps its last place, as serde_json
/// keeps its last value (the one the validator saw).
fn members(b: &[u8], pos: usize) -> HashMap<String, (usize, usize)> {
    let mut out = HashMap::new();
    if b.get(pos) != Some(&b'{') {
        return out;
    }
    let mut at = skip_ws(b, pos + 1);
    while b.get(at) == Some(&b'"') {
        let Some(end) = skip_string(b, at) else { break };
        // Keys may be written with escapes (`"inp\u0075t"`): compare them
        // decoded, as the parser did.
        let name = b.get(at..end).and_then(|raw| serde_json::from_slice::<String>(raw).ok());
        let colon = skip_ws(b, end);
        if b.get(colon) != Some(&b':') {
            break;
        }
        let value = skip_ws(b, colon + 1);
        if let Some(name) = name {
            out.insert(name, (at, value));
        }
        let Some(after) = skip_value(b, value).map(|end| skip_ws(b, end)) else { break };
        if b.get(after) != Some(&b',') {
            break;
        }
        at = skip_ws(b, after + 1);
    }
    out
}

/// The offset of each item of the array at `pos`.
fn items(b: &[u8], pos: usize) -> Vec<usize> {
    let mut out = Vec::new();
    if b.get(pos) != Some(&b'[') {
        return out;
    }
    let mut at = skip_ws(b, pos + 1);
    while b.get(at).is_some_and(|c| *c != b']') {
        out.push(at);
        let Some(after) = skip_value(b, at).map(|end| skip_ws(b, end)) else { break };
        if b.get(after) != Some(&b',') {
            break;
        }
        at = skip_ws(b, after + 1);
    }
    out
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
        Locator::new(text).path(steps).map(|l| (l.line, l.column))
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
        // Out of text order, and after a wide character, on one locator.
        let mut locator = Locator::new(r#"{"é":{"a":1,"b":2}}"#);
        let mut place = |steps: &[Step]| locator.path(steps).map(|l| (l.line, l.column));
        assert_eq!(place(&[key("é"), key("b")]), Some((1, 13)));
        assert_eq!(place(&[key("é"), key("a")]), Some((1, 7)));
        assert_eq!(place(&[key("é"), key("b")]), Some((1, 13)));
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
            let _ = Locator::new(text).path(&[key("a"), Step::Index(3), key("b")]);
            let _ = syntax(text, 3, 99);
        }
        assert_eq!(syntax("{\n  é?", 2, 6).map(|l| (l.line, l.column)), Some((2, 4)));
        assert_eq!(syntax("", 1, 0).map(|l| (l.line, l.column)), Some((1, 1)));
    }
}
