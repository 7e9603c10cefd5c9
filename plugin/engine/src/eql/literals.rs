//! Prefilter needles: literals that must occur in the raw bytes of any event
//! a query matches.
//!
//! A positive leaf that compares a field with string literals (`==`, `in`,
//! `:`, `like`, `like~`, `in~` and the string functions) yields, per literal,
//! its longest wildcard-free run, mapped through the engine's `needle`
//! function. Everything else is unconstrained (`None`): negated leaves,
//! `not (…)`, null checks, regexes, numbers, booleans, ranges, `cidrMatch`,
//! `length`, runs shorter than [`MIN_RUN`] characters, numeric-looking runs,
//! and runs `needle` declines. The category filter is never a needle.
//!
//! The result is a conjunction of clauses: every constrained child of the
//! top-level `and` gives its own clause (all must hold, so an EC2 rule needs
//! both `ec2.amazonaws.com` and its operation name in the bytes). An `or`
//! gives one clause, the union of its children's, and is unconstrained if
//! any child is; an `and` inside it contributes its most selective clause.

use super::ast::{Expr, Leaf, Lit, Test};

/// Shorter runs would match almost every event and only cost time.
const MIN_RUN: usize = 3;

/// The engine's mapping from (field, literal run) to a raw-bytes needle.
pub(crate) type Needle<'a, N> = &'a dyn Fn(&str, &str) -> Option<N>;

/// What the engine's needle function returns: at least the text that must
/// occur in the raw bytes; the engine may attach more (which field it came
/// from), so two needles are the same only if the engine says so.
pub(crate) trait NeedleText: Sized {
    /// The text that must occur, ASCII case-insensitively.
    fn text(&self) -> &str;
    /// Whether `other` says nothing more than `self`.
    fn same(&self, other: &Self) -> bool;
}

impl NeedleText for String {
    fn text(&self) -> &str {
        self
    }
    fn same(&self, other: &Self) -> bool {
        self.eq_ignore_ascii_case(other)
    }
}

/// The prefilter clauses of a condition: each clause is a set of needles one
/// of which must occur in the raw bytes of any event the condition matches,
/// and every clause must hold (a conjunction of disjunctions). No clause
/// means unconstrained; an empty clause means nothing can match.
pub(crate) fn required<N: NeedleText>(cond: &Expr, needle: Needle<'_, N>) -> Vec<Vec<N>> {
    clauses(cond, needle).into_iter().map(dedup).collect()
}

fn clauses<N: NeedleText>(e: &Expr, needle: Needle<'_, N>) -> Vec<Vec<N>> {
    match e {
        Expr::And(parts) => parts.iter().flat_map(|p| clauses(p, needle)).collect(),
        other => needles(other, needle).into_iter().collect(),
    }
}

/// One clause for a condition: `None` if it constrains nothing.
fn needles<N: NeedleText>(e: &Expr, needle: Needle<'_, N>) -> Option<Vec<N>> {
    match e {
        Expr::Const(true) | Expr::Not(_) => None,
        // Nothing can match, so no needle is needed.
        Expr::Const(false) => Some(Vec::new()),
        Expr::Leaf(leaf) => leaf_needles(leaf, needle),
        Expr::Or(parts) => {
            let mut all = Vec::new();
            for p in parts {
                all.extend(needles(p, needle)?);
            }
            Some(all)
        }
        // Inside an `or`, an `and` contributes its most selective clause.
        Expr::And(parts) => {
            let mut best: Option<Vec<N>> = None;
            for set in parts.iter().filter_map(|p| needles(p, needle)).map(dedup) {
                if best.as_ref().is_none_or(|b| selectivity(&set) > selectivity(b)) {
                    best = Some(set);
                }
            }
            best
        }
    }
}

/// Larger is more selective: the shortest needle's length, then fewer needles.
fn selectivity<N: NeedleText>(set: &[N]) -> (usize, std::cmp::Reverse<usize>) {
    (set.iter().map(|n| n.text().len()).min().unwrap_or(usize::MAX), std::cmp::Reverse(set.len()))
}

fn leaf_needles<N: NeedleText>(leaf: &Leaf, needle: Needle<'_, N>) -> Option<Vec<N>> {
    if leaf.negated {
        return None;
    }
    let field = leaf.field.dotted.as_str();
    match &leaf.test {
        Test::Equals(lits) => lits
            .iter()
            .map(|lit| match lit {
                Lit::Str(s) => run_needle(field, s, needle),
                Lit::Num(_) | Lit::Bool(_) => None,
            })
            .collect(),
        Test::Wildcard(patterns) => patterns
            .iter()
            .map(|p| {
                let longest = p.runs().fold(None, |best: Option<&str>, r| match best {
                    Some(b) if b.chars().count() >= r.chars().count() => Some(b),
                    _ => Some(r),
                })?;
                run_needle(field, longest, needle)
            })
            .collect(),
        Test::Exists
        | Test::Regex(_)
        | Test::Range(..)
        | Test::Numeric(..)
        | Test::Cidr(_)
        | Test::Length(..)
        | Test::FieldRef(_) => None,
    }
}

fn run_needle<N: NeedleText>(field: &str, run: &str, needle: Needle<'_, N>) -> Option<N> {
    if run.chars().count() < MIN_RUN || numeric_looking(run) {
        return None;
    }
    needle(field, run)
}

/// True for text that reads as a JSON-style number, e.g. `42`, `-1.5e3`.
/// Such literals also match number values, whose raw spelling may differ.
fn numeric_looking(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.parse::<f64>().is_ok()
}

fn dedup<N: NeedleText>(set: Vec<N>) -> Vec<N> {
    let mut out: Vec<N> = Vec::with_capacity(set.len());
    for n in set {
        if !out.iter().any(|o| o.same(&n)) {
            out.push(n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_looking_literals() {
        for yes in ["123", "-1.5", "1e5", "+3", "0.25E-2"] {
            assert!(numeric_looking(yes), "{yes}");
        }
        for no in ["2024-01-01", "e-e", "inf", "NaN", "1.2.3", "abc", "12a"] {
            assert!(!numeric_looking(no), "{no}");
        }
    }

    #[test]
    fn dedup_ignores_ascii_case() {
        assert_eq!(dedup::<String>(vec!["Abc".into(), "aBC".into(), "xyz".into()]), ["Abc", "xyz"]);
    }

    #[test]
    fn selectivity_prefers_long_then_few() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(selectivity(&s(&["abcdef"])) > selectivity(&s(&["abc", "abcdefgh"])));
        assert!(selectivity(&s(&["abcd"])) > selectivity(&s(&["abcd", "efgh"])));
        assert!(selectivity::<String>(&[]) > selectivity(&s(&["abcdefghijk"])));
    }
}
