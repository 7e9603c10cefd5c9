//! `just bench` (VRL part): the exported program on Vector's own VRL engine
//! (the `vrl` crate Vector runs `remap` with), against a parse-only program,
//! the native engine and a naive serde_json pass, on the same events, in one
//! run.
//!
//! Each event of `modwatch_testkit::r#gen::mix(n, 1578)` (raw and ECS,
//! CloudTrail and Azure, 1–3 KB, about 1% T1578) is a Vector log event as a
//! `file` or `http_server` source makes it: the line in `message`. The
//! parse-only program is `. = parse_json!(.message)`, the least a `remap`
//! that reads the records does; the modwatch program reads `message` the
//! same way and adds its tags to the matches. Compile time is what Vector
//! pays at start-up and on every reload: one `vrl::compiler::compile` of each
//! program, on this thread. Events/s: a fresh runtime state per event as
//! `remap` does, a warm-up pass, then the best of three passes,
//! single-threaded. Each time is also taken as this thread's CPU time
//! (Linux: `/proc/thread-self/schedstat`), which other processes on a shared
//! machine do not inflate: what the wall-clock time would be on an idle one.
//! `MODWATCH_BENCH_EVENTS` changes the count (default 20,000). Targets (the
//! modwatch program at ≥ 0.5× the parse-only program's events/s, compiled in
//! ≤ 5 s; judged on CPU time where it can be read) are reported, never
//! asserted.

#![allow(clippy::panic, reason = "a benchmark that cannot build its program or engine has nothing to measure")]
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark reports on the terminal")]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use modwatch_engine::Engine;
use vrl::compiler::{Context, Program, TargetValue, TimeZone, state::RuntimeState};
use vrl::value::{Secrets, Value};

const DEFAULT_EVENTS: usize = 20_000;
const SEED: u64 = 1578;
const RUNS: usize = 3;
/// The modwatch program must reach this share of the parse-only program's events/s.
const RATE_TARGET: f64 = 0.5;
/// And compile within this many seconds.
const COMPILE_TARGET: f64 = 5.0;
/// The parse-only program.
const PARSE_ONLY: &str = ". = parse_json!(.message)";

struct Row {
    mode: &'static str,
    best: Duration,
    /// The best pass in this thread's CPU time, where it can be read.
    best_cpu: Option<Duration>,
    matches: usize,
}

/// This thread's CPU time so far (Linux), `None` elsewhere.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(text.split_whitespace().next()?.parse().ok()?))
}

/// Runs `f`, timing it by the wall clock and by this thread's CPU time.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Option<Duration>) {
    let (cpu, started) = (cpu_time(), Instant::now());
    let out = f();
    let wall = started.elapsed();
    let cpu = cpu.zip(cpu_time()).map(|(before, after)| after.saturating_sub(before));
    (out, wall, cpu)
}

