//! modwatch in wasmtime: [`Detector`] runs the modwatch component (embedded
//! in this crate by `build.rs`) and [`input`] splits files into events. The
//! `modwatch` CLI is built on both; the cross-artefact tests and benchmarks
//! (`host-test`) use [`Detector`] too.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let mut detector = modwatch::Detector::new(None, None)?;
//! let verdicts = detector.evaluate(br#"{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances"}"#)?;
//! println!("{}", verdicts[0].json);
//! # Ok(())
//! # }
//! ```

// The component is the one place where untrusted bytes are handled; this crate
// only moves them. Its one `unsafe` call loads the component compiled by an
// earlier run (`compiled`), allowed there with the reason.
#![deny(unsafe_code)]

mod bindings;
mod cache;
pub mod input;

use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use wasmtime::component::{Linker, ResourceAny};
use wasmtime::{Engine, Store};

use bindings::exports::modwatch::detector::detection::Guest;
pub use bindings::exports::modwatch::detector::detection::{
    ChunkResult, ChunkVerdict, CorrelationStats, Error as LoadError, EventError, Options, Outcome, Output, Principal,
    Problem, Replacement, RuleMatch, Stats, Status, TagResult, Verdict,
};

/// The modwatch component (`wit/detector.wit`, world `detector`), built for
/// `wasm32-unknown-unknown` with `--profile wasm`. It imports nothing.
pub const COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/modwatch.component.wasm"));

/// The component, compiled once per process: compiling takes far longer
/// than instantiating, and every `Detector` shares the result.
fn prepared() -> anyhow::Result<&'static bindings::DetectorPre<()>> {
    static PREPARED: OnceLock<bindings::DetectorPre<()>> = OnceLock::new();
    // Held while compiling, so threads that start together compile once.
    static COMPILING: Mutex<()> = Mutex::new(());
    if let Some(pre) = PREPARED.get() {
        return Ok(pre);
    }
    let _compiling = COMPILING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pre) = PREPARED.get() {
        return Ok(pre);
    }
    let engine = Engine::default();
    let component = cache::compiled(&engine, COMPONENT)?;
    // The world has no imports: an empty linker instantiates it.
    let pre = bindings::DetectorPre::new(Linker::new(&engine).instantiate_pre(&component)?)?;
    Ok(PREPARED.get_or_init(|| pre))
}

/// One modwatch engine running in its own component instance: its rules,
/// its per-principal state and its counters.
pub struct Detector {
    store: Store<()>,
    guest: Guest,
    engine: ResourceAny,
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detector").finish_non_exhaustive()
    }
}

impl Detector {
    /// Instantiates the component and creates its engine from a JSON config
    /// (`None`: defaults) and a TOML rule pack (`None`: the built-in pack).
    pub fn new(config: Option<&str>, rules: Option<&str>) -> Result<Detector, DetectorError> {
        Detector::with_options(config, rules, Options { validate: None, builtin_rules: None })
    }

    /// As [`Detector::new`], with options that override the config's keys
    /// (`input.validate`, `rules.builtin`). The config text reaches the
    /// engine unchanged, so its problems keep their line and column.
    pub fn with_options(
        config: Option<&str>,
        rules: Option<&str>,
        options: Options,
    ) -> Result<Detector, DetectorError> {
        let pre = prepared().map_err(DetectorError::Runtime)?;
        let mut store = Store::new(pre.engine(), ());
        let instance = pre.instantiate(&mut store).map_err(|e| DetectorError::Runtime(e.into()))?;
        let guest = instance.modwatch_detector_detection().clone();
        let created = guest
            .engine()
            .call_create_with_options(&mut store, config, rules, options)
            .map_err(|e| DetectorError::Runtime(e.into()))?;
        match created {
            Ok(engine) => Ok(Detector { store, guest, engine }),
            Err(refused) => Err(DetectorError::Refused(refused)),
        }
    }

    /// The verdicts on one event: one per record.
    pub fn evaluate(&mut self, event: &[u8]) -> anyhow::Result<Vec<Verdict>> {
        Ok(self.guest.engine().call_evaluate(&mut self.store, self.engine, event)?)
    }

    /// Tags one event: what to pass on, and one verdict per record.
    pub fn tag(&mut self, event: &[u8]) -> anyhow::Result<TagResult> {
        Ok(self.guest.engine().call_tag(&mut self.store, self.engine, event)?)
    }

    /// Tags several events in one call, in order.
    pub fn batch(&mut self, events: &[Vec<u8>]) -> anyhow::Result<Vec<TagResult>> {
        Ok(self.guest.engine().call_batch(&mut self.store, self.engine, events)?)
    }

    /// Tags the events of `chunk` in one call, as [`Detector::tag`] on each
    /// would, and returns only what changed (`wit/detector.wit`,
    /// `tag-chunk`): the replaced and dropped events by index, and the
    /// verdicts that are not plain no-matches.
    pub fn tag_chunk(&mut self, chunk: &Chunk) -> anyhow::Result<ChunkResult> {
        self.tag_chunk_raw(&chunk.bytes, &chunk.ends)
    }

    /// `tag-chunk` with the buffer and the end offsets as they are: event
    /// `i` is `bytes[ends[i-1]..ends[i]]`. [`Chunk`] builds both.
    pub fn tag_chunk_raw(&mut self, bytes: &[u8], ends: &[u32]) -> anyhow::Result<ChunkResult> {
        Ok(self.guest.engine().call_tag_chunk(&mut self.store, self.engine, bytes, ends)?)
    }

