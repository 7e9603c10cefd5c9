//! Tag mode: the fields added to a matching record (ECS style, `docs/detection.md#output`).
//!
//! Tags are merged into the record without removing or changing anything it
//! already has: a key that exists keeps its value, objects are merged key by
//! key, and a key whose existing value is not an object is left alone.
//! [`write`] does this on the event's bytes: what the tags do not touch is
//! passed on exactly as it came.

use std::ops::Range;

use serde::{Serialize, Serializer};

use crate::config::Config;
use crate::doc::{Node, Object};
use crate::error::ErrorKind;
use crate::normalise::outcome_name;
use crate::sigma::Meta;
use crate::verdict::{RuleMatch, Verdict, partition_token};

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

/// The fields added to one record: objects whose members keep the order
/// they were set in (the order they are written), and values held as their
/// JSON text. Built per tagged record and written straight into the output
/// by [`write`]: no `serde_json::Value` tree, whose maps hash and allocate
/// every key, is built, serialised and dropped per match.
#[derive(Debug)]
pub(crate) struct Tags {
    /// The top-level object ([`TOP`]) first, then every member in the order
    /// it was added; each object links its members in order.
    members: Vec<Member>,
    /// The values' JSON text, back to back.
    text: Vec<u8>,
}

/// One member of an object of the tags.
#[derive(Debug)]
struct Member {
    key: &'static str,
    /// Its value's JSON text in [`Tags::text`]; `None` for an object.
    text: Option<Range<usize>>,
    /// An object's first and last member ([`NONE`] while it has none).
    first: usize,
    last: usize,
    /// The next member of the same object.
    next: usize,
}

/// The top-level object.
const TOP: usize = 0;
/// No member.
const NONE: usize = usize::MAX;

impl Default for Tags {
    fn default() -> Tags {
        Tags::with_capacity(1, 0)
    }
}

impl Tags {
    /// Empty tags with room for `members` members and `text` bytes of values.
    fn with_capacity(members: usize, text: usize) -> Tags {
        let mut t = Tags { members: Vec::with_capacity(members.max(1)), text: Vec::with_capacity(text) };
        t.members.push(Member { key: "", text: None, first: NONE, last: NONE, next: NONE });
        t
    }

    /// The member `key` of `parent`.
    fn find(&self, parent: usize, key: &str) -> Option<usize> {
        self.members_of(parent).find(|(_, m)| m.key == key).map(|(i, _)| i)
    }

    /// The members of `parent`, in order.
    fn members_of(&self, parent: usize) -> impl Iterator<Item = (usize, &Member)> {
        let first = self.members.get(parent).map_or(NONE, |p| p.first);
        std::iter::successors(self.members.get(first).map(|m| (first, m)), |(_, m)| {
            self.members.get(m.next).map(|next| (m.next, next))
        })
    }

    /// Adds member `key` of `parent` at the end.
    fn push(&mut self, parent: usize, key: &'static str, text: Option<Range<usize>>) -> usize {
        let i = self.members.len();
        self.members.push(Member { key, text, first: NONE, last: NONE, next: NONE });
        let last = self.members.get(parent).map_or(NONE, |p| p.last);
        match self.members.get_mut(last) {
            Some(last) => last.next = i,
            None => {
                if let Some(p) = self.members.get_mut(parent) {
                    p.first = i;
                }
            }
        }
        if let Some(p) = self.members.get_mut(parent) {
            p.last = i;
        }
        i
    }

    /// The object `key` of `parent`, added at the end if it is not there
    /// (an object that is there keeps its members: the tags merge into it).
    fn object(&mut self, parent: usize, key: &'static str) -> usize {
        match self.find(parent, key) {
            Some(i) => {
                self.members[i].text = None;
                i
            }
            None => self.push(parent, key, None),
        }
    }

    /// Sets `key` of `parent` to `value`: in its place if it is there (as a
    /// map's insert does), else at the end.
    fn set<T: Serialize + ?Sized>(&mut self, parent: usize, key: &'static str, value: &T) {
        let start = self.text.len();
        // Strings, numbers and plain structs: serialising them cannot fail.
        if serde_json::to_writer(&mut self.text, value).is_err() {
            self.text.truncate(start);
            self.text.extend_from_slice(b"null");
        }
        let text = Some(start..self.text.len());
        match self.find(parent, key) {
            Some(i) => self.members[i].text = text,
            None => {
                self.push(parent, key, text);
            }
        }
    }

    /// `{"id": …, "name": …}` of an ATT&CK technique or sub-technique as the
    /// object `key` of `parent` (no name for an id the table does not know).
    fn id_name(&mut self, parent: usize, key: &'static str, id: &str) -> usize {
        let object = self.object(parent, key);
        self.set(object, "id", id);
        if let Some(name) = attack_name(id) {
            self.set(object, "name", name);
        }
        object
    }

