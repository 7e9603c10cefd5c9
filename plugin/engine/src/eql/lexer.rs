//! The EQL lexer, following Elasticsearch's `EqlBase.g4`: `//` and `/* */`
//! comments (nestable), double-quoted strings with `\b \t \n \f \r \" \' \\`
//! and `\u{XX…}` escapes, raw `"""…"""` strings, backtick-quoted names, and
//! numbers with optional fraction and exponent. Neither kind of string may
//! span lines. Single-quoted and `?"…"` strings are errors with a hint.

use super::syntax_error;
use crate::error::Error;

/// A 1-based position in the query: line, and column in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub(crate) line: u32,
    pub(crate) col: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An identifier or keyword: `[A-Za-z_@][A-Za-z0-9_]*`.
    Word(String),
    /// A word immediately followed by `~`: `like~`, `in~`, `startsWith~`.
    TildeWord(String),
    /// A backtick-quoted name, unquoted.
    Quoted(String),
    /// A string literal, unescaped.
    Str(String),
    /// An unsigned number as written.
    Num(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    EqEq,
    NotEq,
    Assign,
    Lt,
    Le,
    Gt,
    Ge,
    Colon,
    Question,
    Pipe,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Bang,
    Tilde,
    Eof,
}

/// A token with where it starts and its source text (byte range).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: Pos,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

struct Cursor<'s> {
    src: &'s str,
    at: usize,
    pos: Pos,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.src.get(self.at..)?.chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.src.get(self.at..)?.chars();
        it.next();
        it.next()
    }

    fn starts_with(&self, s: &str) -> bool {
        self.src.get(self.at..).is_some_and(|r| r.starts_with(s))
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.bump();
        }
        hit
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&f) {
            self.bump();
        }
    }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '@'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `src` into tokens, ending with `Eof`.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, Error> {
    let mut cur = Cursor { src, at: 0, pos: Pos { line: 1, col: 1 } };
    let mut out: Vec<Token> = Vec::new();
    loop {
        skip_space_and_comments(&mut cur)?;
        let (start, pos) = (cur.at, cur.pos);
        let Some(c) = cur.bump() else {
            out.push(Token { tok: Tok::Eof, pos, start, end: start });
            return Ok(out);
        };
        // A `.5` number, unless the dot continues a field name.
        let in_name = matches!(out.last().map(|t| &t.tok), Some(Tok::Word(_) | Tok::Quoted(_)));
        let tok = match c {
            '"' if cur.starts_with("\"\"") => raw_string(&mut cur, pos)?,
            '"' => string(&mut cur, pos)?,
            '\'' => {
                return Err(syntax_error(pos, "strings use double quotes, not single quotes: write \"…\""));
            }
            '`' => quoted_name(&mut cur, pos)?,
            c if c.is_ascii_digit() => number(&mut cur, start),
            '.' if !in_name && cur.peek().is_some_and(|d| d.is_ascii_digit()) => number(&mut cur, start),
            c if is_word_start(c) => {
                cur.take_while(is_word_char);
                let word = src.get(start..cur.at).unwrap_or_default().to_string();
                if c != '_' && c != '@' && cur.eat('~') { Tok::TildeWord(word) } else { Tok::Word(word) }
            }
            '?' if matches!(cur.peek(), Some('"' | '\'')) => {
                return Err(syntax_error(
                    pos,
                    "`?\"…\"` strings are not supported; write a raw string as \"\"\"…\"\"\"",
                ));
            }
            '?' => Tok::Question,
            '=' if cur.eat('=') => Tok::EqEq,
            '=' => Tok::Assign,
            '!' if cur.eat('=') => Tok::NotEq,
            '!' => Tok::Bang,
            '<' if cur.eat('=') => Tok::Le,
            '<' => Tok::Lt,
            '>' if cur.eat('=') => Tok::Ge,
            '>' => Tok::Gt,
            ':' => Tok::Colon,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '.' => Tok::Dot,
            '|' => Tok::Pipe,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            '~' => Tok::Tilde,
            other => return Err(syntax_error(pos, format!("unexpected character {other:?}"))),
        };
        out.push(Token { tok, pos, start, end: cur.at });
    }
}

