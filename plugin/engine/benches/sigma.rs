//! The cost of Sigma rules: nanoseconds per event for the built-in pack alone
//! and for the built-in pack plus a pack of 108 cloud Sigma rules written as
//! SigmaHQ writes them (`tests/sigma/cloud-pack.yml`), on the generated mix of
//! `just bench` (testkit `gen::mix`: raw and ECS CloudTrail and Azure events,
//! about 1% T1578 operations).
//!
//! `cargo bench -p modwatch-engine --bench sigma`. The two engines run
//! alternately, five rounds each, in one process; the ratio is of the medians.
//! `MODWATCH_BENCH_EVENTS` changes the size of the mix (default 100,000).
//!
//! With `MODWATCH_BENCH_PROFILE=sigma` (or `builtin`) it only tags the near
//! misses (the events no rule matches that the Sigma pack parses) once with
//! that engine, in `profiled`, for a deterministic count of instructions
//! per event: `valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect=sigma::profiled <bench binary>`, then
//! `callgrind_annotate --inclusive=yes`. `MODWATCH_BENCH_PART=unparsed`
//! profiles the quiet events both packs rule out unparsed instead.

#![allow(clippy::panic, reason = "a benchmark that cannot build its engine has nothing to measure")]

use std::hint::black_box;
use std::time::Instant;

use modwatch_engine::{Config, Engine, RuleSet};

const PACK: &str = include_str!("../../../tests/sigma/cloud-pack.yml");

fn engine(sigma: bool) -> Engine {
    let config = Config::default().with_builtin_rules(true);
    let rules = RuleSet::load(&config, sigma.then_some(PACK)).unwrap_or_else(|e| panic!("{e}"));
    Engine::with_parts(config, rules)
}

/// Nanoseconds per `tag` call over the whole mix.
fn round(engine: &mut Engine, events: &[String]) -> f64 {
    let t = Instant::now();
    for e in events {
        black_box(engine.tag(e.as_bytes()));
    }
    t.elapsed().as_nanos() as f64 / events.len() as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Median ns/event of each engine over `events`, alternating rounds.
fn compare(builtin: &mut Engine, both: &mut Engine, events: &[String]) -> (f64, f64) {
    round(builtin, events);
    round(both, events);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        a.push(round(builtin, events));
        b.push(round(both, events));
    }
    (median(a), median(b))
}

/// Tags each event once (a symbol to profile).
#[inline(never)]
fn profiled(engine: &mut Engine, events: &[String]) {
    for e in events {
        black_box(engine.tag(e.as_bytes()));
    }
}

/// The quiet events split into those the Sigma pack rules out unparsed and
/// the near misses it parses.
fn split(quiet: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut probe = engine(true);
    let (mut unparsed, mut parsed) = (Vec::new(), Vec::new());
    for e in quiet {
        let before = probe.stats().prefiltered;
        probe.evaluate(e.as_bytes());
        if probe.stats().prefiltered > before { unparsed.push(e) } else { parsed.push(e) }
    }
    (unparsed, parsed)
}

fn main() {
    let count = std::env::var("MODWATCH_BENCH_EVENTS").ok().and_then(|t| t.trim().parse().ok()).unwrap_or(100_000);
    let events = modwatch_testkit::r#gen::mix(count, 7);
    let builtin = engine(false);
    let mut both = engine(true);
    println!("rules: built-in {}, built-in + Sigma pack {}", builtin.rules().len(), both.rules().len());
    println!("rules the prefilter cannot rule out: {:?}", both.rules().unfiltered());
    println!("rules that need a pass over all the bytes: {}", both.rules().full_scan().len());
    // The events no rule of either pack matches: the bulk of a log stream.
    let quiet: Vec<String> =
        events.iter().filter(|e| !both.evaluate(e.as_bytes()).iter().any(|v| v.is_match())).cloned().collect();
    if let Ok(which) = std::env::var("MODWATCH_BENCH_PROFILE") {
        let (unparsed, parsed) = split(quiet);
        let (part, name) = match std::env::var("MODWATCH_BENCH_PART").as_deref() {
            Ok("unparsed") => (unparsed, "quiet events ruled out unparsed"),
            _ => (parsed, "near misses"),
        };
        profiled(&mut engine(which == "sigma"), &part);
        println!("{name} tagged once with the {which} engine: {}", part.len());
        return;
    }
    let mut builtin = engine(false);
    let mut both = engine(true);
    let (a, b) = compare(&mut builtin, &mut both, &events);
    let (s, base) = (both.stats(), builtin.stats());
    println!("whole mix ({} events):", events.len());
    println!(
        "  built-in pack                      {a:>8.0} ns/event  ({:.1}% prefiltered, {:.2}% match)",
        pct(base.prefiltered, base.events),
        pct(base.matches, base.events)
    );
    println!(
        "  built-in + 108 Sigma cloud rules   {b:>8.0} ns/event  ({:.1}% prefiltered, {:.2}% match)  {:.2}x",
        pct(s.prefiltered, s.events),
        pct(s.matches, s.events),
        b / a
    );
    let mut builtin = engine(false);
    let mut both = engine(true);
    let (a, b) = compare(&mut builtin, &mut both, &quiet);
    let (s, base) = (both.stats(), builtin.stats());
    println!("events no rule matches ({}):", quiet.len());
    println!(
        "  built-in pack                      {a:>8.0} ns/event  ({:.1}% prefiltered)",
        pct(base.prefiltered, base.events)
    );
    println!(
        "  built-in + 108 Sigma cloud rules   {b:>8.0} ns/event  ({:.1}% prefiltered)  {:.2}x",
        pct(s.prefiltered, s.events),
        b / a
    );
    // Split the quiet events: those both packs rule out unparsed (the
    // prefilter's own cost), and the near misses the Sigma pack must parse.
    let (unparsed, parsed) = split(quiet);
    for (name, part) in [("ruled out by both, unparsed", &unparsed), ("parsed with the Sigma pack", &parsed)] {
        let mut builtin = engine(false);
        let mut both = engine(true);
        let (a, b) = compare(&mut builtin, &mut both, part);
        println!("  {name} ({}): built-in {a:.0} ns/event, with Sigma {b:.0} ns/event  {:.2}x", part.len(), b / a);
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}
