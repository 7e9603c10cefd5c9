//! The labelled corpus of `tests/corpus/` (a copy of the shared corpus): its
//! events with their `match` / `no-match` labels, and the labels of the
//! records of its batch files.

use std::path::PathBuf;

use serde_json::Value;

/// `tests/corpus/` at the repository root.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus")
}

/// Reads a corpus file, failing with its path (no silent skip).
pub fn read(name: &str) -> String {
    let path = corpus_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read the corpus file {}: {e}", path.display()))
}

/// One labelled event of `events.ndjson`.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// The corpus id, e.g. `aws-panther-01`.
    pub id: String,
    /// True for `expect: "match"`.
    pub expect_match: bool,
    /// The event as compact JSON (keys in their order).
    pub event: Vec<u8>,
}

/// Every event of `events.ndjson`.
pub fn events() -> Vec<Labelled> {
    read("events.ndjson")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad corpus line {line}: {e}"));
            let expect = v["expect"].as_str().unwrap_or_default();
            assert!(expect == "match" || expect == "no-match", "bad label {expect:?} in {line}");
            Labelled {
                id: v["id"].as_str().unwrap_or_default().to_string(),
                expect_match: expect == "match",
                event: serde_json::to_vec(&v["event"]).unwrap_or_default(),
            }
        })
        .collect()
}

/// The labels of the records of `s3-batch.json`, in order (`tests/corpus/README.md`).
pub const S3_BATCH_LABELS: [(&str, bool); 9] = [
    ("StartInstances", true),
    ("StopInstances", true),
    ("CreateKeyPair", false),
    ("CreateUser", false),
    ("AddUserToGroup", false),
    ("UpdateTrail (errorCode)", false),
    ("Insight Start", false),
    ("Insight End", false),
    ("TerminateInstances (Root)", true),
];

/// The labels of the records of `azure-records-batch.json`.
pub const AZURE_BATCH_LABELS: [(&str, bool); 1] = [("storage operation", false)];

/// The Sigma pack every host is held to: `tests/sigma/formats.yml`.
pub fn sigma_pack() -> String {
    let path = corpus_dir().join("../sigma/formats.yml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The events of the Sigma parity tests, as `(id, compact JSON)`: each
/// event of `tests/sigma/formats.ndjson` (one operation in every input
/// shape), then each event of `events.ndjson`. Their verdicts under
/// [`sigma_pack`] are `tests/golden/sigma.verdicts.ndjson`.
pub fn sigma_events() -> Vec<(String, Vec<u8>)> {
    let path = corpus_dir().join("../sigma/formats.ndjson");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let formats = text.lines().filter(|l| !l.trim().is_empty()).map(|line| {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line}: {e}"));
        let id = format!("{} as {}", v["op"].as_str().unwrap_or_default(), v["format"].as_str().unwrap_or_default());
        (id, serde_json::to_vec(&v["event"]).unwrap_or_default())
    });
    formats.chain(events().into_iter().map(|e| (e.id, e.event))).collect()
}
