//! The literal prefilter: decides from the raw bytes, without parsing, which
//! rules could possibly match an event.
//!
//! Each rule's query yields clauses of needles: every clause must have one
//! needle that occurs in the bytes of any event the rule matches
//! (`Query::required_literals`). Most rules have a clause whose needles are
//! all compared with the operation (`event.action`, `modwatch.op`), and the
//! normaliser reads the operation only from the string values of a few keys
//! (`eventName`, `operationName`, `methodName`, ...). So the first stage
//! looks only at those values: one pass over the bytes for `:` (and `\`),
//! then an Aho-Corasick search over each operation value, a few dozen bytes.
//! An event whose operation values hold none of those needles cannot match
//! such a rule, and most events are decided there. The same pass sees the
//! keys of a batch (`Records`), which is parsed even when no rule could
//! match it, so that each record gets its own verdict.
//!
//! Rules without such a clause (e.g. a Sigma keyword search, whose needles
//! may be anywhere in the event) are decided by their rarest clause. When
//! those needles are all long (16 bytes or more), a skipping search finds
//! them after the first stage's pass, looking at a few bytes in each
//! needle's length. Else, when every one of them holds one same byte that
//! is not a letter (so it is the same in any case), that byte is an
//! *anchor*: the first stage's pass finds it with the `:` and `\`, and
//! compares the needles around each one, so those rules cost no second
//! pass over the bytes. Otherwise they take one Aho-Corasick pass over all
//! the bytes.
//!
//! Events a stage lets through (and events the first stage cannot read: an
//! operation value that is not a plain string) go through one Aho-Corasick
//! pass over all the bytes that tells which rules' clauses all hold (ASCII
//! case-insensitive, so it stays correct for `:`, `like~` and the `~`
//! functions).
//!
//! JSON can spell a character as an escape (`\u0041`, `\/`), which would hide
//! a needle or a key, so an event containing `\u` or `\/` makes every rule a
//! candidate.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::eql::NeedleText;
use crate::input::{BATCH_KEYS, may_be_batch};

/// Escapes that can spell a needle's characters differently in JSON.
const ESCAPES: [&str; 2] = ["\\u", "\\/"];

/// A needle of a rule's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Needle {
    /// Text that must occur, ASCII case-insensitively.
    pub(crate) text: String,
    /// True if it must occur inside the string value of an operation key
    /// (not just anywhere in the bytes).
    pub(crate) operation: bool,
}

impl NeedleText for Needle {
    fn text(&self) -> &str {
        &self.text
    }
    fn same(&self, other: &Self) -> bool {
        self.operation == other.operation && self.text.eq_ignore_ascii_case(&other.text)
    }
}

/// An ASCII case-insensitive automaton over `patterns`.
fn automaton(patterns: &[String]) -> Option<AhoCorasick> {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .build(patterns)
        .or_else(|_| AhoCorasickBuilder::new().ascii_case_insensitive(true).build(patterns))
        .ok()
}

/// An automaton over `patterns` and the escapes.
fn with_escapes(mut patterns: Vec<String>) -> Option<AhoCorasick> {
    patterns.extend(ESCAPES.iter().map(|e| e.to_string()));
    automaton(&patterns)
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
    /// The operation stage, for the rules that have an operation clause.
    operations: Option<Operations>,
    /// The rarest clause of each rule the operation stage does not decide
    /// (and the escapes): an event in which none of these occurs cannot
    /// match any of those rules. `None`: there are no such rules, or the
    /// operation stage looks for them at its anchor.
    primary: Option<AhoCorasick>,
    /// Every clause's needles (and the escapes), searched with overlaps to
    /// tell which rules' clauses all hold.
    searcher: Option<AhoCorasick>,
    /// Number of needle patterns; pattern ids past them are escapes.
    needles: usize,
    /// Per rule, its clauses as pattern ids: every clause needs one present.
    rules: Vec<Vec<Vec<usize>>>,
    /// Rules without clauses: always candidates.
    always: Vec<usize>,
    /// The rules the operation stage found are checked on their own, without
    /// the pass over every needle: `None` when that is not possible.
    checks: Option<Checks>,
}

/// Each rule's clauses other than its operation clause, one automaton per
/// distinct clause. When the operation stage found some rules' operation
/// needles (and no rule is left to the primary stage), only those rules can
/// match: their other clauses are looked for one by one, each search
/// stopping at its first needle, instead of one overlapping pass over all
/// the bytes for every needle of the rule set (a Sigma pack has many).
#[derive(Debug)]
struct Checks {
    clauses: Vec<AhoCorasick>,
    /// Per rule, its clauses to check (ids into `clauses`).
    rules: Vec<Vec<usize>>,
}

impl Checks {
    /// The checks of every rule but `gate[rule]`, the clause its operation
    /// needles come from (it holds when one of them is found), if every
    /// clause's automaton builds.
    fn new(rules: &[Vec<Vec<usize>>], gate: &[Option<usize>], patterns: &[String]) -> Option<Checks> {
        let mut distinct: Vec<Vec<usize>> = Vec::new();
        let mut per_rule = Vec::with_capacity(rules.len());
        for (clauses, gate) in rules.iter().zip(gate) {
            let mut ids = Vec::new();
            for (k, clause) in clauses.iter().enumerate() {
                if *gate == Some(k) {
                    continue;
                }
                let mut key: Vec<usize> = clause.clone();
                key.sort_unstable();
                key.dedup();
                let id = distinct.iter().position(|c| *c == key).unwrap_or_else(|| {
                    distinct.push(key);
                    distinct.len() - 1
                });
                ids.push(id);
            }
            per_rule.push(ids);
        }
        let clauses = distinct
            .iter()
            .map(|c| automaton(&c.iter().map(|&id| patterns[id].clone()).collect::<Vec<_>>()))
            .collect::<Option<Vec<_>>>()?;
        Some(Checks { clauses, rules: per_rule })
    }

