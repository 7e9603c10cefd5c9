//! A deterministic generator of realistic cloud audit events, for benchmarks.
//!
//! [`mix`] yields compact JSON events of 1–3 KB in four shapes: raw AWS
//! CloudTrail records, Elastic ECS `aws.cloudtrail` documents, raw Azure
//! Activity records (diagnostic-settings shape) and Elastic ECS
//! `azure.activitylogs` documents. About 1% are T1578 operations done by a
//! person or a deployment role ([`MATCHING_OPERATIONS`]); the rest is the
//! everyday traffic of a cloud estate (S3 reads, role assumptions, KMS,
//! storage keys, network rules …), near-misses included (`DescribeSnapshots`,
//! `virtualMachines/read`). The same `(n, seed)` always gives the same events.
//!
//! Events are built from the small tables below, never copied from a corpus,
//! so a benchmark exercises the engine on a realistic mix of sizes and field
//! layouts rather than on a handful of repeated strings.

use serde_json::{Map, Value, json};

/// The operations the generator uses for its matching events (AWS
/// `eventName`, Azure `operationName` in its canonical case).
pub const MATCHING_OPERATIONS: &[&str] = &[
    "RunInstances",
    "TerminateInstances",
    "CreateSnapshot",
    "ModifySnapshotAttribute",
    "CreateImage",
    "Microsoft.Compute/virtualMachines/delete",
    "Microsoft.Compute/snapshots/write",
    "Microsoft.Compute/disks/beginGetAccess/action",
    "Microsoft.Compute/virtualMachines/extensions/write",
];

/// Matching events per 1,000.
const MATCH_PER_MILLE: u64 = 10;
/// Events are kept within these sizes, in bytes.
const MIN_LEN: usize = 1024;
const MAX_LEN: usize = 3072;

/// `n` events, compact JSON, one per string. Deterministic for a seed.
///
/// Each event is built from its own seed, so the work is split over the
/// machine's cores without changing the result.
pub fn mix(n: usize, seed: u64) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(n.div_ceil(1000)).max(1);
    let chunk = n.div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || (t * chunk..n.min((t + 1) * chunk)).map(|i| event(seed, i)).collect::<Vec<_>>())
            })
            .collect();
        // A generator thread only panics on a bug; then the mix is short and
        // the size and count tests say so.
        parts.into_iter().flat_map(|p| p.join().unwrap_or_default()).collect()
    })
}

/// Total bytes, shortest and longest event.
pub fn stats(events: &[String]) -> (usize, usize, usize) {
    let total = events.iter().map(String::len).sum();
    let min = events.iter().map(String::len).min().unwrap_or(0);
    let max = events.iter().map(String::len).max().unwrap_or(0);
    (total, min, max)
}

/// Event `i` of the mix: drawn from its own seed, so it does not depend on
/// the events before it. An event outside 1–3 KB is rebuilt with less (or
/// more) optional detail; one that still does not fit is drawn again with
/// the same shape and the same matching status.
fn event(seed: u64, i: usize) -> String {
    let own = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut first = Rng::new(own);
    let matching = first.below(1000) < MATCH_PER_MILLE;
    let shape = first.below(100);
    let time = BASE_TIME + i as u64 * 3 / 4;
    let build = |variant: u64, detail: Detail| {
        let rng = Rng::new(first.0 ^ variant.wrapping_mul(0x5851_F42D_4C95_7F2D));
        let g = &mut Gen { rng, detail, time, matching };
        let value = match shape {
            0..35 => aws_record(g),
            35..60 => aws_ecs(g),
            60..85 => azure_record(g),
            _ => azure_ecs(g),
        };
        value.to_string()
    };
    let mut text = String::new();
    for variant in 0..16 {
        for detail in [Detail::Full, Detail::Lean, Detail::Bare, Detail::Min] {
            text = build(variant, detail);
            if text.len() <= MAX_LEN {
                break;
            }
        }
        if text.len() < MIN_LEN {
            text = build(variant, Detail::Padded);
        }
        if (MIN_LEN..=MAX_LEN).contains(&text.len()) {
            break;
        }
    }
    text
}

/// How much optional detail a builder adds, least first. A field guarded by
/// `g.has(Detail::Lean)` is present at `Lean`, `Full` and `Padded`;
/// `Padded` adds what real records of small calls often carry besides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Detail {
    Min,
    Bare,
    Lean,
    Full,
    Padded,
}

impl Detail {
    /// The detail of the record inside an ECS document, which carries the
    /// record twice (parsed, and as `event.original`).
    fn inner(self) -> Detail {
        match self {
            Detail::Padded => Detail::Lean,
            Detail::Full | Detail::Lean => Detail::Bare,
            Detail::Bare | Detail::Min => Detail::Min,
        }
    }
}

/// The state of one event's build.
#[derive(Debug)]
struct Gen {
    rng: Rng,
    detail: Detail,
    time: u64,
    matching: bool,
}

impl Gen {
    fn has(&self, detail: Detail) -> bool {
        self.detail >= detail
    }
}

// ---------------------------------------------------------------------------
// PRNG: splitmix64, enough for test data and stable across platforms.

#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn from(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len).map(|_| char::from(*self.pick(alphabet))).collect()
    }

    fn hex(&mut self, len: usize) -> String {
        self.from(b"0123456789abcdef", len)
    }

    fn digits(&mut self, len: usize) -> String {
        self.from(b"0123456789", len)
    }

    fn upper(&mut self, len: usize) -> String {
        self.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", len)
    }

    fn base64(&mut self, len: usize) -> String {
        self.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+", len)
    }

    fn uuid(&mut self) -> String {
        format!("{}-{}-4{}-a{}-{}", self.hex(8), self.hex(4), self.hex(3), self.hex(3), self.hex(12))
    }

    fn ipv4(&mut self) -> String {
        let first = *self.pick(&[3u64, 18, 34, 52, 54, 81, 90, 104, 145, 176, 185, 203]);
        format!("{first}.{}.{}.{}", self.below(256), self.below(256), 1 + self.below(254))
    }
}

// ---------------------------------------------------------------------------
// Time: seconds since the Unix epoch, written as the clouds write it.

/// 2025-03-03T08:00:00Z.
const BASE_TIME: u64 = 1_740_988_800;

/// `2025-03-03T08:00:00` (no zone, no fraction), through the engine's
/// calendar ([`modwatch_engine::time`]).
fn iso(secs: u64) -> String {
    utc(secs).to_string()
}

