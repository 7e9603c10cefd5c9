//! Normalisation: one view of a record, whatever its format.
//!
//! A [`View`] answers field lookups for the EQL evaluator in three layers
//! (`docs/fields.md`): the normalised fields computed here (ECS names and the
//! canonical `modwatch.*` record), ECS aliases onto the raw record's paths, and
//! the record's own fields. The record itself is only borrowed: normalisation
//! never modifies the event.

mod aws;
mod azure;
mod gcp;

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};

use bumpalo::Bump;

use crate::doc::{self, Node};

use crate::eql::{Document, FieldPath, Scalar};
use crate::prefilter::Needle;
use crate::verdict::{Format, Outcome, Principal};

/// A normalised field's value.
#[derive(Debug)]
pub(crate) enum Field<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    /// A node of the record (a scalar, or an array/object walked as usual).
    At(&'a Node<'a>),
    /// The values at a path below a node of the record.
    AtPath(&'a Node<'a>, &'static str),
}

/// A request/response subtree: a node of the record, or a JSON string in the
/// record (Azure `requestbody`) parsed on first use.
#[derive(Debug)]
pub(crate) enum Subtree<'a> {
    Missing,
    At(&'a Node<'a>),
    Json(&'a str, OnceCell<Option<&'a Node<'a>>>),
}

impl<'a> Subtree<'a> {
    fn from_node(v: Option<&'a Node<'a>>) -> Subtree<'a> {
        match v {
            Some(Node::String(s)) => Subtree::Json(s, OnceCell::new()),
            Some(v) if present(v) => Subtree::At(v),
            _ => Subtree::Missing,
        }
    }

    /// The subtree; a JSON string is parsed (once) into the event's arena,
    /// by the same parser as the event.
    fn node(&self, arena: &'a Bump) -> Option<&'a Node<'a>> {
        match self {
            Subtree::Missing => None,
            Subtree::At(v) => Some(v),
            Subtree::Json(text, cell) => *cell.get_or_init(|| doc::parse(text, arena).ok().filter(|n| n.is_object())),
        }
    }
}

/// Where a record sits in its operation's lifecycle (`modwatch.phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// AWS: one record per call.
    Call,
    /// Azure `Started`: the operation is not accepted yet.
    Start,
    /// Azure `Accepted`: a long-running operation was accepted.
    Accept,
    /// Azure `Succeeded`/`Failed`.
    End,
    /// Azure: any other status, or none.
    Other,
    /// GCP: the first entry of a long-running operation.
    First,
    /// GCP: the last entry of a long-running operation.
    Last,
    /// GCP: the only entry of an operation.
    Single,
}

impl Phase {
    /// The name in `modwatch.phase`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Call => "call",
            Phase::Start => "start",
            Phase::Accept => "accept",
            Phase::End => "end",
            Phase::Other => "other",
            Phase::First => "first",
            Phase::Last => "last",
            Phase::Single => "single",
        }
    }

    /// True for records that are tagged but never scored: the operation
    /// scores on another record of its lifecycle (Azure's accepted or ended
    /// one, GCP's first).
    pub(crate) fn is_lifecycle_only(self) -> bool {
        matches!(self, Phase::Start | Phase::Other | Phase::Last)
    }
}

/// The canonical record (`docs/fields.md`, the `modwatch.*` fields).
#[derive(Debug, Default)]
pub(crate) struct Facts<'a> {
    /// Lower-case operation.
    pub(crate) op: Option<String>,
    /// Where the record sits in its operation's lifecycle.
    pub(crate) phase: Option<Phase>,
    pub(crate) ok: Option<bool>,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) principal: Option<Principal>,
    /// Every name the principal goes by, for allowlists (id, user name,
    /// display name, e-mail).
    pub(crate) principal_names: Vec<Cow<'a, str>>,
    pub(crate) time: Option<&'a str>,
    pub(crate) account: Option<Cow<'a, str>>,
    pub(crate) source_ip: Option<&'a str>,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) resource: Option<Field<'a>>,
    pub(crate) status_code: Option<&'a str>,
    pub(crate) dedup: Option<String>,
    /// An AWS service acting on its own behalf (`AWSService`, `invokedBy`).
    pub(crate) service_caller: Option<&'a str>,
}

