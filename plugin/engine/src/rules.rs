//! Rule packs: TOML files of EQL rules and an operation catalogue, loaded,
//! checked and compiled. The format is documented in `rules/README.md`.
//!
//! Loading reports every problem of a pack at once, each naming its rule and
//! position; a pack with any problem is refused as a whole.

use serde::Deserialize;

use crate::config::{Config, is_category_name};
use crate::eql::{FieldPath, Query, Syntax, Wildcard};
use crate::error::{Error, ErrorKind, Errors, Location};
use crate::normalise::{OPERATION_KEYS, prefilter_needle};
use crate::prefilter::{Needle, Prefilter};

/// The built-in pack: the files of `rules/`, each loaded as its own pack.
#[cfg(feature = "builtin-rules")]
const BUILTIN: &[(&str, &str)] = &[
    ("operations.toml", include_str!("../../../rules/operations.toml")),
    ("aws.toml", include_str!("../../../rules/aws.toml")),
    ("azure.toml", include_str!("../../../rules/azure.toml")),
    ("gcp.toml", include_str!("../../../rules/gcp.toml")),
    // Last, so that on equal points our own rules name the match.
    ("seed.toml", include_str!("../../../rules/seed.toml")),
];
#[cfg(not(feature = "builtin-rules"))]
const BUILTIN: &[(&str, &str)] = &[];

/// The name `rule.ruleset` carries for rules of the built-in pack.
pub(crate) const BUILTIN_RULESET: &str = "modwatch-builtin";

/// Severity, Elastic's four levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Elastic's default risk score for the level.
    pub(crate) fn risk_score(self) -> u32 {
        match self {
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }

    /// `event.severity`: ECS wants a number; 1 (low) to 4 (critical).
    pub(crate) fn number(self) -> u32 {
        self as u32 + 1
    }
}

/// One compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) ruleset: String,
    pub(crate) severity: Severity,
    pub(crate) risk_score: u32,
    pub(crate) category: Option<String>,
    pub(crate) points: Option<u32>,
    pub(crate) technique: String,
    pub(crate) subtechnique: Option<String>,
    pub(crate) query: Query,
    pub(crate) foreign_account: Option<FieldPath>,
    pub(crate) own_account: Option<FieldPath>,
    pub(crate) bulk: Option<Bulk>,
    pub(crate) examples: Vec<Example>,
    /// The pack line and column of the rule's `id = …`, for errors about
    /// the rule as a whole (a duplicate id).
    pub(crate) id_at: (u32, u32),
    /// A rule loaded from Sigma: its metadata.
    pub(crate) sigma: Option<Box<crate::sigma::Meta>>,
    /// What the rule says about itself, for exporting it.
    #[cfg_attr(not(feature = "export"), expect(dead_code, reason = "read only by the rule export"))]
    pub(crate) about: About,
}

/// A rule's description, false positives and references: carried for
/// exporting the rule (`modwatch export sigma`), never matched on.
#[derive(Debug, Default)]
#[cfg_attr(not(feature = "export"), expect(dead_code, reason = "read only by the rule export"))]
pub(crate) struct About {
    pub(crate) description: Option<String>,
    pub(crate) false_positives: Vec<String>,
    pub(crate) references: Vec<String>,
}

/// How a rule reads the number of resources a bulk call affects.
#[derive(Debug)]
pub(crate) enum Bulk {
    /// `bulk`: how many values the field has (instance ids).
    Count(FieldPath),
    /// `bulk_sum`: the sum of the field's whole-number values (`maxCount`,
    /// `sku.capacity`; numbers or digit strings).
    Sum(FieldPath),
}

/// An example event a rule carries, with whether the rule must match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The rule the example belongs to.
    pub rule_id: String,
    /// True for `expect = "match"`.
    pub expect_match: bool,
    /// The event, JSON text.
    pub event: String,
}

/// An operation catalogue entry: the category of an operation, for rules that
/// do not name one.
#[derive(Debug)]
pub(crate) struct Operation {
    /// `modwatch.op`, `*`/`?` wildcards, ASCII case-insensitive.
    pattern: Wildcard,
    pub(crate) category: String,
    pub(crate) subtechnique: Option<String>,
}