fn utc(secs: u64) -> modwatch_engine::time::Utc {
    modwatch_engine::time::utc(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// `Mar 3, 2025, 9:00:00 AM`, as STS writes a credential's expiry.
fn aws_date(secs: u64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let t = utc(secs);
    let half = if t.hour < 12 { "AM" } else { "PM" };
    let h12 = if t.hour.is_multiple_of(12) { 12 } else { t.hour % 12 };
    let month = MONTHS.get((t.month as usize).saturating_sub(1)).copied().unwrap_or("Jan");
    format!("{month} {}, {}, {h12}:{:02}:{:02} {half}", t.day, t.year, t.minute, t.second)
}

// ---------------------------------------------------------------------------
// AWS: who calls, and what.

const AWS_ACCOUNTS: &[&str] = &["111122223333", "444455556666", "777788889999", "210987654321"];
const AWS_REGIONS: &[&str] = &["us-east-1", "us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"];
const IAM_USERS: &[&str] =
    &["alice.nguyen", "bob.okafor", "carla.mendes", "ci-deployer", "terraform", "backup-operator"];
/// `(role, session)`: SSO sessions are e-mails, service sessions are ids.
const ROLES: &[(&str, &str)] = &[
    ("AWSReservedSSO_AdministratorAccess_3f9a1c2b7d6e5f40", "dmitri.ivanov@example.com"),
    ("AWSReservedSSO_PowerUserAccess_8b2e6d1a0c4f9e37", "priya.raman@example.com"),
    ("AWSReservedSSO_ReadOnlyAccess_5c7d9e1f2a3b4c6d", "tom.becker@example.com"),
    ("GitHubActionsDeploy", "GitHubActions"),
    ("OrganizationAccountAccessRole", "break-glass"),
    ("eks-node-group-workers", "i-0a8f3c2d9e1b4f7a6"),
    ("lambda-exec-orders", "orders-handler"),
    ("DatadogIntegrationRole", "datadog-aws-integration"),
];
const AWS_SERVICES: &[&str] =
    &["lambda.amazonaws.com", "s3.amazonaws.com", "ec2.amazonaws.com", "cloudformation.amazonaws.com"];
const AWS_AGENTS: &[&str] = &[
    "aws-cli/2.17.60 md/awscrt#0.21.2 ua/2.0 os/linux#6.8.0-1015-aws md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe",
    "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.227-219.884.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.10 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.36",
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.72.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.182.0",
    "aws-sdk-java/2.28.16 Linux/5.10.226-214.880.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.4+7-LTS Java/21.0.4 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "console.ec2.amazonaws.com",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
];
const BUCKETS: &[&str] =
    &["acme-prod-artifacts", "acme-data-lake-raw", "acme-terraform-state", "acme-cloudtrail-logs", "orders-exports-eu"];
const OBJECT_KEYS: &[&str] = &[
    "releases/api/2025-03-02/app.tar.gz",
    "raw/orders/dt=2025-03-02/part-00017.parquet",
    "env/prod/terraform.tfstate",
    "AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/02/trail.json.gz",
    "exports/daily/customers.csv.gz",
];
const INSTANCE_TYPES: &[&str] =
    &["t3.medium", "m6i.large", "m7g.xlarge", "c6i.2xlarge", "r6i.4xlarge", "g5.12xlarge", "p4d.24xlarge"];

/// An AWS caller.
#[derive(Debug)]
enum AwsWho {
    User { name: &'static str },
    Role { role: &'static str, session: &'static str },
    Service { service: &'static str },
}

/// `by_service`: whether AWS services make this call for their callers
/// (KMS for S3, STS for Lambda …).
fn aws_who(g: &mut Gen, by_service: bool) -> AwsWho {
    let roll = g.rng.below(if by_service { 100 } else { 90 });
    if g.matching {
        // Matches come from people and deployment roles, never from a service.
        return if roll < 40 {
            let name = *g.rng.pick(IAM_USERS);
            AwsWho::User { name }
        } else {
            let (role, session) = *g.rng.pick(&ROLES[..5]);
            AwsWho::Role { role, session }
        };
    }
    match roll {
        0..25 => {
            let name = *g.rng.pick(IAM_USERS);
            AwsWho::User { name }
        }
        25..90 => {
            let (role, session) = *g.rng.pick(ROLES);
            AwsWho::Role { role, session }
        }
        _ => {
            let service = *g.rng.pick(AWS_SERVICES);
            AwsWho::Service { service }
        }
    }
}

/// A stable id for a name: the same user always has the same principal id.
fn name_id(prefix: &str, name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut rng = Rng::new(h);
    format!("{prefix}{}", rng.upper(17))
}

fn user_identity(g: &mut Gen, who: &AwsWho, account: &str) -> Value {
    match who {
        AwsWho::User { name } => json!({
            "type": "IAMUser",
            "principalId": name_id("AIDA", name),
            "arn": format!("arn:aws:iam::{account}:user/{name}"),
            "accountId": account,
            "accessKeyId": format!("AKIA{}", g.rng.upper(16)),
            "userName": name,
        }),
        AwsWho::Role { role, session } => {
            let role_id = name_id("AROA", role);
            let mut context = json!({
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": format!("arn:aws:iam::{account}:role/{role}"),
                    "accountId": account,
                    "userName": role,
                },
            });
            if g.has(Detail::Bare) {
                context["attributes"] = json!({
                    "creationDate": format!("{}Z", iso(g.time - 600 - g.rng.below(3000))),
                    "mfaAuthenticated": "false",
                });
            }
            if g.has(Detail::Lean) {
                context["webIdFederationData"] = json!({});
            }
            if g.has(Detail::Full) && role.starts_with("AWSReservedSSO") {
                context["sourceIdentity"] = json!(session);
            }
            json!({
                "type": "AssumedRole",
                "principalId": format!("{role_id}:{session}"),
                "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
                "accountId": account,
                "accessKeyId": format!("ASIA{}", g.rng.upper(16)),
                "sessionContext": context,
            })
        }
        AwsWho::Service { service } => json!({ "type": "AWSService", "invokedBy": service }),
    }
}

/// What one call carries besides the envelope.
#[derive(Debug, Default)]
struct Call {
    request: Value,
    response: Value,
    resources: Option<Value>,
    additional: Option<Value>,
    read_only: bool,
    data_event: bool,
}

/// One AWS operation: its source, its name and how to build its parameters.
struct AwsOp {
    source: &'static str,
    name: &'static str,
    /// Out of 1,000 non-matching AWS events.
    weight: u64,
    build: fn(&mut Gen, &str, &str) -> Call,
}

const AWS_EVERYDAY: &[AwsOp] = &[
    AwsOp { source: "s3.amazonaws.com", name: "GetObject", weight: 220, build: s3_object },
    AwsOp { source: "s3.amazonaws.com", name: "PutObject", weight: 80, build: s3_object },
    AwsOp { source: "s3.amazonaws.com", name: "HeadObject", weight: 60, build: s3_object },
    AwsOp { source: "sts.amazonaws.com", name: "AssumeRole", weight: 120, build: sts_assume_role },
    AwsOp { source: "kms.amazonaws.com", name: "Decrypt", weight: 110, build: kms_call },
    AwsOp { source: "kms.amazonaws.com", name: "GenerateDataKey", weight: 60, build: kms_call },
    AwsOp { source: "ec2.amazonaws.com", name: "DescribeInstances", weight: 70, build: ec2_describe },
    AwsOp { source: "ec2.amazonaws.com", name: "DescribeSnapshots", weight: 40, build: ec2_describe },
    AwsOp { source: "ec2.amazonaws.com", name: "DescribeImages", weight: 20, build: ec2_describe },
    AwsOp { source: "ec2.amazonaws.com", name: "DescribeVolumes", weight: 20, build: ec2_describe },
    AwsOp { source: "ec2.amazonaws.com", name: "DescribeSecurityGroups", weight: 20, build: ec2_describe },
    AwsOp { source: "iam.amazonaws.com", name: "GetRole", weight: 40, build: iam_call },
    AwsOp { source: "iam.amazonaws.com", name: "ListAttachedRolePolicies", weight: 30, build: iam_call },
    AwsOp { source: "lambda.amazonaws.com", name: "GetFunction20150331v2", weight: 30, build: lambda_call },
    AwsOp { source: "secretsmanager.amazonaws.com", name: "GetSecretValue", weight: 40, build: secret_call },
    AwsOp { source: "ssm.amazonaws.com", name: "GetParameters", weight: 40, build: ssm_call },
];

const AWS_MATCHING: &[AwsOp] = &[
    AwsOp { source: "ec2.amazonaws.com", name: "RunInstances", weight: 30, build: ec2_run },
    AwsOp { source: "ec2.amazonaws.com", name: "TerminateInstances", weight: 25, build: ec2_terminate },
    AwsOp { source: "ec2.amazonaws.com", name: "CreateSnapshot", weight: 20, build: ec2_snapshot },
    AwsOp { source: "ec2.amazonaws.com", name: "ModifySnapshotAttribute", weight: 15, build: ec2_share },
    AwsOp { source: "ec2.amazonaws.com", name: "CreateImage", weight: 10, build: ec2_image },
];

fn weighted<'a, T>(rng: &mut Rng, items: &'a [T], weight: impl Fn(&T) -> u64) -> &'a T {
    let total: u64 = items.iter().map(&weight).sum();
    let mut roll = rng.below(total);
    for item in items {
        let w = weight(item);
        if roll < w {
            return item;
        }
        roll -= w;
    }
    &items[0]
}

fn instance_id(rng: &mut Rng) -> String {
    format!("i-0{}", rng.hex(16))
}

fn s3_object(g: &mut Gen, account: &str, _region: &str) -> Call {
    let bucket = g.rng.pick(BUCKETS);
    let key = g.rng.pick(OBJECT_KEYS);
    let mut additional = json!({
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": 0,
        "AuthenticationMethod": "AuthHeader",
        "bytesTransferredOut": g.rng.below(40_000_000),
    });
    if g.has(Detail::Bare) {
        additional["x-amz-id-2"] = json!(g.rng.base64(76));
    }
    if g.has(Detail::Padded) {
        additional["SSEApplied"] = json!("SSE_KMS");
    }
    Call {
        request: json!({ "bucketName": bucket, "Host": format!("{bucket}.s3.amazonaws.com"), "key": key }),
        response: Value::Null,
        resources: Some(json!([
            { "type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}") },
            { "accountId": account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}") },
        ])),
        additional: Some(additional),
        read_only: true,
        data_event: true,
    }
}

