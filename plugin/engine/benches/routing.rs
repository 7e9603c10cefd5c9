//! What `output.routing_fields` costs: events/s of `Engine::tag` on the
//! generated mix with the defaults, with the routing fields, and with
//! `input.validate` (every event parsed and every rule evaluated), each the
//! best of three passes after a warm-up, one thread.
//!
//! `cargo bench -p modwatch-engine --bench routing` (or `just bench`).
//! `MODWATCH_BENCH_EVENTS` changes the count (default 100,000).

#![allow(clippy::panic, reason = "a benchmark that cannot build its engine has nothing to measure")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use modwatch_engine::{Engine, Output};

const SEED: u64 = 1578;
const RUNS: usize = 3;

/// The best pass of `config` over `events`, and how many events came back
/// with fields added.
fn measure(config: Option<&str>, events: &[String]) -> (Duration, usize) {
    let engine = || Engine::new(config, None).unwrap_or_else(|e| panic!("{e}"));
    let mut warm = engine();
    let replaced = events.iter().filter(|e| matches!(warm.tag(e.as_bytes()).output, Output::Replaced(_))).count();
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let mut engine = engine();
        let started = Instant::now();
        for e in events {
            black_box(engine.tag(e.as_bytes()));
        }
        best = best.min(started.elapsed());
    }
    (best, replaced)
}

fn main() {
    let count = std::env::var("MODWATCH_BENCH_EVENTS").ok().and_then(|t| t.trim().parse().ok()).unwrap_or(100_000);
    let events = modwatch_testkit::r#gen::mix(count, SEED);
    let bytes: usize = events.iter().map(String::len).sum();
    println!("output.routing_fields (plugin/engine/benches/routing.rs)");
    println!("mix: {count} events from gen::mix(_, {SEED}), {:.1} MB; one thread, best of {RUNS}", bytes as f64 / 1e6);
    println!("{:<36} {:>11} {:>10} {:>10} {:>9}", "config", "events/s", "ns/event", "vs default", "replaced");
    let mut default_rate = 0.0;
    for (label, config) in [
        ("defaults", None),
        ("output.routing_fields", Some(r#"{"output":{"routing_fields":true}}"#)),
        ("input.validate", Some(r#"{"input":{"validate":true}}"#)),
    ] {
        let (best, replaced) = measure(config, &events);
        let rate = count as f64 / best.as_secs_f64();
        if config.is_none() {
            default_rate = rate;
        }
        println!(
            "{label:<36} {rate:>11.0} {:>10.0} {:>9.2}x {replaced:>9}",
            best.as_nanos() as f64 / count as f64,
            rate / default_rate
        );
    }
}
