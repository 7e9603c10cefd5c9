//! Sigma correlation rules (specification v2): `event_count`, `value_count`,
//! `temporal` and `temporal_ordered` over the rules and correlations they
//! name, read from `correlation:` documents and compiled here; the engine
//! runs them on the scoring state (`score/correlation.rs`).
//!
//! A correlation is also a rule of the rule set (its query never matches an
//! event by itself): the event that completes it is a match of that rule, so
//! its alert takes the path of every other match (verdict, tags, scoring).

use super::fields::{Logsource, Pipelines, Target};
use super::yaml::{Node, Plain};
use super::{Compiled, Compiler, Header};
use crate::eql::{Document, Expr, FieldPath, Query, Scalar};
use crate::error::{Error, ErrorKind};
use crate::rules::Rule;

/// The largest count a condition may name. A group keeps at most one more
/// than its condition's largest value of anything (events per second,
/// distinct values), so this bounds a group's memory.
pub(crate) const MAX_COUNT: u64 = 1000;

/// The longest timespan, in seconds (about 136 years): event times lie within
/// ±2^40 s, so window arithmetic never overflows.
const MAX_TIMESPAN: i64 = 1 << 32;

/// The correlation types modwatch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    /// Events of the named rules, per group.
    EventCount,
    /// Distinct values of `condition.field`, per group.
    ValueCount,
    /// How many of the named rules matched, per group, in any order.
    Temporal,
    /// How many of the named rules matched in their order, per group.
    TemporalOrdered,
}

impl Type {
    /// The specification's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Type::EventCount => "event_count",
            Type::ValueCount => "value_count",
            Type::Temporal => "temporal",
            Type::TemporalOrdered => "temporal_ordered",
        }
    }

    fn parse(text: &str) -> Option<Type> {
        [Type::EventCount, Type::ValueCount, Type::Temporal, Type::TemporalOrdered]
            .into_iter()
            .find(|t| t.name() == text)
    }

    fn is_temporal(self) -> bool {
        matches!(self, Type::Temporal | Type::TemporalOrdered)
    }
}

/// A condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

const OPS: [(&str, Op); 6] =
    [("gt", Op::Gt), ("gte", Op::Gte), ("lt", Op::Lt), ("lte", Op::Lte), ("eq", Op::Eq), ("neq", Op::Neq)];

impl Op {
    pub(crate) fn name(self) -> &'static str {
        OPS.iter().find(|(_, o)| *o == self).map_or("", |(n, _)| n)
    }

    fn holds(self, count: u64, value: u64) -> bool {
        match self {
            Op::Gt => count > value,
            Op::Gte => count >= value,
            Op::Lt => count < value,
            Op::Lte => count <= value,
            Op::Eq => count == value,
            Op::Neq => count != value,
        }
    }
}

/// What a correlation counts: a rule's matches, or another correlation's
/// alerts (a chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The index of a rule in the rule set.
    Rule(usize),
    /// The index of a correlation (an earlier one: correlations are kept in
    /// an order where each comes after those it counts).
    Correlation(usize),
}

/// A Sigma field as a correlation reads it from an event: the fields it
/// maps to under the rule's logsource, the first value found.
#[derive(Debug)]
pub(crate) struct Read(Vec<(FieldPath, bool)>);

impl Read {
    fn new(targets: Vec<Target>) -> Read {
        Read(targets.into_iter().map(|t| (FieldPath::new(t.field), t.segment)).collect())
    }

    /// The field's first value, as text (a `FIELD/*` target: its first
    /// `/`-separated segment); `None` when no target has a value.
    pub(crate) fn value(&self, doc: &dyn Document) -> Option<String> {
        let mut out = None;
        for (path, segment) in &self.0 {
            doc.any_value(path, &mut |v| {
                let text = match v {
                    Scalar::Str(s) => s.to_string(),
                    Scalar::Num(n) => n.as_str().to_string(),
                    Scalar::Bool(b) => b.to_string(),
                };
                let text = if *segment { text.split('/').next().unwrap_or_default().to_string() } else { text };
                out = Some(text).filter(|t| !t.is_empty());
                out.is_some()
            });
            if out.is_some() {
                break;
            }
        }
        out
    }
}

/// One rule a correlation names, with how it reads the group-by fields (and
/// `value_count`'s field) from the events that rule matches.
#[derive(Debug)]
pub(crate) struct Input {
    pub(crate) source: Source,
    /// One per `group-by` entry (aliases resolved for this rule).
    pub(crate) group: Vec<Read>,
    /// One per `condition.field` entry (`value_count`).
    pub(crate) field: Vec<Read>,
}

