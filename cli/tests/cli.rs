//! The `modwatch` binary, run as a user would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use modwatch_testkit::corpus;
use serde_json::Value;

pub(crate) fn modwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modwatch")).args(args).stdin(Stdio::null()).output().unwrap()
}

fn modwatch_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_modwatch"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Written from a thread: the child writes while it reads, and both pipes
    // fill up if this thread waits for one before draining the other.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect()
}

pub(crate) fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).chars().take(2000).collect::<String>(),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The corpus as NDJSON, with bad lines among the events: (file bytes, the
/// non-blank lines, whether each is labelled a match).
fn corpus_ndjson() -> (Vec<u8>, Vec<Vec<u8>>, Vec<bool>) {
    let mut events: Vec<(Vec<u8>, bool)> = corpus::events().into_iter().map(|e| (e.event, e.expect_match)).collect();
    events.insert(3, (b"this is not json".to_vec(), false));
    events.insert(10, (b"[1,2,3]".to_vec(), false));
    events.insert(20, (b"{\"eventName\":\"RunInstances\",\"x\":\"\xff\"}".to_vec(), false));
    events.insert(30, (b"{\"eventSource\":\"ec2.amazonaws.com\",".to_vec(), false));
    let mut file = Vec::new();
    for (i, (event, _)) in events.iter().enumerate() {
        file.extend_from_slice(event);
        file.extend_from_slice(if i % 17 == 5 { b"\n\n  \n" } else { b"\n" });
    }
    let labels = events.iter().map(|(_, m)| *m).collect();
    (file, events.into_iter().map(|(e, _)| e).collect(), labels)
}

#[test]
fn scan_writes_one_line_per_event_and_non_matches_byte_for_byte() {
    let (file, events, labels) = corpus_ndjson();
    let path = temp_file("corpus.ndjson", &file);
    let out = modwatch(&["scan", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let written = lines(&out.stdout);
    assert_eq!(written.len(), events.len(), "one line per event\n{}", show(&out));
    let mut failures = Vec::new();
    for (i, ((input, output), is_match)) in events.iter().zip(&written).zip(&labels).enumerate() {
        let changed = input.as_slice() != *output;
        if changed != *is_match {
            failures.push(format!(
                "line {}: expected {}, wrote\n    {}",
                i + 1,
                if *is_match { "a tagged event" } else { "the event unchanged" },
                String::from_utf8_lossy(output)
            ));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{} events", events.len())), "{stderr}");
    assert!(stderr.contains("errors"), "{stderr}");
}

#[test]
fn only_matches_writes_the_matches() {
    let (file, _, labels) = corpus_ndjson();
    let path = temp_file("only.ndjson", &file);
    let out = modwatch(&["scan", "--only-matches", "--quiet", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(out.stderr.is_empty(), "--quiet: {}", show(&out));
    let want = labels.iter().filter(|m| **m).count();
    assert_eq!(lines(&out.stdout).len(), want, "{}", show(&out));
    for line in lines(&out.stdout) {
        let v: Value = serde_json::from_slice(line).unwrap();
        assert_eq!(v["threat"]["framework"], "MITRE ATT&CK", "{v}");
        assert!(v["rule"]["id"].is_string(), "{v}");
    }
}

#[test]
fn verdicts_writes_one_verdict_per_record() {
    let (file, events, labels) = corpus_ndjson();
    let path = temp_file("verdicts.ndjson", &file);
    let out = modwatch(&["scan", "--verdicts", "--validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let records: usize = events
        .iter()
        .map(|e| match serde_json::from_slice::<Value>(e) {
            Ok(v) => v.get("Records").or(v.get("records")).and_then(Value::as_array).map_or(1, Vec::len),
            Err(_) => 1,
        })
        .sum();
    let verdicts: Vec<Value> = lines(&out.stdout).iter().map(|l| serde_json::from_slice(l).unwrap()).collect();
    assert_eq!(verdicts.len(), records, "{}", show(&out));
    let errors = verdicts.iter().filter(|v| v["status"] == "error").count();
    assert_eq!(errors, 4, "the four bad lines (with --validate)\n{}", show(&out));
    let matches = verdicts.iter().filter(|v| v["status"] == "match").count();
    assert_eq!(matches, labels.iter().filter(|m| **m).count(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(":4: E"), "the summary quotes the first error with its line\n{stderr}");
}

#[test]
fn batch_and_array_files_are_split_into_records() {
    let batch = corpus::corpus_dir().join("s3-batch.json");
    let out = modwatch(&["scan", "--quiet", batch.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(lines(&out.stdout).len(), corpus::S3_BATCH_LABELS.len(), "{}", show(&out));

    let array = temp_file("array.json", b"[\n  {\"eventName\": \"DescribeVolumes\"},\n  {\"a\": [1,\n 2]}\n]\n");
    let out = modwatch(&["scan", "--quiet", array.to_str().unwrap()]);
    assert_eq!(out.stdout, b"{\"eventName\": \"DescribeVolumes\"}\n{\"a\":[1,2]}\n", "{}", show(&out));
}

#[test]
fn stdin_and_an_over_long_line_pass_through() {
    let long = format!("{{\"eventName\":\"RunInstances\",\"x\":\"{}\"}}", "a".repeat(3 << 20));
    let input = format!("{{\"a\":1}}\n{long}\n{{\"b\":2}}\n");
    let out = modwatch_stdin(&["scan", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(out.stdout == input.as_bytes(), "the events come back as they went in\n{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("<stdin>:2: E103"), "{stderr}");
}

#[test]
fn unusable_arguments_and_inputs_exit_2() {
    let out = modwatch(&["scan", "/no/such/file.ndjson"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.ndjson"), "{}", show(&out));
    assert!(out.stdout.is_empty());

    let pack = temp_file(
        "bad.toml",
        b"[[rule]]\nid = \"broken\"\nname = \"x\"\nseverity = \"high\"\nquery = \"any where (\"\n",
    );
    let events = temp_file("one.ndjson", b"{\"a\":1}\n");
    let out = modwatch(&["scan", "--rules", pack.to_str().unwrap(), events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rule \"broken\" at "), "the rule and its line:column\n{stderr}");

    let out = modwatch(&["scan", "--with-builtin", events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "--with-builtin needs --rules\n{}", show(&out));
    let out = modwatch(&["scan", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn no_arguments_runs_and_explains_the_sample() {
    let out = modwatch(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "bundled sample",
        "#",
        "cloud",
        "operation",
        "principal",
        "category",
        "points",
        "rule",
        "matches",
        "modwatch scan",
    ] {
        assert!(text.contains(want), "{want:?} missing from\n{text}");
    }
    // Scenarios 1-3 of the spec match: snapshot share, Azure capture, launch and terminate.
    for op in ["modifysnapshotattribute", "capture/action", "terminateinstances"] {
        assert!(text.to_lowercase().contains(op), "{op} missing from\n{text}");
    }
}

#[test]
fn the_component_subcommand_writes_the_embedded_component() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}-c.wasm", std::process::id()));
    let out = modwatch(&["component", "--out", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(std::fs::read(&path).unwrap(), modwatch::COMPONENT);
}

#[test]
fn config_problems_keep_their_place_in_the_users_file() {
    // The config reaches the engine as written (the flags travel as typed
    // options), so the bad value is reported on its own line.
    let config = temp_file("bad-config.json", b"{\n  \"input\": {\n    \"max_event_bytes\": \"big\"\n  }\n}\n");
    let events = temp_file("config-events.ndjson", b"{\"a\":1}\n");
    for flags in [&[][..], &["--validate"][..]] {
        let mut args = vec!["scan", "--config", config.to_str().unwrap()];
        args.extend_from_slice(flags);
        args.push(events.to_str().unwrap());
        let out = modwatch(&args);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(" at 3:"), "the problem names line 3 of the file ({flags:?})\n{stderr}");
    }
}

#[test]
fn with_builtin_keeps_the_built_in_rules() {
    let pack = temp_file(
        "own.toml",
        b"[[rule]]\nid = \"own\"\nname = \"own\"\nseverity = \"low\"\nquery = 'any where event.action == \"NoSuchCall\"'\n",
    );
    let events = temp_file(
        "terminate.ndjson",
        b"{\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"TerminateInstances\",\"eventTime\":\"2024-01-01T00:00:00Z\"}\n",
    );
    let statuses = |extra: &[&str]| {
        let mut args = vec!["scan", "--quiet", "--verdicts", "--rules", pack.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(events.to_str().unwrap());
        let out = modwatch(&args);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        lines(&out.stdout)
            .iter()
            .map(|l| serde_json::from_slice::<Value>(l).unwrap()["status"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(&[]), ["no_match"], "the own pack alone does not know TerminateInstances");
    assert_eq!(statuses(&["--with-builtin"]), ["match"], "the built-in pack is kept");
}

#[test]
fn pretty_printed_events_and_whitespace_split_as_the_engine_does() {
    // Several pretty-printed objects: one event per object (was one per line).
    let pretty = temp_file("pretty.json", b"{\n  \"a\": 1\n}\n{\n  \"b\": [2,\n 3]\n}\n");
    let out = modwatch(&["scan", "--quiet", pretty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(out.stdout, b"{\"a\":1}\n{\"b\":[2,3]}\n", "{}", show(&out));

    // A pretty array with a bad element: still an array, the element an event of its own.
    let array = temp_file("bad-element.json", b"[\n  {\"a\": 1},\n  nope\n]\n");
    let out = modwatch(&["scan", "--verdicts", "--validate", array.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let statuses: Vec<Value> =
        lines(&out.stdout).iter().map(|l| serde_json::from_slice::<Value>(l).unwrap()["status"].clone()).collect();
    assert_eq!(statuses, ["unrecognised", "error"], "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":3: E"), "the bad element's line\n{}", show(&out));

    // Whitespace only: no events.
    let out = modwatch_stdin(&["scan", "--quiet", "-"], b" \n\t\n");
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), &b""[..]), "{}", show(&out));
}

#[test]
fn sigma_files_and_directories_as_rules() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}-sigma-rules", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("terminate.yml"),
        "title: Instances Terminated\nid: 6d6f6477-6174-6368-0000-00000000f001\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n    selection:\n        eventSource: ec2.amazonaws.com\n        eventName: TerminateInstances\n    condition: selection\nlevel: high\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("stop.toml"),
        "[[rule]]\nid = \"own-stop\"\nname = \"stop\"\nseverity = \"low\"\nquery = 'any where event.action == \"StopInstances\"'\n",
    )
    .unwrap();
    let events = temp_file(
        "sigma.ndjson",
        b"{\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"TerminateInstances\",\"eventTime\":\"2024-01-01T00:00:00Z\"}\n{\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"StopInstances\",\"eventTime\":\"2024-01-01T00:00:00Z\"}\n",
    );
    let rules = |args: &[&str]| {
        let mut all = vec!["scan", "--quiet", "--verdicts"];
        all.extend_from_slice(args);
        all.push(events.to_str().unwrap());
        let out = modwatch(&all);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        lines(&out.stdout)
            .iter()
            .map(|l| {
                let v: Value = serde_json::from_slice(l).unwrap();
                v["matches"].as_array().map(|m| m.iter().map(|m| m["rule_id"].clone()).collect::<Vec<_>>())
            })
            .collect::<Vec<_>>()
    };
    let yml = dir.join("terminate.yml");
    let sigma_only = rules(&["--rules", yml.to_str().unwrap()]);
    assert_eq!(sigma_only[0], Some(vec![Value::from("6d6f6477-6174-6368-0000-00000000f001")]));
    assert!(sigma_only[1].as_ref().is_none_or(Vec::is_empty), "{sigma_only:?}");
    let both = rules(&["--rules", dir.to_str().unwrap()]);
    assert_eq!(both[0], Some(vec![Value::from("6d6f6477-6174-6368-0000-00000000f001")]));
    assert_eq!(both[1], Some(vec![Value::from("own-stop")]));
    // A bad rule: the file, the rule and the line.
    std::fs::write(dir.join("bad.yml"), "title: Bad\nid: bad-rule\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n    sel:\n        eventName|nope: x\n    condition: sel\n").unwrap();
    let out = modwatch(&["scan", "--quiet", "--rules", dir.to_str().unwrap(), events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yml") && stderr.contains("\"bad-rule\" at 6:9"), "{stderr}");
}

#[test]
fn rule_warnings_go_to_stderr_with_file_rule_and_position() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}-sigma-warnings", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("windows.yml"),
        "title: Windows\nid: 00000000-0000-4000-8000-00000000000c\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    sel:\n        Image|endswith: '\\cmd.exe'\n    condition: sel\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("terminate.yml"),
        "title: Instances Terminated\nid: 6d6f6477-6174-6368-0000-00000000f001\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n    selection:\n        eventName: TerminateInstances\n    condition: selection\n",
    )
    .unwrap();
    let events =
        temp_file("warnings.ndjson", b"{\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"TerminateInstances\"}\n");
    let rules = dir.to_str().unwrap();
    for args in
        [vec!["scan", "--quiet", "--rules", rules, events.to_str().unwrap()], vec!["export", "vrl", "--rules", rules]]
    {
        let out = modwatch(&args);
        // A warning never refuses the pack.
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning: ")).collect();
        assert_eq!(warnings.len(), 1, "{args:?}\n{stderr}");
        let w = warnings[0];
        assert!(
            w.starts_with("warning: E206 ") && w.contains("rule \"00000000-0000-4000-8000-00000000000c\" at 4:"),
            "{w}"
        );
        assert!(w.contains("windows.yml: logsource (product: windows"), "{w}");
    }
    // The rules that do run still match.
    let out = modwatch(&["scan", "--quiet", "--rules", rules, events.to_str().unwrap()]);
    assert_eq!(lines(&out.stdout).len(), 1, "{}", show(&out));
    // No warning, no line.
    let yml = dir.join("terminate.yml");
    let out = modwatch(&["scan", "--quiet", "--rules", yml.to_str().unwrap(), events.to_str().unwrap()]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"), "{}", show(&out));
}

#[test]
fn scan_with_a_sigma_pack_gives_the_golden_sigma_verdicts() {
    // The events of the Sigma parity tests, one a line; the pack as a file.
    let mut ndjson = Vec::new();
    for (_, event) in corpus::sigma_events() {
        ndjson.extend_from_slice(&event);
        ndjson.push(b'\n');
    }
    let events = temp_file("sigma-parity.ndjson", &ndjson);
    let pack = temp_file("sigma-parity.yml", corpus::sigma_pack().as_bytes());
    let out = modwatch(&["scan", "--quiet", "--verdicts", "--rules", pack.to_str().unwrap(), events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let golden_path = corpus::corpus_dir().join("../golden/sigma.verdicts.ndjson");
    let golden = std::fs::read_to_string(&golden_path).unwrap();
    let got: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    let want: Vec<&str> = golden.lines().collect();
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "record {} differs from {}", i + 1, golden_path.display());
    }
    assert_eq!(got.len(), want.len(), "records");
}

#[test]
fn sigma_correlations_carry_over_a_restart_through_the_state_file() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/sigma");
    let rules = format!("{fixtures}/correlations.yml");
    let rows: Vec<Value> = std::fs::read_to_string(format!("{fixtures}/correlations.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<String> = rows.iter().map(|r| r["event"].to_string()).collect();
    let file = |name: &str, part: &[String]| temp_file(name, format!("{}\n", part.join("\n")).as_bytes());
    let scan = |extra: &[&str], path: &PathBuf| {
        let mut args = vec!["scan", "--quiet", "--rules", &rules];
        args.extend_from_slice(extra);
        args.push(path.to_str().unwrap());
        let out = modwatch(&args);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        lines(&out.stdout).into_iter().map(<[u8]>::to_vec).collect::<Vec<_>>()
    };
    let all = file("correlations.ndjson", &events);
    for mode in [&["--verdicts"][..], &[][..]] {
        let whole = scan(mode, &all);
        assert_eq!(whole.len(), events.len());
        // Stopped after the 5th event and started again with its state.
        let state =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}-correlations.state", std::process::id()));
        let _ = std::fs::remove_file(&state);
        let mut with_state = mode.to_vec();
        with_state.extend(["--state", state.to_str().unwrap()]);
        let mut halves = scan(&with_state, &file("correlations-1.ndjson", &events[..5]));
        halves.extend(scan(&with_state, &file("correlations-2.ndjson", &events[5..])));
        assert_eq!(halves, whole, "{mode:?}");
        if mode.is_empty() {
            continue;
        }
        let fired: Vec<Value> = whole
            .iter()
            .map(|l| {
                let v: Value = serde_json::from_slice(l).unwrap();
                let ids = v["correlations"].as_array().map(|c| c.iter().map(|c| c["id"].clone()).collect());
                Value::Array(ids.unwrap_or_default())
            })
            .collect();
        let want: Vec<Value> = rows.iter().map(|r| r["fires"].clone()).collect();
        assert_eq!(fired, want);
    }
}

#[test]
fn the_scan_summary_counts_correlation_alerts_per_rule() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/sigma");
    let rules = format!("{fixtures}/correlations.yml");
    let events = format!("{fixtures}/correlations.ndjson");
    // The fixture's rows are objects with the event inside: unrecognised,
    // so give the events themselves.
    let lines: Vec<String> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].to_string())
        .collect();
    let path = temp_file("summary-correlations.ndjson", format!("{}\n", lines.join("\n")).as_bytes());
    let out = modwatch(&["scan", "--rules", &rules, path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // tests/sigma/correlations.ndjson: the four correlations fire 2, 1, 2 and
    // 2 times, over 3, 3, 3 and 2 principals.
    assert!(stderr.contains("  correlations  7 alerts (11 groups tracked)\n"), "{stderr}");
    let by_rule = "    by rule     6d6f6477-6174-6368-0000-0000000c0001 2, 6d6f6477-6174-6368-0000-0000000c0002 1, \
                   6d6f6477-6174-6368-0000-0000000c0003 2, 6d6f6477-6174-6368-0000-0000000c0004 2\n";
    assert!(stderr.contains(by_rule), "{stderr}");
    // Without correlation rules, no such lines.
    let plain = modwatch(&["scan", path.to_str().unwrap()]);
    assert!(!String::from_utf8_lossy(&plain.stderr).contains("correlations"), "{}", show(&plain));
}

#[test]
fn export_vrl_refuses_the_rules_the_program_cannot_express() {
    let rule = |id: &str, detection: &str| {
        format!(
            "title: {id}\nid: {id}\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n{detection}\nlevel: high\n"
        )
    };
    let plain = temp_file(
        "vrl-plain.yml",
        rule("plain", "    selection:\n        eventName: TerminateInstances\n    condition: selection").as_bytes(),
    );
    let out = modwatch(&["export", "vrl", "--rules", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("_mw_go"), "{}", show(&out));
    let keywords = rule("keyword-search", "    keywords:\n        - snapshot\n    condition: keywords");
    let pack = temp_file(
        "vrl-keywords.yml",
        format!(
            "{}---\n{keywords}",
            rule("plain", "    selection:\n        eventName: TerminateInstances\n    condition: selection")
        )
        .as_bytes(),
    );
    let out = modwatch(&["export", "vrl", "--rules", pack.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(out.stdout.is_empty(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "E207 rule \"keyword-search\" cannot be exported to VRL: its condition searches every value of the event"
        ),
        "{stderr}"
    );
}
