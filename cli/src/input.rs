//! Splits an input file into events with the engine's splitter
//! ([`modwatch_engine::split`]), so the CLI, the sidecar and the playground
//! find the same events in the same input.
//!
//! - **NDJSON** (the engine's [`split::sniff`] says the head is a stream of
//!   lines): one event a line, streamed; blank lines are skipped. A line that
//!   is not JSON is still an event (the engine gives it an error verdict). A
//!   line longer than the event limit is not read into memory: its first
//!   `limit + 1` bytes are the event (so the engine reports it as too large)
//!   and [`Scanner::rest_of_line`] streams the rest.
//! - anything else (an array, a batch object, pretty-printed values, one
//!   value alone) is held in memory, up to [`MAX_WHOLE_FILE`] bytes, and
//!   [`split::split`] finds its events.

use std::fmt;
use std::io::{self, BufRead, Cursor, Read, Write};

use modwatch_engine::split::{self, Sniff, Span};

pub use modwatch_engine::split::Layout;

/// The largest input held in memory to be split whole.
pub const MAX_WHOLE_FILE: usize = 256 << 20;

/// The first read of the head; each further read doubles it, so that the
/// rescans of [`split::sniff`] stay linear overall.
const FIRST_HEAD: usize = 4096;

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
    Items { buf: Vec<u8>, items: std::vec::IntoIter<Span> },
}

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
        let mut want = FIRST_HEAD;
        let sniffed = loop {
            (&mut reader).take((want - head.len()) as u64).read_to_end(&mut head)?;
            let at_end = head.len() < want;
            if let Some(sniffed) = split::sniff(&head, at_end) {
                break sniffed;
            }
            if head.len() > MAX_WHOLE_FILE {
                return Err(too_large());
            }
            want = want.saturating_mul(2).min(MAX_WHOLE_FILE + 1);
        };
        if sniffed == Sniff::Lines {
            return Ok(Scanner::lines(Cursor::new(head).chain(reader), limit));
        }
        reader.take((MAX_WHOLE_FILE + 1).saturating_sub(head.len()) as u64).read_to_end(&mut head)?;
        if head.len() > MAX_WHOLE_FILE {
            return Err(too_large());
        }
        let whole = split::split(&head);
        if whole.layout == Layout::Ndjson {
            // One line alone, or lines after a first value that never
            // closes: read as lines, so that over-long ones are cut as in a
            // stream.
            return Ok(Scanner::lines(Cursor::new(head), limit));
        }
        Ok(Scanner { layout: whole.layout, source: Source::Items { buf: head, items: whole.events.into_iter() } })
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
            Source::Items { buf, items } => Ok(items.next().map(|span| Event {
                line: span.line,
                bytes: buf.get(span.range()).unwrap_or_default().to_vec(),
                truncated: false,
            })),
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
                        // The engine's trimming: the same events as `split::lines`.
                        match split::line_event(&bytes) {
                            Some(event) => bytes.truncate(event.len()),
                            None => continue,
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

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the input is not NDJSON (its first value spans lines, or its first line never ends) and is over {} MiB, \
             the most an array, batch or pretty-printed file may hold",
            MAX_WHOLE_FILE >> 20
        ),
    )
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
        let (n, found) = match memchr::memchr(b'\n', buf) {
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
        let (n, end) = match memchr::memchr(b'\n', buf) {
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
    fn pretty_values_one_after_another_are_one_event_each() {
        // Was one event per line before the engine's splitter.
        let (layout, events) = split("{\n  \"a\": 1\n}\n{\n  \"b\": 2\n}\n", 100);
        assert_eq!(layout, Layout::Values);
        assert_eq!(events, [ev(1, "{\n  \"a\": 1\n}"), ev(4, "{\n  \"b\": 2\n}")]);
    }

    #[test]
    fn a_pretty_array_with_a_bad_element_is_still_an_array() {
        let (layout, events) = split("[\n  {\"a\": 1},\n  nope\n]\n", 100);
        assert_eq!(layout, Layout::Array);
        assert_eq!(events, [ev(2, "{\"a\": 1}"), ev(3, "nope")]);
    }

    #[test]
    fn a_first_line_longer_than_the_first_read_is_sniffed() {
        let text = format!("{{\"a\":\"{}\"}}\n{{\"b\":1}}\n", "x".repeat(3 * FIRST_HEAD));
        let (layout, events) = split(&text, 100);
        assert_eq!(layout, Layout::Ndjson);
        assert_eq!((events.len(), events[0].2, events[1].clone()), (2, true, ev(2, "{\"b\":1}")));
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
        assert_eq!(split("", 10), (Layout::Empty, vec![]));
        // Whitespace only: empty, as the engine's splitter says.
        assert_eq!(split(" \n\n", 10), (Layout::Empty, vec![]));
    }
}
