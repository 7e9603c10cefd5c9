//! Builds the modwatch component so the host embeds it: `cargo install --path
//! host-test` then yields one binary that needs no other file.
//!
//! 1. `cargo build -p modwatch-component --target wasm32-unknown-unknown
//!    --profile wasm` in a target dir of its own under `OUT_DIR` (a nested
//!    cargo in the outer target dir would wait on the outer build's lock);
//! 2. `wit-component` turns the core module into a component (validated);
//! 3. the component is written to `$OUT_DIR/modwatch.component.wasm`, which
//!    `src/lib.rs` includes.
//!
//! The same nested cargo builds `modwatch-fluent-bit` (Fluent Bit's core
//! module, with the built-in pack and default config), copied unchanged to
//! `$OUT_DIR/modwatch_fluent_bit.wasm`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use wit_component::ComponentEncoder;

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm";
/// The component runs in hosts with wasm SIMD (wasmtime, V8, jco): with
/// `simd128` the engine's prefilter uses memchr's SIMD search. The Fluent Bit
/// module stays without: WAMR's interpreter is not known to run SIMD.
const COMPONENT_RUSTFLAGS: &str = "-Ctarget-feature=+simd128";

fn main() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    let root = manifest_dir.parent().ok_or("host-test has no parent directory")?.to_path_buf();

    for dir in ["plugin/engine", "plugin/component", "plugin/fluent-bit", "wit", "rules", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let target_dir = build_modules(&root, &out_dir)?;
    let read = |name: &str| {
        let package = name.trim_end_matches(".wasm").replace('_', "-");
        let path = target_dir.join(package).join(TARGET).join(PROFILE).join(name);
        fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))
    };
    let module = read("modwatch_component.wasm")?;
    let fluent_bit = out_dir.join("modwatch_fluent_bit.wasm");
    fs::write(&fluent_bit, read("modwatch_fluent_bit.wasm")?)
        .map_err(|e| format!("writing {}: {e}", fluent_bit.display()))?;
    let component = ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("turning the core module into a component: {e:#}"))?;
    let path = out_dir.join("modwatch.component.wasm");
    fs::write(&path, component).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}

/// Runs the nested cargo; returns the dir of its target dirs (one per package).
fn build_modules(root: &Path, out_dir: &Path) -> Result<PathBuf, String> {
    let target_dir = out_dir.join("component-target");
    let command = |package: &str| {
        let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.current_dir(root)
            .args(["build", "-p", package, "--target", TARGET, "--profile", PROFILE])
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            // The outer build's flags are for the host (e.g. `-C target-cpu=native`)
            // and would break or change the wasm build; wasmtime's test-programs
            // artifacts build.rs does the same.
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            // Under `cargo clippy` this points at clippy-driver: the component is
            // linted on its own (`cargo clippy -p modwatch-component --target …`).
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            // The tests hold the Fluent Bit module to the component's verdicts
            // with the built-in pack: never embed someone's own pack here.
            .env_remove("MODWATCH_FB_RULES")
            .env_remove("MODWATCH_FB_CONFIG");
        cmd
    };
    // One package per cargo run: built together, their dependencies' features
    // would be unified and the Fluent Bit module would differ from the one
    // `just build-fluent-bit` ships.
    for (package, rustflags) in [("modwatch-component", COMPONENT_RUSTFLAGS), ("modwatch-fluent-bit", "")] {
        let mut cmd = command(package);
        // Each in a target dir of its own: different flags rebuild every dependency.
        cmd.arg("--target-dir").arg(target_dir.join(package)).env("CARGO_ENCODED_RUSTFLAGS", rustflags);
        let status = cmd.status().map_err(|e| format!("running {cmd:?}: {e}"))?;
        if !status.success() {
            return Err(format!("building {package} failed ({status}): {cmd:?}"));
        }
    }
    Ok(target_dir)
}

fn env_var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|e| format!("{name}: {e}"))
}
