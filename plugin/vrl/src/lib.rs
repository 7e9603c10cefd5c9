//! modwatch's stateless tagging as a VRL program for Vector's `remap`
//! transform (`modwatch export vrl`).
//!
//! The program is generated from the engine's compiled rule set
//! ([`modwatch_engine::export`]): every rule's condition, the operation
//! catalogue, the points table, the allowlists and the ECS alias tables come
//! from the same data the engine runs on. What has no table in the engine
//! (sniffing the format, reading each format's fields) is hand-written VRL in
//! `prelude.vrl`, mirroring `normalise/{aws,azure,gcp}.rs`; the parity test
//! runs the program on VRL itself against the engine over every corpus event,
//! and the field test runs [`probe`]'s variant of it to compare every field
//! of `docs/fields.md`, value by value, with the engine's normalised view.
//!
//! The program adds the fields the engine's tag mode adds, minus the ones
//! that need per-principal state: `modwatch.scored_points`,
//! `modwatch.principal_score`, `modwatch.reasons`, `modwatch.alert` and
//! `event.kind: "alert"`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use modwatch_engine::export::{Compare, Condition, EVERY_VALUE, Literal, Pack, Rule, ValueTest, not_exportable};
use modwatch_engine::{Config, Error, Errors, RuleSet};
use serde_json::{Value as Json, json};

/// The hand-written part of the program; `#@NAME` lines are filled in.
const PRELUDE: &str = include_str!("prelude.vrl");

/// `output.routing_fields`: the principal key and its partition token
/// (engine: `tag::routing`, `partition_token`) added to every record of a
/// known format, at the end of its block in the prelude. Only in a program
/// that asks for it: it calls `sha2`, one of VRL's crypto functions.
const ROUTE: &str = r#"    _rkey = if _pid != "" { _acct + "|" + _pid } else { "" }
    _route = {"partition": slice(sha2(_rkey, variant: "SHA-256"), 0, 16) ?? ""}
    if _rkey != "" { _route.principal_key = _rkey }
    _tags = merge(_tags, {"modwatch": _route}, deep: true)
"#;

/// How many levels of arrays inside arrays the program walks through when it
/// reads a field (objects inside are flattened in one step). Deeper values
/// are not seen; cloud audit records nest arrays three or four deep.
pub const ARRAY_DEPTH: usize = 8;

/// The field names the stateless program never adds (they need the
/// per-principal scoring state), as dotted paths.
pub const SCORING_FIELDS: &[&str] =
    &["modwatch.scored_points", "modwatch.principal_score", "modwatch.reasons", "modwatch.alert", "event.kind"];

/// The program for a rule pack (`None`: the built-in pack; `with_builtin`
/// keeps the built-in pack as well) under a config (`None`: the defaults).
/// Refused with every problem at once when the pack or config does not
/// load, or when some rule's condition has no VRL equivalent (`E207`, see
/// [`program`]).
pub fn export(rules: Option<&str>, with_builtin: bool, config: Option<&str>) -> Result<String, Errors> {
    let mut config = match config {
        Some(text) => Config::from_json(text)?,
        None => Config::default(),
    };
    if rules.is_some() && with_builtin {
        config = config.with_builtin_rules(true);
    }
    let set = RuleSet::load(&config, rules)?;
    program(&set, &config)
}

/// The program for a loaded rule set and config. Refused (`E207`, one error
/// per rule and reason) when a rule's condition reads what the program
/// cannot: a field compared with another field (Sigma `fieldref`), every
/// value of the event (Sigma keywords) or every value below an object
/// (Sigma `contains` on an object). The program would silently miss what
/// such a rule matches, so it is not written.
pub fn program(rules: &RuleSet, config: &Config) -> Result<String, Errors> {
    let pack = modwatch_engine::export::pack(rules, config);
    let refused: Vec<Error> = pack.rules.iter().flat_map(not_translatable).collect();
    if !refused.is_empty() {
        return Err(Errors(refused));
    }
    Ok(Generator::new(&pack, &[]).program())
}

