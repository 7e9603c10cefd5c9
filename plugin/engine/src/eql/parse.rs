//! The parser: tokens to a compiled condition, with the checks Elasticsearch
//! makes when it compiles a query (its verifier and query translator).
//!
//! Grammar (the event-query part of `EqlBase.g4`):
//!
//! ```text
//! query     := ("any" | category) "where" or [EOF]
//! or        := and ("or" and)*
//! and       := not ("and" not)*
//! not       := "not" not | "(" or ")" | operand [suffix]
//! suffix    := cmp operand | ":" values | ("like"|"like~"|"regex"|"regex~") values
//!            | ["not"] ("in"|"in~") "(" value ("," value)* ")"
//! operand   := ["?"] name ("." name)* | function "(" [operand ("," operand)*] ")" | value
//! ```
//!
//! `and`/`or` chains are parsed iteratively; `not`, parentheses and function
//! calls count towards [`MAX_DEPTH`], so hostile input cannot exhaust the stack.

use super::ast::{Cmp, Expr, Leaf, Lit, NumLit, Test};
use super::cidr::Cidr;
use super::lexer::{Tok, Token, lex};
use super::pattern::{self, Syntax, Wildcard};
use super::{FieldPath, pattern_error, regexp, rejected, syntax_error};
use crate::error::Error;

/// How deep parentheses, `not`s and function calls may nest.
pub(crate) const MAX_DEPTH: u32 = 64;

/// Words that cannot name a field or category (EQL reserves them).
const KEYWORDS: &[&str] = &[
    "and", "any", "by", "false", "in", "join", "like", "maxspan", "not", "null", "of", "or", "regex", "sample",
    "sequence", "true", "until", "where", "with",
];

/// EQL functions Elasticsearch knows that modwatch does not implement.
const OTHER_FUNCTIONS: &[&str] = &[
    "add",
    "between",
    "concat",
    "divide",
    "indexof",
    "modulo",
    "multiply",
    "number",
    "string",
    "substring",
    "subtract",
    "wildcard",
];

/// A parsed query: its category filter (`None` for `any`) and condition.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) category: Option<String>,
    pub(crate) cond: Expr,
}

/// Parses a whole query.
pub(crate) fn parse(src: &str) -> Result<Parsed, Error> {
    let tokens = lex(src)?;
    let mut p = Parser { src, tokens, i: 0, depth: 0 };
    p.query()
}

/// What can stand on either side of an operator.
enum Operand {
    Field(FieldPath, Token),
    /// A boolean function call, already compiled to its leaf.
    Pred(Leaf, String, Token),
    /// `length(field)`.
    Length(FieldPath, Token),
    /// A literal; `None` is `null`.
    Value(Option<Lit>, Token),
}

impl Operand {
    fn token(&self) -> &Token {
        match self {
            Operand::Field(_, t) | Operand::Pred(_, _, t) | Operand::Length(_, t) | Operand::Value(_, t) => t,
        }
    }
}

/// The string-matching operators.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Match {
    /// `:`, and `like~` (the same thing).
    Insensitive,
    Like,
    Regex,
    RegexInsensitive,
}

fn is_keyword(w: &str) -> bool {
    KEYWORDS.contains(&w)
}

fn is_word(t: &Token, w: &str) -> bool {
    matches!(&t.tok, Tok::Word(x) if x == w)
}

fn is_tilde_word(t: &Token, w: &str) -> bool {
    matches!(&t.tok, Tok::TildeWord(x) if x == w)
}

fn comparison(tok: &Tok) -> Option<Cmp> {
    Some(match tok {
        Tok::EqEq => Cmp::Eq,
        Tok::NotEq => Cmp::Ne,
        Tok::Lt => Cmp::Lt,
        Tok::Le => Cmp::Le,
        Tok::Gt => Cmp::Gt,
        Tok::Ge => Cmp::Ge,
        _ => return None,
    })
}

fn leaf(field: FieldPath, test: Test, negated: bool) -> Expr {
    Expr::Leaf(Leaf { field, test, negated })
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    i: usize,
    depth: u32,
}

type PResult<T> = Result<T, Error>;

