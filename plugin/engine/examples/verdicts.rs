//! Prints the native engine's verdicts for NDJSON on stdin, one JSON line
//! per record: `cargo run -p modwatch-engine --example verdicts < events.ndjson`.

use std::io::{BufRead, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut engine = modwatch_engine::Engine::new(None, None)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        for verdict in engine.evaluate(&line) {
            writeln!(out, "{}", verdict.to_json())?;
        }
    }
    Ok(())
}
