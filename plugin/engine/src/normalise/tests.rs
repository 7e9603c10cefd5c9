use serde_json::{Value, json};

use super::*;

/// The document of a test event and its arena (leaked: a test is short).
fn doc_of(v: &Value) -> (&'static Node<'static>, &'static Bump) {
    let arena: &'static Bump = Box::leak(Box::new(Bump::new()));
    let text: &'static str = Box::leak(v.to_string().into_boxed_str());
    (doc::parse(text, arena).unwrap_or(&Node::Null), arena)
}

fn node(v: &Value) -> &'static Node<'static> {
    doc_of(v).0
}

fn view_of(v: &Value) -> View<'static> {
    let (node, arena) = doc_of(v);
    let format = sniff(node).unwrap_or(Format::AwsCloudtrail);
    View::new(node, format, arena)
}

#[test]
fn sniffs_every_shape() {
    let cases = [
        (json!({"eventVersion":"1.08","eventSource":"ec2.amazonaws.com","eventName":"X"}), Some(Format::AwsCloudtrail)),
        (
            json!({"eventVersion":"1.07","eventType":"AwsCloudTrailInsight","insightDetails":{}}),
            Some(Format::AwsCloudtrail),
        ),
        (json!({"event":{"dataset":"aws.cloudtrail"}}), Some(Format::AwsCloudtrailEcs)),
        (json!({"event":{"action":"X"},"aws":{"cloudtrail":{}}}), Some(Format::AwsCloudtrailEcs)),
        (json!({"operationName":"MICROSOFT.COMPUTE/DISKS/DELETE","resultType":"Success"}), Some(Format::AzureActivity)),
        (json!({"operationName":{"value":"Microsoft.Compute/disks/delete"}}), Some(Format::AzureActivityRest)),
        (
            json!({"OperationNameValue":"Microsoft.Compute/disks/delete","Type":"AzureActivity"}),
            Some(Format::AzureActivityLogAnalytics),
        ),
        (json!({"data_stream":{"dataset":"azure.activitylogs"}}), Some(Format::AzureActivityEcs)),
        (json!({"protoPayload":{"methodName":"v1.compute.instances.insert"}}), Some(Format::GcpAudit)),
        (json!({"event":{"action":"x"},"gcp":{"audit":{}}}), Some(Format::GcpAuditEcs)),
        (json!({"message":"hello"}), None),
        (json!({"event":{"dataset":"nginx.access"}}), None),
    ];
    for (event, want) in cases {
        assert_eq!(sniff(node(&event)), want, "{event}");
    }
}

#[test]
fn aws_assumed_role() {
    let e = json!({
        "eventVersion":"1.08","eventSource":"ec2.amazonaws.com","eventName":"CreateSnapshot",
        "eventTime":"2024-05-01T10:00:00Z","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2",
        "recipientAccountId":"111122223333","eventID":"e-1",
        "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Ops/alice",
            "accountId":"111122223333","principalId":"AROA:alice",
            "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/Ops","userName":"Ops"}}},
        "requestParameters":{"volumeId":"vol-1"},"errorCode":null
    });
    let v = view_of(&e);
    let f = |k: &str| v.field(k);
    assert_eq!(f("event.dataset").as_deref(), Some("aws.cloudtrail"));
    assert_eq!(f("event.action").as_deref(), Some("CreateSnapshot"));
    assert_eq!(f("event.outcome").as_deref(), Some("success"));
    assert_eq!(f("user.name").as_deref(), Some("Ops"));
    assert_eq!(f("source.ip").as_deref(), Some("203.0.113.9"));
    assert_eq!(f("modwatch.op").as_deref(), Some("ec2.amazonaws.com:createsnapshot"));
    assert_eq!(f("modwatch.principal.id").as_deref(), Some("arn:aws:iam::111122223333:role/Ops"));
    assert_eq!(f("modwatch.principal.display").as_deref(), Some("Ops/alice"));
    assert_eq!(f("modwatch.account").as_deref(), Some("111122223333"));
    assert_eq!(f("modwatch.params.volumeId").as_deref(), Some("vol-1"));
    assert_eq!(f("aws.cloudtrail.user_identity.type").as_deref(), Some("AssumedRole"));
    assert_eq!(f("aws.cloudtrail.flattened.request_parameters.volumeId").as_deref(), Some("vol-1"));
    assert_eq!(f("requestParameters.volumeId").as_deref(), Some("vol-1"));
    // null is missing
    assert_eq!(f("errorCode"), None);
    assert_eq!(f("aws.cloudtrail.error_code"), None);
    assert_eq!(v.facts.outcome, Some(Outcome::Success));
    assert_eq!(v.facts.service_caller, None);
}

