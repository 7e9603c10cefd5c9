//! Sigma rules (specification v2) as a rule-pack format: YAML rules compiled
//! into the engine's own rules, so they take the same path as EQL rules
//! (prefilter literals, matching on the normalised view, verdicts, tags,
//! per-principal scoring). `docs/sigma.md` documents what is supported.
//!
//! A Sigma text is one or more YAML documents: rules (`detection`),
//! correlation rules over them (`correlation`, in `correlation.rs`), and
//! pipelines (`transformations`) that map a logsource's field names onto the
//! fields modwatch reads (`rules/sigma-pipeline.yml` is the built-in one).
//! Every problem of every rule is reported at once, with its line and column.

mod condition;
pub(crate) mod correlation;
mod custom;
#[cfg(feature = "export")]
pub(crate) mod export;
mod fields;
pub(crate) mod yaml;

use crate::eql::{Cidr, Cmp, Expr, FieldPath, Leaf, Lit, NumLit, Query, Test, Tok, Wildcard};
use crate::error::{Error, ErrorKind, Location};
use crate::rules::{About, Rule, Severity};
use condition::Cond;
pub(crate) use correlation::Correlation;
use fields::{Logsource, Pipelines, Target};
use yaml::{Kind, Node, Plain};

/// The field name a keyword search (an unnamed value list) reads: every
/// scalar of the record, at any depth.
pub(crate) const EVERY_VALUE: &str = "**";

/// What a Sigma rule adds to a compiled rule.
#[derive(Debug)]
pub(crate) struct Meta {
    pub(crate) title: String,
    pub(crate) level: String,
    pub(crate) status: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) falsepositives: Vec<String>,
    pub(crate) logsource: String,
    /// The category and points of a match whose operation is not in the
    /// catalogue: `SIGMA`, with points from the level.
    pub(crate) points: u32,
    /// `threat.tactic` from an ATT&CK tactic tag.
    pub(crate) tactic: Option<(&'static str, &'static str)>,
    /// Named by a correlation rule without `generate: true`: its matches
    /// feed the correlation and are not matches of their own.
    pub(crate) silent: bool,
}

/// The category of a Sigma match whose operation the catalogue does not know.
pub(crate) const CATEGORY: &str = "SIGMA";

/// True if a rule text is Sigma YAML rather than a TOML pack: a top-level
/// `title:`, `detection:`, `correlation:` or `transformations:` key.
pub(crate) fn is_sigma(text: &str) -> bool {
    text.lines()
        .any(|l| ["title:", "detection:", "correlation:", "transformations:", "---"].iter().any(|k| l.starts_with(k)))
}

/// One Sigma text: its file name and YAML documents.
pub(crate) struct Source<'t> {
    pub(crate) file: &'t str,
    pub(crate) text: &'t str,
}

/// Loads the Sigma sources: pipelines first (from every source, then the
/// built-in one), then every rule, then the correlation rules over them.
/// Rules whose logsource no pipeline maps load without matching anything,
/// with a warning.
pub(crate) fn load(
    sources: &[Source<'_>],
    rules: &mut Vec<Rule>,
    correlations: &mut Vec<Correlation>,
    errors: &mut Vec<Error>,
    warnings: &mut Vec<Error>,
) {
    let mut docs: Vec<(&str, Vec<Node>)> = Vec::new();
    for source in sources {
        match yaml::documents(source.text) {
            Ok(d) => docs.push((source.file, d)),
            Err(e) => errors.push(at(ErrorKind::RulePackSyntax, source.file, None, e.line, e.column, e.message)),
        }
    }
    let mut pipelines = Pipelines::default();
    for (file, doc) in docs.iter().flat_map(|(f, d)| d.iter().map(move |n| (*f, n))) {
        if fields::is_pipeline(doc) {
            for (msg, line, column) in pipelines.add(doc) {
                errors.push(at(ErrorKind::RuleInvalid, file, None, line, column, msg));
            }
        }
    }
    match yaml::documents(fields::BUILTIN) {
        Ok(builtin) => builtin.iter().for_each(|d| {
            pipelines.add(d);
        }),
        Err(e) => errors.push(at(ErrorKind::RulePackSyntax, "sigma-pipeline.yml", None, e.line, e.column, e.message)),
    }
    let mut known = correlation::Known::default();
    let mut pending = Vec::new();
    for (file, doc) in docs.iter().flat_map(|(f, d)| d.iter().map(move |n| (*f, n))) {
        if fields::is_pipeline(doc) {
            continue;
        }
        if doc.get("correlation").is_some() {
            pending.push((file, doc));
            continue;
        }
        let mut c = Compiler { file, pipelines: &pipelines, errors: Vec::new(), rule_id: None };
        match c.rule(doc, warnings) {
            Some(compiled) => {
                if let Some(name) = compiled.name.as_deref().filter(|n| known.find(n).is_some()) {
                    let (line, column) = doc.get("name").map_or(compiled.rule.id_at, |n| (n.line, n.column));
                    let msg = format!("rule name {name:?} is used twice: correlation rules refer to rules by it");
                    errors.push(at(ErrorKind::RuleInvalid, file, Some(compiled.rule.id.clone()), line, column, msg));
                }
                known.add(rules.len(), &compiled);
                rules.push(compiled.rule);
            }
            None => known.broken(doc),
        }
        errors.extend(c.errors);
    }
    correlation::compile(&pending, &pipelines, &known, rules, correlations, errors);
}

fn at(kind: ErrorKind, file: &str, rule_id: Option<String>, line: u32, column: u32, msg: String) -> Error {
    Error::new(kind, format!("{file}: {msg}")).at(Location {
        rule_id,
        line,
        column,
        pack_line: Some(line),
        pack_column: Some(column),
    })
}

struct Compiler<'a> {
    file: &'a str,
    pipelines: &'a Pipelines,
    errors: Vec<Error>,
    rule_id: Option<String>,
}