/// One record, seen through the normalised fields.
#[derive(Debug)]
pub(crate) struct View<'a> {
    record: &'a Node<'a>,
    arena: &'a Bump,
    /// The walks' stack, kept for the next walk (a walk started inside
    /// another one's visit gets its own).
    stack: RefCell<Vec<Step<'a>>>,
    fields: Vec<(&'static str, Field<'a>)>,
    aliases: &'static [(&'static str, &'static str)],
    params: Subtree<'a>,
    response: Subtree<'a>,
    pub(crate) facts: Facts<'a>,
}

/// Recognises the format of a record by its shape (`docs/detection.md#inputs`).
pub(crate) fn sniff(record: &Node<'_>) -> Option<Format> {
    let Node::Object(map) = record else { return None };
    let dataset = s(record, &["event", "dataset"])
        .or_else(|| s(record, &["data_stream", "dataset"]))
        .or_else(|| map.get("event.dataset").and_then(Node::as_str));
    match dataset {
        Some("aws.cloudtrail") => return Some(Format::AwsCloudtrailEcs),
        Some("azure.activitylogs") => return Some(Format::AzureActivityEcs),
        Some("gcp.audit") => return Some(Format::GcpAuditEcs),
        _ => {}
    }
    // ECS documents without `event.dataset` (Elastic's pipeline test outputs):
    // the integration's object beside ECS `event.*` fields.
    if map.get("event").is_some_and(Node::is_object) {
        if at(record, &["aws", "cloudtrail"]).is_some_and(Node::is_object) {
            return Some(Format::AwsCloudtrailEcs);
        }
        if at(record, &["azure", "activitylogs"]).is_some_and(Node::is_object) {
            return Some(Format::AzureActivityEcs);
        }
        if at(record, &["gcp", "audit"]).is_some_and(Node::is_object) {
            return Some(Format::GcpAuditEcs);
        }
    }
    // By type, not only by name: the Azure REST shape has `eventName` too,
    // as an object (`{"value": "EndRequest", …}`) beside `operationName`.
    if map.get("eventSource").is_some_and(Node::is_string) || map.get("eventName").is_some_and(Node::is_string) {
        return Some(Format::AwsCloudtrail);
    }
    if map.contains_key("eventVersion") && (map.contains_key("eventType") || map.contains_key("eventCategory")) {
        // CloudTrail Insights records have no eventName/eventSource.
        return Some(Format::AwsCloudtrail);
    }
    if map.contains_key("OperationNameValue") {
        return Some(Format::AzureActivityLogAnalytics);
    }
    match map.get("operationName") {
        Some(Node::String(_)) => return Some(Format::AzureActivity),
        Some(Node::Object(o)) if o.contains_key("value") => return Some(Format::AzureActivityRest),
        _ => {}
    }
    if let Some(Node::Object(proto)) = map.get("protoPayload")
        && (proto.contains_key("methodName") || proto.contains_key("serviceName"))
    {
        return Some(Format::GcpAudit);
    }
    None
}

/// The ECS aliases a format resolves onto its raw paths (`(ecs, raw)`, first
/// match wins), for rule export.
#[cfg(feature = "export")]
pub(crate) fn aliases(format: Format) -> &'static [(&'static str, &'static str)] {
    match format {
        Format::AwsCloudtrail => aws::RAW_ALIASES,
        Format::GcpAudit => &gcp::RAW_ALIASES,
        _ => &[],
    }
}

