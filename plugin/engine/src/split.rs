//! Splitting an input into events: where each event's bytes are, found by a
//! byte scan that parses nothing. Every host gives the engine each event's
//! bytes exactly as written, so invalid JSON, bad UTF-8 and odd numbers reach
//! the engine unchanged and get its own verdict.
//!
//! [`split`] recognises the layout of a whole input:
//!
//! - **empty**: nothing but whitespace.
//! - **array**: one JSON array spanning the input, `[{…}, {…}]`, possibly
//!   pretty-printed: one event per element.
//! - **batch**: one object spanning the input whose only key is `Records`
//!   (CloudTrail files in S3) or `records` (Azure diagnostic settings),
//!   holding an array: one event per record.
//! - **NDJSON**: the input starts with a value that ends on its first line,
//!   or with something that is not `[` or `{`: one event per line that is not
//!   blank. A line that is not JSON is still an event (the engine gives it an
//!   error verdict); so is a line holding a batch (the engine splits it).
//! - **values**: the first value spans lines (pretty-printed events, one
//!   after another): one event per value. Whatever lies between values and
//!   is not one (a stray comma, a word) is an event of its own, and an
//!   unbalanced value runs to the end of the input.
//!   Whether `[`/`{` … `]`/`}` balance decides; an input whose first value
//!   never closes is read as NDJSON instead.
//!
//! A host that streams its input reads lines itself ([`line_event`] trims
//! each one as [`lines`] does) and asks [`sniff`] about the head of the input
//! first: a stream of lines, or an input to read whole and [`split`].
//!
//! ```
//! use modwatch_engine::split::{self, Layout};
//!
//! let input = b"{\"Records\": [\n  {\"eventName\": \"RunInstances\"},\n  {\"eventName\": \"StopInstances\"}\n]}";
//! let s = split::split(input);
//! assert_eq!(s.layout, Layout::Batch);
//! assert_eq!((s.events[1].line, &input[s.events[1].range()]), (3, &b"{\"eventName\": \"StopInstances\"}"[..]));
//! assert_eq!(split::sniff(b"{\"a\":1}\n{\"a\":", false), Some(split::Sniff::Lines));
//! ```

use std::fmt;
use std::ops::Range;

use memchr::{memchr, memchr2};

use crate::input::BATCH_KEYS;

/// How an input holds its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Nothing but whitespace: no events.
    Empty,
    /// One JSON array spanning the input: one event per element.
    Array,
    /// `{"Records":[…]}` or `{"records":[…]}` spanning the input: one event
    /// per record.
    Batch,
    /// One event per line that is not blank.
    Ndjson,
    /// Values one after another, spanning lines: one event per value.
    Values,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Empty => "empty input",
            Layout::Array => "JSON array",
            Layout::Batch => "batch object",
            Layout::Ndjson => "NDJSON",
            Layout::Values => "JSON values",
        })
    }
}

/// Where one event's bytes are in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Offset of the event's first byte.
    pub start: usize,
    /// Offset just past the event's last byte.
    pub end: usize,
    /// 1-based line of the event's first byte (lines end with `\n`).
    pub line: u64,
}

impl Span {
    /// The event's byte range in its input.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// An input's layout and its events, in input order: each non-empty, each
/// after the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// How the input holds its events.
    pub layout: Layout,
    /// Where each event is.
    pub events: Vec<Span>,
}

/// What the head of an input tells about its layout (see [`sniff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    /// NDJSON: the input can be read one line at a time, each line's event
    /// given by [`line_event`]. [`split`] of the whole input would say
    /// [`Layout::Ndjson`] and find the same events.
    Lines,
    /// Read the input whole and [`split`] it: it is an array, a batch,
    /// pretty-printed values, or one value alone (whose layout [`split`]
    /// decides).
    Whole,
}

/// JSON's whitespace: the bytes allowed between tokens.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The offset of the first non-space byte at or after `i` (`input.len()` if
/// none).
fn skip_space(input: &[u8], i: usize) -> usize {
    input.get(i..).and_then(|rest| rest.iter().position(|&b| !is_space(b))).map_or(input.len(), |n| i + n)
}

/// The end of the string whose opening quote is at `open`, or `None` if it
/// never closes. A backslash escapes the byte after it.
fn string_end(input: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    loop {
        let at = i + memchr2(b'"', b'\\', input.get(i..)?)?;
        if input.get(at) == Some(&b'"') {
            return Some(at + 1);
        }
        i = at + 2;
    }
}

