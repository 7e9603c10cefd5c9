//! `modwatch`: runs the modwatch component in wasmtime over audit logs.
//!
//! With no arguments it runs the bundled sample and explains the result.

mod export;
mod serve;
mod worker;

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use modwatch::input::{self, Layout, Scanner};
use modwatch::{Chunk, CorrelationStats, Detector, DetectorError, Options, Output, Stats, Status, TagResult, Verdict};

/// Detects changes to cloud compute infrastructure (MITRE ATT&CK T1578) in
/// AWS CloudTrail, Azure Activity and GCP Cloud Audit logs.
///
/// Run with no arguments to see it work on a bundled sample.
#[derive(Debug, Parser)]
#[command(name = "modwatch", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scans events and writes them to stdout, one JSON line each: the tagged
    /// event for matches, the original bytes for everything else.
    Scan(ScanArgs),
    /// Runs an HTTP server for Vector's `http` sink: tags each batch of
    /// events it receives, forwards the tagged batch to another URL (e.g.
    /// Vector's `http_server` source) and answers 200 only once that
    /// forward succeeded (503 otherwise, so the sender retries).
    Serve(serve::ServeArgs),
    /// Translates the rule pack for other pipelines (`export vrl`: a VRL
    /// program for Vector's `remap` transform; `export sigma`: Sigma rules).
    #[command(subcommand)]
    Export(export::Export),
    /// Scores partitions of a NATS JetStream stream: every event of a
    /// principal in one place, in stream order, the scoring state
    /// checkpointed to a key-value bucket (see docs/scale.md).
    Worker(worker::WorkerArgs),
    /// Writes the embedded WebAssembly component (for jco, wasmtime, tests).
    Component {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// NDJSON, a JSON array of events, or a `{"Records":[…]}` /
    /// `{"records":[…]}` batch file; `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Write only the events with a match.
    #[arg(long)]
    only_matches: bool,
    /// Write verdicts (one JSON line per record) instead of events.
    #[arg(long)]
    verdicts: bool,
    #[command(flatten)]
    engine: EngineArgs,
    /// No progress bar and no summary.
    #[arg(short, long)]
    quiet: bool,
}

