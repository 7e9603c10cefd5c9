//! Scoring benchmark: memory per tracked principal, memory under principal
//! spraying, and the cost of a scored event against an unscored one.
//!
//! `cargo bench -p modwatch-engine --bench scoring` (or `just bench`). Memory
//! is measured with a counting allocator (`modwatch_testkit::counting`): live
//! heap bytes, not estimates.

#![allow(clippy::panic, reason = "a benchmark that cannot build its engine has nothing to measure")]

use std::hint::black_box;
use std::time::Instant;

use modwatch_engine::Engine;
use modwatch_testkit::counting::{Counting, live};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A TerminateInstances by user `n`, `minute` minutes into the day.
fn terminate(n: usize, minute: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.09","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","eventTime":"2026-03-02T{:02}:{:02}:00Z","eventID":"e-{n}-{minute}","sourceIPAddress":"203.0.113.{}","recipientAccountId":"111122223333","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/user-{n:08}","accountId":"111122223333","userName":"user-{n:08}"}},"requestParameters":{{"instancesSet":{{"items":[{{"instanceId":"i-0123456789abcdef0"}}]}}}}}}"#,
        (minute / 60) % 24,
        minute % 60,
        n % 250
    )
}

/// Nanoseconds per `tag` call, cycling through `sample`, after a warm-up.
fn time(label: &str, sample: &[String], events: usize) -> f64 {
    let mut engine = Engine::new(None, None).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..10_000 {
        black_box(engine.tag(sample[i % sample.len()].as_bytes()));
    }
    let t = Instant::now();
    for i in 0..events {
        black_box(engine.tag(sample[i % sample.len()].as_bytes()));
    }
    let ns = t.elapsed().as_nanos() as f64 / events as f64;
    println!("  {label:<52} {ns:>8.0} ns/event");
    ns
}

fn main() {
    // 1. Memory per tracked principal: 100,000 distinct principals.
    let mut engine = Engine::new(None, None).unwrap_or_else(|e| panic!("{e}"));
    engine.tag(terminate(0, 0).as_bytes()); // warm-up: lazy structures
    let base = live();
    let n = 100_000;
    for i in 1..=n {
        black_box(engine.tag(terminate(i, 1).as_bytes()));
    }
    let per = (live() - base) as f64 / n as f64;
    let key_len = "111122223333|arn:aws:iam::111122223333:user/user-00000000".len();
    println!("scoring state");
    println!("  tracked principals                     {:>12}", engine.stats().principals);
    println!("  heap per tracked principal (measured)  {:>12.0} bytes (key of {key_len} bytes, incl. index)", per);
    println!("  fixed part per principal (computed)    {:>12} bytes", Engine::bytes_per_principal(key_len));

    // 2. Spraying: 1,000,000 distinct principals at the default cap of 100,000.
    drop(engine);
    let mut engine = Engine::new(None, None).unwrap_or_else(|e| panic!("{e}"));
    let start = live();
    let mut at_cap = 0;
    let spray = 1_000_000;
    for i in 0..spray {
        black_box(engine.tag(terminate(i, 2).as_bytes()));
        if i + 1 == 100_000 {
            at_cap = live() - start;
        }
    }
    let s = engine.stats();
    println!("  sprayed {spray} principals: tracked {}, evicted {}", s.principals, s.evictions);
    println!(
        "  live heap at 100k principals {:>8.1} MiB, after 1M {:>8.1} MiB (bounded)",
        at_cap as f64 / 1048576.0,
        (live() - start) as f64 / 1048576.0
    );

    // 3. Cost of a scored event against an unscored one (same engine).
    let events = 200_000;
    let scored: Vec<String> = (0..1000).map(|i| terminate(i, 3 + i % 10)).collect();
    let unscored_match = r#"{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","requestParameters":{"instancesSet":{"items":[{"instanceId":"i-0123456789abcdef0"}]}}}"#;
    let non_match = terminate(1, 1).replace("TerminateInstances", "DescribeInstances");
    println!("cost per event (native, tag mode)");
    let a = time("non-matching event (prefiltered, not parsed)", &[non_match], events);
    let b = time("matching event without a principal (not scored)", &[unscored_match.to_string()], events);
    let c = time("matching event, scored (1,000 principals)", &scored, events);
    println!(
        "  scoring adds {:.0} ns to a match ({:.1}% of the match); a non-match costs {:.1}% of a scored match",
        c - b,
        (c - b) / b * 100.0,
        a / c * 100.0
    );
}