/// A compiled correlation rule.
#[derive(Debug)]
pub(crate) struct Correlation {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) level: String,
    /// Its rule in the rule set: the event that completes the correlation is
    /// a match of this rule.
    pub(crate) rule: usize,
    pub(crate) kind: Type,
    /// Seconds.
    pub(crate) timespan: i64,
    /// As written (`10m`).
    pub(crate) timespan_text: String,
    pub(crate) group_by: Vec<String>,
    /// Every criterion must hold (`gt: 100` and `lte: 200` is a range).
    pub(crate) condition: Vec<(Op, u64)>,
    /// `value_count`'s `condition.field`.
    pub(crate) field: Vec<String>,
    /// The rules it names, in order.
    pub(crate) inputs: Vec<Input>,
    /// Named by another correlation without `generate: true`: it feeds that
    /// one and raises no alert of its own.
    pub(crate) silent: bool,
}

impl Correlation {
    /// Counts at or above this are not told apart: the condition decides
    /// the same for all of them.
    pub(crate) fn limit(&self) -> u64 {
        self.condition.iter().map(|(_, v)| v + 1).max().unwrap_or(1)
    }

    /// True if the condition holds for this count.
    pub(crate) fn holds(&self, count: u64) -> bool {
        self.condition.iter().all(|(op, v)| op.holds(count, *v))
    }
}

/// The Sigma rules of a load, by the `name` and `id` correlations refer to
/// them by.
#[derive(Default)]
pub(super) struct Known {
    /// (name or id, rule index, its logsource)
    rules: Vec<(String, usize, Logsource)>,
    /// The names and ids of documents that did not compile (their errors are
    /// reported; a correlation naming them adds none).
    broken: Vec<String>,
}

impl Known {
    pub(super) fn add(&mut self, index: usize, compiled: &Compiled) {
        let lower = compiled.rule.id.to_ascii_lowercase();
        self.rules.push((lower, index, compiled.logsource.clone()));
        if let Some(name) = &compiled.name {
            self.rules.push((name.clone(), index, compiled.logsource.clone()));
        }
    }

    pub(super) fn broken(&mut self, doc: &Node) {
        for key in ["id", "name", "title"] {
            if let Some(v) = doc.get(key).and_then(Node::str) {
                self.broken.push(v.to_string());
                self.broken.push(v.to_ascii_lowercase());
            }
        }
    }

    pub(super) fn find(&self, reference: &str) -> Option<(usize, &Logsource)> {
        let lower = reference.to_ascii_lowercase();
        self.rules.iter().find(|(k, _, _)| *k == reference || *k == lower).map(|(_, i, l)| (*i, l))
    }
}

/// An alias's field for one rule: (rule reference, field, the reference's
/// node).
type AliasField<'n> = (&'n str, String, &'n Node);

/// A correlation document, read and checked, its references not yet resolved.
struct Parsed<'n> {
    file: &'n str,
    header: Header,
    kind: Type,
    rules_node: &'n Node,
    refs: Vec<(&'n str, &'n Node)>,
    group_by: Vec<String>,
    timespan: i64,
    timespan_text: String,
    condition: Vec<(Op, u64)>,
    field: Vec<String>,
    aliases: Vec<(String, Vec<AliasField<'n>>)>,
    generate: bool,
}

const KEYS: &[&str] = &["type", "rules", "group-by", "timespan", "condition", "aliases", "generate"];

