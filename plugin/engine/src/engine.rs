//! The engine: input → prefilter → normalise → match → verdict → tag.

use std::collections::BTreeMap;

use bumpalo::Bump;
use serde::Serialize;

use crate::config::{Config, OutputMode, Overrides};
use crate::doc::Node;
use crate::eql::{Document, Scalar, Syntax, Wildcard};
use crate::error::{Error, ErrorKind, LoadError};
use crate::input;
use crate::normalise::{self, Phase, View};
use crate::prefilter::Candidates;
use crate::rules::{Bulk, Rule, RuleSet};
use crate::score::{self, Scorer};
use crate::tag;
use crate::verdict::{Outcome, RuleMatch, Status, Verdict};

/// What comes back for one input event in tag mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Pass the event on exactly as it came in (byte for byte).
    Unchanged,
    /// Pass this instead: the event with detection fields added.
    Replaced(Vec<u8>),
    /// Drop the event (only with `output.mode = "drop-non-matches"`).
    Dropped,
}

/// The result of [`Engine::tag`]: the output and one verdict per record.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged {
    /// What to pass on.
    pub output: Output,
    /// One verdict per record (a batch has several).
    pub verdicts: Vec<Verdict>,
}

/// Counters since the engine was built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Input events (a batch counts once).
    pub events: u64,
    /// Records (each record of a batch counts).
    pub records: u64,
    /// Records that matched.
    pub matches: u64,
    /// Records that a rule matched but an allowlist suppressed.
    pub suppressed: u64,
    /// Records of a shape modwatch does not know.
    pub unrecognised: u64,
    /// Events that could not be decoded.
    pub errors: u64,
    /// Events passed on by the prefilter without being parsed.
    pub prefiltered: u64,
    /// Alerts raised (a principal's window reached the threshold).
    pub alerts: u64,
    /// Principals tracked now.
    pub principals: u64,
    /// Principals evicted to stay under `scoring.max_principals`.
    pub evictions: u64,
    /// Sigma correlation alerts raised.
    pub correlation_alerts: u64,
    /// Sigma correlation groups tracked now (over every correlation rule).
    pub correlation_groups: u64,
    /// Correlation groups evicted to stay under `scoring.max_principals` per
    /// correlation rule.
    pub correlation_evictions: u64,
    /// Matches per rule id (best match and every other match).
    pub by_rule: BTreeMap<String, u64>,
    /// Matches per category (of the best match).
    pub by_category: BTreeMap<String, u64>,
    /// Per Sigma correlation rule id, every correlation rule of the rule set
    /// (the three `correlation_*` counters are their sums).
    pub by_correlation: BTreeMap<String, CorrelationStats>,
}

/// What one Sigma correlation rule did since the engine was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CorrelationStats {
    /// Alerts raised: one per group whose condition came to hold (a
    /// correlation that only feeds another raises them too, without matches
    /// of its own).
    pub alerts: u64,
    /// Groups tracked now.
    pub groups: u64,
    /// Groups evicted to stay under `scoring.max_principals`.
    pub evictions: u64,
}

/// A loaded detection engine: configuration, compiled rules, counters.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    rules: RuleSet,
    allow: Allowlist,
    scorer: Scorer,
    stats: Stats,
    /// Where each event's document is parsed; reset per event.
    arena: Bump,
}

/// The config's allowlist patterns, compiled once.
#[derive(Debug)]
struct Allowlist {
    principals: Vec<(String, Wildcard)>,
    user_agents: Vec<(String, Wildcard)>,
}

impl Allowlist {
    fn new(config: &Config) -> Allowlist {
        // Case-insensitive (ASCII), `*` and `?` wildcards, as EQL's `:`.
        let compile =
            |list: &[String]| list.iter().map(|p| (p.clone(), Wildcard::parse(p, Syntax::Eql, true))).collect();
        Allowlist { principals: compile(&config.allow_principals), user_agents: compile(&config.allow_user_agents) }
    }
}

impl Engine {
    /// Builds an engine from a JSON config (`None`: defaults) and a rule pack
    /// in TOML (`None`: the built-in pack). The error says which input was
    /// refused and lists every problem with it.
    pub fn new(config: Option<&str>, rules: Option<&str>) -> Result<Engine, LoadError> {
        Engine::load(config, rules, &Overrides::default())
    }

    /// As [`Engine::new`], with settings a host takes from its own flags
    /// applied over the JSON config.
    pub fn load(config: Option<&str>, rules: Option<&str>, overrides: &Overrides) -> Result<Engine, LoadError> {
        let config = match config {
            Some(text) => Config::from_json(text).map_err(LoadError::Config)?,
            None => Config::default(),
        };
        let config = config.with_overrides(overrides);
        let rules = RuleSet::load(&config, rules).map_err(LoadError::Rules)?;
        Ok(Engine::with_parts(config, rules))
    }

