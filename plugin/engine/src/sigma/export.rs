//! A rule pack written as Sigma rules (`modwatch export sigma`), from the
//! same plain-data view of the rules the VRL generator reads
//! (`crate::export::pack`).
//!
//! Each rule is written so that loading it back gives the same verdicts:
//! - the logsource is the one of the input format its matching examples are
//!   in (`aws` -> aws/cloudtrail, as the built-in pipeline names it);
//! - each field is written under the Sigma name the pipeline maps onto that
//!   field alone (`event.action` -> `eventName` for CloudTrail), else as the
//!   engine reads it (a field no mapping names is read as written);
//! - case-sensitive tests carry `|cased`, wildcards keep their case folding,
//!   numbers stay numbers;
//! - the rule's own category, points and bulk scoring go into the
//!   `modwatch` attribute.
//!
//! A rule with no such form (a length test, a text comparison, the owner
//! account checks, no example to tell its logsource) is skipped with the
//! reason.

use std::fmt::Write as _;

use super::custom;
use super::fields::{BUILTIN, Logsource, Pipelines};
use super::yaml;
use crate::export::{Compare, Condition, Literal, Pack, Rule, ValueTest};

/// A rule pack as Sigma rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaPack {
    /// The rules that have a Sigma form, in pack order.
    pub rules: Vec<SigmaRule>,
    /// The rules that have none, with the reason.
    pub skipped: Vec<Skipped>,
}

/// One rule as a Sigma rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaRule {
    /// The pack's rule id (the Sigma rule's `name`).
    pub id: String,
    /// The Sigma rule's `id`: the rule id if it is a UUID, else a UUID
    /// derived from it (the same on every export).
    pub uuid: String,
    /// The rule as one YAML document (no `---`).
    pub text: String,
}

/// A rule with no Sigma form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The pack's rule id.
    pub id: String,
    /// Why it has no Sigma form.
    pub reason: String,
}

impl SigmaPack {
    /// Every rule as one multi-document YAML text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            out.push_str(&rule.text);
        }
        out
    }
}

/// The pack's rules as Sigma rules.
pub(crate) fn pack(pack: &Pack) -> SigmaPack {
    let mut pipelines = Pipelines::default();
    if let Ok(docs) = yaml::documents(BUILTIN) {
        for doc in &docs {
            pipelines.add(doc);
        }
    }
    let tactic = format!("attack.{}", pack.tactic.1.to_ascii_lowercase().replace(' ', "-"));
    let mut out = SigmaPack { rules: Vec::new(), skipped: Vec::new() };
    for rule in &pack.rules {
        match write_rule(rule, &tactic, &pipelines) {
            Ok(text) => out.rules.push(SigmaRule { id: rule.id.clone(), uuid: uuid_of(&rule.id), text }),
            Err(reason) => out.skipped.push(Skipped { id: rule.id.clone(), reason }),
        }
    }
    out
}

