//! Builds the modwatch component so the CLI embeds it: `cargo install --path
//! cli` then yields one binary that needs no other file.
//!
//! 1. `cargo build -p modwatch-component --target wasm32-unknown-unknown
//!    --profile wasm` in a target dir of its own under `OUT_DIR` (a nested
//!    cargo in the outer target dir would wait on the outer build's lock);
//! 2. `wit-component` turns the core module into a component (validated);
//! 3. the component is written to `$OUT_DIR/modwatch.component.wasm`, which
//!    `src/lib.rs` includes.
//!
//! Only the component: the Fluent Bit module is built by `host-test`'s
//! build script (its tests and benches drive it) and by `just
//! build-fluent-bit`, so a plain `cargo build` does not pay for it.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use wit_component::ComponentEncoder;

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm";
const PACKAGE: &str = "modwatch-component";
/// The component runs in hosts with wasm SIMD (wasmtime, V8, jco): with
/// `simd128` the engine's prefilter uses memchr's SIMD search.
const RUSTFLAGS: &str = "-Ctarget-feature=+simd128";

fn main() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    let root = manifest_dir.parent().ok_or("cli has no parent directory")?.to_path_buf();

    for dir in ["plugin/engine", "plugin/component", "wit", "rules", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    ensure_target()?;
    let target_dir = out_dir.join("component-target");
    build(&root, &target_dir)?;
    let path = target_dir.join(TARGET).join(PROFILE).join("modwatch_component.wasm");
    let module = fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let component = ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("turning the core module into a component: {e:#}"))?;
    let path = out_dir.join("modwatch.component.wasm");
    fs::write(&path, component).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}

/// Runs the nested cargo for the component's core module.
fn build(root: &Path, target_dir: &Path) -> Result<(), String> {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root)
        .args(["build", "-p", PACKAGE, "--target", TARGET, "--profile", PROFILE])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        // The outer build's flags are for the host (e.g. `-C target-cpu=native`)
        // and would break or change the wasm build; wasmtime's test-programs
        // artifacts build.rs does the same.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", RUSTFLAGS)
        // Under `cargo clippy` this points at clippy-driver: the component is
        // linted on its own (`cargo clippy -p modwatch-component --target …`).
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    let status = cmd.status().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if !status.success() {
        return Err(format!("building {PACKAGE} failed ({status}): {cmd:?}"));
    }
    Ok(())
}

/// Makes sure the toolchain has the standard library for [`TARGET`]. rustup
/// installs `rust-toolchain.toml`'s targets only when it installs the
/// toolchain, so a machine that already had it lacks them, and the nested
/// build would fail with "can't find crate for `std`".
fn ensure_target() -> Result<(), String> {
    let sysroot = sysroot()?;
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Ok(());
    }
    // The toolchain rustup is running (`RUSTUP_TOOLCHAIN`), else the one
    // the sysroot belongs to: rustup names its directory after it.
    let toolchain = env::var("RUSTUP_TOOLCHAIN")
        .ok()
        .or_else(|| sysroot.file_name().map(|name| name.to_string_lossy().into_owned()));
    let mut add = Command::new("rustup");
    add.args(["target", "add", TARGET]);
    if let Some(toolchain) = &toolchain {
        add.args(["--toolchain", toolchain]);
    }
    let command = format!(
        "rustup target add {TARGET}{}",
        toolchain.as_deref().map(|t| format!(" --toolchain {t}")).unwrap_or_default()
    );
    println!("cargo:warning=the toolchain has no standard library for {TARGET}: running `{command}`");
    let added = add.status().is_ok_and(|status| status.success());
    if added && sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Ok(());
    }
    Err(format!(
        "the toolchain at {} has no standard library for {TARGET}, which the nested wasm build needs; \
         run `{command}` (or install the target for this toolchain some other way) and build again",
        sysroot.display()
    ))
}

/// The sysroot of the rustc this build uses (the nested cargo inherits
/// `RUSTC`, so it is the one that builds the wasm).
fn sysroot() -> Result<PathBuf, String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("running {} --print sysroot: {e}", rustc.to_string_lossy()))?;
    if !out.status.success() {
        return Err(format!("{} --print sysroot failed ({})", rustc.to_string_lossy(), out.status));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn env_var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|e| format!("{name}: {e}"))
}