    /// Builds an engine from a config and a rule set. Any pair works: a
    /// [`Config`] is valid by construction, and the config only decides
    /// which packs [`RuleSet::load`] reads, not how their rules run.
    pub fn with_parts(config: Config, rules: RuleSet) -> Engine {
        let allow = Allowlist::new(&config);
        Engine { config, rules, allow, scorer: Scorer::default(), stats: Stats::default(), arena: Bump::new() }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The rules in use.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Counters since the engine was built.
    pub fn stats(&self) -> Stats {
        let mut by_correlation: BTreeMap<String, CorrelationStats> = BTreeMap::new();
        for (k, correlation) in self.rules.correlations.iter().enumerate() {
            let (groups, alerts, evictions) = self.scorer.correlation_counts(k);
            let c = by_correlation.entry(correlation.id.clone()).or_default();
            (c.alerts, c.groups, c.evictions) = (c.alerts + alerts, c.groups + groups, c.evictions + evictions);
        }
        let sum = |f: fn(&CorrelationStats) -> u64| by_correlation.values().map(f).sum();
        Stats {
            correlation_alerts: sum(|c| c.alerts),
            correlation_groups: sum(|c| c.groups),
            correlation_evictions: sum(|c| c.evictions),
            by_correlation,
            alerts: self.scorer.alerts,
            evictions: self.scorer.evictions,
            principals: self.scorer.len() as u64,
            ..self.stats.clone()
        }
    }

    /// The per-principal scoring state and the state of Sigma correlation
    /// rules, as JSON, to carry across a restart.
    pub fn export_state(&self) -> String {
        self.scorer.export(&self.config.scoring, &self.rules.correlations)
    }

    /// Replaces the scoring state with one from [`Engine::export_state`]. On
    /// error the current state is kept.
    pub fn import_state(&mut self, state: &str) -> Result<(), LoadError> {
        self.scorer =
            Scorer::import(&self.config.scoring, &self.rules.correlations, state).map_err(LoadError::State)?;
        Ok(())
    }

    /// Memory per tracked principal with a key of `key_len` bytes (the
    /// account and principal id), for capacity planning.
    pub fn bytes_per_principal(key_len: usize) -> usize {
        // The cost is linear in the key: added here saturating, so that no
        // key length can overflow.
        Scorer::bytes_per_principal(0).saturating_add(key_len)
    }

    /// The verdicts on one event: one per record.
    pub fn evaluate(&mut self, event: &[u8]) -> Vec<Verdict> {
        self.run(event, false).verdicts
    }

    /// Tags one event: a matching event comes back with detection fields
    /// added, anything else comes back unchanged (or dropped, in
    /// `drop-non-matches` mode). Never fails: a bad event gets an error
    /// verdict and passes through.
    pub fn tag(&mut self, event: &[u8]) -> Tagged {
        self.run(event, true)
    }

    /// Judges an event; builds its output only when asked to.
    fn run(&mut self, event: &[u8], output: bool) -> Tagged {
        self.stats.events += 1;
        if let Err(e) = input::check_size(event, &self.config) {
            return self.failed(event, &e);
        }
        let candidates = if self.config.validate { Candidates::All } else { self.rules.prefilter.scan(event) };
        // (A batch object is a candidate even when no rule could match it:
        // it is parsed so that each record gets its verdict.) Routing fields
        // need every record's principal: the prefilter still rules out the
        // rules, but no longer the parse.
        if candidates == Candidates::None && !self.config.validate && !self.config.routing_fields {
            self.stats.prefiltered += 1;
            self.stats.records += 1;
            return Tagged { output: self.pass(), verdicts: vec![Verdict::bare(Status::NoMatch)] };
        }
        let text = match input::check_before_parse(event) {
            Ok(text) => text,
            Err(e) => return self.failed(event, &e),
        };
        // The previous event's document is gone: its memory is reused.
        self.arena.reset();
        let value = match input::parse(text, &self.arena, &self.config) {
            Ok(v) if v.is_object() => v,
            Ok(_) => {
                let e = Error::new(ErrorKind::NotAnObject, "event is valid json but not an object");
                return self.failed(event, &e);
            }
            Err(e) => return self.failed(event, &e),
        };
        let shape = input::shape(value);
        let mut judged: Vec<(Verdict, Option<tag::Tags>)> = Vec::new();
        for record in input::records(value, shape) {
            let (verdict, mut tags) = judge(
                &self.config,
                &self.rules,
                &self.allow,
                &mut self.scorer,
                record,
                &self.arena,
                &candidates,
                output,
            );
            // With `output.routing_fields`, every record of a recognised
            // format has tags: at least its routing fields.
            if output && self.config.routing_fields && verdict.format.is_some() {
                tag::routing(&verdict, tags.get_or_insert_default());
            }
            judged.push((verdict, tags));
        }
        count(&mut self.stats, &judged);
        let any_match = judged.iter().any(|(v, _)| v.is_match());
        // Routing fields alone do not keep an event `drop-non-matches` drops.
        let any_tags = self.config.mode == OutputMode::Tag && judged.iter().any(|(_, tags)| tags.is_some());
        let output = if !output {
            Output::Unchanged
        } else if any_match || any_tags {
            let targets: Vec<(&Node<'_>, tag::Tags)> = input::tag_targets(value, shape)
                .iter()
                .zip(&mut judged)
                .filter_map(|(target, (_, tags))| tags.take().map(|tags| (target, tags)))
                .collect();
            match tag::write(event, &targets) {
                Some(bytes) => Output::Replaced(bytes),
                // The document's spans are the event's own, so this cannot
                // fail; if it ever did, the event still passes through.
                None => Output::Unchanged,
            }
        } else {
            self.pass()
        };
        Tagged { output, verdicts: judged.into_iter().map(|(v, _)| v).collect() }
    }

    /// The output for an event that is not a match.
    fn pass(&self) -> Output {
        match self.config.mode {
            OutputMode::Tag => Output::Unchanged,
            OutputMode::DropNonMatches => Output::Dropped,
        }
    }

    /// An event that could not be decoded: an error verdict, and the event
    /// passes through (with `modwatch.error` spliced in when asked for and
    /// the event is an object whose only fault is its size, its depth or a
    /// repeated key).
    fn failed(&mut self, event: &[u8], e: &Error) -> Tagged {
        self.stats.errors += 1;
        self.stats.records += 1;
        let output = match self.config.error_field.then(|| splice_error(event, e)).flatten() {
            Some(bytes) => Output::Replaced(bytes),
            None => Output::Unchanged,
        };
        Tagged { output, verdicts: vec![Verdict::error(e)] }
    }
}

/// Counts the verdicts on an event's records.
#[inline(never)] // See `judge` on frames.
fn count(s: &mut Stats, judged: &[(Verdict, Option<tag::Tags>)]) {
    for (v, _) in judged {
        s.records += 1;
        match v.status {
            Status::Match => {
                s.matches += 1;
                if let Some(c) = &v.category {
                    add_one(&mut s.by_category, c);
                }
                for m in &v.matches {
                    add_one(&mut s.by_rule, &m.rule_id);
                }
            }
            Status::Suppressed => s.suppressed += 1,
            Status::Unrecognised => s.unrecognised += 1,
            Status::Error => s.errors += 1,
            Status::NoMatch => {}
        }
    }
}

/// Adds one to `key`'s counter; the key is copied only the first time.
fn add_one(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

/// The verdict on one record, and its tags if it matched.
///
/// The bulky steps a record's rule evaluation does not run inside (the
/// parse, the view's build, scoring, the tags, the output) are
/// `#[inline(never)]`: WAMR's interpreter, which runs the Fluent Bit module,
/// gives a function's frame a slot for every local of its compiled code, so
/// a step inlined here or into `run` would sit in the frame under every call
/// of the rules' evaluation, and Fluent Bit's default 8 KiB stack does not
/// hold that (`docs/fluent-bit.md`). Out of line, each step's frame is on the
/// stack only while it runs.
#[expect(clippy::too_many_arguments, reason = "the engine's parts, borrowed apart from the arena the record is in")]
fn judge<'a>(
    config: &Config,
    rules: &RuleSet,
    allow: &Allowlist,
    scorer: &mut Scorer,
    record: &'a Node<'a>,
    arena: &'a Bump,
    candidates: &Candidates,
    want_tags: bool,
) -> (Verdict, Option<tag::Tags>) {
    if !record.is_object() {
        let e = Error::new(ErrorKind::NotAnObject, "batch record is not an object");
        return (Verdict::error(&e), None);
    }
    let Some(format) = normalise::sniff(record) else {
        return (Verdict::bare(Status::Unrecognised), None);
    };
    let view = View::new(record, format, arena);
    let facts = &view.facts;
    let mut verdict = Verdict {
        format: Some(format),
        op: facts.op.clone(),
        outcome: facts.outcome,
        principal: facts.principal.clone(),
        time: facts.time.map(str::to_string),
        ..Verdict::bare(Status::NoMatch)
    }
    .with_key(facts.account.as_deref());
    let rule_match = |i: usize| -> (usize, u32, RuleMatch) {
        let rule = &rules.rules[i];
        let entry = facts.op.as_deref().and_then(|op| rules.operation(op));
        // A Sigma rule on an operation the catalogue does not know: its own
        // category, with points from its level.
        let sigma_own = rule.sigma.as_ref().filter(|_| rule.category.is_none() && entry.is_none());
        let category = rule
            .category
            .clone()
            .or_else(|| entry.map(|e| e.category.clone()))
            .or_else(|| sigma_own.map(|_| crate::sigma::CATEGORY.to_string()))
            .unwrap_or_else(|| "MODIFY".into());
        let points = rule.points.or_else(|| sigma_own.map(|m| m.points)).unwrap_or_else(|| config.points_of(&category));
        // A sub-technique belongs to its technique: a share rule filed under
        // T1537 does not carry the catalogue's T1578.001.
        let subtechnique = rule
            .subtechnique
            .clone()
            .or_else(|| entry.and_then(|e| e.subtechnique.clone()))
            .filter(|s| s.strip_prefix(rule.technique.as_str()).is_some_and(|rest| rest.starts_with('.')));
        (
            i,
            points,
            RuleMatch {
                rule_id: rule.id.clone(),
                rule_name: rule.name.clone(),
                category,
                points,
                severity: rule.severity.name().to_string(),
                risk_score: rule.risk_score,
                technique: rule.technique.clone(),
                subtechnique,
            },
        )
    };
    let mut hits: Vec<(usize, u32, RuleMatch)> = Vec::new();
    // Rules a Sigma correlation counts without their own matches.
    let mut silent: Vec<usize> = Vec::new();
    for (i, rule) in rules.rules.iter().enumerate() {
        let wanted = match candidates {
            Candidates::None => false,
            Candidates::All => true,
            Candidates::Some(mask) => mask[i],
        };
        if !wanted || !rule.query.matches(&view) || !accounts_agree(rule, &view) {
            continue;
        }
        if rule.sigma.as_ref().is_some_and(|m| m.silent) {
            silent.push(i);
        } else {
            hits.push(rule_match(i));
        }
    }
    if hits.is_empty() && silent.is_empty() {
        return (verdict, None);
    }
    // A dry run changes nothing: never a match; it teaches the IP learner.
    if facts.outcome == Some(Outcome::DryRun) {
        if let Some(key) = verdict.principal_key() {
            scorer.teach(&config.scoring, key, facts.time, facts.source_ip);
        }
        return (verdict, None);
    }
    let suppressed = suppressed_by(config, allow, &view);
    // Sigma correlations count what the record matched, unless it is
    // allow-listed; the event that makes one fire is a match of it.
    if suppressed.is_none() && !rules.correlations.is_empty() {
        let matched: Vec<usize> = hits.iter().map(|h| h.0).chain(silent).collect();
        for (k, alerts) in scorer.correlate(&config.scoring, &rules.correlations, &matched, &view, facts.time) {
            let correlation = &rules.correlations[k];
            if !correlation.silent {
                hits.push(rule_match(correlation.rule));
                verdict.correlations.extend(alerts);
            }
        }
    }
    if hits.is_empty() {
        return (verdict, None);
    }
    // Highest points first; ties keep pack order (the sort is stable).
    hits.sort_by_key(|h| std::cmp::Reverse(h.1));
    // Per-record adjustments apply to every match alike, after ranking:
    // a failed call is probing (1 point), an Azure `Started` record
    // scores nothing (its operation scores on a later record).
    let lifecycle_only = facts.phase.is_some_and(Phase::is_lifecycle_only);
    let adjust = |points: u32| match (facts.outcome, lifecycle_only) {
        (_, true) => 0,
        (Some(Outcome::Failure), _) => points.min(1),
        _ => points,
    };
    let best_rule = &rules.rules[hits[0].0];
    verdict.matches = hits
        .into_iter()
        .map(|(_, _, mut m)| {
            m.points = adjust(m.points);
            m
        })
        .collect();
    verdict.category = verdict.matches.first().map(|m| m.category.clone());
    verdict.points = verdict.matches.first().map_or(0, |m| m.points);
    if let Some(reason) = suppressed {
        verdict.status = Status::Suppressed;
        verdict.suppressed_by = Some(reason);
        return (verdict, None);
    }
    verdict.status = Status::Match;
    if let Some(key) = verdict.principal_key() {
        let score = scorer.score(
            &config.scoring,
            &score::Input {
                key,
                time: facts.time,
                source_ip: facts.source_ip,
                dedup: facts.dedup.as_deref(),
                base: verdict.points,
                bulk: best_rule.bulk.as_ref().map_or(1, |field| bulk_count(&view, field)),
                failed: facts.outcome == Some(Outcome::Failure),
                lifecycle_only,
            },
        );
        verdict.score = Some(score);
    }
    let tags = want_tags.then(|| {
        let mut tags = tag::tags(&verdict, best_rule.severity.number(), &best_rule.ruleset, config);
        if let Some(meta) = &best_rule.sigma {
            tag::sigma(&mut tags, &best_rule.id, meta);
        }
        tags
    });
    (verdict, tags)
}

/// Why a matched record is allow-listed, if it is.
#[inline(never)] // See `judge` on frames.
fn suppressed_by(config: &Config, allow: &Allowlist, view: &View<'_>) -> Option<String> {
    let facts = &view.facts;
    if config.allow_aws_service_callers
        && let Some(by) = facts.service_caller
    {
        return Some(format!("aws_service_caller:{by}"));
    }
    for (text, pattern) in &allow.principals {
        if facts.principal_names.iter().any(|name| pattern.matches(name)) {
            return Some(format!("principal:{text}"));
        }
    }
    if let Some(ua) = facts.user_agent {
        for (text, pattern) in &allow.user_agents {
            if pattern.matches(ua) {
                return Some(format!("user_agent:{text}"));
            }
        }
    }
    None
}

/// How many resources a bulk call affects (at least 1).
fn bulk_count(view: &View<'_>, bulk: &Bulk) -> u64 {
    let mut n = 0u64;
    match bulk {
        Bulk::Count(field) => {
            view.any_value(field, &mut |_| {
                n += 1;
                false
            });
        }
        Bulk::Sum(field) => {
            view.any_value(field, &mut |v| {
                let value = match v {
                    Scalar::Num(x) => x.as_u64(),
                    Scalar::Str(s) => s.trim().parse::<u64>().ok(),
                    Scalar::Bool(_) => None,
                };
                n = n.saturating_add(value.unwrap_or(0));
                false
            });
        }
    }
    n.max(1)
}

/// The rule's account conditions: `foreign_account` needs some value at its
/// field that is not the resource owner's account; `own_account` needs values
/// that all are. An unknown owner makes every value foreign.
fn accounts_agree(rule: &Rule, view: &View<'_>) -> bool {
    let owner = view.facts.account.as_deref();
    let is_owner = |v: Scalar<'_>| -> bool {
        let text = match v {
            Scalar::Str(s) => std::borrow::Cow::Borrowed(s),
            Scalar::Num(n) => std::borrow::Cow::Owned(n.to_string()),
            Scalar::Bool(b) => std::borrow::Cow::Owned(b.to_string()),
        };
        // Azure exports upper-case resource ids, subscriptions included.
        owner.is_some_and(|o| o.eq_ignore_ascii_case(&text))
    };
    if let Some(field) = &rule.foreign_account
        && !view.any_value(field, &mut |v| !is_owner(v))
    {
        return false;
    }
    if let Some(field) = &rule.own_account {
        let (mut seen, mut foreign) = (false, false);
        view.any_value(field, &mut |v| {
            seen = true;
            foreign = !is_owner(v);
            foreign
        });
        if !seen || foreign {
            return false;
        }
    }
    true
}

/// `{"modwatch":{"error":…},` spliced after the opening brace of an object
/// event that was refused for its size, its depth or a repeated key (its
/// bytes are otherwise fine JSON, so the result is too).
fn splice_error(event: &[u8], e: &Error) -> Option<Vec<u8>> {
    if !matches!(e.kind(), ErrorKind::TooLarge | ErrorKind::TooDeep | ErrorKind::DuplicateKey) {
        return None;
    }
    let start = event.iter().position(|b| !b.is_ascii_whitespace())?;
    let end = event.iter().rposition(|b| !b.is_ascii_whitespace())?;
    if event[start] != b'{' || event[end] != b'}' {
        return None;
    }
    let tag = tag::error_tags(e.kind(), e.message()).to_json();
    let inner = &tag[1..tag.len() - 1];
    let rest = &event[start + 1..=end];
    let empty = rest.iter().filter(|b| !b.is_ascii_whitespace()).count() == 1;
    let mut out = Vec::with_capacity(event.len() + tag.len() + 2);
    out.push(b'{');
    out.extend_from_slice(inner);
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Some(out)
}