/// Compiles the correlation documents: each becomes a rule (pushed onto
/// `rules`) and a correlation (pushed onto `out`, each after those it
/// counts). Every problem of every document is reported at once.
pub(super) fn compile(
    docs: &[(&str, &Node)],
    pipelines: &Pipelines,
    known: &Known,
    rules: &mut Vec<Rule>,
    out: &mut Vec<Correlation>,
    errors: &mut Vec<Error>,
) {
    let before = errors.len();
    let mut parsed = Vec::new();
    for &(file, doc) in docs {
        let mut c = Compiler { file, pipelines, errors: Vec::new(), rule_id: None };
        let p = parse(&mut c, file, doc);
        errors.extend(c.errors);
        parsed.extend(p);
    }
    // Names and ids of the correlations themselves (chains).
    let own = |reference: &str| {
        let lower = reference.to_ascii_lowercase();
        parsed.iter().position(|p: &Parsed<'_>| p.header.id == lower || p.header.name.as_deref() == Some(reference))
    };
    let mut resolved: Vec<Vec<Source>> = Vec::new();
    for p in &parsed {
        let mut c = Compiler { file: p.file, pipelines, errors: Vec::new(), rule_id: Some(p.header.id.clone()) };
        let mut sources = Vec::new();
        for &(reference, node) in &p.refs {
            if let Some(k) = own(reference) {
                sources.push(Source::Correlation(k));
            } else if let Some((i, _)) = known.find(reference) {
                sources.push(Source::Rule(i));
            } else if !known.broken.iter().any(|b| b == reference) {
                c.fail(
                    ErrorKind::RuleInvalid,
                    node,
                    format!("`rules` names {reference:?}, which is no Sigma rule or correlation rule here (by `name` or `id`)"),
                );
            }
        }
        if p.kind.is_temporal() && (1..sources.len()).any(|i| sources[..i].contains(&sources[i])) {
            c.fail(ErrorKind::RuleInvalid, p.rules_node, "a temporal correlation names each rule once");
        }
        for (alias, mapping) in &p.aliases {
            for (reference, _, node) in mapping {
                if !p.refs.iter().any(|(r, _)| r == reference) {
                    c.fail(
                        ErrorKind::RuleInvalid,
                        node,
                        format!("alias {alias:?} maps rule {reference:?}, which `rules` does not name"),
                    );
                }
            }
        }
        errors.extend(c.errors);
        resolved.push(sources);
    }
    let order = match order(&resolved) {
        Ok(order) => order,
        Err(k) => {
            let p = &parsed[k];
            let mut c = Compiler { file: p.file, pipelines, errors: Vec::new(), rule_id: Some(p.header.id.clone()) };
            c.fail(ErrorKind::RuleInvalid, p.rules_node, "correlation rules name each other in a cycle");
            errors.extend(c.errors);
            return;
        }
    };
    if errors.len() > before {
        return;
    }
    // Built in dependency order: `position[k]` is where document k lands.
    let mut position = vec![usize::MAX; parsed.len()];
    let mut logsources: Vec<Logsource> = Vec::new();
    let mut parsed: Vec<Option<Parsed<'_>>> = parsed.into_iter().map(Some).collect();
    for k in order {
        let Some(p) = parsed[k].take() else { continue };
        let sources: Vec<Source> = resolved[k]
            .iter()
            .map(|s| match *s {
                Source::Correlation(j) => Source::Correlation(position[j]),
                rule => rule,
            })
            .collect();
        let logsource_of = |s: &Source| match *s {
            Source::Rule(i) => known.rules.iter().find(|(_, r, _)| *r == i).map(|(_, _, l)| l.clone()),
            Source::Correlation(j) => logsources.get(j).cloned(),
        };
        let mut inputs = Vec::new();
        for (source, (reference, _)) in sources.iter().zip(&p.refs) {
            let logsource = logsource_of(source).unwrap_or_default();
            let read = |name: &str| {
                let field = p
                    .aliases
                    .iter()
                    .find(|(alias, _)| alias == name)
                    .and_then(|(_, m)| m.iter().find(|(r, _, _)| r == reference))
                    .map_or(name, |(_, f, _)| f.as_str());
                Read::new(pipelines.targets(&logsource, field))
            };
            inputs.push(Input {
                source: *source,
                group: p.group_by.iter().map(|g| read(g.as_str())).collect(),
                field: p.field.iter().map(|f| read(f.as_str())).collect(),
            });
        }
        let logsource = sources.first().and_then(logsource_of).unwrap_or_default();
        if !p.generate {
            for s in &sources {
                let rule = match *s {
                    Source::Rule(i) => i,
                    Source::Correlation(j) => {
                        out[j].silent = true;
                        out[j].rule
                    }
                };
                if let Some(meta) = rules.get_mut(rule).and_then(|r| r.sigma.as_mut()) {
                    meta.silent = true;
                }
            }
        }
        let (id, title, level) = (p.header.id.clone(), p.header.title.clone(), p.header.level.clone());
        let never = Query::from_condition(Expr::Const(false));
        rules.push(p.header.into_rule(never, logsource.describe(), true, Default::default()));
        position[k] = out.len();
        logsources.push(logsource);
        out.push(Correlation {
            id,
            title,
            level,
            rule: rules.len() - 1,
            kind: p.kind,
            timespan: p.timespan,
            timespan_text: p.timespan_text,
            group_by: p.group_by,
            condition: p.condition,
            field: p.field,
            inputs,
            silent: false,
        });
    }
}

/// The correlations in an order where each comes after those it names, or
/// one of a cycle.
fn order(resolved: &[Vec<Source>]) -> Result<Vec<usize>, usize> {
    // 0: not visited, 1: on the path, 2: done.
    let mut mark = vec![0u8; resolved.len()];
    let mut out = Vec::with_capacity(resolved.len());
    fn visit(k: usize, resolved: &[Vec<Source>], mark: &mut [u8], out: &mut Vec<usize>) -> Result<(), usize> {
        match mark[k] {
            1 => return Err(k),
            2 => return Ok(()),
            _ => {}
        }
        mark[k] = 1;
        for s in &resolved[k] {
            if let Source::Correlation(j) = *s {
                visit(j, resolved, mark, out)?;
            }
        }
        mark[k] = 2;
        out.push(k);
        Ok(())
    }
    for k in 0..resolved.len() {
        visit(k, resolved, &mut mark, &mut out)?;
    }
    Ok(out)
}

/// Reads and checks one correlation document; `None` after reporting a
/// problem.
fn parse<'n>(c: &mut Compiler<'_>, file: &'n str, doc: &'n Node) -> Option<Parsed<'n>> {
    if !doc.is_map() {
        c.fail(ErrorKind::RuleInvalid, doc, "a Sigma document must be a mapping (a rule or a pipeline)");
        return None;
    }
    let header = c.header(doc);
    let Some(corr) = doc.get("correlation").filter(|n| n.is_map()) else {
        c.fail(ErrorKind::RuleInvalid, doc.get("correlation").unwrap_or(doc), "`correlation` is a mapping");
        return None;
    };
    let corr_at = key_node(doc, "correlation").unwrap_or(corr);
    for (key, _) in corr.entries() {
        if key.str().is_none_or(|k| !KEYS.contains(&k)) {
            c.fail(
                ErrorKind::RuleInvalid,
                key,
                format!("unknown correlation key {:?} (known: {})", key.str().unwrap_or_default(), KEYS.join(", ")),
            );
        }
    }
    let kind = match corr.get("type") {
        None => {
            c.fail(ErrorKind::RuleInvalid, corr_at, "a correlation needs a `type`");
            None
        }
        Some(node) => {
            let text = node.str().unwrap_or_default();
            let kind = Type::parse(text);
            if kind.is_none() {
                let why = if text.starts_with("value_") {
                    "is not supported: modwatch runs event_count, value_count, temporal and temporal_ordered"
                } else {
                    "is not a correlation type (event_count, value_count, temporal, temporal_ordered)"
                };
                c.fail(ErrorKind::RuleInvalid, node, format!("correlation type {text:?} {why}"));
            }
            kind
        }
    };
    let rules_node = corr.get("rules");
    let mut refs = Vec::new();
    match rules_node {
        None => c.fail(
            ErrorKind::RuleInvalid,
            corr_at,
            "a correlation needs `rules`: the names or ids of the rules it counts",
        ),
        Some(node) => {
            for item in node.items() {
                match item.str() {
                    Some(r) => refs.push((r, item)),
                    None => c.fail(ErrorKind::RuleInvalid, item, "a rule reference is a name or an id"),
                }
            }
            if refs.is_empty() && node.items().is_empty() {
                c.fail(ErrorKind::RuleInvalid, node, "`rules` is empty");
            }
        }
    }
    let group_by = match corr.get("group-by") {
        None => Vec::new(),
        Some(node) => {
            let items = node.items();
            let names: Vec<String> = items.iter().filter_map(|n| n.str()).map(str::to_string).collect();
            if names.len() != items.len() {
                c.fail(ErrorKind::RuleInvalid, node, "`group-by` is a list of field names");
            }
            names
        }
    };
    let (timespan, timespan_text) = match corr.get("timespan") {
        None => {
            c.fail(ErrorKind::RuleInvalid, corr_at, "a correlation needs a `timespan` (such as 10m)");
            (1, String::new())
        }
        Some(node) => {
            let text = node.str().unwrap_or_default().to_string();
            match timespan_seconds(&text) {
                Some(secs) => (secs, text),
                None => {
                    c.fail(
                        ErrorKind::RuleInvalid,
                        node,
                        format!("timespan {text:?} is not a positive number followed by s, m, h, d or w (90m)"),
                    );
                    (1, text)
                }
            }
        }
    };
    let mut condition = Vec::new();
    let mut field = Vec::new();
    match corr.get("condition") {
        None => {
            if kind.is_some_and(Type::is_temporal) {
                // Every rule it names: the specification's default.
                condition.push((Op::Gte, refs.len() as u64));
            } else if kind.is_some() {
                c.fail(
                    ErrorKind::RuleInvalid,
                    corr_at,
                    "an event_count or value_count correlation needs a `condition`",
                );
            }
        }
        Some(node) if node.is_map() => {
            let at = key_node(corr, "condition").unwrap_or(node);
            let mut ops = 0;
            for (key, value) in node.entries() {
                let name = key.str().unwrap_or_default();
                if name == "field" {
                    let items = value.items();
                    field = items.iter().filter_map(|n| n.str()).map(str::to_string).collect();
                    if field.len() != items.len() || field.is_empty() {
                        c.fail(ErrorKind::RuleInvalid, value, "`field` is a field name or a list of them");
                    }
                    continue;
                }
                let Some((_, op)) = OPS.iter().find(|(n, _)| *n == name) else {
                    ops += 1;
                    c.fail(
                        ErrorKind::RuleInvalid,
                        key,
                        format!("unknown condition {name:?}: gt, gte, lt, lte, eq, neq, or field"),
                    );
                    continue;
                };
                ops += 1;
                match value.scalar() {
                    Some(Plain::Int(n)) if n.parse::<u64>().is_ok_and(|n| n <= MAX_COUNT) => {
                        condition.push((*op, n.parse().unwrap_or(0)));
                    }
                    _ => c.fail(
                        ErrorKind::RuleInvalid,
                        value,
                        format!("{name} takes a whole number from 0 to {MAX_COUNT}"),
                    ),
                }
            }
            if ops == 0 {
                c.fail(ErrorKind::RuleInvalid, at, "a condition needs one of gt, gte, lt, lte, eq, neq");
            }
            if kind == Some(Type::ValueCount) && node.get("field").is_none() {
                c.fail(ErrorKind::RuleInvalid, at, "a value_count condition needs the `field` whose values it counts");
            }
            if let Some(f) = node.get("field").filter(|_| kind.is_some_and(|k| k != Type::ValueCount)) {
                c.fail(ErrorKind::RuleInvalid, f, "`field` belongs to value_count correlations");
            }
        }
        Some(node) => c.fail(
            ErrorKind::RuleInvalid,
            node,
            "a correlation condition is a mapping such as `gte: 3`; expressions over rule names are not supported",
        ),
    }
    let mut aliases = Vec::new();
    if let Some(node) = corr.get("aliases") {
        if !node.is_map() {
            c.fail(ErrorKind::RuleInvalid, node, "`aliases` maps each alias to a mapping of rule name → field");
        }
        for (alias, mapping) in node.entries() {
            let Some(alias) = alias.str() else { continue };
            if !mapping.is_map() {
                c.fail(ErrorKind::RuleInvalid, mapping, format!("alias {alias:?} maps rule names to fields"));
                continue;
            }
            let mut pairs = Vec::new();
            for (reference, f) in mapping.entries() {
                match (reference.str(), f.str()) {
                    (Some(r), Some(f)) => pairs.push((r, f.to_string(), reference)),
                    _ => c.fail(ErrorKind::RuleInvalid, reference, "an alias maps a rule name to a field name"),
                }
            }
            aliases.push((alias.to_string(), pairs));
        }
    }
    let generate = match corr.get("generate").or_else(|| doc.get("generate")) {
        None => false,
        Some(node) => match node.scalar() {
            Some(Plain::Bool(b)) => b,
            _ => {
                c.fail(ErrorKind::RuleInvalid, node, "`generate` is true or false");
                false
            }
        },
    };
    if !c.errors.is_empty() {
        return None;
    }
    Some(Parsed {
        file,
        header,
        kind: kind?,
        rules_node: rules_node?,
        refs,
        group_by,
        timespan,
        timespan_text,
        condition,
        field,
        aliases,
        generate,
    })
}

/// The key node of `name` in a mapping (where a problem with its whole
/// value is reported: a block mapping's own position is after its first key).
fn key_node<'n>(map: &'n Node, name: &str) -> Option<&'n Node> {
    map.entries().iter().find(|(k, _)| k.str() == Some(name)).map(|(k, _)| k)
}

/// Seconds of a timespan: a positive whole number and a unit, `s`, `m`,
/// `h`, `d` or `w`.
fn timespan_seconds(text: &str) -> Option<i64> {
    let unit = match text.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    let digits = &text[..text.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let secs = n.checked_mul(unit)?;
    (secs > 0 && secs <= MAX_TIMESPAN).then_some(secs)
}

#[cfg(test)]
mod tests {
    use super::timespan_seconds;

    #[test]
    fn timespans() {
        assert_eq!(timespan_seconds("90m"), Some(5400));
        assert_eq!(timespan_seconds("1d"), Some(86_400));
        assert_eq!(timespan_seconds("2w"), Some(1_209_600));
        for bad in ["", "m", "0s", "10", "1M", "-1h", "1.5h", "99999999999999w"] {
            assert_eq!(timespan_seconds(bad), None, "{bad:?}");
        }
    }
}
