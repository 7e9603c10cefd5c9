//! GCP Cloud Audit Logs: raw `LogEntry` JSON and Elastic `gcp.audit` documents.

use std::borrow::Cow;

use crate::doc::Node;

use super::{Builder, Field, Phase, Subtree, at, is_ip, s};
use crate::verdict::{Outcome, Principal};

/// A raw LogEntry with an AuditLog `protoPayload`.
pub(super) fn raw<'a>(
    r: &'a Node<'a>,
    b: &mut Builder<'a>,
) -> (&'static [(&'static str, &'static str)], Subtree<'a>, Subtree<'a>) {
    let p = |path: &[&str]| -> Option<&'a str> {
        let mut full = vec!["protoPayload"];
        full.extend_from_slice(path);
        s(r, &full)
    };
    let method = p(&["methodName"]);
    let status_code = at(r, &["protoPayload", "status", "code"]).and_then(Node::as_i64);
    let response_error = at(r, &["protoPayload", "response", "error"]).is_some();
    let email = p(&["authenticationInfo", "principalEmail"]);
    let subject = p(&["authenticationInfo", "principalSubject"]);
    let caller_ip = p(&["requestMetadata", "callerIp"]);
    let project = s(r, &["resource", "labels", "project_id"]).or_else(|| s(r, &["logName"]).and_then(project_of));
    // Elastic: status.code decides; without it a single authorization
    // decision does; else unknown.
    let ecs_outcome = match status_code {
        Some(0) => Some("success"),
        Some(_) => Some("failure"),
        None => match at(r, &["protoPayload", "authorizationInfo"]).and_then(Node::as_array) {
            Some(list) if list.len() == 1 => match list[0].get("granted").and_then(Node::as_bool) {
                Some(true) => Some("success"),
                Some(false) => Some("failure"),
                None => None,
            },
            _ => None,
        },
    };

    b.str("event.dataset", Some("gcp.audit"));
    b.str("event.action", method);
    b.str("event.provider", p(&["serviceName"]));
    b.str("service.name", p(&["serviceName"]));
    b.str("event.outcome", Some(ecs_outcome.unwrap_or("unknown")));
    b.str("event.id", s(r, &["insertId"]));
    b.str("cloud.provider", Some("gcp"));
    b.str("client.user.email", email);
    b.str("client.user.id", subject);
    b.str("source.ip", caller_ip.filter(|ip| is_ip(ip)));
    b.str("user_agent.original", p(&["requestMetadata", "callerSuppliedUserAgent"]));
    b.str("cloud.project.id", project);
    b.str("cloud.account.id", project);
    b.str("gcp.audit.resource_name", p(&["resourceName"]));
    b.str("gcp.audit.method_name", method);

    Facts {
        method,
        failed: status_code.is_some_and(|c| c != 0) || response_error,
        first: at(r, &["operation", "first"]).and_then(Node::as_bool).unwrap_or(false),
        last: at(r, &["operation", "last"]).and_then(Node::as_bool).unwrap_or(false),
        email,
        subject,
        ip: caller_ip,
        user_agent: p(&["requestMetadata", "callerSuppliedUserAgent"]),
        project,
        time: s(r, &["timestamp"]),
        operation_id: s(r, &["operation", "id"]),
        insert_id: s(r, &["insertId"]),
        resource: p(&["resourceName"]),
    }
    .apply(b);
    let proto = |key: &str| at(r, &["protoPayload", key]);
    (&RAW_ALIASES, Subtree::from_node(proto("request")), Subtree::from_node(proto("response")))
}

pub(super) const RAW_ALIASES: [(&str, &str); 3] = [
    ("gcp.audit.request", "protoPayload.request"),
    ("gcp.audit.response", "protoPayload.response"),
    ("gcp.audit.authorization_info", "protoPayload.authorizationInfo"),
];

