//! AWS CloudTrail: raw records and Elastic `aws.cloudtrail` documents.

use std::borrow::Cow;

use crate::doc::Node;

use super::{Builder, Field, Phase, Subtree, at, is_ip, s};
use crate::verdict::{Outcome, Principal};

/// ECS names Elastic's aws.cloudtrail pipeline produces, onto raw paths.
pub(super) const RAW_ALIASES: &[(&str, &str)] = &[
    ("aws.cloudtrail.user_identity.type", "userIdentity.type"),
    ("aws.cloudtrail.user_identity.arn", "userIdentity.arn"),
    ("aws.cloudtrail.user_identity.access_key_id", "userIdentity.accessKeyId"),
    ("aws.cloudtrail.user_identity.invoked_by", "userIdentity.invokedBy"),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.arn",
        "userIdentity.sessionContext.sessionIssuer.arn",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.type",
        "userIdentity.sessionContext.sessionIssuer.type",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id",
        "userIdentity.sessionContext.sessionIssuer.principalId",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.account_id",
        "userIdentity.sessionContext.sessionIssuer.accountId",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
    ),
    ("aws.cloudtrail.error_code", "errorCode"),
    ("aws.cloudtrail.error_message", "errorMessage"),
    ("aws.cloudtrail.recipient_account_id", "recipientAccountId"),
    ("aws.cloudtrail.event_type", "eventType"),
    ("aws.cloudtrail.event_category", "eventCategory"),
    ("aws.cloudtrail.event_version", "eventVersion"),
    ("aws.cloudtrail.read_only", "readOnly"),
    ("aws.cloudtrail.management_event", "managementEvent"),
    ("aws.cloudtrail.request_id", "requestID"),
    ("aws.cloudtrail.shared_event_id", "sharedEventID"),
    ("aws.cloudtrail.vpc_endpoint_id", "vpcEndpointId"),
    ("aws.cloudtrail.flattened.request_parameters", "requestParameters"),
    ("aws.cloudtrail.flattened.response_elements", "responseElements"),
    ("aws.cloudtrail.flattened.additional_eventdata", "additionalEventData"),
    ("aws.cloudtrail.flattened.service_event_details", "serviceEventDetails"),
    ("aws.cloudtrail.resources.arn", "resources.ARN"),
    ("aws.cloudtrail.resources.type", "resources.type"),
    ("aws.cloudtrail.resources.account_id", "resources.accountId"),
    ("cloud.region", "awsRegion"),
    ("source.address", "sourceIPAddress"),
    ("user_agent.original", "userAgent"),
    ("event.id", "eventID"),
    ("@timestamp", "eventTime"),
];

/// The error codes that mean "dry run: nothing happened".
fn is_dry_run(code: Option<&str>) -> bool {
    matches!(code, Some("Client.DryRunOperation" | "DryRunOperation"))
}

/// A raw CloudTrail record.
pub(super) fn raw<'a>(
    r: &'a Node<'a>,
    b: &mut Builder<'a>,
) -> (&'static [(&'static str, &'static str)], Subtree<'a>, Subtree<'a>) {
    let source = s(r, &["eventSource"]);
    let name = s(r, &["eventName"]);
    let id_type = s(r, &["userIdentity", "type"]);
    let error_code = s(r, &["errorCode"]);
    let failed = error_code.is_some() || s(r, &["errorMessage"]).is_some();
    let issuer_name = s(r, &["userIdentity", "sessionContext", "sessionIssuer", "userName"]);
    let user_name = if id_type == Some("AssumedRole") {
        issuer_name.or_else(|| s(r, &["userIdentity", "userName"]))
    } else {
        s(r, &["userIdentity", "userName"])
    };
    let source_address = s(r, &["sourceIPAddress"]);
    let source_ip = source_address.filter(|a| is_ip(a));

    b.str("event.dataset", Some("aws.cloudtrail"));
    b.str("event.action", name);
    b.str("event.provider", source);
    b.str("event.outcome", Some(if failed { "failure" } else { "success" }));
    b.str("cloud.provider", Some("aws"));
    b.str("user.name", user_name);
    b.str("user.id", s(r, &["userIdentity", "principalId"]));
    b.str("source.ip", source_ip);
    b.str("cloud.account.id", s(r, &["userIdentity", "accountId"]));

    let facts = Facts {
        source,
        name,
        id_type,
        arn: s(r, &["userIdentity", "arn"]),
        issuer_arn: s(r, &["userIdentity", "sessionContext", "sessionIssuer", "arn"]),
        caller_account: s(r, &["userIdentity", "accountId"]),
        owner_account: s(r, &["recipientAccountId"]),
        user_name: s(r, &["userIdentity", "userName"]),
        issuer_name,
        principal_id: s(r, &["userIdentity", "principalId"]),
        invoked_by: s(r, &["userIdentity", "invokedBy"]),
        error_code,
        failed,
        source_ip,
        user_agent: s(r, &["userAgent"]),
        time: s(r, &["eventTime"]).or_else(|| s(r, &["@timestamp"])),
        event_id: s(r, &["eventID"]),
        resources: at(r, &["resources"]),
        resource_key: "ARN",
    };
    facts.apply(b);
    (RAW_ALIASES, Subtree::from_node(r.get("requestParameters")), Subtree::from_node(r.get("responseElements")))
}