/// The rule pack and the config: the options `scan`, `serve` and `export`
/// share.
#[derive(Debug, Args)]
struct PackArgs {
    /// Rules that replace the built-in pack: a TOML pack, a Sigma rule file
    /// (`.yml`/`.yaml`), or a directory of them; repeat to mix them.
    #[arg(long, value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// With --rules: keep the built-in pack as well.
    #[arg(long, requires = "rules")]
    with_builtin: bool,
    /// A JSON config file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// How the engine is made: the options `scan` and `serve` share.
#[derive(Debug, Args)]
struct EngineArgs {
    #[command(flatten)]
    pack: PackArgs,
    /// Load the per-principal scoring state from FILE if it exists, and
    /// save it there at the end.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Parse every event, even those the prefilter rules out, so invalid JSON
    /// is always reported.
    #[arg(long)]
    validate: bool,
}

/// How many error messages the summary quotes.
const ERRORS_QUOTED: usize = 5;

/// A failure and the exit code it gives: 2 for anything the user can fix in
/// the command line or its files, 1 for the rest.
struct Failure(u8, anyhow::Error);

fn usage(e: anyhow::Error) -> Failure {
    Failure(2, e)
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure(1, e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => sample(),
        Some(Command::Scan(args)) => scan(&args),
        Some(Command::Serve(args)) => serve::serve(&args),
        Some(Command::Export(what)) => export::run(&what),
        Some(Command::Worker(args)) => worker::worker(&args),
        Some(Command::Component { out }) => std::fs::write(&out, modwatch::COMPONENT)
            .with_context(|| format!("cannot write {}", out.display()))
            .map_err(usage),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, e)) => {
            eprintln!("modwatch: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn scan(args: &ScanArgs) -> Result<(), Failure> {
    let mut detector = args.engine.detector()?;
    let max_event = usize::try_from(detector.max_event_bytes()?).unwrap_or(usize::MAX);
    let inputs = open_inputs(&args.files)?;

    let out = io::stdout().lock();
    let mut out = BufWriter::new(out);
    let mut run = Run::default();
    let started = Instant::now();
    for (name, reader, len) in inputs {
        let progress = progress(len, args.quiet);
        let reader = BufReader::with_capacity(1 << 16, progress.wrap_read(reader));
        let mut scanner = Scanner::new(reader, max_event).with_context(|| name.clone()).map_err(usage)?;
        let input = Named { name, is_file: len.is_some() };
        match scan_one(&mut detector, &mut scanner, &mut out, args, &input, &mut run) {
            Err(e) if is_broken_pipe(&e) => return Ok(()),
            other => other?,
        }
        progress.finish_and_clear();
    }
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        other => other.context("writing stdout")?,
    }
    if let Some(path) = &args.engine.state {
        save_state(&mut detector, path)?;
    }
    if !args.quiet {
        let (stats, correlations) = (detector.stats()?, detector.correlation_stats()?);
        eprint!("{}", summary(&stats, &correlations, &run, started.elapsed()));
    }
    Ok(())
}

/// What the summary says beside the engine's counters.
#[derive(Default)]
struct Run {
    errors: Vec<String>,
}

/// Events per call into the component when reading a file. Larger chunks
/// gain little once the call's own cost is spread over a few hundred events.
const CHUNK_EVENTS: usize = 1024;
/// A chunk is sent early once it holds this many bytes.
const CHUNK_BYTES: usize = 4 << 20;

fn scan_one(
    detector: &mut Detector,
    scanner: &mut Scanner<'_>,
    out: &mut impl Write,
    args: &ScanArgs,
    input: &Named,
    run: &mut Run,
) -> anyhow::Result<()> {
    if args.verdicts {
        return verdicts_one(detector, scanner, out, args, input, run);
    }
    // A file, or an array or batch read whole, is tagged in chunks; NDJSON
    // from a pipe event by event, so that a live stream is tagged as it
    // arrives rather than a chunk later.
    let per_call = if input.is_file || scanner.layout() != Layout::Ndjson { CHUNK_EVENTS } else { 1 };
    let mut pending = Pending::default();
    while let Some(event) = scanner.next_event().with_context(|| format!("reading {}", input.name))? {
        if event.truncated {
            // The rest of its line is still in the input: write it now.
            pending.send(detector, out, args, input, run)?;
            let tagged = detector.tag(&event.bytes)?;
            run.note_errors(&input.name, event.line, &tagged.verdicts);
            if wanted(&tagged, args) {
                match tagged.output {
                    Output::Replaced(bytes) => input::write_line(out, &bytes)?,
                    Output::Dropped => {}
                    Output::Unchanged => {
                        out.write_all(&event.bytes)?;
                        scanner.rest_of_line(Some(out))?;
                        out.write_all(b"\n")?;
                    }
                }
            }
            continue;
        }
        pending.chunk.push(&event.bytes)?;
        pending.lines.push(event.line);
        if pending.chunk.len() >= per_call || pending.chunk.bytes() >= CHUNK_BYTES {
            pending.send(detector, out, args, input, run)?;
        }
    }
    pending.send(detector, out, args, input, run)
}

/// An input's name, and whether it is a regular file (read in chunks).
struct Named {
    name: String,
    is_file: bool,
}

/// Events read and not yet tagged, with their line numbers.
#[derive(Default)]
struct Pending {
    chunk: Chunk,
    lines: Vec<u64>,
}

impl Pending {
    /// Tags the pending events in one call and writes them out in order.
    fn send(
        &mut self,
        detector: &mut Detector,
        out: &mut impl Write,
        args: &ScanArgs,
        input: &Named,
        run: &mut Run,
    ) -> anyhow::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let results = detector.tag_chunk(&self.chunk)?.per_event(self.chunk.len());
        for ((i, result), &line) in results.into_iter().enumerate().zip(&self.lines) {
            run.note_errors(&input.name, line, &result.verdicts);
            if !wanted(&result, args) {
                continue;
            }
            match result.output {
                Output::Replaced(bytes) => input::write_line(out, &bytes)?,
                Output::Dropped => {}
                Output::Unchanged => input::write_line(out, self.chunk.get(i).unwrap_or_default())?,
            }
        }
        self.chunk.clear();
        self.lines.clear();
        Ok(())
    }
}

