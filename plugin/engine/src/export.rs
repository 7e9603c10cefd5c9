//! A read-only view of a loaded rule set and config as plain data, for
//! translating modwatch's stateless tagging into other languages
//! (`modwatch export vrl`). Built only with the `export` feature; not a
//! stable interface.

use std::collections::BTreeMap;

// The condition types are defined with the compiler that builds them
// (`eql::export`) so that the dependency runs one way: this view uses the
// EQL module, never the reverse.
pub use crate::eql::export::{Compare, Condition, Literal, ValueTest};

use crate::config::Config;
use crate::error::{Error, ErrorKind, Location};
use crate::rules::RuleSet;
use crate::tag::attack_name;
use crate::verdict::Format;

/// An ATT&CK technique or sub-technique: id and name (when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Technique {
    /// `T1578.003`.
    pub id: String,
    /// `Delete Cloud Instance`.
    pub name: Option<String>,
}

/// One rule, as the tagger uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `rule.id`.
    pub id: String,
    /// `rule.name`.
    pub name: String,
    /// `rule.ruleset`.
    pub ruleset: String,
    /// `modwatch.severity`.
    pub severity: String,
    /// `event.severity`.
    pub severity_number: u32,
    /// `event.risk_score`.
    pub risk_score: u32,
    /// The rule's own category (else the catalogue's, else `MODIFY`).
    pub category: Option<String>,
    /// The rule's own points (else the category's).
    pub points: Option<u32>,
    /// The technique.
    pub technique: Technique,
    /// The rule's own sub-technique (else the catalogue's, if it belongs to
    /// the technique).
    pub subtechnique: Option<Technique>,
    /// The query.
    pub condition: Condition,
    /// `foreign_account`: some value at this field is not the owner account.
    pub foreign_account: Option<String>,
    /// `own_account`: every value at this field is the owner account (and
    /// there is one).
    pub own_account: Option<String>,
    /// `bulk`: the rule scores once per value of this field.
    pub bulk: Option<String>,
    /// `bulk_sum`: the rule scores the sum of this field's values.
    pub bulk_sum: Option<String>,
    /// The rule's description.
    pub description: Option<String>,
    /// Its false positives.
    pub false_positives: Vec<String>,
    /// Its references.
    pub references: Vec<String>,
    /// The input formats of the example events it must match, in order.
    pub example_formats: Vec<Format>,
    /// For a rule loaded from a Sigma rule, what its match adds to the tags
    /// of any rule.
    pub sigma: Option<SigmaFields>,
}

/// What a Sigma rule's match adds to the tags of any rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaFields {
    /// The `sigma` object: the rule's metadata (its id is also `rule.uuid`).
    pub sigma: serde_json::Value,
    /// `threat.tactic` from the rule's ATT&CK tactic tag, if it has one.
    pub tactic: Option<(String, String)>,
}

/// One operation of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The operation pattern as an anchored regular expression (matched
    /// against the lower-case `modwatch.op`).
    pub pattern: String,
    /// Its category.
    pub category: String,
    /// Its sub-technique.
    pub subtechnique: Option<Technique>,
}

/// Everything the stateless tagger needs, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    /// The rules, in pack order.
    pub rules: Vec<Rule>,
    /// The operation catalogue, in lookup order (first match wins).
    pub operations: Vec<Operation>,
    /// `threat.tactic`: id and name.
    pub tactic: (String, String),
    /// Points per category.
    pub points: BTreeMap<String, u32>,
    /// Suppress AWS services acting on their own behalf.
    pub allow_aws_service_callers: bool,
    /// Allow-listed principals, as anchored regular expressions.
    pub allow_principals: Vec<(String, String)>,
    /// Allow-listed user agents, as anchored regular expressions.
    pub allow_user_agents: Vec<(String, String)>,
    /// Per format name, the ECS aliases onto raw paths (`(ecs, raw)`, first
    /// match wins).
    pub aliases: Vec<(&'static str, &'static [(&'static str, &'static str)])>,
    /// `output.routing_fields`: add the principal key and partition token to
    /// every record of a recognised format.
    pub routing_fields: bool,
}

/// The field name of a condition leaf that reads every scalar at or below a
/// node: alone, every value of the record (Sigma keywords); `X.**`, every
/// value below `X` (Sigma `contains` on an object).
pub const EVERY_VALUE: &str = crate::sigma::EVERY_VALUE;

/// The error a translator reports for a rule it cannot translate (`E207`):
/// `message` says what in the condition has no equivalent.
pub fn not_exportable(rule_id: &str, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::RuleNotExportable, message)
        .at(Location { rule_id: Some(rule_id.to_string()), ..Location::default() })
}

fn technique(id: &str) -> Technique {
    Technique { id: id.to_string(), name: attack_name(id).map(str::to_string) }
}

