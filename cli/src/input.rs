//! Splits an input file into events.
//!
//! Three layouts, told apart by the first non-space byte and whether the
//! first line is a whole JSON value:
//!
//! - **NDJSON**: one event a line, streamed; blank lines are skipped. A line
//!   that is not JSON is still an event (the engine gives it an error
//!   verdict). A line longer than the event limit is not read into memory:
//!   its first `limit + 1` bytes are the event (so the engine reports it as
//!   too large) and [`Scanner::rest_of_line`] streams the rest.
//! - **array**: a JSON array of events, `[{…},{…}]`, possibly pretty-printed.
//! - **batch**: an object whose only key is `Records` (CloudTrail S3 files)
//!   or `records` (Azure diagnostic settings), split into its records.
//!
//! Arrays and batches are held in memory, up to [`MAX_WHOLE_FILE`] bytes; a
//! file that is neither is read as NDJSON.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, Cursor, Read, Write};
use std::ops::Range;

use serde_json::value::RawValue;

/// The largest array or batch file held in memory.
pub const MAX_WHOLE_FILE: usize = 256 << 20;

/// How a file was split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One event a line.
    Ndjson,
    /// A JSON array of events.
    Array,
    /// `{"Records":[…]}` or `{"records":[…]}`: one event per record.
    Batch,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Ndjson => "NDJSON",
            Layout::Array => "JSON array",
            Layout::Batch => "batch object",
        })
    }
}

/// One event of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// 1-based line where the event starts.
    pub line: u64,
    /// The event's bytes (for a truncated line, its first `limit + 1`).
    pub bytes: Vec<u8>,
    /// The line is longer than the limit: the rest of it is still in the
    /// input, see [`Scanner::rest_of_line`].
    pub truncated: bool,
}

/// Splits one input into [`Event`]s.
pub struct Scanner<'a> {
    layout: Layout,
    source: Source<'a>,
}

enum Source<'a> {
    Lines { reader: Box<dyn BufRead + 'a>, line: u64, limit: usize, mid_line: bool },
    Items { buf: Vec<u8>, items: std::vec::IntoIter<Item> },
}

/// An item of an array or batch: the line where it starts and its bytes.
type Item = (u64, Range<usize>);

impl fmt::Debug for Scanner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scanner").field("layout", &self.layout).finish_non_exhaustive()
    }
}

impl<'a> Scanner<'a> {
    /// Recognises the layout of `reader` and prepares to split it. `limit`
    /// is the engine's event size limit (`input.max_event_bytes`).
    pub fn new(mut reader: impl BufRead + 'a, limit: usize) -> io::Result<Scanner<'a>> {
        // `head` keeps every byte read while sniffing, to be read again.
        let mut head = Vec::new();
        loop {
            let buf = reader.fill_buf()?;
            let spaces = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
            head.extend_from_slice(&buf[..spaces]);
            let done = spaces < buf.len() || buf.is_empty();
            reader.consume(spaces);
            if done {
                break;
            }
        }
        let first = reader.fill_buf()?.first().copied();
        if !matches!(first, Some(b'[' | b'{')) {
            return Ok(Scanner::lines(Cursor::new(head).chain(reader), limit));
        }
        let start = head.len();
        read_line_within(&mut reader, &mut head, MAX_WHOLE_FILE)?;
        let first_line = trim_newline(&head[start..]);
        if serde_json::from_slice::<&RawValue>(first_line).is_ok() && !only_spaces_left(&mut reader)? {
            // A whole JSON value and more after it: NDJSON.
            return Ok(Scanner::lines(Cursor::new(head).chain(reader), limit));
        }
        // Either the whole file is on its first line, or the first value
        // spans several lines: read it all and look at it as one value.
        reader.take((MAX_WHOLE_FILE - head.len()) as u64 + 1).read_to_end(&mut head)?;
        if head.len() > MAX_WHOLE_FILE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the input is not NDJSON (its first line is not a JSON value) and is over {} MiB, \
                     the most an array or batch file may hold",
                    MAX_WHOLE_FILE >> 20
                ),
            ));
        }
        match split_whole(&head) {
            Some((layout, items)) => {
                Ok(Scanner { layout, source: Source::Items { buf: head, items: items.into_iter() } })
            }
            None => Ok(Scanner::lines(Cursor::new(head), limit)),
        }
    }

    fn lines(reader: impl BufRead + 'a, limit: usize) -> Scanner<'a> {
        let source = Source::Lines { reader: Box::new(reader), line: 0, limit, mid_line: false };
        Scanner { layout: Layout::Ndjson, source }
    }

    /// The layout recognised.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The next event, or `None` at the end of the input.
    pub fn next_event(&mut self) -> io::Result<Option<Event>> {
        match &mut self.source {
            Source::Items { buf, items } => {
                Ok(items.next().map(|(line, range)| Event { line, bytes: buf[range].to_vec(), truncated: false }))
            }
            Source::Lines { reader, line, limit, mid_line } => {
                if *mid_line {
                    copy_line(reader, None)?;
                    *mid_line = false;
                }
                loop {
                    let mut bytes = Vec::new();
                    let complete = read_line_within(reader, &mut bytes, *limit + 1)?;
                    if bytes.is_empty() && complete {
                        return Ok(None);
                    }
                    *line += 1;
                    let truncated = !complete;
                    if !truncated {
                        let len = trim_newline(&bytes).len();
                        bytes.truncate(len);
                        if bytes.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                    }
                    *mid_line = truncated;
                    return Ok(Some(Event { line: *line, bytes, truncated }));
                }
            }
        }
    }

    /// After a truncated event: copies the rest of its line (without the
    /// newline) to `out`, or skips it when `out` is `None`.
    pub fn rest_of_line(&mut self, out: Option<&mut dyn Write>) -> io::Result<()> {
        if let Source::Lines { reader, mid_line: mid_line @ true, .. } = &mut self.source {
            copy_line(reader, out)?;
            *mid_line = false;
        }
        Ok(())
    }
}

