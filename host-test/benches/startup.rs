//! `cargo bench -p modwatch-host-test --bench startup`: where the start-up of
//! a `modwatch` process goes, step by step, in this process: compiling the
//! component with Cranelift, precompiling it and loading the precompiled
//! form (what the CLI's cache does), instantiating, and creating the engine
//! with the built-in pack inside wasm, against the native engine's load.
//! Each step is the median of several runs. The whole process is measured
//! with `hyperfine` (docs/performance.md#start-up).

use std::time::{Duration, Instant};

use modwatch::{COMPONENT, Detector};
use wasmtime::Engine;
use wasmtime::component::Component;

const RUNS: usize = 5;

fn main() -> anyhow::Result<()> {
    let engine = Engine::default();
    let compile = median(|| Ok(Component::new(&engine, COMPONENT).map(drop)?))?;
    let precompiled = engine.precompile_component(COMPONENT).map_err(anyhow::Error::from)?;
    // SAFETY: the bytes were produced just above by this engine's
    // `precompile_component`.
    #[allow(unsafe_code, reason = "loading what this engine just compiled")]
    let load = median(|| Ok(unsafe { Component::deserialize(&engine, &precompiled) }.map(drop)?))?;
    // The first Detector compiles (or loads from the cache) once per process.
    Detector::new(None, None)?;
    let create = median(|| Detector::new(None, None).map(drop).map_err(anyhow::Error::from))?;
    let native = median(|| modwatch_engine::Engine::new(None, None).map(drop).map_err(|e| anyhow::anyhow!("{e}")))?;
    let mut detector = Detector::new(None, None)?;
    let first = median(|| detector.tag(b"{}").map(drop))?;

    println!("modwatch start-up, step by step (host-test/benches/startup.rs), median of {RUNS}");
    println!("component: {} bytes; precompiled: {} bytes", COMPONENT.len(), precompiled.len());
    println!();
    let row = |what: &str, d: Duration| println!("{what:<58} {:>10.2} ms", d.as_secs_f64() * 1e3);
    row("compile the component (Cranelift, Component::new)", compile);
    row("load it precompiled (Component::deserialize)", load);
    row("instantiate + create the engine, built-in pack (in wasm)", create);
    row("create the native engine, built-in pack", native);
    row("tag `{}`", first);
    Ok(())
}

fn median(mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        f()?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[RUNS / 2])
}