/// Why a rule cannot be translated: one error per distinct reason.
fn not_translatable(rule: &Rule) -> Vec<Error> {
    fn walk(c: &Condition, out: &mut Vec<String>) {
        let reason = match c {
            Condition::Const(_) => return,
            Condition::And(parts) | Condition::Or(parts) => return parts.iter().for_each(|p| walk(p, out)),
            Condition::Not(inner) => return walk(inner, out),
            Condition::Leaf { test: ValueTest::FieldRef(other), field, .. } => {
                format!("compares field {field:?} with field {other:?} (Sigma `fieldref`)")
            }
            Condition::Leaf { field, .. } if field == EVERY_VALUE => {
                "searches every value of the event (Sigma keywords)".to_string()
            }
            Condition::Leaf { field, .. } => match field.strip_suffix(EVERY_VALUE).and_then(|f| f.strip_suffix('.')) {
                Some(object) => {
                    format!("searches every value below {object:?} (Sigma `contains` on an object)")
                }
                None => return,
            },
        };
        if !out.contains(&reason) {
            out.push(reason);
        }
    }
    let mut reasons = Vec::new();
    walk(&rule.condition, &mut reasons);
    reasons
        .into_iter()
        .map(|r| {
            not_exportable(
                &rule.id,
                format!("cannot be exported to VRL: its condition {r}, which the program cannot express"),
            )
        })
        .collect()
}

/// The key [`probe`]'s program adds to each record.
pub const PROBE_KEY: &str = "modwatch_probe";

/// For tests of the normalisation, not for use: [`program`] that also adds
/// [`PROBE_KEY`] to every record it reads (each record of a batch): for each
/// of `fields`, in order, a line with the JSON list of the values the
/// program's field lookup gives it (the lookup the rules read, not a copy of
/// it); `null` for a record of no known format. The rules are left out: the
/// program tags nothing.
#[doc(hidden)]
pub fn probe(rules: &RuleSet, config: &Config, fields: &[&str]) -> String {
    let mut pack = modwatch_engine::export::pack(rules, config);
    // Without the rules: their hundreds of variables would make VRL's
    // compiler, whose work per statement grows with the variables in scope,
    // take minutes over the probe's thousands of statements.
    pack.rules.clear();
    Generator::new(&pack, fields).program()
}

/// A VRL string literal.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A VRL regex literal. The engine's regex sources escape every
/// non-alphanumeric character as `\x{..}`, so a `'` never occurs in them;
/// one that did is escaped all the same.
fn regex(source: &str) -> String {
    format!("r'{}'", source.replace('\'', "\\'"))
}

/// A VRL array literal of already-rendered values.
fn array(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}

/// A VRL object literal of string keys and already-rendered values.
fn object<'a>(entries: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let body: Vec<String> = entries.into_iter().map(|(k, v)| format!("{}: {v}", string(k))).collect();
    format!("{{{}}}", body.join(", "))
}

/// `Some(rest)` when `name` is `prefix` or `prefix.rest` (the engine's
/// field lookup rule).
fn strip_segment<'n>(name: &'n str, prefix: &str) -> Option<&'n str> {
    let rest = name.strip_prefix(prefix)?;
    if rest.is_empty() { Some("") } else { rest.strip_prefix('.') }
}

/// The index key of `rest` below a root.
fn key(root: &str, rest: &str) -> String {
    if rest.is_empty() { root.to_string() } else { format!("{root}.{rest}") }
}

struct Generator<'p> {
    pack: &'p Pack,
    /// Field name → variable number, first use first.
    fields: BTreeMap<String, usize>,
    order: Vec<String>,
    /// (format, alias index) → root name, for the aliases some field uses.
    alias_roots: BTreeMap<(&'static str, usize), String>,
    /// The fields [`probe`] reports.
    probe: Vec<String>,
}