/// An Elastic `aws.cloudtrail` document: the ECS fields are its own.
pub(super) fn ecs<'a>(
    r: &'a Node<'a>,
    b: &mut Builder<'a>,
) -> (&'static [(&'static str, &'static str)], Subtree<'a>, Subtree<'a>) {
    const CT: &str = "cloudtrail";
    let ct = |path: &[&str]| -> Option<&'a str> {
        let mut full = vec!["aws", CT];
        full.extend_from_slice(path);
        s(r, &full)
    };
    if s(r, &["event", "dataset"]).is_none() {
        b.str("event.dataset", Some("aws.cloudtrail"));
    }
    if s(r, &["cloud", "provider"]).is_none() {
        b.str("cloud.provider", Some("aws"));
    }
    let error_code = ct(&["error_code"]);
    let facts = Facts {
        source: s(r, &["event", "provider"]),
        name: s(r, &["event", "action"]),
        id_type: ct(&["user_identity", "type"]),
        arn: ct(&["user_identity", "arn"]),
        issuer_arn: ct(&["user_identity", "session_context", "session_issuer", "arn"]),
        caller_account: s(r, &["cloud", "account", "id"]),
        owner_account: ct(&["recipient_account_id"]),
        user_name: s(r, &["user", "name"]),
        issuer_name: None,
        principal_id: s(r, &["user", "id"]),
        invoked_by: ct(&["user_identity", "invoked_by"]),
        error_code,
        failed: s(r, &["event", "outcome"]) == Some("failure")
            || error_code.is_some()
            || ct(&["error_message"]).is_some(),
        source_ip: s(r, &["source", "ip"]),
        user_agent: s(r, &["user_agent", "original"]),
        time: s(r, &["@timestamp"]),
        event_id: s(r, &["event", "id"]),
        resources: at(r, &["aws", CT, "resources"]),
        resource_key: "arn",
    };
    facts.apply(b);
    let flat = |key: &str| at(r, &["aws", CT, "flattened", key]);
    (&[], Subtree::from_node(flat("request_parameters")), Subtree::from_node(flat("response_elements")))
}

/// What both shapes share, read from their own field names.
struct Facts<'a> {
    source: Option<&'a str>,
    name: Option<&'a str>,
    id_type: Option<&'a str>,
    arn: Option<&'a str>,
    issuer_arn: Option<&'a str>,
    caller_account: Option<&'a str>,
    owner_account: Option<&'a str>,
    user_name: Option<&'a str>,
    issuer_name: Option<&'a str>,
    principal_id: Option<&'a str>,
    invoked_by: Option<&'a str>,
    error_code: Option<&'a str>,
    failed: bool,
    source_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    time: Option<&'a str>,
    event_id: Option<&'a str>,
    resources: Option<&'a Node<'a>>,
    resource_key: &'static str,
}

