//! Wildcard patterns (`:`, `like`, `like~`, `in~` and the string functions),
//! matched the way Lucene's `term`/`wildcard`/`prefix` queries match a keyword.
//!
//! Case-insensitive matching folds ASCII letters only. That is what
//! Elasticsearch does: its `case_insensitive` term and wildcard automata
//! (`AutomatonQueries.toCaseInsensitiveChar`) leave every code point above 128
//! as it is. It also keeps the prefilter sound: a match implies that each
//! literal run occurs in the raw bytes ASCII-case-insensitively, which a
//! Unicode fold would break (`K`, U+212A KELVIN SIGN, lowercases to `k`).
//!
//! Matching works on bytes: ASCII folding never changes a byte's length, so a
//! literal run matches exactly where its bytes match (ignoring ASCII case).
//! Only `?` needs to decode a character. `*` splits the pattern into
//! segments; the first is anchored at the start, the last at the end, and
//! each middle one is found leftmost after the previous, which is optimal for
//! star-separated segments. That is O(value × pattern) at worst, never
//! exponential.

/// How a pattern literal reads `*`, `?` and `\`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// Every character is literal (`in~`, `startsWith`).
    Exact,
    /// EQL's `:` and `like`: `*` and `?` are wildcards, `\` is literal (the
    /// translator escapes backslashes before building the Lucene query).
    Eql,
    /// A raw Lucene wildcard: `*` and `?` are wildcards and `\` escapes the next
    /// character. `stringContains` and `endsWith` build `*lit*` / `*lit` from
    /// the literal without escaping it, so this is what they get.
    Lucene,
}

/// One element of a pattern before it is split into segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Char(char),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters.
    Star,
}

/// Reads `text` as a pattern of the given syntax.
pub(crate) fn tokens(text: &str, syntax: Syntax) -> Vec<Tok> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(match (syntax, c) {
            (Syntax::Exact, c) => Tok::Char(c),
            (_, '*') => Tok::Star,
            (_, '?') => Tok::One,
            // Lucene reads a trailing lone backslash as itself.
            (Syntax::Lucene, '\\') => Tok::Char(chars.next().unwrap_or('\\')),
            (_, c) => Tok::Char(c),
        });
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// A wildcard-free run, as written.
    Lit(Box<str>),
    /// `?`.
    One,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone)]
pub(crate) struct Wildcard {
    /// The pattern split at `*`: with no star, one segment that must cover the
    /// whole value; otherwise the first is a prefix, the last a suffix.
    segments: Vec<Vec<Piece>>,
    starred: bool,
    fold: bool,
    /// For a pattern without wildcards, its byte length: ASCII folding keeps
    /// lengths, so any other length is a quick no.
    exact_len: Option<usize>,
}

impl Wildcard {
    /// Compiles tokens; `fold` makes ASCII letters match either case.
    pub(crate) fn new(toks: &[Tok], fold: bool) -> Wildcard {
        let mut segments = vec![Vec::new()];
        let mut run = String::new();
        let mut starred = false;
        for &t in toks {
            if !matches!(t, Tok::Char(_)) && !run.is_empty() {
                push(&mut segments, Piece::Lit(std::mem::take(&mut run).into_boxed_str()));
            }
            match t {
                Tok::Char(c) => run.push(c),
                Tok::One => push(&mut segments, Piece::One),
                Tok::Star => {
                    starred = true;
                    segments.push(Vec::new());
                }
            }
        }
        if !run.is_empty() {
            push(&mut segments, Piece::Lit(run.into_boxed_str()));
        }
        let exact_len = match segments.as_slice() {
            [only] if !starred => only.iter().try_fold(0, |n, p| match p {
                Piece::Lit(l) => Some(n + l.len()),
                Piece::One => None,
            }),
            _ => None,
        };
        Wildcard { segments, starred, fold, exact_len }
    }

    /// Compiles `text` read with `syntax`.
    pub(crate) fn parse(text: &str, syntax: Syntax, fold: bool) -> Wildcard {
        Wildcard::new(&tokens(text, syntax), fold)
    }

    /// The wildcard-free runs, as written, in pattern order.
    pub(crate) fn runs(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().flatten().filter_map(|p| match p {
            Piece::Lit(s) => Some(&**s),
            Piece::One => None,
        })
    }