/// A compiled set of rules, with the prefilter derived from them.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    catalogue: Vec<Operation>,
    pub(crate) prefilter: Prefilter,
    warnings: Vec<Error>,
    /// Sigma correlation rules, each after the correlations it counts.
    pub(crate) correlations: Vec<crate::sigma::Correlation>,
}

impl Default for RuleSet {
    fn default() -> RuleSet {
        RuleSet::from_parts(Vec::new(), Vec::new())
    }
}

impl RuleSet {
    /// Loads the rules the config asks for: the built-in pack and/or `pack`
    /// (`config.builtin_rules`; by default a given pack replaces the
    /// built-in one). Every error of every pack is reported at once.
    pub fn load(config: &Config, pack: Option<&str>) -> Result<RuleSet, Errors> {
        let with_builtin = config.builtin_rules.unwrap_or(pack.is_none());
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        let mut catalogue = Vec::new();
        if with_builtin {
            for (file, text) in BUILTIN {
                load_pack(text, BUILTIN_RULESET, file, &mut rules, &mut catalogue, &mut errors);
            }
        }
        let mut warnings = Vec::new();
        let mut correlations = Vec::new();
        if let Some(text) = pack {
            let mut sigma_sources = Vec::new();
            for (file, section) in files(text) {
                if is_sigma_file(file, section) {
                    sigma_sources.push(crate::sigma::Source { file, text: section });
                } else {
                    load_pack(section, "custom", file, &mut rules, &mut catalogue, &mut errors);
                }
            }
            if !sigma_sources.is_empty() {
                // Sigma matches take their category from the operation
                // catalogue, built-in rules or not.
                if !with_builtin && let Some((file, text)) = BUILTIN.iter().find(|(f, _)| *f == "operations.toml") {
                    load_pack(text, BUILTIN_RULESET, file, &mut rules, &mut catalogue, &mut errors);
                }
                crate::sigma::load(&sigma_sources, &mut rules, &mut correlations, &mut errors, &mut warnings);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for rule in &rules {
            if !seen.insert(rule.id.as_str()) {
                errors.push(Error::new(ErrorKind::DuplicateRuleId, format!("rule id {:?} is used twice", rule.id)).at(
                    Location {
                        rule_id: Some(rule.id.clone()),
                        line: rule.id_at.0,
                        column: rule.id_at.1,
                        pack_line: Some(rule.id_at.0),
                        pack_column: Some(rule.id_at.1),
                    },
                ));
            }
        }
        if !errors.is_empty() {
            return Err(Errors(errors));
        }
        let mut set = RuleSet::from_parts(rules, catalogue);
        set.warnings = warnings;
        set.correlations = correlations;
        Ok(set)
    }

    /// What loaded but will not run as written (a Sigma rule whose
    /// logsource modwatch does not read), for the host to show.
    pub fn warnings(&self) -> &[Error] {
        &self.warnings
    }

    /// The files of the built-in pack, `(file name, TOML text)`, in load
    /// order (empty without the `builtin-rules` feature), for editors.
    pub fn builtin_sources() -> &'static [(&'static str, &'static str)] {
        BUILTIN
    }

    /// Only the built-in pack.
    pub fn builtin() -> Result<RuleSet, Errors> {
        RuleSet::load(&Config::default(), None)
    }

    fn from_parts(rules: Vec<Rule>, catalogue: Vec<Operation>) -> RuleSet {
        let clauses: Vec<Vec<Vec<Needle>>> =
            rules.iter().map(|r| r.query.required_literals(&prefilter_needle)).collect();
        let prefilter = Prefilter::new(&clauses, OPERATION_KEYS);
        RuleSet { rules, catalogue, prefilter, warnings: Vec::new(), correlations: Vec::new() }
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True if there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule ids, in pack order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    /// The ids of rules that the prefilter cannot rule out on any event
    /// (their queries name no literal the raw bytes must contain).
    pub fn unfiltered(&self) -> Vec<&str> {
        self.prefilter.unfiltered().iter().map(|&i| self.rules[i].id.as_str()).collect()
    }

    /// The ids of rules the prefilter's operation stage does not decide: an
    /// event is a candidate for them after a pass over all its bytes (the
    /// other rules need only its operation values, see `prefilter.rs`).
    pub fn full_scan(&self) -> Vec<&str> {
        self.prefilter.full_scan().into_iter().map(|i| self.rules[i].id.as_str()).collect()
    }

    /// Every example of every rule.
    pub fn examples(&self) -> impl Iterator<Item = &Example> {
        self.rules.iter().flat_map(|r| r.examples.iter())
    }

    /// The operation catalogue in lookup order: (pattern as an anchored
    /// regular expression, category, sub-technique), for rule export.
    #[cfg(feature = "export")]
    pub(crate) fn catalogue(&self) -> impl Iterator<Item = (String, &str, Option<&str>)> {
        self.catalogue.iter().map(|o| (o.pattern.regex_source(), o.category.as_str(), o.subtechnique.as_deref()))
    }

    /// The catalogue entry for an operation.
    pub(crate) fn operation(&self, op: &str) -> Option<&Operation> {
        self.catalogue.iter().find(|o| o.pattern.matches(op))
    }
}

/// The line that starts each file of a rule text made of several files
/// (how a host passes several `--rules` files through one string; TOML and
/// YAML both read it as a comment).
pub const FILE_MARKER: &str = "# modwatch-file: ";

/// The files of a rule text, `(name, text)`: the whole text as `rule pack`,
/// or the parts after each [`FILE_MARKER`] line.
fn files(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let (mut name, mut start, mut offset) = (None, 0, 0);
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix(FILE_MARKER) {
            let part = &text[start..offset];
            if name.is_some() || !part.trim().is_empty() {
                out.push((name.unwrap_or("rule pack"), part));
            }
            name = Some(rest.trim_end());
            start = offset + line.len();
        }
        offset += line.len();
    }
    out.push((name.unwrap_or("rule pack"), &text[start..]));
    out
}

/// Whether a file of a rule text is Sigma YAML: by its extension, else by
/// its content (no TOML table header, and a Sigma top-level key).
fn is_sigma_file(name: &str, text: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".yml") || lower.ends_with(".yaml") {
        return true;
    }
    if lower.ends_with(".toml") {
        return false;
    }
    let toml = text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("[[rule]]") || l.starts_with("[[operation]]") || l.starts_with("[[rule.")
    });
    !toml && crate::sigma::is_sigma(text)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    name: Option<String>,
    #[serde(rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    rule: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    operation: Vec<toml::Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: String,
    name: String,
    description: Option<String>,
    severity: String,
    risk_score: Option<u32>,
    category: Option<String>,
    points: Option<u32>,
    technique: Option<String>,
    subtechnique: Option<String>,
    foreign_account: Option<String>,
    own_account: Option<String>,
    bulk: Option<String>,
    bulk_sum: Option<String>,
    #[serde(default)]
    false_positives: Vec<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(rename = "tags", default)]
    _tags: Vec<String>,
    query: String,
    #[serde(default)]
    example: Vec<ExampleDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleDef {
    expect: String,
    event: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperationDef {
    op: String,
    category: String,
    subtechnique: Option<String>,
}

/// 1-based line and column (in characters) of byte offsets in one text.
struct Lines<'t> {
    text: &'t str,
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Lines<'t> {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Lines { text, starts }
    }

    fn at(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let col = self.text.get(start..offset).map_or(0, |l| l.chars().count()) + 1;
        (line as u32, col as u32)
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (u32, u32) {
    Lines::new(text).at(offset)
}

fn load_pack(
    text: &str,
    default_name: &str,
    file: &str,
    rules: &mut Vec<Rule>,
    catalogue: &mut Vec<Operation>,
    errors: &mut Vec<Error>,
) {
    let pack: PackFile = match toml::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
            let msg = e.message().trim().to_lowercase();
            errors.push(Error::new(ErrorKind::RulePackSyntax, format!("{file}: {msg}")).at(Location {
                rule_id: None,
                line,
                column,
                pack_line: Some(line),
                pack_column: Some(column),
            }));
            return;
        }
    };
    let ruleset = pack.name.unwrap_or_else(|| default_name.to_string());
    let lines = Lines::new(text);
    for spanned in pack.rule {
        let span = spanned.span();
        let (rule_line, _) = lines.at(span.start);
        let table = spanned.into_inner();
        let id_hint = table.get("id").and_then(|v| v.as_str()).map(str::to_string);
        let def = match RuleDef::deserialize(toml::Value::Table(table)) {
            Ok(def) => def,
            Err(e) => {
                errors.push(Error::new(ErrorKind::RuleInvalid, format!("{file}: {}", e.message().trim())).at(
                    Location {
                        rule_id: id_hint,
                        line: rule_line,
                        column: 1,
                        pack_line: Some(rule_line),
                        pack_column: Some(1),
                    },
                ));
                continue;
            }
        };
        // The span of an array-of-tables entry may cover only its header:
        // look for the query from the rule's start on.
        let rule_text = text.get(span.start..).unwrap_or("");
        let query_line = query_start(rule_text).map(|q| QueryStart { line: q.line + rule_line - 1, ..q });
        // Where a duplicate id is reported: this rule's `id = …`.
        let id_at = key_line(rule_text, "id").map_or((rule_line, 1), |(line, text)| {
            (line + rule_line - 1, (text.len() - text.trim_start().len()) as u32 + 1)
        });
        if let Some(mut rule) = compile_rule(def, &ruleset, file, rule_line, query_line, errors) {
            rule.id_at = id_at;
            rules.push(rule);
        }
    }
    for spanned in pack.operation {
        let (line, _) = lines.at(spanned.span().start);
        let at = Location { rule_id: None, line, column: 1, pack_line: Some(line), pack_column: Some(1) };
        match OperationDef::deserialize(toml::Value::Table(spanned.into_inner())) {
            Ok(op) if is_category_name(&op.category) => catalogue.push(Operation {
                pattern: Wildcard::parse(&op.op, Syntax::Eql, true),
                category: op.category,
                subtechnique: op.subtechnique,
            }),
            Ok(op) => errors.push(
                Error::new(
                    ErrorKind::RuleInvalid,
                    format!("{file}: operation category {:?} is not UPPER_SNAKE_CASE", op.category),
                )
                .at(at),
            ),
            Err(e) => errors
                .push(Error::new(ErrorKind::RuleInvalid, format!("{file}: operation: {}", e.message().trim())).at(at)),
        }
    }
}

