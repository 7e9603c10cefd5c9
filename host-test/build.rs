//! Builds the Fluent Bit module that `src/fluent_bit.rs` embeds and drives:
//! `cargo build -p modwatch-fluent-bit --target wasm32-unknown-unknown
//! --profile wasm` in a target dir of its own under `OUT_DIR` (a nested cargo
//! in the outer target dir would wait on the outer build's lock), the module
//! copied unchanged to `$OUT_DIR/modwatch_fluent_bit.wasm`.
//!
//! Only this crate builds it for tests (the `modwatch` CLI embeds only the
//! component), so a plain `cargo build` does not pay for it.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm";
const PACKAGE: &str = "modwatch-fluent-bit";

fn main() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    let root = manifest_dir.parent().ok_or("host-test has no parent directory")?.to_path_buf();

    for dir in ["plugin/engine", "plugin/fluent-bit", "rules", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let target_dir = out_dir.join("fluent-bit-target");
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&root)
        .args(["build", "-p", PACKAGE, "--target", TARGET, "--profile", PROFILE])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's flags are for the host (e.g. `-C target-cpu=native`)
        // and would break or change the wasm build. No SIMD either: WAMR's
        // interpreter, which runs the module in Fluent Bit, is not known to
        // run it.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", "")
        // Under `cargo clippy` this points at clippy-driver: the module is
        // linted on its own (`just lint-fluent-bit`).
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        // The tests hold the Fluent Bit module to the component's verdicts
        // with the built-in pack: never embed someone's own pack here.
        .env_remove("MODWATCH_FB_RULES")
        .env_remove("MODWATCH_FB_CONFIG");
    let status = cmd.status().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if !status.success() {
        return Err(format!("building {PACKAGE} failed ({status}): {cmd:?}"));
    }

    let built = target_dir.join(TARGET).join(PROFILE).join("modwatch_fluent_bit.wasm");
    let module = fs::read(&built).map_err(|e| format!("reading {}: {e}", built.display()))?;
    let path = out_dir.join("modwatch_fluent_bit.wasm");
    fs::write(&path, module).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}

fn env_var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|e| format!("{name}: {e}"))
}