    /// The mask of the rules whose operation needle was `found` and whose
    /// other clauses all hold in the bytes (`None`: no rule).
    fn mask(&self, gates: &[Option<Vec<usize>>], found: &[bool], bytes: &[u8]) -> Option<Vec<bool>> {
        // Each clause searched at most once an event: many rules share one.
        let mut known: Vec<Option<bool>> = vec![None; self.clauses.len()];
        let mut mask: Option<Vec<bool>> = None;
        for (rule, gate) in gates.iter().enumerate() {
            let Some(ids) = gate else { continue };
            if !ids.iter().any(|&id| found[id]) {
                continue;
            }
            let holds =
                self.rules[rule].iter().all(|&c| *known[c].get_or_insert_with(|| self.clauses[c].is_match(bytes)));
            if holds {
                mask.get_or_insert_with(|| vec![false; gates.len()])[rule] = true;
            }
        }
        mask
    }
}

/// The first stage: needles of operation clauses, looked for only in the
/// string values of the operation keys.
#[derive(Debug)]
struct Operations {
    /// The keys the normaliser reads operations from. A key is recognised
    /// by its ending, so `event.action` and any other `…action` count: more
    /// values to look at, never fewer.
    keys: &'static [&'static str],
    /// `last[b]`: some operation or batch key ends with byte `b` (most keys
    /// are ruled out by their last byte, without comparing).
    last: [bool; 256],
    automaton: AhoCorasick,
    /// Each rule's operation clause, as ids of the automaton's patterns
    /// (`None`: the rule has none and is left to the primary stage).
    gates: Vec<Option<Vec<usize>>>,
    /// Which of the rule's clauses that is.
    gate_clause: Vec<Option<usize>>,
    /// The primary needles, found at their anchor byte in the same pass.
    anchor: Option<Anchor>,
    /// Or, when they are all long, found by a skipping search after it.
    skip: Option<Skip>,
}

/// The shortest primary needles [`Skip`] is used for: its steps are up to
/// that long.
const SKIP_MIN: usize = 16;

/// Long needles found by skipping (Wu and Manber's search, ASCII
/// case-insensitively): each window of the shortest needle's length is
/// judged by its last two bytes, and the search moves on by as much as no
/// needle could start in between; a pair of bytes that ends no needle's
/// window is usually in none, and the search moves on by almost a window.
/// An anchor byte common in events (`/` in Azure resource ids) would stop
/// the operation stage's pass dozens of times an event instead.
#[derive(Debug)]
struct Skip {
    /// Window length: the shortest needle's, at most 255.
    window: usize,
    /// `shift[pair]`: how far the window moves when its last two bytes
    /// (lower-cased, the first in the high byte) are `pair`; 0 when they
    /// end some needle's window.
    shift: Vec<u8>,
    /// The needles, lower-cased, each with the pair that ends its window.
    needles: Vec<(Vec<u8>, u16)>,
}

/// Two bytes, lower-cased, as one index.
#[inline]
fn pair(a: u8, b: u8) -> u16 {
    (u16::from(a.to_ascii_lowercase()) << 8) | u16::from(b.to_ascii_lowercase())
}

impl Skip {
    fn new(needles: &[String]) -> Option<Skip> {
        let window = needles.iter().map(String::len).min()?.min(255);
        if window < SKIP_MIN {
            return None;
        }
        let mut shift = vec![(window - 1) as u8; 1 << 16];
        let mut out = Vec::with_capacity(needles.len());
        for n in needles {
            let n = n.to_ascii_lowercase().into_bytes();
            for j in 1..window {
                let s = &mut shift[usize::from(pair(n[j - 1], n[j]))];
                *s = (*s).min((window - 1 - j) as u8);
            }
            let last = pair(n[window - 2], n[window - 1]);
            out.push((n, last));
        }
        Some(Skip { window, shift, needles: out })
    }

    /// True if some needle occurs in the bytes (ASCII case-insensitively).
    fn find(&self, bytes: &[u8]) -> bool {
        let mut end = self.window - 1;
        while let (Some(&a), Some(&b)) = (bytes.get(end - 1), bytes.get(end)) {
            let p = pair(a, b);
            match self.shift[usize::from(p)] {
                0 => {
                    let start = end + 1 - self.window;
                    let hit = self.needles.iter().any(|(n, last)| {
                        *last == p && bytes.get(start..start + n.len()).is_some_and(|w| w.eq_ignore_ascii_case(n))
                    });
                    if hit {
                        return true;
                    }
                    end += 1;
                }
                s => end += usize::from(s),
            }
        }
        false
    }
}

/// Needles that all hold one byte that is not a letter: they are looked for
/// only where that byte is, which the operation stage's pass finds anyway.
#[derive(Debug)]
struct Anchor {
    byte: u8,
    /// Each needle at each place the anchor byte is in it.
    places: Vec<Place>,
    /// `after[b]`: the places whose needle has `b` (lower-cased) right
    /// after the anchor byte; `after[256]`: those that end with it. Most
    /// anchors in an event are then ruled out by the byte after them.
    after: Vec<Vec<usize>>,
}

/// A needle with its anchor byte at `at`.
#[derive(Debug)]
struct Place {
    /// The needle, lower-cased.
    needle: Vec<u8>,
    /// Where the anchor byte is in it.
    at: usize,
    /// Eight bytes of the needle (from `probe_at`), each with bit 5 set:
    /// the bytes there, with bit 5 set, must be these (letters of either
    /// case have the same bits then) before the whole needle is compared.
    probe: u64,
    probe_at: usize,
}