fn write_rule(rule: &Rule, tactic: &str, pipelines: &Pipelines) -> Result<String, String> {
    if rule.sigma.is_some() {
        return Err("it was loaded from a Sigma rule: use that rule's own file".to_string());
    }
    if let Some(f) = rule.foreign_account.as_ref().or(rule.own_account.as_ref()) {
        return Err(format!(
            "it compares {f} with the owner account of the engine's config (foreign_account/own_account), which Sigma cannot express"
        ));
    }
    let Some(format) = rule.example_formats.first() else {
        return Err("it has no example event it matches, to tell its logsource".to_string());
    };
    let Some(logsource) = pipelines.logsource_for(format.cloud()) else {
        return Err(format!("no field mapping is written for {} logs", format.cloud()));
    };
    let mut detection = Detection { logsource: &logsource, pipelines, searches: Vec::new() };
    let condition = detection.condition(&rule.condition, false)?;

    let mut y = String::new();
    line(&mut y, 0, "title", &rule.name);
    line(&mut y, 0, "id", &uuid_of(&rule.id));
    line(&mut y, 0, "name", &rule.id);
    // Exported rules have not been through the Sigma project's review.
    line(&mut y, 0, "status", "experimental");
    if let Some(d) = &rule.description {
        line(&mut y, 0, "description", d);
    }
    list(&mut y, "references", &rule.references);
    let mut tags = vec![tactic.to_string(), format!("attack.{}", rule.technique.id.to_ascii_lowercase())];
    tags.extend(rule.subtechnique.iter().map(|s| format!("attack.{}", s.id.to_ascii_lowercase())));
    tags.dedup();
    list(&mut y, "tags", &tags);
    y.push_str("logsource:\n");
    for (key, value) in
        [("product", &logsource.product), ("service", &logsource.service), ("category", &logsource.category)]
    {
        if let Some(v) = value {
            line(&mut y, 1, key, v);
        }
    }
    y.push_str("detection:\n");
    for (name, search) in &detection.searches {
        let _ = writeln!(y, "  {}:", scalar(name));
        match search {
            Search::Map(entries) => entries_text(&mut y, 2, entries),
            Search::Maps(maps) => {
                for entries in maps {
                    let mut text = String::new();
                    entries_text(&mut text, 3, entries);
                    // The first entry on the `- ` line.
                    let _ = write!(y, "    - {}", text.trim_start());
                }
            }
        }
    }
    line(&mut y, 1, "condition", &condition);
    list(&mut y, "falsepositives", &rule.false_positives);
    line(&mut y, 0, "level", &rule.severity);
    let own =
        [("category", rule.category.as_ref()), ("bulk", rule.bulk.as_ref()), ("bulk_sum", rule.bulk_sum.as_ref())];
    if rule.points.is_some() || own.iter().any(|(_, v)| v.is_some()) {
        let _ = writeln!(y, "{}:", custom::KEY);
        for (key, value) in own {
            if let Some(v) = value {
                line(&mut y, 1, key, v);
            }
        }
        if let Some(p) = rule.points {
            let _ = writeln!(y, "  points: {p}");
        }
    }
    Ok(y)
}

/// One value of a search entry.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// A string, already written as Sigma (wildcards and escapes).
    Str(String),
    /// A number as written.
    Num(String),
    Bool(bool),
    Null,
}

/// `field|modifiers` and its values (any of them).
type Entry = (String, Vec<Value>);

#[derive(Debug)]
enum Search {
    /// All of the entries.
    Map(Vec<Entry>),
    /// Any of the maps.
    Maps(Vec<Vec<Entry>>),
}

struct Detection<'a> {
    logsource: &'a Logsource,
    pipelines: &'a Pipelines,
    searches: Vec<(String, Search)>,
}

