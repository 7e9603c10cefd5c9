#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test: a failure is a panic with the event, what was expected and what came out"
)]
//! Parity: the exported VRL program, compiled and run by Vector's own VRL
//! engine (the `vrl` crate), tags every event of `tests/corpus/` and
//! `tests/scenarios/` exactly as the native engine's tag mode does, minus the
//! fields that need per-principal scoring, field for field; events that are
//! not matches come out unchanged.

use std::collections::BTreeMap;

use modwatch_engine::{Engine, Output};
use serde_json::{Map, Value as Json};
use vrl::compiler::Program;

use crate::vrl_host::{as_vrl, compile, corpus, run};

/// The engine's tag output for one event, with the scoring fields removed.
fn expected(engine: &mut Engine, event: &Json) -> Json {
    let bytes = serde_json::to_vec(event).unwrap();
    let tagged = engine.tag(&bytes);
    let Output::Replaced(out) = tagged.output else { return event.clone() };
    let mut out: Json = serde_json::from_slice(&out).unwrap();
    let strip = |tagged: &mut Json, original: &Json| {
        if let Some(Json::Object(m)) = tagged.get_mut("modwatch") {
            for k in ["scored_points", "principal_score", "reasons", "alert"] {
                if original.pointer(&format!("/modwatch/{k}")).is_none() {
                    m.remove(k);
                }
            }
        }
        if original.pointer("/event/kind").is_none()
            && let Some(Json::Object(m)) = tagged.get_mut("event")
        {
            m.remove("kind");
        }
    };
    for key in ["Records", "records"] {
        if let (Some(Json::Array(items)), Some(Json::Array(orig))) = (out.get_mut(key), event.get(key)) {
            for (item, o) in items.iter_mut().zip(orig) {
                strip(item, o);
            }
            return out;
        }
    }
    strip(&mut out, event);
    out
}

/// Leaf fields by JSON pointer.
fn leaves(v: &Json, path: String, out: &mut BTreeMap<String, Json>) {
    match v {
        Json::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                leaves(x, format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Json::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{path}/{i}"), out);
            }
        }
        other => {
            out.insert(path, other.clone());
        }
    }
}

#[derive(Default)]
struct Tally {
    events: usize,
    tagged: usize,
    fields: usize,
    failures: Vec<String>,
}

impl Tally {
    /// Compares one event: every leaf of the expected output against the
    /// actual one, and nothing extra.
    fn compare(&mut self, label: &str, input: &Json, want: &Json, got: &Json) {
        self.events += 1;
        let (input, want) = (as_vrl(input), as_vrl(want));
        let (mut w, mut g, mut i) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        leaves(&want, String::new(), &mut w);
        leaves(got, String::new(), &mut g);
        leaves(&input, String::new(), &mut i);
        if want != input {
            self.tagged += 1;
        }
        self.fields += w.keys().filter(|k| !i.contains_key(*k)).count();
        let mut diffs = Vec::new();
        for (k, v) in &w {
            match g.get(k) {
                Some(x) if x == v => {}
                Some(x) => diffs.push(format!("  {k}: expected {v}, got {x}")),
                None => diffs.push(format!("  {k}: expected {v}, missing")),
            }
        }
        for (k, x) in &g {
            if !w.contains_key(k) {
                diffs.push(format!("  {k}: not expected, got {x}"));
            }
        }
        if !diffs.is_empty() {
            self.failures
                .push(format!("{label}\n  event: {input}\n  expected: {want}\n  actual: {got}\n{}", diffs.join("\n")));
        }
    }

    fn assert_clean(&self, what: &str) {
        println!(
            "{what}: {} events compared, {} tagged by the engine, {} added fields compared, {} mismatching",
            self.events,
            self.tagged,
            self.fields,
            self.failures.len()
        );
        assert!(
            self.failures.is_empty(),
            "{} of {} events differ:\n{}",
            self.failures.len(),
            self.events,
            self.failures.join("\n\n")
        );
    }
}

/// Compiled programs by source: configs that only change scoring give the
/// same program, and VRL takes a while to compile one.
#[derive(Default)]
struct Programs(BTreeMap<String, Program>);

impl Programs {
    fn get(&mut self, rules: Option<&str>, config: Option<&str>) -> &Program {
        let source = modwatch_vrl::export(rules, false, config).unwrap();
        self.0.entry(source).or_insert_with_key(|source| {
            let started = std::time::Instant::now();
            let (program, warnings) = compile(source);
            println!("compiled a program of {} lines in {:.1?}", source.lines().count(), started.elapsed());
            assert!(warnings.is_empty(), "the exported program compiles with warnings:\n{}", warnings.join("\n"));
            program
        })
    }
}

