//! Writes the benchmark mix of `just bench` (`modwatch_testkit::r#gen::mix`) as
//! NDJSON, so the browser runs the same events as the native engine and the
//! component: `cargo run --release -p modwatch-web --example mix -- FILE [COUNT] [SEED]`.

use std::io::Write;

// The generator from the testkit (a dev-dependency): the same events as the
// host's benchmarks, without wasmtime (minutes to build) in a benchmark of
// the browser build.
use modwatch_testkit::r#gen;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: mix FILE [COUNT] [SEED]")?;
    let count: usize = args.next().map_or(Ok(100_000), |n| n.parse())?;
    let seed: u64 = args.next().map_or(Ok(1578), |n| n.parse())?;
    let events = r#gen::mix(count, seed);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for event in &events {
        out.write_all(event.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    let (bytes, min, max) = r#gen::stats(&events);
    eprintln!("{path}: {count} events (seed {seed}), {:.1} MB, {min}-{max} B each", bytes as f64 / 1e6);
    Ok(())
}
