//! Azure Activity: diagnostic-settings records, the REST/portal shape, Log
//! Analytics `AzureActivity` rows, and Elastic `azure.activitylogs` documents.

use std::borrow::Cow;

use crate::doc::Node;

use super::{Builder, Field, Phase, Subtree, at, is_ip, s};
use crate::verdict::{Format, Outcome, Principal};

const CLAIM_NAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
const CLAIM_UPN: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";
const CLAIM_OID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
/// Elastic replaces the dots of claim URIs with `_` in its documents.
const ECS_CLAIM_OID: &str = "http://schemas_microsoft_com/identity/claims/objectidentifier";

/// A raw record in one of the three vendor shapes.
pub(super) fn raw<'a>(
    r: &'a Node<'a>,
    format: Format,
    b: &mut Builder<'a>,
) -> (&'static [(&'static str, &'static str)], Subtree<'a>, Subtree<'a>) {
    let la = format == Format::AzureActivityLogAnalytics;
    let action = match format {
        Format::AzureActivityRest => s(r, &["operationName", "value"]),
        Format::AzureActivityLogAnalytics => s(r, &["OperationNameValue"]),
        _ => s(r, &["operationName"]),
    };
    let result =
        s(r, &["resultType"]).or_else(|| s(r, &["status", "value"])).or_else(|| s(r, &["ActivityStatusValue"]));
    let properties = at(r, &["properties"]).or_else(|| at(r, &["Properties_d"]));
    let status_code = properties
        .and_then(|p| s(p, &["statusCode"]))
        .or_else(|| s(r, &["subStatus", "value"]))
        .or_else(|| s(r, &["ActivitySubstatusValue"]));
    let claims = at(r, &["identity", "claims"]).or_else(|| at(r, &["claims"])).or_else(|| at(r, &["Claims_d"]));
    let evidence = at(r, &["identity", "authorization", "evidence"])
        .or_else(|| at(r, &["authorization", "evidence"]))
        .or_else(|| at(r, &["Authorization_d", "evidence"]));
    let claim = |key: &str| claims.and_then(|c| s(c, &[key]));
    let caller = s(r, &["caller"]).or_else(|| s(r, &["Caller"]));
    // Elastic takes user.name from the `name` claim (the UPN for users).
    let upn = claim(CLAIM_NAME).or_else(|| claim(CLAIM_UPN)).or(caller.filter(|c| c.contains('@')));
    let resource_id = s(r, &["resourceId"]).or_else(|| s(r, &["_ResourceId"])).or_else(|| s(r, &["ResourceId"]));
    let subscription = s(r, &["SubscriptionId"]).or_else(|| resource_id.and_then(subscription_of));
    let ip = s(r, &["callerIpAddress"])
        .or_else(|| s(r, &["httpRequest", "clientIpAddress"]))
        .or_else(|| s(r, &["CallerIpAddress"]));

    b.str("event.dataset", Some("azure.activitylogs"));
    b.str("event.action", action);
    b.str("cloud.provider", Some("azure"));
    if let Some(outcome) = result.and_then(ecs_outcome) {
        b.str("event.outcome", Some(outcome));
    }
    if let Some(upn) = upn {
        let (local, domain) = upn.split_once('@').map_or((upn, None), |(l, d)| (l, Some(d)));
        b.str("user.name", Some(local));
        b.str("user.domain", domain);
        b.str("user.email", domain.map(|_| upn));
    }
    b.str("user.full_name", claim("name"));
    b.str("source.ip", ip.filter(|ip| is_ip(ip)));
    b.str("cloud.account.id", subscription);
    b.str("azure.subscription_id", subscription);
    b.str("azure.resource.id", resource_id);
    b.str("azure.correlation_id", s(r, &["correlationId"]).or_else(|| s(r, &["CorrelationId"])));
    b.str("azure.activitylogs.operation_name", action);
    b.str("azure.activitylogs.result_type", result);
    b.str("azure.activitylogs.result_signature", s(r, &["resultSignature"]));
    b.str("azure.activitylogs.category", s(r, &["category"]).or_else(|| s(r, &["category", "value"])));
    b.str("azure.activitylogs.properties.status_code", status_code);
    for (ecs, key) in [
        ("azure.activitylogs.identity.authorization.evidence.principal_id", "principalId"),
        ("azure.activitylogs.identity.authorization.evidence.principal_type", "principalType"),
        ("azure.activitylogs.identity.authorization.evidence.role", "role"),
        ("azure.activitylogs.identity.authorization.evidence.role_assignment_scope", "roleAssignmentScope"),
    ] {
        b.str(ecs, evidence.and_then(|e| s(e, &[key])));
    }
    b.node("azure.activitylogs.identity.claims", claims);

    let object_id = claim(CLAIM_OID).or_else(|| evidence.and_then(|e| s(e, &["principalId"])));
    Facts {
        action,
        result,
        status_code,
        // Log Analytics puts the object id (service principals) or the UPN
        // (users) in `Caller`.
        id: object_id.or(if la { caller } else { None }),
        kind: evidence.and_then(|e| s(e, &["principalType"])).or_else(|| claim("idtyp")),
        display: claim(CLAIM_UPN).or(upn).or_else(|| claim("name")).or(caller),
        full_name: claim("name"),
        subscription: subscription.map(Cow::Borrowed),
        ip,
        app_id: claim("appid"),
        time: s(r, &["time"]).or_else(|| s(r, &["eventTimestamp"])).or_else(|| s(r, &["TimeGenerated"])),
        correlation: s(r, &["correlationId"]).or_else(|| s(r, &["CorrelationId"])),
        resource_id,
    }
    .apply(b);
    let body = |key: &str| properties.and_then(|p| p.get(key));
    (&[], Subtree::from_node(body("requestbody")), Subtree::from_node(body("responseBody")))
}

