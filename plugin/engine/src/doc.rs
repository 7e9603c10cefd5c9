//! The event document: a JSON value borrowed from the event's text and an
//! arena.
//!
//! An event is parsed into [`Node`]s that point into the event's own text
//! (strings without escapes, numbers as written) or into a [`Bump`] arena
//! (unescaped strings, the arrays of members and items). The engine owns the
//! arena and resets it before each event, so a steady stream of events
//! allocates nothing and dropping a document costs nothing, however it nests.
//!
//! Nothing here recurses on the nesting of the input: the parser keeps its own
//! stack of open containers, and readers of a document walk it with explicit
//! stacks too. Interpreters with small fixed stacks (Fluent Bit's WAMR) thus
//! need the same stack for a record 120 levels deep as for a flat one.

use std::fmt;

use bumpalo::Bump;
use bumpalo::collections::{String as BumpString, Vec as BumpVec};

/// A JSON value of an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number<'a>),
    /// The string's value (unescaped).
    String(&'a str),
    Array(&'a [Node<'a>]),
    Object(Object<'a>),
}

/// A JSON number, kept exactly as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Number<'a>(&'a str);

/// Where an object sits in the text it was parsed from: `start` is its
/// opening bracket, `end` is one past its closing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// A JSON object: its members in order (keys unescaped, each at most once)
/// and its span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Object<'a> {
    pub(crate) members: &'a [(&'a str, Node<'a>)],
    pub(crate) span: Span,
}

/// Objects are equal by content, wherever they were written.
impl PartialEq for Object<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.members == other.members
    }
}

impl<'a> Number<'a> {
    /// A number from its text (which the caller knows to be a JSON number).
    #[cfg(test)]
    pub(crate) fn new(text: &'a str) -> Number<'a> {
        Number(text)
    }

    /// The number as written.
    pub(crate) fn as_str(&self) -> &'a str {
        self.0
    }

    /// The value as a `u64`, if it is written as one.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    /// The value as an `i64`, if it is written as one.
    pub(crate) fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }
}

impl fmt::Display for Number<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl<'a> Object<'a> {
    /// The value of `key`: a linear scan (records have few keys per object).
    pub(crate) fn get(&self, key: &str) -> Option<&'a Node<'a>> {
        self.members.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.members.iter().any(|(k, _)| *k == key)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl<'a> Node<'a> {
    pub(crate) fn as_str(&self) -> Option<&'a str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Node::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&'a [Node<'a>]> {
        match self {
            Node::Array(items) => Some(items),
            _ => None,
        }
    }

    pub(crate) fn is_object(&self) -> bool {
        matches!(self, Node::Object(_))
    }

    pub(crate) fn is_string(&self) -> bool {
        matches!(self, Node::String(_))
    }

    /// The value of `key` when this is an object.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Node<'a>> {
        match self {
            Node::Object(o) => o.get(key),
            _ => None,
        }
    }
}

/// Why a text is not a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Not JSON: what was wrong, and where (1-based line and column, in bytes).
    Invalid { what: &'static str, line: usize, column: usize },
    /// An object has this key twice (after unescaping).
    DuplicateKey(String),
    /// The value nests arrays and objects deeper than the limit
    /// [`parse_within`] was given (found before any other fault after it).
    TooDeep,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Invalid { what, line, column } => write!(f, "{what} at line {line} column {column}"),
            ParseError::DuplicateKey(key) => write!(f, "the key {key:?} twice in one object"),
            ParseError::TooDeep => f.write_str("nested too deep"),
        }
    }
}

/// Objects with more keys than this are checked for repeated keys by sorting
/// instead of comparing every pair.
const PAIRWISE_KEYS: usize = 16;

/// Parses one JSON value (RFC 8259, strict: what `serde_json` accepts),
/// with surrounding whitespace, into `arena`. Iterative: the nesting of the
/// text costs heap in the arena, never stack.
pub(crate) fn parse<'a>(text: &'a str, arena: &'a Bump) -> Result<&'a Node<'a>, ParseError> {
    parse_within(text, arena, u32::MAX)
}

/// As [`parse`], refusing a value that nests arrays and objects more than
/// `max_depth` levels deep ([`ParseError::TooDeep`], as soon as the parse
/// reaches that depth): the depth limit costs no pass of its own.
#[inline(never)] // See `engine::judge` on frames.
pub(crate) fn parse_within<'a>(text: &'a str, arena: &'a Bump, max_depth: u32) -> Result<&'a Node<'a>, ParseError> {
    let max_open = usize::try_from(max_depth).unwrap_or(usize::MAX);
    Parser { text, bytes: text.as_bytes(), pos: 0, arena, max_open }.run()
}

