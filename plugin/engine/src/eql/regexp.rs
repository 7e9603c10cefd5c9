//! `regex` / `regex~`: Lucene regular expressions, translated to `regex-lite`.
//!
//! Elasticsearch runs EQL's `regex` as a `regexp` query with all optional
//! syntax enabled (`flags_value: 255`), so the pattern is Lucene's `RegExp`
//! language, not PCRE. This module ports Lucene's parser (same grammar, same
//! quirks) to a small tree and prints that as an anchored `regex-lite`
//! pattern. Differences from PCRE that follow from the port:
//!
//! * the whole value must match; `^` and `$` are ordinary characters;
//! * `.` matches any character, newlines included;
//! * `"…"` is a literal string, `@` any string, `#` the empty language;
//! * a quantifier with nothing before it (`*a`, `(+)`) is a literal character;
//! * `\d \w \s` are ASCII classes (`\s` is `[ \t\n\r]`), `\` + any other
//!   letter is an error, `\` + anything else is that character;
//! * `regex~` folds ASCII letters of single characters and strings, not of
//!   ranges: `[a-z]` stays lower-case, as in Lucene's `ASCII_CASE_INSENSITIVE`.
//!
//! Rejected, with a message: intersection `&`, complement `~` (its meaning
//! changed between Lucene 9 and 10), numeric intervals and named automata
//! `<…>`. They can be written as `\&`, `\~`, `\<` when the character is meant.

use regex_lite::{Regex, RegexBuilder};

/// Groups may nest this deep. The parser, the pruner and the printer recurse
/// once per level, so this bounds their stack use.
const MAX_GROUPS: u32 = 32;
/// At most this many quantifiers may follow one atom (`a**` is legal Lucene).
const MAX_STACKED: u32 = 4;
/// Largest `{n,m}` bound accepted.
const MAX_REPEAT: u32 = 1000;
/// `regex-lite` compiled-size limit per pattern (bytes of NFA).
const SIZE_LIMIT: usize = 1 << 20;

const LAST_CHAR: u32 = 0x10_FFFF;

/// A set of code points as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Set(Vec<(u32, u32)>);

impl Set {
    fn range(a: u32, b: u32) -> Set {
        Set(vec![(a, b)])
    }

    fn any() -> Set {
        Set::range(0, LAST_CHAR)
    }