fn skip_space_and_comments(cur: &mut Cursor<'_>) -> Result<(), Error> {
    loop {
        cur.take_while(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if cur.starts_with("//") {
            cur.take_while(|c| c != '\n');
        } else if cur.starts_with("/*") {
            let pos = cur.pos;
            let mut depth = 0usize;
            loop {
                if cur.starts_with("/*") {
                    cur.bump();
                    cur.bump();
                    depth += 1;
                } else if cur.starts_with("*/") {
                    cur.bump();
                    cur.bump();
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                } else if cur.bump().is_none() {
                    return Err(syntax_error(pos, "comment \"/*\" is not closed"));
                }
            }
        } else {
            return Ok(());
        }
    }
}

fn number(cur: &mut Cursor<'_>, start: usize) -> Tok {
    // The first character (a digit or `.`) is already consumed.
    let leading_dot = cur.src.get(start..).is_some_and(|s| s.starts_with('.'));
    cur.take_while(|c| c.is_ascii_digit());
    if !leading_dot && cur.peek() == Some('.') {
        cur.bump();
        cur.take_while(|c| c.is_ascii_digit());
    }
    if matches!(cur.peek(), Some('e' | 'E')) {
        let sign = matches!(cur.peek2(), Some('+' | '-'));
        let mut probe = cur.src.get(cur.at..).unwrap_or_default().chars().skip(if sign { 2 } else { 1 });
        if probe.next().is_some_and(|d| d.is_ascii_digit()) {
            cur.bump();
            if sign {
                cur.bump();
            }
            cur.take_while(|c| c.is_ascii_digit());
        }
    }
    Tok::Num(cur.src.get(start..cur.at).unwrap_or_default().to_string())
}

fn string(cur: &mut Cursor<'_>, open: Pos) -> Result<Tok, Error> {
    let mut out = String::new();
    loop {
        let at = cur.pos;
        match cur.bump() {
            None => return Err(syntax_error(open, "string is not closed")),
            Some('"') => return Ok(Tok::Str(out)),
            Some('\n' | '\r') => {
                return Err(syntax_error(open, "string is not closed before the end of the line"));
            }
            Some('\\') => out.push(escape(cur, at)?),
            Some(c) => out.push(c),
        }
    }
}

fn escape(cur: &mut Cursor<'_>, at: Pos) -> Result<char, Error> {
    Ok(match cur.bump() {
        Some('t') => '\t',
        Some('b') => '\u{8}',
        Some('f') => '\u{c}',
        Some('n') => '\n',
        Some('r') => '\r',
        Some('"') => '"',
        Some('\'') => '\'',
        Some('\\') => '\\',
        Some('u') => {
            let start = cur.at;
            if !cur.eat('{') {
                return Err(syntax_error(at, "unicode escape must be written \\u{XXXX}"));
            }
            cur.take_while(|c| c.is_ascii_hexdigit());
            let hex = cur.src.get(start + 1..cur.at).unwrap_or_default();
            if !cur.eat('}') || !(2..=8).contains(&hex.len()) {
                return Err(syntax_error(at, "unicode escape must be \\u{…} with 2 to 8 hex digits"));
            }
            u32::from_str_radix(hex, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| syntax_error(at, format!("\\u{{{hex}}} is not a unicode character")))?
        }
        Some(other) => {
            return Err(syntax_error(
                at,
                format!("unknown escape sequence \"\\{other}\" in string; write \"\\\\\" for a backslash"),
            ));
        }
        None => return Err(syntax_error(at, "string is not closed")),
    })
}

fn raw_string(cur: &mut Cursor<'_>, open: Pos) -> Result<Tok, Error> {
    cur.bump();
    cur.bump();
    let start = cur.at;
    loop {
        if cur.starts_with("\"\"\"") {
            // Like the grammar, up to two more quotes belong to the string.
            let mut end = cur.at;
            for _ in 0..3 {
                cur.bump();
            }
            for _ in 0..2 {
                if cur.eat('"') {
                    end += 1;
                }
            }
            return Ok(Tok::Str(cur.src.get(start..end).unwrap_or_default().to_string()));
        }
        match cur.bump() {
            None => return Err(syntax_error(open, "raw string is not closed")),
            Some('\n' | '\r') => {
                return Err(syntax_error(open, "raw string is not closed before the end of the line"));
            }
            Some(_) => {}
        }
    }
}

fn quoted_name(cur: &mut Cursor<'_>, open: Pos) -> Result<Tok, Error> {
    let mut out = String::new();
    loop {
        match cur.bump() {
            None => return Err(syntax_error(open, "field name quoted with ` is not closed")),
            Some('`') if cur.eat('`') => out.push('`'),
            Some('`') if out.is_empty() => {
                return Err(syntax_error(open, "field name `` is empty"));
            }
            Some('`') => return Ok(Tok::Quoted(out)),
            Some(c) => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).map(|ts| ts.into_iter().map(|t| t.tok).collect()).unwrap_or_default()
    }
    fn err(src: &str) -> (String, u32, u32) {
        match lex(src) {
            Ok(_) => (String::new(), 0, 0),
            Err(e) => {
                let (line, col) = e.location().map_or((0, 0), |l| (l.line, l.column));
                (e.message().to_string(), line, col)
            }
        }
    }
    fn w(s: &str) -> Tok {
        Tok::Word(s.to_string())
    }
    fn st(s: &str) -> Tok {
        Tok::Str(s.to_string())
    }

    #[test]
    fn words_names_operators() {
        use Tok::*;
        assert_eq!(
            toks("any where event.action == \"x\""),
            [w("any"), w("where"), w("event"), Dot, w("action"), EqEq, st("x"), Eof]
        );
        assert_eq!(toks("@timestamp _x a1"), [w("@timestamp"), w("_x"), w("a1"), Eof]);
        assert_eq!(
            toks("like~ in~ startsWith~"),
            [TildeWord("like".into()), TildeWord("in".into()), TildeWord("startsWith".into()), Eof]
        );
        assert_eq!(toks("`a.b c` `x``y`"), [Quoted("a.b c".into()), Quoted("x`y".into()), Eof]);
        assert_eq!(
            toks("== != = < <= > >= : ? | ( ) [ ] , + - * / % ! ~"),
            [
                EqEq, NotEq, Assign, Lt, Le, Gt, Ge, Colon, Question, Pipe, LParen, RParen, LBracket, RBracket, Comma,
                Plus, Minus, Star, Slash, Percent, Bang, Tilde, Eof
            ]
        );
    }

    #[test]
    fn numbers() {
        let n = |s: &str| Tok::Num(s.to_string());
        assert_eq!(
            toks("1 12.5 1. 1e5 1.5E-3 .5"),
            [n("1"), n("12.5"), n("1."), n("1e5"), n("1.5E-3"), n(".5"), Tok::Eof]
        );
        assert_eq!(toks("1ex"), [n("1"), w("ex"), Tok::Eof]);
        assert_eq!(toks("a.b"), [w("a"), Tok::Dot, w("b"), Tok::Eof]);
        assert_eq!(toks("a.5"), [w("a"), Tok::Dot, n("5"), Tok::Eof]);
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(toks(r#""a\tb\nc\rd\\e\"f\'g\b\f""#), [st("a\tb\nc\rd\\e\"f'g\u{8}\u{c}"), Tok::Eof]);
        assert_eq!(toks(r#""\u{41}\u{1F600}\u{0000200f}""#), [st("A😀\u{200f}"), Tok::Eof]);
        assert_eq!(toks(r#""""C:\raw "q" \n""""#), [st(r#"C:\raw "q" \n"#), Tok::Eof]);
        assert_eq!(toks(r#""""a""""" x"#), [st(r#"a"""#), w("x"), Tok::Eof]);
        assert_eq!(toks(r#""""""""#), [st(""), Tok::Eof]);
        assert_eq!(toks("\"é\""), [st("é"), Tok::Eof]);
    }

    #[test]
    fn comments_and_whitespace() {
        assert_eq!(toks("a // note\n/* x /* nested */ y */ b"), [w("a"), w("b"), Tok::Eof]);
        assert_eq!(toks(" \t\r\n"), [Tok::Eof]);
    }

    #[test]
    fn positions_are_line_and_char_column() {
        let ts = lex("a\n  \"é\" == b").unwrap_or_default();
        let at: Vec<(u32, u32)> = ts.iter().map(|t| (t.pos.line, t.pos.col)).collect();
        assert_eq!(at, [(1, 1), (2, 3), (2, 7), (2, 10), (2, 11)]);
    }

    #[test]
    fn errors() {
        assert_eq!(err("a == 'x'"), ("strings use double quotes, not single quotes: write \"…\"".into(), 1, 6));
        assert_eq!(err("a == ?\"x\"").1, 1);
        assert!(err("a == ?\"x\"").0.contains("raw string"));
        assert_eq!(err("a == \"x").0, "string is not closed");
        assert_eq!(err("a == \"x\ny\"").0, "string is not closed before the end of the line");
        assert_eq!(err("\"\"\"x\n\"\"\"").0, "raw string is not closed before the end of the line");
        assert_eq!(
            err(r#"a == "\w""#),
            ("unknown escape sequence \"\\w\" in string; write \"\\\\\" for a backslash".into(), 1, 7)
        );
        assert!(err(r#""\u{1}""#).0.contains("2 to 8 hex digits"));
        assert!(err(r#""\u{D800}""#).0.contains("not a unicode character"));
        assert!(err(r#""\u41""#).0.contains("\\u{XXXX}"));
        assert_eq!(err("a /* x").0, "comment \"/*\" is not closed");
        assert_eq!(err("a # b"), ("unexpected character '#'".into(), 1, 3));
        assert_eq!(err("`ab").0, "field name quoted with ` is not closed");
        assert_eq!(err("``").0, "field name `` is empty");
    }
}
