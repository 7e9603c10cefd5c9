//! The compiled form of a condition: what `parse` builds and `eval` walks.
//!
//! Every leaf is one Elasticsearch leaf query (`term`, `terms`, `wildcard`,
//! `regexp`, `range`, `exists`, or a per-value script) on one field. A leaf is
//! true if some value of the field passes its test; `negated` turns that into
//! "no value passes", which is what `must_not` around the leaf query means
//! (`!=`, `not in`, `== null`, and `not` applied to a leaf).

use super::FieldPath;
use super::cidr::Cidr;
use super::pattern::Wildcard;
use std::cmp::Ordering;

/// A condition.
#[derive(Debug)]
pub(crate) enum Expr {
    /// `true` or `false`.
    Const(bool),
    /// All must hold (flattened: no `And` directly inside an `And`).
    And(Vec<Expr>),
    /// One must hold (flattened likewise).
    Or(Vec<Expr>),
    /// Negation of an `And` or `Or` (leaves and constants absorb `not`).
    Not(Box<Expr>),
    /// One field predicate.
    Leaf(Leaf),
}

impl Expr {
    /// `not self`, simplified: `not not x` is `x`, a leaf flips `negated`.
    pub(crate) fn negate(self) -> Expr {
        match self {
            Expr::Const(b) => Expr::Const(!b),
            Expr::Not(inner) => *inner,
            Expr::Leaf(mut leaf) => {
                leaf.negated = !leaf.negated;
                Expr::Leaf(leaf)
            }
            other => Expr::Not(Box::new(other)),
        }
    }

    /// The conjunction of `parts`, with nested conjunctions flattened.
    pub(crate) fn all(parts: Vec<Expr>) -> Expr {
        flatten(parts, true)
    }

    /// The disjunction of `parts`, with nested disjunctions flattened.
    pub(crate) fn any(parts: Vec<Expr>) -> Expr {
        flatten(parts, false)
    }
}

fn flatten(parts: Vec<Expr>, conjunction: bool) -> Expr {
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Expr::And(inner) if conjunction => out.extend(inner),
            Expr::Or(inner) if !conjunction => out.extend(inner),
            p => out.push(p),
        }
    }
    if out.len() == 1 {
        out.pop().unwrap_or(Expr::Const(conjunction))
    } else if conjunction {
        Expr::And(out)
    } else {
        Expr::Or(out)
    }
}

/// A predicate on one field.
#[derive(Debug)]
pub(crate) struct Leaf {
    pub(crate) field: FieldPath,
    pub(crate) test: Test,
    /// True: the leaf holds when no value passes `test` (a missing field included).
    pub(crate) negated: bool,
}

/// What one value must satisfy.
#[derive(Debug)]
pub(crate) enum Test {
    /// Any value (`!= null`; negated, `== null`).
    Exists,
    /// `==`, `in`: equal to one of these, case-sensitively.
    Equals(Vec<Lit>),
    /// `:`, `like`, `like~`, `in~` and the string functions: matches one of these.
    Wildcard(Vec<Wildcard>),
    /// `regex`, `regex~`: the anchored translation; `None` matches nothing.
    Regex(Option<regex_lite::Regex>),
    /// `<`, `<=`, `>`, `>=` against a literal.
    Range(Cmp, Lit),
    /// Sigma's `gt`, `gte`, `lt`, `lte`: a number, or a string whose whole
    /// text is a JSON number, compared as a number; any other value fails.
    /// EQL has no such test (its ranges order strings as text).
    Numeric(Cmp, NumLit),
    /// `cidrMatch`: inside one of these ranges.
    Cidr(Vec<Cidr>),
    /// `length(f) <op> n`, evaluated per value like Elasticsearch's script.
    Length(Cmp, NumLit),
    /// Equal (as text, ASCII case-insensitively) to some value of the other
    /// field: Sigma's `fieldref`. EQL has no such test.
    FieldRef(FieldPath),
}