    /// One character; under `fold` an ASCII letter brings its other case.
    fn char(c: char, fold: bool) -> Set {
        let mut s = Set::range(c as u32, c as u32);
        if fold && c.is_ascii_alphabetic() {
            let other = if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() };
            s = s.union(&Set::char(other, false));
        }
        s
    }

    fn union(&self, other: &Set) -> Set {
        let mut all: Vec<(u32, u32)> = self.0.iter().chain(&other.0).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(all.len());
        for (a, b) in all {
            match out.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        Set(out)
    }

    fn complement(&self) -> Set {
        let mut out = Vec::new();
        let mut next = 0u32;
        for &(a, b) in &self.0 {
            if a > next {
                out.push((next, a - 1));
            }
            next = b.saturating_add(1);
        }
        if next <= LAST_CHAR {
            out.push((next, LAST_CHAR));
        }
        Set(out)
    }

    /// The ranges a Rust string can contain: surrogates cut out.
    fn chars(&self) -> Vec<(char, char)> {
        let mut out = Vec::new();
        for &(a, b) in &self.0 {
            for (lo, hi) in [(a, b.min(0xD7FF)), (a.max(0xE000), b)] {
                if let (true, Some(lo), Some(hi)) = (lo <= hi, char::from_u32(lo), char::from_u32(hi)) {
                    out.push((lo, hi));
                }
            }
        }
        out
    }

    fn predefined(class: char) -> Set {
        let digit = Set::range('0' as u32, '9' as u32);
        let space = [' ', '\t', '\n', '\r'].iter().fold(Set::default(), |s, &c| s.union(&Set::char(c, false)));
        let word = [('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')]
            .iter()
            .fold(Set::default(), |s, &(a, b)| s.union(&Set::range(a as u32, b as u32)));
        match class {
            'd' => digit,
            'D' => digit.complement(),
            's' => space,
            'S' => space.complement(),
            'w' => word,
            _ => word.complement(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// `#`: matches nothing.
    Nothing,
    /// Literal characters; `fold` applies to them.
    Str(String),
    /// One character from a set (folding already applied).
    Class(Set),
    /// `@`: any string.
    AnyString,
    Concat(Vec<Node>),
    Union(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

struct Parser<'p> {
    chars: Vec<char>,
    pos: usize,
    fold: bool,
    depth: u32,
    pattern: &'p str,
}

type Parsed<T> = Result<T, String>;

impl Parser<'_> {
    fn more(&self) -> bool {
        self.pos < self.chars.len()
    }

    fn peek(&self, set: &str) -> bool {
        self.chars.get(self.pos).is_some_and(|c| set.contains(*c))
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.chars.get(self.pos) == Some(&c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn next(&mut self) -> Parsed<char> {
        let c = self.chars.get(self.pos).copied().ok_or_else(|| self.error("ends too early"))?;
        self.pos += 1;
        Ok(c)
    }

    fn error(&self, what: &str) -> String {
        format!("regular expression {:?} {what} (at character {})", self.pattern, self.pos + 1)
    }

    fn union(&mut self) -> Parsed<Node> {
        let mut alts = vec![self.intersection()?];
        while self.eat('|') {
            alts.push(self.intersection()?);
        }
        Ok(if alts.len() == 1 { alts.remove(0) } else { Node::Union(alts) })
    }

    fn intersection(&mut self) -> Parsed<Node> {
        let node = self.concat()?;
        if self.peek("&") {
            return Err(
                self.error("uses the intersection operator `&`, which is not supported; write `\\&` for a literal `&`")
            );
        }
        Ok(node)
    }

    fn concat(&mut self) -> Parsed<Node> {
        let mut parts = vec![self.repeat()?];
        while self.more() && !self.peek(")|&") {
            parts.push(self.repeat()?);
        }
        // Adjacent literals merge, which keeps the printed pattern short.
        let mut merged: Vec<Node> = Vec::with_capacity(parts.len());
        for p in parts {
            match (merged.last_mut(), p) {
                (Some(Node::Str(a)), Node::Str(b)) => a.push_str(&b),
                (_, p) => merged.push(p),
            }
        }
        Ok(if merged.len() == 1 { merged.remove(0) } else { Node::Concat(merged) })
    }

    fn repeat(&mut self) -> Parsed<Node> {
        let mut node = self.complement()?;
        let mut stacked = 0;
        while self.peek("?*+{") {
            stacked += 1;
            if stacked > MAX_STACKED {
                return Err(self.error(&format!("stacks more than {MAX_STACKED} quantifiers on one atom")));
            }
            let (min, max) = if self.eat('?') {
                (0, Some(1))
            } else if self.eat('*') {
                (0, None)
            } else if self.eat('+') {
                (1, None)
            } else {
                self.pos += 1; // `{`
                let n = self.integer()?.ok_or_else(|| self.error("expects a number after `{`"))?;
                let m = if self.eat(',') { self.integer()? } else { Some(n) };
                if !self.eat('}') {
                    return Err(self.error("expects `}`"));
                }
                if m.is_some_and(|m| n > m) {
                    return Err(self.error(&format!("has a repetition range out of order: {{{n},{}}}", m.unwrap_or(n))));
                }
                (n, m)
            };
            node = Node::Repeat(Box::new(node), min, max);
        }
        Ok(node)
    }

    fn integer(&mut self) -> Parsed<Option<u32>> {
        let start = self.pos;
        while self.peek("0123456789") {
            self.pos += 1;
        }
        if start == self.pos {
            return Ok(None);
        }
        let digits: String = self.chars.get(start..self.pos).unwrap_or_default().iter().collect();
        match digits.parse::<u32>() {
            Ok(n) if n <= MAX_REPEAT => Ok(Some(n)),
            _ => Err(self.error(&format!("repeats more than {MAX_REPEAT} times"))),
        }
    }

    fn complement(&mut self) -> Parsed<Node> {
        if self.peek("~") {
            return Err(self.error(
                "uses `~`, the complement operator in Elasticsearch 8 and a literal in 9; write `\\~` for a literal `~`",
            ));
        }
        self.char_class_exp()
    }

    fn char_class_exp(&mut self) -> Parsed<Node> {
        if !self.eat('[') {
            return self.simple();
        }
        let negate = self.eat('^');
        let mut set = self.char_class()?;
        while self.more() && !self.peek("]") {
            set = set.union(&self.char_class()?);
        }
        if !self.eat(']') {
            return Err(self.error("expects `]`"));
        }
        Ok(Node::Class(if negate { set.complement() } else { set }))
    }

    fn char_class(&mut self) -> Parsed<Set> {
        match self.predefined()? {
            Some(Escape::Class(set)) => return Ok(set),
            Some(Escape::Char(c)) => return Ok(Set::char(c, self.fold)),
            None => {}
        }
        let from = self.char_exp()?;
        if !self.eat('-') {
            return Ok(Set::char(from, self.fold));
        }
        let to = self.char_exp()?;
        if from > to {
            return Err(self.error(&format!("has an invalid range {from:?}-{to:?}")));
        }
        // Lucene does not fold ranges.
        Ok(Set::range(from as u32, to as u32))
    }

    /// Lucene's `matchPredefinedCharacterClass`. Like Lucene, it consumes a
    /// backslash even when what follows is an ordinary escaped character,
    /// which `char_exp` then reads.
    fn predefined(&mut self) -> Parsed<Option<Escape>> {
        if !self.eat('\\') {
            return Ok(None);
        }
        if self.peek("dDwWsS") {
            return Ok(Some(Escape::Class(Set::predefined(self.next()?))));
        }
        if self.eat('\\') {
            return Ok(Some(Escape::Char('\\')));
        }
        if let Some(c) = self.chars.get(self.pos).filter(|c| c.is_ascii_alphabetic()) {
            return Err(self.error(&format!("has an invalid escape `\\{c}`")));
        }
        Ok(None)
    }

    fn char_exp(&mut self) -> Parsed<char> {
        self.eat('\\');
        self.next()
    }

    fn simple(&mut self) -> Parsed<Node> {
        if self.eat('.') {
            return Ok(Node::Class(Set::any()));
        }
        if self.eat('#') {
            return Ok(Node::Nothing);
        }
        if self.eat('@') {
            return Ok(Node::AnyString);
        }
        if self.eat('"') {
            let start = self.pos;
            while self.more() && !self.peek("\"") {
                self.pos += 1;
            }
            if !self.eat('"') {
                return Err(self.error("expects a closing `\"`"));
            }
            return Ok(Node::Str(self.chars.get(start..self.pos - 1).unwrap_or_default().iter().collect()));
        }
        if self.eat('(') {
            if self.eat(')') {
                return Ok(Node::Str(String::new()));
            }
            self.depth += 1;
            if self.depth > MAX_GROUPS {
                return Err(self.error(&format!("nests groups deeper than {MAX_GROUPS}")));
            }
            let node = self.union()?;
            self.depth -= 1;
            if !self.eat(')') {
                return Err(self.error("expects `)`"));
            }
            return Ok(node);
        }
        if self.peek("<") {
            return Err(self.error(
                "uses `<…>` (a numeric interval or named automaton), which is not supported; write `\\<` for a literal `<`",
            ));
        }
        match self.predefined()? {
            Some(Escape::Class(set)) => Ok(Node::Class(set)),
            Some(Escape::Char(c)) => Ok(Node::Str(c.to_string())),
            None => Ok(Node::Str(self.char_exp()?.to_string())),
        }
    }
}

enum Escape {
    Class(Set),
    Char(char),
}

/// Drops what cannot match; `None` if the node matches nothing at all.
fn prune(node: Node) -> Option<Node> {
    match node {
        Node::Nothing => None,
        Node::Class(set) if set.chars().is_empty() => None,
        Node::Concat(parts) => parts.into_iter().map(prune).collect::<Option<Vec<_>>>().map(Node::Concat),
        Node::Union(alts) => {
            let alts: Vec<Node> = alts.into_iter().filter_map(prune).collect();
            if alts.is_empty() { None } else { Some(Node::Union(alts)) }
        }
        Node::Repeat(inner, min, max) => match prune(*inner) {
            Some(inner) => Some(Node::Repeat(Box::new(inner), min, max)),
            // Zero repetitions of nothing is the empty string.
            None if min == 0 => Some(Node::Str(String::new())),
            None => None,
        },
        other => Some(other),
    }
}

fn push_char(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    }
}

fn print(node: &Node, fold: bool, out: &mut String) {
    match node {
        Node::Nothing => out.push_str("[^\\x{0}-\\x{10FFFF}]"),
        Node::Str(s) => {
            for c in s.chars() {
                if fold && c.is_ascii_alphabetic() {
                    out.push('[');
                    out.push(c.to_ascii_lowercase());
                    out.push(c.to_ascii_uppercase());
                    out.push(']');
                } else {
                    push_char(out, c);
                }
            }
        }
        Node::Class(set) => {
            out.push('[');
            for (lo, hi) in set.chars() {
                push_char(out, lo);
                if hi != lo {
                    out.push('-');
                    push_char(out, hi);
                }
            }
            out.push(']');
        }
        Node::AnyString => out.push_str("(?s:.*)"),
        Node::Concat(parts) => {
            for p in parts {
                print(p, fold, out);
            }
        }
        Node::Union(alts) => {
            out.push_str("(?:");
            for (i, a) in alts.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                print(a, fold, out);
            }
            out.push(')');
        }
        Node::Repeat(inner, min, max) => {
            out.push_str("(?:");
            print(inner, fold, out);
            out.push(')');
            match (min, max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (n, None) => out.push_str(&format!("{{{n},}}")),
                (n, Some(m)) => out.push_str(&format!("{{{n},{m}}}")),
            }
        }
    }
}

/// Translates a Lucene regular expression to an anchored `regex-lite`
/// pattern string; `None` if it matches nothing.
fn translate(pattern: &str, fold: bool) -> Parsed<Option<String>> {
    let mut p = Parser { chars: pattern.chars().collect(), pos: 0, fold, depth: 0, pattern };
    let node = if p.chars.is_empty() { Node::Str(String::new()) } else { p.union()? };
    if p.more() {
        return Err(p.error("has an unexpected `)`"));
    }
    Ok(prune(node).map(|node| {
        let mut out = String::from("^(?:");
        print(&node, fold, &mut out);
        out.push_str(")$");
        out
    }))
}

/// Compiles a Lucene regular expression; `Ok(None)` if it matches nothing.
/// The error is a message for `PatternInvalid`.
pub(crate) fn compile(pattern: &str, fold: bool) -> Result<Option<Regex>, String> {
    let Some(translated) = translate(pattern, fold)? else {
        return Ok(None);
    };
    RegexBuilder::new(&translated)
        .size_limit(SIZE_LIMIT)
        // Each group or quantifier prints as one group; regex-lite itself uses
        // the heap, not the stack, so this only needs to admit what we print.
        .nest_limit(2 * (MAX_GROUPS + 1) * (MAX_STACKED + 2))
        .build()
        .map(Some)
        .map_err(|e| format!("regular expression {pattern:?} is too large or invalid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is(pattern: &str, value: &str) -> bool {
        matches!(compile(pattern, false), Ok(Some(re)) if re.is_match(value))
    }
    fn is_i(pattern: &str, value: &str) -> bool {
        matches!(compile(pattern, true), Ok(Some(re)) if re.is_match(value))
    }
    fn err(pattern: &str) -> String {
        compile(pattern, false).err().unwrap_or_default()
    }

    #[test]
    fn anchored_whole_value() {
        assert!(is("net.exe", "net.exe"));
        assert!(is("net.exe", "netXexe"));
        assert!(!is("net.exe", "xnet.exe"));
        assert!(!is("net", "network"));
        assert!(is("net.*", "network"));
        assert!(is("a|b", "b"));
        assert!(!is("a|b", "ab"));
        assert!(is("", ""));
    }

    #[test]
    fn caret_and_dollar_are_literal() {
        assert!(!is("^.*?net.exe", "c:/net.exe"));
        assert!(is("^.*?net.exe", "^c:/net.exe"));
        assert!(is("a$", "a$"));
    }

    #[test]
    fn quantifiers() {
        assert!(is("ab?c", "ac"));
        assert!(is("ab+c", "abbc"));
        assert!(!is("ab+c", "ac"));
        assert!(is("a{2}", "aa"));
        assert!(!is("a{2}", "aaa"));
        assert!(is("a{2,}", "aaaa"));
        assert!(is("a{1,2}b", "aab"));
        assert!(is("a**", "aaa"));
        assert!(is("(ab)*", "abab"));
        assert!(is(".*?x", "yyx"));
        // A quantifier with nothing before it is a literal.
        assert!(is("*a", "*a"));
        assert!(is("(+)", "+"));
        assert!(is("|a", "|a"));
    }

    #[test]
    fn classes() {
        assert!(is("[abc]+", "cab"));
        assert!(is("[a-c]x", "bx"));
        assert!(!is("[^a-c]x", "bx"));
        assert!(is("[^a-c]x", "dx"));
        assert!(is("[^a]", "\n"));
        assert!(is("[]]", "]"));
        assert!(is(r"\d+", "123"));
        assert!(!is(r"\d", "٣"));
        assert!(is(r"\w+", "a_Z9"));
        assert!(is(r"\s", "\t"));
        assert!(!is(r"\s", "\u{b}"));
        assert!(is(r"[\d.]+", "1.2"));
        assert!(is(r"[\D]", "x"));
        assert!(!is(r"[^\s\S]", "x"));
        assert!(is(r"\S+", "é"));
        assert!(is(".", "\n"));
        assert!(is(".", "😀"));
    }

    #[test]
    fn escapes_and_strings() {
        assert!(is(r"net\.exe", "net.exe"));
        assert!(!is(r"net\.exe", "netXexe"));
        assert!(is(r"C:\\Windows\\system32\\net1\s+", r"C:\Windows\system32\net1  "));
        assert!(is(r#""a.b"c"#, "a.bc"));
        assert!(!is(r#""a.b""#, "aXb"));
        assert!(is(r"\*", "*"));
        assert!(is(r"\&\~\<", "&~<"));
        assert!(is(r"\1", "1"));
    }

    #[test]
    fn anystring_and_empty_language() {
        assert!(is("user@", "user@example.com"));
        assert!(is("@", "anything"));
        assert!(matches!(compile("#", false), Ok(None)));
        assert!(matches!(compile("a#", false), Ok(None)));
        assert!(is("a|#", "a"));
        assert!(is("a#*", "a"));
        assert!(matches!(compile("a#+", false), Ok(None)));
    }

    #[test]
    fn case_insensitive_folds_chars_not_ranges() {
        assert!(is_i("net.exe", "NET.EXE"));
        assert!(is_i("[abc]", "B"));
        assert!(!is_i("[a-c]", "B"));
        assert!(!is_i("[^a]", "A"));
        assert!(!is_i("é", "É"));
        assert!(!is("net", "NET"));
    }

    #[test]
    fn rejected_syntax() {
        assert!(err("a&b").contains("intersection"));
        assert!(err("~a").contains("complement"));
        assert!(err("<1-10>").contains("numeric interval"));
        assert!(err(r"\q").contains(r"invalid escape `\q`"));
        assert!(err("[z-a]").contains("invalid range"));
        assert!(err("(a").contains("expects `)`"));
        assert!(err("a)").contains("unexpected `)`"));
        assert!(err("[a").contains("expects `]`"));
        assert!(err("a{2").contains("expects `}`"));
        assert!(err("a{,2}").contains("expects a number"));
        assert!(err("a{3,2}").contains("out of order"));
        assert!(err("a{99999}").contains("more than 1000"));
        assert!(err("a|").contains("ends too early"));
        assert!(err(&"(".repeat(40)).contains("deeper than 32"));
        assert!(err("a?????").contains("quantifiers"));
        assert!(err("(.{1,1000}){1,1000}").contains("too large"));
    }
}