/// Whether an event is written: always, or with `--only-matches` when one of
/// its records matched.
fn wanted(result: &TagResult, args: &ScanArgs) -> bool {
    !args.only_matches || result.verdicts.iter().any(|v| v.status == Status::Match)
}

/// `--verdicts`: every record's verdict, no-matches included, so one call
/// per event.
fn verdicts_one(
    detector: &mut Detector,
    scanner: &mut Scanner<'_>,
    out: &mut impl Write,
    args: &ScanArgs,
    input: &Named,
    run: &mut Run,
) -> anyhow::Result<()> {
    while let Some(event) = scanner.next_event().with_context(|| format!("reading {}", input.name))? {
        let verdicts = detector.evaluate(&event.bytes)?;
        run.note_errors(&input.name, event.line, &verdicts);
        for v in verdicts.iter().filter(|v| matched_or_all(v, args.only_matches)) {
            writeln!(out, "{}", v.json)?;
        }
    }
    Ok(())
}

impl Run {
    /// Keeps the first [`ERRORS_QUOTED`] decoding errors for the summary.
    fn note_errors(&mut self, name: &str, line: u64, verdicts: &[Verdict]) {
        for v in verdicts {
            if let (Some(e), true) = (&v.error, self.errors.len() < ERRORS_QUOTED) {
                self.errors.push(format!("{name}:{line}: E{} {}: {}", e.code, e.kind, e.message));
            }
        }
    }
}

fn matched_or_all(v: &Verdict, only_matches: bool) -> bool {
    !only_matches || v.status == Status::Match
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

impl EngineArgs {
    /// The engine these options describe, with its saved state loaded.
    fn detector(&self) -> Result<Detector, Failure> {
        let config = read_text(self.pack.config.as_deref())?;
        let rules = read_rules(&self.pack.rules)?;
        // Unset flags leave the config's own keys in charge.
        let options =
            Options { validate: self.validate.then_some(true), builtin_rules: self.pack.with_builtin.then_some(true) };
        let mut detector = detector(config.as_deref(), rules.as_deref(), options)?;
        if let Some(path) = &self.state {
            load_state(&mut detector, path)?;
        }
        Ok(detector)
    }
}

/// The text of a file named on the command line, if one is.
/// The `--rules` paths as one rule text: a single file as it is, several
/// files (or a directory's `.toml`, `.yml` and `.yaml` files, by name) each
/// after a [`modwatch_engine::FILE_MARKER`] line naming it, which the engine
/// reads as separate files.
fn read_rules(paths: &[PathBuf]) -> Result<Option<String>, Failure> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries =
                std::fs::read_dir(path).with_context(|| format!("cannot read {}", path.display())).map_err(usage)?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml" || x == "yml" || x == "yaml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(usage(anyhow!("{} has no .toml, .yml or .yaml rule files", path.display())));
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    if let [only] = files.as_slice()
        && only.extension().is_none_or(|x| x == "toml")
    {
        return read_text(Some(only));
    }
    let mut text = String::new();
    for file in &files {
        let body = read_text(Some(file))?.unwrap_or_default();
        text.push_str(modwatch_engine::FILE_MARKER);
        text.push_str(&file.display().to_string().replace('\n', " "));
        text.push('\n');
        text.push_str(&body);
        if !body.ends_with('\n') {
            text.push('\n');
        }
    }
    Ok((!files.is_empty()).then_some(text))
}

fn read_text(path: Option<&Path>) -> Result<Option<String>, Failure> {
    path.map(|p| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display())).map_err(usage))
        .transpose()
}

/// Imports the state saved by an earlier run; a missing file is a first run.
fn load_state(detector: &mut Detector, path: &Path) -> Result<(), Failure> {
    let state = match std::fs::read_to_string(path) {
        Ok(state) => state,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(usage(anyhow!("cannot read the state {}: {e}", path.display()))),
    };
    detector.import_state(&state)?.map_err(|e| usage(anyhow!("{}: {e}", path.display())))
}

