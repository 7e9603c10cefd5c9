//! The component compiled for this machine, kept in a cache file so that
//! only the first run pays for Cranelift.
//!
//! Compiling the component takes about a second of CPU; loading the compiled
//! form takes milliseconds. The first run compiles, writes the result to
//! `modwatch-<key>.cwasm` in the cache directory and loads it; later runs load
//! it. The key hashes the component and wasmtime's
//! [`Engine::precompile_compatibility_hash`] (the wasmtime version, its config
//! and the CPU features it compiles for), so a new binary, another wasmtime or another config never
//! reads a file it did not write. Whatever goes wrong with the cache (no
//! directory, not writable, a file wasmtime refuses) falls back to compiling
//! in memory, as without it.
//!
//! The directory is `$MODWATCH_CACHE_DIR`, else `$XDG_CACHE_HOME/modwatch`,
//! else `$HOME/.cache/modwatch` (`%LOCALAPPDATA%\modwatch` on Windows).
//! `MODWATCH_CACHE_DIR=` (empty) turns the cache off.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// The component compiled for `engine`: from the cache file when there is a
/// usable one, else compiled now (and the cache file written).
pub(crate) fn compiled(engine: &Engine, component: &[u8]) -> wasmtime::Result<Component> {
    compiled_in(cache_dir().as_deref(), engine, component)
}

/// [`compiled`] with the cache in `dir` (`None`: no cache).
fn compiled_in(dir: Option<&Path>, engine: &Engine, component: &[u8]) -> wasmtime::Result<Component> {
    let Some(path) = dir.map(|dir| dir.join(file_name(engine, component))) else {
        return Component::new(engine, component);
    };
    if let Some(loaded) = load(engine, &path) {
        return Ok(loaded);
    }
    let precompiled = engine.precompile_component(component)?;
    store(&path, &precompiled);
    // SAFETY: `precompiled` was produced just now by this engine's
    // `precompile_component` from the embedded component, which is what
    // `Component::deserialize` requires.
    #[allow(unsafe_code, reason = "loading what this engine just compiled")]
    let loaded = unsafe { Component::deserialize(engine, &precompiled) };
    loaded
}

/// The compiled component in `path`, if it is there and wasmtime takes it.
fn load(engine: &Engine, path: &Path) -> Option<Component> {
    // Read into memory rather than mapped: a mapped file rewritten in place
    // by someone else while the component runs would fault the process.
    let bytes = std::fs::read(path).ok()?;
    // Only what a `precompile_component` wrote; anything else is refused
    // here, before the unsafe call.
    Engine::detect_precompiled(&bytes)?;
    // SAFETY: `Component::deserialize` needs bytes from `precompile_component`
    // of a compatible engine. The file is named by a hash of the component
    // and this engine's compatibility hash (wasmtime version, config, CPU
    // features), was written whole (by rename) by `store` below in the
    // user's own cache directory, and wasmtime checks its version and config
    // again before using it. Anyone able to rewrite it can equally rewrite
    // the `modwatch` binary or the user's shell profile;
    // `MODWATCH_CACHE_DIR=` turns the cache off where that does not hold.
    #[allow(unsafe_code, reason = "loading the component this program compiled on an earlier run")]
    let loaded = unsafe { Component::deserialize(engine, &bytes) };
    loaded.ok()
}

/// Writes the compiled component beside its final name and renames it into
/// place, so a reader never sees half a file. Failing to cache is not an
/// error: the next run compiles again.
fn store(path: &Path, precompiled: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp);
    if std::fs::write(&temp, precompiled).is_err() || std::fs::rename(&temp, path).is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}

/// `modwatch-<key>.cwasm`, the key as described in the module docs.
fn file_name(engine: &Engine, component: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    component.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("modwatch-{:016x}.cwasm", hasher.finish())
}

fn cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = std::env::var_os("MODWATCH_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    if cfg!(windows) {
        return var("LOCALAPPDATA").map(|d| d.join("modwatch"));
    }
    var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache"))).map(|d| d.join("modwatch"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::COMPONENT;

    fn modified(path: &Path) -> SystemTime {
        std::fs::metadata(path).unwrap().modified().unwrap()
    }

    #[test]
    fn the_first_run_writes_the_cache_later_runs_load_it_and_a_bad_file_is_replaced() {
        let dir = std::env::temp_dir().join(format!("modwatch-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let engine = Engine::default();
        let path = dir.join(file_name(&engine, COMPONENT));

        compiled_in(Some(&dir), &engine, COMPONENT).unwrap();
        assert!(
            Engine::detect_precompiled_file(&path).unwrap().is_some(),
            "{} is not a compiled component",
            path.display()
        );
        let written = modified(&path);
        // Loaded, not compiled and written again.
        let loaded = compiled_in(Some(&dir), &engine, COMPONENT).unwrap();
        assert_eq!(modified(&path), written);
        assert_eq!(loaded.component_type().exports(&engine).count(), 1);
        drop(loaded);

        // A file that is not wasmtime's (or is another wasmtime's) is compiled over.
        std::fs::write(&path, b"not a compiled component").unwrap();
        compiled_in(Some(&dir), &engine, COMPONENT).unwrap();
        assert!(Engine::detect_precompiled_file(&path).unwrap().is_some());

        // Another component, or another engine config, gets another file.
        assert_ne!(file_name(&engine, b"other"), file_name(&engine, COMPONENT));
        let mut config = wasmtime::Config::new();
        config.cranelift_opt_level(wasmtime::OptLevel::None);
        assert_ne!(file_name(&Engine::new(&config).unwrap(), COMPONENT), file_name(&engine, COMPONENT));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_that_cannot_be_written_only_costs_the_compile() {
        let file = std::env::temp_dir().join(format!("modwatch-cache-test-file-{}", std::process::id()));
        std::fs::write(&file, b"a file, not a directory").unwrap();
        let engine = Engine::default();
        compiled_in(Some(&file.join("cache")), &engine, COMPONENT).unwrap();
        std::fs::remove_file(&file).unwrap();
    }
}