impl<'a> View<'a> {
    /// The view of a record of a known format. A JSON string in the record
    /// read as a subtree is parsed into `arena`.
    #[inline(never)] // See `engine::judge` on frames.
    pub(crate) fn new(record: &'a Node<'a>, format: Format, arena: &'a Bump) -> View<'a> {
        let mut b = Builder { fields: Vec::with_capacity(32), facts: Facts::default() };
        let (aliases, params, response) = match format {
            Format::AwsCloudtrail => aws::raw(record, &mut b),
            Format::AwsCloudtrailEcs => aws::ecs(record, &mut b),
            Format::AzureActivity | Format::AzureActivityRest | Format::AzureActivityLogAnalytics => {
                azure::raw(record, format, &mut b)
            }
            Format::AzureActivityEcs => azure::ecs(record, &mut b),
            Format::GcpAudit => gcp::raw(record, &mut b),
            Format::GcpAuditEcs => gcp::ecs(record, &mut b),
        };
        b.canonical(format, arena);
        View {
            record,
            arena,
            stack: RefCell::new(Vec::new()),
            fields: b.fields,
            aliases,
            params,
            response,
            facts: b.facts,
        }
    }

    /// The normalised value of `field` (first layer only), for tests.
    #[cfg(test)]
    pub(crate) fn field(&self, field: &str) -> Option<String> {
        let mut out = None;
        self.any_value(&FieldPath { dotted: field.to_string() }, &mut |v| {
            out = Some(match v {
                Scalar::Str(s) => s.to_string(),
                Scalar::Num(n) => n.to_string(),
                Scalar::Bool(b) => b.to_string(),
            });
            true
        });
        out
    }
}

impl Document for View<'_> {
    fn any_value(&self, field: &FieldPath, visit: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
        let name = field.dotted.as_str();
        for (prefix, sub) in [("modwatch.params", &self.params), ("modwatch.response", &self.response)] {
            if let Some(rest) = strip_segment(name, prefix) {
                return sub.node(self.arena).is_some_and(|node| self.walk(node, rest, visit));
            }
        }
        for (key, value) in &self.fields {
            if *key == name {
                return match value {
                    Field::Str(s) => visit(Scalar::Str(s)),
                    Field::Bool(b) => visit(Scalar::Bool(*b)),
                    Field::At(node) => self.walk(node, "", visit),
                    Field::AtPath(node, path) => self.walk(node, path, visit),
                };
            }
        }
        for (ecs, raw) in self.aliases {
            if let Some(rest) = strip_segment(name, ecs) {
                let Some(node) = at_dotted(self.record, raw) else { return false };
                return self.walk(node, rest, visit);
            }
        }
        self.walk(self.record, name, visit)
    }
}

impl<'a> View<'a> {
    /// [`walk`] with the view's stack (or a new one, in a walk started from
    /// another's visit).
    fn walk(&self, node: &'a Node<'a>, path: &str, visit: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
        match self.stack.try_borrow_mut() {
            Ok(mut stack) => walk(node, path, visit, &mut stack),
            Err(_) => walk(node, path, visit, &mut Vec::new()),
        }
    }
}

/// `Some(rest)` when `name` is `prefix` or `prefix.rest`.
fn strip_segment<'n>(name: &'n str, prefix: &str) -> Option<&'n str> {
    let rest = name.strip_prefix(prefix)?;
    if rest.is_empty() { Some("") } else { rest.strip_prefix('.') }
}

