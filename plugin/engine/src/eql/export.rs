//! A compiled condition as plain data, for translating rules to other
//! languages (`modwatch export vrl`). Only built with the `export` feature.

use super::Query;
use super::ast::{Cmp, Expr, Leaf, Lit, NumLit, Test};
use crate::export::{Compare, Condition, Literal, ValueTest};

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
        Test::Cidr(ranges) => ValueTest::Cidr(ranges.iter().map(|r| r.ipv6_text()).collect()),
        Test::Length(op, n) => ValueTest::Length(compare(*op), number(n)),
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