/// A compiled Sigma rule, with what correlation rules refer to it by.
struct Compiled {
    rule: Rule,
    logsource: Logsource,
    name: Option<String>,
}

/// The part of a rule document every Sigma rule has, correlation or not.
struct Header {
    id: String,
    title: String,
    level: String,
    severity: Severity,
    /// From the level.
    points: u32,
    tags: Vec<String>,
    falsepositives: Vec<String>,
    status: Option<String>,
    /// The `name` correlations refer to the rule by.
    name: Option<String>,
    /// The document's line and column.
    at: (u32, u32),
    /// Description, false positives and references, kept for export.
    about: About,
}

impl Header {
    /// The engine's rule: `own_category` for a correlation, whose alert is
    /// its own category (`SIGMA`, points from its level) whatever operation
    /// the event that completes it has.
    /// `custom` is the rule's own `modwatch:` attribute, which wins.
    fn into_rule(self, query: Query, logsource: String, own_category: bool, custom: custom::Custom) -> Rule {
        let (technique, subtechnique) = technique_of(&self.tags);
        let tactic = self.tags.iter().find_map(|t| tactic_of(t));
        Rule {
            id: self.id,
            name: self.title.clone(),
            ruleset: "sigma".to_string(),
            severity: self.severity,
            risk_score: self.severity.risk_score(),
            category: custom.category.or_else(|| own_category.then(|| CATEGORY.to_string())),
            points: custom.points.or(own_category.then_some(self.points)),
            technique: technique.unwrap_or_else(|| "T1578".to_string()),
            subtechnique,
            query,
            foreign_account: None,
            own_account: None,
            bulk: custom.bulk,
            examples: Vec::new(),
            id_at: self.at,
            about: self.about,
            sigma: Some(Box::new(Meta {
                title: self.title,
                level: self.level,
                status: self.status,
                tags: self.tags,
                falsepositives: self.falsepositives,
                logsource,
                points: self.points,
                tactic,
                silent: false,
            })),
        }
    }
}

/// A field's value modifiers.
#[derive(Debug, Default)]
struct Mods {
    contains: bool,
    startswith: bool,
    endswith: bool,
    all: bool,
    re: bool,
    re_flags: String,
    cidr: bool,
    exists: bool,
    cased: bool,
    base64: bool,
    base64offset: bool,
    cmp: Option<Cmp>,
    fieldref: bool,
}

