//! Tag mode: the fields added to a matching record (ECS style, `docs/detection.md#output`).
//!
//! Tags are merged into the record without removing or changing anything it
//! already has: a key that exists keeps its value, objects are merged key by
//! key, and a key whose existing value is not an object is left alone.
//! [`write`] does this on the event's bytes: what the tags do not touch is
//! passed on exactly as it came.

use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::doc::{Node, Object};
use crate::normalise::outcome_name;
use crate::verdict::{Verdict, partition_token};

/// ATT&CK names of the techniques rule packs refer to.
const ATTACK_NAMES: &[(&str, &str)] = &[
    ("T1578", "Modify Cloud Compute Infrastructure"),
    ("T1578.001", "Create Snapshot"),
    ("T1578.002", "Create Cloud Instance"),
    ("T1578.003", "Delete Cloud Instance"),
    ("T1578.004", "Revert Cloud Instance"),
    ("T1578.005", "Modify Cloud Compute Configurations"),
    ("T1537", "Transfer Data to Cloud Account"),
    ("T1485", "Data Destruction"),
    ("T1490", "Inhibit System Recovery"),
    ("T1496", "Resource Hijacking"),
    ("T1530", "Data from Cloud Storage"),
    ("T1535", "Unused/Unsupported Cloud Regions"),
    ("T1552", "Unsecured Credentials"),
    ("T1562", "Impair Defenses"),
    ("T1562.001", "Disable or Modify Tools"),
    ("T1567", "Exfiltration Over Web Service"),
    ("T1567.002", "Exfiltration to Cloud Storage"),
    ("T1651", "Cloud Administration Command"),
    ("T1059", "Command and Scripting Interpreter"),
    ("T1098", "Account Manipulation"),
    ("T1098.004", "SSH Authorized Keys"),
    ("T1021", "Remote Services"),
];

/// The ATT&CK name of a technique or sub-technique id.
pub(crate) fn attack_name(id: &str) -> Option<&'static str> {
    ATTACK_NAMES.iter().find(|(i, _)| *i == id).map(|(_, n)| *n)
}

fn id_name(id: &str) -> Value {
    match attack_name(id) {
        Some(name) => json!({ "id": id, "name": name }),
        None => json!({ "id": id }),
    }
}

/// The fields a matching verdict adds, as one object to merge at the top of
/// the record.
pub(crate) fn tags(v: &Verdict, severity_number: u32, ruleset: &str, config: &Config) -> Value {
    let Some(best) = v.matches.first() else { return Value::Object(Map::new()) };
    let mut technique = id_name(&best.technique);
    if let (Some(sub), Value::Object(t)) = (&best.subtechnique, &mut technique) {
        t.insert("subtechnique".into(), id_name(sub));
    }
    let mut modwatch = Map::new();
    modwatch.insert("category".into(), json!(best.category));
    modwatch.insert("points".into(), json!(v.points));
    modwatch.insert("severity".into(), json!(best.severity));
    if let Some(op) = &v.op {
        modwatch.insert("operation".into(), json!(op));
    }
    if let Some(o) = v.outcome {
        modwatch.insert("outcome".into(), json!(outcome_name(o)));
    }
    if let Some(p) = &v.principal {
        modwatch.insert("principal".into(), json!(p));
    }
    if let Some(f) = v.format {
        modwatch.insert("format".into(), json!(f.name()));
    }
    let matches: Vec<Value> = v
        .matches
        .iter()
        .map(|m| json!({ "rule_id": m.rule_id, "rule_name": m.rule_name, "category": m.category, "points": m.points }))
        .collect();
    modwatch.insert("matches".into(), Value::Array(matches));
    let mut event = json!({ "risk_score": best.risk_score, "severity": severity_number });
    if let Some(score) = &v.score {
        modwatch.insert("scored_points".into(), json!(score.points));
        modwatch.insert("principal_score".into(), json!(score.principal_score));
        if !score.reasons.is_empty() {
            modwatch.insert("reasons".into(), json!(score.reasons));
        }
        if let Some(alert) = &score.alert {
            modwatch.insert("alert".into(), json!(alert));
            event["kind"] = json!("alert");
        }
    }
    if !v.correlations.is_empty() {
        modwatch.insert("correlations".into(), json!(v.correlations));
        event["kind"] = json!("alert");
    }
    json!({
        "threat": {
            "framework": "MITRE ATT&CK",
            "tactic": { "id": config.tactic.id, "name": config.tactic.name },
            "technique": technique,
        },
        "rule": { "id": best.rule_id, "name": best.rule_name, "ruleset": ruleset },
        "event": event,
        "modwatch": modwatch,
    })
}

/// The fields `output.routing_fields` adds to a record of a recognised
/// format: the principal key (when the record names a principal) and its
/// partition token. A record that names no principal adds to no principal's
/// state, so any partition scores it alike: it gets the token of the empty
/// key, which no principal has (a key always holds a `|`).
pub(crate) fn routing(v: &Verdict) -> Value {
    let mut modwatch = Map::new();
    if let Some(key) = v.principal_key() {
        modwatch.insert("principal_key".into(), json!(key));
    }
    modwatch.insert("partition".into(), json!(partition_token(v.principal_key().unwrap_or(""))));
    json!({ "modwatch": modwatch })
}