    /// Tags several events through [`Detector::tag_chunk`] and gives one
    /// result per event, in order, as [`Detector::batch`] does, except that
    /// each result's `verdicts` holds only those that are not plain
    /// no-matches (an unchanged no-match event has none).
    pub fn tag_events(&mut self, events: &[impl AsRef<[u8]>]) -> anyhow::Result<Vec<TagResult>> {
        let mut chunk = Chunk::default();
        for event in events {
            chunk.push(event.as_ref())?;
        }
        Ok(self.tag_chunk(&chunk)?.per_event(chunk.len()))
    }

    /// Counters since the engine was created.
    pub fn stats(&mut self) -> anyhow::Result<Stats> {
        Ok(self.guest.engine().call_stats(&mut self.store, self.engine)?)
    }

    /// What each Sigma correlation rule did since the engine was created,
    /// sorted by rule id; empty without correlation rules.
    pub fn correlation_stats(&mut self) -> anyhow::Result<Vec<CorrelationStats>> {
        Ok(self.guest.engine().call_correlation_stats(&mut self.store, self.engine)?)
    }

    /// The per-principal scoring state, as JSON, to carry across a restart.
    pub fn export_state(&mut self) -> anyhow::Result<String> {
        Ok(self.guest.engine().call_export_state(&mut self.store, self.engine)?)
    }

    /// Replaces the scoring state with one from [`Detector::export_state`];
    /// on error the current state is kept. The outer error is wasmtime's,
    /// the inner one the engine's refusal.
    pub fn import_state(&mut self, state: &str) -> anyhow::Result<Result<(), DetectorError>> {
        let imported = self.guest.engine().call_import_state(&mut self.store, self.engine, state)?;
        Ok(imported.map_err(DetectorError::Refused))
    }

    /// The largest event the engine evaluates (`input.max_event_bytes`).
    pub fn max_event_bytes(&mut self) -> anyhow::Result<u64> {
        Ok(self.guest.engine().call_max_event_bytes(&mut self.store, self.engine)?)
    }

    /// What loaded but will not run as written, e.g. a Sigma rule whose
    /// logsource modwatch does not read (it never matches); in load order.
    pub fn warnings(&mut self) -> anyhow::Result<Vec<Problem>> {
        Ok(self.guest.engine().call_warnings(&mut self.store, self.engine)?)
    }
}

/// Events gathered into one buffer for [`Detector::tag_chunk`]: the bytes
/// of every event, one after another, and where each one ends.
#[derive(Debug, Default, Clone)]
pub struct Chunk {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Chunk {
    /// The most bytes a chunk holds: offsets are `u32` in the WIT interface.
    pub const MAX_BYTES: usize = u32::MAX as usize;

    /// Adds an event; an error if the chunk would pass [`Chunk::MAX_BYTES`].
    pub fn push(&mut self, event: &[u8]) -> anyhow::Result<()> {
        let end = u32::try_from(self.bytes.len() + event.len())
            .map_err(|_| anyhow::anyhow!("a chunk holds at most {} bytes", Chunk::MAX_BYTES))?;
        self.bytes.extend_from_slice(event);
        self.ends.push(end);
        Ok(())
    }

    /// Event `index`, as pushed.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)? as usize;
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i] as usize);
        self.bytes.get(start..end)
    }

    /// Events in the chunk.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the chunk has no event.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes in the chunk.
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Empties the chunk, keeping its memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}

impl ChunkResult {
    /// One result per event of a chunk of `events` events, in order: what
    /// [`Detector::batch`] gives, except that plain no-match verdicts are not
    /// there (an unchanged no-match event has no verdict).
    pub fn per_event(self, events: usize) -> Vec<TagResult> {
        let mut results: Vec<TagResult> =
            (0..events).map(|_| TagResult { output: Output::Unchanged, verdicts: Vec::new() }).collect();
        for r in self.replaced {
            if let Some(result) = results.get_mut(r.event as usize) {
                result.output = Output::Replaced(r.bytes);
            }
        }
        for i in self.dropped {
            if let Some(result) = results.get_mut(i as usize) {
                result.output = Output::Dropped;
            }
        }
        for v in self.verdicts {
            if let Some(result) = results.get_mut(v.event as usize) {
                result.verdicts.push(v.verdict);
            }
        }
        results
    }
}

/// Why a [`Detector`] could not be made.
#[derive(Debug)]
pub enum DetectorError {
    /// The engine refused the config or the rule pack; every problem is listed.
    Refused(LoadError),
    /// wasmtime could not compile or instantiate the component.
    Runtime(anyhow::Error),
}

impl DetectorError {
    /// The problems the engine reported (none for a runtime failure).
    pub fn problems(&self) -> &[Problem] {
        match self {
            DetectorError::Refused(LoadError::Config(p) | LoadError::Rules(p)) => p,
            DetectorError::Refused(LoadError::State(p)) => std::slice::from_ref(p),
            DetectorError::Runtime(_) => &[],
        }
    }
}

impl fmt::Display for DetectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            DetectorError::Refused(LoadError::Config(_)) => "the config was refused",
            DetectorError::Refused(LoadError::Rules(_)) => "the rule pack was refused",
            DetectorError::Refused(LoadError::State(_)) => "the state was refused",
            DetectorError::Runtime(e) => return write!(f, "the modwatch component could not run: {e:#}"),
        };
        write!(f, "{what}:")?;
        for p in self.problems() {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DetectorError {}

/// `E202 rule "r1" at 2:7 (pack line 14): message`, as the engine prints it.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E{} {}", self.code, self.kind)?;
        if let Some(id) = &self.rule_id {
            write!(f, " rule {id:?}")?;
        }
        if let Some(line) = self.line {
            write!(f, " at {line}:{}", self.column.unwrap_or(1))?;
        }
        if let Some(pack_line) = self.pack_line {
            write!(f, " (pack line {pack_line})")?;
        }
        write!(f, ": {}", self.message)
    }
}