impl Parser<'_> {
    fn peek(&self) -> Token {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> Token {
        // The token list always ends with `Eof`; past it, `Eof` repeats.
        let last = self.tokens.len().saturating_sub(1);
        self.tokens.get((self.i + ahead).min(last)).cloned().unwrap_or(Token {
            tok: Tok::Eof,
            pos: super::lexer::Pos::default(),
            start: 0,
            end: 0,
        })
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.tok != Tok::Eof {
            self.i += 1;
        }
        t
    }

    /// The token as written, quoted, or "the end of the query".
    fn describe(&self, t: &Token) -> String {
        if t.tok == Tok::Eof {
            return "the end of the query".to_string();
        }
        format!("{:?}", self.src.get(t.start..t.end).unwrap_or_default())
    }

    fn describe_operand(&self, o: &Operand) -> String {
        match o {
            Operand::Field(path, _) => format!("field {:?}", path.dotted),
            Operand::Pred(_, name, _) => format!("{name}(…)"),
            Operand::Length(..) => "length(…)".to_string(),
            Operand::Value(_, t) => self.describe(t),
        }
    }

    fn enter(&mut self, t: &Token) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(rejected(t.pos, format!("query nests deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn query(&mut self) -> PResult<Parsed> {
        let head = self.bump();
        let category = match &head.tok {
            Tok::Word(w) if w == "any" => None,
            Tok::Word(w) if matches!(w.as_str(), "sequence" | "sample" | "join") => {
                return Err(rejected(
                    head.pos,
                    format!("{w} queries are not supported; write an event query such as `any where …`"),
                ));
            }
            Tok::Word(w) | Tok::Str(w) if !is_keyword(w) || matches!(head.tok, Tok::Str(_)) => Some(w.clone()),
            _ => {
                return Err(syntax_error(
                    head.pos,
                    format!("expected an event category or \"any\", found {}", self.describe(&head)),
                ));
            }
        };
        let w = self.bump();
        if !is_word(&w, "where") {
            return Err(syntax_error(
                w.pos,
                format!("expected \"where\" after {}, found {}", self.describe(&head), self.describe(&w)),
            ));
        }
        let cond = self.or()?;
        let t = self.peek();
        match t.tok {
            Tok::Eof => Ok(Parsed { category, cond }),
            Tok::Pipe => Err(rejected(t.pos, "pipes (`| head`, `| tail`, …) are not supported")),
            _ => Err(syntax_error(
                t.pos,
                format!("expected \"and\", \"or\" or the end of the query, found {}", self.describe(&t)),
            )),
        }
    }

    fn or(&mut self) -> PResult<Expr> {
        let mut parts = vec![self.and()?];
        while is_word(&self.peek(), "or") {
            self.bump();
            parts.push(self.and()?);
        }
        Ok(Expr::any(parts))
    }

    fn and(&mut self) -> PResult<Expr> {
        let mut parts = vec![self.not()?];
        while is_word(&self.peek(), "and") {
            self.bump();
            parts.push(self.not()?);
        }
        Ok(Expr::all(parts))
    }

    fn not(&mut self) -> PResult<Expr> {
        let t = self.peek();
        if is_word(&t, "not") {
            self.bump();
            self.enter(&t)?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(inner.negate());
        }
        if t.tok == Tok::LParen {
            self.bump();
            self.enter(&t)?;
            let inner = self.or()?;
            let close = self.bump();
            if close.tok != Tok::RParen {
                return Err(syntax_error(
                    close.pos,
                    format!(
                        "expected \")\" to close the \"(\" at {}:{}, found {}",
                        t.pos.line,
                        t.pos.col,
                        self.describe(&close)
                    ),
                ));
            }
            self.depth -= 1;
            let next = self.peek();
            if comparison(&next.tok).is_some() || next.tok == Tok::Colon {
                return Err(rejected(
                    next.pos,
                    "a parenthesised condition cannot be compared; compare a field or a function",
                ));
            }
            return Ok(inner);
        }
        let left = self.operand()?;
        self.suffix(left)
    }

    fn operand(&mut self) -> PResult<Operand> {
        let t = self.bump();
        match &t.tok {
            Tok::Question => {
                let n = self.bump();
                match &n.tok {
                    Tok::Word(w) if !is_keyword(w) => self.field(w.clone(), n.clone()),
                    Tok::Quoted(q) => self.field(q.clone(), n.clone()),
                    _ => Err(syntax_error(
                        n.pos,
                        format!("expected a field name after \"?\", found {}", self.describe(&n)),
                    )),
                }
            }
            Tok::Word(w) => match w.as_str() {
                "true" => Ok(Operand::Value(Some(Lit::Bool(true)), t)),
                "false" => Ok(Operand::Value(Some(Lit::Bool(false)), t)),
                "null" => Ok(Operand::Value(None, t)),
                _ if self.peek().tok == Tok::LParen => self.function(w.clone(), false, t.clone()),
                kw if is_keyword(kw) => Err(syntax_error(
                    t.pos,
                    format!("expected a field, a function or a value, found {}", self.describe(&t)),
                )),
                _ => self.field(w.clone(), t.clone()),
            },
            Tok::TildeWord(w) if self.peek().tok == Tok::LParen => self.function(w.clone(), true, t.clone()),
            Tok::Quoted(q) => self.field(q.clone(), t.clone()),
            Tok::Str(s) => Ok(Operand::Value(Some(Lit::Str(s.clone())), t)),
            Tok::Num(n) => self.number(n, false, t.clone()),
            Tok::Minus => match self.peek().tok {
                Tok::Num(n) => {
                    self.bump();
                    self.number(&n, true, t)
                }
                _ => Err(rejected(t.pos, format!("arithmetic ({}) is not supported", self.describe(&t)))),
            },
            Tok::Plus | Tok::Star | Tok::Slash | Tok::Percent => {
                Err(rejected(t.pos, format!("arithmetic ({}) is not supported", self.describe(&t))))
            }
            Tok::Assign => Err(syntax_error(t.pos, "`=` is not supported, use `==`")),
            Tok::Eof => Err(syntax_error(t.pos, "expected a condition, found the end of the query")),
            _ => Err(syntax_error(
                t.pos,
                format!("expected a field, a function or a value, found {}", self.describe(&t)),
            )),
        }
    }

    fn number(&self, digits: &str, negative: bool, t: Token) -> PResult<Operand> {
        match NumLit::new(digits, negative) {
            Some(n) => Ok(Operand::Value(Some(Lit::Num(n)), t)),
            None => Err(syntax_error(t.pos, format!("invalid number {digits:?}"))),
        }
    }

    /// The rest of a dotted name whose first part is `first`.
    fn field(&mut self, first: String, t: Token) -> PResult<Operand> {
        let mut dotted = first;
        while self.peek().tok == Tok::Dot {
            self.bump();
            let n = self.bump();
            match &n.tok {
                Tok::Word(w) => {
                    dotted.push('.');
                    dotted.push_str(w);
                }
                Tok::Quoted(q) => {
                    dotted.push('.');
                    dotted.push_str(q);
                }
                _ => {
                    return Err(syntax_error(
                        n.pos,
                        format!("expected a field name after \".\", found {}", self.describe(&n)),
                    ));
                }
            }
        }
        let next = self.peek();
        if next.tok == Tok::LBracket {
            return Err(rejected(next.pos, "array indexes in field names (`field[0]`) are not supported"));
        }
        Ok(Operand::Field(FieldPath::new(dotted), t))
    }

    fn function(&mut self, name: String, tilde: bool, t: Token) -> PResult<Operand> {
        self.enter(&t)?;
        self.bump(); // `(`
        let mut args = Vec::new();
        if self.peek().tok == Tok::RParen {
            self.bump();
        } else {
            loop {
                args.push(self.operand()?);
                let sep = self.bump();
                match sep.tok {
                    Tok::Comma => {}
                    Tok::RParen => break,
                    _ => {
                        return Err(syntax_error(
                            sep.pos,
                            format!(
                                "expected \",\" or \")\" in the arguments of {name}, found {}",
                                self.describe(&sep)
                            ),
                        ));
                    }
                }
            }
        }
        self.depth -= 1;
        self.compile_function(name, tilde, t, args)
    }

    fn compile_function(&self, name: String, tilde: bool, t: Token, args: Vec<Operand>) -> PResult<Operand> {
        let lower = name.to_ascii_lowercase();
        let shown = if tilde { format!("{name}~") } else { name.clone() };
        let arity = |min: usize, max: Option<usize>| -> PResult<()> {
            if args.len() < min || max.is_some_and(|m| args.len() > m) {
                let want = match max {
                    Some(m) if m == min => format!("{min}"),
                    _ => format!("at least {min}"),
                };
                let s = if min == 1 && max == Some(1) { "" } else { "s" };
                return Err(rejected(t.pos, format!("{shown} takes {want} argument{s}, found {}", args.len())));
            }
            Ok(())
        };
        match lower.as_str() {
            "startswith" | "endswith" | "stringcontains" => {
                arity(2, Some(2))?;
                let field = self.field_arg(&shown, args.first())?;
                let lit = self.string_arg(&shown, args.get(1))?;
                let mut toks = Vec::new();
                if lower != "startswith" {
                    toks.push(pattern::Tok::Star);
                }
                // `startsWith` is a `prefix` query (literal); the other two are
                // `wildcard` queries built from the unescaped literal.
                let syntax = if lower == "startswith" { Syntax::Exact } else { Syntax::Lucene };
                toks.extend(pattern::tokens(&lit, syntax));
                if lower != "endswith" {
                    toks.push(pattern::Tok::Star);
                }
                let test = Test::Wildcard(vec![Wildcard::new(&toks, tilde)]);
                Ok(Operand::Pred(Leaf { field, test, negated: false }, shown, t))
            }
            "cidrmatch" if !tilde => {
                arity(2, None)?;
                let field = self.field_arg(&shown, args.first())?;
                let mut ranges = Vec::new();
                for arg in args.iter().skip(1) {
                    let text = self.string_arg(&shown, Some(arg))?;
                    match Cidr::parse(&text) {
                        Some(c) => ranges.push(c),
                        None => {
                            return Err(rejected(
                                arg.token().pos,
                                format!("{text:?} is not an IP address or CIDR range"),
                            ));
                        }
                    }
                }
                Ok(Operand::Pred(Leaf { field, test: Test::Cidr(ranges), negated: false }, shown, t))
            }
            "length" if !tilde => {
                arity(1, Some(1))?;
                Ok(Operand::Length(self.field_arg(&shown, args.first())?, t))
            }
            "cidrmatch" | "length" => Err(rejected(t.pos, format!("{name} has no case-insensitive form {shown:?}"))),
            other if OTHER_FUNCTIONS.contains(&other) => Err(rejected(
                t.pos,
                format!(
                    "function {shown:?} is not supported; modwatch supports startsWith, endsWith, stringContains \
                     (and their ~ forms), cidrMatch and length"
                ),
            )),
            _ => Err(rejected(t.pos, format!("unknown function {shown:?}"))),
        }
    }

    fn field_arg(&self, func: &str, arg: Option<&Operand>) -> PResult<FieldPath> {
        match arg {
            Some(Operand::Field(path, _)) => Ok(path.clone()),
            Some(other) => Err(rejected(
                other.token().pos,
                format!("the first argument of {func} must be a field, found {}", self.describe_operand(other)),
            )),
            None => Err(rejected(Default::default(), format!("{func} needs a field"))),
        }
    }

    fn string_arg(&self, func: &str, arg: Option<&Operand>) -> PResult<String> {
        match arg {
            Some(Operand::Value(Some(Lit::Str(s)), _)) => Ok(s.clone()),
            Some(other @ (Operand::Field(..) | Operand::Pred(..) | Operand::Length(..))) => Err(rejected(
                other.token().pos,
                format!(
                    "{func} compares a field with a string literal, not with {}; comparing fields is not supported",
                    self.describe_operand(other)
                ),
            )),
            Some(other) => Err(rejected(
                other.token().pos,
                format!("{func} needs a string here, found {}", self.describe_operand(other)),
            )),
            None => Err(rejected(Default::default(), format!("{func} needs a string"))),
        }
    }

    /// What follows an operand: an operator, or nothing (a bare condition).
    fn suffix(&mut self, left: Operand) -> PResult<Expr> {
        let t = self.peek();
        if let Some(op) = comparison(&t.tok) {
            self.bump();
            if self.peek().tok == Tok::LParen {
                let p = self.peek();
                return Err(syntax_error(
                    p.pos,
                    format!("expected a value after {}, found \"(\"; lists need `in`", self.describe(&t)),
                ));
            }
            let right = self.operand()?;
            let next = self.peek();
            if comparison(&next.tok).is_some() {
                return Err(rejected(
                    next.pos,
                    "chained comparisons such as `a < b <= c` are not supported; join them with `and`",
                ));
            }
            return self.compare(left, op, right);
        }
        let kind = match &t.tok {
            Tok::Colon => Some(Match::Insensitive),
            Tok::Word(w) if w == "like" => Some(Match::Like),
            Tok::TildeWord(w) if w == "like" => Some(Match::Insensitive),
            Tok::Word(w) if w == "regex" => Some(Match::Regex),
            Tok::TildeWord(w) if w == "regex" => Some(Match::RegexInsensitive),
            _ => None,
        };
        if let Some(kind) = kind {
            self.bump();
            return self.string_match(left, kind, &t);
        }
        if is_word(&t, "in") || is_tilde_word(&t, "in") {
            self.bump();
            return self.lookup(left, false, &t);
        }
        if is_word(&t, "not") {
            let n = self.peek_at(1);
            if is_word(&n, "in") || is_tilde_word(&n, "in") {
                self.bump();
                self.bump();
                return self.lookup(left, true, &n);
            }
            return Err(syntax_error(
                n.pos,
                format!("expected \"in\" or \"in~\" after \"not\", found {}", self.describe(&n)),
            ));
        }
        if is_word(&t, "of") {
            return Err(rejected(t.pos, "process relationships (`descendant of [ … ]`) are not supported"));
        }
        match &t.tok {
            Tok::Assign => Err(syntax_error(t.pos, "`=` is not supported, use `==`")),
            Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash | Tok::Percent => {
                Err(rejected(t.pos, format!("arithmetic ({}) is not supported", self.describe(&t))))
            }
            Tok::Eof | Tok::RParen | Tok::Pipe => self.bare(left),
            Tok::Word(w) if w == "and" || w == "or" => self.bare(left),
            _ => Err(syntax_error(
                t.pos,
                match &left {
                    Operand::Field(path, _) => format!(
                        "expected a comparison operator after field {:?}, found {}",
                        path.dotted,
                        self.describe(&t)
                    ),
                    other => format!(
                        "expected an operator after {}, found {}",
                        self.describe_operand(other),
                        self.describe(&t)
                    ),
                },
            )),
        }
    }

    /// An operand standing alone as a condition.
    fn bare(&self, left: Operand) -> PResult<Expr> {
        match left {
            Operand::Value(Some(Lit::Bool(b)), _) => Ok(Expr::Const(b)),
            // `process where flag` compiles to a `term` query `flag: true`.
            Operand::Field(path, _) => Ok(leaf(path, Test::Equals(vec![Lit::Bool(true)]), false)),
            Operand::Pred(l, _, _) => Ok(Expr::Leaf(l)),
            Operand::Length(_, t) => {
                Err(rejected(t.pos, "length(…) returns a number; compare it, e.g. `length(field) > 0`"))
            }
            Operand::Value(_, t) => {
                Err(rejected(t.pos, format!("{} is not a condition; compare a field with it", self.describe(&t))))
            }
        }
    }

    fn compare(&self, left: Operand, op: Cmp, right: Operand) -> PResult<Expr> {
        match (left, right) {
            (l @ Operand::Value(..), r @ (Operand::Field(..) | Operand::Pred(..) | Operand::Length(..))) => {
                self.compare(r, op.flip(), l)
            }
            (Operand::Value(_, t), Operand::Value(..)) => {
                Err(rejected(t.pos, "comparing two values is not supported; one side must be a field"))
            }
            (l, r @ (Operand::Field(..) | Operand::Pred(..) | Operand::Length(..))) => Err(rejected(
                r.token().pos,
                format!(
                    "comparing {} with {} is not supported; the right side must be a literal",
                    self.describe_operand(&l),
                    self.describe_operand(&r)
                ),
            )),
            (Operand::Field(path, _), Operand::Value(lit, t)) => match (op, lit) {
                (Cmp::Eq, None) => Ok(leaf(path, Test::Exists, true)),
                (Cmp::Ne, None) => Ok(leaf(path, Test::Exists, false)),
                (_, None) => Err(rejected(t.pos, "null can only be compared with == or !=")),
                (Cmp::Eq | Cmp::Ne, Some(l)) => Ok(leaf(path, Test::Equals(vec![l]), op == Cmp::Ne)),
                (_, Some(Lit::Bool(_))) => Err(rejected(
                    t.pos,
                    format!("booleans cannot be ordered; compare {} with == or !=", self.describe(&t)),
                )),
                (_, Some(l)) => Ok(leaf(path, Test::Range(op, l), false)),
            },
            (Operand::Pred(l, name, _), Operand::Value(lit, t)) => match (op, lit) {
                // `f(…) == false` and `!= true` compile to `must_not`.
                (Cmp::Eq | Cmp::Ne, Some(Lit::Bool(b))) => {
                    let e = Expr::Leaf(l);
                    Ok(if (op == Cmp::Eq) == b { e } else { e.negate() })
                }
                _ => Err(rejected(
                    t.pos,
                    format!("{name}(…) returns a boolean; compare it with true or false using == or !="),
                )),
            },
            (Operand::Length(field, _), Operand::Value(Some(Lit::Num(n)), _)) => {
                Ok(leaf(field, Test::Length(op, n), false))
            }
            (Operand::Length(..), Operand::Value(_, t)) => Err(rejected(
                t.pos,
                format!("length(…) returns a number; compare it with a number, not {}", self.describe(&t)),
            )),
        }
    }

    /// One literal of a `:`/`like`/`regex`/`in` list.
    fn value(&mut self) -> PResult<(Option<Lit>, Token)> {
        match self.operand()? {
            Operand::Value(v, t) => Ok((v, t)),
            other => Err(rejected(
                other.token().pos,
                format!(
                    "comparing a field with {} is not supported; the right side must be a literal",
                    self.describe_operand(&other)
                ),
            )),
        }
    }

    /// A parenthesised list of literals.
    fn list(&mut self, op: &Token) -> PResult<Vec<(Option<Lit>, Token)>> {
        let mut items = vec![self.value()?];
        loop {
            let sep = self.bump();
            match sep.tok {
                Tok::Comma => items.push(self.value()?),
                Tok::RParen => return Ok(items),
                _ => {
                    return Err(syntax_error(
                        sep.pos,
                        format!(
                            "expected \",\" or \")\" in the list after {}, found {}",
                            self.describe(op),
                            self.describe(&sep)
                        ),
                    ));
                }
            }
        }
    }

    fn left_field(&self, left: Operand, op: &Token) -> PResult<FieldPath> {
        match left {
            Operand::Field(path, _) => Ok(path),
            other => Err(rejected(
                other.token().pos,
                format!(
                    "the left side of {} must be a field, found {}",
                    self.describe(op),
                    self.describe_operand(&other)
                ),
            )),
        }
    }

    fn string_match(&mut self, left: Operand, kind: Match, op: &Token) -> PResult<Expr> {
        let field = self.left_field(left, op)?;
        let items = if self.peek().tok == Tok::LParen {
            self.bump();
            self.list(op)?
        } else {
            vec![self.value()?]
        };
        let mut strings = Vec::with_capacity(items.len());
        for (v, t) in &items {
            match v {
                Some(Lit::Str(s)) => strings.push(s.as_str()),
                _ => {
                    return Err(rejected(
                        t.pos,
                        format!("{} can only be used with strings, found {}", self.describe(op), self.describe(t)),
                    ));
                }
            }
        }
        let test = match kind {
            Match::Insensitive | Match::Like => Test::Wildcard(
                strings.iter().map(|s| Wildcard::parse(s, Syntax::Eql, kind == Match::Insensitive)).collect(),
            ),
            Match::Regex | Match::RegexInsensitive => {
                // Elasticsearch joins a list into one Lucene regexp with `|`.
                let joined = strings.join("|");
                let pos = items.first().map(|(_, t)| t.pos).unwrap_or_default();
                Test::Regex(
                    regexp::compile(&joined, kind == Match::RegexInsensitive).map_err(|m| pattern_error(pos, m))?,
                )
            }
        };
        Ok(leaf(field, test, false))
    }

    fn lookup(&mut self, left: Operand, negated: bool, op: &Token) -> PResult<Expr> {
        let field = self.left_field(left, op)?;
        let open = self.bump();
        if open.tok != Tok::LParen {
            return Err(syntax_error(
                open.pos,
                format!("expected \"(\" after {}, found {}", self.describe(op), self.describe(&open)),
            ));
        }
        let items = self.list(op)?;
        let test = if matches!(op.tok, Tok::TildeWord(_)) {
            let mut patterns = Vec::with_capacity(items.len());
            for (v, t) in &items {
                match v {
                    // `in~` compares verbatim: no wildcards.
                    Some(Lit::Str(s)) => patterns.push(Wildcard::parse(s, Syntax::Exact, true)),
                    _ => {
                        return Err(rejected(
                            t.pos,
                            format!("in~ can only be used with strings, found {}", self.describe(t)),
                        ));
                    }
                }
            }
            Test::Wildcard(patterns)
        } else {
            // `null` in a `terms` list matches nothing.
            Test::Equals(items.into_iter().filter_map(|(v, _)| v).collect())
        };
        Ok(leaf(field, test, negated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact rendering of the compiled condition.
    fn show(e: &Expr) -> String {
        match e {
            Expr::Const(b) => b.to_string(),
            Expr::And(xs) => format!("and({})", xs.iter().map(show).collect::<Vec<_>>().join(", ")),
            Expr::Or(xs) => format!("or({})", xs.iter().map(show).collect::<Vec<_>>().join(", ")),
            Expr::Not(x) => format!("not({})", show(x)),
            Expr::Leaf(l) => {
                let test = match &l.test {
                    Test::Exists => "exists".to_string(),
                    Test::Equals(lits) => format!("eq{lits:?}"),
                    Test::Wildcard(ws) => format!("wild{}", ws.len()),
                    Test::Regex(r) => format!("regex:{}", r.is_some()),
                    Test::Range(op, lit) => format!("{op:?}{lit:?}"),
                    Test::Numeric(op, n) => format!("num{op:?}{}", n.text),
                    Test::Cidr(c) => format!("cidr{}", c.len()),
                    Test::Length(op, n) => format!("len{op:?}{}", n.text),
                    Test::FieldRef(f) => format!("ref:{}", f.dotted),
                };
                format!("{}{}:{test}", if l.negated { "!" } else { "" }, l.field.dotted)
            }
        }
    }

    fn p(src: &str) -> String {
        match parse(src) {
            Ok(parsed) => format!("{}|{}", parsed.category.unwrap_or_default(), show(&parsed.cond)),
            Err(e) => format!("error: {}", e.message()),
        }
    }

    #[test]
    fn shapes() {
        assert_eq!(p("any where true"), "|true");
        assert_eq!(p("process where false"), "process|false");
        assert_eq!(p("\"my-category\" where true"), "my-category|true");
        assert_eq!(
            p("any where a == 1 and b == 2 or c == 3"),
            "|or(and(a:eq[Num(NumLit { text: \"1\", value: 1.0, int: Some(1) })], b:eq[Num(NumLit { text: \"2\", value: 2.0, int: Some(2) })]), c:eq[Num(NumLit { text: \"3\", value: 3.0, int: Some(3) })])"
        );
        assert_eq!(
            p("any where a == \"x\" or b == \"y\" and not c == \"z\""),
            "|or(a:eq[Str(\"x\")], and(b:eq[Str(\"y\")], !c:eq[Str(\"z\")]))"
        );
        assert_eq!(p("any where not (a : \"x\" or b : \"y\")"), "|not(or(a:wild1, b:wild1))");
        assert_eq!(p("any where not not a : \"x\""), "|a:wild1");
        assert_eq!(p("any where a != \"x\""), "|!a:eq[Str(\"x\")]");
        assert_eq!(p("any where a not in (\"x\", null)"), "|!a:eq[Str(\"x\")]");
        assert_eq!(p("any where a in~ (\"x\", \"y*\")"), "|a:wild2");
        assert_eq!(p("any where a == null"), "|!a:exists");
        assert_eq!(p("any where ?a != null"), "|a:exists");
        assert_eq!(p("any where flag"), "|flag:eq[Bool(true)]");
        assert_eq!(p("any where not flag"), "|!flag:eq[Bool(true)]");
        assert_eq!(p("any where 5 < a"), "|a:GtNum(NumLit { text: \"5\", value: 5.0, int: Some(5) })");
        assert_eq!(p("any where a >= -1.5"), "|a:GeNum(NumLit { text: \"-1.5\", value: -1.5, int: None })");
        assert_eq!(p("any where length(a) > 3"), "|a:lenGt3");
        assert_eq!(p("any where 12 == length(a)"), "|a:lenEq12");
        assert_eq!(p("any where length(a) != 3"), "|a:lenNe3");
        assert_eq!(p("any where cidrMatch(ip, \"10.0.0.0/8\", \"::1\")"), "|ip:cidr2");
        assert_eq!(p("any where cidrMatch(ip, \"10.0.0.0/8\") == false"), "|!ip:cidr1");
        assert_eq!(p("any where endsWith(a, \"x\") != true"), "|!a:wild1");
        assert_eq!(p("any where endsWith(a, \"x\") != false"), "|a:wild1");
        assert_eq!(p("any where STARTSWITH~(a, \"x\")"), "|a:wild1");
        assert_eq!(p("any where a regex (\"x.*\", \"y\")"), "|a:regex:true");
        assert_eq!(p("any where a regex \"#\""), "|a:regex:false");
        assert_eq!(p("any where `weird-name`.`x.y` == \"v\""), "|weird-name.x.y:eq[Str(\"v\")]");
        assert_eq!(p("any where @timestamp > \"2024\""), "|@timestamp:GtStr(\"2024\")");
        assert_eq!(p("any where a.where.any == \"x\""), "|a.where.any:eq[Str(\"x\")]");
        assert_eq!(p("any where (a : \"x\") // trailing comment"), "|a:wild1");
    }

    fn e(src: &str) -> (crate::error::ErrorKind, String, u32, u32) {
        match parse(src) {
            Ok(_) => (crate::error::ErrorKind::Empty, "parsed".into(), 0, 0),
            Err(err) => {
                let (l, c) = err.location().map_or((0, 0), |l| (l.line, l.column));
                (err.kind(), err.message().to_string(), l, c)
            }
        }
    }

    #[test]
    fn syntax_errors() {
        use crate::error::ErrorKind::QuerySyntax as S;
        let table: &[(&str, &str, &str, u32, u32)] = &[
            ("assign", "any where event.action = \"x\"", "`=` is not supported, use `==`", 1, 24),
            ("single quotes", "any where a == 'x'", "strings use double quotes, not single quotes: write \"…\"", 1, 16),
            ("no where", "any a == 1", "expected \"where\" after \"any\", found \"a\"", 1, 5),
            ("no category", "where a == 1", "expected an event category or \"any\", found \"where\"", 1, 1),
            ("empty", "", "expected an event category or \"any\", found the end of the query", 1, 1),
            ("empty condition", "any where", "expected a condition, found the end of the query", 1, 10),
            (
                "unclosed paren",
                "any where (a == 1",
                "expected \")\" to close the \"(\" at 1:11, found the end of the query",
                1,
                18,
            ),
            (
                "junk after field",
                "any where event.action \"x\"",
                "expected a comparison operator after field \"event.action\", found \"\\\"x\\\"\"",
                1,
                24,
            ),
            (
                "junk after condition",
                "any where a == 1 b",
                "expected \"and\", \"or\" or the end of the query, found \"b\"",
                1,
                18,
            ),
            (
                "stray close",
                "any where a == 1)",
                "expected \"and\", \"or\" or the end of the query, found \")\"",
                1,
                17,
            ),
            (
                "not without in",
                "any where a not like \"x\"",
                "expected \"in\" or \"in~\" after \"not\", found \"like\"",
                1,
                17,
            ),
            (
                "list after ==",
                "any where a == (\"x\")",
                "expected a value after \"==\", found \"(\"; lists need `in`",
                1,
                16,
            ),
            ("in without list", "any where a in \"x\"", "expected \"(\" after \"in\", found \"\\\"x\\\"\"", 1, 16),
            (
                "bad list",
                "any where a in (\"x\" \"y\")",
                "expected \",\" or \")\" in the list after \"in\", found \"\\\"y\\\"\"",
                1,
                21,
            ),
            ("keyword as field", "any where and == 1", "expected a field, a function or a value, found \"and\"", 1, 11),
            ("dot without name", "any where a. == 1", "expected a field name after \".\", found \"==\"", 1, 14),
            ("multi line", "any where\n  a == 1 and\n  b = 2", "`=` is not supported, use `==`", 3, 5),
        ];
        for (name, src, msg, line, col) in table {
            assert_eq!(e(src), (S, msg.to_string(), *line, *col), "case {name}: {src}");
        }
    }

    #[test]
    fn rejected_queries() {
        use crate::error::ErrorKind::QueryRejected as R;
        let nested = format!("any where {}a == 1{}", "(".repeat(65), ")".repeat(65));
        let nots = format!("any where {}a == 1", "not ".repeat(65));
        let fns = format!("any where {}a{} == 1", "length(".repeat(65), ")".repeat(65));
        let table: &[(&str, &str, &str, u32, u32)] = &[
            (
                "field to field",
                "any where a == b",
                "comparing field \"a\" with field \"b\" is not supported; the right side must be a literal",
                1,
                16,
            ),
            (
                "field to function",
                "any where a == length(b)",
                "comparing field \"a\" with length(…) is not supported; the right side must be a literal",
                1,
                16,
            ),
            (
                "seq field",
                "any where a : b",
                "comparing a field with field \"b\" is not supported; the right side must be a literal",
                1,
                15,
            ),
            (
                "in field",
                "any where a in (\"x\", b)",
                "comparing a field with field \"b\" is not supported; the right side must be a literal",
                1,
                22,
            ),
            (
                "chained",
                "any where 1 < a <= 5",
                "chained comparisons such as `a < b <= c` are not supported; join them with `and`",
                1,
                17,
            ),
            ("colon number", "any where a : 5", "\":\" can only be used with strings, found \"5\"", 1, 15),
            (
                "like bool",
                "any where a like (\"x\", true)",
                "\"like\" can only be used with strings, found \"true\"",
                1,
                24,
            ),
            (
                "regex null",
                "any where a regex~ null",
                "\"regex~\" can only be used with strings, found \"null\"",
                1,
                20,
            ),
            ("in~ number", "any where a in~ (\"x\", 1)", "in~ can only be used with strings, found \"1\"", 1, 23),
            ("function number", "any where startsWith(a, 5)", "startsWith needs a string here, found \"5\"", 1, 25),
            (
                "function field",
                "any where stringContains(a, b)",
                "stringContains compares a field with a string literal, not with field \"b\"; comparing fields is not supported",
                1,
                29,
            ),
            (
                "function first arg",
                "any where endsWith(\"x\", \"y\")",
                "the first argument of endsWith must be a field, found \"\\\"x\\\"\"",
                1,
                20,
            ),
            ("unknown function", "any where frobnicate(a)", "unknown function \"frobnicate\"", 1, 11),
            (
                "unsupported function",
                "any where substring(a, 1) : \"x\"",
                "function \"substring\" is not supported; modwatch supports startsWith, endsWith, stringContains (and their ~ forms), cidrMatch and length",
                1,
                11,
            ),
            ("arity", "any where startsWith(a)", "startsWith takes 2 arguments, found 1", 1, 11),
            ("arity length", "any where length(a, b) > 1", "length takes 1 argument, found 2", 1, 11),
            ("arity cidr", "any where cidrMatch(a)", "cidrMatch takes at least 2 arguments, found 1", 1, 11),
            (
                "bad cidr",
                "any where cidrMatch(a, \"10.0.0.0/33\")",
                "\"10.0.0.0/33\" is not an IP address or CIDR range",
                1,
                24,
            ),
            ("tilde length", "any where length~(a) > 1", "length has no case-insensitive form \"length~\"", 1, 11),
            (
                "length string",
                "any where length(a) > \"3\"",
                "length(…) returns a number; compare it with a number, not \"\\\"3\\\"\"",
                1,
                23,
            ),
            (
                "length bare",
                "any where length(a)",
                "length(…) returns a number; compare it, e.g. `length(field) > 0`",
                1,
                11,
            ),
            (
                "pred compare",
                "any where startsWith(a, \"x\") == \"y\"",
                "startsWith(…) returns a boolean; compare it with true or false using == or !=",
                1,
                33,
            ),
            ("null order", "any where a < null", "null can only be compared with == or !=", 1, 15),
            ("bool order", "any where a > true", "booleans cannot be ordered; compare \"true\" with == or !=", 1, 15),
            (
                "two values",
                "any where 1 == 1",
                "comparing two values is not supported; one side must be a field",
                1,
                11,
            ),
            ("bare value", "any where \"x\"", "\"\\\"x\\\"\" is not a condition; compare a field with it", 1, 11),
            (
                "sequence",
                "sequence [any where true] [any where true]",
                "sequence queries are not supported; write an event query such as `any where …`",
                1,
                1,
            ),
            (
                "sample",
                "sample by a [any where true] [any where true]",
                "sample queries are not supported; write an event query such as `any where …`",
                1,
                1,
            ),
            ("pipe", "any where true | head 5", "pipes (`| head`, `| tail`, …) are not supported", 1, 16),
            ("arithmetic", "any where a + 1 == 2", "arithmetic (\"+\") is not supported", 1, 13),
            ("unary minus", "any where -a == 2", "arithmetic (\"-\") is not supported", 1, 11),
            (
                "relationship",
                "any where descendant of [any where true]",
                "process relationships (`descendant of [ … ]`) are not supported",
                1,
                22,
            ),
            (
                "array index",
                "any where a[0] == 1",
                "array indexes in field names (`field[0]`) are not supported",
                1,
                12,
            ),
            (
                "paren compare",
                "any where (a) == 1",
                "a parenthesised condition cannot be compared; compare a field or a function",
                1,
                15,
            ),
            (
                "seq function",
                "any where length(a) : \"x\"",
                "the left side of \":\" must be a field, found length(…)",
                1,
                11,
            ),
            ("deep parens", &nested, "query nests deeper than 64", 1, 75),
            ("deep nots", &nots, "query nests deeper than 64", 1, 267),
            ("deep functions", &fns, "query nests deeper than 64", 1, 459),
        ];
        for (name, src, msg, line, col) in table {
            assert_eq!(e(src), (R, msg.to_string(), *line, *col), "case {name}: {src}");
        }
    }

    #[test]
    fn pattern_errors() {
        let (kind, msg, line, col) = e("any where a regex (\"ok\", \"x&y\")");
        assert_eq!((kind, line, col), (crate::error::ErrorKind::PatternInvalid, 1, 20));
        assert!(msg.contains("intersection"), "{msg}");
        assert_eq!(e("any where a regex~ \"[z-a]\"").0, crate::error::ErrorKind::PatternInvalid);
    }

    #[test]
    fn deep_but_allowed() {
        let ok = format!("any where {}a == 1{}", "(".repeat(64), ")".repeat(64));
        assert!(parse(&ok).is_ok());
        let long_or = format!("any where {}", vec!["a == 1"; 10_000].join(" or "));
        assert!(matches!(parse(&long_or), Ok(Parsed { cond: Expr::Or(parts), .. }) if parts.len() == 10_000));
    }
}