impl Detection<'_> {
    /// Adds a search; its name is `selection…` or, under a negation,
    /// `filter…`.
    fn add(&mut self, search: Search, negated: bool) -> String {
        let base = if negated { "filter" } else { "selection" };
        let n = self.searches.iter().filter(|(k, _)| k.starts_with(base)).count();
        let name = if n == 0 { base.to_string() } else { format!("{base}_{}", n + 1) };
        self.searches.push((name.clone(), search));
        name
    }

    /// The condition expression for `cond`, its searches added.
    fn condition(&mut self, cond: &Condition, negated: bool) -> Result<String, String> {
        match cond {
            Condition::Const(_) => Err("its query is a constant, which Sigma cannot express".to_string()),
            Condition::Leaf { negated: true, test: ValueTest::Exists, field } => {
                // `field == null`: Sigma's `null`.
                let name = self.field(field)?;
                Ok(self.add(Search::Map(vec![(name, vec![Value::Null])]), negated))
            }
            Condition::Leaf { negated: leaf_negated, .. } => {
                let entries = self.leaf(cond)?;
                let search = if entries.len() == 1 { Search::Map(entries) } else { one_each(entries) };
                if *leaf_negated {
                    Ok(format!("not {}", self.add(search, !negated)))
                } else {
                    Ok(self.add(search, negated))
                }
            }
            Condition::Not(inner) => Ok(format!("not {}", group(&self.condition(inner, !negated)?))),
            Condition::And(parts) | Condition::Or(parts) => {
                let and = matches!(cond, Condition::And(_));
                // `true` in an `and`, `false` in an `or`: no part at all.
                let parts: Vec<&Condition> =
                    parts.iter().filter(|p| !matches!(p, Condition::Const(b) if *b == and)).collect();
                if parts.is_empty() {
                    return Err("its query is a constant, which Sigma cannot express".to_string());
                }
                // The positive tests make one search: in an `and`, one map of
                // single-entry tests on distinct fields; in an `or`, a list
                // of maps (one value list per field and modifiers).
                let mut merged: Vec<Entry> = Vec::new();
                let mut rest = Vec::new();
                for part in parts {
                    if let Condition::Leaf { negated: false, .. } = part {
                        let entries = self.leaf(part)?;
                        let clash = entries.iter().any(|(k, _)| merged.iter().any(|(m, _)| m == k));
                        if !and {
                            for (key, values) in entries {
                                match merged.iter_mut().find(|(k, _)| *k == key) {
                                    Some((_, have)) => have.extend(values),
                                    None => merged.push((key, values)),
                                }
                            }
                            continue;
                        }
                        if entries.len() == 1 && !clash {
                            merged.extend(entries);
                            continue;
                        }
                    }
                    rest.push(part);
                }
                let mut out = Vec::new();
                if !merged.is_empty() {
                    let search = if and || merged.len() == 1 { Search::Map(merged) } else { one_each(merged) };
                    out.push(self.add(search, negated));
                }
                for part in rest {
                    out.push(group(&self.condition(part, negated)?));
                }
                Ok(out.join(if and { " and " } else { " or " }))
            }
        }
    }

    /// The Sigma name of an engine field under the rule's logsource.
    fn field(&self, field: &str) -> Result<String, String> {
        self.pipelines.names_for(self.logsource, field).into_iter().next().ok_or_else(|| {
            format!(
                "no Sigma field name reads {field} alone under logsource {} (each also reads other fields)",
                self.logsource.describe()
            )
        })
    }

    /// A positive leaf's test as entries, any of which must hold.
    fn leaf(&self, cond: &Condition) -> Result<Vec<Entry>, String> {
        let Condition::Leaf { field, test, .. } = cond else {
            return Err("not a field test".to_string());
        };
        let name = self.field(field)?;
        let mut entries: Vec<Entry> = Vec::new();
        let mut push = |key: String, value: Value| match entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => entries.push((key, vec![value])),
        };
        match test {
            ValueTest::Exists => push(format!("{name}|exists"), Value::Bool(true)),
            ValueTest::Equals(lits) => {
                for lit in lits {
                    match lit {
                        Literal::Str(s) if s.is_empty() => {
                            return Err(format!("it compares {field} with \"\", which Sigma reads as null"));
                        }
                        Literal::Str(s) => push(format!("{name}|cased"), Value::Str(escape(s))),
                        Literal::Num { text, .. } => push(name.clone(), Value::Num(text.clone())),
                        Literal::Bool(b) => push(name.clone(), Value::Bool(*b)),
                    }
                }
            }
            ValueTest::Regex(sources) => {
                for source in sources {
                    match wildcard_of(source) {
                        Some((pattern, _)) if pattern.is_empty() => {
                            return Err(format!("it compares {field} with \"\", which Sigma reads as null"));
                        }
                        Some((pattern, fold)) => {
                            let (modifier, value) = modifier_of(&pattern);
                            let cased = if fold == Some(false) { "|cased" } else { "" };
                            push(format!("{name}{modifier}{cased}"), Value::Str(value));
                        }
                        None => push(format!("{name}|re"), Value::Str(source.clone())),
                    }
                }
            }
            // EQL's range reads a digit string as text, Sigma's comparison
            // as a number: the one difference (docs/sigma.md, Export).
            ValueTest::Range(op, Literal::Num { text, .. }) | ValueTest::Numeric(op, Literal::Num { text, .. }) => {
                let modifier = match op {
                    Compare::Gt => "|gt",
                    Compare::Ge => "|gte",
                    Compare::Lt => "|lt",
                    Compare::Le => "|lte",
                    Compare::Eq => "",
                    Compare::Ne => return Err(format!("it tests {field} != a number, which Sigma cannot express")),
                };
                push(format!("{name}{modifier}"), Value::Num(text.clone()));
            }
            ValueTest::Range(..) | ValueTest::Numeric(..) => {
                return Err(format!("it compares {field} with a text by order, which Sigma cannot express"));
            }
            ValueTest::Cidr(ranges) => {
                for r in ranges {
                    push(format!("{name}|cidr"), Value::Str(ipv4_of(r)));
                }
            }
            ValueTest::Length(..) => {
                return Err(format!("it tests the length of {field}, which Sigma cannot express"));
            }
            ValueTest::FieldRef(other) => push(format!("{name}|fieldref"), Value::Str(other.clone())),
        }
        if entries.is_empty() {
            return Err(format!("its test on {field} matches nothing, which Sigma cannot express"));
        }
        Ok(entries)
    }
}