/// Appends the next line (with its `\n`) to `out`, stopping after `max`
/// bytes. True when the line was complete (or the input ended).
fn read_line_within(reader: &mut impl BufRead, out: &mut Vec<u8>, max: usize) -> io::Result<bool> {
    let mut taken = 0;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(true);
        }
        let room = max - taken;
        let (n, found) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) if i < room => (i + 1, true),
            _ => (buf.len().min(room), false),
        };
        out.extend_from_slice(&buf[..n]);
        reader.consume(n);
        taken += n;
        if found {
            return Ok(true);
        }
        if taken == max {
            return Ok(false);
        }
    }
}

/// Copies (or skips) bytes up to the end of the line, consuming the `\n`.
fn copy_line(reader: &mut dyn BufRead, mut out: Option<&mut dyn Write>) -> io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        let (n, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        if let Some(out) = out.as_mut() {
            out.write_all(trim_newline(&buf[..n]))?;
        }
        reader.consume(n + usize::from(end));
        if end {
            return Ok(());
        }
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn only_spaces_left(reader: &mut impl BufRead) -> io::Result<bool> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(true);
        }
        let spaces = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if spaces < buf.len() {
            return Ok(false);
        }
        reader.consume(spaces);
    }
}

/// Splits a whole file that is one JSON array or one batch object into its
/// items: the 1-based line where each starts and its byte range.
fn split_whole(buf: &[u8]) -> Option<(Layout, Vec<Item>)> {
    let (layout, items) = if let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(buf) {
        (Layout::Array, items)
    } else {
        let object = serde_json::from_slice::<BTreeMap<String, &RawValue>>(buf).ok()?;
        let mut entries = object.into_iter();
        let (key, value) = entries.next()?;
        if entries.next().is_some() || !(key == "Records" || key == "records") {
            return None;
        }
        (Layout::Batch, serde_json::from_str::<Vec<&RawValue>>(value.get()).ok()?)
    };
    // Each raw value borrows from `buf`: its offset gives its byte range.
    let base = buf.as_ptr() as usize;
    let (mut line, mut seen) = (1u64, 0usize);
    let ranges = items
        .iter()
        .map(|raw| {
            let start = raw.get().as_ptr() as usize - base;
            line += buf[seen..start].iter().filter(|&&b| b == b'\n').count() as u64;
            seen = start;
            (line, start..start + raw.get().len())
        })
        .collect();
    Some((layout, ranges))
}