/// Runs `events` through the engine and the exported program for a pack and
/// config; compares each.
fn parity(
    programs: &mut Programs,
    rules: Option<&str>,
    config: Option<&str>,
    events: &[(String, Json)],
    tally: &mut Tally,
) {
    let program = programs.get(rules, config);
    let mut engine = Engine::new(config, rules).unwrap();
    for (label, event) in events {
        let want = expected(&mut engine, event);
        let got = run(program, event);
        tally.compare(label, event, &want, &got);
    }
}

/// One test: the three parts share the compiled programs.
#[test]
fn the_exported_program_tags_as_the_engine_does() {
    let mut programs = Programs::default();
    custom_pack(&mut programs);
    sigma_comparisons(&mut programs);
    routing(&mut programs);
    builtin_pack(&mut programs);
    envelopes(&mut programs);
}

/// `output.routing_fields`: the principal key and partition token on every
/// corpus and scenario record of a known format, matching or not, as the
/// engine adds them (the custom pack: a program that compiles quickly; the
/// key comes from the normalisation, the same for every pack).
fn routing(programs: &mut Programs) {
    const CONFIG: &str = r#"{"output":{"routing_fields":true}}"#;
    let events: Vec<(String, Json)> = corpus()
        .into_iter()
        .filter(|(_, config, _)| config.is_none())
        .map(|(label, _, event)| (label, event))
        .collect();
    let mut tally = Tally::default();
    parity(programs, Some(PACK), Some(CONFIG), &events, &mut tally);
    tally.assert_clean("routing fields");
    // Nearly every record is routed, most of them matching no rule.
    assert!(tally.tagged * 10 >= tally.events * 9, "{} of {} events routed", tally.tagged, tally.events);
}

/// The built-in pack on every corpus and scenario event (each scenario file
/// with its config: the allowlists are built into the program).
fn builtin_pack(programs: &mut Programs) {
    let mut by_config: BTreeMap<Option<String>, Vec<(String, Json)>> = BTreeMap::new();
    for (label, config, event) in corpus() {
        by_config.entry(config).or_default().push((label, event));
    }
    let mut tally = Tally::default();
    for (config, events) in &by_config {
        parity(programs, None, config.as_deref(), events, &mut tally);
    }
    tally.assert_clean("built-in pack");
    assert!(tally.events >= 160 && tally.tagged >= 100, "the corpus and scenarios are all there");
}

/// What `tagged` has that `original` has not (the tags the engine added,
/// objects that both have compared key by key).
fn added(tagged: &Json, original: &Json) -> Json {
    let (Json::Object(t), Json::Object(o)) = (tagged, original) else { return Json::Null };
    let mut out = Map::new();
    for (k, v) in t {
        match o.get(k) {
            None => {
                out.insert(k.clone(), v.clone());
            }
            Some(orig) if orig != v => {
                out.insert(k.clone(), added(v, orig));
            }
            Some(_) => {}
        }
    }
    Json::Object(out)
}

/// Vector's envelope: the raw line in `.message` beside Vector's own fields.
/// The tags land at the top level; the envelope is otherwise unchanged.
fn envelopes(programs: &mut Programs) {
    let program = programs.get(None, None);
    let mut engine = Engine::new(None, None).unwrap();
    let mut tally = Tally::default();
    for (label, config, event) in corpus() {
        if config.is_some() || event.get("Records").is_some() || event.get("records").is_some() {
            continue;
        }
        let line = serde_json::to_string(&event).unwrap();
        let envelope = serde_json::json!({"message": line, "host": "collector-1", "source_type": "http_server"});
        let tagged = expected(&mut engine, &event);
        let mut want = envelope.clone();
        if tagged != event
            && let (Json::Object(w), Json::Object(add)) = (&mut want, added(&tagged, &event))
        {
            w.extend(add);
        }
        let got = run(program, &envelope);
        tally.compare(&format!("envelope {label}"), &envelope, &want, &got);
    }
    tally.assert_clean("envelopes");
}

/// EQL translation beyond what the built-in pack uses: wildcards (ASCII
/// case folding only), Lucene regexps, cidrMatch (IPv4-mapped too), `in`,
/// `in~`, `!=` and `not` on missing fields, `== null`, numbers, booleans,
/// string functions, arrays of objects, ECS aliases and the request subtree.
const PACK: &str = r#"
[[rule]]
id = "t-wildcard"
name = "wildcard"
severity = "low"
category = "MODIFY"
query = 'any where event.action : "terminate*" and user_agent.original : "*BOTO*"'

[[rule]]
id = "t-regex"
name = "regex"
severity = "medium"
category = "DELETE"
query = 'any where event.action regex~ "delete(snap|vol)[a-z]{2,}" and not source.ip == null'

