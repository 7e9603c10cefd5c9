//! EQL: the subset of Elastic's Event Query Language that rules are written in,
//! evaluated per event with Elasticsearch's semantics (`docs/detection.md#eql`).
//!
//! A query is parsed once (`Query::parse`) and evaluated against anything that
//! implements [`Document`]: the engine's normalised view of an event.
//!
//! The pipeline follows the data: `lexer` → `parse` (with Elasticsearch's
//! compile-time checks) → `ast` → `eval`; `pattern` (wildcards), `regexp`
//! (Lucene regular expressions) and `cidr` are the leaf matchers, and
//! `literals` derives prefilter needles from the compiled condition.
//!
//! Elasticsearch does not evaluate EQL row by row: it compiles the condition
//! to Query DSL. Each leaf here is one such leaf query, so a missing field
//! makes a positive leaf false and a negated one (`!=`, `not in`, `not …`)
//! true, an array makes a leaf true if any value passes, and `not` is plain
//! two-valued negation.

mod ast;
mod cidr;
mod eval;
#[cfg(feature = "export")]
pub(crate) mod export;
mod lexer;
mod literals;
mod parse;
mod pattern;
mod regexp;

use crate::error::{Error, ErrorKind, Location};
pub(crate) use ast::{Cmp, Expr, Leaf, Lit, NumLit, Test};
pub(crate) use cidr::Cidr;
use lexer::Pos;
pub(crate) use literals::NeedleText;
pub(crate) use pattern::{Syntax, Tok, Wildcard};

/// The field `<category> where` filters on (Elasticsearch's default
/// `event_category_field`).
const CATEGORY_FIELD: &str = "event.category";

/// One scalar value of a field, as the evaluator sees it. JSON `null` and the
/// empty string never reach the evaluator: they count as missing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Str(&'a str),
    /// A JSON number, kept exactly as written.
    Num(&'a crate::doc::Number<'a>),
    Bool(bool),
}

/// A dotted field name as written in a query, e.g. `event.action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldPath {
    /// The whole name, e.g. `aws.cloudtrail.user_identity.type`. Parts that
    /// were backtick-quoted in the query are joined in as written, so a key
    /// that itself contains dots or slashes appears here unchanged.
    pub(crate) dotted: String,
}

impl FieldPath {
    /// A path from its dotted name.
    pub(crate) fn new(dotted: impl Into<String>) -> FieldPath {
        FieldPath { dotted: dotted.into() }
    }
}

/// What a query is evaluated on.
pub(crate) trait Document {
    /// Calls `visit` on every scalar value of `field` (arrays flattened, at any
    /// depth, nulls and empty strings skipped) until `visit` returns true.
    /// Returns true if some call returned true; false if none did or the field
    /// is missing.
    fn any_value(&self, field: &FieldPath, visit: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool;
}

/// A compiled EQL event query: `any where <condition>` or
/// `<category> where <condition>`.
#[derive(Debug)]
pub(crate) struct Query {
    /// `event.category == <category>`, absent for `any`.
    category: Option<Leaf>,
    cond: Expr,
}

impl Query {
    /// Parses and compiles an EQL query.
    ///
    /// Errors carry the 1-based line and column (in characters) of the
    /// offending token inside `text`: `QuerySyntax` when the text does not
    /// parse, `QueryRejected` for what Elasticsearch refuses to compile (or
    /// modwatch does not support), `PatternInvalid` for a bad regex.
    pub(crate) fn parse(text: &str) -> Result<Query, Error> {
        let parsed = parse::parse(text)?;
        let category = parsed.category.map(|c| Leaf {
            field: FieldPath::new(CATEGORY_FIELD),
            test: Test::Equals(vec![Lit::Str(c)]),
            negated: false,
        });
        Ok(Query { category, cond: parsed.cond })
    }

    /// A query of a condition compiled elsewhere (a Sigma rule's detection).
    pub(crate) fn from_condition(cond: Expr) -> Query {
        Query { category: None, cond }
    }

    /// Elastic's truth value for this document.
    pub(crate) fn matches(&self, doc: &dyn Document) -> bool {
        self.category.as_ref().is_none_or(|c| c.eval(doc)) && self.cond.eval(doc)
    }

    /// Every field the query reads (dotted names, first use first), for
    /// diagnostics and rule linting. Includes `event.category` for a
    /// category query.
    #[cfg(test)]
    pub(crate) fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        if let Some(c) = &self.category {
            out.push(&c.field.dotted);
        }
        collect_fields(&self.cond, &mut out);
        out
    }

    /// Prefilter support: clauses of needles such that, if the query matches
    /// a document, every clause has a needle that occurs (ASCII
    /// case-insensitively) in the raw bytes of the event. No clause: no
    /// constraint could be derived; an empty clause: no document can match
    /// (`any where false`).
    ///
    /// `needle(field, literal_run)` is supplied by the engine: given a field
    /// name and a wildcard-free run of a string literal compared against it,
    /// it returns the substring that must then occur in the raw event (or
    /// `None` if that field's values are computed, not copied from the raw
    /// event).
    pub(crate) fn required_literals<N: literals::NeedleText>(
        &self,
        needle: &dyn Fn(&str, &str) -> Option<N>,
    ) -> Vec<Vec<N>> {
        literals::required(&self.cond, needle)
    }
}

#[cfg(test)]
fn collect_fields<'q>(e: &'q Expr, out: &mut Vec<&'q str>) {
    match e {
        Expr::Const(_) => {}
        Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| collect_fields(p, out)),
        Expr::Not(inner) => collect_fields(inner, out),
        Expr::Leaf(leaf) => {
            if !out.contains(&leaf.field.dotted.as_str()) {
                out.push(&leaf.field.dotted);
            }
        }
    }
}

fn error_at(kind: ErrorKind, pos: Pos, message: impl Into<String>) -> Error {
    Error::new(kind, message).at(Location { rule_id: None, line: pos.line, column: pos.col, ..Location::default() })
}

/// The query text does not parse.
fn syntax_error(pos: Pos, message: impl Into<String>) -> Error {
    error_at(ErrorKind::QuerySyntax, pos, message)
}

/// The query parses, but Elasticsearch (or modwatch) will not run it.
fn rejected(pos: Pos, message: impl Into<String>) -> Error {
    error_at(ErrorKind::QueryRejected, pos, message)
}

/// A regular expression or wildcard is invalid or too large.
fn pattern_error(pos: Pos, message: impl Into<String>) -> Error {
    error_at(ErrorKind::PatternInvalid, pos, message)
}

#[cfg(test)]
mod tests;
