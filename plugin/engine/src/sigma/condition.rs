//! Sigma conditions: `and`, `or`, `not`, parentheses, search identifiers,
//! `1 of <pattern>`, `all of <pattern>`, `them`.
//!
//! Precedence, tightest first: `not`, `and`, `or` (the specification's).
//! Identifier patterns may use `*`. The deprecated aggregation pipe (`| count()`)
//! is refused: Sigma correlation rules replace it.

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    /// A search identifier.
    Ident(String),
    /// `1 of <pattern>` (`None`: `them`).
    OneOf(Option<String>),
    /// `all of <pattern>` (`None`: `them`).
    AllOf(Option<String>),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Pipe,
}

/// Where a condition problem is: a message and the 0-based character offset.
#[derive(Debug)]
pub(crate) struct CondError {
    pub(crate) message: String,
    pub(crate) offset: usize,
}

fn lex(text: &str) -> Vec<(Tok, usize)> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => Tok::Open,
            ')' => Tok::Close,
            '|' => Tok::Pipe,
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !matches!(chars[i], '(' | ')' | '|') {
                    i += 1;
                }
                out.push((Tok::Word(chars[start..i].iter().collect()), start));
                continue;
            }
        };
        out.push((tok, i));
        i += 1;
    }
    out
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<String> {
        match self.toks.get(self.pos) {
            Some((Tok::Word(w), _)) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(_, o)| *o)
    }

    fn error(&self, message: impl Into<String>) -> CondError {
        CondError { message: message.into(), offset: self.offset() }
    }

    fn or(&mut self, depth: usize) -> Result<Cond, CondError> {
        let mut parts = vec![self.and(depth)?];
        while self.peek_word().as_deref() == Some("or") {
            self.pos += 1;
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Cond::Or(parts) })
    }

    fn and(&mut self, depth: usize) -> Result<Cond, CondError> {
        let mut parts = vec![self.unary(depth)?];
        while self.peek_word().as_deref() == Some("and") {
            self.pos += 1;
            parts.push(self.unary(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Cond::And(parts) })
    }

    fn unary(&mut self, depth: usize) -> Result<Cond, CondError> {
        if depth > 64 {
            return Err(self.error("the condition nests too deeply"));
        }
        match self.toks.get(self.pos).cloned() {
            None => Err(self.error("the condition ends where a search identifier is expected")),
            Some((Tok::Open, _)) => {
                self.pos += 1;
                let inner = self.or(depth + 1)?;
                match self.toks.get(self.pos) {
                    Some((Tok::Close, _)) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(self.error("expected ')'")),
                }
            }
            Some((Tok::Close, _)) => Err(self.error("unexpected ')'")),
            Some((Tok::Pipe, _)) => Err(self.error(
                "aggregations after '|' are not supported (the specification deprecates them; use a correlation rule)",
            )),
            Some((Tok::Word(w), _)) => {
                let lower = w.to_ascii_lowercase();
                self.pos += 1;
                match lower.as_str() {
                    "not" => Ok(Cond::Not(Box::new(self.unary(depth + 1)?))),
                    "and" | "or" | "of" | "them" => {
                        self.pos -= 1;
                        Err(self.error(format!("unexpected '{w}'")))
                    }
                    "1" | "all" if self.peek_word().as_deref() == Some("of") => {
                        self.pos += 1;
                        let target = match self.toks.get(self.pos) {
                            Some((Tok::Word(t), _)) => t.clone(),
                            _ => return Err(self.error(format!("'{w} of' needs a pattern or 'them'"))),
                        };
                        self.pos += 1;
                        let target = (!target.eq_ignore_ascii_case("them")).then_some(target);
                        Ok(if lower == "1" { Cond::OneOf(target) } else { Cond::AllOf(target) })
                    }
                    _ if lower.chars().all(|c| c.is_ascii_digit()) && self.peek_word().as_deref() == Some("of") => {
                        self.pos -= 1;
                        Err(self.error(format!("'{w} of' is not supported: only '1 of' and 'all of'")))
                    }
                    _ => Ok(Cond::Ident(w)),
                }
            }
        }
    }
}

/// Parses a condition.
pub(crate) fn parse(text: &str) -> Result<Cond, CondError> {
    let mut p = Parser { toks: lex(text), pos: 0, end: text.chars().count() };
    let cond = p.or(0)?;
    if p.pos < p.toks.len() {
        return Err(p.error("unexpected text after the condition"));
    }
    Ok(cond)
}

/// True if `name` matches the identifier pattern (`*` any run).
pub(crate) fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else { return false };
            if !tail.contains('*') {
                return rest.len() >= tail.len() && rest.ends_with(tail);
            }
            (0..=rest.len()).filter(|&i| rest.is_char_boundary(i)).any(|i| pattern_matches(tail, &rest[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Cond {
        Cond::Ident(s.to_string())
    }

    #[test]
    fn precedence_and_forms() {
        assert_eq!(
            parse("a or b and not c").ok(),
            Some(Cond::Or(vec![id("a"), Cond::And(vec![id("b"), Cond::Not(Box::new(id("c")))])]))
        );
        assert_eq!(
            parse("(a or b) and 1 of filter_* and all of them").ok(),
            Some(Cond::And(vec![
                Cond::Or(vec![id("a"), id("b")]),
                Cond::OneOf(Some("filter_*".into())),
                Cond::AllOf(None)
            ]))
        );
        assert_eq!(parse("NOT sel").ok(), Some(Cond::Not(Box::new(id("sel")))));
    }

    #[test]
    fn errors_have_offsets() {
        let at = |t: &str| parse(t).err().map(|e| e.offset);
        assert_eq!(at("a and"), Some(5));
        assert_eq!(at("(a or b"), Some(7));
        assert_eq!(at("sel | count() > 5"), Some(4));
        assert_eq!(at("2 of sel*"), Some(0));
        assert_eq!(at("a b"), Some(2));
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("filter_*", "filter_main"));
        assert!(pattern_matches("*", "x"));
        assert!(pattern_matches("sel*x", "sel_ax"));
        assert!(!pattern_matches("sel*x", "sel_a"));
        assert!(!pattern_matches("filter", "filter2"));
    }
}