/// The view of a rule set under a config.
pub fn pack(rules: &RuleSet, config: &Config) -> Pack {
    let allow = |list: &[String]| {
        list.iter()
            .map(|p| {
                let w = crate::eql::Wildcard::parse(p, crate::eql::Syntax::Eql, true);
                (p.clone(), w.regex_source())
            })
            .collect()
    };
    let formats = [
        Format::AwsCloudtrail,
        Format::AwsCloudtrailEcs,
        Format::AzureActivity,
        Format::AzureActivityRest,
        Format::AzureActivityLogAnalytics,
        Format::AzureActivityEcs,
        Format::GcpAudit,
        Format::GcpAuditEcs,
    ];
    Pack {
        rules: rules
            .rules
            .iter()
            // Rules only a Sigma correlation counts make no matches of their own.
            .filter(|r| !r.sigma.as_ref().is_some_and(|m| m.silent))
            .map(|r| Rule {
                id: r.id.clone(),
                name: r.name.clone(),
                ruleset: r.ruleset.clone(),
                severity: r.severity.name().to_string(),
                severity_number: r.severity.number(),
                risk_score: r.risk_score,
                category: r.category.clone(),
                points: r.points,
                technique: technique(&r.technique),
                subtechnique: r.subtechnique.as_deref().map(technique),
                condition: r.query.condition(),
                foreign_account: r.foreign_account.as_ref().map(|f| f.dotted.clone()),
                own_account: r.own_account.as_ref().map(|f| f.dotted.clone()),
                bulk: match &r.bulk {
                    Some(crate::rules::Bulk::Count(f)) => Some(f.dotted.clone()),
                    _ => None,
                },
                bulk_sum: match &r.bulk {
                    Some(crate::rules::Bulk::Sum(f)) => Some(f.dotted.clone()),
                    _ => None,
                },
                description: r.about.description.clone(),
                false_positives: r.about.false_positives.clone(),
                references: r.about.references.clone(),
                example_formats: r
                    .examples
                    .iter()
                    .filter(|e| e.expect_match)
                    .filter_map(|e| {
                        let arena = bumpalo::Bump::new();
                        let event = crate::doc::parse(&e.event, &arena).ok()?;
                        let records = crate::input::records(event, crate::input::shape(event));
                        records.first().and_then(|r| crate::normalise::sniff(r))
                    })
                    .collect(),
                sigma: r.sigma.as_ref().map(|meta| SigmaFields {
                    sigma: crate::tag::sigma_fields(&r.id, meta),
                    tactic: meta.tactic.map(|(id, name)| (id.to_string(), name.to_string())),
                }),
            })
            .collect(),
        operations: rules
            .catalogue()
            .map(|(pattern, category, sub)| Operation {
                pattern,
                category: category.to_string(),
                subtechnique: sub.map(technique),
            })
            .collect(),
        tactic: (config.tactic.id.clone(), config.tactic.name.clone()),
        points: config.points.clone(),
        allow_aws_service_callers: config.allow_aws_service_callers,
        allow_principals: allow(&config.allow_principals),
        allow_user_agents: allow(&config.allow_user_agents),
        aliases: formats.iter().map(|f| (f.name(), crate::normalise::aliases(*f))).collect(),
        routing_fields: config.routing_fields,
    }
}

/// A rule set as Sigma rules (`modwatch export sigma`): each rule that has
/// a Sigma equivalent, and the reason for each that has none.
pub fn sigma(rules: &RuleSet, config: &Config) -> SigmaPack {
    crate::sigma::export::pack(&pack(rules, config))
}

pub use crate::sigma::export::{SigmaPack, SigmaRule, Skipped};

/// The values of `field` in each record of `event`, as rules see them: the
/// lookup EQL does on the normalised view (normalised fields, then ECS
/// aliases, then the record's own fields), every scalar of an array, null
/// and "" left out. One entry per record (a batch has several), `None` for a
/// record whose format is not recognised. For checking a translation of the
/// normalisation against the engine, field by field.
pub fn field_values(event: &serde_json::Value, field: &str) -> Vec<Option<Vec<serde_json::Value>>> {
    use crate::eql::{Document as _, FieldPath, Scalar};
    let path = FieldPath::new(field);
    let text = event.to_string();
    let arena = bumpalo::Bump::new();
    let Ok(event) = crate::doc::parse(&text, &arena) else { return Vec::new() };
    let records = crate::input::records(event, crate::input::shape(event));
    records
        .iter()
        .map(|record| {
            let format = crate::normalise::sniff(record)?;
            let view = crate::normalise::View::new(record, format, &arena);
            let mut values = Vec::new();
            view.any_value(&path, &mut |v| {
                values.push(match v {
                    Scalar::Str(s) => serde_json::Value::String(s.to_string()),
                    Scalar::Num(n) => n.as_str().parse().map_or(serde_json::Value::Null, serde_json::Value::Number),
                    Scalar::Bool(b) => serde_json::Value::Bool(b),
                });
                // Not found yet: every value is wanted.
                false
            });
            Some(values)
        })
        .collect()
}