impl Compiler<'_> {
    fn fail(&mut self, kind: ErrorKind, node: &Node, msg: impl Into<String>) {
        let e = at(kind, self.file, self.rule_id.clone(), node.line, node.column, msg.into());
        self.errors.push(e);
    }

    /// What a rule and a correlation rule have alike: id, title, level and
    /// the metadata that reaches the output.
    fn header(&mut self, doc: &Node) -> Header {
        let title = doc.get("title").and_then(Node::str).map(str::to_string);
        let id = match doc.get("id").and_then(Node::str) {
            Some(id) => id.to_ascii_lowercase(),
            None => title.as_deref().map(slug).unwrap_or_default(),
        };
        self.rule_id = Some(id.clone());
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            self.fail(
                ErrorKind::RuleInvalid,
                doc.get("id").unwrap_or(doc),
                format!("rule id {id:?} must be letters, digits, '-' and '_' (a UUID)"),
            );
        }
        if title.is_none() {
            self.fail(ErrorKind::RuleInvalid, doc, "a Sigma rule needs a `title`");
        }
        let level = doc.get("level").and_then(Node::str).unwrap_or("medium").to_ascii_lowercase();
        let (severity, points) = match level.as_str() {
            "informational" => (Severity::Low, 0),
            "low" => (Severity::Low, 1),
            "medium" => (Severity::Medium, 2),
            "high" => (Severity::High, 3),
            "critical" => (Severity::Critical, 5),
            _ => {
                self.fail(
                    ErrorKind::RuleInvalid,
                    doc.get("level").unwrap_or(doc),
                    format!("level must be informational, low, medium, high or critical, not {level:?}"),
                );
                (Severity::Medium, 2)
            }
        };
        let list = |key: &str| -> Vec<String> {
            doc.get(key).map(|t| t.strings().into_iter().map(str::to_string).collect()).unwrap_or_default()
        };
        Header {
            id,
            title: title.unwrap_or_default(),
            level,
            severity,
            points,
            tags: list("tags"),
            falsepositives: list("falsepositives"),
            status: doc.get("status").and_then(Node::str).map(str::to_string),
            name: doc.get("name").and_then(Node::str).map(str::to_string),
            at: (doc.line, doc.column),
            about: About {
                description: doc.get("description").and_then(Node::str).map(str::to_string),
                false_positives: list("falsepositives"),
                references: list("references"),
            },
        }
    }

    fn rule(&mut self, doc: &Node, warnings: &mut Vec<Error>) -> Option<Compiled> {
        if !doc.is_map() {
            self.fail(ErrorKind::RuleInvalid, doc, "a Sigma document must be a mapping (a rule or a pipeline)");
            return None;
        }
        let header = self.header(doc);
        let id = header.id.clone();
        let logsource = match doc.get("logsource").filter(|l| l.is_map()) {
            Some(l) => Logsource::from_node(l),
            None => {
                self.fail(ErrorKind::RuleInvalid, doc, "a Sigma rule needs a `logsource` mapping");
                Logsource::default()
            }
        };
        let (custom, problems) = custom::read(doc);
        for (node, msg) in problems {
            self.fail(ErrorKind::RuleInvalid, node, msg);
        }
        let Some(detection) = doc.get("detection").filter(|d| d.is_map()) else {
            self.fail(ErrorKind::RuleInvalid, doc, "a Sigma rule needs a `detection` mapping");
            return None;
        };
        let cond = self.detection(detection, &logsource);
        let known = self.pipelines.knows(&logsource);
        if !known && self.errors.is_empty() {
            warnings.push(at(
                ErrorKind::RuleUnsupported,
                self.file,
                Some(id.clone()),
                doc.get("logsource").map_or(doc.line, |l| l.line),
                doc.get("logsource").map_or(doc.column, |l| l.column),
                format!(
                    "logsource ({}) is not one modwatch reads (aws/cloudtrail, azure/activitylogs, gcp/gcp.audit, or a pipeline's): the rule never matches",
                    logsource.describe()
                ),
            ));
        }
        if !self.errors.is_empty() {
            return None;
        }
        let cond = if known { cond? } else { Expr::Const(false) };
        let described = logsource.describe();
        let name = header.name.clone();
        Some(Compiled {
            rule: header.into_rule(Query::from_condition(cond), described, false, custom),
            logsource,
            name,
        })
    }

    /// The detection's condition, compiled; `None` after reporting a problem.
    fn detection(&mut self, detection: &Node, logsource: &Logsource) -> Option<Expr> {
        let searches: Vec<(&str, &Node)> = detection
            .entries()
            .iter()
            .filter_map(|(k, v)| Some((k.str()?, v)))
            .filter(|(k, _)| *k != "condition" && *k != "timeframe")
            .collect();
        if let Some(tf) = detection.get("timeframe") {
            self.fail(
                ErrorKind::RuleInvalid,
                tf,
                "`timeframe` belongs to aggregations, which modwatch does not run: use a correlation rule",
            );
        }
        // Compile every search once, to report all of their problems.
        let before = self.errors.len();
        for (_, node) in &searches {
            self.search(node, logsource);
        }
        let Some(cond_node) = detection.get("condition") else {
            self.fail(ErrorKind::RuleInvalid, detection, "the detection needs a `condition`");
            return None;
        };
        let mut parts = Vec::new();
        for item in cond_node.items() {
            let Some(text) = item.str() else {
                self.fail(ErrorKind::RuleInvalid, item, "a condition is a string");
                continue;
            };
            match condition::parse(text) {
                Ok(cond) => parts.push((cond, item)),
                Err(e) => {
                    // The condition's own position, plus the offset inside it
                    // when it sits on one line after `condition: `.
                    let mut node = item.clone();
                    if !text.contains('\n') {
                        let quoted = u32::from(!matches!(item.kind, Kind::Scalar { plain: true, .. }));
                        node.column += e.offset as u32 + quoted;
                    }
                    self.fail(ErrorKind::QuerySyntax, &node, format!("condition: {}", e.message));
                }
            }
        }
        if self.errors.len() > before {
            return None;
        }
        let mut exprs = Vec::new();
        for (cond, node) in parts {
            exprs.push(self.condition(&cond, node, &searches, logsource)?);
        }
        Some(Expr::any(exprs))
    }

    fn condition(
        &mut self,
        cond: &Cond,
        node: &Node,
        searches: &[(&str, &Node)],
        logsource: &Logsource,
    ) -> Option<Expr> {
        Some(match cond {
            Cond::Ident(name) => match searches.iter().find(|(k, _)| k == name) {
                Some((_, s)) => self.search(s, logsource)?,
                None => {
                    self.fail(
                        ErrorKind::QuerySyntax,
                        node,
                        format!("condition names {name:?}, which is not a search identifier"),
                    );
                    return None;
                }
            },
            Cond::OneOf(pattern) | Cond::AllOf(pattern) => {
                let chosen: Vec<&Node> = searches
                    .iter()
                    .filter(|(k, _)| pattern.as_deref().is_none_or(|p| condition::pattern_matches(p, k)))
                    .map(|(_, n)| *n)
                    .collect();
                if chosen.is_empty() {
                    let what = pattern.as_deref().unwrap_or("them");
                    self.fail(
                        ErrorKind::QuerySyntax,
                        node,
                        format!("condition: no search identifier matches {what:?}"),
                    );
                    return None;
                }
                let mut parts = Vec::new();
                for n in chosen {
                    parts.push(self.search(n, logsource)?);
                }
                if matches!(cond, Cond::OneOf(_)) { Expr::any(parts) } else { Expr::all(parts) }
            }
            Cond::Not(inner) => self.condition(inner, node, searches, logsource)?.negate(),
            Cond::And(parts) | Cond::Or(parts) => {
                let mut out = Vec::new();
                for p in parts {
                    out.push(self.condition(p, node, searches, logsource)?);
                }
                if matches!(cond, Cond::And(_)) { Expr::all(out) } else { Expr::any(out) }
            }
        })
    }

    /// One search identifier: a map (all of its fields), a list of maps (any
    /// of them), or a list of keywords (any, anywhere in the event).
    fn search(&mut self, node: &Node, logsource: &Logsource) -> Option<Expr> {
        match &node.kind {
            Kind::Map(entries) => {
                let mut parts = Vec::new();
                let mut ok = true;
                for (key, value) in entries {
                    let Some(key_text) = key.str() else {
                        self.fail(ErrorKind::RuleInvalid, key, "a field name is a string");
                        ok = false;
                        continue;
                    };
                    match self.field(key_text, key, value, logsource) {
                        Some(e) => parts.push(e),
                        None => ok = false,
                    }
                }
                ok.then(|| Expr::all(parts))
            }
            Kind::Seq(items) if items.iter().all(Node::is_map) && !items.is_empty() => {
                let mut parts = Vec::new();
                for item in items {
                    parts.push(self.search(item, logsource));
                }
                parts.into_iter().collect::<Option<Vec<_>>>().map(Expr::any)
            }
            Kind::Seq(items) if items.iter().any(Node::is_map) => {
                self.fail(
                    ErrorKind::RuleInvalid,
                    node,
                    "a search is a map, a list of maps or a list of keywords, not a mix",
                );
                None
            }
            _ => self.field("", node, node, logsource),
        }
    }

    /// `field|modifier|…: value(s)`; an empty field is a keyword search.
    fn field(&mut self, key: &str, key_node: &Node, value: &Node, logsource: &Logsource) -> Option<Expr> {
        let mut names = key.split('|');
        let name = names.next().unwrap_or("");
        let mut mods = Mods::default();
        let mut bad = false;
        for m in names {
            match m {
                "contains" => mods.contains = true,
                "startswith" => mods.startswith = true,
                "endswith" => mods.endswith = true,
                "all" => mods.all = true,
                "re" => mods.re = true,
                "i" | "m" | "s" if mods.re => mods.re_flags.push_str(m),
                "cidr" => mods.cidr = true,
                "exists" => mods.exists = true,
                "cased" => mods.cased = true,
                "base64" => mods.base64 = true,
                "base64offset" => mods.base64offset = true,
                "gt" => mods.cmp = Some(Cmp::Gt),
                "gte" => mods.cmp = Some(Cmp::Ge),
                "lt" => mods.cmp = Some(Cmp::Lt),
                "lte" => mods.cmp = Some(Cmp::Le),
                "fieldref" => mods.fieldref = true,
                "windash" | "wide" | "utf16" | "utf16le" | "utf16be" | "expand" => {
                    self.fail(
                        ErrorKind::RuleInvalid,
                        key_node,
                        format!(
                            "modifier {m:?} is not supported: it is for Windows process logs, not cloud audit JSON"
                        ),
                    );
                    bad = true;
                }
                other => {
                    self.fail(ErrorKind::RuleInvalid, key_node, format!("unknown value modifier {other:?}"));
                    bad = true;
                }
            }
        }
        if bad {
            return None;
        }
        // Keywords: a substring of any value anywhere in the record.
        let targets = if name.is_empty() {
            mods.contains = true;
            vec![Target { field: EVERY_VALUE.to_string(), segment: false }]
        } else {
            self.pipelines.targets(logsource, name)
        };
        let values = match &value.kind {
            Kind::Seq(items) => items.iter().collect::<Vec<_>>(),
            _ => vec![value],
        };
        if values.is_empty() {
            self.fail(ErrorKind::RuleInvalid, value, "an empty value list matches nothing: give at least one value");
            return None;
        }
        if mods.exists {
            return match value.scalar() {
                Some(Plain::Bool(b)) => {
                    Some(on_targets(&targets, |f| Leaf { field: f, test: Test::Exists, negated: !b }, !b))
                }
                _ => {
                    self.fail(ErrorKind::RuleInvalid, value, "`exists` takes true or false");
                    None
                }
            };
        }
        let mut each = Vec::new();
        for v in values {
            each.push(self.value(v, &mods, &targets)?);
        }
        Some(if mods.all { Expr::all(each) } else { Expr::any(each) })
    }

    /// One value of a field, with its modifiers, on every target field.
    fn value(&mut self, v: &Node, mods: &Mods, targets: &[Target]) -> Option<Expr> {
        let plain = match v.scalar() {
            Some(p) => p,
            None => {
                self.fail(ErrorKind::RuleInvalid, v, "a value is a string, a number, a boolean or null");
                return None;
            }
        };
        let text = match plain {
            Plain::Null => {
                // `null`: the field is missing (or null, or "": modwatch
                // reads all three as missing).
                return Some(on_targets(targets, |f| Leaf { field: f, test: Test::Exists, negated: true }, true));
            }
            Plain::Str(s) | Plain::Int(s) | Plain::Float(s) => s,
            Plain::Bool(b) => {
                if b {
                    "true"
                } else {
                    "false"
                }
            }
        };
        if text.is_empty() && !(mods.contains || mods.startswith || mods.endswith || mods.re) {
            return Some(on_targets(targets, |f| Leaf { field: f, test: Test::Exists, negated: true }, true));
        }
        if let Some(op) = mods.cmp {
            let (neg, digits) = text.strip_prefix('-').map_or((false, text), |d| (true, d));
            let Some(n) = NumLit::new(digits, neg).filter(|_| matches!(plain, Plain::Int(_) | Plain::Float(_))) else {
                self.fail(ErrorKind::RuleInvalid, v, format!("a comparison modifier needs a number, not {text:?}"));
                return None;
            };
            return Some(on_targets(
                targets,
                |f| Leaf { field: f, test: Test::Numeric(op, n.clone()), negated: false },
                false,
            ));
        }
        if mods.fieldref {
            return Some(on_targets(
                targets,
                |f| Leaf { field: f, test: Test::FieldRef(FieldPath::new(text)), negated: false },
                false,
            ));
        }
        if mods.cidr {
            let Some(cidr) = Cidr::parse(text) else {
                self.fail(ErrorKind::PatternInvalid, v, format!("{text:?} is not a CIDR range"));
                return None;
            };
            return Some(on_targets(
                targets,
                |f| Leaf { field: f, test: Test::Cidr(vec![cidr]), negated: false },
                false,
            ));
        }
        if mods.re {
            let flags = if mods.re_flags.is_empty() { String::new() } else { format!("(?{})", mods.re_flags) };
            let re = match regex_lite::RegexBuilder::new(&format!("{flags}{text}")).size_limit(1 << 20).build() {
                Ok(re) => re,
                Err(e) => {
                    self.fail(
                        ErrorKind::PatternInvalid,
                        v,
                        format!("regular expression {text:?} is invalid or too large: {e}"),
                    );
                    return None;
                }
            };
            return Some(on_targets(
                targets,
                |f| Leaf { field: f, test: Test::Regex(Some(re.clone())), negated: false },
                false,
            ));
        }
        // Plain numbers and booleans without modifiers compare as values.
        if !(mods.contains || mods.startswith || mods.endswith || mods.base64 || mods.base64offset || mods.cased) {
            let lit = match plain {
                Plain::Int(s) | Plain::Float(s) => {
                    let (neg, digits) = s.strip_prefix('-').map_or((false, s), |d| (true, d));
                    NumLit::new(digits, neg).map(Lit::Num)
                }
                Plain::Bool(b) => Some(Lit::Bool(b)),
                _ => None,
            };
            if let Some(lit) = lit {
                return Some(on_targets(
                    targets,
                    |f| Leaf { field: f, test: Test::Equals(vec![lit.clone()]), negated: false },
                    false,
                ));
            }
        }
        let mut variants: Vec<Vec<Tok>> = if mods.base64 || mods.base64offset {
            let raw: Vec<String> = if mods.base64offset { base64_offsets(text) } else { vec![base64(text.as_bytes())] };
            raw.iter().map(|s| s.chars().map(Tok::Char).collect()).collect()
        } else {
            vec![sigma_tokens(text)]
        };
        let contains = mods.contains || mods.base64offset;
        // `contains` on a field whose value is an object: any value below it.
        // (Only where an object can be: the request, the response, and raw
        // paths; not the normalised scalar fields, so that a `contains` on
        // the operation keeps its prefilter needle an operation needle.)
        let below: Vec<Target>;
        let targets = if contains && targets.iter().any(|t| may_be_object(&t.field)) {
            below = targets
                .iter()
                .cloned()
                .chain(
                    targets
                        .iter()
                        .filter(|t| !t.segment && may_be_object(&t.field))
                        .map(|t| Target { field: format!("{}.{EVERY_VALUE}", t.field), segment: false }),
                )
                .collect();
            &below[..]
        } else {
            targets
        };
        for toks in &mut variants {
            if contains || mods.endswith {
                toks.insert(0, Tok::Star);
            }
            if contains || mods.startswith {
                toks.push(Tok::Star);
            }
        }
        let fold = !mods.cased;
        Some(on_targets(
            targets,
            |f| Leaf {
                field: f,
                test: Test::Wildcard(variants.iter().map(|t| Wildcard::new(t, fold)).collect()),
                negated: false,
            },
            false,
        ))
        .map(|e| segment_fixup(e, targets, &variants, fold))
    }
}

