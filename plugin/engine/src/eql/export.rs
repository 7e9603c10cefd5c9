//! A compiled condition as plain data, for translating rules to other
//! languages (`modwatch export vrl`). Only built with the `export` feature;
//! the crate's `export` module re-exports the types.

use super::Query;
use super::ast::{Cmp, Expr, Leaf, Lit, NumLit, Test};

impl Query {
    /// The whole query as one condition (a category query's `event.category`
    /// test comes first).
    pub(crate) fn condition(&self) -> Condition {
        let cond = expr(&self.cond);
        match &self.category {
            Some(category) => Condition::And(vec![leaf(category), cond]),
            None => cond,
        }
    }
}

fn expr(e: &Expr) -> Condition {
    match e {
        Expr::Const(b) => Condition::Const(*b),
        Expr::And(parts) => Condition::And(parts.iter().map(expr).collect()),
        Expr::Or(parts) => Condition::Or(parts.iter().map(expr).collect()),
        Expr::Not(inner) => Condition::Not(Box::new(expr(inner))),
        Expr::Leaf(l) => leaf(l),
    }
}

fn leaf(l: &Leaf) -> Condition {
    let test = match &l.test {
        Test::Exists => ValueTest::Exists,
        Test::Equals(lits) => ValueTest::Equals(lits.iter().map(literal).collect()),
        Test::Wildcard(patterns) => ValueTest::Regex(patterns.iter().map(|p| p.regex_source()).collect()),
        Test::Regex(re) => ValueTest::Regex(re.iter().map(|re| re.as_str().to_string()).collect()),
        Test::Range(op, lit) => ValueTest::Range(compare(*op), literal(lit)),
        Test::Numeric(op, n) => ValueTest::Numeric(compare(*op), number(n)),
        Test::Cidr(ranges) => ValueTest::Cidr(ranges.iter().map(|r| r.ipv6_text()).collect()),
        Test::Length(op, n) => ValueTest::Length(compare(*op), number(n)),
        Test::FieldRef(other) => ValueTest::FieldRef(other.dotted.clone()),
    };
    Condition::Leaf { field: l.field.dotted.clone(), negated: l.negated, test }
}

fn compare(op: Cmp) -> Compare {
    match op {
        Cmp::Eq => Compare::Eq,
        Cmp::Ne => Compare::Ne,
        Cmp::Lt => Compare::Lt,
        Cmp::Le => Compare::Le,
        Cmp::Gt => Compare::Gt,
        Cmp::Ge => Compare::Ge,
    }
}

fn number(n: &NumLit) -> Literal {
    Literal::Num { text: n.text.clone(), value: n.value, int: n.int }
}

fn literal(l: &Lit) -> Literal {
    match l {
        Lit::Str(s) => Literal::Str(s.clone()),
        Lit::Num(n) => number(n),
        Lit::Bool(b) => Literal::Bool(*b),
    }
}

/// A condition: the compiled form of a rule's query, with Elastic's
/// semantics (a leaf holds when some value of the field passes its test;
/// negated, when none does, a missing field included).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `true` or `false`.
    Const(bool),
    /// All must hold.
    And(Vec<Condition>),
    /// One must hold.
    Or(Vec<Condition>),
    /// Two-valued negation.
    Not(Box<Condition>),
    /// A test on the values of one field.
    Leaf {
        /// The dotted field name as the query wrote it.
        field: String,
        /// True: holds when no value passes.
        negated: bool,
        /// What one value must satisfy.
        test: ValueTest,
    },
}

/// What one value of a field must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueTest {
    /// Any value.
    Exists,
    /// Equal to one of these (strings case-sensitively, numbers numerically
    /// with numbers and by their text with strings, booleans with booleans
    /// and with `"true"`/`"false"`).
    Equals(Vec<Literal>),
    /// The value's text matches one of these anchored regular expressions
    /// (Rust `regex` syntax; wildcards and Lucene regexps translated). Empty:
    /// matches nothing.
    Regex(Vec<String>),
    /// `value <op> literal`: numbers numerically, anything else as text.
    Range(Compare, Literal),
    /// `value <op> number` (Sigma's `gt`, `gte`, `lt`, `lte`): a number, or
    /// a string whose whole text is a JSON number, compared numerically
    /// (integers exactly); any other value fails.
    Numeric(Compare, Literal),
    /// A string value that is an IP address inside one of these ranges
    /// (IPv6 CIDR text; IPv4 ranges in their IPv4-mapped form).
    Cidr(Vec<String>),
    /// The length of the value's text in UTF-16 units, compared.
    Length(Compare, Literal),
    /// The value's text equals (ASCII case-insensitively) the text of some
    /// value of this other field (Sigma's `fieldref`).
    FieldRef(String),
}

/// A comparison operator, `value <op> literal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A literal of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string.
    Str(String),
    /// A number: its text as written, its value, and its exact value when
    /// it is an integer.
    Num {
        /// As written.
        text: String,
        /// As a float.
        value: f64,
        /// Exactly, for an integer.
        int: Option<i128>,
    },
    /// `true` or `false`.
    Bool(bool),
}