fn sts_assume_role(g: &mut Gen, account: &str, _region: &str) -> Call {
    let (role, session) = *g.rng.pick(ROLES);
    Call {
        request: json!({
            "roleArn": format!("arn:aws:iam::{account}:role/{role}"),
            "roleSessionName": session,
            "durationSeconds": 3600,
        }),
        response: json!({
            "credentials": {
                "accessKeyId": format!("ASIA{}", g.rng.upper(16)),
                "sessionToken": g.rng.base64(if g.has(Detail::Lean) { 360 } else { 120 }),
                "expiration": aws_date(g.time + 3600),
            },
            "assumedRoleUser": {
                "assumedRoleId": format!("{}:{session}", name_id("AROA", role)),
                "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
            },
        }),
        resources: Some(
            json!([{ "accountId": account, "type": "AWS::IAM::Role", "ARN": format!("arn:aws:iam::{account}:role/{role}") }]),
        ),
        read_only: true,
        ..Call::default()
    }
}

fn kms_call(g: &mut Gen, account: &str, region: &str) -> Call {
    let key = format!("arn:aws:kms:{region}:{account}:key/{}", g.rng.uuid());
    let bucket = g.rng.pick(BUCKETS);
    Call {
        request: json!({
            "encryptionContext": { "aws:s3:arn": format!("arn:aws:s3:::{bucket}/{}", g.rng.pick(OBJECT_KEYS)) },
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "keyId": key,
        }),
        response: Value::Null,
        resources: Some(json!([{ "accountId": account, "type": "AWS::KMS::Key", "ARN": key }])),
        read_only: true,
        ..Call::default()
    }
}

fn ec2_describe(g: &mut Gen, account: &str, _region: &str) -> Call {
    let mut filters = vec![json!({ "name": "owner-id", "valueSet": { "items": [{ "value": account }] } })];
    if g.has(Detail::Lean) {
        filters.push(json!({ "name": "tag:Environment", "valueSet": { "items": [{ "value": "prod" }] } }));
    }
    if g.has(Detail::Padded) {
        filters.push(json!({ "name": "instance-state-name", "valueSet": { "items": [{ "value": "running" }, { "value": "stopped" }] } }));
        filters.push(
            json!({ "name": "tag:Team", "valueSet": { "items": [{ "value": "platform" }, { "value": "data" }] } }),
        );
    }
    Call {
        request: json!({ "filterSet": { "items": filters }, "maxResults": 1000 }),
        response: Value::Null,
        read_only: true,
        ..Call::default()
    }
}

fn iam_call(g: &mut Gen, _account: &str, _region: &str) -> Call {
    let (role, _) = *g.rng.pick(ROLES);
    Call { request: json!({ "roleName": role }), response: Value::Null, read_only: true, ..Call::default() }
}

fn lambda_call(g: &mut Gen, _account: &str, _region: &str) -> Call {
    let name = g.rng.pick(&["orders-handler", "thumbnailer", "cur-report-export", "slack-notifier"]);
    Call { request: json!({ "functionName": name }), response: Value::Null, read_only: true, ..Call::default() }
}