[[rule]]
id = "t-cidr"
name = "cidr"
severity = "high"
category = "EXPORT"
query = 'any where cidrMatch(source.ip, "10.0.0.0/8", "2001:db8::/32") and event.provider in ("ec2.amazonaws.com", "compute.googleapis.com")'

[[rule]]
id = "t-missing"
name = "missing"
severity = "critical"
category = "EXPOSE_PUBLIC"
query = 'any where event.action in~ ("modifysnapshotattribute", "CREATEIMAGE") and aws.cloudtrail.error_code != "AccessDenied" and not user.name : "admin*"'

[[rule]]
id = "t-params"
name = "params"
severity = "medium"
category = "SHARE_EXTERNAL"
query = 'any where modwatch.params.createVolumePermission.add.items.userId : "1*" or startsWith~(modwatch.params.attributeType, "CREATEVOL")'

[[rule]]
id = "t-numbers"
name = "numbers"
severity = "low"
category = "CREATE"
query = 'any where modwatch.params.maxCount >= 2 or modwatch.params.minCount == "1" or modwatch.params.dryRun == true'

[[rule]]
id = "t-length"
name = "length"
severity = "low"
category = "MODIFY"
query = 'any where length(modwatch.principal.display) > 30 and stringContains(modwatch.op, "ec2")'

[[rule]]
id = "t-foreign"
name = "foreign"
severity = "high"
category = "SHARE_EXTERNAL"
foreign_account = "modwatch.params.createVolumePermission.add.items.userId"
query = 'any where event.action == "ModifySnapshotAttribute"'

[[rule]]
id = "t-own"
name = "own"
severity = "low"
points = 7
own_account = "modwatch.params.createVolumePermission.add.items.userId"
query = 'any where event.action == "ModifySnapshotAttribute" and not event.outcome == "failure"'

[[rule]]
id = "t-resources"
name = "resources"
severity = "low"
category = "COPY"
query = 'any where aws.cloudtrail.resources.arn : "arn:aws:ec2:*" or modwatch.resource : "*snapshot*"'
"#;

fn ct(name: &str, extra: Json) -> Json {
    let mut e = serde_json::json!({
        "eventVersion": "1.09", "eventSource": "ec2.amazonaws.com", "eventName": name,
        "awsRegion": "eu-west-1", "eventTime": "2026-03-02T10:00:00Z", "eventType": "AwsApiCall",
        "eventID": format!("id-{name}"), "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333", "userName": "alice", "principalId": "AIDA1"},
        "sourceIPAddress": "10.1.2.3", "userAgent": "Boto3/1.34"
    });
    if let (Json::Object(base), Json::Object(more)) = (&mut e, extra) {
        base.extend(more);
    }
    e
}

fn custom_pack(programs: &mut Programs) {
    use serde_json::json;
    let events: Vec<Json> = vec![
        ct("TerminateInstances", json!({})),
        ct("TERMINATEInstances", json!({"userAgent": "aws-cli boto"})),
        // U+212A KELVIN SIGN is not `k` for an ASCII case-insensitive match.
        ct("TerminateInstances", json!({"userAgent": "\u{212A}boto"})),
        ct("DeleteSnapshots", json!({})),
        ct("DeleteSnapshot", json!({"sourceIPAddress": "ec2.amazonaws.com"})),
        ct("DeleteVolumeX", json!({"sourceIPAddress": "::ffff:10.9.9.9"})),
        ct(
            "RunInstances",
            json!({"sourceIPAddress": "2001:db8::5", "requestParameters": {"maxCount": 3, "minCount": 1}}),
        ),
        ct(
            "RunInstances",
            json!({"sourceIPAddress": "11.0.0.1", "requestParameters": {"maxCount": 1, "minCount": "1"}}),
        ),
        ct("RunInstances", json!({"sourceIPAddress": "11.0.0.1", "requestParameters": {"dryRun": true}})),
        ct(
            "ModifySnapshotAttribute",
            json!({"requestParameters": {"attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"userId": "999"}, {"userId": "123456789012"}]}}}}),
        ),
        ct("ModifySnapshotAttribute", json!({"errorCode": "AccessDenied", "errorMessage": "no"})),
        ct(
            "ModifySnapshotAttribute",
            json!({"requestParameters": {"createVolumePermission": {"add": {"items": [{"userId": "111122223333"}]}}}}),
        ),
        ct(
            "CreateImage",
            json!({"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/administrator", "userName": "administrator", "accountId": "111122223333"}}),
        ),
        ct(
            "CreateImage",
            json!({"userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/a-very-long-role-name-for-testing/session", "accountId": "111122223333", "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/r", "userName": "r"}}}}),
        ),
        ct("CopySnapshot", json!({"resources": [{"ARN": "arn:aws:ec2:eu-west-1::snapshot/snap-1"}, {"ARN": "x"}]})),
        ct("CopySnapshot", json!({"resources": {"ARN": "arn:aws:ec2:eu-west-1::snapshot/snap-1"}})),
        ct("CopySnapshot", json!({"requestParameters": "{\"attributeType\":\"createVolumePermission\"}"})),
        json!({"protoPayload": {"serviceName": "compute.googleapis.com", "methodName": "v1.compute.instances.delete", "resourceName": "projects/p/zones/z/instances/i", "authenticationInfo": {"principalEmail": "bob@example.com"}, "requestMetadata": {"callerIp": "10.2.3.4", "callerSuppliedUserAgent": "boto"}, "request": {"maxCount": "7"}}, "insertId": "x1", "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity", "timestamp": "2026-03-02T10:00:00Z"}),
        json!({"unrelated": true, "message": "no cloud record here"}),
    ];
    let events: Vec<(String, Json)> =
        events.into_iter().enumerate().map(|(i, e)| (format!("custom #{i}"), e)).collect();
    let mut tally = Tally::default();
    parity(programs, Some(PACK), None, &events, &mut tally);
    tally.assert_clean("custom pack");
    assert!(tally.tagged >= 10, "the custom pack matches most of its events");
}