/// One pending part of a walk: the walk's stack holds these instead of
/// recursing, so a walk needs the same machine stack at any depth. Paths are
/// offsets into the walk's path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step<'a> {
    /// A node, and where the rest of the path starts.
    Node(&'a Node<'a>, u32),
    /// An array's items from the `next`th on, each with the same path.
    Items(&'a [Node<'a>], u32, u32),
    /// An object's member values from the `next`th on (`**`).
    Values(&'a [(&'a str, Node<'a>)], u32, u32),
    /// An object's keys that may hold the path's next part: `next` 0 is the
    /// whole rest as one key, then the part before each dot, searching from
    /// byte `next - 1` of the rest.
    Keys(&'a [(&'a str, Node<'a>)], u32, u32),
}

/// Visits every scalar at `path` below `node`, in document order: arrays are
/// flattened at any depth, keys that themselves contain dots are found, null
/// and "" are missing; `**` is every scalar at or below the node (Sigma
/// keyword searches). Iterative, on `stack` (left empty).
pub(crate) fn walk<'a>(
    node: &'a Node<'a>,
    path: &str,
    visit: &mut dyn FnMut(Scalar<'_>) -> bool,
    stack: &mut Vec<Step<'a>>,
) -> bool {
    // Paths are field names (short); offsets are u32 like the document's spans.
    let offset = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let rest_of = |off: u32| path.get(off as usize..).unwrap_or("");
    stack.clear();
    stack.push(Step::Node(node, 0));
    while let Some(step) = stack.pop() {
        match step {
            Step::Node(node, off) => {
                let rest = rest_of(off);
                let every = rest == "**";
                match node {
                    Node::Array(items) => stack.push(Step::Items(items, off, 0)),
                    Node::Object(o) if every => stack.push(Step::Values(o.members, off, 0)),
                    Node::Object(o) if !rest.is_empty() => stack.push(Step::Keys(o.members, off, 0)),
                    Node::Object(_) => {}
                    scalar => {
                        if (every || rest.is_empty()) && visit_scalar(scalar, visit) {
                            stack.clear();
                            return true;
                        }
                    }
                }
            }
            Step::Items(items, off, next) => {
                if let Some(item) = items.get(next as usize) {
                    stack.push(Step::Items(items, off, next + 1));
                    stack.push(Step::Node(item, off));
                }
            }
            Step::Values(members, off, next) => {
                if let Some((_, value)) = members.get(next as usize) {
                    stack.push(Step::Values(members, off, next + 1));
                    stack.push(Step::Node(value, off));
                }
            }
            Step::Keys(members, off, next) => {
                let rest = rest_of(off);
                let mut at = next as usize;
                loop {
                    let (key, child, following) = if at == 0 {
                        (rest, offset(path.len()), 1)
                    } else {
                        let Some(dot) = rest.get(at - 1..).and_then(|r| r.find('.')).map(|i| at - 1 + i) else {
                            break;
                        };
                        (&rest[..dot], off.saturating_add(offset(dot + 1)), dot + 2)
                    };
                    if let Some((_, value)) = members.iter().find(|(k, _)| *k == key) {
                        stack.push(Step::Keys(members, off, offset(following)));
                        stack.push(Step::Node(value, child));
                        break;
                    }
                    at = following;
                }
            }
        }
    }
    false
}

/// Visits a scalar that is present (not null, not "").
fn visit_scalar(node: &Node<'_>, visit: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
    match node {
        Node::String(s) => !s.is_empty() && visit(Scalar::Str(s)),
        Node::Number(n) => visit(Scalar::Num(n)),
        Node::Bool(b) => visit(Scalar::Bool(*b)),
        Node::Null | Node::Array(_) | Node::Object(_) => false,
    }
}

/// A value that counts as present: not null, not "".
fn present(v: &Node<'_>) -> bool {
    !matches!(v, Node::Null) && v.as_str() != Some("")
}

/// The node at an object path, if present.
pub(crate) fn at<'a>(v: &'a Node<'a>, path: &[&str]) -> Option<&'a Node<'a>> {
    let mut node = v;
    for key in path {
        node = node.get(key)?;
    }
    present(node).then_some(node)
}

/// The node at a dotted object path, if present.
fn at_dotted<'a>(v: &'a Node<'a>, path: &str) -> Option<&'a Node<'a>> {
    let mut node = v;
    for key in path.split('.') {
        node = node.get(key)?;
    }
    present(node).then_some(node)
}

/// The non-empty string at an object path.
pub(crate) fn s<'a>(v: &'a Node<'a>, path: &[&str]) -> Option<&'a str> {
    at(v, path)?.as_str()
}

/// True if `s` parses as an IPv4 or IPv6 address.
pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// Collects normalised fields and facts while a format's module reads a record.
pub(crate) struct Builder<'a> {
    fields: Vec<(&'static str, Field<'a>)>,
    pub(crate) facts: Facts<'a>,
}