impl<'a> Facts<'a> {
    fn apply(self, b: &mut Builder<'a>) {
        let f = &mut b.facts;
        f.op = match (self.source, self.name) {
            (Some(src), Some(name)) => {
                Some(format!("{}:{}", src.to_ascii_lowercase(), name.trim().to_ascii_lowercase()))
            }
            _ => None,
        };
        f.phase = Some(Phase::Call);
        f.ok = Some(!self.failed);
        f.outcome = Some(if is_dry_run(self.error_code) {
            Outcome::DryRun
        } else if self.failed {
            Outcome::Failure
        } else {
            Outcome::Success
        });
        let assumed = self.id_type == Some("AssumedRole");
        let id = if assumed { self.issuer_arn.or(self.arn) } else { self.arn };
        let id: Option<Cow<'a, str>> = match (id, self.id_type) {
            (Some(id), _) => Some(Cow::Borrowed(id)),
            (None, Some("Root")) => self.caller_account.map(|a| Cow::Owned(format!("arn:aws:iam::{a}:root"))),
            (None, Some("AWSService")) => self.invoked_by.map(Cow::Borrowed),
            (None, _) => self.principal_id.or(self.caller_account).map(Cow::Borrowed),
        };
        // For an assumed role, what a person reads is "role/session".
        let display = if assumed {
            self.arn.and_then(|a| a.split_once(":assumed-role/")).map(|(_, rest)| rest).or(self.issuer_name)
        } else {
            self.user_name.or(self.id_type.filter(|t| *t == "Root"))
        };
        let account = self.owner_account.or(self.caller_account);
        // Allowlists see the names the account gave, never the session name
        // of an assumed role: `RoleSessionName` is whatever the caller of
        // AssumeRole chose, so matching it would let anyone allowed to assume
        // a role pick a name an allowlist lets through.
        let listed = if assumed { self.issuer_name } else { display };
        if let Some(id) = id {
            f.principal_names = [Some(id.clone()), self.user_name.map(Cow::Borrowed), listed.map(Cow::Borrowed)]
                .into_iter()
                .flatten()
                .collect();
            f.principal = Some(Principal {
                id: id.into_owned(),
                display: display.map(str::to_string),
                kind: self.id_type.map(str::to_string),
                account: account.map(str::to_string),
            });
        }
        f.account = account.map(Cow::Borrowed);
        f.source_ip = self.source_ip;
        f.user_agent = self.user_agent;
        f.time = self.time;
        f.dedup = self.event_id.map(str::to_string);
        f.resource = self.resources.map(|r| Field::AtPath(r, self.resource_key));
        f.service_caller = self.service_caller();
    }

    /// The AWS service acting on its own behalf, if this call is one: a
    /// caller of type `AWSService`, a service-linked role, or a service
    /// identity in `invokedBy`. Not a person acting through the console
    /// (`invokedBy` `signin.amazonaws.com`, `AWS Internal`), not another
    /// account acting through a service (`AWSAccount` records), and never a
    /// record of another account using a shared resource
    /// ([`SHARED_RESOURCE_EVENTS`]), whatever its identity fields hold.
    fn service_caller(&self) -> Option<&'a str> {
        if self.name.is_some_and(|name| SHARED_RESOURCE_EVENTS.contains(&name.trim())) {
            return None;
        }
        match self.id_type {
            Some("AWSService") => self.invoked_by.or(Some("AWSService")),
            Some("AWSAccount") => None,
            _ => self
                .invoked_by
                .filter(|by| is_service_identity(by))
                .or_else(|| [self.issuer_arn, self.arn].into_iter().flatten().find_map(service_linked_role)),
        }
    }
}

/// Records AWS logs in a resource owner's account when another account used
/// a resource shared with it (the snapshot's data has left the account).
/// Their `userIdentity` is the other account with `invokedBy` the service,
/// sometimes with no `type`: they are never a service's own action.
const SHARED_RESOURCE_EVENTS: &[&str] = &["SharedSnapshotCopyInitiated", "SharedSnapshotVolumeCreated"];

/// True when `invokedBy` names an AWS service acting for itself: a
/// `*.amazonaws.com` principal other than the console's sign-in endpoints,
/// which stand for the person using the console.
fn is_service_identity(invoked_by: &str) -> bool {
    const CONSOLE: &[&str] = &["signin.amazonaws.com", "console.amazonaws.com"];
    invoked_by.ends_with(".amazonaws.com") && !CONSOLE.contains(&invoked_by) && !invoked_by.starts_with("console.")
}

/// The service of a service-linked role
/// (`arn:aws:iam::123:role/aws-service-role/autoscaling.amazonaws.com/…`):
/// only the service can assume one.
fn service_linked_role(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":role/aws-service-role/")?;
    rest.split('/').next().filter(|service| !service.is_empty())
}