/// Where a rule's query text starts in its pack.
#[derive(Debug, Clone, Copy)]
struct QueryStart {
    /// The pack line (relative to the rule's first line) of the query's first
    /// line: the line after `query = '''` when the string starts with a
    /// newline (TOML trims it), else the line of `query =`.
    line: u32,
    /// The column (in characters) of the query's first character on that line.
    column: u32,
}

/// Where the query of the rule whose text starts `rule_text` begins.
fn query_start(rule_text: &str) -> Option<QueryStart> {
    let (line, text) = key_line(rule_text, "query")?;
    let Some(after_eq) = text.split_once('=').map(|(_, v)| v) else { return Some(QueryStart { line, column: 1 }) };
    let value = after_eq.trim();
    if value == "'''" || value == "\"\"\"" {
        return Some(QueryStart { line: line + 1, column: 1 });
    }
    // An inline string: the query starts after its opening quotes.
    let quotes = ["'''", "\"\"\"", "'", "\""].iter().find(|q| value.starts_with(**q)).map_or(0, |q| q.len());
    let before = text.len() - after_eq.trim_start().len() + quotes;
    Some(QueryStart { line, column: text.get(..before).map_or(1, |b| b.chars().count() as u32 + 1) })
}

/// The first line of `rule_text` that sets `key` (`key = …`): its number
/// (1-based, relative to `rule_text`) and its text.
fn key_line<'t>(rule_text: &'t str, key: &str) -> Option<(u32, &'t str)> {
    rule_text.lines().enumerate().find_map(|(i, l)| {
        let rest = l.trim_start().strip_prefix(key)?;
        rest.trim_start().starts_with('=').then_some((i as u32 + 1, l))
    })
}