/// A comparison operator, as `value <op> literal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    /// The operator with its operands swapped: `1 < f` is `f > 1`.
    pub(crate) fn flip(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            other => other,
        }
    }

    /// True if `ord` (value compared with literal) satisfies the operator.
    pub(crate) fn holds(self, ord: Ordering) -> bool {
        match self {
            Cmp::Eq => ord == Ordering::Equal,
            Cmp::Ne => ord != Ordering::Equal,
            Cmp::Lt => ord == Ordering::Less,
            Cmp::Le => ord != Ordering::Greater,
            Cmp::Gt => ord == Ordering::Greater,
            Cmp::Ge => ord != Ordering::Less,
        }
    }
}

/// A literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Num(NumLit),
    Bool(bool),
}

/// A number literal: the text as written (compared with string values) and
/// its value (compared with number values).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NumLit {
    pub(crate) text: String,
    pub(crate) value: f64,
    /// The exact value when the literal is an integer, so that large integers
    /// compare exactly rather than through `f64`.
    pub(crate) int: Option<i128>,
}

impl NumLit {
    /// Reads an unsigned number as lexed, `-` prefixed when `negative`.
    pub(crate) fn new(digits: &str, negative: bool) -> Option<NumLit> {
        let text = if negative { format!("-{digits}") } else { digits.to_string() };
        let value: f64 = text.parse().ok()?;
        let int = if digits.bytes().all(|b| b.is_ascii_digit()) { text.parse().ok() } else { None };
        Some(NumLit { text, value, int })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(name: &str) -> Expr {
        Expr::Leaf(Leaf { field: FieldPath::new(name), test: Test::Exists, negated: false })
    }

    fn shape(e: &Expr) -> String {
        match e {
            Expr::Const(b) => b.to_string(),
            Expr::And(xs) => format!("and({})", xs.iter().map(shape).collect::<Vec<_>>().join(",")),
            Expr::Or(xs) => format!("or({})", xs.iter().map(shape).collect::<Vec<_>>().join(",")),
            Expr::Not(x) => format!("not({})", shape(x)),
            Expr::Leaf(l) => format!("{}{}", if l.negated { "!" } else { "" }, l.field.dotted),
        }
    }

    #[test]
    fn negation_simplifies() {
        assert_eq!(shape(&leaf("a").negate()), "!a");
        assert_eq!(shape(&leaf("a").negate().negate()), "a");
        assert_eq!(shape(&Expr::Const(true).negate()), "false");
        let both = Expr::all(vec![leaf("a"), leaf("b")]);
        assert_eq!(shape(&both.negate()), "not(and(a,b))");
        assert_eq!(shape(&Expr::all(vec![leaf("a"), leaf("b")]).negate().negate()), "and(a,b)");
    }

    #[test]
    fn connectives_flatten() {
        let e =
            Expr::all(vec![leaf("a"), Expr::all(vec![leaf("b"), leaf("c")]), Expr::any(vec![leaf("d"), leaf("e")])]);
        assert_eq!(shape(&e), "and(a,b,c,or(d,e))");
        assert_eq!(shape(&Expr::any(vec![Expr::any(vec![leaf("a"), leaf("b")]), leaf("c")])), "or(a,b,c)");
        assert_eq!(shape(&Expr::all(vec![leaf("a")])), "a");
    }

    #[test]
    fn cmp_flip_and_holds() {
        use Ordering::*;
        assert_eq!(Cmp::Lt.flip(), Cmp::Gt);
        assert_eq!(Cmp::Ge.flip(), Cmp::Le);
        assert_eq!(Cmp::Eq.flip(), Cmp::Eq);
        assert!(Cmp::Le.holds(Equal) && Cmp::Le.holds(Less) && !Cmp::Le.holds(Greater));
        assert!(Cmp::Ne.holds(Less) && !Cmp::Ne.holds(Equal));
    }

    #[test]
    fn number_literals() {
        let n = NumLit::new("12", true);
        assert_eq!(n.as_ref().map(|n| (n.text.as_str(), n.value, n.int)), Some(("-12", -12.0, Some(-12))));
        let f = NumLit::new("1.5e3", false);
        assert_eq!(f.as_ref().map(|n| (n.value, n.int)), Some((1500.0, None)));
        assert_eq!(NumLit::new("99999999999999999999", false).and_then(|n| n.int), Some(99_999_999_999_999_999_999));
    }
}