    /// The pattern as an anchored regular expression with the same meaning
    /// (ASCII-only case folding spelled out as `[aA]`), for rule export.
    #[cfg(feature = "export")]
    pub(crate) fn regex_source(&self) -> String {
        let mut out = String::from("\\A(?s:");
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                out.push_str(".*");
            }
            for piece in seg {
                match piece {
                    Piece::One => out.push('.'),
                    Piece::Lit(l) => {
                        for c in l.chars() {
                            if self.fold && c.is_ascii_alphabetic() {
                                out.extend(['[', c.to_ascii_lowercase(), c.to_ascii_uppercase(), ']']);
                            } else if c.is_ascii_alphanumeric() {
                                out.push(c);
                            } else {
                                out.push_str(&format!("\\x{{{:X}}}", c as u32));
                            }
                        }
                    }
                }
            }
        }
        out.push_str(")\\z");
        out
    }

    /// True if the whole of `value` matches.
    pub(crate) fn matches(&self, value: &str) -> bool {
        let fold = self.fold;
        let (Some(first), Some(last)) = (self.segments.first(), self.segments.last()) else {
            return false;
        };
        if self.exact_len.is_some_and(|n| n != value.len()) {
            return false;
        }
        if !self.starred {
            return match_at(first, value, 0, fold) == Some(value.len());
        }
        let Some(mut pos) = match_at(first, value, 0, fold) else {
            return false;
        };
        let Some(end) = match_back(last, value, fold) else {
            return false;
        };
        if end < pos {
            return false;
        }
        let Some(hay) = value.get(..end) else {
            return false;
        };
        let middle = self.segments.get(1..self.segments.len() - 1).unwrap_or_default();
        for seg in middle.iter().filter(|s| !s.is_empty()) {
            match find(seg, hay, pos, fold) {
                Some(e) => pos = e,
                None => return false,
            }
        }
        true
    }
}

fn push(segments: &mut [Vec<Piece>], piece: Piece) {
    if let Some(last) = segments.last_mut() {
        last.push(piece);
    }
}

fn bytes_eq(got: &[u8], want: &[u8], fold: bool) -> bool {
    if fold { got.eq_ignore_ascii_case(want) } else { got == want }
}

/// Matches `seg` at byte `start` of `s`; the byte offset after it.
fn match_at(seg: &[Piece], s: &str, start: usize, fold: bool) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = start;
    for p in seg {
        match p {
            Piece::Lit(l) => {
                let end = i.checked_add(l.len())?;
                if !bytes_eq(b.get(i..end)?, l.as_bytes(), fold) {
                    return None;
                }
                i = end;
            }
            Piece::One => i += s.get(i..)?.chars().next()?.len_utf8(),
        }
    }
    Some(i)
}

/// Matches `seg` against the end of `s`; the byte offset where it starts.
fn match_back(seg: &[Piece], s: &str, fold: bool) -> Option<usize> {
    let b = s.as_bytes();
    let mut j = s.len();
    for p in seg.iter().rev() {
        match p {
            Piece::Lit(l) => {
                let start = j.checked_sub(l.len())?;
                if !bytes_eq(b.get(start..j)?, l.as_bytes(), fold) {
                    return None;
                }
                j = start;
            }
            Piece::One => j -= s.get(..j)?.chars().next_back()?.len_utf8(),
        }
    }
    Some(j)
}

