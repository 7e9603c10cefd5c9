//! The rule table of `rules/README.md`, generated from the packs.
//!
//! The README's "Every built-in rule" section is written by `just
//! rules-table` between two marker comments; a test renders it again and
//! fails when the README is stale, so the table can never drift from the
//! packs it describes.

use std::fmt::Write as _;

use serde::Deserialize;

/// The marker before the generated table.
pub const START: &str = "<!-- rules-table:start -->";
/// The marker after it.
pub const END: &str = "<!-- rules-table:end -->";

/// The rule packs the table lists, in the order the README shows them.
pub const PACKS: &[&str] = &["seed.toml", "aws.toml", "azure.toml", "gcp.toml"];

#[derive(Debug, Deserialize)]
struct Pack {
    #[serde(default)]
    rule: Vec<Rule>,
}

/// The keys of a rule the table shows; the engine validates the rest.
#[derive(Debug, Deserialize)]
struct Rule {
    id: String,
    name: String,
    category: Option<String>,
    points: Option<u32>,
    technique: Option<String>,
    subtechnique: Option<String>,
    bulk: Option<String>,
    bulk_sum: Option<String>,
    foreign_account: Option<String>,
}

/// The table for the packs `(file name, TOML text)`; `points_of` gives a
/// category's default points (the engine's table).
pub fn render(packs: &[(&str, &str)], points_of: impl Fn(&str) -> u32) -> Result<String, String> {
    let mut out = String::new();
    for (file, text) in packs {
        let pack: Pack = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        let n = pack.rule.len();
        let _ = writeln!(out, "### {file} ({n} rule{})\n", if n == 1 { "" } else { "s" });
        out.push_str("| id | name | category | points | ATT&CK |\n|---|---|---|---|---|\n");
        for r in &pack.rule {
            let (category, points, attack) = match &r.category {
                Some(category) => {
                    let mut points = r.points.unwrap_or_else(|| points_of(category)).to_string();
                    if r.bulk.is_some() || r.bulk_sum.is_some() {
                        points.push_str(" (× count)");
                    }
                    if r.foreign_account.is_some() {
                        points.push_str(" (foreign account)");
                    }
                    (category.as_str(), points, attack(r))
                }
                // A rule without a category takes its operation's from the catalogue.
                None => ("from catalogue", "per operation".to_string(), "from catalogue".to_string()),
            };
            let _ = writeln!(out, "| `{}` | {} | {category} | {points} | {attack} |", r.id, r.name.replace('|', "\\|"));
        }
        out.push('\n');
    }
    Ok(out.trim_end().to_string() + "\n")
}

/// The ATT&CK column: the rule's technique when it is not T1578 (shares and
/// exports are T1537), else its sub-technique, else T1578.
fn attack(r: &Rule) -> String {
    match (&r.technique, &r.subtechnique) {
        (Some(t), _) if t != "T1578" => t.clone(),
        (_, Some(s)) => s.clone(),
        _ => "T1578".to_string(),
    }
}

/// `readme` with the text between the markers replaced by `table`; `None`
/// when the markers are missing.
pub fn splice(readme: &str, table: &str) -> Option<String> {
    let start = readme.find(START)? + START.len();
    let end = start + readme[start..].find(END)?;
    Some(format!("{}\n\n{}\n{}", &readme[..start], table, &readme[end..]))
}

/// The built-in packs the README lists, from the engine, in [`PACKS`] order.
pub fn builtin_packs() -> Vec<(&'static str, &'static str)> {
    let sources = modwatch_engine::RuleSet::builtin_sources();
    PACKS.iter().filter_map(|name| sources.iter().find(|(file, _)| file == name).copied()).collect()
}

/// `rules/README.md` as it should read: its text with the table generated
/// from the built-in packs and the default points.
pub fn readme(current: &str) -> Result<String, String> {
    let config = modwatch_engine::Config::default();
    let table = render(&builtin_packs(), |category| config.points_of(category))?;
    splice(current, &table).ok_or_else(|| format!("rules/README.md has no {START} … {END} markers"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path of `rules/README.md`.
    fn path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/README.md")
    }

    #[test]
    fn the_rules_readme_lists_every_rule_as_the_packs_say() {
        let current = std::fs::read_to_string(path()).unwrap();
        let want = readme(&current).unwrap();
        assert!(current == want, "rules/README.md's rule table is stale: run `just rules-table` and review the diff");
    }

    #[test]
    fn rows_follow_the_rule() {
        let pack = r#"
[[rule]]
id = "a"
name = "A | B"
category = "SHARE_EXTERNAL"
technique = "T1537"
foreign_account = "x"
[[rule]]
id = "b"
name = "B"
category = "CREATE"
subtechnique = "T1578.002"
bulk_sum = "y"
points = 2
[[rule]]
id = "c"
name = "C"
"#;
        let table = render(&[("p.toml", pack)], |c| if c == "SHARE_EXTERNAL" { 4 } else { 1 }).unwrap();
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| `")).collect();
        assert_eq!(
            rows,
            [
                r"| `a` | A \| B | SHARE_EXTERNAL | 4 (foreign account) | T1537 |",
                "| `b` | B | CREATE | 2 (× count) | T1578.002 |",
                "| `c` | C | from catalogue | per operation | from catalogue |",
            ]
        );
        assert!(table.starts_with("### p.toml (3 rules)\n\n| id |"), "{table}");
        assert_eq!(
            splice("x\n<!-- rules-table:start -->\nold\n<!-- rules-table:end -->\ny", "T\n").as_deref(),
            Some("x\n<!-- rules-table:start -->\n\nT\n\n<!-- rules-table:end -->\ny")
        );
        assert_eq!(splice("no markers", "T"), None);
    }
}