/// Entries any of which must hold: one map each.
fn one_each(entries: Vec<Entry>) -> Search {
    Search::Maps(entries.into_iter().map(|e| vec![e]).collect())
}

/// A sub-condition inside a larger one.
fn group(cond: &str) -> String {
    if cond.contains(' ') && !cond.starts_with("not ") { format!("({cond})") } else { cond.to_string() }
}

/// A wildcard pattern's pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Char(char),
    Star,
    One,
}

/// The wildcard pattern an anchored regular expression of
/// `Wildcard::regex_source` stands for, and its case folding (`None`: it has
/// no letters). `None` for any other regular expression.
fn wildcard_of(source: &str) -> Option<(Vec<Piece>, Option<bool>)> {
    let body = source.strip_prefix("\\A(?s:")?.strip_suffix(")\\z")?;
    let mut pieces = Vec::new();
    let mut fold: Option<bool> = None;
    // Every letter folded, or none: else it is not a wildcard's.
    fn set_fold(fold: &mut Option<bool>, f: bool) -> bool {
        if fold.is_some_and(|prev| prev != f) {
            return false;
        }
        *fold = Some(f);
        true
    }
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix(".*") {
            pieces.push(Piece::Star);
            rest = r;
        } else if let Some(r) = rest.strip_prefix('.') {
            pieces.push(Piece::One);
            rest = r;
        } else if let Some(r) = rest.strip_prefix("\\x{") {
            let end = r.find('}')?;
            let ch = char::from_u32(u32::from_str_radix(&r[..end], 16).ok()?)?;
            pieces.push(Piece::Char(ch));
            rest = &r[end + 1..];
        } else if c == '[' {
            // `[aA]`: a folded letter.
            let b = rest.as_bytes();
            let (lo, up) = (*b.get(1)? as char, *b.get(2)? as char);
            if b.get(3) != Some(&b']') || !lo.is_ascii_lowercase() || up != lo.to_ascii_uppercase() {
                return None;
            }
            if !set_fold(&mut fold, true) {
                return None;
            }
            pieces.push(Piece::Char(lo));
            rest = &rest[4..];
        } else if c.is_ascii_alphanumeric() {
            if c.is_ascii_alphabetic() && !set_fold(&mut fold, false) {
                return None;
            }
            pieces.push(Piece::Char(c));
            rest = &rest[1..];
        } else {
            return None;
        }
    }
    Some((pieces, fold))
}