const BIT5: u64 = 0x2020_2020_2020_2020;

/// Eight bytes from `at`, if there are, each with bit 5 set.
#[inline]
fn eight(bytes: &[u8], at: usize) -> Option<u64> {
    let word = bytes.get(at..)?.first_chunk::<8>()?;
    Some(u64::from_le_bytes(*word) | BIT5)
}

/// Bytes an anchor may be, rarest in JSON audit events first (a guess from
/// their syntax: digits, `"`, `,`, `.`, `-` and spaces are everywhere).
const ANCHORS: &[u8] = b"\\:|~^`$#@!%&*+=;<>()[]{}?_/'.-";

impl Anchor {
    /// The anchor of `needles`: the rarest byte of [`ANCHORS`] in every one.
    fn new(needles: &[String]) -> Option<Anchor> {
        let byte = ANCHORS.iter().copied().find(|b| needles.iter().all(|n| n.as_bytes().contains(b)))?;
        let mut places = Vec::new();
        for n in needles {
            let needle = n.to_ascii_lowercase().into_bytes();
            for at in needle.iter().enumerate().filter(|&(_, &c)| c == byte).map(|(i, _)| i) {
                // The eight bytes nearest the anchor, after it if they fit.
                let probe_at = at.min(needle.len().saturating_sub(8));
                let probe = eight(&needle, probe_at).unwrap_or(0);
                places.push(Place { needle: needle.clone(), at, probe, probe_at });
            }
        }
        let mut after = vec![Vec::new(); 257];
        for (i, p) in places.iter().enumerate() {
            after[p.needle.get(p.at + 1).map_or(256, |&b| usize::from(b))].push(i);
        }
        Some(Anchor { byte, places, after })
    }

    /// True if a needle occurs with its anchor byte at `at`.
    #[inline]
    fn holds(&self, bytes: &[u8], at: usize) -> bool {
        let next = bytes.get(at + 1).map(u8::to_ascii_lowercase);
        let followed = next.map_or(&[][..], |b| &self.after[usize::from(b)][..]);
        // Most anchors are ruled out here, by the byte after them.
        if followed.is_empty() && self.after[256].is_empty() {
            return false;
        }
        followed.iter().chain(&self.after[256]).any(|&i| {
            let p = &self.places[i];
            let Some(start) = at.checked_sub(p.at) else { return false };
            let quick = p.needle.len() < 8 || eight(bytes, start + p.probe_at) == Some(p.probe);
            quick && bytes.get(start..start + p.needle.len()).is_some_and(|w| w.eq_ignore_ascii_case(&p.needle))
        })
    }
}

/// What the operation stage saw.
enum Seen {
    /// An escape: every rule is a candidate.
    Escape,
    /// An operation key whose value is not a plain string: decide by the
    /// full scan.
    Unreadable,
    /// The operation needles found (`None`: none), and whether a batch key
    /// was seen.
    Needles(Option<Vec<bool>>, bool),
    /// A needle of the anchor (or of the skipping search): the rules it
    /// serves are candidates (after an anchor's needle, the rest of the
    /// bytes was not looked at).
    Anchored,
}

/// What a key before a `:` is to the operation stage.
#[derive(PartialEq, Eq)]
enum Key {
    Operation,
    Batch,
    Other,
}

impl Operations {
    fn scan(&self, bytes: &[u8]) -> Seen {
        let seen = match &self.anchor {
            Some(anchor) if !matches!(anchor.byte, b':' | b'\\') => {
                self.scan_marks(bytes, marks3(bytes, anchor.byte), Some(anchor))
            }
            anchor => self.scan_marks(bytes, marks(bytes), anchor.as_ref()),
        };
        match (seen, &self.skip) {
            (Seen::Needles(..), Some(skip)) if skip.find(bytes) => Seen::Anchored,
            (seen, _) => seen,
        }
    }

    /// The stage over the positions of every `:` and `\\` (and the anchor
    /// byte, if any) in the bytes.
    #[inline]
    fn scan_marks(&self, bytes: &[u8], marks: impl Iterator<Item = usize>, anchor: Option<&Anchor>) -> Seen {
        let mut found: Option<Vec<bool>> = None;
        let mut batch = false;
        for at in marks {
            if let Some(anchor) = anchor
                && bytes[at] == anchor.byte
                && anchor.holds(bytes, at)
            {
                return Seen::Anchored;
            }
            if bytes[at] == b'\\' {
                if matches!(bytes.get(at + 1), Some(b'u' | b'/')) {
                    return Seen::Escape;
                }
                continue;
            }
            if bytes[at] != b':' {
                continue;
            }
            match self.key(&bytes[..at]) {
                Key::Other => {}
                Key::Batch => batch = true,
                Key::Operation => {
                    let Some(value) = string_value(&bytes[at + 1..]) else { return Seen::Unreadable };
                    for m in self.automaton.find_overlapping_iter(value) {
                        let len = self.automaton.patterns_len();
                        found.get_or_insert_with(|| vec![false; len])[m.pattern().as_usize()] = true;
                    }
                }
            }
        }
        Seen::Needles(found, batch)
    }

    /// What the bytes before a `:` end with, if they end with a key.
    #[inline]
    fn key(&self, before: &[u8]) -> Key {
        let before = before.trim_ascii_end();
        let Some((b'"', key)) = before.split_last() else { return Key::Other };
        let ends = |k: &&str| key.len() >= k.len() && key.iter().rev().zip(k.bytes().rev()).all(|(a, b)| *a == b);
        match key.last() {
            Some(&b) if self.last[usize::from(b)] => {
                if self.keys.iter().any(ends) {
                    Key::Operation
                } else if BATCH_KEYS.iter().any(ends) {
                    Key::Batch
                } else {
                    Key::Other
                }
            }
            _ => Key::Other,
        }
    }