    /// The value of member `i` as JSON.
    fn write_value(&self, out: &mut Vec<u8>, i: usize) {
        match &self.members[i].text {
            Some(text) => out.extend_from_slice(self.text.get(text.clone()).unwrap_or(b"null")),
            None => self.write_object(out, i),
        }
    }

    /// The object `parent` (its members only) as JSON.
    fn write_object(&self, out: &mut Vec<u8>, parent: usize) {
        out.push(b'{');
        for (n, (i, member)) in self.members_of(parent).enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_key(out, member.key);
            self.write_value(out, i);
        }
        out.push(b'}');
    }

    /// The tags as one JSON object.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_object(&mut out, TOP);
        out
    }
}

/// `"key":`. The keys of tags are this file's own names, none of which
/// JSON escapes.
fn write_key(out: &mut Vec<u8>, key: &str) {
    debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{key}");
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A verdict's matches as `modwatch.matches` lists them.
struct MatchList<'v>(&'v [RuleMatch]);

impl Serialize for MatchList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Listed<'v> {
            rule_id: &'v str,
            rule_name: &'v str,
            category: &'v str,
            points: u32,
        }
        s.collect_seq(self.0.iter().map(|m| Listed {
            rule_id: &m.rule_id,
            rule_name: &m.rule_name,
            category: &m.category,
            points: m.points,
        }))
    }
}

/// The fields a matching verdict adds, as one object to merge at the top of
/// the record.
#[inline(never)] // Out of the frames below `judge`: see `engine::judge`.
pub(crate) fn tags(v: &Verdict, severity_number: u32, ruleset: &str, config: &Config) -> Tags {
    let Some(best) = v.matches.first() else { return Tags::default() };
    // About what a scored match with a sub-technique takes: one allocation each.
    let mut t = Tags::with_capacity(48, 1024);
    let threat = t.object(TOP, "threat");
    t.set(threat, "framework", "MITRE ATT&CK");
    let tactic = t.object(threat, "tactic");
    t.set(tactic, "id", &config.tactic.id);
    t.set(tactic, "name", &config.tactic.name);
    let technique = t.id_name(threat, "technique", &best.technique);
    if let Some(sub) = &best.subtechnique {
        t.id_name(technique, "subtechnique", sub);
    }
    let rule = t.object(TOP, "rule");
    t.set(rule, "id", &best.rule_id);
    t.set(rule, "name", &best.rule_name);
    t.set(rule, "ruleset", ruleset);
    let event = t.object(TOP, "event");
    t.set(event, "risk_score", &best.risk_score);
    t.set(event, "severity", &severity_number);
    let modwatch = t.object(TOP, "modwatch");
    t.set(modwatch, "category", &best.category);
    t.set(modwatch, "points", &v.points);
    t.set(modwatch, "severity", &best.severity);
    if let Some(op) = &v.op {
        t.set(modwatch, "operation", op);
    }
    if let Some(o) = v.outcome {
        t.set(modwatch, "outcome", outcome_name(o));
    }
    if let Some(p) = &v.principal {
        t.set(modwatch, "principal", p);
    }
    if let Some(f) = v.format {
        t.set(modwatch, "format", f.name());
    }
    t.set(modwatch, "matches", &MatchList(&v.matches));
    if let Some(score) = &v.score {
        t.set(modwatch, "scored_points", &score.points);
        t.set(modwatch, "principal_score", &score.principal_score);
        if !score.reasons.is_empty() {
            t.set(modwatch, "reasons", &score.reasons);
        }
        if let Some(alert) = &score.alert {
            t.set(modwatch, "alert", alert);
            t.set(event, "kind", "alert");
        }
    }
    if !v.correlations.is_empty() {
        t.set(modwatch, "correlations", &v.correlations);
        t.set(event, "kind", "alert");
    }
    t
}

/// The fields a Sigma rule's match adds to its [`tags`]: the rule's metadata
/// under `sigma`, its id as `rule.uuid`, and the tactic its ATT&CK tags name
/// in place of the config's.
#[inline(never)] // See `engine::judge` on frames.
pub(crate) fn sigma(t: &mut Tags, id: &str, meta: &Meta) {
    sigma_object(t, id, meta);
    if let Some(rule) = t.find(TOP, "rule") {
        t.set(rule, "uuid", id);
    }
    if let (Some((tid, tname)), Some(threat)) = (meta.tactic, t.find(TOP, "threat")) {
        let tactic = t.object(threat, "tactic");
        t.set(tactic, "id", tid);
        t.set(tactic, "name", tname);
    }
}

