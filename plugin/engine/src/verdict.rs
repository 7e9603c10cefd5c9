//! What the engine says about one event (one record of a batch).

use serde::Serialize;

/// The overall result for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// At least one rule matched: the record is tagged.
    Match,
    /// Recognised, no rule matched: the record passes through unchanged.
    NoMatch,
    /// A rule matched but the caller is allow-listed (an AWS service acting on
    /// its own behalf, a backup account, …): no tags, counted.
    Suppressed,
    /// The JSON is fine but not a cloud audit format modwatch knows: passes
    /// through unchanged, counted.
    Unrecognised,
    /// The record could not be decoded: passes through unchanged, with the
    /// error in the verdict.
    Error,
}

/// Which input format a record was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A raw CloudTrail record (alone, in `{"Records":[…]}`, or as an EventBridge `detail`).
    AwsCloudtrail,
    /// An Elastic ECS document from the `aws.cloudtrail` integration.
    AwsCloudtrailEcs,
    /// An Azure Activity record as diagnostic settings export it (Event Hub, storage).
    AzureActivity,
    /// An Azure Activity event in the REST/portal shape (`operationName.value`).
    AzureActivityRest,
    /// A Log Analytics `AzureActivity` row.
    AzureActivityLogAnalytics,
    /// An Elastic ECS document from the `azure.activitylogs` integration.
    AzureActivityEcs,
    /// A GCP Cloud Audit Log entry.
    GcpAudit,
    /// An Elastic ECS document from the `gcp.audit` integration.
    GcpAuditEcs,
}

impl Format {
    /// The kebab-case name used in verdicts, e.g. `aws-cloudtrail-ecs`.
    pub fn name(self) -> &'static str {
        match self {
            Format::AwsCloudtrail => "aws-cloudtrail",
            Format::AwsCloudtrailEcs => "aws-cloudtrail-ecs",
            Format::AzureActivity => "azure-activity",
            Format::AzureActivityRest => "azure-activity-rest",
            Format::AzureActivityLogAnalytics => "azure-activity-log-analytics",
            Format::AzureActivityEcs => "azure-activity-ecs",
            Format::GcpAudit => "gcp-audit",
            Format::GcpAuditEcs => "gcp-audit-ecs",
        }
    }

    /// The cloud: `aws`, `azure` or `gcp`.
    pub fn cloud(self) -> &'static str {
        match self {
            Format::AwsCloudtrail | Format::AwsCloudtrailEcs => "aws",
            Format::AzureActivity
            | Format::AzureActivityRest
            | Format::AzureActivityLogAnalytics
            | Format::AzureActivityEcs => "azure",
            Format::GcpAudit | Format::GcpAuditEcs => "gcp",
        }
    }
}

/// How the call went, from the record itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The call succeeded (or was accepted, for Azure long-running operations).
    Success,
    /// The call failed or was denied.
    Failure,
    /// An AWS dry run: nothing was changed; never a match.
    DryRun,
    /// The record does not say yet (Azure `Started`, GCP `first` entries of
    /// operations that later fail are still `success` here).
    Unknown,
}

/// Who made the call, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Principal {
    /// The stable key: an ARN (the role's for assumed roles), an Entra object
    /// id, a GCP principal e-mail.
    pub id: String,
    /// What a person reads: user name, session name, UPN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// The identity type as the cloud names it (IAMUser, AssumedRole,
    /// ServicePrincipal, serviceAccount, …).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The account / subscription / project the principal is scoped to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// One rule that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMatch {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's name.
    pub rule_name: String,
    /// The risk category, e.g. `EXPOSE_PUBLIC`.
    pub category: String,
    /// The points of this match (1 for a failed call, 0 for an Azure
    /// `Started` record).
    pub points: u32,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// 0–100, Elastic's risk score scale.
    pub risk_score: u32,
    /// ATT&CK technique id, e.g. `T1578`.
    pub technique: String,
    /// ATT&CK sub-technique id, e.g. `T1578.001`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtechnique: Option<String>,
}

