//! `just bench`: events/s and MB/s of modwatch on a generated mix, in one run:
//! a naive `serde_json::Value`-per-event baseline, the native engine, and the
//! component in wasmtime (`tag-chunk` with chunks of 1,000 events, one `tag`
//! call per event, and `batch` with batches of 1,000), each as a ratio to the
//! native engine and to the naive baseline.
//!
//! The mix is `modwatch_testkit::r#gen::mix(100_000, 1578)` (`gen` is a
//! reserved word in edition 2024): raw and ECS, AWS and
//! Azure, 1–3 KB each, about 1% T1578. `MODWATCH_BENCH_EVENTS` changes the
//! count. Each mode gets a fresh engine, a warm-up pass over the whole mix,
//! then the best of three timed passes, single-threaded. The targets (the
//! chunk at ≥ 0.8× the native engine's events/s, per-event `tag` at ≥ 0.6×,
//! both at ≥ 5× the naive baseline) are checked here and reported, never
//! asserted in a timed test.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use modwatch::{Chunk, Detector, Status, TagResult};
use modwatch_engine::Engine;
use modwatch_host_test::naive::Naive;
use serde_json::Value;

const DEFAULT_EVENTS: usize = 100_000;
const SEED: u64 = 1578;
const RUNS: usize = 3;
const BATCH: usize = 1_000;
/// The chunk interface must reach this fraction of the native engine's events/s.
const TARGET_CHUNK: f64 = 0.8;
/// Per-event `tag` must reach this fraction of the native engine's events/s.
const TARGET_TAG: f64 = 0.6;
/// Both must reach this multiple of the naive baseline's events/s.
const TARGET_NAIVE: f64 = 5.0;

/// One measured mode.
#[derive(Debug)]
struct Row {
    mode: &'static str,
    best: Duration,
    matches: usize,
}