/// Writes the scoring state to `path` through a temporary file beside it, so
/// a crash while writing leaves the previous state whole.
fn save_state(detector: &mut Detector, path: &Path) -> anyhow::Result<()> {
    let state = detector.export_state()?;
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    std::fs::write(&temp, state)
        .with_context(|| format!("cannot write the state to {}", Path::new(&temp).display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot write the state to {}", path.display()))
}

/// The engine for a config and a pack; the pack's warnings go to stderr.
fn detector(config: Option<&str>, rules: Option<&str>, options: Options) -> Result<Detector, Failure> {
    let mut detector = Detector::with_options(config, rules, options).map_err(|e| match e {
        DetectorError::Refused(_) => usage(anyhow!(e)),
        DetectorError::Runtime(_) => Failure(1, anyhow!(e)),
    })?;
    warn(&detector.warnings()?);
    Ok(detector)
}

/// Prints what loaded but will not run as written, one problem a line on
/// stderr (`warning: E206 … rule "id" at 3:1 (pack line 3): file: …`).
fn warn(problems: &[impl std::fmt::Display]) {
    for p in problems {
        eprintln!("warning: {p}");
    }
}

type Input = (String, Box<dyn Read>, Option<u64>);

/// Opens every input before reading any, so a missing file stops the run
/// before it writes anything.
fn open_inputs(files: &[PathBuf]) -> Result<Vec<Input>, Failure> {
    if files.is_empty() {
        if io::stdin().is_terminal() {
            return Err(usage(anyhow!("no input: give a FILE, or pipe events into `modwatch scan -`")));
        }
        return Ok(vec![("<stdin>".to_string(), Box::new(io::stdin()), None)]);
    }
    files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                return Ok(("<stdin>".to_string(), Box::new(io::stdin()) as Box<dyn Read>, None));
            }
            let name = path.display().to_string();
            let file = File::open(path).with_context(|| format!("cannot open {name}")).map_err(usage)?;
            let len = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            Ok((name, Box::new(file) as Box<dyn Read>, len))
        })
        .collect()
}

/// A progress bar by bytes, for files, when stderr is a terminal.
fn progress(len: Option<u64>, quiet: bool) -> ProgressBar {
    match len {
        Some(len) if !quiet && io::stderr().is_terminal() => {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        }
        _ => ProgressBar::hidden(),
    }
}

fn summary(s: &Stats, correlations: &[CorrelationStats], run: &Run, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { s.events as f64 / secs } else { 0.0 };
    let counts = |pairs: &[(String, u64)]| pairs.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ");
    let mut text =
        format!("modwatch: {} events, {} records in {secs:.2} s ({rate:.0} events/s)\n", s.events, s.records);
    text += &format!("  matches       {}\n", s.matches);
    if !s.by_rule.is_empty() {
        text += &format!("    by rule     {}\n", counts(&s.by_rule));
        text += &format!("    by category {}\n", counts(&s.by_category));
    }
    text += &format!("  alerts        {} ({} principals tracked)\n", s.alerts, s.principals);
    if !correlations.is_empty() {
        let (alerts, groups) = correlations.iter().fold((0, 0), |(a, g), c| (a + c.alerts, g + c.groups));
        let by_rule: Vec<String> = correlations.iter().map(|c| format!("{} {}", c.rule_id, c.alerts)).collect();
        text += &format!("  correlations  {alerts} alerts ({groups} groups tracked)\n");
        text += &format!("    by rule     {}\n", by_rule.join(", "));
    }
    text += &format!("  suppressed    {}\n", s.suppressed);
    text += &format!("  unrecognised  {}\n", s.unrecognised);
    text += &format!("  errors        {}\n", s.errors);
    for e in &run.errors {
        text += &format!("    {e}\n");
    }
    text += &format!("  prefiltered   {}\n", s.prefiltered);
    text
}

/// The bundled sample: a dozen events from the corpus (see
/// `cli/sample/README.md`).
const SAMPLE: &str = include_str!("../sample/sample.ndjson");