fn main() {
    let count = match std::env::var("MODWATCH_BENCH_EVENTS") {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("MODWATCH_BENCH_EVENTS={text:?} is not a count")),
        Err(_) => DEFAULT_EVENTS,
    };
    let events = modwatch_testkit::r#gen::mix(count, SEED);
    let (bytes, min, max) = modwatch_testkit::r#gen::stats(&events);
    let lines: Vec<Value> = events.iter().map(|e| envelope(e)).collect();
    let decoded: Vec<Value> =
        events.iter().map(|e| Value::from(serde_json::from_str::<serde_json::Value>(e).unwrap_or_default())).collect();

    let source = match modwatch_vrl::export(None, false, None) {
        Ok(source) => source,
        Err(e) => panic!("the built-in pack does not export:\n{e}"),
    };
    let (ours, ours_compile, ours_compile_cpu) = compile(&source);
    let (parse_only, parse_only_compile, _) = compile(PARSE_ONLY);

    let engine = || Engine::new(None, None).unwrap_or_else(|e| panic!("the engine refused its defaults:\n{e}"));
    let rows = [
        measure(
            "serde_json parse+write",
            || (),
            |_| {
                for e in &events {
                    let value: serde_json::Value = serde_json::from_str(e).unwrap_or_default();
                    black_box(serde_json::to_vec(&value).unwrap_or_default());
                }
                0
            },
        ),
        measure("native engine", engine, |engine| {
            events.iter().filter(|e| engine.tag(e.as_bytes()).verdicts.iter().any(|v| v.is_match())).count()
        }),
        measure("VRL parse-only", || (), |_| run_all(&parse_only, &lines)),
        measure("VRL modwatch program", || (), |_| run_all(&ours, &lines)),
        measure("  on decoded records", || (), |_| run_all(&ours, &decoded)),
    ];

    let rate = |row: &Row| count as f64 / row.best.as_secs_f64().max(f64::EPSILON);
    let cpu_rate = |row: &Row| row.best_cpu.map(|t| count as f64 / t.as_secs_f64().max(f64::EPSILON));
    println!("modwatch VRL program (plugin/vrl/benches/program.rs), the vrl crate 0.34.0");
    println!(
        "mix: {count} events from gen::mix(_, {SEED}), {:.1} MB, {min}-{max} B each (mean {} B), each as a Vector event {{\"message\": line}}",
        bytes as f64 / 1e6,
        bytes / count.max(1)
    );
    println!("one thread; best of {RUNS} after a warm-up pass");
    println!();
    let cpu_text = |t: Option<Duration>| t.map_or("-".to_string(), |t| format!("{:.2} s", t.as_secs_f64()));
    println!(
        "compile: modwatch program {:.2} s wall, {} CPU ({} lines, {} KB), parse-only {:.4} s",
        ours_compile.as_secs_f64(),
        cpu_text(ours_compile_cpu),
        source.lines().count(),
        source.len() / 1024,
        parse_only_compile.as_secs_f64()
    );
    println!();
    println!(
        "{:<24} {:>9} {:>11} {:>14} {:>12} {:>14} {:>8}",
        "mode", "seconds", "events/s", "vs parse-only", "CPU events/s", "vs parse-only", "tagged"
    );
    let base = rate(&rows[2]);
    let cpu_base = cpu_rate(&rows[2]);
    let cpu_ratio = |row: &Row| cpu_rate(row).zip(cpu_base).map(|(r, b)| r / b.max(f64::EPSILON));
    for row in &rows {
        println!(
            "{:<24} {:>9.3} {:>11.0} {:>13.2}x {:>12} {:>14} {:>8}",
            row.mode,
            row.best.as_secs_f64(),
            rate(row),
            rate(row) / base.max(f64::EPSILON),
            cpu_rate(row).map_or("-".to_string(), |r| format!("{r:.0}")),
            cpu_ratio(row).map_or("-".to_string(), |r| format!("{r:.2}x")),
            row.matches
        );
    }
    println!();
    println!("(\"on decoded records\": the same program on events a `json` codec already decoded, no `message`)");
    if rows[3].matches != rows[1].matches || rows[4].matches != rows[1].matches {
        println!(
            "WARNING: the VRL program tagged {} and {} events, the native engine matched {}",
            rows[3].matches, rows[4].matches, rows[1].matches
        );
    }
    // Judged on CPU time where it can be read (the wall clock of an idle
    // machine), else on the wall clock.
    let ratio = cpu_ratio(&rows[3]).unwrap_or(rate(&rows[3]) / base.max(f64::EPSILON));
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "target: modwatch program >= {RATE_TARGET}x parse-only events/s: {} ({ratio:.2}x)",
        met(ratio >= RATE_TARGET)
    );
    let secs = ours_compile_cpu.unwrap_or(ours_compile).as_secs_f64();
    println!(
        "target: modwatch program compiles in <= {COMPILE_TARGET} s: {} ({secs:.2} s)",
        met(secs <= COMPILE_TARGET)
    );
}

/// A Vector log event holding `line` as its `message`.
fn envelope(line: &str) -> Value {
    Value::Object(BTreeMap::from([("message".into(), Value::from(line))]))
}

fn compile(source: &str) -> (Program, Duration, Option<Duration>) {
    let fns = vrl::stdlib::all();
    match timed(|| vrl::compiler::compile(source, &fns)) {
        (Ok(result), wall, cpu) => (result.program, wall, cpu),
        (Err(diagnostics), ..) => {
            panic!("the program does not compile:\n{}", vrl::diagnostic::Formatter::new(source, diagnostics))
        }
    }
}

/// Runs `program` on a copy of every event, as `remap` does (the event is
/// the target, a fresh runtime state each); counts the events it tagged.
fn run_all(program: &Program, events: &[Value]) -> usize {
    let tz = TimeZone::default();
    let mut tagged = 0;
    for event in events {
        let mut target =
            TargetValue { value: event.clone(), metadata: Value::Object(BTreeMap::new()), secrets: Secrets::default() };
        let mut state = RuntimeState::default();
        let mut ctx = Context::new(&mut target, &mut state, &tz);
        if let Err(e) = program.resolve(&mut ctx) {
            panic!("the program failed at runtime: {e}");
        }
        tagged += usize::from(matches!(&target.value, Value::Object(m) if m.contains_key("threat")));
        black_box(&target.value);
    }
    tagged
}

/// A warm-up pass, then the best of [`RUNS`], each on a fresh state from
/// `fresh` (made outside the timing).
fn measure<S>(mode: &'static str, fresh: impl Fn() -> S, pass: impl Fn(&mut S) -> usize) -> Row {
    eprintln!("measuring {mode} …");
    black_box(pass(&mut fresh()));
    let mut best = Duration::MAX;
    let mut best_cpu: Option<Duration> = None;
    let mut matches = 0;
    for _ in 0..RUNS {
        let mut state = fresh();
        let (m, wall, cpu) = timed(|| black_box(pass(&mut state)));
        matches = m;
        best = best.min(wall);
        best_cpu = match (best_cpu, cpu) {
            (Some(b), Some(c)) => Some(b.min(c)),
            (_, c) => c,
        };
    }
    Row { mode, best, best_cpu, matches }
}