fn main() -> anyhow::Result<()> {
    let count = match std::env::var("MODWATCH_BENCH_EVENTS") {
        Ok(text) => text.trim().parse().with_context(|| format!("MODWATCH_BENCH_EVENTS={text:?} is not a count"))?,
        Err(_) => DEFAULT_EVENTS,
    };
    let started = Instant::now();
    let events = modwatch_testkit::r#gen::mix(count, SEED);
    let generated = started.elapsed();
    let owned: Vec<Vec<u8>> = events.iter().map(|e| e.as_bytes().to_vec()).collect();
    let (bytes, min, max) = modwatch_testkit::r#gen::stats(&events);
    let naive = Naive::new();

    // Build every engine first: a bad rule pack fails before any timing.
    Engine::new(None, None).map_err(|e| anyhow::anyhow!("the native engine refused its defaults:\n{e}"))?;
    Detector::new(None, None)?;

    let rows = [
        measure(
            "naive serde_json::Value",
            || Ok(()),
            |()| Ok(events.iter().filter(|e| black_box(naive.tag(e)).is_some()).count()),
        )?,
        measure(
            "native engine",
            || Engine::new(None, None).map_err(|e| anyhow::anyhow!("{e}")),
            |engine| Ok(events.iter().filter(|e| engine_matches(engine, e.as_bytes())).count()),
        )?,
        measure(
            "component, chunk of 1000",
            || Ok(Detector::new(None, None)?),
            |detector| {
                let mut matches = 0;
                let mut chunk = Chunk::default();
                for events in events.chunks(BATCH) {
                    chunk.clear();
                    for e in events {
                        chunk.push(e.as_bytes())?;
                    }
                    let result = detector.tag_chunk(&chunk)?;
                    black_box(&result.replaced);
                    // Verdicts come back by event; count each event once.
                    let mut last = None;
                    for v in result.verdicts.iter().filter(|v| v.verdict.status == Status::Match) {
                        matches += usize::from(last.replace(v.event) != Some(v.event));
                    }
                }
                Ok(matches)
            },
        )?,
        measure(
            "component, tag",
            || Ok(Detector::new(None, None)?),
            |detector| {
                let mut matches = 0;
                for e in &events {
                    matches += component_matches(&detector.tag(e.as_bytes())?);
                }
                Ok(matches)
            },
        )?,
        measure(
            "component, batch of 1000",
            || Ok(Detector::new(None, None)?),
            |detector| {
                let mut matches = 0;
                for chunk in owned.chunks(BATCH) {
                    matches += detector.batch(chunk)?.iter().map(component_matches).sum::<usize>();
                }
                Ok(matches)
            },
        )?,
    ];

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let by_generator = events.iter().filter(|e| generated_match(e)).count();
    println!("modwatch throughput (host-test/benches/throughput.rs)");
    println!(
        "mix: {count} events from gen::mix(_, {SEED}), {:.1} MB, {min}-{max} B each (mean {} B), {by_generator} T1578 ({:.2}%), generated in {:.1} s",
        mb(bytes),
        bytes / count.max(1),
        percent(by_generator, count),
        generated.as_secs_f64()
    );
    println!(
        "machine: {cores} cores, {} {}; one thread; best of {RUNS} after a warm-up pass; MB = 10^6 bytes",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    println!();
    println!(
        "{:<26} {:>8} {:>8} {:>9} {:>11} {:>8} {:>10} {:>9} {:>8}",
        "mode", "events", "MB", "seconds", "events/s", "MB/s", "vs native", "vs naive", "matches"
    );
    let naive_rate = rate(count, rows[0].best);
    let native_rate = rate(count, rows[1].best);
    for row in &rows {
        let secs = row.best.as_secs_f64();
        println!(
            "{:<26} {:>8} {:>8.1} {:>9.3} {:>11.0} {:>8.1} {:>9.2}x {:>8.2}x {:>8}",
            row.mode,
            count,
            mb(bytes),
            secs,
            rate(count, row.best),
            mb(bytes) / secs.max(f64::EPSILON),
            rate(count, row.best) / native_rate.max(f64::EPSILON),
            rate(count, row.best) / naive_rate.max(f64::EPSILON),
            row.matches
        );
    }
    println!();
    let native = &rows[1];
    for row in &rows[2..] {
        if row.matches != native.matches {
            println!("WARNING: {} counted {} matches, the native engine {}", row.mode, row.matches, native.matches);
        }
    }
    for (row, target) in [(&rows[2], TARGET_CHUNK), (&rows[3], TARGET_TAG)] {
        let vs_native = rate(count, row.best) / native_rate.max(f64::EPSILON);
        let vs_naive = rate(count, row.best) / naive_rate.max(f64::EPSILON);
        let met = |ok: bool| if ok { "met" } else { "NOT met" };
        println!(
            "target: {} >= {target:.1}x native: {} ({vs_native:.2}x); >= {TARGET_NAIVE:.0}x naive: {} ({vs_naive:.2}x)",
            row.mode,
            met(vs_native >= target),
            met(vs_naive >= TARGET_NAIVE)
        );
    }
    println!(
        "note: naive matches on the operation name alone; the engine also applies outcome, dry-run and allowlist rules"
    );
    Ok(())
}

/// Times `pass` over the whole mix: a warm-up pass, then the best of
/// [`RUNS`], each on a fresh state from `fresh` (built outside the timing).
fn measure<S>(
    mode: &'static str,
    fresh: impl Fn() -> anyhow::Result<S>,
    pass: impl Fn(&mut S) -> anyhow::Result<usize>,
) -> anyhow::Result<Row> {
    eprintln!("measuring {mode} …");
    black_box(pass(&mut fresh()?)?);
    let mut best = Duration::MAX;
    let mut matches = 0;
    for _ in 0..RUNS {
        let mut state = fresh()?;
        let started = Instant::now();
        matches = black_box(pass(&mut state)?);
        best = best.min(started.elapsed());
    }
    Ok(Row { mode, best, matches })
}

fn engine_matches(engine: &mut Engine, event: &[u8]) -> bool {
    let tagged = engine.tag(event);
    let matched = tagged.verdicts.iter().any(|v| v.is_match());
    black_box(tagged.output);
    matched
}

fn component_matches(result: &TagResult) -> usize {
    black_box(&result.output);
    usize::from(result.verdicts.iter().any(|v| v.status == Status::Match))
}

/// Whether the generator meant the event as a T1578 match.
fn generated_match(event: &str) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(event) else { return false };
    ["/eventName", "/operationName", "/event/action"]
        .iter()
        .find_map(|p| value.pointer(p).and_then(Value::as_str))
        .is_some_and(|op| modwatch_testkit::r#gen::MATCHING_OPERATIONS.iter().any(|m| m.eq_ignore_ascii_case(op)))
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn rate(events: usize, took: Duration) -> f64 {
    events as f64 / took.as_secs_f64().max(f64::EPSILON)
}

fn percent(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}