/// `modwatch` with no arguments: runs the sample and explains what it shows.
fn sample() -> Result<(), Failure> {
    let mut detector = detector(None, None, Options { validate: None, builtin_rules: None })?;
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut alerts = String::new();
    let mut n = 0;
    for line in SAMPLE.as_bytes().lines() {
        let line = line.context("reading the sample")?;
        if line.trim().is_empty() {
            continue;
        }
        n += 1;
        for v in detector.evaluate(line.as_bytes())? {
            if let (Some(a), Some(p)) = (v.score.as_ref().and_then(|s| s.alert.as_ref()), &v.principal) {
                let who = p.display.as_deref().unwrap_or(&p.id);
                alerts += &format!(
                    "  event {n}: ALERT, {who} reached {} points (threshold {}) with {} operations in {} minutes\n",
                    a.score, a.threshold, a.operations, a.window_minutes
                );
            }
            rows.push(row(n, &v));
        }
    }
    let elapsed = started.elapsed();
    let stats = detector.stats()?;

    let mut text = String::new();
    text += &format!(
        "modwatch ran its bundled sample of {n} cloud audit events (AWS CloudTrail, Azure Activity,\n\
         GCP Cloud Audit) through the modwatch WebAssembly component in wasmtime. Events that modify\n\
         cloud compute infrastructure (MITRE ATT&CK T1578: snapshots, instance create/delete/revert,\n\
         configuration changes) match a rule and are tagged; everything else passes through unchanged.\n\n"
    );
    text += &table(&rows);
    if !alerts.is_empty() {
        text += "\nPer principal, points add up over a sliding window of event time:\n";
        text += &alerts;
    }
    text += "\n";
    text += &summary(&stats, &[], &Run::default(), elapsed);
    text += "\nRun it on your own logs (NDJSON, a JSON array, or a CloudTrail/Azure batch file):\n\
             \x20 modwatch scan FILE...            tagged events to stdout, a summary to stderr\n\
             \x20 modwatch scan --verdicts FILE    one verdict per record instead\n\
             \x20 modwatch scan --help             every option\n";
    io::stdout().write_all(text.as_bytes()).context("writing stdout")?;
    Ok(())
}

fn row(n: usize, v: &Verdict) -> [String; 7] {
    let or_dash = |s: Option<&str>| s.unwrap_or("-").to_string();
    let principal = v.principal.as_ref().map(|p| p.display.as_deref().unwrap_or(&p.id));
    let rule = match (&v.status, v.matches.first()) {
        (Status::Match, Some(m)) => m.rule_id.clone(),
        (Status::Suppressed, _) => format!("(suppressed: {})", v.suppressed_by.as_deref().unwrap_or("allowlist")),
        (Status::Error, _) => format!("(error: {})", v.error.as_ref().map_or("?", |e| e.kind.as_str())),
        (Status::Unrecognised, _) => "(format not recognised)".to_string(),
        _ => "(no match)".to_string(),
    };
    let points = if v.status == Status::Match { v.points.to_string() } else { "-".to_string() };
    [
        n.to_string(),
        or_dash(v.cloud.as_deref()),
        or_dash(v.op.as_deref()),
        or_dash(principal),
        or_dash(v.category.as_deref()),
        points,
        rule,
    ]
}

fn table(rows: &[[String; 7]]) -> String {
    const HEAD: [&str; 7] = ["#", "cloud", "operation", "principal", "category", "points", "rule"];
    // Operations are shown whole; long principals and reasons are clipped.
    const MAX: [usize; 7] = [6, 8, 64, 26, 20, 6, 40];
    let clip = |s: &str, max: usize| {
        if s.chars().count() > max { s.chars().take(max - 1).chain(['…']).collect() } else { s.to_string() }
    };
    let rows: Vec<[String; 7]> = rows.iter().map(|r| std::array::from_fn(|i| clip(&r[i], MAX[i]))).collect();
    let mut widths = HEAD.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut text = String::new();
    let mut line = |cells: [&str; 7]| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        text += padded.join("  ").trim_end();
        text += "\n";
    };
    line(HEAD);
    for r in &rows {
        line(r.each_ref().map(String::as_str));
    }
    text
}
