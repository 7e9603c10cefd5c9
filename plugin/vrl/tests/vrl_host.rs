//! What the VRL tests share: the repository's events, and VRL's own
//! compiler and runtime as Vector's `remap` runs a program.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use vrl::compiler::{Context, Program, TargetValue, TimeZone, state::RuntimeState};
use vrl::value::{Secrets, Value};

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compiles a program with VRL's standard library; panics with the
/// diagnostics on an error. Returns the program and its warnings.
pub(crate) fn compile(source: &str) -> (Program, Vec<String>) {
    let fns = vrl::stdlib::all();
    match vrl::compiler::compile(source, &fns) {
        Ok(result) => {
            let warnings = result
                .warnings
                .iter()
                .map(|d| vrl::diagnostic::Formatter::new(source, vec![d.clone()]).to_string())
                .collect();
            (result.program, warnings)
        }
        Err(diagnostics) => {
            panic!("the program does not compile:\n{}", vrl::diagnostic::Formatter::new(source, diagnostics))
        }
    }
}

/// Runs the program on one event (as `remap` does: the event is the target).
pub(crate) fn run(program: &Program, event: &Json) -> Json {
    let mut target = TargetValue {
        value: Value::from(event.clone()),
        metadata: Value::Object(BTreeMap::new()),
        secrets: Secrets::default(),
    };
    let mut state = RuntimeState::default();
    let tz = TimeZone::default();
    let mut ctx = Context::new(&mut target, &mut state, &tz);
    if let Err(e) = program.resolve(&mut ctx) {
        panic!("the program failed at runtime on {event}: {e}");
    }
    serde_json::to_value(&target.value).expect("a VRL value serialises")
}

/// A JSON value as VRL sees it and gives it back (numbers as i64/f64), so
/// that expected and actual compare on the same footing.
pub(crate) fn as_vrl(v: &Json) -> Json {
    serde_json::to_value(Value::from(v.clone())).expect("a VRL value serialises")
}

/// Every corpus and scenario event, with the config its file sets.
pub(crate) fn corpus() -> Vec<(String, Option<String>, Json)> {
    let mut out = Vec::new();
    let root = repo().join("tests");
    let lines = std::fs::read_to_string(root.join("corpus/events.ndjson")).unwrap();
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Json = serde_json::from_str(line).unwrap();
        out.push((format!("corpus {}", entry["id"]), None, entry["event"].clone()));
    }
    let rows = std::fs::read_to_string(root.join("false-negatives.ndjson")).unwrap();
    for line in rows.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Json = serde_json::from_str(line).unwrap();
        out.push((format!("false negative {}", entry["name"]), None, entry["event"].clone()));
    }
    for file in ["s3-batch.json", "azure-records-batch.json"] {
        let text = std::fs::read_to_string(root.join("corpus").join(file)).unwrap();
        out.push((format!("corpus {file}"), None, serde_json::from_str(&text).unwrap()));
    }
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(root.join("scenarios")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut config = None;
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let entry: Json = serde_json::from_str(line).unwrap();
            if let Some(c) = entry.get("config") {
                config = Some(c.to_string());
            } else {
                out.push((format!("scenario {name}:{}", n + 1), config.clone(), entry["event"].clone()));
            }
        }
    }
    out
}