/// The `sigma` object of a Sigma rule's match: the rule's metadata.
fn sigma_object(t: &mut Tags, id: &str, meta: &Meta) {
    let sigma = t.object(TOP, "sigma");
    t.set(sigma, "id", id);
    t.set(sigma, "title", &meta.title);
    t.set(sigma, "level", &meta.level);
    t.set(sigma, "status", &meta.status);
    t.set(sigma, "tags", &meta.tags);
    t.set(sigma, "falsepositives", &meta.falsepositives);
    t.set(sigma, "logsource", &meta.logsource);
}

/// [`sigma_object`] as a value, for the export of a pack.
#[cfg(feature = "export")]
pub(crate) fn sigma_fields(id: &str, meta: &Meta) -> serde_json::Value {
    let mut t = Tags::default();
    sigma_object(&mut t, id, meta);
    let mut top: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&t.to_json()).unwrap_or_default();
    top.remove("sigma").unwrap_or_default()
}

/// The fields `output.routing_fields` adds to a record of a recognised
/// format: the principal key (when the record names a principal) and its
/// partition token. A record that names no principal adds to no principal's
/// state, so any partition scores it alike: it gets the token of the empty
/// key, which no principal has (a key always holds a `|`). Added to the
/// record's other tags, whose names they never share.
#[inline(never)] // See `engine::judge` on frames.
pub(crate) fn routing(v: &Verdict, t: &mut Tags) {
    let modwatch = t.object(TOP, "modwatch");
    if let Some(key) = v.principal_key() {
        t.set(modwatch, "principal_key", key);
    }
    t.set(modwatch, "partition", &partition_token(v.principal_key().unwrap_or("")));
}

/// The error object `output.error_field` adds: `modwatch.error` with the
/// error's code, kind and message.
pub(crate) fn error_tags(kind: ErrorKind, message: &str) -> Tags {
    let mut t = Tags::default();
    let modwatch = t.object(TOP, "modwatch");
    let error = t.object(modwatch, "error");
    t.set(error, "code", &kind.code());
    t.set(error, "kind", kind.name());
    t.set(error, "message", message);
    t
}

/// `event` with a `modwatch.error` object of `kind` and `message` merged in
/// as tags are (anything the event already has keeps its value), written
/// from the event's bytes: for a host that reports its own failures on the
/// records it passes, in the shape the engine reports a bad event. `None`
/// if the event is not a JSON object.
pub fn with_error(event: &[u8], kind: ErrorKind, message: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(event).ok()?;
    let arena = bumpalo::Bump::new();
    let root = crate::doc::parse(text, &arena).ok()?;
    if !matches!(root, Node::Object(_)) {
        return None;
    }
    write(event, &[(root, error_tags(kind, message))])
}

