//! `modwatch export`: the rule pack translated for other pipelines.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use modwatch_engine::{Config, RuleSet};

use crate::{Failure, PackArgs, read_rules, read_text, usage};

/// What to export.
#[derive(Debug, Subcommand)]
pub(crate) enum Export {
    /// A VRL program for Vector's `remap` transform that tags events as the
    /// engine's stateless part does (no per-principal scoring): see
    /// docs/vrl.md.
    Vrl(VrlArgs),
    /// The rules as Sigma rules, for other Sigma tools: each rule Sigma can
    /// express, with the reason on stderr for each it cannot (see
    /// docs/sigma.md).
    Sigma(SigmaArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SigmaArgs {
    /// The rule pack (and the config whose threat tactic the rules carry).
    #[command(flatten)]
    pack: PackArgs,
    /// Write the rules here instead of stdout: one multi-document YAML file,
    /// or, for a directory (existing, or ending in `/`), one `<rule id>.yml`
    /// per rule.
    #[arg(long, value_name = "FILE|DIR")]
    out: Option<PathBuf>,
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
    match export {
        Export::Vrl(args) => vrl(args),
        Export::Sigma(args) => sigma(args),
    }
}

fn vrl(args: &VrlArgs) -> Result<(), Failure> {
    let (set, config) = load(&args.pack)?;
    let program = modwatch_vrl::program(&set, &config).map_err(|e| usage(anyhow::anyhow!("{e}")))?;
    write(args.out.as_deref(), &program)
}

/// The rule set and config of the command line (`--with-builtin` keeps the
/// built-in pack beside `--rules`).
fn load(args: &PackArgs) -> Result<(RuleSet, Config), Failure> {
    let rules = read_rules(&args.rules)?;
    let mut config = match read_text(args.config.as_deref())? {
        Some(text) => Config::from_json(&text).map_err(|e| usage(anyhow::anyhow!("{e}")))?,
        None => Config::default(),
    };
    if rules.is_some() && args.with_builtin {
        config = config.with_builtin_rules(true);
    }
    let set = RuleSet::load(&config, rules.as_deref()).map_err(|e| usage(anyhow::anyhow!("{e}")))?;
    // The pack's warnings, as `scan` prints them.
    crate::warn(set.warnings());
    Ok((set, config))
}

fn write(out: Option<&Path>, text: &str) -> Result<(), Failure> {
    match out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes()).context("cannot write to stdout")?,
    }
    Ok(())
}

/// Writes the Sigma rules; each skipped rule and why goes to stderr. Fails
/// (exit 1) only when no rule could be written.
fn sigma(args: &SigmaArgs) -> Result<(), Failure> {
    let (set, config) = load(&args.pack)?;
    let pack = modwatch_engine::export::sigma(&set, &config);
    for skipped in &pack.skipped {
        eprintln!("modwatch: rule {} skipped: {}", skipped.id, skipped.reason);
    }
    if pack.rules.is_empty() {
        return Err(anyhow::anyhow!("no rule could be written as Sigma ({} skipped)", pack.skipped.len()).into());
    }
    match &args.out {
        Some(dir) if dir.is_dir() || dir.as_os_str().to_string_lossy().ends_with('/') => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            for rule in &pack.rules {
                write(Some(dir.join(format!("{}.yml", rule.id)).as_path()), &rule.text)?;
            }
            Ok(())
        }
        out => write(out.as_deref(), &pack.text()),
    }
}
