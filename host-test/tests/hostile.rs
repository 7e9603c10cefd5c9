//! The hostile-input table for the component in wasmtime and for the
//! `modwatch` CLI (the native rows are `plugin/engine/tests/hostile.rs`):
//! each row a bad input, the verdict it must get, and proof that it passed
//! through. `docs/hardening.md` has the results and the figures measured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use modwatch_engine as native;
use modwatch_host::{Detector, Output, Status};

/// A TerminateInstances record with `extra` raw fields at its end.
fn terminate(extra: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"}},"eventTime":"2025-03-04T10:15:00Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","sourceIPAddress":"203.0.113.7","requestParameters":{{"instancesSet":{{"items":[{{"instanceId":"i-0123456789abcdef0"}}]}}}},"eventType":"AwsApiCall","recipientAccountId":"111122223333"{extra}}}"#
    )
}

fn nested(depth: usize) -> String {
    terminate(&format!(r#","x":{}1{}"#, "[".repeat(depth), "]".repeat(depth)))
}

/// The bad events of the table, each with the error code it must get.
fn rows() -> Vec<(&'static str, Vec<u8>, u16)> {
    let base = terminate("");
    vec![
        ("invalid JSON", base.as_bytes()[..base.len() - 1].to_vec(), 100),
        ("invalid UTF-8", [&base.as_bytes()[..base.len() - 1], b",\"x\":\"\xff\xfe\"}"].concat(), 101),
        ("10,000-deep arrays", nested(10_000).into_bytes(), 104),
        (
            "10,000-deep objects",
            terminate(&format!(r#","x":{}1{}"#, r#"{"a":"#.repeat(10_000), "}".repeat(10_000))).into_bytes(),
            104,
        ),
        (
            "duplicate eventName",
            base.replacen(
                r#""eventName":"TerminateInstances""#,
                r#""eventName":"TerminateInstances","eventName":"DescribeInstances""#,
                1,
            )
            .into_bytes(),
            106,
        ),
    ]
}

/// In the component: each bad event gets its error verdict, the same JSON as
/// natively, and passes through unchanged. No trap.
#[test]
fn the_component_refuses_hostile_events_like_the_engine() {
    let mut detector = Detector::new(None, None).unwrap();
    let mut engine = native::Engine::new(None, None).unwrap();
    for (name, event, code) in rows() {
        let got = detector.tag(&event).unwrap_or_else(|e| panic!("{name}: the component trapped: {e:#}"));
        let want = engine.tag(&event);
        assert_eq!(got.verdicts.len(), 1, "{name}");
        let v = &got.verdicts[0];
        assert_eq!((v.status, v.error.as_ref().map(|e| e.code)), (Status::Error, Some(code)), "{name}: {}", v.json);
        assert_eq!(v.json, want.verdicts[0].to_json(), "{name}");
        assert!(matches!(got.output, Output::Unchanged), "{name}");
    }
    // Still working after all of them.
    let v = detector.evaluate(terminate("").as_bytes()).unwrap();
    assert_eq!(v[0].status, Status::Match);
}

/// 1,000,000 instance ids in the component: refused as too large under the
/// default limit; judged with the limit raised to 64 MiB, bulk capped, the
/// same verdict and the same output bytes as natively.
#[test]
fn a_million_instance_ids_in_the_component() {
    let ids: Vec<String> = (0..1_000_000).map(|i| format!(r#"{{"instanceId":"i-{i:017x}"}}"#)).collect();
    let event = terminate("").replace(r#"{"instanceId":"i-0123456789abcdef0"}"#, &ids.join(","));
    drop(ids);
    let mut detector = Detector::new(None, None).unwrap();
    let got = detector.tag(event.as_bytes()).unwrap();
    assert_eq!(got.verdicts[0].error.as_ref().map(|e| e.code), Some(103), "{}", got.verdicts[0].json);
    assert!(matches!(got.output, Output::Unchanged));

    let raised = r#"{"input":{"max_event_bytes":67108864}}"#;
    let mut detector = Detector::new(Some(raised), None).unwrap();
    let mut engine = native::Engine::new(Some(raised), None).unwrap();
    let got = detector.tag(event.as_bytes()).unwrap();
    let want = engine.tag(event.as_bytes());
    let v = &got.verdicts[0];
    assert_eq!(v.status, Status::Match, "{}", v.json);
    assert_eq!(v.score.as_ref().map(|s| s.points), Some(30.0), "3 points x bulk cap 10: {}", v.json);
    assert_eq!(v.json, want.verdicts[0].to_json());
    match (&got.output, &want.output) {
        (Output::Replaced(a), native::Output::Replaced(b)) => assert!(a == b, "outputs differ"),
        _ => panic!("not tagged in both"),
    }
}

/// What the CLI did with one input: its stdout, stderr, exit code, and its
/// peak resident memory (VmHWM, read from /proc while it ran).
struct Run {
    stdout: Vec<u8>,
    stderr: String,
    code: Option<i32>,
    peak_rss: u64,
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

/// Runs `modwatch scan -q -` with `input` on stdin, watching its memory.
fn scan(args: &[&str], input: Vec<u8>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_modwatch"))
        .args(["scan", "-q"])
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).map(|_| out)
    });
    let errors = std::thread::spawn(move || {
        let mut err = String::new();
        stderr.read_to_string(&mut err).map(|_| err)
    });
    // VmHWM only grows: the last value read before the process ends is its
    // peak (it ends right after writing its last line).
    let mut peak_rss = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        peak_rss = peak_rss.max(vm_hwm(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(2));
    };
    writer.join().unwrap().unwrap();
    Run {
        stdout: reader.join().unwrap().unwrap(),
        stderr: errors.join().unwrap().unwrap(),
        code: status.code(),
        peak_rss,
    }
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect()
}

/// A 100 MB line on stdin, between two ordinary events: reported as too
/// large with its line number, passed through byte for byte, and never held
/// in memory: the CLI reads the first `max_event_bytes + 1` bytes and streams
/// the rest, so its peak memory does not depend on the line's size.
#[test]
fn a_100_mb_line_passes_through_the_cli_in_bounded_memory() {
    const SIZE: usize = 100 * 1000 * 1000;
    let event = terminate("");
    let mut big = terminate(r#","pad":""#).into_bytes();
    big.truncate(big.len() - 1);
    big.resize(SIZE - 2, b'a');
    big.extend_from_slice(b"\"}");
    assert_eq!(big.len(), SIZE);
    let input = [event.as_bytes(), b"\n", &big, b"\n", event.as_bytes(), b"\n"].concat();

    let small = scan(&[], [event.as_bytes(), b"\n"].concat());
    let run = scan(&["--verdicts"], input.clone());
    let verdicts: Vec<serde_json::Value> =
        lines(&run.stdout).iter().map(|l| serde_json::from_slice(l).unwrap()).collect();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(verdicts.len(), 3);
    assert_eq!(verdicts[1]["error"]["code"], 103, "{}", verdicts[1]);
    assert_eq!((verdicts[0]["status"].as_str(), verdicts[2]["status"].as_str()), (Some("match"), Some("match")));

    let run = scan(&[], input);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = lines(&run.stdout);
    assert_eq!(out.len(), 3);
    assert!(out[1] == big.as_slice(), "the 100 MB line came back changed ({} bytes)", out[1].len());
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "100 MB line: peak RSS {:.1} MiB (one small event alone: {:.1} MiB)",
        mib(run.peak_rss),
        mib(small.peak_rss)
    );
    assert!(small.peak_rss > 0 && run.peak_rss > 0, "VmHWM was not read");
    // Bounded by the event limit, not the line: the CLI itself plus a few
    // MiB of buffers, far below the 100 MB it passed through.
    assert!(run.peak_rss < small.peak_rss + 32 * 1024 * 1024, "peak RSS {:.1} MiB", mib(run.peak_rss));
}

/// The same 100 MB line as the whole input: a first line is read whole to
/// tell a one-line CloudTrail file `{"Records":[…]}` from NDJSON (up to
/// 256 MiB, `MAX_WHOLE_FILE`), so memory is about the line's size, once.
#[test]
fn a_100_mb_line_alone_is_read_once() {
    const SIZE: usize = 100 * 1000 * 1000;
    let mut big = terminate(r#","pad":""#).into_bytes();
    big.truncate(big.len() - 1);
    big.resize(SIZE - 2, b'a');
    big.extend_from_slice(b"\"}");
    let run = scan(&[], [big.as_slice(), b"\n"].concat());
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = lines(&run.stdout);
    assert_eq!(out.len(), 1);
    assert!(out[0] == big.as_slice(), "the 100 MB line came back changed ({} bytes)", out[0].len());
    println!("100 MB line alone: peak RSS {:.1} MiB", run.peak_rss as f64 / (1024.0 * 1024.0));
    assert!(run.peak_rss < 3 * SIZE as u64, "peak RSS {} bytes for a {SIZE}-byte line", run.peak_rss);
}

/// Every row of the table as lines of one NDJSON input: each is reported
/// with its line number and code, and each comes back byte for byte.
#[test]
fn hostile_lines_pass_through_the_cli() {
    let rows = rows();
    let input: Vec<u8> = rows.iter().flat_map(|(_, e, _)| [e.as_slice(), b"\n"].concat()).collect();
    let run = scan(&[], input.clone());
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout == input, "the lines did not come back byte for byte");
    let run = scan(&["--verdicts"], input);
    let verdicts: Vec<serde_json::Value> =
        lines(&run.stdout).iter().map(|l| serde_json::from_slice(l).unwrap()).collect();
    assert_eq!(verdicts.len(), rows.len());
    for ((name, _, code), v) in rows.iter().zip(&verdicts) {
        assert_eq!(v["error"]["code"], *code, "{name}: {v}");
    }
}