/// Whether a target field's value may be an object: anything but the
/// normalised scalar fields (ECS names and `modwatch.*` other than the
/// request and response) and the keyword field.
fn may_be_object(field: &str) -> bool {
    const SCALAR: &[&str] =
        &["event.", "user.", "user_agent.", "source.", "cloud.", "client.", "service.", "@timestamp"];
    const OBJECT: &[&str] = &["modwatch.params", "modwatch.response", "aws.cloudtrail.flattened."];
    field != EVERY_VALUE
        && (OBJECT.iter().any(|p| field.starts_with(p))
            || !(field.starts_with("modwatch.") || SCALAR.iter().any(|p| field.starts_with(p))))
}

/// The same test on each target field: any of them (`negated`: none of them).
fn on_targets(targets: &[Target], leaf: impl Fn(FieldPath) -> Leaf, negated: bool) -> Expr {
    let leaves: Vec<Expr> =
        targets.iter().filter(|t| !t.segment).map(|t| Expr::Leaf(leaf(FieldPath::new(t.field.as_str())))).collect();
    if negated { Expr::all(leaves) } else { Expr::any(leaves) }
}

/// Adds the `FIELD/*` targets of a wildcard test: the pattern followed by
/// `/*` on FIELD.
fn segment_fixup(e: Expr, targets: &[Target], variants: &[Vec<Tok>], fold: bool) -> Expr {
    let mut parts = vec![e];
    for t in targets.iter().filter(|t| t.segment) {
        let patterns = variants
            .iter()
            .map(|toks| {
                let mut toks = toks.clone();
                toks.extend([Tok::Char('/'), Tok::Star]);
                Wildcard::new(&toks, fold)
            })
            .collect();
        parts.push(Expr::Leaf(Leaf {
            field: FieldPath::new(t.field.as_str()),
            test: Test::Wildcard(patterns),
            negated: false,
        }));
    }
    Expr::any(parts)
}

