//! Logsource field mappings: which fields of an event a Sigma field name
//! reads, from pipelines written like pySigma's processing pipelines
//! (`rules/sigma-pipeline.yml`, documented in `docs/sigma.md`).

use super::yaml::Node;

/// The built-in pipeline.
pub(crate) const BUILTIN: &str = include_str!("../../../../rules/sigma-pipeline.yml");

/// A rule's logsource (lower-cased).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Logsource {
    pub(crate) product: Option<String>,
    pub(crate) service: Option<String>,
    pub(crate) category: Option<String>,
}

impl Logsource {
    pub(crate) fn from_node(node: &Node) -> Logsource {
        let get = |k: &str| node.get(k).and_then(Node::str).map(str::to_ascii_lowercase);
        Logsource { product: get("product"), service: get("service"), category: get("category") }
    }

    /// `product/service/category`, for messages.
    pub(crate) fn describe(&self) -> String {
        let parts: Vec<String> = [("product", &self.product), ("service", &self.service), ("category", &self.category)]
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
            .collect();
        if parts.is_empty() { "none".to_string() } else { parts.join(", ") }
    }

    /// True if every key the condition gives equals the rule's.
    fn satisfies(&self, condition: &Logsource) -> bool {
        let ok = |want: &Option<String>, got: &Option<String>| want.is_none() || want == got;
        ok(&condition.product, &self.product)
            && ok(&condition.service, &self.service)
            && ok(&condition.category, &self.category)
    }
}

/// Where a Sigma field reads: an event field, or the first `/`-separated
/// segment of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) field: String,
    /// `FIELD/*`: the value is FIELD's first segment.
    pub(crate) segment: bool,
}

impl Target {
    fn parse(text: &str) -> Target {
        match text.strip_suffix("/*") {
            Some(field) => Target { field: field.to_string(), segment: true },
            None => Target { field: text.to_string(), segment: false },
        }
    }
}

#[derive(Debug)]
enum Mapping {
    Exact(Vec<(String, Vec<String>)>),
    Prefix(Vec<(String, Vec<String>)>),
}

#[derive(Debug)]
struct Transformation {
    conditions: Vec<Logsource>,
    mapping: Mapping,
}

/// The field mappings of one or more pipelines, user pipelines first.
#[derive(Debug, Default)]
pub(crate) struct Pipelines {
    transformations: Vec<Transformation>,
}

/// True for a YAML document that is a pipeline (it has `transformations`).
pub(crate) fn is_pipeline(doc: &Node) -> bool {
    doc.get("transformations").is_some()
}

impl Pipelines {
    /// Adds a pipeline document; problems come back as (message, node line, column).
    pub(crate) fn add(&mut self, doc: &Node) -> Vec<(String, u32, u32)> {
        let mut problems = Vec::new();
        let Some(list) = doc.get("transformations") else { return problems };
        for t in list.items() {
            let kind = t.get("type").and_then(Node::str).unwrap_or("");
            let conditions: Vec<Logsource> = t
                .get("rule_conditions")
                .map(|c| c.items().into_iter().filter(|c| c.is_map()).map(Logsource::from_node).collect())
                .unwrap_or_default();
            let Some(mapping) = t.get("mapping").filter(|m| m.is_map()) else {
                problems.push(("a transformation needs a `mapping` of fields".to_string(), t.line, t.column));
                continue;
            };
            let pairs: Vec<(String, Vec<String>)> = mapping
                .entries()
                .iter()
                .filter_map(|(k, v)| {
                    let targets: Vec<String> =
                        v.items().into_iter().filter_map(|n| n.str().or(Some(""))).map(String::from).collect();
                    Some((k.str()?.to_string(), targets))
                })
                .collect();
            let mapping = match kind {
                "field_name_mapping" => Mapping::Exact(pairs),
                "field_name_prefix_mapping" => Mapping::Prefix(pairs),
                other => {
                    problems.push((
                        format!(
                            "transformation type {other:?} is not supported: modwatch reads field_name_mapping and field_name_prefix_mapping"
                        ),
                        t.line,
                        t.column,
                    ));
                    continue;
                }
            };
            self.transformations.push(Transformation { conditions, mapping });
        }
        problems
    }

    /// True if some field mapping applies to the logsource: a logsource
    /// modwatch reads.
    pub(crate) fn knows(&self, logsource: &Logsource) -> bool {
        self.transformations.iter().any(|t| applies(t, logsource))
    }

    /// The event fields a Sigma field name reads under a logsource.
    pub(crate) fn targets(&self, logsource: &Logsource, field: &str) -> Vec<Target> {
        let applicable = || self.transformations.iter().filter(|t| applies(t, logsource));
        for t in applicable() {
            if let Mapping::Exact(pairs) = &t.mapping
                && let Some((_, targets)) = pairs.iter().find(|(k, _)| k == field)
            {
                return targets.iter().map(|t| Target::parse(t)).collect();
            }
        }
        // The longest prefix of any applicable prefix mapping.
        let mut best: Option<(&str, &[String])> = None;
        for t in applicable() {
            if let Mapping::Prefix(pairs) = &t.mapping {
                for (prefix, targets) in pairs {
                    if field.starts_with(prefix.as_str()) && best.is_none_or(|(b, _)| prefix.len() > b.len()) {
                        best = Some((prefix, targets));
                    }
                }
            }
        }
        match best {
            Some((prefix, targets)) => {
                targets.iter().map(|t| Target::parse(&format!("{t}{}", &field[prefix.len()..]))).collect()
            }
            None => vec![Target { field: field.to_string(), segment: false }],
        }
    }
}

impl Pipelines {
    /// The first logsource a field mapping is written for whose product is
    /// `product` (`aws` -> aws/cloudtrail), for writing rules as Sigma.
    #[cfg(feature = "export")]
    pub(crate) fn logsource_for(&self, product: &str) -> Option<Logsource> {
        self.transformations
            .iter()
            .filter(|t| matches!(t.mapping, Mapping::Exact(_)))
            .flat_map(|t| &t.conditions)
            .find(|c| c.product.as_deref() == Some(product))
            .cloned()
    }

    /// The Sigma field names that read exactly `field` (one target, that
    /// field) under a logsource, the pipelines' own names first and the
    /// field as written last: the reverse of [`Pipelines::targets`], for
    /// writing rules as Sigma. Empty when every name for it also reads
    /// other fields.
    #[cfg(feature = "export")]
    pub(crate) fn names_for(&self, logsource: &Logsource, field: &str) -> Vec<String> {
        let mut candidates = Vec::new();
        for t in self.transformations.iter().filter(|t| applies(t, logsource)) {
            match &t.mapping {
                Mapping::Exact(pairs) => {
                    candidates.extend(pairs.iter().filter(|(_, to)| to == &[field]).map(|(k, _)| k.clone()));
                }
                Mapping::Prefix(pairs) => {
                    candidates.extend(pairs.iter().filter_map(|(prefix, to)| match to.as_slice() {
                        // Not a prefix onto the record's own fields (`data.` -> ''):
                        // it would rename every field.
                        [to] if !to.is_empty() => field.strip_prefix(to.as_str()).map(|rest| format!("{prefix}{rest}")),
                        _ => None,
                    }))
                }
            }
        }
        candidates.push(field.to_string());
        candidates.dedup();
        let exact = [Target { field: field.to_string(), segment: false }];
        candidates.retain(|c| self.targets(logsource, c) == exact);
        candidates
    }
}

fn applies(t: &Transformation, logsource: &Logsource) -> bool {
    t.conditions.iter().any(|c| logsource.satisfies(c))
}
