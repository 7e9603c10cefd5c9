//! The literal prefilter: decides from the raw bytes, without parsing, which
//! rules could possibly match an event.
//!
//! Each rule's query yields a set of needles, one of which must occur in the
//! bytes of any event it matches (`Query::required_literals`). One
//! Aho-Corasick pass (ASCII case-insensitive, so it stays correct for `:`,
//! `like~` and the `~` functions) finds which needles occur. JSON can spell a
//! character as an escape (`\u0041`, `\/`), which would hide a needle, so an
//! event containing `\u` or `\/` makes every rule a candidate.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// Escapes that can spell a needle's characters differently in JSON.
const ESCAPES: [&str; 2] = ["\\u", "\\/"];

/// An ASCII case-insensitive automaton over `patterns` and the escapes.
fn build(patterns: &mut Vec<String>) -> Option<AhoCorasick> {
    if patterns.is_empty() {
        return None;
    }
    patterns.extend(ESCAPES.iter().map(|e| e.to_string()));
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&*patterns)
        .or_else(|_| AhoCorasickBuilder::new().ascii_case_insensitive(true).build(&*patterns))
        .ok()
}

/// Which rules an event could match.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Candidates {
    /// None: pass the event on without parsing it.
    None,
    /// Every rule.
    All,
    /// `mask[i]` for rule `i`.
    Some(Vec<bool>),
}

/// The compiled prefilter of a rule set.
#[derive(Debug)]
pub(crate) struct Prefilter {
    /// Each rule's rarest clause (and the escapes): an event in which none
    /// of these occurs cannot match any rule. One early-exit pass decides
    /// that for most events.
    primary: Option<AhoCorasick>,
    /// Every clause's needles (and the escapes), searched with overlaps to
    /// tell which rules' clauses all hold.
    searcher: Option<AhoCorasick>,
    /// Number of needle patterns; pattern ids past them are escapes.
    needles: usize,
    /// Per rule, its clauses as pattern ids: every clause needs one present.
    /// A rule without clauses is always a candidate.
    rules: Vec<Vec<Vec<usize>>>,
    /// Rules without clauses.
    always: Vec<usize>,
}

impl Prefilter {
    /// Builds the prefilter from each rule's clauses (none: unconstrained).
    pub(crate) fn new(clauses: &[Vec<Vec<String>>]) -> Prefilter {
        let mut patterns: Vec<String> = Vec::new();
        let mut rules = Vec::with_capacity(clauses.len());
        let mut always = Vec::new();
        for (rule, rule_clauses) in clauses.iter().enumerate() {
            if rule_clauses.is_empty() {
                always.push(rule);
            }
            let ids = rule_clauses
                .iter()
                .map(|clause| {
                    clause
                        .iter()
                        .map(|needle| {
                            let lower = needle.to_ascii_lowercase();
                            patterns.iter().position(|p| *p == lower).unwrap_or_else(|| {
                                patterns.push(lower);
                                patterns.len() - 1
                            })
                        })
                        .collect()
                })
                .collect();
            rules.push(ids);
        }
        let needles = patterns.len();
        // How common a needle is likely to be in events: shared by many rules
        // (`ec2.amazonaws.com`) or short (`all`, `add`) means common; an
        // operation name is rare. Each rule's primary clause is the one whose
        // commonest needle is least common.
        let mut owners = vec![0usize; needles];
        for clause in rules.iter().flatten() {
            for &id in clause {
                owners[id] += 1;
            }
        }
        let common = |id: usize| owners[id] * 10_000 / patterns[id].len().pow(2).max(1);
        let mut primary: Vec<String> = rules
            .iter()
            .filter_map(|clauses: &Vec<Vec<usize>>| {
                clauses.iter().min_by_key(|c| (c.iter().map(|&id| common(id)).max().unwrap_or(0), c.len()))
            })
            .flatten()
            .map(|&id| patterns[id].clone())
            .collect();
        primary.sort();
        primary.dedup();
        let searcher = build(&mut patterns);
        let primary = build(&mut primary);
        if searcher.is_none() || primary.is_none() {
            // No needles (or an automaton that could not be built): every
            // rule is a candidate for every event.
            always = (0..clauses.len()).collect();
            rules.iter_mut().for_each(Vec::clear);
        }
        Prefilter { primary, searcher, needles, rules, always }
    }