/// An Elastic `azure.activitylogs` document.
pub(super) fn ecs<'a>(
    r: &'a Node<'a>,
    b: &mut Builder<'a>,
) -> (&'static [(&'static str, &'static str)], Subtree<'a>, Subtree<'a>) {
    let al = |path: &[&str]| -> Option<&'a str> {
        let mut full = vec!["azure", "activitylogs"];
        full.extend_from_slice(path);
        s(r, &full)
    };
    if s(r, &["event", "dataset"]).is_none() {
        b.str("event.dataset", Some("azure.activitylogs"));
    }
    let claims = at(r, &["azure", "activitylogs", "identity", "claims"]);
    let subscription = s(r, &["azure", "subscription_id"])
        .or_else(|| s(r, &["cloud", "account", "id"]))
        .or_else(|| s(r, &["azure", "resource", "id"]).and_then(subscription_of));
    let evidence = |key: &str| al(&["identity", "authorization", "evidence", key]);
    Facts {
        action: s(r, &["event", "action"]),
        result: al(&["result_type"]),
        status_code: al(&["properties", "status_code"]),
        id: claims.and_then(|c| s(c, &[ECS_CLAIM_OID])).or_else(|| evidence("principal_id")),
        kind: evidence("principal_type"),
        display: s(r, &["user", "email"]).or_else(|| s(r, &["user", "name"])),
        full_name: s(r, &["user", "full_name"]),
        subscription: subscription.map(Cow::Borrowed),
        ip: s(r, &["source", "ip"]),
        app_id: claims.and_then(|c| s(c, &["appid"])),
        time: s(r, &["@timestamp"]),
        correlation: s(r, &["azure", "correlation_id"]),
        resource_id: s(r, &["azure", "resource", "id"]),
    }
    .apply(b);
    let body = |key: &str| at(r, &["azure", "activitylogs", "properties", key]);
    (&[], Subtree::from_node(body("requestbody")), Subtree::from_node(body("responseBody")))
}

/// Elastic sets `event.outcome` only for these result types.
fn ecs_outcome(result: &str) -> Option<&'static str> {
    if result.eq_ignore_ascii_case("success") {
        Some("success")
    } else if result.eq_ignore_ascii_case("failure") {
        Some("failure")
    } else {
        None
    }
}