/// Merges `add` into `target` without touching what `target` already has:
/// what [`write`] does on the bytes.
#[cfg(test)]
pub(crate) fn merge(target: &mut serde_json::Value, add: serde_json::Value) {
    use serde_json::Value;
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

/// The event with each record's tags merged in as the tests' `merge` merges them,
/// written from the event's bytes: each target object is copied up to its
/// closing brace, except the objects on the path of a merged key, which are
/// rewritten the same way, and the keys it lacks are appended. Only the tags
/// are serialised. `targets` are objects of the document parsed from `event`,
/// in document order; anything else is left alone. `None` if a span does not
/// fit the bytes (never for a document parsed from them).
#[inline(never)] // See `engine::judge` on frames.
pub(crate) fn write(event: &[u8], targets: &[(&Node<'_>, Tags)]) -> Option<Vec<u8>> {
    // Each member adds its key, its quotes, `:`, `,` and an object's braces to its text.
    let added: usize =
        targets.iter().map(|(_, t)| t.text.len() + t.members.iter().map(|m| m.key.len() + 6).sum::<usize>()).sum();
    let mut out = Vec::with_capacity(event.len() + added);
    let mut cursor = 0;
    for (target, tags) in targets {
        let Node::Object(object) = target else { continue };
        out.extend_from_slice(event.get(cursor..object.span.start as usize)?);
        write_object(&mut out, event, object, tags, TOP)?;
        cursor = object.span.end as usize;
    }
    out.extend_from_slice(event.get(cursor..)?);
    Some(out)
}

/// One object with the members of `parent` in `tags` merged in. Recursion
/// follows the tags (a few levels), never the event's nesting.
fn write_object(out: &mut Vec<u8>, event: &[u8], object: &Object<'_>, tags: &Tags, parent: usize) -> Option<()> {
    let mut cursor = object.span.start as usize;
    for (key, value) in object.members {
        if let Node::Object(child) = value
            && let Some(more) = tags.find(parent, key)
            && tags.members[more].text.is_none()
        {
            out.extend_from_slice(event.get(cursor..child.span.start as usize)?);
            write_object(out, event, child, tags, more)?;
            cursor = child.span.end as usize;
        }
    }
    // Up to the closing brace.
    out.extend_from_slice(event.get(cursor..(object.span.end as usize).checked_sub(1)?)?);
    let mut first = object.is_empty();
    for (i, member) in tags.members_of(parent) {
        if object.contains_key(member.key) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_key(out, member.key);
        tags.write_value(out, i);
    }
    out.push(b'}');
    Some(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn with_error_adds_the_engine_error_shape_in_place() {
        let kind = ErrorKind::Trap;
        let got = |event: &str| with_error(event.as_bytes(), kind, "it trapped").map(|b| String::from_utf8(b).unwrap());
        // The record's own bytes kept (number text, spacing), the error last.
        assert_eq!(
            got(r#"{"n": 1.50, "s":"a\u0041"}"#).as_deref(),
            Some(
                r#"{"n": 1.50, "s":"a\u0041","modwatch":{"error":{"code":500,"kind":"trap","message":"it trapped"}}}"#
            )
        );
        // Merged into a `modwatch` object a tagged record already has.
        assert_eq!(
            got(r#"{"modwatch":{"points":3}}"#).as_deref(),
            Some(r#"{"modwatch":{"points":3,"error":{"code":500,"kind":"trap","message":"it trapped"}}}"#)
        );
        // What the record has keeps its value.
        assert_eq!(got(r#"{"modwatch":"theirs"}"#).as_deref(), Some(r#"{"modwatch":"theirs"}"#));
        // Not an object, or not JSON: nothing to add it to.
        for event in ["[1]", "\"x\"", "{\"a\":", "{\"a\":1,\"a\":2"] {
            assert_eq!(got(event), None, "{event}");
        }
        let deep = format!("{}{{}}{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
        assert!(got(&deep).is_some_and(|out| out.ends_with(r#""message":"it trapped"}}}"#)));
    }

    #[test]
    fn merge_keeps_existing_fields() {
        let mut t = json!({"event": {"action": "X", "risk_score": 5}, "rule": "theirs", "a": 1});
        merge(&mut t, json!({"event": {"risk_score": 73, "severity": 3}, "rule": {"id": "r"}, "b": 2}));
        assert_eq!(
            t,
            json!({"event": {"action": "X", "risk_score": 5, "severity": 3}, "rule": "theirs", "a": 1, "b": 2})
        );
    }

    /// `{"event": {"risk_score": 73, "severity": 3}, "rule": {"id": "r"}, "b": 2}`.
    fn sample() -> Tags {
        let mut t = Tags::default();
        let event = t.object(TOP, "event");
        t.set(event, "risk_score", &73);
        t.set(event, "severity", &3);
        let rule = t.object(TOP, "rule");
        t.set(rule, "id", "r");
        t.set(TOP, "b", &2);
        t
    }

    #[test]
    fn tags_keep_their_order_and_replace_in_place() {
        let mut t = sample();
        assert_eq!(t.to_json(), br#"{"event":{"risk_score":73,"severity":3},"rule":{"id":"r"},"b":2}"#);
        let event = t.object(TOP, "event");
        t.set(event, "risk_score", "x\"y");
        t.set(event, "kind", &[1.5, f64::NAN]);
        t.object(TOP, "empty");
        assert_eq!(
            String::from_utf8_lossy(&t.to_json()),
            r#"{"event":{"risk_score":"x\"y","severity":3,"kind":[1.5,null]},"rule":{"id":"r"},"b":2,"empty":{}}"#
        );
    }

    /// `write` on the bytes agrees with `merge` on the tree, and keeps the
    /// bytes of what it does not touch.
    #[test]
    fn write_merges_as_merge_does() {
        let arena = bumpalo::Bump::new();
        let add: Value = serde_json::from_slice(&sample().to_json()).unwrap_or_default();
        let cases = [
            r#"{"event": {"action": "X", "risk_score": 5}, "rule": "theirs", "a": 1.50}"#,
            r#" {"a":"\u00e9\/"} "#,
            r#"{}"#,
            r#"{"event":{}}"#,
            r#"{"event":[{"x":1}],"b":{"c":1}}"#,
        ];
        for text in cases {
            let Ok(node) = crate::doc::parse(text, &arena) else { panic!("{text}") };
            let bytes = write(text.as_bytes(), &[(node, sample())]).unwrap_or_default();
            let mut want: Value = serde_json::from_str(text).unwrap_or_default();
            merge(&mut want, add.clone());
            let got: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            assert_eq!(got, want, "{text} → {}", String::from_utf8_lossy(&bytes));
        }
        let text = r#"{"Records":[{"a":1.0, "event":{"k":"\u00e9"}},  7, {"b":[1 ,2]}]}"#;
        let Ok(node) = crate::doc::parse(text, &arena) else { panic!("batch") };
        let items = node.get("Records").and_then(Node::as_array).unwrap_or_default();
        let targets: Vec<(&Node<'_>, Tags)> = items.iter().map(|n| (n, sample())).collect();
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
