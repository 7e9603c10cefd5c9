//! modwatch's own attribute in a Sigma rule: `modwatch: {category, points}`,
//! the category and points an exported rule had in its TOML pack (Sigma
//! allows custom top-level attributes; other tools ignore it). Without it a
//! Sigma match takes its category from the operation catalogue, else from
//! its level.

use super::yaml::{Node, Plain};
use crate::config::is_category_name;

/// The attribute's key.
pub(crate) const KEY: &str = "modwatch";

/// The rule's own category and points.
#[derive(Debug, Default)]
pub(crate) struct Custom {
    pub(crate) category: Option<String>,
    pub(crate) points: Option<u32>,
}

/// Reads the attribute of a rule document; problems come back with the node
/// they are about.
pub(crate) fn read(doc: &Node) -> (Custom, Vec<(&Node, String)>) {
    let mut custom = Custom::default();
    let mut problems = Vec::new();
    let Some(attr) = doc.get(KEY) else { return (custom, problems) };
    if !attr.is_map() {
        problems.push((attr, format!("`{KEY}` is a mapping with `category` and `points`")));
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
            (other, _) => problems.push((
                key,
                format!("`{KEY}` has `category` and `points`, not {:?}", other.unwrap_or("a non-string key")),
            )),
        }
    }
    (custom, problems)
}