    /// True if some rule's operation clause has a needle among `found`.
    fn any_gate(&self, found: &[bool]) -> bool {
        self.gates.iter().flatten().any(|ids| ids.iter().any(|&id| found[id]))
    }
}

/// The positions of every `:` and `\\` in the bytes, in order: memchr's
/// SIMD search where the target has SIMD (wasm32 with `simd128`: the
/// component).
#[cfg(any(not(target_arch = "wasm32"), target_feature = "simd128"))]
fn marks(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr2_iter(b':', b'\\', bytes)
}

/// The positions of every `:` and `\\` in the bytes, in order: on wasm32
/// (no SIMD in Fluent Bit's interpreter) memchr works 4 bytes at a time and
/// restarts its search after every hit, which cost more than the whole rest
/// of the stage (JSON has a `:` every 25 bytes or so); [`Marks`] reads 8 bytes
/// at a time and never restarts (Fluent Bit bench: 5.6 instead of 12.9 wasm
/// instructions a byte).
#[cfg(all(target_arch = "wasm32", not(target_feature = "simd128")))]
fn marks(bytes: &[u8]) -> Marks<'_> {
    Marks::new(bytes, None)
}

/// The positions of every `:`, `\\` and `third` in the bytes, in order.
#[cfg(any(not(target_arch = "wasm32"), target_feature = "simd128"))]
fn marks3(bytes: &[u8], third: u8) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr3_iter(b':', b'\\', third, bytes)
}

/// The positions of every `:`, `\\` and `third` in the bytes, in order
/// (see [`marks`]).
#[cfg(all(target_arch = "wasm32", not(target_feature = "simd128")))]
fn marks3(bytes: &[u8], third: u8) -> Marks<'_> {
    Marks::new(bytes, Some(third))
}

/// The positions of every `:` and `\\` (and a third byte, if given) in the
/// bytes, found eight bytes at a time in a `u64` (SWAR).
#[cfg_attr(
    any(not(target_arch = "wasm32"), target_feature = "simd128"),
    allow(dead_code, reason = "the scanner for wasm32 without SIMD, tested natively")
)]
struct Marks<'a> {
    words: std::slice::ChunksExact<'a, u8>,
    /// The last bytes (fewer than 8), until read.
    tail: Option<&'a [u8]>,
    /// Start of the next word.
    next: usize,
    /// Start of the word `mask` belongs to.
    base: usize,
    /// Bit 7 of byte `i` set: byte `base + i` is a mark.
    mask: u64,
    /// The third byte, in every byte of the word.
    third: Option<u64>,
}

#[cfg_attr(
    any(not(target_arch = "wasm32"), target_feature = "simd128"),
    allow(dead_code, reason = "the scanner for wasm32 without SIMD, tested natively")
)]
impl<'a> Marks<'a> {
    fn new(bytes: &'a [u8], third: Option<u8>) -> Marks<'a> {
        let words = bytes.chunks_exact(8);
        let tail = Some(words.remainder()).filter(|t| !t.is_empty());
        let third = third.map(|b| u64::from_le_bytes([b; 8]));
        Marks { words, tail, next: 0, base: 0, mask: 0, third }
    }
}

impl Iterator for Marks<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        const COLONS: u64 = 0x3a3a_3a3a_3a3a_3a3a;
        const BACKSLASHES: u64 = 0x5c5c_5c5c_5c5c_5c5c;
        // Bit 7 of a byte clear exactly when the byte is zero (no carry
        // between bytes); a mark is a byte that is zero in either.
        let nonzero = |x: u64| ((x & LOW7).wrapping_add(LOW7)) | x;
        while self.mask == 0 {
            let word = match self.words.next() {
                Some(word) => u64::from_le_bytes(word.first_chunk::<8>().copied().unwrap_or_default()),
                None => {
                    // The tail, padded with zero bytes, which are not marks.
                    let tail = self.tail.take()?;
                    let mut word = [0u8; 8];
                    word[..tail.len()].copy_from_slice(tail);
                    u64::from_le_bytes(word)
                }
            };
            self.base = self.next;
            self.next += 8;
            let mut kept = nonzero(word ^ COLONS) & nonzero(word ^ BACKSLASHES);
            if let Some(third) = self.third {
                kept &= nonzero(word ^ third);
            }
            self.mask = !(kept | LOW7);
        }
        let at = self.base + (self.mask.trailing_zeros() / 8) as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// The text of the JSON string that starts `after` a `:` (after optional
/// whitespace), if it is a string without escapes.
fn string_value(after: &[u8]) -> Option<&[u8]> {
    let rest = after.trim_ascii_start().strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    (rest[end] == b'"').then(|| &rest[..end])
}

impl Prefilter {
    /// Builds the prefilter from each rule's clauses (none: unconstrained)
    /// and the keys operation values are read from.
    pub(crate) fn new(clauses: &[Vec<Vec<Needle>>], operation_keys: &'static [&'static str]) -> Prefilter {
        let mut patterns: Vec<String> = Vec::new();
        let mut rules = Vec::with_capacity(clauses.len());
        let mut always = Vec::new();
        for (rule, rule_clauses) in clauses.iter().enumerate() {
            if rule_clauses.is_empty() {
                always.push(rule);
            }
            let ids = rule_clauses
                .iter()
                .map(|clause| clause.iter().map(|needle| intern(&mut patterns, &needle.text)).collect())
                .collect();
            rules.push(ids);
        }
        let needles = patterns.len();
        let Some(searcher) = with_escapes(patterns.clone()) else {
            // No needles (or an automaton that could not be built): every
            // rule is a candidate for every event.
            return Prefilter {
                operations: None,
                primary: None,
                searcher: None,
                needles: 0,
                rules: vec![Vec::new(); clauses.len()],
                always: (0..clauses.len()).collect(),
                checks: None,
            };
        };
        let mut operations = Operations::new(clauses, operation_keys);
        let gated = |rule: usize| operations.as_ref().is_some_and(|o| o.gates[rule].is_some());
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
            .enumerate()
            .filter(|&(rule, _)| !gated(rule))
            .filter_map(|(_, clauses): (usize, &Vec<Vec<usize>>)| {
                clauses.iter().min_by_key(|c| (c.iter().map(|&id| common(id)).max().unwrap_or(0), c.len()))
            })
            .flatten()
            .map(|&id| patterns[id].clone())
            .collect();
        primary.sort();
        primary.dedup();
        let ungated = (0..clauses.len()).any(|rule| !gated(rule) && !rules[rule].is_empty());
        // The operation stage's pass finds the escapes; with an anchor, it
        // finds these needles too; long needles are found by skipping.
        let skip = operations.as_ref().and_then(|_| Skip::new(&primary));
        let anchor = operations.as_ref().filter(|_| skip.is_none()).and_then(|_| Anchor::new(&primary));
        let primary = match (operations.as_mut(), anchor, skip) {
            _ if primary.is_empty() => None,
            (Some(ops), Some(anchor), _) => {
                ops.anchor = Some(anchor);
                None
            }
            (Some(ops), _, Some(skip)) => {
                ops.skip = Some(skip);
                None
            }
            _ => with_escapes(primary),
        };
        let anchored = operations.as_ref().is_some_and(|o| o.anchor.is_some() || o.skip.is_some());

        let (operations, primary) = match (operations, primary) {
            // The primary automaton could not be built: keep every rule to
            // the full scan.
            (_, None) if ungated && !anchored => (None, None),
            pair => pair,
        };
        let checks = operations
            .as_ref()
            .filter(|_| primary.is_none())
            .and_then(|ops| Checks::new(&rules, &ops.gate_clause, &patterns));
        Prefilter { operations, primary, searcher: Some(searcher), needles, rules, always, checks }
    }