/// A Sigma string value as wildcard tokens: `*` and `?` are wildcards;
/// `\*`, `\?` and `\\` are the characters themselves; any other `\` is
/// literal.
fn sigma_tokens(text: &str) -> Vec<Tok> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    chars.next();
                    Tok::Char(n)
                }
                _ => Tok::Char('\\'),
            },
            c => Tok::Char(c),
        });
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The three encodings of `text` at byte offsets 0, 1 and 2 of a longer
/// base64 text, trimmed to the characters that depend only on `text`
/// (Sigma's `base64offset`).
fn base64_offsets(text: &str) -> Vec<String> {
    let start = [0usize, 2, 3];
    let end_trim = [0usize, 3, 2];
    (0..3)
        .map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(text.as_bytes());
            let enc = base64(&padded);
            let len = (text.len() + i) % 3;
            let cut = if len == 0 { enc.len() } else { enc.len() - end_trim[len] };
            enc.get(start[i]..cut).unwrap_or("").trim_end_matches('=').to_string()
        })
        .collect()
}

/// An id from a title, for rules without one.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Technique and sub-technique from `attack.t1234` / `attack.t1234.001` tags.
fn technique_of(tags: &[String]) -> (Option<String>, Option<String>) {
    let ids: Vec<String> = tags
        .iter()
        .filter_map(|t| t.to_ascii_lowercase().strip_prefix("attack.t").map(str::to_string))
        .filter(|rest| rest.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        .map(|rest| format!("T{rest}"))
        .collect();
    let sub = ids.iter().find(|i| i.contains('.')).cloned();
    let technique =
        sub.as_deref().map(|s| s.split('.').next().unwrap_or(s).to_string()).or_else(|| ids.first().cloned());
    (technique, sub)
}

/// ATT&CK tactics by their Sigma tag name.
const TACTICS: &[(&str, &str, &str)] = &[
    ("reconnaissance", "TA0043", "Reconnaissance"),
    ("resource-development", "TA0042", "Resource Development"),
    ("initial-access", "TA0001", "Initial Access"),
    ("execution", "TA0002", "Execution"),
    ("persistence", "TA0003", "Persistence"),
    ("privilege-escalation", "TA0004", "Privilege Escalation"),
    ("defense-evasion", "TA0005", "Defense Evasion"),
    ("credential-access", "TA0006", "Credential Access"),
    ("discovery", "TA0007", "Discovery"),
    ("lateral-movement", "TA0008", "Lateral Movement"),
    ("collection", "TA0009", "Collection"),
    ("command-and-control", "TA0011", "Command and Control"),
    ("exfiltration", "TA0010", "Exfiltration"),
    ("impact", "TA0040", "Impact"),
];

fn tactic_of(tag: &str) -> Option<(&'static str, &'static str)> {
    let name = tag.strip_prefix("attack.")?;
    TACTICS.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)).map(|(_, id, n)| (*id, *n))
}

#[cfg(test)]
mod tests;
