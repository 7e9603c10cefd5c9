//! The harness that runs every modwatch artefact in a real host, for the
//! parity tests and benchmarks of this crate: [`fluent_bit`] drives the
//! Fluent Bit module (built by `build.rs`) exactly as Fluent Bit does, the
//! component runs through the `modwatch` crate's own [`modwatch::Detector`],
//! [`modwatch_binary`] gives the real `modwatch` binary to benchmarks that
//! run it as a process, and [`naive`] is the baseline they compare with.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use modwatch_host_test::fluent_bit::{Answer, FluentBit};
//! let mut module = FluentBit::new()?;
//! let answer = module.filter("cloudtrail", 0, 0, br#"{"log":"hello"}"#)?;
//! assert_eq!(answer, Answer::Unchanged);
//! # Ok(())
//! # }
//! ```

// The component and the Fluent Bit module are where untrusted bytes are
// handled; this crate only moves them, and has no reason for `unsafe`.
#![forbid(unsafe_code)]

pub mod fluent_bit;
pub mod naive;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// Builds the `modwatch` binary of the `cli` crate with cargo `profile`
/// (e.g. `"bench"`, the profile `cargo bench` builds this crate with, so
/// every dependency is already built) and returns its path.
///
/// A bench of this crate cannot name another package's binary
/// (`CARGO_BIN_EXE_*` covers only its own), and a copy of `main` here would
/// not be the program users install; so it asks cargo for the real one,
/// which is a no-op when it is up to date. Cargo releases its build lock
/// before it runs a bench, so the nested build does not wait on it.
pub fn modwatch_binary(profile: &str) -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "-p", "modwatch", "--bin", "modwatch", "--profile", profile, "--message-format", "json"])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("building the modwatch binary failed ({}): {cmd:?}", out.status);
    }
    // The `compiler-artifact` message of the `modwatch` target names the binary.
    let executable = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "modwatch")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from));
    executable.with_context(|| format!("cargo built no modwatch executable: {cmd:?}"))
}