    /// The rules that could match an event with these bytes.
    pub(crate) fn scan(&self, bytes: &[u8]) -> Candidates {
        let Some(searcher) = self.searcher.as_ref().filter(|_| self.needles > 0) else {
            return if self.rules.is_empty() { Candidates::None } else { Candidates::All };
        };
        // Whether the bytes hold a batch key, once known.
        let mut batch = None;
        if self.always.is_empty() {
            let gated = match &self.operations {
                None => false,
                Some(ops) => match ops.scan(bytes) {
                    Seen::Escape => return Candidates::All,
                    Seen::Unreadable | Seen::Anchored => true,
                    Seen::Needles(Some(found), seen) if self.checks.is_some() => {
                        let checks = self.checks.as_ref().map(|c| c.mask(&ops.gates, &found, bytes));
                        return match checks.flatten() {
                            Some(mask) => Candidates::Some(mask),
                            None => self.none(bytes, Some(seen)),
                        };
                    }
                    Seen::Needles(found, seen) => {
                        batch = Some(seen);
                        found.is_some_and(|f| ops.any_gate(&f))
                    }
                },
            };
            let ungated = || match &self.primary {
                Some(primary) => primary.is_match(bytes),
                None => self.operations.is_none(),
            };
            if !gated && !ungated() {
                return self.none(bytes, batch);
            }
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
            return self.none(bytes, batch);
        }
        let present = present.unwrap_or_default();
        let hit = |id: &usize| present.get(*id).copied().unwrap_or(false);
        let mask: Vec<bool> = self.rules.iter().map(|clauses| clauses.iter().all(|c| c.iter().any(hit))).collect();
        if mask.iter().any(|&m| m) { Candidates::Some(mask) } else { self.none(bytes, batch) }
    }

    /// No rule is a candidate: `None`, unless the bytes may be a batch, which
    /// is parsed so that each record gets its verdict (with no candidate).
    fn none(&self, bytes: &[u8], batch: Option<bool>) -> Candidates {
        if batch.unwrap_or_else(|| may_be_batch(bytes)) {
            Candidates::Some(vec![false; self.rules.len()])
        } else {
            Candidates::None
        }
    }

    /// The rules no needle constrains.
    pub(crate) fn unfiltered(&self) -> &[usize] {
        &self.always
    }

    /// The rules the operation stage does not decide, neither by an
    /// operation clause nor at its anchor: their candidates are found by a
    /// second pass over all the bytes of every event.
    pub(crate) fn full_scan(&self) -> Vec<usize> {
        let decided = |rule: usize| {
            self.operations.as_ref().is_some_and(|o| o.gates[rule].is_some() || o.anchor.is_some() || o.skip.is_some())
        };
        (0..self.rules.len()).filter(|&rule| !decided(rule)).collect()
    }
}