/// The error object `output.error_field` adds.
pub(crate) fn error_tag(err: &crate::Error) -> Value {
    json!({ "modwatch": { "error": { "code": err.code(), "kind": err.kind().name(), "message": err.message() } } })
}

/// Merges `add` into `target` without touching what `target` already has.
pub(crate) fn merge(target: &mut Value, add: Value) {
    let (Value::Object(target), Value::Object(add)) = (target, add) else { return };
    for (key, value) in add {
        match target.get_mut(&key) {
            None => {
                target.insert(key, value);
            }
            Some(existing @ Value::Object(_)) => merge(existing, value),
            Some(_) => {}
        }
    }
}

/// The event with each record's tags merged in as [`merge`] merges them,
/// written from the event's bytes: each target object is copied up to its
/// closing brace, except the objects on the path of a merged key, which are
/// rewritten the same way, and the keys it lacks are appended. Only the tags
/// are serialised. `targets` are objects of the document parsed from `event`,
/// in document order; anything else is left alone. `None` if a span does not
/// fit the bytes (never for a document parsed from them).
pub(crate) fn write(event: &[u8], targets: &[(&Node<'_>, Value)]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(event.len() + targets.len() * 512);
    let mut cursor = 0;
    for (target, tags) in targets {
        let (Node::Object(object), Value::Object(add)) = (target, tags) else { continue };
        out.extend_from_slice(event.get(cursor..object.span.start as usize)?);
        write_object(&mut out, event, object, add)?;
        cursor = object.span.end as usize;
    }
    out.extend_from_slice(event.get(cursor..)?);
    Some(out)
}

/// One object with `add` merged in. Recursion follows the tags (a few levels),
/// never the event's nesting.
fn write_object(out: &mut Vec<u8>, event: &[u8], object: &Object<'_>, add: &Map<String, Value>) -> Option<()> {
    let mut cursor = object.span.start as usize;
    for (key, value) in object.members {
        if let (Some(Value::Object(more)), Node::Object(child)) = (add.get(*key), value) {
            out.extend_from_slice(event.get(cursor..child.span.start as usize)?);
            write_object(out, event, child, more)?;
            cursor = child.span.end as usize;
        }
    }
    // Up to the closing brace.
    out.extend_from_slice(event.get(cursor..(object.span.end as usize).checked_sub(1)?)?);
    let mut first = object.is_empty();
    for (key, value) in add {
        if object.contains_key(key) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        serde_json::to_writer(&mut *out, key).ok()?;
        out.push(b':');
        serde_json::to_writer(&mut *out, value).ok()?;
    }
    out.push(b'}');
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_existing_fields() {
        let mut t = json!({"event": {"action": "X", "risk_score": 5}, "rule": "theirs", "a": 1});
        merge(&mut t, json!({"event": {"risk_score": 73, "severity": 3}, "rule": {"id": "r"}, "b": 2}));
        assert_eq!(
            t,
            json!({"event": {"action": "X", "risk_score": 5, "severity": 3}, "rule": "theirs", "a": 1, "b": 2})
        );
    }

    /// `write` on the bytes agrees with `merge` on the tree, and keeps the
    /// bytes of what it does not touch.
    #[test]
    fn write_merges_as_merge_does() {
        let arena = bumpalo::Bump::new();
        let add = json!({"event": {"risk_score": 73, "severity": 3}, "rule": {"id": "r"}, "b": 2});
        let cases = [
            r#"{"event": {"action": "X", "risk_score": 5}, "rule": "theirs", "a": 1.50}"#,
            r#" {"a":"\u00e9\/"} "#,
            r#"{}"#,
            r#"{"event":{}}"#,
            r#"{"event":[{"x":1}],"b":{"c":1}}"#,
        ];
        for text in cases {
            let Ok(node) = crate::doc::parse(text, &arena) else { panic!("{text}") };
            let bytes = write(text.as_bytes(), &[(node, add.clone())]).unwrap_or_default();
            let mut want: Value = serde_json::from_str(text).unwrap_or_default();
            merge(&mut want, add.clone());
            let got: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            assert_eq!(got, want, "{text} → {}", String::from_utf8_lossy(&bytes));
        }
        let text = r#"{"Records":[{"a":1.0, "event":{"k":"\u00e9"}},  7, {"b":[1 ,2]}]}"#;
        let Ok(node) = crate::doc::parse(text, &arena) else { panic!("batch") };
        let items = node.get("Records").and_then(Node::as_array).unwrap_or_default();
        let targets: Vec<(&Node<'_>, Value)> = items.iter().map(|n| (n, add.clone())).collect();
        let bytes = String::from_utf8(write(text.as_bytes(), &targets).unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            bytes,
            r#"{"Records":[{"a":1.0, "event":{"k":"\u00e9","risk_score":73,"severity":3},"rule":{"id":"r"},"b":2},  7, {"b":[1 ,2],"event":{"risk_score":73,"severity":3},"rule":{"id":"r"}}]}"#
        );
    }

    #[test]
    fn names() {
        assert_eq!(attack_name("T1578.004"), Some("Revert Cloud Instance"));
        assert_eq!(attack_name("T9999"), None);
    }
}
