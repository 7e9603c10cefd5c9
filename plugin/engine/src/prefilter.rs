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
    searcher: Option<AhoCorasick>,
    /// Pattern id → the rules that need it; ids past the needles are escapes.
    owners: Vec<Vec<usize>>,
    /// Rules no needle constrains.
    always: Vec<usize>,
    rules: usize,
}

impl Prefilter {
    /// Builds the prefilter from each rule's needles (`None`: unconstrained).
    pub(crate) fn new(needles: &[Option<Vec<String>>]) -> Prefilter {
        let mut patterns: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for (rule, set) in needles.iter().enumerate() {
            let Some(set) = set else {
                always.push(rule);
                continue;
            };
            for needle in set {
                let lower = needle.to_ascii_lowercase();
                match patterns.iter().position(|p| *p == lower) {
                    Some(i) => owners[i].push(rule),
                    None => {
                        patterns.push(lower);
                        owners.push(vec![rule]);
                    }
                }
            }
        }
        let searcher = if patterns.is_empty() {
            None
        } else {
            patterns.extend(ESCAPES.iter().map(|e| e.to_string()));
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&patterns)
                .or_else(|_| AhoCorasickBuilder::new().ascii_case_insensitive(true).build(&patterns))
                .ok()
        };
        if searcher.is_none() {
            // No needles (or an automaton that could not be built): every
            // rule is a candidate for every event.
            always = (0..needles.len()).collect();
        }
        Prefilter { searcher, owners, always, rules: needles.len() }
    }

    /// The rules that could match an event with these bytes.
    pub(crate) fn scan(&self, bytes: &[u8]) -> Candidates {
        let Some(searcher) = &self.searcher else {
            return if self.rules == 0 { Candidates::None } else { Candidates::All };
        };
        let mut mask: Option<Vec<bool>> = None;
        for m in searcher.find_overlapping_iter(bytes) {
            let id = m.pattern().as_usize();
            let Some(rules) = self.owners.get(id) else {
                return Candidates::All; // an escape
            };
            let mask = mask.get_or_insert_with(|| vec![false; self.rules]);
            for &r in rules {
                mask[r] = true;
            }
        }
        if mask.is_none() && self.always.is_empty() {
            return Candidates::None;
        }
        let mut mask = mask.unwrap_or_else(|| vec![false; self.rules]);
        for &r in &self.always {
            mask[r] = true;
        }
        Candidates::Some(mask)
    }

    /// The rules no needle constrains.
    pub(crate) fn unfiltered(&self) -> &[usize] {
        &self.always
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(needles: &[&str]) -> Option<Vec<String>> {
        Some(needles.iter().map(|s| s.to_string()).collect())
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
    fn escapes_make_everything_a_candidate() {
        let p = Prefilter::new(&[set(&["RunInstances"])]);
        assert_eq!(p.scan(br#"{"eventName":"\u0052unInstances"}"#), Candidates::All);
        assert_eq!(p.scan(br#"{"op":"a\/b"}"#), Candidates::All);
    }

    #[test]
    fn unconstrained_rules_are_always_candidates() {
        let p = Prefilter::new(&[set(&["RunInstances"]), None]);
        assert_eq!(p.scan(b"{}"), Candidates::Some(vec![false, true]));
        assert_eq!(p.unfiltered(), &[1]);
        assert_eq!(Prefilter::new(&[None]).scan(b"{}"), Candidates::All);
        assert_eq!(Prefilter::new(&[]).scan(b"{}"), Candidates::None);
    }
}