fn secret_call(g: &mut Gen, account: &str, region: &str) -> Call {
    let name = g.rng.pick(&["prod/orders/db", "prod/api/stripe", "ci/github-token"]);
    Call {
        request: json!({ "secretId": format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}-{}", g.rng.base64(6)) }),
        response: Value::Null,
        read_only: true,
        ..Call::default()
    }
}

fn ssm_call(g: &mut Gen, _account: &str, _region: &str) -> Call {
    let app = g.rng.pick(&["orders", "billing", "search"]);
    Call {
        request: json!({ "names": [format!("/{app}/prod/db-host"), format!("/{app}/prod/feature-flags")], "withDecryption": true }),
        response: Value::Null,
        read_only: true,
        ..Call::default()
    }
}

fn ec2_run(g: &mut Gen, account: &str, region: &str) -> Call {
    let id = instance_id(&mut g.rng);
    let image = format!("ami-0{}", g.rng.hex(16));
    let kind = g.rng.pick(INSTANCE_TYPES);
    let subnet = format!("subnet-0{}", g.rng.hex(16));
    let mut item = json!({
        "instanceId": id, "imageId": image, "instanceType": kind,
        "currentState": { "code": 0, "name": "pending" },
        "privateIpAddress": format!("10.0.{}.{}", g.rng.below(256), g.rng.below(256)),
        "subnetId": subnet,
    });
    if g.has(Detail::Full) {
        item["placement"] = json!({ "availabilityZone": format!("{region}a"), "tenancy": "default" });
    }
    Call {
        request: json!({
            "instancesSet": { "items": [{ "imageId": image, "minCount": 1, "maxCount": 1 }] },
            "instanceType": kind,
            "subnetId": subnet,
            "userData": "<sensitiveDataRemoved>",
            "iamInstanceProfile": { "name": "app-instance-profile" },
        }),
        response: json!({
            "requestId": g.rng.uuid(),
            "reservationId": format!("r-0{}", g.rng.hex(16)),
            "ownerId": account,
            "instancesSet": { "items": [item] },
        }),
        ..Call::default()
    }
}

fn ec2_terminate(g: &mut Gen, _account: &str, _region: &str) -> Call {
    let id = instance_id(&mut g.rng);
    Call {
        request: json!({ "instancesSet": { "items": [{ "instanceId": id }] } }),
        response: json!({
            "requestId": g.rng.uuid(),
            "instancesSet": { "items": [{
                "instanceId": id,
                "currentState": { "code": 32, "name": "shutting-down" },
                "previousState": { "code": 16, "name": "running" },
            }] },
        }),
        ..Call::default()
    }
}

fn ec2_snapshot(g: &mut Gen, account: &str, _region: &str) -> Call {
    let volume = format!("vol-0{}", g.rng.hex(16));
    Call {
        request: json!({ "volumeId": volume, "description": "nightly copy" }),
        response: json!({
            "requestId": g.rng.uuid(),
            "snapshotId": format!("snap-0{}", g.rng.hex(16)),
            "volumeId": volume, "status": "pending", "ownerId": account, "volumeSize": 100,
            "startTime": g.time * 1000, "encrypted": true,
        }),
        ..Call::default()
    }
}

fn ec2_share(g: &mut Gen, _account: &str, _region: &str) -> Call {
    let to = if g.rng.chance(30) { json!({ "group": "all" }) } else { json!({ "userId": g.rng.digits(12) }) };
    Call {
        request: json!({
            "snapshotId": format!("snap-0{}", g.rng.hex(16)),
            "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": { "add": { "items": [to] } },
        }),
        response: json!({ "requestId": g.rng.uuid(), "_return": true }),
        ..Call::default()
    }
}

fn ec2_image(g: &mut Gen, _account: &str, _region: &str) -> Call {
    let id = instance_id(&mut g.rng);
    Call {
        request: json!({ "instanceId": id, "name": format!("golden-{}", g.rng.hex(6)), "noReboot": g.rng.chance(50) }),
        response: json!({ "requestId": g.rng.uuid(), "imageId": format!("ami-0{}", g.rng.hex(16)) }),
        ..Call::default()
    }
}

/// A raw CloudTrail record.
fn aws_record(g: &mut Gen) -> Value {
    let op = if g.matching {
        weighted(&mut g.rng, AWS_MATCHING, |o| o.weight)
    } else {
        weighted(&mut g.rng, AWS_EVERYDAY, |o| o.weight)
    };
    let account = *g.rng.pick(AWS_ACCOUNTS);
    let region = *g.rng.pick(AWS_REGIONS);
    let region = if op.source == "iam.amazonaws.com" { "us-east-1" } else { region };
    let who = aws_who(g, matches!(op.source, "kms.amazonaws.com" | "sts.amazonaws.com"));
    let identity = user_identity(g, &who, account);
    let call = (op.build)(g, account, region);
    let (source_ip, agent) = match who {
        AwsWho::Service { service } => (service.to_string(), service.to_string()),
        _ => (g.rng.ipv4(), g.rng.pick(AWS_AGENTS).to_string()),
    };
    let request_id = g.rng.uuid();
    let mut r = Map::new();
    r.insert("eventVersion".into(), json!(if call.data_event { "1.10" } else { "1.09" }));
    r.insert("userIdentity".into(), identity);
    r.insert("eventTime".into(), json!(format!("{}Z", iso(g.time))));
    r.insert("eventSource".into(), json!(op.source));
    r.insert("eventName".into(), json!(op.name));
    r.insert("awsRegion".into(), json!(region));
    r.insert("sourceIPAddress".into(), json!(source_ip));
    r.insert("userAgent".into(), json!(agent));
    r.insert("requestParameters".into(), call.request);
    r.insert("responseElements".into(), call.response);
    if let Some(extra) = call.additional {
        r.insert("additionalEventData".into(), extra);
    }
    r.insert("requestID".into(), json!(request_id));
    r.insert("eventID".into(), json!(g.rng.uuid()));
    r.insert("readOnly".into(), json!(call.read_only));
    if let Some(resources) = call.resources {
        r.insert("resources".into(), resources);
    }
    r.insert("eventType".into(), json!("AwsApiCall"));
    r.insert("managementEvent".into(), json!(!call.data_event));
    r.insert("recipientAccountId".into(), json!(account));
    r.insert("eventCategory".into(), json!(if call.data_event { "Data" } else { "Management" }));
    if g.has(Detail::Lean) && !matches!(who, AwsWho::Service { .. }) {
        r.insert(
            "tlsDetails".into(),
            json!({
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": format!("{}.{region}.amazonaws.com", op.source.trim_end_matches(".amazonaws.com")),
            }),
        );
    }
    if g.has(Detail::Padded) {
        r.insert("sessionCredentialFromConsole".into(), json!("false"));
        r.insert("vpcEndpointId".into(), json!(format!("vpce-0{}", g.rng.hex(16))));
        r.insert("vpcEndpointAccountId".into(), json!(account));
    }
    Value::Object(r)
}

/// Java `Map.toString()` of a JSON value, as Elastic's pipeline writes
/// `aws.cloudtrail.request_parameters`.
fn java_map(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={}", java_map(v))).collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(java_map).collect::<Vec<_>>().join(", ")),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Snake case of a camelCase key (`sessionIssuer` → `session_issuer`).
fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn snake_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (snake(k), snake_keys(v))).collect()),
        other => other.clone(),
    }
}

