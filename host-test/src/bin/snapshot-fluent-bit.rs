//! `snapshot-fluent-bit IN OUT`: writes the Fluent Bit module IN to OUT
//! snapshotted, its engine built (`modwatch_host_test::fluent_bit::snapshot`).
//! `just build-fluent-bit` runs it on the module cargo built.

use std::{env, fs};

use anyhow::{Context as _, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let [input, output] = args.as_slice() else { bail!("usage: snapshot-fluent-bit IN.wasm OUT.wasm") };
    let module = fs::read(input).with_context(|| format!("reading {input}"))?;
    let snapshot =
        modwatch_host_test::fluent_bit::snapshot::snapshot(&module).with_context(|| format!("snapshotting {input}"))?;
    fs::write(output, &snapshot).with_context(|| format!("writing {output}"))?;
    println!("{output}: {} bytes, the engine built ({input}: {} bytes)", snapshot.len(), module.len());
    Ok(())
}
