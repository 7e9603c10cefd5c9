//! The hostile-input table for the `modwatch` CLI (the component's rows are
//! `host-test/tests/hostile.rs`, the native ones
//! `plugin/engine/tests/hostile.rs`): each row a bad input, the verdict it
//! must get, and proof that it passed through, in bounded memory.
//! `docs/hardening.md` has the results and the figures measured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use modwatch_testkit::hostile::{rows, terminate};

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
