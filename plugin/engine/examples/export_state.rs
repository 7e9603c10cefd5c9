//! Runs NDJSON files through one engine (built-in pack, default config) and
//! prints the exported scoring state: the fuzz seed for `Engine::import_state`
//! (`fuzz/seed.sh`). Lines may be events or `{"event": …}` rows (scenarios,
//! corpus, which also carry `expect`); other lines are skipped.
//!
//! `cargo run -p modwatch-engine --example export_state -- FILE…`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut engine = modwatch_engine::Engine::new(None, None)?;
    for path in std::env::args().skip(1) {
        for line in std::fs::read_to_string(&path)?.lines() {
            let Ok(row) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            // An ECS event has an `event` object of its own: only a row with
            // `expect` is a wrapper.
            let event = match (row.get("event"), row.get("expect")) {
                (Some(event), Some(_)) => event,
                _ => &row,
            };
            engine.evaluate(&serde_json::to_vec(event)?);
        }
    }
    println!("{}", engine.export_state());
    Ok(())
}