impl Operations {
    /// The operation stage, if any rule has a clause of operation needles
    /// only.
    fn new(clauses: &[Vec<Vec<Needle>>], keys: &'static [&'static str]) -> Option<Operations> {
        let mut patterns: Vec<String> = Vec::new();
        let gate_clause: Vec<Option<usize>> = clauses
            .iter()
            .map(|rule| {
                rule.iter()
                    .enumerate()
                    .filter(|(_, c)| c.iter().all(|n| n.operation))
                    .min_by_key(|(_, c)| (c.iter().map(|n| std::cmp::Reverse(n.text.len())).max(), c.len()))
                    .map(|(k, _)| k)
            })
            .collect();
        let gates: Vec<Option<Vec<usize>>> = clauses
            .iter()
            .zip(&gate_clause)
            .map(|(rule, k)| Some(rule[(*k)?].iter().map(|n| intern(&mut patterns, &n.text)).collect()))
            .collect();
        if keys.is_empty() || gates.iter().all(Option::is_none) {
            return None;
        }
        let automaton = automaton(&patterns)?;
        let mut last = [false; 256];
        for k in keys.iter().chain(&BATCH_KEYS) {
            if let Some(&b) = k.as_bytes().last() {
                last[usize::from(b)] = true;
            }
        }
        Some(Operations { keys, last, automaton, gates, gate_clause, anchor: None, skip: None })
    }
}