/// An Elastic `gcp.audit` document.
pub(super) fn ecs<'a>(
    r: &'a Node<'a>,
    b: &mut Builder<'a>,
) -> (&'static [(&'static str, &'static str)], Subtree<'a>, Subtree<'a>) {
    if s(r, &["event", "dataset"]).is_none() {
        b.str("event.dataset", Some("gcp.audit"));
    }
    let op = |key: &str| at(r, &["gcp", "audit", "logentry_operation", key]).and_then(Node::as_bool);
    Facts {
        method: s(r, &["event", "action"]),
        failed: s(r, &["event", "outcome"]) == Some("failure"),
        first: op("first").unwrap_or(false),
        last: op("last").unwrap_or(false),
        email: s(r, &["client", "user", "email"]),
        subject: s(r, &["client", "user", "id"]),
        ip: s(r, &["source", "ip"]),
        user_agent: s(r, &["user_agent", "original"]),
        project: s(r, &["cloud", "project", "id"]),
        time: s(r, &["@timestamp"]),
        operation_id: s(r, &["gcp", "audit", "logentry_operation", "id"]),
        insert_id: s(r, &["event", "id"]),
        resource: s(r, &["gcp", "audit", "resource_name"]),
    }
    .apply(b);
    let audit = |key: &str| at(r, &["gcp", "audit", key]);
    (&[], Subtree::from_node(audit("request")), Subtree::from_node(audit("response")))
}

/// `projects/P/logs/…` → `P`.
fn project_of(log_name: &str) -> Option<&str> {
    log_name.strip_prefix("projects/")?.split('/').next().filter(|p| !p.is_empty())
}

/// `v1.compute.instances.insert` → `compute.instances.insert`: method names
/// carry an API version prefix (`v1.`, `beta.`, `alpha.`), sometimes none.
fn strip_version(method: &str) -> &str {
    let Some((head, rest)) = method.split_once('.') else { return method };
    let versioned = head == "beta"
        || head == "alpha"
        || (head.len() > 1 && head.starts_with('v') && head[1..].bytes().all(|b| b.is_ascii_digit()));
    if versioned { rest } else { method }
}

struct Facts<'a> {
    method: Option<&'a str>,
    failed: bool,
    first: bool,
    last: bool,
    email: Option<&'a str>,
    subject: Option<&'a str>,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    project: Option<&'a str>,
    time: Option<&'a str>,
    operation_id: Option<&'a str>,
    insert_id: Option<&'a str>,
    resource: Option<&'a str>,
}

impl<'a> Facts<'a> {
    fn apply(self, b: &mut Builder<'a>) {
        let f = &mut b.facts;
        f.op = self.method.map(|m| strip_version(m.trim()).to_ascii_lowercase());
        f.phase = Some(match (self.first, self.last) {
            (true, false) => Phase::First,
            (false, true) => Phase::Last,
            _ => Phase::Single,
        });
        f.ok = Some(!self.failed);
        f.outcome = Some(if self.failed { Outcome::Failure } else { Outcome::Success });
        let kind = self.subject.and_then(|s| s.split_once(':')).map(|(k, _)| k).or_else(|| {
            self.email.map(|e| if e.ends_with(".gserviceaccount.com") { "serviceAccount" } else { "user" })
        });
        if let Some(id) = self.email.or(self.subject) {
            f.principal_names = [Some(id), self.email, self.email.and_then(|e| e.split('@').next())]
                .into_iter()
                .flatten()
                .map(Cow::Borrowed)
                .collect();
            f.principal = Some(Principal {
                id: id.to_string(),
                display: self.email.map(str::to_string),
                kind: kind.map(str::to_string),
                account: self.project.map(str::to_string),
            });
        }
        f.account = self.project.map(Cow::Borrowed);
        f.source_ip = self.ip.filter(|ip| is_ip(ip));
        f.user_agent = self.user_agent;
        f.time = self.time;
        f.dedup = self.operation_id.or(self.insert_id).map(str::to_string);
        f.resource = self.resource.map(|r| Field::Str(Cow::Borrowed(r)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(strip_version("v1.compute.instances.insert"), "compute.instances.insert");
        assert_eq!(strip_version("beta.compute.instances.insert"), "compute.instances.insert");
        assert_eq!(strip_version("compute.disks.list"), "compute.disks.list");
        assert_eq!(
            strip_version("google.api.cloudquotas.v1.CloudQuotas.CreateQuotaPreference"),
            "google.api.cloudquotas.v1.CloudQuotas.CreateQuotaPreference"
        );
        assert_eq!(project_of("projects/p1/logs/cloudaudit.googleapis.com%2Factivity"), Some("p1"));
    }
}