/// Writes one event as one line: the bytes as they are when they hold no
/// newline, else with the whitespace between JSON tokens removed (strings,
/// numbers and escapes stay byte for byte).
pub fn write_line(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    if !bytes.contains(&b'\n') {
        out.write_all(bytes)?;
        return out.write_all(b"\n");
    }
    let mut compact = Vec::with_capacity(bytes.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            (escaped, in_string) = (!escaped && b == b'\\', escaped || b != b'"');
        } else if b == b'"' {
            in_string = true;
        } else if b.is_ascii_whitespace() {
            continue;
        }
        compact.push(b);
    }
    compact.push(b'\n');
    out.write_all(&compact)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn split(text: &str, limit: usize) -> (Layout, Vec<(u64, String, bool)>) {
        let mut s = Scanner::new(text.as_bytes(), limit).unwrap();
        let mut events = Vec::new();
        while let Some(e) = s.next_event().unwrap() {
            events.push((e.line, String::from_utf8(e.bytes).unwrap(), e.truncated));
        }
        (s.layout(), events)
    }

    fn ev(line: u64, text: &str) -> (u64, String, bool) {
        (line, text.to_string(), false)
    }

    #[test]
    fn ndjson_lines_blank_lines_and_bad_lines() {
        let (layout, events) = split("{\"a\":1}\n\n  \nnot json\r\n[1]\n{\"b\":2}", 100);
        assert_eq!(layout, Layout::Ndjson);
        assert_eq!(events, [ev(1, "{\"a\":1}"), ev(4, "not json"), ev(5, "[1]"), ev(6, "{\"b\":2}")]);
    }

    #[test]
    fn ndjson_starting_with_a_batch_line_stays_ndjson() {
        let (layout, events) = split("{\"Records\":[{\"a\":1},{\"a\":2}]}\n{\"b\":2}\n", 100);
        assert_eq!(layout, Layout::Ndjson);
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn arrays_pretty_or_not() {
        let (layout, events) = split("\n[\n  {\"a\": 1},\n  {\"b\": [2, 3]}\n]\n", 100);
        assert_eq!(layout, Layout::Array);
        assert_eq!(events, [ev(3, "{\"a\": 1}"), ev(4, "{\"b\": [2, 3]}")]);
        assert_eq!(split("[{\"a\":1},2]", 100).1, [ev(1, "{\"a\":1}"), ev(1, "2")]);
    }

    #[test]
    fn batches_of_either_case() {
        let (layout, events) = split("{\"Records\": [\n{\"a\":1},\n{\"a\":2}]}", 100);
        assert_eq!(layout, Layout::Batch);
        assert_eq!(events, [ev(2, "{\"a\":1}"), ev(3, "{\"a\":2}")]);
        assert_eq!(split("{\"records\":[{\"a\":1}]}", 100).0, Layout::Batch);
        // Another key beside the records: one event, not a batch.
        assert_eq!(
            split("{\"records\":[{\"a\":1}],\"x\":1}", 100),
            (Layout::Ndjson, vec![ev(1, "{\"records\":[{\"a\":1}],\"x\":1}")])
        );
    }

    #[test]
    fn broken_pretty_json_falls_back_to_lines() {
        let (layout, events) = split("{\n\"a\": 1\n", 100);
        assert_eq!(layout, Layout::Ndjson);
        assert_eq!(events, [ev(1, "{"), ev(2, "\"a\": 1")]);
    }

    #[test]
    fn long_lines_are_cut_and_streamed() {
        let text = format!("{{\"a\":\"{}\"}}\n{{\"b\":1}}\n", "x".repeat(50));
        let mut s = Scanner::new(text.as_bytes(), 10).unwrap();
        let first = s.next_event().unwrap().unwrap();
        assert_eq!((first.line, first.bytes.len(), first.truncated), (1, 11, true));
        let mut rest = Vec::new();
        s.rest_of_line(Some(&mut rest)).unwrap();
        assert_eq!([first.bytes, rest].concat(), text.lines().next().unwrap().as_bytes());
        assert_eq!(s.next_event().unwrap().unwrap().bytes, b"{\"b\":1}");
        // Not asking for the rest skips it.
        let mut s = Scanner::new(text.as_bytes(), 10).unwrap();
        assert!(s.next_event().unwrap().unwrap().truncated);
        assert_eq!(s.next_event().unwrap().unwrap().line, 2);
        assert_eq!(s.next_event().unwrap(), None);
    }

    #[test]
    fn write_line_compacts_only_multi_line_values() {
        let line = |b: &[u8]| {
            let mut out = Vec::new();
            write_line(&mut out, b).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(line(b"{ \"a\" : 1 }"), "{ \"a\" : 1 }\n");
        assert_eq!(line(b"{\n  \"a b\\\" c\": [1.50, \"\\\\\"]\n}"), "{\"a b\\\" c\":[1.50,\"\\\\\"]}\n");
    }

    #[test]
    fn empty_input() {
        assert_eq!(split("", 10), (Layout::Ndjson, vec![]));
        assert_eq!(split(" \n\n", 10), (Layout::Ndjson, vec![]));
    }
}
