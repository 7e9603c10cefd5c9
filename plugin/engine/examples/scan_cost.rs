//! Instruction-count comparison for profiling (`valgrind --tool=callgrind`):
//! `scan_cost naive|engine < events.ndjson` parses every line into a
//! `serde_json::Value` (naive) or tags it with the engine.

use std::hint::black_box;
use std::io::Read;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut engine = modwatch_engine::Engine::new(None, None)?;
    let mut n = 0usize;
    for line in &lines {
        if mode == "naive" {
            let v: serde_json::Value = serde_json::from_str(line)?;
            n += usize::from(v.get("eventName").is_some());
        } else if mode == "engine" {
            n += usize::from(black_box(engine.tag(line.as_bytes())).verdicts[0].is_match());
        }
    }
    println!("{n} of {} events; {} passed on unparsed", lines.len(), engine.stats().prefiltered);
    Ok(())
}
