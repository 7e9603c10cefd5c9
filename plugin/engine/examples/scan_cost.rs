//! Instruction-count comparison for profiling (`valgrind --tool=callgrind`):
//! `scan_cost naive|engine|output [ROUNDS] < events.ndjson` parses every line
//! into a `serde_json::Value` (naive), tags it with the engine (engine), or
//! tags it and prints each output line (output: what the engine passes on, to
//! compare two builds byte for byte), `ROUNDS` times over (default 1). The
//! instructions of one event are the difference between two round counts
//! divided by the difference in events: the engine's build cancels out.

use std::hint::black_box;
use std::io::{Read, Write};

use modwatch_engine::Output;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let rounds: usize = args.next().map_or(Ok(1), |n| n.parse())?;
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut engine = modwatch_engine::Engine::new(None, None)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut n = 0usize;
    for _ in 0..rounds {
        for line in &lines {
            if mode == "naive" {
                let v: serde_json::Value = serde_json::from_str(line)?;
                n += usize::from(v.get("eventName").is_some());
            } else if mode == "engine" {
                n += usize::from(black_box(engine.tag(line.as_bytes())).verdicts[0].is_match());
            } else if mode == "output" {
                let tagged = engine.tag(line.as_bytes());
                n += usize::from(tagged.verdicts[0].is_match());
                match tagged.output {
                    Output::Replaced(bytes) => out.write_all(&bytes)?,
                    Output::Unchanged => out.write_all(line.as_bytes())?,
                    Output::Dropped => {}
                }
                out.write_all(b"\n")?;
            }
        }
    }
    eprintln!("{n} of {} events; {} passed on unparsed", lines.len() * rounds, engine.stats().prefiltered);
    Ok(())
}