impl<'a> Builder<'a> {
    /// Sets an ECS field, unless the value is missing.
    pub(crate) fn str(&mut self, name: &'static str, value: Option<&'a str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.fields.push((name, Field::Str(Cow::Borrowed(v))));
        }
    }

    pub(crate) fn node(&mut self, name: &'static str, value: Option<&'a Node<'a>>) {
        if let Some(v) = value {
            self.fields.push((name, Field::At(v)));
        }
    }

    /// Adds the `modwatch.*` fields from the facts. What the facts own is
    /// copied into `arena`, the event's: no allocation per field.
    fn canonical(&mut self, format: Format, arena: &'a Bump) {
        let Builder { fields, facts: f } = self;
        fields.push(("modwatch.cloud", Field::Str(Cow::Borrowed(format.cloud()))));
        fields.push(("modwatch.format", Field::Str(Cow::Borrowed(format.name()))));
        let mut put = |name: &'static str, v: Option<&'a str>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                fields.push((name, Field::Str(Cow::Borrowed(v))));
            }
        };
        let copy = |s: &str| -> &'a str { arena.alloc_str(s) };
        put("modwatch.op", f.op.as_deref().map(copy));
        put("modwatch.phase", f.phase.map(Phase::name));
        put("modwatch.outcome", f.outcome.map(outcome_name));
        if let Some(p) = &f.principal {
            put("modwatch.principal.id", Some(copy(&p.id)));
            put("modwatch.principal.type", p.kind.as_deref().map(copy));
            put("modwatch.principal.display", p.display.as_deref().map(copy));
        }
        put("modwatch.source_ip", f.source_ip);
        put(
            "modwatch.account",
            f.account.as_ref().map(|a| match a {
                Cow::Borrowed(a) => a,
                Cow::Owned(a) => copy(a),
            }),
        );
        put("modwatch.user_agent", f.user_agent);
        put("modwatch.status_code", f.status_code);
        put("modwatch.dedup", f.dedup.as_deref().map(copy));
        put("modwatch.time", f.time);
        if let Some(ok) = f.ok {
            fields.push(("modwatch.ok", Field::Bool(ok)));
        }
        if let Some(resource) = f.resource.take() {
            fields.push(("modwatch.resource", resource));
        }
    }
}

/// The name of an outcome as rules and tags spell it.
pub(crate) fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::DryRun => "dry_run",
        Outcome::Unknown => "unknown",
    }
}

/// The keys whose string values the operation fields (`event.action`,
/// `modwatch.op`) are read from, in every format: CloudTrail `eventName`,
/// Azure `operationName` (`operationName.value` in the REST shape) and
/// `OperationNameValue`, GCP `methodName`, ECS `event.action`, and `op` for
/// a record that carries its own `modwatch.op`. The prefilter looks for
/// operation needles only in these values.
pub(crate) const OPERATION_KEYS: &[&str] =
    &["eventName", "operationName", "OperationNameValue", "methodName", "action", "op"];

/// Whether the value of a field is copied verbatim from the raw event bytes,
/// and if so which part of a literal compared with it must occur in them.
/// Used to build the prefilter: a field computed by the normaliser (e.g.
/// `event.dataset` on raw events) cannot constrain the raw bytes. A needle of
/// an operation field must occur in the value of one of [`OPERATION_KEYS`].
pub(crate) fn prefilter_needle(field: &str, literal: &str) -> Option<Needle> {
    // JSON may escape these characters, so the bytes would not contain them as written.
    if literal.bytes().any(|b| b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b)) {
        return None;
    }
    const COMPUTED: &[&str] = &[
        "event.dataset",
        "event.outcome",
        "event.kind",
        "cloud.provider",
        "user.name",
        "user.email",
        "user.domain",
        "modwatch.cloud",
        "modwatch.format",
        "modwatch.phase",
        "modwatch.ok",
        "modwatch.outcome",
        "modwatch.dedup",
        "modwatch.principal.id",
        "modwatch.principal.type",
        "modwatch.principal.display",
        "modwatch.account",
        "modwatch.resource",
    ];
    if COMPUTED.contains(&field) {
        return None;
    }
    let needle = |text: &str, operation: bool| Some(Needle { text: text.to_string(), operation });
    match field {
        // `eventsource:eventname` for AWS: only the name part is in the bytes,
        // and only a run with the `:` is known to be in the name.
        "modwatch.op" => match literal.rsplit_once(':') {
            Some((_, tail)) => (!tail.is_empty()).then(|| needle(tail, true)).flatten(),
            None => needle(literal, false),
        },
        "event.action" => needle(literal, true),
        _ => needle(literal, false),
    }
}

#[cfg(test)]
mod tests;
