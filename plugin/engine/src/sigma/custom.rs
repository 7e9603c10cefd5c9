//! modwatch's own attribute in a Sigma rule: `modwatch: {category, points,
//! bulk | bulk_sum}`, what an exported rule had in its TOML pack besides its
//! query (Sigma allows custom top-level attributes; other tools ignore it).
//! Without it a Sigma match takes its category from the operation catalogue,
//! else from its level, and scores once per event.

use super::yaml::{Node, Plain};
use crate::config::is_category_name;
use crate::eql::FieldPath;
use crate::rules::Bulk;

/// The attribute's key.
pub(crate) const KEY: &str = "modwatch";

/// The rule's own category and points.
#[derive(Debug, Default)]
pub(crate) struct Custom {
    pub(crate) category: Option<String>,
    pub(crate) points: Option<u32>,
    pub(crate) bulk: Option<Bulk>,
}

/// Reads the attribute of a rule document; problems come back with the node
/// they are about.
pub(crate) fn read(doc: &Node) -> (Custom, Vec<(&Node, String)>) {
    let mut custom = Custom::default();
    let mut problems = Vec::new();
    let Some(attr) = doc.get(KEY) else { return (custom, problems) };
    if !attr.is_map() {
        problems.push((attr, format!("`{KEY}` is a mapping with `category`, `points`, `bulk` or `bulk_sum`")));
        return (custom, problems);
    }
    for (key, value) in attr.entries() {
        match (key.str(), value.scalar()) {
            (Some("category"), Some(Plain::Str(c))) if is_category_name(c) => custom.category = Some(c.to_string()),
            (Some("category"), _) => {
                problems.push((value, format!("`{KEY}.category` must be an UPPER_SNAKE_CASE category name")));
            }
            (Some("points"), Some(Plain::Int(n))) if n.parse::<u32>().is_ok() => custom.points = n.parse().ok(),
            (Some("points"), _) => problems.push((value, format!("`{KEY}.points` must be a whole number"))),
            (Some(k @ ("bulk" | "bulk_sum")), Some(Plain::Str(f))) if !f.is_empty() && custom.bulk.is_none() => {
                let f = FieldPath::new(f);
                custom.bulk = Some(if k == "bulk" { Bulk::Count(f) } else { Bulk::Sum(f) });
            }
            (Some(k @ ("bulk" | "bulk_sum")), _) => {
                problems.push((value, format!("`{KEY}.{k}` must be a field name, and only one of bulk and bulk_sum")));
            }
            (other, _) => problems.push((
                key,
                format!(
                    "`{KEY}` has `category`, `points`, `bulk` and `bulk_sum`, not {:?}",
                    other.unwrap_or("a non-string key")
                ),
            )),
        }
    }
    (custom, problems)
}
