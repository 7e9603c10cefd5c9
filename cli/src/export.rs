//! `modwatch export`: the rule pack translated for other pipelines.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::{Failure, PackArgs, read_rules, read_text, usage};

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
    /// The rule pack and the config (its points, threat tactic and
    /// allowlists are built into the program).
    #[command(flatten)]
    pack: PackArgs,
    /// Write the program here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub(crate) fn run(export: &Export) -> Result<(), Failure> {
    let Export::Vrl(args) = export;
    let rules = read_rules(&args.pack.rules)?;
    let config = read_text(args.pack.config.as_deref())?;
    // The pack's warnings, as `scan` prints them.
    let options = crate::Options { validate: None, builtin_rules: args.pack.with_builtin.then_some(true) };
    crate::detector(config.as_deref(), rules.as_deref(), options)?;
    let program = modwatch_vrl::export(rules.as_deref(), args.pack.with_builtin, config.as_deref())
        .map_err(|e| usage(anyhow::anyhow!("{e}")))?;
    match &args.out {
        Some(path) => std::fs::write(path, program).with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(program.as_bytes()).context("cannot write to stdout")?,
    }
    Ok(())
}
