//! Evaluation: Elasticsearch's truth value of a compiled condition for one
//! document. Two-valued: a leaf is true or false, never unknown, because each
//! leaf is a query that a document either matches or does not.
//!
//! Nothing here allocates per value: strings are compared in place, numbers
//! are read from their exact text.

use super::ast::{Cmp, Expr, Leaf, Lit, NumLit, Test};
use super::{Document, Scalar};
use std::cmp::Ordering;

impl Expr {
    /// The truth value for `doc`. Recursion depth is bounded by the parser's
    /// nesting limit.
    pub(crate) fn eval(&self, doc: &dyn Document) -> bool {
        match self {
            Expr::Const(b) => *b,
            Expr::And(parts) => parts.iter().all(|p| p.eval(doc)),
            Expr::Or(parts) => parts.iter().any(|p| p.eval(doc)),
            Expr::Not(inner) => !inner.eval(doc),
            Expr::Leaf(leaf) => leaf.eval(doc),
        }
    }
}

impl Leaf {
    /// Some value passes the test (or, negated, none does).
    pub(crate) fn eval(&self, doc: &dyn Document) -> bool {
        if let Test::FieldRef(other) = &self.test {
            let same = doc
                .any_value(&self.field, &mut |v| doc.any_value(other, &mut |w| text(v).eq_ignore_ascii_case(text(w))));
            return same != self.negated;
        }
        doc.any_value(&self.field, &mut |v| self.test.passes(v)) != self.negated
    }
}