/// The end of the value starting at `start`, or `None` if it never ends
/// (or `start` is past the input). An object or array ends where its
/// brackets balance (which kind closes is not checked: the engine reports
/// such an event as invalid JSON); any other token runs to the next byte
/// that cannot be part of one, so it is empty when `start` is such a byte.
fn value_end(input: &[u8], start: usize) -> Option<usize> {
    match *input.get(start)? {
        b'"' => string_end(input, start),
        b'{' | b'[' => {
            // A count, not a stack: no recursion and no memory per level,
            // however deep the nesting.
            let mut depth = 0usize;
            let mut i = start;
            while let Some(&b) = input.get(i) {
                match b {
                    b'"' => {
                        i = string_end(input, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let token = input[start..].iter().position(|&b| is_space(b) || b",:[]{}\"".contains(&b));
            Some(token.map_or(input.len(), |n| start + n))
        }
    }
}

/// The elements of the array whose `[` is at `open`, and the offset past its
/// `]`; `None` unless it is values separated by commas.
fn elements(input: &[u8], open: usize) -> Option<(Vec<Range<usize>>, usize)> {
    let mut items = Vec::new();
    let mut i = skip_space(input, open + 1);
    if input.get(i) == Some(&b']') {
        return Some((items, i + 1));
    }
    loop {
        let end = value_end(input, i)?;
        if end == i {
            return None; // a comma or a bracket where a value should be
        }
        items.push(i..end);
        i = skip_space(input, end);
        match input.get(i)? {
            b',' => i = skip_space(input, i + 1),
            b']' => return Some((items, i + 1)),
            _ => return None,
        }
    }
}

/// The elements of the array at `open` if it spans the rest of the input.
fn whole_array(input: &[u8], open: usize) -> Option<Vec<Range<usize>>> {
    let (items, after) = elements(input, open)?;
    (skip_space(input, after) == input.len()).then_some(items)
}

/// The records of the batch object at `open` if it spans the rest of the
/// input: `{`, one key of [`BATCH_KEYS`], `:`, an array, `}`.
fn whole_batch(input: &[u8], open: usize) -> Option<Vec<Range<usize>>> {
    let key = skip_space(input, open + 1);
    if input.get(key) != Some(&b'"') {
        return None;
    }
    let key_end = string_end(input, key)?;
    if !is_batch_key(&input[key..key_end]) {
        return None;
    }
    let colon = skip_space(input, key_end);
    let list = skip_space(input, colon + 1);
    if input.get(colon) != Some(&b':') || input.get(list) != Some(&b'[') {
        return None;
    }
    let (items, after) = elements(input, list)?;
    let close = skip_space(input, after);
    (input.get(close) == Some(&b'}') && skip_space(input, close + 1) == input.len()).then_some(items)
}

/// True if the quoted key is a batch key, also when spelled with escapes
/// (`"Rec\u006frds"` is `Records` to any JSON reader).
fn is_batch_key(quoted: &[u8]) -> bool {
    let Some(bare) = quoted.get(1..quoted.len().saturating_sub(1)) else { return false };
    if !bare.contains(&b'\\') {
        return BATCH_KEYS.iter().any(|k| k.as_bytes() == bare);
    }
    serde_json::from_slice::<String>(quoted).is_ok_and(|k| BATCH_KEYS.contains(&k.as_str()))
}

/// Gives each range its 1-based line, counting newlines once over the input.
fn with_lines(input: &[u8], ranges: impl IntoIterator<Item = Range<usize>>) -> Vec<Span> {
    let (mut seen, mut line) = (0, 1u64);
    ranges
        .into_iter()
        .map(|r| {
            line += memchr::memchr_iter(b'\n', &input[seen..r.start]).count() as u64;
            seen = r.start;
            Span { start: r.start, end: r.end, line }
        })
        .collect()
}

/// Splits a whole input into its events (see the module docs for the
/// layouts and how they are told apart).
pub fn split(input: &[u8]) -> Split {
    let first = skip_space(input, 0);
    let Some(&open) = input.get(first) else { return Split { layout: Layout::Empty, events: Vec::new() } };
    let whole = match open {
        b'[' => whole_array(input, first).map(|items| (Layout::Array, items)),
        b'{' => whole_batch(input, first).map(|items| (Layout::Batch, items)),
        _ => None,
    };
    let spans_lines = || value_end(input, first).is_some_and(|end| input[first..end].contains(&b'\n'));
    let (layout, ranges) = match whole {
        Some(whole) => whole,
        None if matches!(open, b'[' | b'{') && spans_lines() => (Layout::Values, values(input, first)),
        None => return Split { layout: Layout::Ndjson, events: lines(input) },
    };
    Split { layout, events: with_lines(input, ranges) }
}

/// Values one after another from `first` to the end of the input.
fn values(input: &[u8], first: usize) -> Vec<Range<usize>> {
    let mut items = Vec::new();
    let mut i = first;
    while i < input.len() {
        let Some(end) = value_end(input, i) else {
            items.push(i..input.len());
            break;
        };
        // A byte that starts no value is an event of its own.
        let end = end.max(i + 1);
        items.push(i..end);
        i = skip_space(input, end);
    }
    items
}

/// Splits an input known to be NDJSON: one event per line that is not
/// blank, trimmed by [`line_event`].
pub fn lines(input: &[u8]) -> Vec<Span> {
    let mut events = Vec::new();
    let (mut start, mut line) = (0, 1u64);
    while start < input.len() {
        let end = memchr(b'\n', &input[start..]).map_or(input.len(), |n| start + n);
        if let Some(event) = line_event(&input[start..end]) {
            events.push(Span { start, end: start + event.len(), line });
        }
        (start, line) = (end + 1, line + 1);
    }
    events
}

/// The event of one NDJSON line: the line without its `\n` and a `\r` before
/// it, or `None` if it is blank (only JSON whitespace). Spaces around the
/// event are kept, so that the event is passed on as written.
pub fn line_event(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    (!line.iter().all(|&b| is_space(b))).then_some(line)
}

/// The records of a message of `[timestamp, record]` pairs: one JSON array
/// spanning the input, each element an array of a number and an object (what
/// Fluent Bit's `nats` output publishes for each flush, the tag added to each
/// record as its `tag` key). The byte range of each record, in order; `None`
/// when the input is anything else, an empty array included, so that any
/// other event is still taken whole.
pub fn timestamped_records(input: &[u8]) -> Option<Vec<Range<usize>>> {
    let first = skip_space(input, 0);
    if input.get(first) != Some(&b'[') {
        return None;
    }
    let pairs = whole_array(input, first)?;
    if pairs.is_empty() {
        return None;
    }
    pairs
        .into_iter()
        .map(|pair| {
            if input.get(pair.start) != Some(&b'[') {
                return None;
            }
            let (items, after) = elements(input, pair.start)?;
            let [time, record] = <[Range<usize>; 2]>::try_from(items).ok()?;
            let number = input.get(time.start).is_some_and(|b| b.is_ascii_digit() || *b == b'-');
            (after == pair.end && number && input.get(record.start) == Some(&b'{')).then_some(record)
        })
        .collect()
}

/// What the head of an input (its first bytes, as many as were read) tells
/// about its layout; `None` until it can tell, then the same answer however
/// much more is read. `at_end`: the head is the whole input (then the answer
/// is never `None`).
///
/// An input is a stream of lines if it starts with something that is not
/// `[` or `{`, or if its first value ends on its first line and more than
/// whitespace follows. A host reading a stream grows the head until it gets
/// an answer; growing it by doubling keeps the rescans linear overall.
pub fn sniff(head: &[u8], at_end: bool) -> Option<Sniff> {
    let first = skip_space(head, 0);
    let Some(&open) = head.get(first) else { return at_end.then_some(Sniff::Whole) };
    if !matches!(open, b'[' | b'{') {
        return Some(Sniff::Lines);
    }
    let newline = memchr(b'\n', &head[first..]).map(|n| first + n);
    match value_end(head, first) {
        // The first value spans lines, or never ends after its first line:
        // not NDJSON, or not known to be before the whole input is seen.
        Some(end) if newline.is_some_and(|n| n < end) => Some(Sniff::Whole),
        None if newline.is_some() => Some(Sniff::Whole),
        Some(end) if skip_space(head, end) < head.len() => Some(Sniff::Lines),
        _ => at_end.then_some(Sniff::Whole),
    }
}

#[cfg(test)]
mod tests;