/// The end of the leftmost match of `seg` in `hay` starting at or after `from`.
fn find(seg: &[Piece], hay: &str, from: usize, fold: bool) -> Option<usize> {
    if let ([Piece::Lit(l)], false) = (seg, fold) {
        // The common case: std's substring search is linear.
        return hay.get(from..)?.find(&**l).map(|i| from + i + l.len());
    }
    let b = hay.as_bytes();
    // A leading literal lets us skip to positions where its first byte occurs.
    let first = match seg.first() {
        Some(Piece::Lit(l)) => l.as_bytes().first().copied(),
        _ => None,
    };
    let mut i = from;
    while i <= b.len() {
        if let Some(fb) = first {
            let skip = b.get(i..)?.iter().position(|&x| if fold { x.eq_ignore_ascii_case(&fb) } else { x == fb })?;
            i += skip;
        }
        if hay.is_char_boundary(i)
            && let Some(end) = match_at(seg, hay, i, fold)
        {
            return Some(end);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eql(p: &str, v: &str) -> bool {
        Wildcard::parse(p, Syntax::Eql, true).matches(v)
    }
    fn like(p: &str, v: &str) -> bool {
        Wildcard::parse(p, Syntax::Eql, false).matches(v)
    }
    fn lucene(p: &str, v: &str) -> bool {
        Wildcard::parse(p, Syntax::Lucene, false).matches(v)
    }
    fn runs(p: &str, syntax: Syntax) -> Vec<String> {
        Wildcard::parse(p, syntax, false).runs().map(str::to_string).collect()
    }

    #[test]
    fn exact_and_case() {
        assert!(eql("Microsoft.Compute/disks/write", "MICROSOFT.COMPUTE/DISKS/WRITE"));
        assert!(!like("Microsoft.Compute/disks/write", "MICROSOFT.COMPUTE/DISKS/WRITE"));
        assert!(like("abc", "abc"));
        assert!(!eql("abc", "abcd"));
        assert!(!eql("abcd", "abc"));
        assert!(!eql("abc", ""));
    }

    #[test]
    fn star_and_one() {
        assert!(eql("doc*", "doc"));
        assert!(eql("doc*", "DOCUMENT"));
        assert!(!eql("doc*", "dos"));
        assert!(eql("*doc", "asciidoc"));
        assert!(eql("d*c", "disc"));
        assert!(eql("doc?", "docs"));
        assert!(!eql("doc?", "doc"));
        assert!(!eql("?doc", "asciidoc"));
        assert!(eql("d?c", "DOC"));
        assert!(!eql("d?c", "disc"));
        assert!(eql("*", "anything"));
        assert!(eql("**", "x"));
        assert!(eql("a*b*c", "abc"));
        assert!(eql("a*b*c", "aXXbYYc"));
        assert!(!eql("a*b*c", "aXXcYYb"));
        assert!(eql("*ab*ab*", "abab"));
        assert!(like("*b*d*", "abcde"));
        assert!(!like("*B*", "abc"));
        assert!(!eql("*ab*ab*", "aba"));
        // Prefix and suffix must not overlap.
        assert!(!eql("ab*ba", "aba"));
        assert!(eql("ab*ba", "abba"));
    }

    #[test]
    fn one_is_one_code_point() {
        assert!(eql("caf?", "café"));
        assert!(eql("?", "é"));
        assert!(!eql("??", "é"));
        assert!(eql("*?é", "xé"));
        assert!(eql("é*", "éa"));
        assert!(eql("*é?", "aéb"));
    }

    #[test]
    fn fold_is_ascii_only() {
        assert!(eql("straße", "STRAßE"));
        assert!(!eql("é", "É"));
        assert!(!eql("k", "\u{212a}"));
    }

    #[test]
    fn backslash_is_literal_in_eql() {
        assert!(eql(r"*\red_ttp\wininit.*", r"C:\red_ttp\wininit.exe"));
        assert!(!eql(r"a\*", "a*"));
        assert!(eql(r"a\*", r"a\xyz"));
    }

    #[test]
    fn backslash_escapes_in_lucene() {
        assert!(lucene(r"*principal=\**", "{principal=*, x=1}"));
        assert!(!lucene(r"*principal=\**", "{principal=abc}"));
        assert!(lucene(r"a\?", "a?"));
        assert!(!lucene(r"a\?", "ab"));
        assert!(lucene(r"a\", r"a\"));
        assert!(lucene(r"a\\b", r"a\b"));
    }

    #[test]
    fn runs_split_at_wildcards() {
        assert_eq!(runs("*ab?cd*efg", Syntax::Eql), ["ab", "cd", "efg"]);
        assert_eq!(runs("a*b", Syntax::Exact), ["a*b"]);
        assert_eq!(runs(r"x\*y*", Syntax::Lucene), ["x*y"]);
        assert_eq!(runs("***", Syntax::Eql), Vec::<String>::new());
    }

    /// The textbook dynamic-programming matcher, as a reference.
    fn reference(p: &[Tok], v: &[char], fold: bool) -> bool {
        let eq = |a: char, b: char| {
            if fold { a.eq_ignore_ascii_case(&b) } else { a == b }
        };
        // ok[j]: the pattern so far matches v[..j].
        let mut ok = vec![false; v.len() + 1];
        ok[0] = true;
        for t in p {
            let mut next = vec![false; v.len() + 1];
            for j in 0..=v.len() {
                next[j] = match t {
                    Tok::Star => ok[j] || (j > 0 && next[j - 1]),
                    Tok::One => j > 0 && ok[j - 1],
                    Tok::Char(c) => j > 0 && ok[j - 1] && eq(v[j - 1], *c),
                };
            }
            ok = next;
        }
        ok[v.len()]
    }

    #[test]
    fn agrees_with_reference_matcher() {
        // A small deterministic generator (no dependency on `rand`).
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let pattern_chars = ['a', 'B', 'é', '*', '?'];
        let value_chars = ['a', 'A', 'b', 'B', 'é'];
        for _ in 0..20_000 {
            let p: String = (0..next(7)).map(|_| pattern_chars[next(5) as usize]).collect();
            let v: String = (0..next(8)).map(|_| value_chars[next(5) as usize]).collect();
            let fold = next(2) == 0;
            let toks = tokens(&p, Syntax::Eql);
            let chars: Vec<char> = v.chars().collect();
            let want = reference(&toks, &chars, fold);
            assert_eq!(Wildcard::new(&toks, fold).matches(&v), want, "pattern {p:?} value {v:?} fold {fold}");
        }
    }

    /// Inputs on which a backtracking matcher would never finish (2^200000
    /// paths) and a quadratic one would take minutes; no timing assert (a
    /// loaded machine is not a failure), the input size is the bound.
    /// `tests/hostile.rs` runs the same shapes over 1,000,000 characters.
    #[test]
    fn pathological_patterns_are_linear() {
        let long = "a".repeat(200_000);
        assert!(!eql("*a*a*a*a*a*b", &long));
        assert!(!eql("*a*a*a*a*a*b*", &long));
        assert!(eql("*a*a*a*a*a*", &long));
        assert!(!eql("*aaaaaaaaaaaaaaaaaaab*", &long));
        assert!(!eql("*a?a?a?a?a?b*", &long));
    }
}