/// Where a caller's address is, as GeoIP enrichment writes it.
#[derive(Debug)]
struct Place {
    city: &'static str,
    continent: &'static str,
    country: (&'static str, &'static str),
    at: (f64, f64),
    asn: (u64, &'static str),
}

const PLACES: &[Place] = &[
    Place {
        city: "Ashburn",
        continent: "North America",
        country: ("US", "United States"),
        at: (39.0469, -77.4903),
        asn: (14618, "AMAZON-AES"),
    },
    Place {
        city: "Frankfurt am Main",
        continent: "Europe",
        country: ("DE", "Germany"),
        at: (50.1188, 8.6843),
        asn: (16509, "AMAZON-02"),
    },
    Place {
        city: "Dublin",
        continent: "Europe",
        country: ("IE", "Ireland"),
        at: (53.3382, -6.2591),
        asn: (16509, "AMAZON-02"),
    },
    Place {
        city: "Sydney",
        continent: "Oceania",
        country: ("AU", "Australia"),
        at: (-33.8715, 151.2006),
        asn: (7545, "TPG Telecom Limited"),
    },
    Place {
        city: "Seattle",
        continent: "North America",
        country: ("US", "United States"),
        at: (47.6034, -122.3414),
        asn: (20473, "AS-CHOOPA"),
    },
];

/// `source.geo` and `source.as` of a caller.
fn geo(g: &mut Gen) -> (Value, Value) {
    let p = g.rng.pick(PLACES);
    (
        json!({
            "city_name": p.city, "continent_name": p.continent, "country_iso_code": p.country.0,
            "country_name": p.country.1, "location": { "lat": p.at.0, "lon": p.at.1 },
        }),
        json!({ "number": p.asn.0, "organization": { "name": p.asn.1 } }),
    )
}

/// An Elastic ECS `aws.cloudtrail` document of a raw record.
fn aws_ecs(g: &mut Gen) -> Value {
    let (full, lean) = (g.has(Detail::Full), g.has(Detail::Lean));
    let detail = g.detail;
    g.detail = detail.inner();
    let raw = aws_record(g);
    g.detail = detail;
    let get = |k: &str| raw.get(k).cloned().unwrap_or(Value::Null);
    let ui = get("userIdentity");
    let uis = |k: &str| ui.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let issuer = ui.pointer("/sessionContext/sessionIssuer");
    let user_name = issuer
        .and_then(|i| i.get("userName"))
        .or_else(|| ui.get("userName"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let source = get("eventSource");
    let source = source.as_str().unwrap_or("");
    let ip = get("sourceIPAddress");
    let ip = ip.as_str().unwrap_or("");
    let is_ip = ip.chars().all(|c| c.is_ascii_digit() || c == '.');

    let mut trail = json!({
        "event_version": get("eventVersion"),
        "event_type": get("eventType"),
        "event_category": get("eventCategory"),
        "read_only": get("readOnly"),
        "request_id": get("requestID"),
        "recipient_account_id": get("recipientAccountId"),
    });
    trail["user_identity"] = if lean {
        snake_keys(&ui)
    } else {
        let keep = ["type", "arn", "accessKeyId", "invokedBy"];
        snake_keys(&Value::Object(
            ui.as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ))
    };
    let mut flattened = Map::new();
    for (field, key) in [
        ("requestParameters", "request_parameters"),
        ("responseElements", "response_elements"),
        ("additionalEventData", "additional_eventdata"),
    ] {
        let v = get(field);
        if !v.is_null() && (lean || field != "additionalEventData") {
            flattened.insert(key.into(), v.clone());
            if field != "additionalEventData" && full {
                trail[key] = json!(java_map(&v));
            }
        }
    }
    trail["flattened"] = Value::Object(flattened);
    if let Some(resources) = raw.get("resources").and_then(Value::as_array).filter(|_| lean) {
        trail["resources"] = json!({
            "arn": resources.iter().filter_map(|r| r.get("ARN").cloned()).collect::<Vec<_>>(),
            "type": resources.iter().filter_map(|r| r.get("type").cloned()).collect::<Vec<_>>(),
        });
    }
    let mut doc = json!({
        "@timestamp": format!("{}.000Z", iso(g.time)),
        "ecs": { "version": "8.11.0" },
        "data_stream": { "namespace": "default", "type": "logs", "dataset": "aws.cloudtrail" },
        "event": {
            "action": get("eventName"),
            "provider": source,
            "outcome": "success",
            "kind": "event",
            "type": ["info"],
            "id": get("eventID"),
            "dataset": "aws.cloudtrail",
            "created": format!("{}.{}Z", iso(g.time + 240), g.rng.digits(9)),
            "ingested": format!("{}Z", iso(g.time + 300)),
        },
        "cloud": {
            "provider": "aws",
            "region": get("awsRegion"),
            "account": { "id": get("recipientAccountId") },
            "service": { "name": source.trim_end_matches(".amazonaws.com") },
        },
        "aws": { "cloudtrail": trail },
    });
    let mut source_doc = json!({ "address": ip });
    if is_ip {
        source_doc["ip"] = json!(ip);
        if full {
            let (geo, asn) = geo(g);
            source_doc["geo"] = geo;
            source_doc["as"] = asn;
        }
    }
    doc["source"] = source_doc;
    if !user_name.is_empty() {
        doc["user"] = json!({ "name": user_name, "id": uis("principalId") });
        doc["related"] = json!({ "user": [uis("principalId"), user_name] });
    }
    let agent = get("userAgent");
    let agent = agent.as_str().unwrap_or("");
    let name = agent.split('/').next().unwrap_or("");
    doc["user_agent"] = if lean {
        json!({ "original": agent, "name": name, "device": { "name": "Other" } })
    } else {
        json!({ "original": agent })
    };
    // `event.original` is only kept with the `preserve_original_event` tag
    // (off by default); the leanest documents go without it.
    if g.has(Detail::Bare) {
        doc["event"]["original"] = json!(raw.to_string());
        doc["tags"] = json!(["preserve_original_event", "forwarded", "aws-cloudtrail"]);
    } else {
        doc["tags"] = json!(["forwarded", "aws-cloudtrail"]);
    }
    if full {
        doc["input"] = json!({ "type": "aws-s3" });
        doc["log"] = json!({ "file": { "path": format!("https://{}.s3.amazonaws.com/AWSLogs/{}/CloudTrail/", BUCKETS[3], get("recipientAccountId").as_str().unwrap_or("")) } });
    }
    doc
}

// ---------------------------------------------------------------------------
// Azure: who calls, and what.

const SUBSCRIPTIONS: &[&str] = &[
    "3f2b8c1d-5e6a-4b7c-9d8e-0f1a2b3c4d5e",
    "a9c8e7f6-1b2c-4d3e-8f9a-0b1c2d3e4f5a",
    "5d4c3b2a-9e8f-4a7b-b6c5-d4e3f2a1b0c9",
];
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const RESOURCE_GROUPS: &[&str] =
    &["rg-prod-weu", "rg-data-platform", "rg-shared-network", "rg-aks-nodes", "rg-ci-runners"];
const LOCATIONS: &[&str] = &["westeurope", "northeurope", "eastus", "eastus2", "uksouth"];
/// `(given name, surname)`; the UPN is built from them.
const AZURE_USERS: &[(&str, &str)] = &[
    ("Ines", "Duarte"),
    ("Kenji", "Watanabe"),
    ("Amara", "Obi"),
    ("Lukas", "Schmidt"),
    ("Sofia", "Rossi"),
    ("Noah", "Levi"),
];
/// `(display name, app id)` of service principals and managed identities.
const AZURE_APPS: &[(&str, &str)] = &[
    ("github-actions-deploy", "0b7f3c2a-9d1e-4f6b-8a5c-3e2d1f0a9b8c"),
    ("aks-agentpool-identity", "6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c2b"),
    ("Microsoft.Insights diagnostic settings", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
    ("terraform-platform", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"),
];
const ROLES_AZ: &[&str] =
    &["Owner", "Contributor", "Virtual Machine Contributor", "Storage Account Contributor", "Reader"];
const VM_NAMES: &[&str] = &["vm-api-01", "vm-api-02", "vm-batch-07", "jumpbox-weu", "vm-sql-01"];
const EXTENSIONS: &[&str] =
    &["CustomScriptExtension", "VMAccessAgent", "AzureMonitorWindowsAgent", "MDE.Windows", "RunCommandLinux"];

/// An Azure caller.
#[derive(Debug)]
enum AzWho {
    User { given: &'static str, surname: &'static str },
    App { app_id: &'static str },
}

fn az_who(g: &mut Gen) -> AzWho {
    if g.rng.chance(if g.matching { 75 } else { 45 }) {
        let (given, surname) = *g.rng.pick(AZURE_USERS);
        AzWho::User { given, surname }
    } else {
        let (_name, app_id) = *g.rng.pick(AZURE_APPS);
        AzWho::App { app_id }
    }
}

/// The resource an operation acts on: `{kind}` is replaced by a name.
#[derive(Debug, Clone, Copy)]
enum Res {
    Vm,
    Extension,
    Snapshot,
    Disk,
    Storage,
    Container,
    Nsg,
    NsgRule,
    PublicIp,
    Vault,
    Site,
    Diagnostic,
}

impl Res {
    fn path(self, rng: &mut Rng) -> String {
        let vm = rng.pick(VM_NAMES);
        let sa = format!("st{}prod", rng.hex(6));
        match self {
            Res::Vm => format!("Microsoft.Compute/virtualMachines/{vm}"),
            Res::Extension => format!("Microsoft.Compute/virtualMachines/{vm}/extensions/{}", rng.pick(EXTENSIONS)),
            Res::Snapshot => format!("Microsoft.Compute/snapshots/{vm}-osdisk-snap-{}", rng.digits(8)),
            Res::Disk => format!("Microsoft.Compute/disks/{vm}_OsDisk_1_{}", rng.hex(32)),
            Res::Storage => format!("Microsoft.Storage/storageAccounts/{sa}"),
            Res::Container => format!("Microsoft.Storage/storageAccounts/{sa}/blobServices/default/containers/exports"),
            Res::Nsg => format!("Microsoft.Network/networkSecurityGroups/{vm}-nsg"),
            Res::NsgRule => {
                format!("Microsoft.Network/networkSecurityGroups/{vm}-nsg/securityRules/allow-https-{}", rng.digits(3))
            }
            Res::PublicIp => format!("Microsoft.Network/publicIPAddresses/{vm}-pip"),
            Res::Vault => format!("Microsoft.KeyVault/vaults/kv-prod-{}", rng.hex(4)),
            Res::Site => format!("Microsoft.Web/sites/app-orders-{}", rng.hex(4)),
            Res::Diagnostic => format!("Microsoft.Insights/diagnosticSettings/to-eventhub-{}", rng.hex(4)),
        }
    }
}

/// One Azure operation; `body` gives the `requestbody` of writes.
struct AzOp {
    name: &'static str,
    res: Res,
    weight: u64,
    body: Option<fn(&mut Gen) -> Value>,
}

const AZURE_EVERYDAY: &[AzOp] = &[
    AzOp { name: "Microsoft.Storage/storageAccounts/listKeys/action", res: Res::Storage, weight: 200, body: None },
    AzOp { name: "Microsoft.Storage/storageAccounts/write", res: Res::Storage, weight: 60, body: Some(storage_body) },
    AzOp {
        name: "Microsoft.Storage/storageAccounts/blobServices/containers/write",
        res: Res::Container,
        weight: 40,
        body: Some(container_body),
    },
    AzOp { name: "Microsoft.Network/networkSecurityGroups/write", res: Res::Nsg, weight: 60, body: None },
    AzOp {
        name: "Microsoft.Network/networkSecurityGroups/securityRules/write",
        res: Res::NsgRule,
        weight: 80,
        body: Some(rule_body),
    },
    AzOp { name: "Microsoft.Network/publicIPAddresses/write", res: Res::PublicIp, weight: 40, body: Some(pip_body) },
    AzOp { name: "Microsoft.KeyVault/vaults/write", res: Res::Vault, weight: 50, body: None },
    AzOp { name: "Microsoft.KeyVault/vaults/accessPolicies/write", res: Res::Vault, weight: 40, body: None },
    AzOp { name: "Microsoft.Web/sites/restart/action", res: Res::Site, weight: 50, body: None },
    AzOp { name: "Microsoft.Web/sites/config/list/action", res: Res::Site, weight: 80, body: None },
    AzOp { name: "Microsoft.Insights/diagnosticSettings/write", res: Res::Diagnostic, weight: 40, body: None },
    AzOp { name: "Microsoft.Compute/virtualMachines/read", res: Res::Vm, weight: 120, body: None },
    AzOp { name: "Microsoft.Compute/virtualMachines/instanceView/read", res: Res::Vm, weight: 40, body: None },
];

const AZURE_MATCHING: &[AzOp] = &[
    AzOp { name: "Microsoft.Compute/virtualMachines/delete", res: Res::Vm, weight: 30, body: None },
    AzOp { name: "Microsoft.Compute/snapshots/write", res: Res::Snapshot, weight: 30, body: Some(snapshot_body) },
    AzOp { name: "Microsoft.Compute/disks/beginGetAccess/action", res: Res::Disk, weight: 20, body: Some(access_body) },
    AzOp {
        name: "Microsoft.Compute/virtualMachines/extensions/write",
        res: Res::Extension,
        weight: 20,
        body: Some(extension_body),
    },
];

fn storage_body(g: &mut Gen) -> Value {
    json!({ "sku": { "name": "Standard_GRS" }, "kind": "StorageV2", "location": g.rng.pick(LOCATIONS),
            "properties": { "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false, "supportsHttpsTrafficOnly": true } })
}

fn container_body(_g: &mut Gen) -> Value {
    json!({ "properties": { "publicAccess": "None", "metadata": {} } })
}

fn rule_body(g: &mut Gen) -> Value {
    json!({ "properties": { "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "443",
            "sourceAddressPrefix": format!("{}/32", g.rng.ipv4()), "destinationAddressPrefix": "*",
            "access": "Allow", "priority": 100 + g.rng.below(300), "direction": "Inbound" } })
}

fn pip_body(g: &mut Gen) -> Value {
    json!({ "location": g.rng.pick(LOCATIONS), "sku": { "name": "Standard" }, "properties": { "publicIPAllocationMethod": "Static" } })
}

fn snapshot_body(g: &mut Gen) -> Value {
    let sub = g.rng.pick(SUBSCRIPTIONS);
    let vm = g.rng.pick(VM_NAMES);
    json!({ "location": g.rng.pick(LOCATIONS), "properties": { "creationData": { "createOption": "Copy",
            "sourceResourceId": format!("/subscriptions/{sub}/resourceGroups/rg-prod-weu/providers/Microsoft.Compute/disks/{vm}_OsDisk_1") },
            "incremental": true, "networkAccessPolicy": "AllowAll" } })
}

fn access_body(g: &mut Gen) -> Value {
    json!({ "access": "Read", "durationInSeconds": *g.rng.pick(&[3600u64, 86_400, 604_800]) })
}

fn extension_body(_g: &mut Gen) -> Value {
    json!({ "properties": { "publisher": "Microsoft.Compute", "type": "CustomScriptExtension", "typeHandlerVersion": "1.10",
            "autoUpgradeMinorVersion": true, "settings": { "fileUris": ["https://raw.example.net/setup.ps1"],
            "commandToExecute": "powershell -ExecutionPolicy Unrestricted -File setup.ps1" } } })
}

const CLAIM_NS: &str = "http://schemas.microsoft.com/identity/claims/";
const CLAIM_XML: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/";

fn claims(g: &mut Gen, who: &AzWho, oid: &str, ip: &str) -> Value {
    let iat = g.time - 300 - g.rng.below(3000);
    let (bare, full) = (g.has(Detail::Bare), g.has(Detail::Full));
    let mut c = Map::new();
    let mut put = |k: String, v: String| {
        c.insert(k, Value::String(v));
    };
    put("aud".into(), "https://management.core.windows.net/".into());
    put("iss".into(), format!("https://sts.windows.net/{TENANT}/"));
    put("iat".into(), iat.to_string());
    put("nbf".into(), iat.to_string());
    put("exp".into(), (iat + 4500).to_string());
    match who {
        AzWho::User { given, surname } => {
            let upn = format!("{}.{}@contoso.com", given.to_ascii_lowercase(), surname.to_ascii_lowercase());
            if bare {
                put("http://schemas.microsoft.com/claims/authnclassreference".into(), "1".into());
                put("aio".into(), g.rng.base64(56));
                put("http://schemas.microsoft.com/claims/authnmethodsreferences".into(), "pwd,mfa".into());
            }
            put("appid".into(), "c44b4083-3bb0-49c1-b47d-974e53cbdf3c".into());
            put("appidacr".into(), "0".into());
            put(format!("{CLAIM_XML}surname"), surname.to_string());
            put(format!("{CLAIM_XML}givenname"), given.to_string());
            put(format!("{CLAIM_XML}name"), upn.clone());
            if bare {
                put("name".into(), format!("{given} {surname}"));
                put("ipaddr".into(), ip.into());
            }
            put(format!("{CLAIM_NS}objectidentifier"), oid.into());
            if bare {
                put("puid".into(), g.rng.hex(16).to_ascii_uppercase());
                put(format!("{CLAIM_XML}nameidentifier"), g.rng.base64(43));
                put(format!("{CLAIM_NS}scope"), "user_impersonation".into());
            }
            put(format!("{CLAIM_NS}tenantid"), TENANT.into());
            put(format!("{CLAIM_XML}upn"), upn);
        }
        AzWho::App { app_id, .. } => {
            put("appid".into(), app_id.to_string());
            put("appidacr".into(), "2".into());
            put(format!("{CLAIM_NS}identityprovider"), format!("https://sts.windows.net/{TENANT}/"));
            put("idtyp".into(), "app".into());
            put(format!("{CLAIM_NS}objectidentifier"), oid.into());
            put(format!("{CLAIM_XML}nameidentifier"), oid.into());
            put(format!("{CLAIM_NS}tenantid"), TENANT.into());
        }
    }
    if bare {
        put("uti".into(), g.rng.base64(22));
    }
    put("ver".into(), "1.0".into());
    if full {
        put("xms_tcdt".into(), "1289241547".into());
        put("rh".into(), format!("0.{}.", g.rng.base64(60)));
    }
    Value::Object(c)
}

/// A raw Azure Activity record, diagnostic-settings shape.
fn azure_record(g: &mut Gen) -> Value {
    let op = if g.matching {
        weighted(&mut g.rng, AZURE_MATCHING, |o| o.weight)
    } else {
        weighted(&mut g.rng, AZURE_EVERYDAY, |o| o.weight)
    };
    let sub = *g.rng.pick(SUBSCRIPTIONS);
    let rg = *g.rng.pick(RESOURCE_GROUPS);
    let path = op.res.path(&mut g.rng);
    let resource = format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{path}");
    let who = az_who(g);
    let (oid, kind) = match &who {
        AzWho::User { given, .. } => (name_uuid(given), "User"),
        AzWho::App { app_id, .. } => (name_uuid(app_id), "ServicePrincipal"),
    };
    let ip = g.rng.ipv4();
    // Diagnostic settings export upper-case names, the REST API mixed case.
    let upper = g.rng.chance(85);
    let (operation, resource_id) = if upper {
        (op.name.to_ascii_uppercase(), resource.to_ascii_uppercase())
    } else {
        (op.name.to_string(), resource.clone())
    };
    let (result, status) = if g.matching {
        *g.rng.pick(&[("Success", "OK"), ("Success", "Created"), ("Accept", "Accepted")])
    } else {
        *g.rng.pick(&[("Start", "Started"), ("Success", "OK"), ("Success", "OK"), ("Failure", "Forbidden")])
    };
    let role = *g.rng.pick(ROLES_AZ);
    let correlation = g.rng.uuid();
    let mut properties = json!({
        "statusCode": status,
        "serviceRequestId": g.rng.uuid(),
        "eventCategory": "Administrative",
        "entity": resource,
        "message": op.name,
    });
    if g.has(Detail::Bare) {
        properties["hierarchy"] = json!(format!("{TENANT}/mg-platform/{sub}"));
    }
    if let Some(body) = op.body.filter(|_| g.has(Detail::Lean) && result != "Start") {
        properties["requestbody"] = json!(body(g).to_string());
    }
    let mut identity = json!({
        "authorization": {
            "scope": resource,
            "action": op.name,
            "evidence": {
                "role": role,
                "roleAssignmentScope": format!("/subscriptions/{sub}"),
                "roleAssignmentId": g.rng.hex(32),
                "roleDefinitionId": g.rng.hex(32),
                "principalId": oid.replace('-', ""),
                "principalType": kind,
            },
        },
        "claims": claims(g, &who, &oid, &ip),
    });
    if g.has(Detail::Padded) {
        identity["authorization"]["evidence"]["roleAssignmentCreatedOn"] =
            json!(format!("{}.0000000Z", iso(g.time - 86_400 * 30)));
    }
    json!({
        "RoleLocation": g.rng.pick(LOCATIONS),
        "time": format!("{}.{}Z", iso(g.time), g.rng.digits(7)),
        "resourceId": resource_id,
        "operationName": operation,
        "category": "Administrative",
        "resultType": result,
        "resultSignature": status,
        "durationMs": g.rng.below(4000).to_string(),
        "callerIpAddress": ip,
        "correlationId": correlation,
        "identity": identity,
        "level": if result == "Failure" { "Error" } else { "Information" },
        "location": "global",
        "properties": properties,
        "tenantId": TENANT,
    })
}

/// A stable UUID for a name.
fn name_uuid(name: &str) -> String {
    let mut rng = Rng::new(name.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
    rng.uuid()
}

/// Claim keys as the Elastic pipeline stores them: dots become `_`.
fn ecs_claims(claims: &Value) -> Value {
    match claims {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.replace('.', "_"), v.clone())).collect()),
        other => other.clone(),
    }
}

/// An Elastic ECS `azure.activitylogs` document of a raw record.
fn azure_ecs(g: &mut Gen) -> Value {
    let full = g.has(Detail::Full);
    let detail = g.detail;
    g.detail = detail.inner();
    let raw = azure_record(g);
    g.detail = detail;
    let get = |p: &str| raw.pointer(p).cloned().unwrap_or(Value::Null);
    let s = |p: &str| raw.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    let resource_id = s("/resourceId");
    let segments: Vec<&str> = resource_id.split('/').collect();
    let provider = segments.get(6..8).map(|p| p.join("/")).unwrap_or_default();
    let name = segments.get(8..).map(|p| p.join("/")).unwrap_or_default();
    let result = s("/resultType");
    let upn = s(&format!("/identity/claims/{CLAIM_XML}name"));
    let mut identity = json!({
        "claims": ecs_claims(&get("/identity/claims")),
        "authorization": {
            "action": get("/identity/authorization/action"),
            "scope": get("/identity/authorization/scope"),
            "evidence": snake_keys(&get("/identity/authorization/evidence")),
        },
    });
    let mut doc = json!({
        "@timestamp": s("/time").get(..23).map(|t| format!("{t}Z")).unwrap_or_default(),
        "ecs": { "version": "8.11.0" },
        "data_stream": { "namespace": "default", "type": "logs", "dataset": "azure.activitylogs" },
        "cloud": { "provider": "azure" },
        "log": { "level": get("/level") },
        "event": {
            "action": get("/operationName"),
            "kind": "event",
            "type": ["change"],
            "dataset": "azure.activitylogs",
            "duration": s("/durationMs").parse::<u64>().unwrap_or(0) * 1_000_000,
            "ingested": format!("{}.{}Z", iso(g.time + 90), g.rng.digits(9)),
        },
        "azure": {
            "subscription_id": segments.get(2).copied().unwrap_or(""),
            "correlation_id": get("/correlationId"),
            "resource": { "id": resource_id, "group": segments.get(4).copied().unwrap_or(""), "provider": provider, "name": name },
            "activitylogs": {
                "operation_name": get("/operationName"),
                "category": "Administrative",
                "event_category": "Administrative",
                "result_type": result,
                "result_signature": get("/resultSignature"),
                "tenant_id": TENANT,
                "properties": {
                    "status_code": get("/properties/statusCode"),
                    "service_request_id": get("/properties/serviceRequestId"),
                    "entity": get("/properties/entity"),
                    "hierarchy": get("/properties/hierarchy"),
                },
            },
        },
        "source": { "ip": get("/callerIpAddress") },
        "client": { "ip": get("/callerIpAddress") },
        "related": { "ip": [get("/callerIpAddress")] },
        "tags": ["forwarded", "azure-activitylogs"],
    });
    if full {
        // `event.original` is only kept with the `preserve_original_event` tag.
        doc["event"]["original"] = json!(raw.to_string());
        doc["tags"] = json!(["preserve_original_event", "forwarded", "azure-activitylogs"]);
    }
    if let Some(outcome) = match result.as_str() {
        "Success" => Some("success"),
        "Failure" => Some("failure"),
        _ => None,
    } {
        doc["event"]["outcome"] = json!(outcome);
    }
    if let Some((local, domain)) = upn.split_once('@') {
        let given = s(&format!("/identity/claims/{CLAIM_XML}givenname"));
        let surname = s(&format!("/identity/claims/{CLAIM_XML}surname"));
        identity["claims_initiated_by_user"] = json!({
            "name": upn, "givenname": given, "surname": surname,
            "fullname": format!("{given} {surname}"), "schema": CLAIM_XML.trim_end_matches('/'),
        });
        doc["user"] = json!({ "name": local, "domain": domain, "email": upn });
        let display = s("/identity/claims/name");
        if !display.is_empty() {
            doc["user"]["full_name"] = json!(display);
        }
        doc["related"]["user"] = json!([local]);
    }
    doc["azure"]["activitylogs"]["identity"] = identity;
    if full {
        let (geo, asn) = geo(g);
        doc["source"]["geo"] = geo.clone();
        doc["source"]["as"] = asn;
        doc["geo"] = geo;
        doc["input"] = json!({ "type": "azure-eventhub" });
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// One mix shared by the tests (debug builds generate slowly).
    fn sample() -> &'static [String] {
        static SAMPLE: OnceLock<Vec<String>> = OnceLock::new();
        SAMPLE.get_or_init(|| mix(10_000, 1578))
    }

    /// The operation an event names, whatever its shape.
    fn operation(event: &str) -> String {
        let v: Value = serde_json::from_str(event).unwrap_or(Value::Null);
        ["/eventName", "/operationName", "/event/action"]
            .iter()
            .find_map(|p| v.pointer(p).and_then(Value::as_str))
            .unwrap_or("")
            .to_string()
    }

    fn is_matching(op: &str) -> bool {
        MATCHING_OPERATIONS.iter().any(|m| m.eq_ignore_ascii_case(op))
    }

    #[test]
    fn deterministic_for_a_seed() {
        assert_eq!(mix(300, 7), mix(300, 7));
        assert_ne!(mix(300, 7), mix(300, 8));
        // Event i does not depend on how many events come before or after.
        assert_eq!(mix(300, 7)[..100], mix(100, 7)[..]);
    }

    #[test]
    fn sizes_within_1_to_3_kb() {
        let events = sample();
        for (i, e) in events.iter().enumerate() {
            assert!((MIN_LEN..=MAX_LEN).contains(&e.len()), "event {i} is {} bytes: {e}", e.len());
        }
        let (total, min, max) = stats(events);
        assert!(min >= MIN_LEN && max <= MAX_LEN && total > events.len() * MIN_LEN, "{total} {min} {max}");
    }

    #[test]
    fn every_event_is_a_json_object_without_escapes_that_hide_text() {
        for e in sample() {
            let v: Value = serde_json::from_str(e).unwrap_or(Value::Null);
            assert!(v.is_object(), "{e}");
            assert!(!e.contains("\\u") && !e.contains("\\/"), "{e}");
        }
    }

    #[test]
    fn about_one_percent_match() {
        let events = sample();
        let matching = events.iter().filter(|e| is_matching(&operation(e))).count();
        assert!((50..=200).contains(&matching), "{matching} of 10000");
    }

    #[test]
    fn every_shape_and_near_misses_occur() {
        let events = sample();
        let has = |needle: &str| events.iter().any(|e| e.contains(needle));
        assert!(has(r#""eventVersion""#) && has(r#""dataset":"aws.cloudtrail""#));
        assert!(has(r#""operationName""#) && has(r#""dataset":"azure.activitylogs""#));
        assert!(has(r#""eventName":"DescribeSnapshots""#));
        assert!(has("VIRTUALMACHINES/READ"));
        assert!(has(r#""aws.cloudtrail""#) && has(r#""original":"{"#));
    }

    #[test]
    fn matches_spread_over_operations_and_principals() {
        let events = sample();
        let mut ops = std::collections::BTreeSet::new();
        let mut callers = std::collections::BTreeSet::new();
        for e in events {
            let op = operation(e);
            if is_matching(&op) {
                ops.insert(op.to_ascii_lowercase());
                let v: Value = serde_json::from_str(e).unwrap_or(Value::Null);
                let who = [
                    "/userIdentity/arn",
                    "/aws/cloudtrail/user_identity/arn",
                    "/identity/authorization/evidence/principalId",
                    "/azure/activitylogs/identity/authorization/evidence/principal_id",
                ]
                .iter()
                .find_map(|p| v.pointer(p).and_then(Value::as_str))
                .unwrap_or("")
                .to_string();
                callers.insert(who);
            }
        }
        assert_eq!(ops.len(), MATCHING_OPERATIONS.len(), "{ops:?}");
        assert!(callers.len() >= 10, "{callers:?}");
    }

    #[test]
    fn java_map_and_snake_case() {
        assert_eq!(java_map(&json!({"a": 1, "b": {"c": [{"d": "x"}]}})), "{a=1, b={c=[{d=x}]}}");
        assert_eq!(snake("sessionIssuer"), "session_issuer");
        assert_eq!(iso(BASE_TIME), "2025-03-03T08:00:00");
        assert_eq!(iso(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(aws_date(BASE_TIME + 3600 * 5), "Mar 3, 2025, 1:00:00 PM");
    }
}