/// A value's text, as a `keyword` or `flattened` field indexes it: numbers
/// exactly as written in the event, booleans as `true`/`false`.
pub(crate) fn text(v: Scalar<'_>) -> &str {
    match v {
        Scalar::Str(s) => s,
        Scalar::Num(n) => n.as_str(),
        Scalar::Bool(true) => "true",
        Scalar::Bool(false) => "false",
    }
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Compares a number value with a number literal; integers exactly.
fn num_cmp(n: &crate::doc::Number<'_>, lit: &NumLit) -> Option<Ordering> {
    number_text_cmp(n.as_str(), lit)
}

/// Compares the text of a JSON number with a number literal: exactly when
/// both are integers (within `i128`), else as `f64`.
fn number_text_cmp(text: &str, lit: &NumLit) -> Option<Ordering> {
    if let Some(want) = lit.int
        && let Ok(got) = text.parse::<i128>()
    {
        return Some(got.cmp(&want));
    }
    text.parse::<f64>().ok()?.partial_cmp(&lit.value)
}

/// True if all of `s` is a number as JSON writes one: `-?(0|[1-9][0-9]*)`,
/// then optionally `.` and digits, then `e`/`E`, a sign and digits. No
/// spaces, `+`, leading zeros, hexadecimal, `NaN` or `Infinity`.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let whole = i;
    match digits(&mut i) {
        0 => return false,
        n if n > 1 && b.get(whole) == Some(&b'0') => return false,
        _ => {}
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `value == lit`. A string literal compares with the value's text (so
/// `minCount == "1"` holds for the number 1, as on a flattened field); a
/// number literal compares numerically with numbers and by its text with
/// strings; a boolean compares with booleans and with "true"/"false".
fn equals(v: Scalar<'_>, lit: &Lit) -> bool {
    match (lit, v) {
        (Lit::Str(s), v) => text(v) == s,
        (Lit::Num(n), Scalar::Num(x)) => num_cmp(x, n) == Some(Ordering::Equal),
        (Lit::Num(n), Scalar::Str(s)) => s == n.text,
        (Lit::Bool(b), Scalar::Bool(x)) => x == *b,
        (Lit::Bool(b), Scalar::Str(s)) => s == bool_text(*b),
        (Lit::Num(_), Scalar::Bool(_)) | (Lit::Bool(_), Scalar::Num(_)) => false,
    }
}

/// `value <op> lit` for `<`, `<=`, `>`, `>=`: numbers numerically, anything
/// else as case-sensitive byte-wise (UTF-8) text, which is how a `keyword`
/// range query orders terms.
fn range(v: Scalar<'_>, op: Cmp, lit: &Lit) -> bool {
    let ord = match (lit, v) {
        (Lit::Num(n), Scalar::Num(x)) => num_cmp(x, n),
        (Lit::Num(n), Scalar::Str(s)) => Some(s.cmp(n.text.as_str())),
        (Lit::Str(s), v) => Some(text(v).cmp(s.as_str())),
        _ => None,
    };
    ord.is_some_and(|o| op.holds(o))
}

/// Sigma's `value <op> n`: a number, or a string whose whole text is a JSON
/// number (`"42"`, `"-1.5e3"`), compared as a number; anything else (other
/// strings, booleans) fails, whatever the operator.
fn numeric(v: Scalar<'_>, op: Cmp, n: &NumLit) -> bool {
    let ord = match v {
        Scalar::Num(x) => num_cmp(x, n),
        Scalar::Str(s) if is_json_number(s) => number_text_cmp(s, n),
        Scalar::Str(_) | Scalar::Bool(_) => None,
    };
    ord.is_some_and(|o| op.holds(o))
}

/// `length(value) <op> n`. Java's `String.length()` counts UTF-16 units.
fn length(v: Scalar<'_>, op: Cmp, n: &NumLit) -> bool {
    let len = text(v).chars().map(char::len_utf16).sum::<usize>();
    let ord = match (n.int, i128::try_from(len)) {
        (Some(want), Ok(got)) => Some(got.cmp(&want)),
        _ => (len as f64).partial_cmp(&n.value),
    };
    ord.is_some_and(|o| op.holds(o))
}

impl Test {
    /// True if this one value passes.
    pub(crate) fn passes(&self, v: Scalar<'_>) -> bool {
        match self {
            Test::Exists => true,
            Test::Equals(lits) => lits.iter().any(|l| equals(v, l)),
            Test::Wildcard(patterns) => {
                let t = text(v);
                patterns.iter().any(|p| p.matches(t))
            }
            Test::Regex(re) => re.as_ref().is_some_and(|re| re.is_match(text(v))),
            Test::Range(op, lit) => range(v, *op, lit),
            Test::Numeric(op, n) => numeric(v, *op, n),
            Test::Cidr(ranges) => {
                matches!(v, Scalar::Str(s) if ranges.iter().any(|r| r.contains(s)))
            }
            Test::Length(op, n) => length(v, *op, n),
            // Needs the document: `Leaf::eval` decides it.
            Test::FieldRef(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> crate::doc::Number<'_> {
        crate::doc::Number::new(s)
    }
    fn lit(s: &str) -> NumLit {
        let (neg, digits) = s.strip_prefix('-').map_or((false, s), |d| (true, d));
        NumLit::new(digits, neg).unwrap_or(NumLit { text: String::new(), value: f64::NAN, int: None })
    }
    fn s(v: &str) -> Lit {
        Lit::Str(v.to_string())
    }

    #[test]
    fn equality_across_types() {
        let one = num("1");
        let big = num("123456789012345678901");
        assert!(equals(Scalar::Str("x"), &s("x")));
        assert!(!equals(Scalar::Str("X"), &s("x")));
        assert!(equals(Scalar::Num(&one), &s("1")));
        assert!(!equals(Scalar::Num(&num("1.0")), &s("1")));
        assert!(equals(Scalar::Num(&num("1.0")), &Lit::Num(lit("1"))));
        assert!(equals(Scalar::Str("1"), &Lit::Num(lit("1"))));
        assert!(!equals(Scalar::Str("1.0"), &Lit::Num(lit("1"))));
        assert!(equals(Scalar::Num(&big), &Lit::Num(lit("123456789012345678901"))));
        assert!(!equals(Scalar::Num(&big), &Lit::Num(lit("123456789012345678902"))));
        assert!(equals(Scalar::Bool(true), &Lit::Bool(true)));
        assert!(equals(Scalar::Str("false"), &Lit::Bool(false)));
        assert!(equals(Scalar::Bool(false), &s("false")));
        assert!(!equals(Scalar::Num(&one), &Lit::Bool(true)));
        assert!(!equals(Scalar::Bool(true), &Lit::Num(lit("1"))));
    }

    #[test]
    fn ranges() {
        let n = num("150");
        assert!(range(Scalar::Num(&n), Cmp::Gt, &Lit::Num(lit("100"))));
        assert!(range(Scalar::Num(&n), Cmp::Lt, &Lit::Num(lit("200.5"))));
        assert!(!range(Scalar::Num(&n), Cmp::Lt, &Lit::Num(lit("-3"))));
        // A string value against a number literal: lexicographic on the text.
        assert!(range(Scalar::Str("9"), Cmp::Gt, &Lit::Num(lit("10"))));
        assert!(range(Scalar::Str("b"), Cmp::Gt, &s("a")));
        assert!(range(Scalar::Str("B"), Cmp::Lt, &s("a")));
        assert!(range(Scalar::Str("abc"), Cmp::Ge, &s("abc")));
        assert!(!range(Scalar::Bool(true), Cmp::Gt, &Lit::Num(lit("0"))));
    }

    #[test]
    fn numeric_ranges_read_numbers_and_number_strings() {
        let n = num("50");
        assert!(numeric(Scalar::Num(&n), Cmp::Gt, &lit("10")));
        assert!(!numeric(Scalar::Num(&n), Cmp::Gt, &lit("50")) && numeric(Scalar::Num(&n), Cmp::Ge, &lit("50")));
        // A number string is compared as a number, not as text.
        assert!(!numeric(Scalar::Str("5"), Cmp::Gt, &lit("10")) && numeric(Scalar::Str("5"), Cmp::Lt, &lit("10")));
        assert!(numeric(Scalar::Str("50"), Cmp::Gt, &lit("10")));
        assert!(
            numeric(Scalar::Str("-2.5"), Cmp::Lt, &lit("-2")) && numeric(Scalar::Str("1e3"), Cmp::Ge, &lit("1000"))
        );
        assert!(
            numeric(Scalar::Num(&num("2.5")), Cmp::Gt, &lit("2")) && numeric(Scalar::Str("2"), Cmp::Lt, &lit("2.5"))
        );
        // Integers beyond f64's exact range compare exactly.
        let big = num("9007199254740993");
        assert!(numeric(Scalar::Num(&big), Cmp::Gt, &lit("9007199254740992")));
        assert!(numeric(Scalar::Str("123456789012345678901"), Cmp::Gt, &lit("123456789012345678900")));
        // Anything else fails every comparison.
        for other in ["abc", "", " 5", "5 ", "+5", "05", "0x10", "5.", ".5", "1e", "NaN", "Infinity", "5 GB"] {
            assert!(
                !numeric(Scalar::Str(other), Cmp::Gt, &lit("-1000"))
                    && !numeric(Scalar::Str(other), Cmp::Lt, &lit("1000")),
                "{other:?}"
            );
        }
        assert!(!numeric(Scalar::Bool(true), Cmp::Gt, &lit("0")) && !numeric(Scalar::Bool(false), Cmp::Le, &lit("0")));
    }

    #[test]
    fn json_number_text() {
        for yes in ["0", "-0", "7", "-12", "3.25", "1e5", "1E+5", "2.5e-3", "123456789012345678901234567890"] {
            assert!(is_json_number(yes), "{yes:?}");
        }
        for no in ["", "-", "01", "-01", "1.", ".1", "1e", "1e+", "1.2.3", "1_000", "١", "0b1", "inf"] {
            assert!(!is_json_number(no), "{no:?}");
        }
    }

    #[test]
    fn lengths_count_utf16_units() {
        assert!(length(Scalar::Str("abc"), Cmp::Eq, &lit("3")));
        assert!(length(Scalar::Str("é"), Cmp::Eq, &lit("1")));
        assert!(length(Scalar::Str("😀"), Cmp::Eq, &lit("2")));
        assert!(length(Scalar::Str("abcd"), Cmp::Gt, &lit("3.5")));
        assert!(length(Scalar::Num(&num("12345")), Cmp::Eq, &lit("5")));
    }
}
