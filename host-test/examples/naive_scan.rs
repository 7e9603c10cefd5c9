//! The naive baseline as a process, for timing beside `modwatch scan` on the
//! same file (docs/performance.md#the-cli-as-a-process): reads NDJSON, writes
//! every event, tagged when the naive check matches, one line each.
//!
//! `cargo run --profile bench -p modwatch-host-test --example naive_scan -- FILE > out`

use std::io::{self, BufRead, BufReader, BufWriter, Write};

use anyhow::Context as _;
use modwatch_host_test::naive::Naive;

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).context("usage: naive_scan FILE")?;
    let file = std::fs::File::open(&path).with_context(|| format!("cannot open {path}"))?;
    let naive = Naive::new();
    let mut out = BufWriter::new(io::stdout().lock());
    for line in BufReader::with_capacity(1 << 16, file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match naive.tag(&line) {
            Some(tagged) => out.write_all(&tagged)?,
            None => out.write_all(line.as_bytes())?,
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
