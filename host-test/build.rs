//! Builds the modwatch component so the host embeds it: `cargo install --path
//! host-test` then yields one binary that needs no other file.
//!
//! 1. `cargo build -p modwatch-component --target wasm32-unknown-unknown
//!    --profile wasm` in a target dir of its own under `OUT_DIR` (a nested
//!    cargo in the outer target dir would wait on the outer build's lock);
//! 2. `wit-component` turns the core module into a component (validated);
//! 3. the component is written to `$OUT_DIR/modwatch.component.wasm`, which
//!    `src/lib.rs` includes.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use wit_component::ComponentEncoder;

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm";

fn main() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    let root = manifest_dir.parent().ok_or("host-test has no parent directory")?.to_path_buf();

    for dir in ["plugin/engine", "plugin/component", "wit", "rules", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let module = build_module(&root, &out_dir)?;
    let component = ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("turning the core module into a component: {e:#}"))?;
    let path = out_dir.join("modwatch.component.wasm");
    fs::write(&path, component).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}

/// Runs the nested cargo and returns the core module's bytes.
fn build_module(root: &Path, out_dir: &Path) -> Result<Vec<u8>, String> {
    let target_dir = out_dir.join("component-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "-p", "modwatch-component", "--target", TARGET, "--profile", PROFILE])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's flags are for the host (e.g. `-C target-cpu=native`)
        // and would break or change the wasm build; wasmtime's test-programs
        // artifacts build.rs does the same.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        // Under `cargo clippy` this points at clippy-driver: the component is
        // linted on its own (`cargo clippy -p modwatch-component --target …`).
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    let status = cmd.status().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if !status.success() {
        return Err(format!("building the component failed ({status}): {cmd:?}"));
    }
    let wasm = target_dir.join(TARGET).join(PROFILE).join("modwatch_component.wasm");
    fs::read(&wasm).map_err(|e| format!("reading {}: {e}", wasm.display()))
}

fn env_var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|e| format!("{name}: {e}"))
}