/// A raw control character in a string.
const CONTROL: &str = "control character (\\u0000-\\u001F) found while parsing a string";

/// Where the run of plain string bytes from `from` ends: at the first quote,
/// backslash or control character (below 0x20), or at the end of `bytes`.
/// Eight bytes at a time: strings are most of an event's bytes, and a wasm
/// interpreter pays for every instruction a byte-at-a-time loop runs.
fn plain_run_end(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte below `n` (`n` <= 0x80), exact for the
    // lowest such byte (a borrow only reaches bytes above it).
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else { break };
        let w = u64::from_le_bytes(chunk);
        let stops = below(w ^ (ONES * u64::from(b'"')), 1) | below(w ^ (ONES * u64::from(b'\\')), 1) | below(w, 0x20);
        if stops != 0 {
            return i + (stops.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// What [`Parser::next_or_close`] reports inside an array and an object: any
/// byte but `,` and the closing one, and the end of the text.
const LIST: (&str, &str) = ("expected `,` or `]`", "EOF while parsing a list");
const OBJECT: (&str, &str) = ("expected `,` or `}`", "EOF while parsing an object");

/// An open container while its contents are parsed.
enum Open<'a> {
    Array { from: usize },
    Object { start: usize, from: usize, key: &'a str },
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    arena: &'a Bump,
    /// Containers open at once beyond which the value is too deep.
    max_open: usize,
}

impl<'a> Parser<'a> {
    fn run(mut self) -> Result<&'a Node<'a>, ParseError> {
        let arena = self.arena;
        let mut open: BumpVec<'a, Open<'a>> = BumpVec::new_in(arena);
        let mut items: BumpVec<'a, Node<'a>> = BumpVec::new_in(arena);
        let mut members: BumpVec<'a, (&'a str, Node<'a>)> = BumpVec::new_in(arena);
        'value: loop {
            self.skip_ws();
            let start = self.pos;
            // This container, even empty, nests inside every open one.
            if matches!(self.peek(), Some(b'{' | b'[')) && open.len() >= self.max_open {
                return Err(ParseError::TooDeep);
            }
            let mut value = match self.peek() {
                Some(b'{') => {
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Node::Object(Object { members: &[], span: span(start, self.pos) })
                    } else {
                        let key = self.key()?;
                        open.push(Open::Object { start, from: members.len(), key });
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Node::Array(&[])
                    } else {
                        open.push(Open::Array { from: items.len() });
                        continue 'value;
                    }
                }
                Some(b'"') => Node::String(self.string()?),
                Some(b't') => self.literal("true", Node::Bool(true))?,
                Some(b'f') => self.literal("false", Node::Bool(false))?,
                Some(b'n') => self.literal("null", Node::Null)?,
                Some(b'-' | b'0'..=b'9') => Node::Number(self.number()?),
                Some(_) => return Err(self.error("expected value")),
                None => return Err(self.error("EOF while parsing a value")),
            };
            // A value is complete: hand it to its container, closing every
            // container it completes in turn.
            loop {
                match open.last_mut() {
                    None => {
                        self.skip_ws();
                        if self.pos < self.bytes.len() {
                            return Err(self.error("trailing characters"));
                        }
                        return Ok(arena.alloc(value));
                    }
                    Some(Open::Array { from }) => {
                        items.push(value);
                        let from = *from;
                        let Some(slice) = self.next_or_close(&mut items, from, b']', LIST)? else { continue 'value };
                        open.pop();
                        value = Node::Array(slice);
                    }
                    Some(Open::Object { start, from, key }) => {
                        members.push((*key, value));
                        let (start, from) = (*start, *from);
                        let Some(slice) = self.next_or_close(&mut members, from, b'}', OBJECT)? else {
                            *key = self.key()?;
                            continue 'value;
                        };
                        open.pop();
                        if let Some(key) = repeated_key(slice, arena) {
                            return Err(ParseError::DuplicateKey(key.to_string()));
                        }
                        value = Node::Object(Object { members: slice, span: span(start, self.pos) });
                    }
                }
            }
        }
    }

    /// After an item of an open container whose items start at `from` in
    /// `stack`: a `,` (`None`: another item follows), or the container's
    /// `close` byte (its items, moved from `stack` into the arena). `errors`
    /// are the messages for any other byte and for the end of the text.
    fn next_or_close<T: Copy>(
        &mut self,
        stack: &mut BumpVec<'a, T>,
        from: usize,
        close: u8,
        errors: (&'static str, &'static str),
    ) -> Result<Option<&'a [T]>, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(None)
            }
            Some(b) if b == close => {
                self.pos += 1;
                let slice = self.arena.alloc_slice_copy(&stack[from..]);
                stack.truncate(from);
                Ok(Some(slice))
            }
            Some(_) => Err(self.error(errors.0)),
            None => Err(self.error(errors.1)),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    fn error(&self, what: &'static str) -> ParseError {
        let before = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
        ParseError::Invalid { what, line, column }
    }

    /// An object key and the `:` after it.
    fn key(&mut self) -> Result<&'a str, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => {}
            Some(_) => return Err(self.error("key must be a string")),
            None => return Err(self.error("EOF while parsing an object")),
        }
        let key = self.string()?;
        self.skip_ws();
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                Ok(key)
            }
            Some(_) => Err(self.error("expected `:`")),
            None => Err(self.error("EOF while parsing an object")),
        }
    }

    fn literal(&mut self, word: &'static str, node: Node<'a>) -> Result<Node<'a>, ParseError> {
        for &want in word.as_bytes() {
            match self.peek() {
                Some(b) if b == want => self.pos += 1,
                Some(_) => return Err(self.error("expected ident")),
                None => return Err(self.error("EOF while parsing a value")),
            }
        }
        Ok(node)
    }

    fn digits(&mut self) -> usize {
        let from = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - from
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, kept as written.
    fn number(&mut self) -> Result<Number<'a>, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.error("invalid number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(Number(&self.text[start..self.pos]))
    }

    /// A string from its opening quote: borrowed from the text when it has
    /// no escapes, else unescaped into the arena.
    fn string(&mut self) -> Result<&'a str, ParseError> {
        self.pos += 1;
        let start = self.pos;
        self.pos = plain_run_end(self.bytes, self.pos);
        match self.peek() {
            Some(b'"') => {
                let s = &self.text[start..self.pos];
                self.pos += 1;
                return Ok(s);
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.error(CONTROL)),
            None => return Err(self.error("EOF while parsing a string")),
        }
        let mut out = BumpString::with_capacity_in(self.pos - start + 16, self.arena);
        out.push_str(&self.text[start..self.pos]);
        loop {
            // At a backslash: the escape, then the run of plain bytes after it.
            self.pos += 1;
            self.escape(&mut out)?;
            let run = self.pos;
            self.pos = plain_run_end(self.bytes, self.pos);
            out.push_str(&self.text[run..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out.into_bump_str());
                }
                Some(b'\\') => {}
                Some(_) => return Err(self.error(CONTROL)),
                None => return Err(self.error("EOF while parsing a string")),
            }
        }
    }

    /// One escape, after its backslash.
    fn escape(&mut self, out: &mut BumpString<'a>) -> Result<(), ParseError> {
        let Some(b) = self.peek() else { return Err(self.error("EOF while parsing a string")) };
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(self.error("lone leading surrogate in hex escape"));
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(self.error("lone leading surrogate in hex escape"));
                        }
                        let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                        char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))?
                    }
                    0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate in hex escape")),
                    _ => char::from_u32(u32::from(unit)).ok_or_else(|| self.error("invalid unicode code point"))?,
                }
            }
            _ => return Err(self.error("invalid escape")),
        };
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u16, ParseError> {
        let mut n = 0u16;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                Some(_) => return Err(self.error("invalid escape")),
                None => return Err(self.error("EOF while parsing a string")),
            };
            self.pos += 1;
            n = (n << 4) | u16::from(digit);
        }
        Ok(n)
    }
}

fn span(start: usize, end: usize) -> Span {
    // Events are at most `input.max_event_bytes` (far below 4 GiB).
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Span { start: clamp(start), end: clamp(end) }
}

/// The first key (in order of its second occurrence) that an object has
/// twice. Small objects compare every pair; larger ones sort their keys.
fn repeated_key<'a>(members: &[(&'a str, Node<'a>)], arena: &Bump) -> Option<&'a str> {
    if members.len() <= PAIRWISE_KEYS {
        return members
            .iter()
            .enumerate()
            .find(|(i, (key, _))| members[..*i].iter().any(|(k, _)| k == key))
            .map(|(_, (key, _))| *key);
    }
    let mut order = BumpVec::from_iter_in(0..members.len(), arena);
    order.sort_unstable_by(|&a, &b| members[a].0.cmp(members[b].0).then(a.cmp(&b)));
    // In each run of equal keys, the second index is the key's second
    // occurrence; the earliest of those is what a pairwise scan finds.
    order.windows(2).filter(|w| members[w[0]].0 == members[w[1]].0).map(|w| w[1]).min().map(|i| members[i].0)
}

#[cfg(test)]
mod tests;