impl<'p> Generator<'p> {
    fn new(pack: &'p Pack, probe: &[&str]) -> Generator<'p> {
        let mut g = Generator {
            pack,
            fields: BTreeMap::new(),
            order: Vec::new(),
            alias_roots: BTreeMap::new(),
            probe: Vec::new(),
        };
        for rule in &pack.rules {
            g.collect(&rule.condition);
            for f in rule.foreign_account.iter().chain(&rule.own_account) {
                g.field(f);
            }
        }
        g.probe = probe.iter().map(|f| f.to_string()).collect();
        g
    }

    fn collect(&mut self, c: &Condition) {
        match c {
            Condition::Const(_) => {}
            Condition::And(parts) | Condition::Or(parts) => parts.iter().for_each(|p| self.collect(p)),
            Condition::Not(inner) => self.collect(inner),
            Condition::Leaf { field, .. } => {
                self.field(field);
            }
        }
    }

    fn field(&mut self, name: &str) -> usize {
        if let Some(&n) = self.fields.get(name) {
            return n;
        }
        let n = self.order.len();
        self.fields.insert(name.to_string(), n);
        self.order.push(name.to_string());
        n
    }

    fn program(mut self) -> String {
        let probe_ids = self.probe_ids();
        let specs = self.field_specs();
        let rule_meta = self.rule_meta();
        let (rule_table, regexes) = self.rule_table();
        let depths = array((0..ARRAY_DEPTH).map(|d| d.to_string()));
        let catalogue = self.catalogue();
        let gate = self.gate_code();
        // Routing fields go on every record of a known format: no record
        // is passed over for its operation.
        let go = if self.pack.routing_fields { "true".to_string() } else { self.go_code() };
        // The probe reads its fields from every record of a known format.
        // So do routing fields, which every record of a known format gets.
        let full = if self.probe.is_empty() && !self.pack.routing_fields { "length(_cands) > 0" } else { "true" };
        let mut out = String::with_capacity(PRELUDE.len() * 4);
        for line in PRELUDE.lines() {
            let replaced = match line.trim() {
                "#@HEADER" => Some(self.header()),
                "#@ALIAS_ROOTS" => Some(self.alias_roots_code()),
                "#@GATE" => Some(gate.clone()),
                "#@SUPPRESS" => Some(self.suppress_code()),
                "#@ROUTE" => Some(if self.pack.routing_fields { ROUTE.to_string() } else { String::new() }),
                "#@PROBE_INIT" => Some(self.probe_code(|_| "  _probe = null\n".to_string())),
                "#@PROBE" => Some(self.probe_code(|_| {
                    format!(
                        "    _probe = \"\"\n    for_each(array(get({{\"t\": {probe_ids}}}, [\"t\"]) ?? []) ?? []) -> |_i, _pn| {{\n      _probe = _probe + encode_json(get(_F, [to_string(_pn) ?? \"\", 0]) ?? []) + \"\\n\"\n    }}\n"
                    )
                })),
                "#@PROBE_OUT" => {
                    Some(self.probe_code(|_| format!("  _tags = merge(_tags, {{{}: _probe}})\n", string(PROBE_KEY))))
                }
                _ => None,
            };
            match replaced {
                Some(code) => out.push_str(&code),
                None => {
                    let line = line
                        .replace("#@POINTS", &self.points())
                        .replace("#@NAMES", &self.names())
                        .replace("#@TACTIC", &self.tactic())
                        .replace("#@RULEMETA", &rule_meta)
                        .replace("#@RULETABLE", &rule_table)
                        .replace("#@REGEXES", &regexes)
                        .replace("#@CATALOGUE", &catalogue)
                        .replace("#@FIELDSPECS", &specs)
                        .replace("#@PROBE_IDS", &probe_ids)
                        .replace("#@FULL", full)
                        .replace("#@DEPTHS", &depths)
                        .replace("#@GO", &go);
                    out.push_str(&line);
                    out.push('\n');
                }
            }
        }
        out
    }

    fn header(&self) -> String {
        let mut rulesets: Vec<&str> = self.pack.rules.iter().map(|r| r.ruleset.as_str()).collect();
        rulesets.dedup();
        let routing = if self.pack.routing_fields {
            "# output.routing_fields: every record of a known format also gets modwatch.principal_key and\n\
             # modwatch.partition (the first 16 hex digits of the key's SHA-256), matching or not.\n"
        } else {
            ""
        };
        let header = format!(
            "# modwatch {} — stateless T1578 tagging for Vector's `remap` transform.\n\
             # Generated by `modwatch export vrl` from {} rules ({}) and {} catalogue operations.\n\
             # Do not edit: regenerate it from the rule pack.\n\
             #\n\
             # It adds what modwatch's tag mode adds to a matching record (threat.*, rule.*,\n\
             # event.risk_score, event.severity, modwatch.{{category, points, severity, operation,\n\
             # outcome, principal, format, matches}}) and leaves every other event unchanged.\n\
             # Not here (they need per-principal state, which VRL does not keep across events):\n\
             # modwatch.scored_points, modwatch.principal_score, modwatch.reasons, modwatch.alert,\n\
             # event.kind = \"alert\".\n\
             # Fields are read through {} levels of nested arrays; numbers compare by VRL's own\n\
             # rendering (a float written as 1.0 reads as \"1\"); of a key \"a.b\" and a key \"a\" holding\n\
             # {{\"b\": …}} side by side in one object, a query on a.b sees one (the engine sees both).\n",
            env!("CARGO_PKG_VERSION"),
            self.pack.rules.len(),
            rulesets.join(", "),
            self.pack.operations.len(),
            ARRAY_DEPTH,
        );
        header + routing
    }

    /// The aliases a format resolves `name` through, if any (first match).
    fn alias(&self, format: &str, name: &str) -> Option<(usize, &'static str, String)> {
        let (_, aliases) = self.pack.aliases.iter().find(|(f, _)| *f == format)?;
        aliases
            .iter()
            .enumerate()
            .find_map(|(i, (ecs, raw))| strip_segment(name, ecs).map(|rest| (i, *raw, rest.to_string())))
    }

    /// The field table: per field number, the JSON text of `[name, key,
    /// aliases]`. `key` is the index key of a `modwatch.params` /
    /// `modwatch.response` field (else ""); `aliases` maps a format to the
    /// index key of the ECS alias it resolves the field through. The lookup itself is one loop in
    /// `prelude.vrl` (the order of `docs/fields.md`: params and response
    /// subtrees, the normalised fields, the format's ECS aliases, the
    /// record's own fields): VRL's compiler copies its whole type state
    /// for every expression it compiles, so code per field, with variables
    /// per field, made a program that took most of a minute to compile.
    fn field_specs(&mut self) -> String {
        let names = self.order.clone();
        let mut specs = Vec::with_capacity(names.len());
        for name in &names {
            let special = [("modwatch.params", "p"), ("modwatch.response", "q")]
                .into_iter()
                .find_map(|(prefix, root)| strip_segment(name, prefix).map(|rest| key(root, rest)));
            let mut aliases = serde_json::Map::new();
            if special.is_none() {
                let formats: Vec<&'static str> = self.pack.aliases.iter().map(|(f, _)| *f).collect();
                for format in formats {
                    if let Some((i, _, rest)) = self.alias(format, name) {
                        let root = format!("a{}_{i}", format.replace('-', "_"));
                        self.alias_roots.insert((format, i), root.clone());
                        aliases.insert(format.to_string(), Json::String(key(&root, &rest)));
                    }
                }
            }
            specs.push(string(&json!([name, special.as_deref().unwrap_or(""), aliases]).to_string()));
        }
        array(specs)
    }

    /// The probe: the field numbers to report, in order.
    fn probe_ids(&mut self) -> String {
        let names = self.probe.clone();
        let ids: Vec<String> = names.iter().map(|name| self.field(name).to_string()).collect();
        array(ids)
    }

    /// `code` in a probe program, nothing in the real one.
    fn probe_code(&mut self, code: impl Fn(&mut Self) -> String) -> String {
        if self.probe.is_empty() { String::new() } else { code(self) }
    }

    fn alias_roots_code(&self) -> String {
        let mut out = String::new();
        for ((format, i), root) in &self.alias_roots {
            let Some((_, aliases)) = self.pack.aliases.iter().find(|(f, _)| f == format) else { continue };
            let Some((_, raw)) = aliases.get(*i) else { continue };
            let path: String = raw.split('.').map(|seg| format!(".{}", string(seg))).collect();
            let _ = writeln!(
                out,
                "    if _fmt == {} {{ _roots = push(_roots, [{}, {path}]) }}",
                string(format),
                string(root)
            );
        }
        out
    }

    /// The rule table, per rule in pack order the JSON text of [the field
    /// numbers it reads, its condition as a postfix program], and the
    /// regular expressions the programs refer to by position. One loop in
    /// `prelude.vrl` evaluates the programs: leaves `[test, field number,
    /// operand]`, then `["and", n]`, `["or", n]`, `["not"]`, the account
    /// tests last. Data, not code: VRL's compiler copies its whole type
    /// state for every expression it compiles, so code per rule made the
    /// program take most of a minute to compile.
    fn rule_table(&self) -> (String, String) {
        let mut regexes = Vec::new();
        let mut rules = Vec::with_capacity(self.pack.rules.len());
        for rule in &self.pack.rules {
            let mut ops = Vec::new();
            self.ops(&rule.condition, &mut regexes, &mut ops);
            for (test, field) in [("foreign_account", &rule.foreign_account), ("own_account", &rule.own_account)] {
                if let Some(f) = field {
                    ops.push(json!([test, self.fields[f], null]));
                    ops.push(json!(["and", 2]));
                }
            }
            rules.push(string(&json!([self.rule_fields(rule), ops]).to_string()));
        }
        (array(rules), array(regexes.iter().map(|r| regex(r))))
    }

    /// `c` in postfix (regular expressions by position in `regexes`).
    fn ops(&self, c: &Condition, regexes: &mut Vec<String>, out: &mut Vec<Json>) {
        match c {
            Condition::Const(b) => out.push(json!(["const", b])),
            Condition::And(parts) | Condition::Or(parts) => {
                parts.iter().for_each(|p| self.ops(p, regexes, out));
                let op = if matches!(c, Condition::And(_)) { "and" } else { "or" };
                out.push(json!([op, parts.len()]));
            }
            Condition::Not(inner) => {
                self.ops(inner, regexes, out);
                out.push(json!(["not"]));
            }
            Condition::Leaf { field, negated, test } => {
                leaf(self.fields[field], test, regexes, out);
                if *negated {
                    out.push(json!(["not"]));
                }
            }
        }
    }

    /// The field numbers a rule reads, in order.
    fn rule_fields(&self, rule: &Rule) -> Vec<usize> {
        let mut names = Vec::new();
        leaf_fields(&rule.condition, &mut names);
        names.extend(rule.foreign_account.iter().chain(&rule.own_account).map(String::as_str));
        let mut ids: Vec<usize> = names.iter().map(|name| self.fields[*name]).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Sets `_cands` to the rules that could match the record, from its
    /// operation (`_act`, the one `event.action` value the rules read; ""
    /// when the record does not give one plain string). One regular
    /// expression of every operation some rule's gate allows decides most
    /// records; only on a hit are the rules listed.
    fn gate_code(&self) -> String {
        let all: Vec<usize> = (0..self.pack.rules.len()).collect();
        let gates = Gates::new(self.pack);
        let (ungated, exact, patterns) = (&gates.ungated, &gates.exact, &gates.patterns);
        let literal = |ids: &[usize]| array(ids.iter().map(usize::to_string));
        // Through `get`, so that `_cands` has the type "array", not that of
        // a literal of a hundred known elements, which VRL's compiler would
        // copy for each of the thousands of expressions after it.
        let list = |ids: &[usize]| format!("array(get({{\"t\": {}}}, [\"t\"]) ?? []) ?? []", literal(ids));
        let mut out = String::new();
        let _ = writeln!(out, "    if _act == \"\" {{");
        let _ = writeln!(out, "      _cands = {}", list(&all));
        if let Some(any) = gates.any() {
            let _ = writeln!(out, "    }} else if match(_act, {}) {{", regex(&any));
            let _ = writeln!(out, "      _cands = {}", list(ungated));
            if !exact.is_empty() {
                // `downcase` is Rust's `to_lowercase`: a value that is an
                // operation up to ASCII case has the operation's key.
                let mut lower: BTreeMap<String, Vec<usize>> = BTreeMap::new();
                for (k, ids) in exact {
                    let entry = lower.entry(k.to_lowercase()).or_default();
                    for i in ids {
                        if !entry.contains(i) {
                            entry.push(*i);
                        }
                    }
                }
                let table = object(lower.iter().map(|(k, ids)| (k.as_str(), literal(ids))));
                let _ =
                    writeln!(out, "      _cands = append(_cands, array(get({table}, [downcase(_act)]) ?? []) ?? [])");
            }
            for (i, p) in patterns {
                let _ = writeln!(out, "      if match(_act, {}) {{ _cands = push(_cands, {i}) }}", regex(p));
            }
        }
        let _ = writeln!(out, "    }} else {{");
        let _ = writeln!(out, "      _cands = {}", list(ungated));
        let _ = writeln!(out, "    }}");
        out
    }

    /// Whether a record whose operation is `_mw_act` (not "") could match
    /// some rule: the test before any normalisation.
    fn go_code(&self) -> String {
        let gates = Gates::new(self.pack);
        if !self.probe.is_empty() || !gates.ungated.is_empty() {
            return "true".to_string();
        }
        match gates.any() {
            Some(any) => format!("match(_mw_act, {})", regex(&any)),
            None => "false".to_string(),
        }
    }

    /// The rules' tag metadata, by position.
    fn rule_meta(&self) -> String {
        array(self.pack.rules.iter().map(|rule| {
            let hit = json!({
                "id": rule.id,
                "name": rule.name,
                "ruleset": rule.ruleset,
                "cat": rule.category.as_deref().unwrap_or(""),
                "pts": rule.points.map_or(-1, i64::from),
                "sev": rule.severity,
                "sevnum": rule.severity_number,
                "risk": rule.risk_score,
                "tech": rule.technique.id,
                "sub": rule.subtechnique.as_ref().map_or("", |t| t.id.as_str()),
                "sigma": rule.sigma.as_ref().map(|s| &s.sigma),
                "tac": rule.sigma.as_ref().and_then(|s| s.tactic.as_ref()).map(|(id, name)| json!({ "id": id, "name": name })),
            });
            string(&hit.to_string())
        }))
    }

    /// The operation catalogue, in lookup order: `[pattern, category,
    /// sub-technique]`.
    fn catalogue(&self) -> String {
        array(self.pack.operations.iter().map(|op| {
            let sub = op.subtechnique.as_ref().map_or("", |t| t.id.as_str());
            array([regex(&op.pattern), string(&op.category), string(sub)])
        }))
    }

    fn suppress_code(&self) -> String {
        let mut out = String::new();
        if self.pack.allow_aws_service_callers {
            out.push_str("      if _svc != \"\" { _suppressed = true }\n");
        }
        for (text, re) in &self.pack.allow_principals {
            let _ = writeln!(out, "      # allowlist.principals: {text}");
            let _ = writeln!(
                out,
                "      for_each(_pnames) -> |_k, _nm| {{ if (string(_nm) ?? \"\") != \"\" && match(string(_nm) ?? \"\", {}) {{ _suppressed = true }} }}",
                regex(re)
            );
        }
        for (text, re) in &self.pack.allow_user_agents {
            let _ = writeln!(out, "      # allowlist.user_agents: {text}");
            let _ = writeln!(out, "      if _ua != \"\" && match(_ua, {}) {{ _suppressed = true }}", regex(re));
        }
        out
    }

    fn points(&self) -> String {
        object(self.pack.points.iter().map(|(k, v)| (k.as_str(), v.to_string())))
    }

    fn names(&self) -> String {
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        let techniques = self.pack.rules.iter().flat_map(|r| std::iter::once(&r.technique).chain(&r.subtechnique));
        let catalogue = self.pack.operations.iter().filter_map(|o| o.subtechnique.as_ref());
        for t in techniques.chain(catalogue) {
            if let Some(name) = &t.name {
                names.insert(&t.id, name);
            }
        }
        object(names.into_iter().map(|(k, v)| (k, string(v))))
    }

    fn tactic(&self) -> String {
        object([("id", string(&self.pack.tactic.0)), ("name", string(&self.pack.tactic.1))])
    }
}

/// A float operand as its text, which the program reads with `to_float`;
/// `null` when it is not finite. Text, not a JSON number: a `parse_json`
/// built with serde_json's `arbitrary_precision` (as this workspace builds
/// the `vrl` crate) returns a float as an object, not a number.
fn float(value: f64) -> Json {
    if value.is_finite() { Json::String(value.to_string()) } else { Json::Null }
}

/// A literal's exact integer, if it is one VRL can hold.
fn integer(int: Option<i128>) -> Option<i64> {
    int.and_then(|i| i64::try_from(i).ok())
}

/// The outcomes of comparing a value with a literal (-1 less, 0 equal, 1
/// greater) for which `value <op> literal` holds.
fn outcomes(op: Compare) -> Json {
    match op {
        Compare::Eq => json!([0]),
        Compare::Ne => json!([-1, 1]),
        Compare::Lt => json!([-1]),
        Compare::Le => json!([-1, 0]),
        Compare::Gt => json!([1]),
        Compare::Ge => json!([0, 1]),
    }
}

/// The postfix ops of "some value of field `n` passes `test`" (the tests of
/// the loop in `prelude.vrl`).
fn leaf(n: usize, test: &ValueTest, regexes: &mut Vec<String>, out: &mut Vec<Json>) {
    let never = json!(["const", false]);
    match test {
        ValueTest::Exists => out.push(json!(["exists", n, null])),
        ValueTest::Equals(lits) => {
            let mut texts = Vec::new();
            let mut parts = Vec::new();
            for lit in lits {
                match lit {
                    Literal::Str(s) => texts.push(s.clone()),
                    Literal::Bool(b) => texts.push(b.to_string()),
                    // [text, integer or null, float or null].
                    Literal::Num { text, value, int } => parts.push(match integer(*int) {
                        Some(i) => json!(["number", n, [text, i, float(i as f64)]]),
                        None => json!(["number", n, [text, null, float(*value)]]),
                    }),
                }
            }
            if !texts.is_empty() {
                parts.insert(0, json!(["text", n, texts]));
            }
            let count = parts.len();
            out.extend(parts);
            if count != 1 {
                out.push(json!(["or", count]));
            }
        }
        ValueTest::Regex(patterns) => {
            let mut refs = Vec::new();
            for p in patterns {
                let i = regexes.iter().position(|r| r == p).unwrap_or_else(|| {
                    regexes.push(p.clone());
                    regexes.len() - 1
                });
                refs.push(i);
            }
            out.push(json!(["regex", n, refs]));
        }
        // [outcomes, float or null, text]
        ValueTest::Range(cmp, lit) => out.push(match lit {
            Literal::Num { text, value, .. } => json!(["range", n, [outcomes(*cmp), float(*value), text]]),
            Literal::Str(s) => json!(["range", n, [outcomes(*cmp), null, s]]),
            Literal::Bool(_) => never,
        }),
        // [outcomes, float, integer or null]
        ValueTest::Numeric(cmp, lit) => out.push(match lit {
            Literal::Num { value, int, .. } => json!(["numeric", n, [outcomes(*cmp), float(*value), integer(*int)]]),
            _ => never,
        }),
        ValueTest::Cidr(ranges) => out.push(json!(["cidr", n, ranges])),
        // [outcomes, float or null, integer or null]
        ValueTest::Length(cmp, lit) => out.push(match lit {
            Literal::Num { value, int, .. } => json!(["length", n, [outcomes(*cmp), float(*value), integer(*int)]]),
            _ => never,
        }),
        // Refused before a program is generated (`not_translatable`).
        ValueTest::FieldRef(_) => out.push(never),
    }
}

/// The operations a rule can match, from its condition: a superset, never
/// fewer. `exact` are `event.action` values (ASCII case-insensitively);
/// `patterns` regular expressions one of which the value must match.
#[derive(Debug, Default, PartialEq)]
struct Gate {
    exact: Vec<String>,
    patterns: Vec<String>,
}

/// The gates of a pack's rules, by operation.
struct Gates {
    /// Rules without a gate: candidates for every record.
    ungated: Vec<usize>,
    /// Operation → the rules it lets through (as written; looked up
    /// lower-cased).
    exact: BTreeMap<String, Vec<usize>>,
    /// Per rule with patterns, one regular expression of them.
    patterns: Vec<(usize, String)>,
}

impl Gates {
    fn new(pack: &Pack) -> Gates {
        let mut gates = Gates { ungated: Vec::new(), exact: BTreeMap::new(), patterns: Vec::new() };
        for (i, rule) in pack.rules.iter().enumerate() {
            let Some(g) = gate(&rule.condition) else {
                gates.ungated.push(i);
                continue;
            };
            for k in g.exact {
                let list = gates.exact.entry(k).or_default();
                if !list.contains(&i) {
                    list.push(i);
                }
            }
            if !g.patterns.is_empty() {
                let alternatives: Vec<String> = g.patterns.iter().map(|p| format!("(?:{p})")).collect();
                gates.patterns.push((i, alternatives.join("|")));
            }
        }
        gates
    }

    /// One regular expression that matches every operation some gate lets
    /// through (the exact ones case-insensitively: Unicode simple case
    /// folding, a superset of the ASCII folding).
    fn any(&self) -> Option<String> {
        let mut any: Vec<String> = Vec::new();
        if !self.exact.is_empty() {
            let keys: Vec<String> = self.exact.keys().map(|k| escape_regex(k)).collect();
            any.push(format!("(?i:\\A(?:{})\\z)", keys.join("|")));
        }
        any.extend(self.patterns.iter().map(|(_, p)| p.clone()));
        if any.is_empty() { None } else { Some(any.join("|")) }
    }
}

/// The field the gate reads.
const OPERATION_FIELD: &str = "event.action";

/// The gate of a condition; `None` when it does not constrain the operation
/// (the rule is a candidate for every record).
fn gate(c: &Condition) -> Option<Gate> {
    match c {
        Condition::Const(false) => Some(Gate::default()),
        Condition::Const(true) | Condition::Not(_) => None,
        // Any one conjunct's gate holds for the whole: the one with the
        // fewest patterns, then the fewest values.
        Condition::And(parts) => {
            parts.iter().filter_map(gate).min_by_key(|g| (g.patterns.len(), g.exact.len() + g.patterns.len()))
        }
        Condition::Or(parts) => {
            let mut all = Gate::default();
            for part in parts {
                let g = gate(part)?;
                all.exact.extend(g.exact);
                all.patterns.extend(g.patterns);
            }
            Some(all)
        }
        Condition::Leaf { field, negated: false, test } if field == OPERATION_FIELD => match test {
            ValueTest::Equals(lits) => {
                let mut g = Gate::default();
                for lit in lits {
                    let Literal::Str(s) = lit else { return None };
                    g.exact.push(s.clone());
                }
                Some(g)
            }
            ValueTest::Regex(patterns) => {
                let mut g = Gate::default();
                for p in patterns {
                    match wildcard_literal(p) {
                        Some(text) => g.exact.push(text),
                        None => g.patterns.push(p.clone()),
                    }
                }
                Some(g)
            }
            _ => None,
        },
        Condition::Leaf { .. } => None,
    }
}

/// The text a wildcard's regular expression matches when it has no
/// wildcard (`\A(?s:` + `[aA]`, letters, digits and `\x{..}` + `)\z`, as
/// the engine writes one): it matches exactly that text, ASCII
/// case-insensitively.
fn wildcard_literal(source: &str) -> Option<String> {
    let body = source.strip_prefix("\\A(?s:")?.strip_suffix(")\\z")?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                let (lower, upper, close) = (chars.next()?, chars.next()?, chars.next()?);
                if close != ']' || !lower.is_ascii_lowercase() || upper != lower.to_ascii_uppercase() {
                    return None;
                }
                out.push(lower);
            }
            '\\' => {
                let rest = chars.as_str().strip_prefix("x{")?;
                let end = rest.find('}')?;
                out.push(char::from_u32(u32::from_str_radix(&rest[..end], 16).ok()?)?);
                chars = rest[end + 1..].chars();
            }
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// `text` as a regular expression matching exactly it.
fn escape_regex(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_string() } else { format!("\\x{{{:X}}}", c as u32) })
        .collect()
}

/// The fields a condition's leaves read.
fn leaf_fields<'c>(c: &'c Condition, out: &mut Vec<&'c str>) {
    match c {
        Condition::Const(_) => {}
        Condition::And(parts) | Condition::Or(parts) => parts.iter().for_each(|p| leaf_fields(p, out)),
        Condition::Not(inner) => leaf_fields(inner, out),
        Condition::Leaf { field, .. } => out.push(field),
    }
}