/// A decoding error attached to a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventError {
    /// Stable numeric code (see `ErrorKind::code`).
    pub code: u16,
    /// Stable short name, e.g. `invalid_json`.
    pub kind: String,
    /// A lowercase sentence.
    pub message: String,
}

/// The engine's verdict on one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The overall result.
    pub status: Status,
    /// The recognised format, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// The normalised operation, lower case (e.g. `ec2.amazonaws.com:runinstances`,
    /// `microsoft.compute/snapshots/write`, `compute.instances.insert`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// How the call went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Who made the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    /// The event time as written in the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Every rule that matched, highest points first (ties: pack order).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<RuleMatch>,
    /// The category of the best match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The points of the best match.
    pub points: u32,
    /// Why the record was suppressed, for `suppressed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<String>,
    /// The decoding error, for `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<EventError>,
    /// Per-principal scoring, for matches with a known principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<crate::Score>,
    /// The Sigma correlation rules this record made fire (each is also in
    /// [`Verdict::matches`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub correlations: Vec<crate::CorrelationAlert>,
    /// The key the scorer tracks the principal under (see
    /// [`Verdict::principal_key`]). Not in the JSON: the verdict lines are a
    /// stable format held by golden files.
    #[serde(skip)]
    pub(crate) key: Option<String>,
}

impl Verdict {
    pub(crate) fn bare(status: Status) -> Verdict {
        Verdict {
            status,
            format: None,
            op: None,
            outcome: None,
            principal: None,
            time: None,
            matches: Vec::new(),
            category: None,
            points: 0,
            suppressed_by: None,
            error: None,
            score: None,
            correlations: Vec::new(),
            key: None,
        }
    }

    /// Sets the scoring key from the principal and the account that owns
    /// the resource (not the principal's own account: a cross-account call
    /// scores in the account it acts on).
    pub(crate) fn with_key(mut self, owner_account: Option<&str>) -> Verdict {
        self.key = self.principal.as_ref().map(|p| format!("{}|{}", owner_account.unwrap_or(""), p.id));
        self
    }

    /// The key per-principal scoring tracks this record's principal under:
    /// `"<owner account>|<principal id>"`, the owner account being the one
    /// the call acts on (empty when the record does not say). Set whenever
    /// [`Verdict::principal`] is; hosts that group verdicts by principal
    /// (the playground's timeline) should use this rather than rebuild it.
    pub fn principal_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The partition token of [`Verdict::principal_key`]: see
    /// [`partition_token`].
    pub fn partition_token(&self) -> Option<String> {
        self.principal_key().map(partition_token)
    }

    pub(crate) fn error(err: &crate::Error) -> Verdict {
        Verdict {
            error: Some(EventError {
                code: err.code(),
                kind: err.kind().name().to_string(),
                message: err.message().to_string(),
            }),
            ..Verdict::bare(Status::Error)
        }
    }

    /// True for `match`.
    pub fn is_match(&self) -> bool {
        self.status == Status::Match
    }

    /// The verdict as one line of JSON.
    pub fn to_json(&self) -> String {
        // A Verdict has only strings, numbers and enums: serialisation cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A principal key as one subject-safe token (16 lowercase hex digits, the
/// 64-bit FNV-1a hash of the key's bytes), stable across versions, builds and
/// platforms. A shipper publishes an event to a subject ending in its
/// principal's token and the message broker maps the token to a partition
/// (NATS `{{partition(n,1)}}`), so every event of a principal reaches the one
/// worker that scores it.
pub fn partition_token(principal_key: &str) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = principal_key.bytes().fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::partition_token;

    #[test]
    fn partition_token_is_fnv1a_64() {
        assert_eq!(partition_token(""), "cbf29ce484222325");
        assert_eq!(partition_token("a"), "af63dc4c8601ec8c");
        assert_eq!(partition_token("foobar"), "85944171f73967e8");
    }
}