/// Sigma's `gt`/`gte`/`lt`/`lte`: numbers, and strings that are wholly a
/// number, compared numerically (where text order would disagree: "10" after
/// "9", "-20" after "-10"), integers exactly; other strings and booleans
/// never match.
fn sigma_comparisons_pack() -> String {
    // Their metadata (a tactic tag or none, a status, false positives)
    // reaches the `sigma` and `threat.tactic` fields.
    let rules = [
        ("count above nine", "requestParameters.maxCount|gt: 9", "low", "[attack.execution, attack.t1578]"),
        ("ratio at least 2.5", "requestParameters.ratio|gte: 2.5", "medium", "[attack.t1578.002]"),
        ("offset below -10", "requestParameters.offset|lt: -10", "high", "[attack.defense-evasion]"),
        ("bytes above 2^53", "requestParameters.bytes|gt: 9007199254740992", "low", "[]"),
        ("size at most 0.5", "requestParameters.size|lte: 0.5", "low", "[attack.impact, attack.t1578.003]"),
    ];
    let docs: Vec<String> = rules
        .iter()
        .enumerate()
        .map(|(i, (title, selection, level, tags))| {
            format!(
                "title: {title}\nid: 6f1c2a50-0000-4000-8000-00000000000{}\nstatus: test\nlogsource: {{product: aws, service: cloudtrail}}\n\
                 detection:\n    sel:\n        {selection}\n    condition: sel\nlevel: {level}\ntags: {tags}\n\
                 falsepositives:\n    - Capacity tests\n",
                i + 1
            )
        })
        .collect();
    docs.join("---\n")
}

fn sigma_comparisons(programs: &mut Programs) {
    use serde_json::json;
    let params = [
        json!({"maxCount": 10}),
        json!({"maxCount": "10"}),
        json!({"maxCount": 9}),
        json!({"maxCount": "9"}),
        json!({"maxCount": "abc"}),
        json!({"maxCount": "10 GB"}),
        json!({"maxCount": " 10"}),
        json!({"maxCount": "+10"}),
        json!({"maxCount": "1e2"}),
        json!({"maxCount": true}),
        json!({"maxCount": [1, "12"]}),
        json!({"ratio": 2.5}),
        json!({"ratio": "2.75"}),
        json!({"ratio": 2}),
        json!({"ratio": "2.4999"}),
        json!({"offset": -20}),
        json!({"offset": "-20"}),
        json!({"offset": "-9"}),
        json!({"offset": -10}),
        json!({"bytes": 9_007_199_254_740_993_u64}),
        json!({"bytes": "9007199254740993"}),
        json!({"bytes": 9_007_199_254_740_992_u64}),
        json!({"size": 0}),
        json!({"size": "-0"}),
        json!({"size": "0.50"}),
        json!({"size": "0.5.1"}),
    ];
    let events: Vec<(String, Json)> = params
        .into_iter()
        .map(|p| (format!("sigma comparison {p}"), ct("RunInstances", json!({"requestParameters": p}))))
        .collect();
    let pack = sigma_comparisons_pack();
    let program = programs.get(Some(&pack), None);
    let mut engine = Engine::new(None, Some(&pack)).unwrap();
    let mut tally = Tally::default();
    for (label, event) in &events {
        let want = expected(&mut engine, event);
        tally.compare(label, event, &want, &run(program, event));
    }
    tally.assert_clean("Sigma comparisons");
    // Each rule matches and misses somewhere: 13 of the 26 records match
    // (4, 2, 2, 2 and 3 by rule).
    assert_eq!(tally.tagged, 13, "{} of {} events tagged", tally.tagged, tally.events);
}