fn compile_rule(
    def: RuleDef,
    ruleset: &str,
    file: &str,
    rule_line: u32,
    query_line: Option<QueryStart>,
    errors: &mut Vec<Error>,
) -> Option<Rule> {
    let id = def.id.clone();
    let before = errors.len();
    let mut fail = |kind: ErrorKind, msg: String| {
        errors.push(Error::new(kind, format!("{file}: {msg}")).at(Location {
            rule_id: Some(id.clone()),
            line: rule_line,
            column: 1,
            pack_line: Some(rule_line),
            pack_column: Some(1),
        }));
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
        fail(ErrorKind::RuleInvalid, format!("rule id {id:?} must be lowercase letters, digits, '-' and '_'"));
    }
    let severity = Severity::parse(&def.severity);
    if severity.is_none() {
        fail(ErrorKind::RuleInvalid, format!("severity must be low, medium, high or critical, not {:?}", def.severity));
    }
    if let Some(c) = def.category.as_deref().filter(|c| !is_category_name(c)) {
        fail(ErrorKind::RuleInvalid, format!("category {c:?} is not UPPER_SNAKE_CASE"));
    }
    if def.bulk.is_some() && def.bulk_sum.is_some() {
        fail(ErrorKind::RuleInvalid, "a rule has either bulk or bulk_sum, not both".to_string());
    }
    if let Some(score) = def.risk_score.filter(|s| *s > 100) {
        fail(ErrorKind::RuleInvalid, format!("risk_score must be 0 to 100, not {score}"));
    }
    let mut examples = Vec::new();
    for ex in &def.example {
        match ex.expect.as_str() {
            "match" | "no-match" => examples.push(Example {
                rule_id: id.clone(),
                expect_match: ex.expect == "match",
                event: ex.event.clone(),
            }),
            other => {
                fail(ErrorKind::RuleInvalid, format!("example expect must be \"match\" or \"no-match\", not {other:?}"))
            }
        }
    }
    let query = match Query::parse(&def.query) {
        Ok(q) => Some(q),
        Err(e) => {
            let loc = e.location().cloned().unwrap_or_default();
            let pack_line = query_line.map(|q| q.line + loc.line.saturating_sub(1));
            // The query's first line may start after `query = '` on its
            // pack line; its other lines are pack lines as they are.
            let pack_column =
                query_line.map(|q| if loc.line <= 1 { q.column + loc.column.max(1) - 1 } else { loc.column });
            errors.push(Error::new(e.kind(), format!("{file}: {}", e.message())).at(Location {
                rule_id: Some(id.clone()),
                pack_line,
                pack_column,
                ..loc
            }));
            None
        }
    };
    if errors.len() > before {
        return None;
    }
    let severity = severity?;
    let path = |p: Option<String>| p.map(FieldPath::new);
    Some(Rule {
        risk_score: def.risk_score.unwrap_or(severity.risk_score()),
        id: def.id,
        name: def.name,
        ruleset: ruleset.to_string(),
        severity,
        category: def.category,
        points: def.points,
        technique: def.technique.unwrap_or_else(|| "T1578".to_string()),
        subtechnique: def.subtechnique,
        query: query?,
        foreign_account: path(def.foreign_account),
        own_account: path(def.own_account),
        bulk: path(def.bulk).map(Bulk::Count).or_else(|| path(def.bulk_sum).map(Bulk::Sum)),
        examples,
        id_at: (rule_line, 1),
        sigma: None,
        about: About { description: def.description, false_positives: def.false_positives, references: def.references },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<RuleSet, Vec<String>> {
        let config = Config::default().with_builtin_rules(false);
        RuleSet::load(&config, Some(text)).map_err(|Errors(e)| e.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn catalogue_patterns() {
        let set = load("[[operation]]\nop = 'Microsoft.Compute/*/DELETE'\ncategory = 'DELETE'\n").unwrap_or_default();
        assert_eq!(set.operation("microsoft.compute/disks/delete").map(|o| o.category.as_str()), Some("DELETE"));
        assert!(set.operation("microsoft.compute/disks/write").is_none());
    }

    #[test]
    fn loads_a_rule() {
        let set = load(
            r#"
[[rule]]
id = "r1"
name = "one"
severity = "high"
query = 'any where event.action == "X"'
[[rule.example]]
expect = "match"
event = '{"eventName":"X"}'
"#,
        );
        let set = set.unwrap_or_default();
        assert_eq!(set.ids().collect::<Vec<_>>(), vec!["r1"]);
        assert_eq!(set.examples().count(), 1);
        assert_eq!(set.rules[0].risk_score, 73);
    }

    #[test]
    fn errors_name_rule_and_position() {
        let e = load(
            r#"
[[rule]]
id = "good"
name = "g"
severity = "low"
query = 'any where true'

[[rule]]
id = "bad-query"
name = "b"
severity = "low"
query = '''
any where event.action == "x"
  and event.provider = "y"
'''

[[rule]]
id = "bad-severity"
name = "c"
severity = "urgent"
query = 'any where true'
"#,
        )
        .err()
        .unwrap_or_default();
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].starts_with("E202 rule \"bad-query\" at 2:22 (pack line 14)"), "{}", e[0]);
        assert!(e[1].contains("rule \"bad-severity\"") && e[1].contains("urgent"), "{}", e[1]);
    }

    /// Pack positions (line, column) of every error, for an editor's cursor.
    fn pack_positions(pack: &str) -> Vec<(Option<u32>, Option<u32>)> {
        let errors = RuleSet::load(&Config::default(), Some(pack)).err().map(|e| e.0).unwrap_or_default();
        errors.iter().map(|e| e.location().map_or((None, None), |l| (l.pack_line, l.pack_column))).collect()
    }

    #[test]
    fn errors_carry_their_pack_position() {
        let rule = |id: &str, query: &str| format!("[[rule]]\n  id = '{id}'\nname='n'\nseverity='low'\n{query}\n");
        // Inline queries: the column counts from the pack line's start.
        assert_eq!(pack_positions(&rule("a", "query = 'any where x = 1'")), [(Some(5), Some(22))]);
        assert_eq!(pack_positions(&rule("a", "query = \"\"\"any where x = 1\"\"\"")), [(Some(5), Some(24))]);
        // A multi-line query: its lines are pack lines.
        assert_eq!(pack_positions(&rule("a", "query = '''\nany where\n  x = 1\n'''")), [(Some(7), Some(5))]);
        // A duplicate id: the second rule's `id`.
        let dup = format!("{}\n{}", rule("a", "query='any where true'"), rule("a", "query='any where true'"));
        assert_eq!(pack_positions(&dup), [(Some(8), Some(3))]);
        // A rule-level problem: the rule's header; TOML syntax: where it breaks.
        assert_eq!(
            pack_positions("[[rule]]\nid='a'\nname='a'\nseverity='urgent'\nquery='any where true'\n"),
            [(Some(1), Some(1))]
        );
        assert_eq!(pack_positions("\n[[rule]\nid='a'"), [(Some(2), Some(8))]);
    }

    #[test]
    fn duplicate_ids_and_syntax() {
        let dup = "[[rule]]\nid='a'\nname='a'\nseverity='low'\nquery='any where true'\n".repeat(2);
        assert!(load(&dup).err().unwrap_or_default()[0].starts_with("E204"));
        let bad = load("[[rule]\nid='a'").err().unwrap_or_default();
        assert!(bad[0].starts_with("E200") && bad[0].contains("at 1:"), "{bad:?}");
        let unknown = load("[[rule]]\nid='a'\nname='a'\nseverity='low'\nquery='any where true'\ncolour='red'\n")
            .err()
            .unwrap_or_default();
        assert!(unknown[0].starts_with("E201 rule \"a\" at 1:1") && unknown[0].contains("colour"), "{unknown:?}");
    }
}