    /// The rules that could match an event with these bytes.
    pub(crate) fn scan(&self, bytes: &[u8]) -> Candidates {
        let (Some(primary), Some(searcher)) = (&self.primary, &self.searcher) else {
            return if self.rules.is_empty() { Candidates::None } else { Candidates::All };
        };
        if self.always.is_empty() && !primary.is_match(bytes) {
            return Candidates::None;
        }
        let mut present: Option<Vec<bool>> = None;
        for m in searcher.find_overlapping_iter(bytes) {
            let id = m.pattern().as_usize();
            if id >= self.needles {
                return Candidates::All; // an escape
            }
            present.get_or_insert_with(|| vec![false; self.needles])[id] = true;
        }
        if present.is_none() && self.always.is_empty() {
            return Candidates::None;
        }
        let present = present.unwrap_or_default();
        let hit = |id: &usize| present.get(*id).copied().unwrap_or(false);
        let mask: Vec<bool> = self.rules.iter().map(|clauses| clauses.iter().all(|c| c.iter().any(hit))).collect();
        if mask.iter().any(|&m| m) { Candidates::Some(mask) } else { Candidates::None }
    }

    /// The rules no needle constrains.
    pub(crate) fn unfiltered(&self) -> &[usize] {
        &self.always
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(needles: &[&str]) -> Vec<Vec<String>> {
        vec![needles.iter().map(|s| s.to_string()).collect()]
    }

    #[test]
    fn finds_needles_case_insensitively() {
        let p = Prefilter::new(&[set(&["Microsoft.Compute/snapshots/write"]), set(&["RunInstances"])]);
        assert_eq!(
            p.scan(br#"{"operationName":"MICROSOFT.COMPUTE/SNAPSHOTS/WRITE"}"#),
            Candidates::Some(vec![true, false])
        );
        assert_eq!(p.scan(br#"{"eventName":"runinstances"}"#), Candidates::Some(vec![false, true]));
        assert_eq!(p.scan(br#"{"eventName":"DescribeInstances"}"#), Candidates::None);
    }

    #[test]
    fn every_clause_must_hold() {
        let both = vec![vec!["ec2.amazonaws.com".to_string()], vec!["TerminateInstances".to_string()]];
        let p = Prefilter::new(&[both]);
        assert_eq!(p.scan(br#"{"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances"}"#), Candidates::None);
        assert_eq!(
            p.scan(br#"{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances"}"#),
            Candidates::Some(vec![true])
        );
        assert_eq!(p.scan(br#"{"eventSource":"s3.amazonaws.com","eventName":"TerminateInstances"}"#), Candidates::None);
    }

    #[test]
    fn escapes_make_everything_a_candidate() {
        let p = Prefilter::new(&[set(&["RunInstances"])]);
        assert_eq!(p.scan(br#"{"eventName":"\u0052unInstances"}"#), Candidates::All);
        assert_eq!(p.scan(br#"{"op":"a\/b"}"#), Candidates::All);
    }

    #[test]
    fn unconstrained_rules_are_always_candidates() {
        let p = Prefilter::new(&[set(&["RunInstances"]), Vec::new()]);
        assert_eq!(p.scan(b"{}"), Candidates::Some(vec![false, true]));
        assert_eq!(p.unfiltered(), &[1]);
        assert_eq!(Prefilter::new(&[Vec::new()]).scan(b"{}"), Candidates::All);
        assert_eq!(Prefilter::new(&[]).scan(b"{}"), Candidates::None);
    }
}