/// The modifier and Sigma value of a wildcard pattern: `contains`,
/// `startswith` or `endswith` when its only `*` are at its ends.
fn modifier_of(pattern: &[Piece]) -> (&'static str, String) {
    let lead = pattern.first() == Some(&Piece::Star);
    let trail = pattern.len() > 1 && pattern.last() == Some(&Piece::Star);
    let inner = &pattern[usize::from(lead)..pattern.len() - usize::from(trail)];
    let plain = !inner.is_empty() && inner.iter().all(|p| matches!(p, Piece::Char(_)));
    let (modifier, pieces) = match (lead, trail) {
        (true, true) if plain => ("|contains", inner),
        (true, false) if plain => ("|endswith", inner),
        (false, true) if plain => ("|startswith", inner),
        _ => ("", pattern),
    };
    let mut value = String::new();
    for p in pieces {
        match p {
            Piece::Star => value.push('*'),
            Piece::One => value.push('?'),
            Piece::Char(c @ ('*' | '?' | '\\')) => {
                value.push('\\');
                value.push(*c);
            }
            Piece::Char(c) => value.push(*c),
        }
    }
    (modifier, value)
}

/// A literal string as a Sigma value: `*`, `?` and `\` escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A CIDR range as written: IPv4-mapped ranges back in IPv4 form.
fn ipv4_of(range: &str) -> String {
    let ipv4 = range.strip_prefix("::ffff:").and_then(|r| {
        let (addr, len) = r.split_once('/')?;
        let addr: std::net::Ipv4Addr = addr.parse().ok()?;
        let len: u8 = len.parse().ok()?;
        Some(format!("{addr}/{}", len.checked_sub(96)?))
    });
    ipv4.unwrap_or_else(|| range.to_string())
}

/// A UUID for a rule id: the id itself if it is one, else a version 8 UUID
/// (RFC 9562) from its 128-bit FNV-1a hash, the same on every export.
fn uuid_of(id: &str) -> String {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = id.split('-').collect();
    if parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| hex(p)) {
        return id.to_ascii_lowercase();
    }
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in "modwatch rule ".bytes().chain(id.bytes()) {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    // Version 8, variant 10.
    h = (h & !(0xf << 76)) | (0x8 << 76);
    h = (h & !(0x3 << 62)) | (0x2 << 62);
    let s = format!("{h:032x}");
    format!("{}-{}-{}-{}-{}", &s[..8], &s[8..12], &s[12..16], &s[16..20], &s[20..])
}

/// `key: value` at an indentation level.
fn line(out: &mut String, level: usize, key: &str, value: &str) {
    let _ = writeln!(out, "{}{}: {}", "  ".repeat(level), scalar(key), scalar(value));
}

/// `key:` and a list of strings (nothing for an empty list).
fn list(out: &mut String, key: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{key}:");
    for item in items {
        let _ = writeln!(out, "  - {}", scalar(item));
    }
}