#[test]
fn aws_failures_dry_runs_and_services() {
    let base = |extra: Value| {
        let mut e = json!({"eventSource":"ec2.amazonaws.com","eventName":"RunInstances",
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/bob","userName":"bob","accountId":"1"}});
        tag_merge(&mut e, extra);
        e
    };
    let dry = base(json!({"errorCode":"Client.DryRunOperation"}));
    assert_eq!(view_of(&dry).facts.outcome, Some(Outcome::DryRun));
    let denied = base(json!({"errorCode":"Client.UnauthorizedOperation"}));
    assert_eq!(view_of(&denied).facts.outcome, Some(Outcome::Failure));
    assert_eq!(view_of(&denied).field("event.outcome").as_deref(), Some("failure"));
    let svc = base(json!({"userIdentity":{"invokedBy":"autoscaling.amazonaws.com"}}));
    assert_eq!(view_of(&svc).facts.service_caller, Some("autoscaling.amazonaws.com"));
    let console = base(json!({"sourceIPAddress":"AWS Internal"}));
    assert_eq!(view_of(&console).field("source.ip"), None);
    assert_eq!(view_of(&console).field("source.address").as_deref(), Some("AWS Internal"));
    let root = json!({"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances",
        "userIdentity":{"type":"Root","accountId":"123"}});
    assert_eq!(view_of(&root).field("modwatch.principal.id").as_deref(), Some("arn:aws:iam::123:root"));
}

fn tag_merge(target: &mut Value, add: Value) {
    crate::tag::merge(target, add);
}

#[test]
fn azure_shapes_agree() {
    let diag = json!({
        "operationName":"MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE","resultType":"Succeeded","category":"Administrative",
        "resourceId":"/SUBSCRIPTIONS/SUB-1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM1",
        "correlationId":"c-1","callerIpAddress":"198.51.100.4","time":"2024-05-01T10:00:00.0000000Z",
        "identity":{"claims":{
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name":"alice@contoso.com",
            "http://schemas.microsoft.com/identity/claims/objectidentifier":"oid-1","appid":"app-1","name":"Alice"},
            "authorization":{"evidence":{"principalType":"User","principalId":"oid1"}}},
        "properties":{"statusCode":"OK","requestbody":"{\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_NC24\"}}}"}
    });
    let v = view_of(&diag);
    assert_eq!(sniff(node(&diag)), Some(Format::AzureActivity));
    assert_eq!(v.field("event.action").as_deref(), Some("MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE"));
    assert_eq!(v.field("event.outcome"), None, "Elastic sets it only for Success/Failure");
    assert_eq!(v.field("user.name").as_deref(), Some("alice"));
    assert_eq!(v.field("user.domain").as_deref(), Some("contoso.com"));
    assert_eq!(v.field("modwatch.op").as_deref(), Some("microsoft.compute/virtualmachines/delete"));
    assert_eq!(v.field("modwatch.phase").as_deref(), Some("end"));
    assert_eq!(v.field("modwatch.principal.id").as_deref(), Some("oid-1"));
    assert_eq!(v.field("modwatch.account").as_deref(), Some("SUB-1"));
    assert_eq!(v.field("modwatch.params.properties.hardwareProfile.vmSize").as_deref(), Some("Standard_NC24"));
    assert_eq!(v.field("modwatch.status_code").as_deref(), Some("OK"));
    assert_eq!(
        v.field("identity.claims.http://schemas.microsoft.com/identity/claims/objectidentifier").as_deref(),
        Some("oid-1"),
        "keys with dots are found"
    );
    assert_eq!(
        v.facts.dedup.as_deref(),
        Some(
            "c-1|MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE|/SUBSCRIPTIONS/SUB-1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM1"
        )
    );

    let rest = json!({"operationName":{"value":"Microsoft.Compute/virtualMachines/delete"},"status":{"value":"Started"},
        "caller":"alice@contoso.com","resourceId":"/subscriptions/sub-1/x","claims":{"name":"Alice"}});
    let v = view_of(&rest);
    assert_eq!(v.field("event.action").as_deref(), Some("Microsoft.Compute/virtualMachines/delete"));
    assert_eq!(v.field("modwatch.phase").as_deref(), Some("start"));
    assert_eq!(v.field("user.name").as_deref(), Some("alice"));

    let la = json!({"OperationNameValue":"MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE","ActivityStatusValue":"Success",
        "Caller":"6f1b-oid","CallerIpAddress":"198.51.100.4","SubscriptionId":"sub-2","Type":"AzureActivity"});
    let v = view_of(&la);
    assert_eq!(v.field("event.outcome").as_deref(), Some("success"));
    assert_eq!(v.field("modwatch.principal.id").as_deref(), Some("6f1b-oid"));
    assert_eq!(v.field("modwatch.account").as_deref(), Some("sub-2"));
    assert_eq!(v.field("user.name"), None, "a service principal has no user name");
}

#[test]
fn gcp_raw() {
    let e = json!({"protoPayload":{"methodName":"beta.compute.instances.insert","serviceName":"compute.googleapis.com",
        "authenticationInfo":{"principalEmail":"sa@p1.iam.gserviceaccount.com"},
        "requestMetadata":{"callerIp":"gce-internal-ip","callerSuppliedUserAgent":"gcloud"},
        "request":{"machineType":"a2-highgpu-8g"},"status":{"code":7}},
        "resource":{"labels":{"project_id":"p1"}},"operation":{"id":"op-1","first":true},"insertId":"i1"});
    let v = view_of(&e);
    assert_eq!(v.field("modwatch.op").as_deref(), Some("compute.instances.insert"));
    assert_eq!(v.field("event.outcome").as_deref(), Some("failure"));
    assert_eq!(v.field("modwatch.phase").as_deref(), Some("first"));
    assert_eq!(v.field("modwatch.principal.type").as_deref(), Some("serviceAccount"));
    assert_eq!(v.field("source.ip"), None);
    assert_eq!(v.field("modwatch.params.machineType").as_deref(), Some("a2-highgpu-8g"));
    assert_eq!(v.field("gcp.audit.request.machineType").as_deref(), Some("a2-highgpu-8g"));
    assert_eq!(v.facts.dedup.as_deref(), Some("op-1"));
}

#[test]
fn needles() {
    let n = |field: &str, literal: &str| prefilter_needle(field, literal).map(|n| (n.text, n.operation));
    let some = |text: &str, operation: bool| Some((text.to_string(), operation));
    assert_eq!(n("event.action", "RunInstances"), some("RunInstances", true));
    assert_eq!(n("event.dataset", "azure.activitylogs"), None);
    assert_eq!(n("modwatch.op", "ec2.amazonaws.com:runinstances"), some("runinstances", true));
    // Without the `:`, the run may be the event source's: anywhere in the bytes.
    assert_eq!(n("modwatch.op", "ec2.amazonaws"), some("ec2.amazonaws", false));
    assert_eq!(n("modwatch.op", "ec2.amazonaws.com:"), None);
    assert_eq!(n("event.provider", "ec2.amazonaws.com"), some("ec2.amazonaws.com", false));
    assert_eq!(n("requestParameters.x", "a\"b"), None);
}
