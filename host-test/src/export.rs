//! `modwatch export`: the rule pack translated for other pipelines.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::{Failure, usage};

/// What to export.
#[derive(Debug, Subcommand)]
pub(crate) enum Export {
    /// A VRL program for Vector's `remap` transform that tags events as the
    /// engine's stateless part does (no per-principal scoring): see
    /// docs/vrl.md.
    Vrl(VrlArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VrlArgs {
    /// A TOML rule pack that replaces the built-in one.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// With `--rules`: keep the built-in pack as well.
    #[arg(long, requires = "rules")]
    with_builtin: bool,
    /// The JSON config (its points, threat tactic and allowlists are built
    /// into the program).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write the program here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn read(path: Option<&PathBuf>) -> Result<Option<String>, Failure> {
    path.map(|p| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display())).map_err(usage))
        .transpose()
}

pub(crate) fn run(export: &Export) -> Result<(), Failure> {
    let Export::Vrl(args) = export;
    let rules = read(args.rules.as_ref())?;
    let config = read(args.config.as_ref())?;
    let program = modwatch_vrl::export(rules.as_deref(), args.with_builtin, config.as_deref())
        .map_err(|e| usage(anyhow::anyhow!("{e}")))?;
    match &args.out {
        Some(path) => std::fs::write(path, program).with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(program.as_bytes()).context("cannot write to stdout")?,
    }
    Ok(())
}