fn entries_text(out: &mut String, level: usize, entries: &[Entry]) {
    let indent = "  ".repeat(level);
    for (key, values) in entries {
        match values.as_slice() {
            [one] => {
                let _ = writeln!(out, "{indent}{}: {}", scalar(key), value_text(one));
            }
            many => {
                let _ = writeln!(out, "{indent}{}:", scalar(key));
                for v in many {
                    let _ = writeln!(out, "{indent}  - {}", value_text(v));
                }
            }
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Str(s) => scalar(s),
        Value::Num(n) => n.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
    }
}

/// A string as a YAML scalar that every YAML reader (1.1 and 1.2) reads as
/// that string: plain when nothing in it means anything else, else quoted.
fn scalar(s: &str) -> String {
    let first_ok = s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_');
    let safe = first_ok
        && s.chars().all(|c| c.is_alphanumeric() || " _-./:()|,'+=\\@$%&<>".contains(c))
        && !s.contains(": ")
        && !s.ends_with([':', ' '])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null"
        );
    if safe {
        s.to_string()
    } else if s.chars().any(char::is_control) {
        // A JSON string is a YAML double-quoted scalar.
        serde_json::Value::String(s.to_string()).to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eql::{Syntax, Wildcard};

    fn decode(pattern: &str, fold: bool) -> Option<(&'static str, String, Option<bool>)> {
        let source = Wildcard::parse(pattern, Syntax::Eql, fold).regex_source();
        let (pieces, f) = wildcard_of(&source)?;
        let (m, v) = modifier_of(&pieces);
        Some((m, v, f))
    }

    #[test]
    fn wildcards_come_back_from_their_regular_expressions() {
        assert_eq!(decode("RunInstances", false), Some(("", "RunInstances".into(), Some(false))));
        assert_eq!(
            decode("*.compute.instances.insert", true),
            Some(("|endswith", ".compute.instances.insert".into(), Some(true)))
        );
        assert_eq!(decode("Microsoft.Compute/*", true), Some(("|startswith", "microsoft.compute/".into(), Some(true))));
        assert_eq!(decode("*a-2*", true), Some(("|contains", "a-2".into(), Some(true))));
        assert_eq!(decode("*/machineTypes/a2-*", true), Some(("|contains", "/machinetypes/a2-".into(), Some(true))));
        assert_eq!(decode("projects/*/zones/*", true), Some(("", "projects/*/zones/*".into(), Some(true))));
        assert_eq!(decode("a?c", false), Some(("", "a?c".into(), Some(false))));
        assert_eq!(decode("12:3", true), Some(("", "12:3".into(), None)));
        assert_eq!(decode("*", true), Some(("", "*".into(), None)));
        assert_eq!(wildcard_of("^a.*b$"), None);
        assert_eq!(wildcard_of("\\A(?s:[aB])\\z"), None);
        assert_eq!(wildcard_of("\\A(?s:[aA]b)\\z"), None);
    }

    #[test]
    fn comparisons_come_back_as_modifiers() {
        let mut pipelines = Pipelines::default();
        for doc in yaml::documents(BUILTIN).unwrap_or_default() {
            pipelines.add(&doc);
        }
        let Some(logsource) = pipelines.logsource_for("aws") else { panic!("no aws logsource") };
        let detection = Detection { logsource: &logsource, pipelines: &pipelines, searches: Vec::new() };
        let num = |text: &str| Literal::Num { text: text.into(), value: text.parse().unwrap_or(f64::NAN), int: None };
        let entries = |test: ValueTest| {
            let cond = Condition::Leaf { field: "modwatch.params.maxCount".into(), negated: false, test };
            format!("{:?}", detection.leaf(&cond))
        };
        // Sigma's own comparison and EQL's range of a number both become the modifier.
        assert_eq!(
            entries(ValueTest::Numeric(Compare::Gt, num("10"))),
            r#"Ok([("requestParameters.maxCount|gt", [Num("10")])])"#
        );
        assert_eq!(
            entries(ValueTest::Numeric(Compare::Le, num("-1.5"))),
            r#"Ok([("requestParameters.maxCount|lte", [Num("-1.5")])])"#
        );
        assert_eq!(
            entries(ValueTest::Range(Compare::Ge, num("2"))),
            r#"Ok([("requestParameters.maxCount|gte", [Num("2")])])"#
        );
        assert!(entries(ValueTest::Range(Compare::Lt, Literal::Str("m".into()))).contains("by order"));
    }

    #[test]
    fn values_and_scalars() {
        assert_eq!(escape("a*b?c\\d"), "a\\*b\\?c\\\\d");
        assert_eq!(ipv4_of("::ffff:10.0.0.0/104"), "10.0.0.0/8");
        assert_eq!(ipv4_of("2001:db8::/32"), "2001:db8::/32");
        assert_eq!(scalar("RunInstances"), "RunInstances");
        assert_eq!(scalar("true"), "'true'");
        assert_eq!(scalar("123"), "'123'");
        assert_eq!(scalar("@timestamp"), "'@timestamp'");
        assert_eq!(scalar("a: b"), "'a: b'");
        assert_eq!(scalar("it's"), "it's");
        assert_eq!(scalar("'q"), "'''q'");
        assert_eq!(scalar("a\nb"), "\"a\\nb\"");
        assert_eq!(uuid_of("0B1F6471-1BF0-4DDA-AEC3-111122223333"), "0b1f6471-1bf0-4dda-aec3-111122223333");
        let u = uuid_of("aws-ebs-snapshot-created");
        assert_eq!((u.len(), &u[14..15], "89ab".contains(&u[19..20])), (36, "8", true));
        assert_ne!(u, uuid_of("aws-ebs-snapshot-copied"));
    }
}