/// The subscription id in `/subscriptions/{id}/…`, any case.
fn subscription_of(resource_id: &str) -> Option<&str> {
    let lower = resource_id.get(..15)?;
    if !lower.eq_ignore_ascii_case("/subscriptions/") {
        return None;
    }
    let rest = &resource_id[15..];
    Some(rest.split('/').next().unwrap_or(rest)).filter(|s| !s.is_empty())
}

/// The lifecycle phase and outcome of a result type (`resultType`,
/// `status.value`, `ActivityStatusValue`): both spellings of each occur.
fn phase_of(result: Option<&str>) -> (Phase, Option<bool>, Outcome) {
    let Some(r) = result.map(str::to_ascii_lowercase) else {
        return (Phase::Other, None, Outcome::Unknown);
    };
    match r.as_str() {
        "start" | "started" => (Phase::Start, None, Outcome::Unknown),
        "accept" | "accepted" => (Phase::Accept, Some(true), Outcome::Success),
        "success" | "succeeded" => (Phase::End, Some(true), Outcome::Success),
        "failure" | "failed" => (Phase::End, Some(false), Outcome::Failure),
        _ => (Phase::Other, None, Outcome::Unknown),
    }
}

struct Facts<'a> {
    action: Option<&'a str>,
    result: Option<&'a str>,
    status_code: Option<&'a str>,
    id: Option<&'a str>,
    kind: Option<&'a str>,
    display: Option<&'a str>,
    full_name: Option<&'a str>,
    subscription: Option<Cow<'a, str>>,
    ip: Option<&'a str>,
    app_id: Option<&'a str>,
    time: Option<&'a str>,
    correlation: Option<&'a str>,
    resource_id: Option<&'a str>,
}

impl<'a> Facts<'a> {
    fn apply(self, b: &mut Builder<'a>) {
        let f = &mut b.facts;
        let op = self.action.map(|a| a.trim().to_ascii_lowercase());
        let (phase, ok, outcome) = phase_of(self.result);
        f.phase = Some(phase);
        f.ok = ok;
        f.outcome = Some(outcome);
        f.status_code = self.status_code;
        // Service principals and managed identities have no UPN: the object
        // id is the stable key, the display falls back to it.
        let id = self.id.or(self.display);
        if let Some(id) = id {
            f.principal_names =
                [Some(id), self.display, self.full_name, self.display.and_then(|d| d.split('@').next())]
                    .into_iter()
                    .flatten()
                    .map(Cow::Borrowed)
                    .collect();
            f.principal = Some(Principal {
                id: id.to_string(),
                display: self.display.or(self.full_name).map(str::to_string),
                kind: self.kind.map(str::to_string),
                account: self.subscription.as_deref().map(str::to_string),
            });
        }
        f.dedup = match (self.correlation, &op) {
            (Some(c), Some(op)) => Some(format!(
                "{c}|{}|{}",
                op.to_ascii_uppercase(),
                self.resource_id.unwrap_or_default().to_ascii_uppercase()
            )),
            _ => None,
        };
        f.op = op;
        f.account = self.subscription;
        f.source_ip = self.ip.filter(|ip| is_ip(ip));
        f.user_agent = self.app_id;
        f.time = self.time;
        f.resource = self.resource_id.map(|r| Field::Str(Cow::Borrowed(r)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions() {
        assert_eq!(subscription_of("/SUBSCRIPTIONS/abc/RESOURCEGROUPS/x"), Some("abc"));
        assert_eq!(subscription_of("/subscriptions/abc"), Some("abc"));
        assert_eq!(subscription_of("/providers/x"), None);
        assert_eq!(subscription_of("/subscriptions/"), None);
    }

    #[test]
    fn phases() {
        assert_eq!(phase_of(Some("Started")).0, Phase::Start);
        assert_eq!(phase_of(Some("Accept")).2, Outcome::Success);
        assert_eq!(phase_of(Some("Succeeded")), (Phase::End, Some(true), Outcome::Success));
        assert_eq!(phase_of(Some("Failure")), (Phase::End, Some(false), Outcome::Failure));
        assert_eq!(phase_of(Some("Updated")).0, Phase::Other);
    }
}
