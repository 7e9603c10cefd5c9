//! Embeds the rule pack and config the module runs with: Fluent Bit passes
//! nothing to a wasm filter, so they are part of the module.
//!
//! `MODWATCH_FB_RULES` (a TOML rule pack or a Sigma YAML file) and `MODWATCH_FB_CONFIG` (a JSON
//! config) are paths, absolute or relative to the workspace root; unset or
//! empty means the built-in pack and the defaults. Both are loaded here with
//! the engine, so a pack or config the engine refuses fails the build.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() -> Result<(), String> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| format!("CARGO_MANIFEST_DIR: {e}"))?);
    let out = PathBuf::from(env::var("OUT_DIR").map_err(|e| format!("OUT_DIR: {e}"))?);
    let root = manifest.join("../..");
    let mut code = String::new();
    let mut texts = Vec::new();
    for (var, name) in [("MODWATCH_FB_RULES", "RULES"), ("MODWATCH_FB_CONFIG", "CONFIG")] {
        println!("cargo:rerun-if-env-changed={var}");
        let path = env::var_os(var).filter(|p| !p.is_empty()).map(|p| root.join(PathBuf::from(p)));
        let text = match &path {
            Some(path) => {
                println!("cargo:rerun-if-changed={}", path.display());
                Some(fs::read_to_string(path).map_err(|e| format!("{var}: cannot read {}: {e}", path.display()))?)
            }
            None => None,
        };
        let value = match &text {
            Some(text) => {
                let file = out.join(format!("{}.embedded", name.to_lowercase()));
                fs::write(&file, text).map_err(|e| format!("writing {}: {e}", file.display()))?;
                format!("Some(include_str!({:?}))", file.display().to_string())
            }
            None => "None".to_string(),
        };
        let _ = writeln!(code, "pub(crate) const {name}: Option<&str> = {value};");
        texts.push(text);
    }
    match modwatch_engine::Engine::new(texts[1].as_deref(), texts[0].as_deref()) {
        // What loads but will not run as written (a Sigma rule for a
        // logsource modwatch does not read) is shown, not refused.
        Ok(engine) => {
            for w in engine.rules().warnings() {
                println!("cargo:warning=the embedded rule pack: {w}");
            }
        }
        Err(errors) => {
            eprintln!("the embedded {} is refused:", errors.input());
            for e in errors.errors() {
                eprintln!("  {e}");
            }
            return Err(format!("the embedded {} is refused (the problems are listed above)", errors.input()));
        }
    }
    let file = out.join("embedded.rs");
    fs::write(&file, code).map_err(|e| format!("writing {}: {e}", file.display()))
}
