//! `modwatch export sigma`: the rule pack written as Sigma rules, loaded by
//! pySigma with its validators, and loaded back by modwatch with the same
//! verdicts as the pack it came from.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use modwatch_engine::{Config, Engine, RuleSet, export};
use modwatch_testkit::{corpus, r#gen};
use serde_json::Value;

use crate::cli::{modwatch, show};

fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("export-sigma-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

#[test]
fn the_built_in_pack_as_sigma_files_with_reasons_for_the_rest() {
    let dir = temp_dir("files");
    let out = modwatch(&["export", "sigma", "--out", &format!("{}/", dir.display())]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Each skipped rule is named with its reason, one line each.
    let set = RuleSet::builtin().unwrap();
    let pack = export::sigma(&set, &Config::default());
    assert_eq!(stderr.lines().count(), pack.skipped.len(), "{stderr}");
    for s in &pack.skipped {
        assert!(stderr.contains(&format!("rule {} skipped: {}", s.id, s.reason)), "{stderr}");
    }
    // One file per exported rule, the seed rule among them.
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, pack.rules.len());
    assert!(pack.rules.len() + pack.skipped.len() == set.len() && pack.rules.len() > set.len() / 2, "{stderr}");
    let seed = std::fs::read_to_string(dir.join("seed-azure-compute-modification.yml")).unwrap();
    for line in [
        "name: seed-azure-compute-modification",
        "  product: azure\n  service: activitylogs",
        "    event.dataset|cased: azure.activitylogs",
        "    operationName:\n      - microsoft.compute/snapshots/write",
        "  filter:\n    user.name:\n      - azure-backup-service",
        "  condition: selection and not filter",
        "level: high",
        "  - attack.defense-evasion\n  - attack.t1578\n",
    ] {
        assert!(seed.contains(line), "{line:?} not in\n{seed}");
    }
    // To stdout: the same rules as one multi-document text.
    let out = modwatch(&["export", "sigma"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), pack.text());
}

#[test]
fn a_pack_with_nothing_sigma_can_express_fails() {
    let dir = temp_dir("none");
    let pack = dir.join("bulk.toml");
    std::fs::write(
        &pack,
        "[[rule]]\nid = \"long-names\"\nname = \"long names\"\nseverity = \"low\"\nquery = 'any where length(event.action) > 40'\n[[rule.example]]\nexpect = \"match\"\nevent = '''{\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"CreateReplaceRootVolumeTaskWithAVeryLongName\"}'''\n",
    )
    .unwrap();
    let out = modwatch(&["export", "sigma", "--rules", pack.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rule long-names skipped: it tests the length of event.action"), "{stderr}");
    assert!(stderr.contains("no rule could be written as Sigma (1 skipped)"), "{stderr}");
}

/// pySigma (pinned, installed into target/pysigma by scripts/setup-sigma.sh)
/// parses every exported rule and its validators find nothing
/// (tests/sigma/pysigma_check.py).
#[test]
fn exported_rules_pass_pysigmas_validators() {
    let pysigma = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../pysigma");
    assert!(pysigma.join("sigma").is_dir(), "pySigma is not in {}: run scripts/setup-sigma.sh", pysigma.display());
    let dir = temp_dir("pysigma");
    let out = modwatch(&["export", "sigma", "--out", &format!("{}/", dir.display())]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let script = repo("tests/sigma/pysigma_check.py");
    let check = Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .env("PYTHONPATH", &pysigma)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&check.stdout);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(0), "{stdout}\n{stderr}");
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert!(stdout.contains(&format!("pySigma 0.11.23: {files} rules, ")), "{stdout}");
}

/// Every record the round trip runs: each rule's own examples, the labelled
/// corpus, the Sigma format fixtures, the false-negative rows and a
/// generated mix.
fn events(set: &RuleSet) -> Vec<String> {
    let mut out: Vec<String> = set.examples().map(|e| e.event.clone()).collect();
    out.extend(corpus::events().into_iter().map(|e| String::from_utf8(e.event).unwrap()));
    for name in ["azure-records-batch.json", "s3-batch.json"] {
        out.push(corpus::read(name));
    }
    for file in ["tests/sigma/formats.ndjson", "tests/false-negatives.ndjson"] {
        for line in std::fs::read_to_string(repo(file)).unwrap().lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            out.push(v["event"].to_string());
        }
    }
    out.extend(r#gen::mix(2000, 12));
    out
}

/// Each match of a verdict, keyed by rule id (`names` maps the imported
/// rules' UUIDs back to the pack's ids), with everything else it says.
fn matches(verdict: &Value, names: &BTreeMap<String, String>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for m in verdict["matches"].as_array().into_iter().flatten() {
        let mut m = m.clone();
        let id = m["rule_id"].as_str().unwrap().to_string();
        let id = names.get(&id).cloned().unwrap_or(id);
        m.as_object_mut().unwrap().remove("rule_id");
        out.insert(id, m);
    }
    out
}

/// The built-in pack exported and loaded back: on every record, each
/// exported rule matches exactly when it did in the pack, with the same
/// category, points, severity and technique, and the verdict's status is the
/// same when only exported rules matched.
#[test]
fn exported_then_imported_gives_the_same_verdicts() {
    let set = RuleSet::builtin().unwrap();
    let pack = export::sigma(&set, &Config::default());
    let names: BTreeMap<String, String> = pack.rules.iter().map(|r| (r.uuid.clone(), r.id.clone())).collect();
    let exported: Vec<&str> = pack.rules.iter().map(|r| r.id.as_str()).collect();
    let mut original = Engine::new(None, None).unwrap();
    let mut imported = Engine::new(None, Some(&pack.text())).unwrap_or_else(|e| panic!("{e}\n{}", pack.text()));
    assert_eq!(imported.rules().len(), pack.rules.len());
    let mut compared = 0;
    let mut fired = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for event in events(&set) {
        let want = original.evaluate(event.as_bytes());
        let got = imported.evaluate(event.as_bytes());
        assert_eq!(want.len(), got.len(), "{event}");
        for (w, g) in want.iter().zip(&got) {
            let (w, g): (Value, Value) =
                (serde_json::from_str(&w.to_json()).unwrap(), serde_json::from_str(&g.to_json()).unwrap());
            let mut want_matches = matches(&w, &BTreeMap::new());
            let only_exported = want_matches.keys().all(|id| exported.contains(&id.as_str()));
            want_matches.retain(|id, _| exported.contains(&id.as_str()));
            let got_matches = matches(&g, &names);
            fired.extend(want_matches.keys().cloned());
            compared += 1;
            if want_matches != got_matches || (only_exported && w["status"] != g["status"]) {
                failures.push(format!("{event}\n  pack:     {w}\n  exported: {g}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {compared} records differ:\n{}", failures.len(), failures.join("\n"));
    // Not vacuous: every exported rule matched some record.
    let silent: Vec<&&str> = exported.iter().filter(|id| !fired.contains(**id)).collect();
    assert!(silent.is_empty(), "exported rules that never matched: {silent:?}");
}

/// The same through the binary: `scan --rules exported.yml` tags the corpus
/// records the pack's exported rules tag.
#[test]
fn the_cli_scans_with_exported_rules() {
    let dir = temp_dir("scan");
    let file = dir.join("pack.yml");
    let out = modwatch(&["export", "sigma", "--out", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let input = dir.join("events.ndjson");
    let corpus: Vec<u8> = corpus::events().into_iter().flat_map(|e| [e.event, b"\n".to_vec()].concat()).collect();
    std::fs::write(&input, corpus).unwrap();
    let scan = |rules: &[&str]| {
        let mut args = vec!["scan", "--quiet", "--verdicts"];
        args.extend_from_slice(rules);
        args.push(input.to_str().unwrap());
        let out = modwatch(&args);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let set = RuleSet::builtin().unwrap();
    let pack = export::sigma(&set, &Config::default());
    let names: BTreeMap<String, String> = pack.rules.iter().map(|r| (r.uuid.clone(), r.id.clone())).collect();
    let exported: Vec<&str> = pack.rules.iter().map(|r| r.id.as_str()).collect();
    let (want, got) = (scan(&[]), scan(&["--rules", file.to_str().unwrap()]));
    let mut tagged = 0;
    for (w, g) in want.lines().zip(got.lines()) {
        let (w, g): (Value, Value) = (serde_json::from_str(w).unwrap(), serde_json::from_str(g).unwrap());
        let mut want_ids: Vec<String> = matches(&w, &BTreeMap::new()).into_keys().collect();
        want_ids.retain(|id| exported.contains(&id.as_str()));
        let got_ids: Vec<String> = matches(&g, &names).into_keys().collect();
        assert_eq!(want_ids, got_ids, "\n  pack:     {w}\n  exported: {g}");
        tagged += usize::from(!got_ids.is_empty());
    }
    assert_eq!(want.lines().count(), got.lines().count());
    assert!(tagged > 10, "only {tagged} corpus records matched an exported rule");
}