/// The id of `needle` (lower-cased) in `patterns`, added if new.
fn intern(patterns: &mut Vec<String>, needle: &str) -> usize {
    let lower = needle.to_ascii_lowercase();
    patterns.iter().position(|p| *p == lower).unwrap_or_else(|| {
        patterns.push(lower);
        patterns.len() - 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["eventName", "operationName", "action"];

    fn anywhere(needles: &[&str]) -> Vec<Vec<Needle>> {
        vec![needles.iter().map(|s| Needle { text: s.to_string(), operation: false }).collect()]
    }

    fn operation(needles: &[&str]) -> Vec<Vec<Needle>> {
        vec![needles.iter().map(|s| Needle { text: s.to_string(), operation: true }).collect()]
    }

    #[test]
    fn finds_needles_case_insensitively() {
        for (a, b) in [
            (anywhere(&["Microsoft.Compute/snapshots/write"]), anywhere(&["RunInstances"])),
            (operation(&["Microsoft.Compute/snapshots/write"]), operation(&["RunInstances"])),
        ] {
            let p = Prefilter::new(&[a, b], KEYS);
            assert_eq!(
                p.scan(br#"{"operationName":"MICROSOFT.COMPUTE/SNAPSHOTS/WRITE"}"#),
                Candidates::Some(vec![true, false])
            );
            assert_eq!(p.scan(br#"{"eventName":"runinstances"}"#), Candidates::Some(vec![false, true]));
            assert_eq!(p.scan(br#"{"eventName":"DescribeInstances"}"#), Candidates::None);
        }
    }

    #[test]
    fn every_clause_must_hold() {
        let both = vec![anywhere(&["ec2.amazonaws.com"]).remove(0), operation(&["TerminateInstances"]).remove(0)];
        let p = Prefilter::new(&[both], KEYS);
        assert_eq!(p.full_scan(), Vec::<usize>::new());
        assert_eq!(p.scan(br#"{"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances"}"#), Candidates::None);
        assert_eq!(
            p.scan(br#"{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances"}"#),
            Candidates::Some(vec![true])
        );
        assert_eq!(p.scan(br#"{"eventSource":"s3.amazonaws.com","eventName":"TerminateInstances"}"#), Candidates::None);
    }

    #[test]
    fn found_rules_are_checked_clause_by_clause() {
        let both =
            vec![anywhere(&["ec2.amazonaws.com", "ec2.internal"]).remove(0), operation(&["RunInstances"]).remove(0)];
        let p = Prefilter::new(&[both, operation(&["TerminateInstances"]), anywhere(&["RunInstances"])], KEYS);
        assert!(p.checks.is_none(), "a rule left to the primary stage: every needle in one pass");
        let rules = [
            vec![operation(&["RunInstances"]).remove(0), anywhere(&["ec2.amazonaws.com", "ec2.internal"]).remove(0)],
            operation(&["TerminateInstances"]),
            vec![operation(&["StopInstances", "RunInstances"]).remove(0), anywhere(&["i-0"]).remove(0)],
        ];
        let p = Prefilter::new(&rules, KEYS);
        assert!(p.checks.is_some());
        // Only the rules whose operation needle is in an operation value,
        // with every other clause in the bytes, in any case.
        assert_eq!(
            p.scan(br#"{"eventName":"RunInstances","host":"EC2.INTERNAL","note":"TerminateInstances i-0"}"#),
            Candidates::Some(vec![true, false, true])
        );
        assert_eq!(p.scan(br#"{"eventName":"RunInstances","note":"i-0"}"#), Candidates::Some(vec![false, false, true]));
        assert_eq!(p.scan(br#"{"eventName":"RunInstances","note":"TerminateInstances"}"#), Candidates::None);
        assert_eq!(p.scan(br#"{"eventName":"TerminateInstances"}"#), Candidates::Some(vec![false, true, false]));
        // A batch with no candidate is still parsed; escapes still make every rule one.
        assert_eq!(p.scan(br#"{"Records":[{"eventName":"RunInstances"}]}"#), Candidates::Some(vec![false; 3]));
        assert_eq!(p.scan(br#"{"eventName":"RunInstances","x":"\u0069-0"}"#), Candidates::All);
    }

    #[test]
    fn operation_needles_count_only_in_operation_values() {
        let p = Prefilter::new(&[operation(&["RunInstances"])], KEYS);
        // Elsewhere in the event, an operation needle does not make a candidate.
        assert_eq!(p.scan(br#"{"eventName":"Describe","note":"RunInstances"}"#), Candidates::None);
        assert_eq!(p.scan(br#"{"eventName":"Describe","RunInstances":1}"#), Candidates::None);
        // Any key ending in an operation key counts (dotted ECS keys), with spaces anywhere JSON allows.
        assert_eq!(p.scan(br#"{"event.action" : "RunInstances"}"#), Candidates::Some(vec![true]));
        assert_eq!(p.scan(b"{\"event\":{\"action\"\n:\t\"xRunInstancesx\"}}"), Candidates::Some(vec![true]));
        // A batch: every record's operation.
        assert_eq!(
            p.scan(br#"{"Records":[{"eventName":"A"},{"eventName":"RunInstances"}]}"#),
            Candidates::Some(vec![true])
        );
        assert_eq!(p.scan(br#"{"x":[{"eventName":"A"},{"eventName":"RunInstances"}]}"#), Candidates::Some(vec![true]));
    }

    #[test]
    fn unreadable_operation_values_fall_back_to_the_full_scan() {
        let p = Prefilter::new(&[operation(&["RunInstances"])], KEYS);
        // An object (Azure REST), an array, a value with an escape: the bytes decide.
        assert_eq!(p.scan(br#"{"operationName":{"value":"RunInstances"}}"#), Candidates::Some(vec![true]));
        assert_eq!(p.scan(br#"{"action":["x","RunInstances"]}"#), Candidates::Some(vec![true]));
        assert_eq!(p.scan(br#"{"action":"Run\"Instances","x":"RunInstances"}"#), Candidates::Some(vec![true]));
        assert_eq!(p.scan(br#"{"operationName":{"value":"Describe"}}"#), Candidates::None);
    }

    #[test]
    fn rules_without_an_operation_clause_use_the_primary_stage() {
        let p = Prefilter::new(&[operation(&["RunInstances"]), anywhere(&["snapshotId"])], KEYS);
        assert_eq!(p.full_scan(), [1]);
        assert_eq!(p.scan(br#"{"eventName":"Describe","x":"snapshotId"}"#), Candidates::Some(vec![false, true]));
        assert_eq!(p.scan(br#"{"eventName":"RunInstances"}"#), Candidates::Some(vec![true, false]));
        assert_eq!(p.scan(br#"{"eventName":"Describe"}"#), Candidates::None);
        // Without operation keys, every rule is left to the primary stage.
        let p = Prefilter::new(&[operation(&["RunInstances"])], &[]);
        assert_eq!(p.full_scan(), [0]);
        assert_eq!(p.scan(br#"{"note":"RunInstances"}"#), Candidates::Some(vec![true]));
    }

    #[test]
    fn needles_anywhere_with_a_common_byte_are_found_in_the_operation_pass() {
        // A keyword search beside an operation rule: both needles hold `/`
        // (and are too short to skip by).
        let p = Prefilter::new(&[operation(&["RunInstances"]), anywhere(&["e/images/write", "x/roleAssign"])], KEYS);
        assert_eq!(p.full_scan(), Vec::<usize>::new(), "no second pass");
        assert!(p.primary.is_none());
        assert_eq!(p.operations.as_ref().and_then(|o| o.anchor.as_ref()).map(|a| a.byte), Some(b'/'));
        // Anywhere in the event, in any case, at the start and the end of the bytes.
        for event in [
            &br#"{"eventName":"Describe","note":"MICROSOFT.COMPUTE/IMAGES/WRITE"}"#[..],
            br#"{"eventName":"Describe","note":["a","microsoft.compute/images/write by x/roleassignments/write"]}"#,
            br#"Microsoft.Compute/images/write"#,
            br#"{"op":"a:b","x":"X/ROLEASSIGNMENTS/WRITE"#,
        ] {
            assert_eq!(p.scan(event), Candidates::Some(vec![false, true]), "{}", String::from_utf8_lossy(event));
        }
        assert_eq!(p.scan(br#"{"eventName":"RunInstances"}"#), Candidates::Some(vec![true, false]));
        // Near misses around the anchor.
        for event in [
            &br#"{"eventName":"Describe","note":"Microsoft.Compute/images/read"}"#[..],
            br#"{"eventName":"Describe","note":"Microsoft.Compute/images"}"#,
            br#"/images/write"#,
            br#"{"a":"/","b":"//","c":"Microsoft.Compute"}"#,
        ] {
            assert_eq!(p.scan(event), Candidates::None, "{}", String::from_utf8_lossy(event));
        }
        // Escapes still make every rule a candidate.
        assert_eq!(p.scan(br#"{"note":"Microsoft.Compute\/images\/write"}"#), Candidates::All);
    }

    #[test]
    fn long_needles_are_found_by_skipping() {
        let needles = ["Microsoft.Compute/images/write", "x/roleAssignments/write", "abcdefghijklmnopq"];
        let p = Prefilter::new(&[operation(&["RunInstances"]), anywhere(&needles)], KEYS);
        assert!(p.operations.as_ref().is_some_and(|o| o.skip.is_some() && o.anchor.is_none()));
        assert_eq!(p.full_scan(), Vec::<usize>::new(), "no second pass over every needle");
        assert_eq!(p.scan(br#"{"eventName":"x","a":"ABCDEFGHIJKLMNOPQ"}"#), Candidates::Some(vec![false, true]));
        assert_eq!(p.scan(br#"{"eventName":"x","a":"abcdefghijklmnop"}"#), Candidates::None);
        // Against a plain search, at every place and in either case, in
        // generated texts made of the needles' own bytes.
        let skip = Skip::new(&needles.map(str::to_string)).unwrap_or_else(|| panic!("no skip"));
        let lower: Vec<Vec<u8>> = needles.iter().map(|n| n.to_ascii_lowercase().into_bytes()).collect();
        let naive = |t: &[u8]| {
            let t = t.to_ascii_lowercase();
            lower.iter().any(|n| t.windows(n.len()).any(|w| w == &n[..]))
        };
        let alphabet = b"MicrosoftCompute/imagesWRITEx.roleAssignmentsabcdefghijklmnopq\":{} ";
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut rand = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut found = 0;
        for round in 0..3000 {
            let mut text: Vec<u8> = (0..rand(120)).map(|_| alphabet[rand(alphabet.len())]).collect();
            if round % 3 == 0 {
                // A needle (perhaps cut short) at a random place, in random case.
                let n = needles[rand(needles.len())].as_bytes();
                let cut = if round % 2 == 0 { n.len() } else { rand(n.len()) };
                let at = rand(text.len() + 1);
                let piece: Vec<u8> =
                    n[..cut].iter().map(|b| if rand(2) == 0 { b.to_ascii_uppercase() } else { *b }).collect();
                text.splice(at..at, piece);
            }
            assert_eq!(skip.find(&text), naive(&text), "{}", String::from_utf8_lossy(&text));
            found += usize::from(naive(&text));
        }
        assert!(found > 300, "{found}");
    }

    #[test]
    fn needles_without_a_common_anchor_keep_their_own_pass() {
        for needles in [&["Microsoft.Compute/images/write", "snapshotId"][..], &["a-b", "c/d"]] {
            let p = Prefilter::new(&[operation(&["RunInstances"]), anywhere(needles)], KEYS);
            assert_eq!(p.full_scan(), [1], "{needles:?}");
            assert!(p.primary.is_some());
            assert_eq!(
                p.scan(format!(r#"{{"eventName":"x","n":"{}"}}"#, needles[1]).as_bytes()),
                Candidates::Some(vec![false, true])
            );
        }
        // `:` and `\` are marks already: no third byte.
        let p = Prefilter::new(&[operation(&["RunInstances"]), anywhere(&["arn:aws:iam"])], KEYS);
        assert_eq!(p.operations.as_ref().and_then(|o| o.anchor.as_ref()).map(|a| a.byte), Some(b':'));
        assert_eq!(p.scan(br#"{"eventName":"x","arn":"ARN:AWS:IAM::1:root"}"#), Candidates::Some(vec![false, true]));
        assert_eq!(p.scan(br#"{"eventName":"x","arn":"arn:aws:sts::1:root"}"#), Candidates::None);
    }

    #[test]
    fn marks_are_every_colon_and_backslash() {
        let naive = |b: &[u8]| {
            b.iter().enumerate().filter(|(_, c)| matches!(c, b':' | b'\\')).map(|(i, _)| i).collect::<Vec<_>>()
        };
        let mut cases: Vec<Vec<u8>> = vec![Vec::new(), b":".to_vec(), b"\\\\::".to_vec(), b"abcdefgh:".to_vec()];
        // Every position and neighbour of a mark in words, tails, and bytes
        // that differ from a mark by one bit or have bit 7 set.
        for len in 0..20 {
            for at in 0..len {
                for fill in [b'a', b';', b'\x3b', b'\xba', b'\xdc', b'\0', 0xff, b'\x5d'] {
                    let mut v = vec![fill; len];
                    v[at] = b':';
                    cases.push(v.clone());
                    v[len - 1 - at] = b'\\';
                    cases.push(v);
                }
            }
        }
        for case in cases {
            assert_eq!(Marks::new(&case, None).collect::<Vec<_>>(), naive(&case), "{case:?}");
            let with_a: Vec<usize> =
                case.iter().enumerate().filter(|(_, c)| matches!(c, b':' | b'\\' | b'a')).map(|(i, _)| i).collect();
            assert_eq!(Marks::new(&case, Some(b'a')).collect::<Vec<_>>(), with_a, "{case:?}");
        }
    }

    #[test]
    fn batches_are_candidates_with_no_rule() {
        for rule in [anywhere(&["RunInstances"]), operation(&["RunInstances"])] {
            let p = Prefilter::new(&[rule], KEYS);
            assert_eq!(p.scan(br#"{"Records":[{"eventName":"Describe"}]}"#), Candidates::Some(vec![false]));
            assert_eq!(p.scan(br#"{"records" : []}"#), Candidates::Some(vec![false]));
            assert_eq!(p.scan(br#"{"Records":[{"eventName":"RunInstances"}]}"#), Candidates::Some(vec![true]));
        }
        // The operation stage tells a key from a value.
        let p = Prefilter::new(&[operation(&["RunInstances"])], KEYS);
        assert_eq!(p.scan(br#"{"eventName":"Describe","note":"Records"}"#), Candidates::None);
    }

    #[test]
    fn escapes_make_everything_a_candidate() {
        for rule in [anywhere(&["RunInstances"]), operation(&["RunInstances"])] {
            let p = Prefilter::new(&[rule], KEYS);
            assert_eq!(p.scan(br#"{"eventName":"\u0052unInstances"}"#), Candidates::All);
            assert_eq!(p.scan(br#"{"event\u004eame":"RunInstances"}"#), Candidates::All);
            assert_eq!(p.scan(br#"{"op":"a\/b"}"#), Candidates::All);
        }
    }

    #[test]
    fn unconstrained_rules_are_always_candidates() {
        let p = Prefilter::new(&[anywhere(&["RunInstances"]), Vec::new()], KEYS);
        assert_eq!(p.scan(b"{}"), Candidates::Some(vec![false, true]));
        assert_eq!(p.unfiltered(), &[1]);
        assert_eq!(Prefilter::new(&[Vec::new()], KEYS).scan(b"{}"), Candidates::All);
        assert_eq!(Prefilter::new(&[], KEYS).scan(b"{}"), Candidates::None);
        // `any where false`: an empty clause, never a candidate.
        assert_eq!(Prefilter::new(&[vec![Vec::new()], anywhere(&["abc"])], KEYS).scan(b"{}"), Candidates::None);
    }
}
