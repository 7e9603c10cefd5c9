//! Builds the Fluent Bit module that `src/fluent_bit.rs` embeds and drives:
//! `cargo build -p modwatch-fluent-bit --target wasm32-unknown-unknown
//! --profile wasm` in a target dir of its own under `OUT_DIR` (a nested cargo
//! in the outer target dir would wait on the outer build's lock), the module
//! copied unchanged to `$OUT_DIR/modwatch_fluent_bit.wasm`; then the same
//! module with a config that sets `output.routing_fields` embedded, to
//! `$OUT_DIR/modwatch_fluent_bit_routing.wasm`, and with the Sigma packs of
//! the cross-host tests embedded (`tests/sigma/formats.yml` and
//! `tests/sigma/correlations.yml` as one rule text, written to
//! `$OUT_DIR/sigma-packs.yml`), to `$OUT_DIR/modwatch_fluent_bit_sigma.wasm`
//! (only the module's own crate is built again for each).
//!
//! Only this crate builds it for tests (the `modwatch` CLI embeds only the
//! component), so a plain `cargo build` does not pay for it.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm";
const PACKAGE: &str = "modwatch-fluent-bit";

fn main() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    let root = manifest_dir.parent().ok_or("host-test has no parent directory")?.to_path_buf();

    for dir in
        ["plugin/engine", "plugin/fluent-bit", "rules", "Cargo.toml", "Cargo.lock"].into_iter().chain(SIGMA_PACKS)
    {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    ensure_target()?;
    let target_dir = out_dir.join("fluent-bit-target");
    let routing = out_dir.join("routing.json");
    fs::write(&routing, ROUTING_CONFIG).map_err(|e| format!("writing {}: {e}", routing.display()))?;
    build(&root, &target_dir, None, None, &out_dir.join("modwatch_fluent_bit.wasm"))?;
    build(&root, &target_dir, None, Some(&routing), &out_dir.join("modwatch_fluent_bit_routing.wasm"))?;
    // The Sigma packs the cross-host Sigma tests hold every host to, in one
    // module (one build fewer), embedded as a user embeds their own pack: the
    // files joined as the CLI joins several `--rules` files.
    let sigma = out_dir.join("sigma-packs.yml");
    let mut text = String::new();
    for file in SIGMA_PACKS {
        let path = root.join(file);
        let part = fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        text += &format!("{FILE_MARKER}{file}\n{part}");
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    fs::write(&sigma, text).map_err(|e| format!("writing {}: {e}", sigma.display()))?;
    let sigma = sigma.to_str().ok_or("OUT_DIR is not UTF-8")?;
    build(&root, &target_dir, Some(sigma), None, &out_dir.join("modwatch_fluent_bit_sigma.wasm"))
}

/// The Sigma packs of `modwatch_fluent_bit_sigma.wasm`, relative to the
/// workspace root.
const SIGMA_PACKS: [&str; 2] = ["tests/sigma/formats.yml", "tests/sigma/correlations.yml"];

/// `modwatch_engine::FILE_MARKER`: a line that starts a file of a rule text
/// (the engine is not a build dependency of this crate).
const FILE_MARKER: &str = "# modwatch-file: ";

/// The config of the routing module (`fluent_bit::FLUENT_BIT_ROUTING`).
const ROUTING_CONFIG: &str = r#"{"output":{"routing_fields":true}}"#;

/// Builds the module with `rules` (absolute, or relative to the workspace root) and
/// `config` embedded (`None`: the built-in pack, the defaults) and copies it
/// to `to`.
fn build(root: &Path, target_dir: &Path, rules: Option<&str>, config: Option<&Path>, to: &Path) -> Result<(), String> {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root)
        .args(["build", "-p", PACKAGE, "--target", TARGET, "--profile", PROFILE])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
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
        // with the packs named here: never embed someone's own pack or config.
        .env_remove("MODWATCH_FB_RULES")
        .env_remove("MODWATCH_FB_CONFIG");
    if let Some(rules) = rules {
        cmd.env("MODWATCH_FB_RULES", rules);
    }
    if let Some(config) = config {
        cmd.env("MODWATCH_FB_CONFIG", config);
    }
    let status = cmd.status().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if !status.success() {
        return Err(format!("building {PACKAGE} failed ({status}): {cmd:?}"));
    }

    let built = target_dir.join(TARGET).join(PROFILE).join("modwatch_fluent_bit.wasm");
    let module = fs::read(&built).map_err(|e| format!("reading {}: {e}", built.display()))?;
    fs::write(to, module).map_err(|e| format!("writing {}: {e}", to.display()))
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
