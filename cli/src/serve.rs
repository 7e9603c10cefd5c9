//! `modwatch serve`: the component behind an HTTP endpoint for Vector's
//! `http` sink, with full per-principal scoring.
//!
//! One request is one batch: its body is decompressed and split into events
//! outside the engine's lock, the batch is tagged in one call under the lock
//! (one scoring state for every connection, in the order the batches take
//! the lock), and the tagged batch is forwarded as one JSON array. The
//! request is answered 200 only once the forward got a 2xx; otherwise 503,
//! so the sender keeps the batch and retries it.
//!
//! A retried batch must not be scored twice, and must not lose the tags its
//! first attempt earned (an alert is raised once). So the tagged output of a
//! batch whose forward failed is kept, keyed by a hash of the decompressed
//! body, and a retry with the same body forwards that output without going
//! through the engine again. Past that cache (a batch re-sent in another
//! body, or after a restart), the engine's own deduplication by event id
//! applies: the event is tagged `duplicate` and adds no points.
//!
//! Each element of a batch is one of:
//!
//! - a **bare event**: a cloud record as a JSON object. It goes to the engine
//!   as its bytes; a match is forwarded as the engine's tagged output, any
//!   other event as its own bytes.
//! - a **Vector envelope**: an object whose `message` is a string holding a
//!   JSON object (the raw line as Vector's sources read it, beside `host`,
//!   `source_type`, `timestamp` …). The engine gets the `message` text; on a
//!   match `message` is replaced by the tagged line (so `parse_json(.message)`
//!   downstream gives exactly what `modwatch scan` would print), and every
//!   other byte of the envelope is kept.
//! - a **JSON string** (Vector's `log_namespace`, or a `text` codec wrapped
//!   in JSON): the string is the event, forwarded as a string.
//! - in NDJSON, a line that is not JSON: the engine gets it (and reports the
//!   error); it is forwarded as `{"message": "<the line>"}` so that the
//!   forwarded array stays valid JSON.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Args;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use modwatch::{CorrelationStats, Detector, Output, Stats, Status, TagResult};
use modwatch_engine::split::Layout;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{EngineArgs, Failure, save_state, usage};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on (loopback: the sidecar runs beside Vector).
    /// Port 0 picks a free port; the address is printed on stderr.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8687")]
    listen: SocketAddr,
    /// Where each tagged batch is POSTed as a JSON array, e.g. Vector's
    /// `http_server` source: `http://127.0.0.1:8688/`.
    #[arg(long, value_name = "URL")]
    forward: String,
    /// Forward only the events with a match.
    #[arg(long)]
    only_matches: bool,
    #[command(flatten)]
    engine: EngineArgs,
    /// The largest request body, in bytes, before and after decompression
    /// (larger: 413).
    #[arg(long, value_name = "N", default_value_t = 10 << 20)]
    max_body_bytes: usize,
    /// How long a forward may take, in seconds, before the batch is answered
    /// 503.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    forward_timeout: f64,
    /// With `--state`: also write the state this many seconds after the
    /// last write, if events were scored since (a crash loses at most that).
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    state_interval: f64,
    /// With `--state`: also write the state once this many events were
    /// scored since the last write (checked after each batch).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    state_events: usize,
}

/// Batches whose forward failed, kept for their retry.
const RETRY_BATCHES: usize = 64;
/// Bytes of tagged output the retry cache may hold.
const RETRY_BYTES: usize = 256 << 20;
/// Upper bounds of the request latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

pub(crate) fn serve(args: &ServeArgs) -> Result<(), Failure> {
    let forward: Uri = args.forward.parse().map_err(|e| usage(anyhow!("--forward {:?}: {e}", args.forward)))?;
    if forward.scheme_str() != Some("http") || forward.host().is_none() {
        return Err(usage(anyhow!(
            "--forward {:?}: give an http:// URL (the receiver runs beside the sidecar, on loopback)",
            args.forward
        )));
    }
    if !(args.forward_timeout.is_finite() && args.forward_timeout > 0.0) {
        return Err(usage(anyhow!("--forward-timeout must be a positive number of seconds")));
    }
    if !(args.state_interval.is_finite() && args.state_interval > 0.0) {
        return Err(usage(anyhow!("--state-interval must be a positive number of seconds")));
    }
    if args.state_events == 0 {
        return Err(usage(anyhow!("--state-events must be at least 1")));
    }
    let detector = args.engine.detector()?;
    let shared = Arc::new(Shared {
        detector: Mutex::new(detector),
        forward,
        only_matches: args.only_matches,
        max_body: args.max_body_bytes,
        forward_timeout: Duration::from_secs_f64(args.forward_timeout),
        client: Client::builder(TokioExecutor::new()).build_http(),
        metrics: Metrics::default(),
        retries: Mutex::new(RetryCache::default()),
        scored: AtomicU64::new(0),
        state: args.engine.state.clone().map(|path| Checkpoints {
            path,
            interval: Duration::from_secs_f64(args.state_interval),
            events: args.state_events,
            since: Mutex::new((0, Instant::now())),
        }),
    });
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(run(args, Arc::clone(&shared)))?;
    // Every connection is closed: the engine is ours alone again.
    if let Some(path) = &args.engine.state {
        let mut detector = shared.detector.lock().unwrap_or_else(PoisonError::into_inner);
        save_state(&mut detector, path)?;
        eprintln!("modwatch serve: state saved to {}", path.display());
    }
    Ok(())
}

/// Accepts connections until SIGTERM or SIGINT, then lets in-flight
/// requests finish (bounded by the forward timeout).
async fn run(args: &ServeArgs, shared: Arc<Shared>) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))
        .map_err(usage)?;
    let local = listener.local_addr().context("the listening address")?;
    eprintln!("modwatch serve: listening on http://{local}/, forwarding to {}", shared.forward);
    if let Some(state) = &shared.state {
        tokio::spawn(checkpoints(Arc::clone(&shared), state.interval));
    }
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // Out of descriptors and the like: keep serving the others.
                    Err(e) => {
                        eprintln!("modwatch serve: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let shared = Arc::clone(&shared);
                let service = service_fn(move |request| handle(Arc::clone(&shared), request));
                let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    // A client that goes away mid-request is its own business.
                    let _ = connection.await;
                });
            }
            signal = &mut stop => {
                signal?;
                break;
            }
        }
    }
    drop(listener);
    eprintln!("modwatch serve: shutting down, finishing in-flight requests");
    let grace = shared.forward_timeout + Duration::from_secs(10);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        eprintln!("modwatch serve: in-flight requests still open after {grace:?}, closing them");
    }
    Ok(())
}

#[cfg(unix)]
pub(crate) async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) async fn shutdown_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await.context("cannot listen for Ctrl-C")
}

/// Writes the state every `interval` while events are scored, so that a
/// quiet period after a burst does not leave the burst unsaved.
async fn checkpoints(shared: Arc<Shared>, interval: Duration) {
    // A quarter of the interval: the write is at most 1.25 intervals late.
    let mut tick = tokio::time::interval(interval / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let work = Arc::clone(&shared);
        let _ = tokio::task::spawn_blocking(move || {
            let mut detector = work.detector.lock().unwrap_or_else(PoisonError::into_inner);
            work.checkpoint(&mut detector, 0);
        })
        .await;
    }
}

/// The periodic writes of `--state`.
struct Checkpoints {
    path: std::path::PathBuf,
    interval: Duration,
    events: usize,
    /// Events scored since the last write, and when that was.
    since: Mutex<(usize, Instant)>,
}

/// What every connection shares.
struct Shared {
    /// The one engine: a wasmtime store is used by one thread at a time.
    detector: Mutex<Detector>,
    forward: Uri,
    only_matches: bool,
    max_body: usize,
    forward_timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
    metrics: Metrics,
    retries: Mutex<RetryCache>,
    /// Batches scored so far: the number of the next one.
    scored: AtomicU64,
    state: Option<Checkpoints>,
}

type Reply = Response<Full<Bytes>>;

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Reply, Infallible> {
    let started = Instant::now();
    let reply = route(&shared, request).await;
    shared.metrics.request(reply.status(), started.elapsed());
    Ok(reply)
}

async fn route(shared: &Arc<Shared>, request: Request<Incoming>) -> Reply {
    let path = request.uri().path();
    match (request.method(), path) {
        (&Method::POST, "/" | "/events") => ingest(shared, request).await,
        (&Method::GET | &Method::HEAD, "/health") => reply(StatusCode::OK, "application/json", r#"{"status":"ok"}"#),
        (&Method::GET | &Method::HEAD, "/metrics") => {
            let text = shared.metrics.render(shared);
            reply(StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", text)
        }
        (_, "/" | "/events") => not_allowed("POST"),
        (_, "/health" | "/metrics") => not_allowed("GET, HEAD"),
        _ => problem(StatusCode::NOT_FOUND, "not found: POST events to / or /events; GET /health, /metrics"),
    }
}

pub(crate) fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An error answer: `{"error": "..."}`.
pub(crate) fn problem(status: StatusCode, message: &str) -> Reply {
    reply(status, "application/json", serde_json::json!({ "error": message }).to_string())
}

pub(crate) fn not_allowed(allow: &'static str) -> Reply {
    let mut response = problem(StatusCode::METHOD_NOT_ALLOWED, &format!("method not allowed: use {allow}"));
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// A request that cannot be taken: its status and why.
struct Refusal(StatusCode, String);

impl Refusal {
    fn bad(message: impl Into<String>) -> Refusal {
        Refusal(StatusCode::BAD_REQUEST, message.into())
    }
}

async fn ingest(shared: &Arc<Shared>, request: Request<Incoming>) -> Reply {
    match try_ingest(shared, request).await {
        Ok(reply) => reply,
        Err(Refusal(status, message)) => problem(status, &message),
    }
}

async fn try_ingest(shared: &Arc<Shared>, request: Request<Incoming>) -> Result<Reply, Refusal> {
    let (parts, body) = request.into_parts();
    let encoding = Encoding::of(&parts.headers)?;
    let ndjson = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-ndjson"));
    let too_large = || Refusal(StatusCode::PAYLOAD_TOO_LARGE, format!("body over {} bytes", shared.max_body));
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.max_body as u64) {
        return Err(too_large());
    }
    let body = match Limited::new(body, shared.max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(e) => return Err(Refusal::bad(format!("cannot read the body: {e}"))),
    };

    // Decompressing, splitting and tagging are CPU work: off the async workers.
    let work = Arc::clone(shared);
    let tagged = tokio::task::spawn_blocking(move || work.tag_body(&body, encoding, ndjson))
        .await
        .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, format!("the batch could not be processed: {e}")))??;

    if !tagged.forward.is_empty() {
        if let Err(e) = shared.send(tagged.forward.clone()).await {
            shared.metrics.forward_failures.inc();
            // Kept for the retry: the next attempt forwards these same tags.
            shared.retries.lock().unwrap_or_else(PoisonError::into_inner).keep(tagged.key, &tagged);
            return Err(Refusal(StatusCode::SERVICE_UNAVAILABLE, format!("forwarding failed, retry later: {e}")));
        }
        shared.metrics.forwarded.inc_by(tagged.forwarded as u64);
    }
    if tagged.replayed {
        shared.retries.lock().unwrap_or_else(PoisonError::into_inner).forget(tagged.key);
    }
    let summary = serde_json::json!({
        "batch": tagged.batch,
        "events": tagged.events,
        "matches": tagged.matches,
        "forwarded": tagged.forwarded,
        "replayed": tagged.replayed,
    });
    Ok(reply(StatusCode::OK, "application/json", summary.to_string()))
}

/// A batch ready to forward.
#[derive(Clone)]
struct Tagged {
    /// The retry cache key of the decompressed body.
    key: (u64, usize),
    /// The JSON array to forward (empty: nothing to forward).
    forward: Bytes,
    events: usize,
    matches: usize,
    forwarded: usize,
    /// Taken from the retry cache instead of the engine.
    replayed: bool,
    /// Its place in the order batches were scored in (from 0).
    batch: u64,
}

impl Shared {
    fn tag_body(&self, body: &[u8], encoding: Encoding, ndjson: bool) -> Result<Tagged, Refusal> {
        let body = encoding.decode(body, self.max_body)?;
        let key = {
            let mut hasher = DefaultHasher::new();
            body.hash(&mut hasher);
            (hasher.finish(), body.len())
        };
        if let Some(kept) = self.retries.lock().unwrap_or_else(PoisonError::into_inner).get(key) {
            self.metrics.replayed.inc();
            return Ok(Tagged { replayed: true, ..kept });
        }
        let items = split(&body, ndjson)?;
        let events: Vec<Vec<u8>> = items.iter().map(|item| item.event.clone()).collect();
        let (results, batch) = {
            let mut detector = self.detector.lock().unwrap_or_else(PoisonError::into_inner);
            let results = detector.tag_events(&events);
            let batch = self.scored.fetch_add(1, Ordering::SeqCst);
            self.checkpoint(&mut detector, events.len());
            (results, batch)
        };
        let results = results.map_err(|e| {
            Refusal(StatusCode::INTERNAL_SERVER_ERROR, format!("the modwatch component failed on this batch: {e:#}"))
        })?;
        Ok(Tagged { batch, ..self.assemble(key, &items, results) })
    }

    /// Counts `scored` events and writes `--state` when the count or the
    /// time since the last write is reached. The caller holds the engine, so
    /// the file is the state after a whole batch. A failed write is logged
    /// and tried again at the next checkpoint: the batch is not refused.
    fn checkpoint(&self, detector: &mut Detector, scored: usize) {
        let Some(state) = &self.state else { return };
        let mut since = state.since.lock().unwrap_or_else(PoisonError::into_inner);
        since.0 += scored;
        if since.0 == 0 || (since.0 < state.events && since.1.elapsed() < state.interval) {
            return;
        }
        match save_state(detector, &state.path) {
            Ok(()) => *since = (0, Instant::now()),
            Err(e) => eprintln!("modwatch serve: {e:#}"),
        }
    }

    /// The forwarded array: each element as the engine's output, per its kind.
    fn assemble(&self, key: (u64, usize), items: &[Item<'_>], results: Vec<TagResult>) -> Tagged {
        let mut out = Vec::with_capacity(items.iter().map(|i| i.raw.len() + 2).sum::<usize>() + 2);
        out.push(b'[');
        let (mut matches, mut forwarded) = (0, 0);
        for (item, result) in items.iter().zip(results) {
            let matched = result.verdicts.iter().any(|v| v.status == Status::Match);
            matches += usize::from(matched);
            if self.only_matches && !matched {
                continue;
            }
            let output = match result.output {
                Output::Dropped => continue,
                Output::Replaced(bytes) => Some(bytes),
                Output::Unchanged => None,
            };
            if forwarded > 0 {
                out.push(b',');
            }
            forwarded += 1;
            item.write(&mut out, output.as_deref());
        }
        out.push(b']');
        let forward = if forwarded == 0 { Bytes::new() } else { Bytes::from(out) };
        Tagged { key, forward, events: items.len(), matches, forwarded, replayed: false, batch: 0 }
    }

    /// POSTs one tagged batch; an error unless the receiver answered 2xx in
    /// time.
    async fn send(&self, body: Bytes) -> anyhow::Result<()> {
        let request = Request::post(self.forward.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            // Read to the end, so the connection goes back to the pool.
            let answer = response.into_body().collect().await?.to_bytes();
            if status.is_success() {
                Ok(())
            } else {
                let answer = String::from_utf8_lossy(&answer[..answer.len().min(200)]).into_owned();
                Err(anyhow!("{} answered {status}: {answer}", self.forward))
            }
        };
        match tokio::time::timeout(self.forward_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(anyhow!("{} did not answer within {:?}", self.forward, self.forward_timeout)),
        }
    }
}

/// The `content-encoding` of a request body.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    Identity,
    Gzip,
    /// zlib: what Vector's `compression: zlib` sends as `deflate`.
    Deflate,
    Zstd,
}

impl Encoding {
    fn of(headers: &hyper::HeaderMap) -> Result<Encoding, Refusal> {
        let Some(value) = headers.get(header::CONTENT_ENCODING) else { return Ok(Encoding::Identity) };
        let value = value.to_str().unwrap_or("?").trim().to_ascii_lowercase();
        match value.as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "deflate" => Ok(Encoding::Deflate),
            "zstd" => Ok(Encoding::Zstd),
            other => Err(Refusal(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("content-encoding {other:?} is not supported: use gzip, zstd, deflate (zlib) or none"),
            )),
        }
    }

    /// The body decompressed, refused past `max` bytes (a small compressed
    /// body can expand to gigabytes).
    fn decode(self, body: &[u8], max: usize) -> Result<Vec<u8>, Refusal> {
        let mut out = Vec::new();
        let read = match self {
            Encoding::Identity => return Ok(body.to_vec()),
            Encoding::Gzip => flate2::read::MultiGzDecoder::new(body).take(max as u64 + 1).read_to_end(&mut out),
            Encoding::Deflate => flate2::read::ZlibDecoder::new(body).take(max as u64 + 1).read_to_end(&mut out),
            Encoding::Zstd => match ruzstd::decoding::StreamingDecoder::new(body) {
                Ok(decoder) => decoder.take(max as u64 + 1).read_to_end(&mut out),
                Err(e) => return Err(Refusal::bad(format!("invalid zstd body: {e}"))),
            },
        };
        match read {
            Ok(_) if out.len() > max => {
                Err(Refusal(StatusCode::PAYLOAD_TOO_LARGE, format!("decompressed body over {max} bytes")))
            }
            Ok(_) => Ok(out),
            Err(e) => Err(Refusal::bad(format!("invalid {self:?} body: {e}").to_lowercase())),
        }
    }
}

/// What one element of a batch is, and what the engine gets of it.
struct Item<'a> {
    /// The element as it came.
    raw: &'a [u8],
    kind: Kind,
    /// The event for the engine.
    event: Vec<u8>,
}

enum Kind {
    /// A cloud record itself.
    Bare,
    /// A Vector envelope; the byte range of its `message` value in `raw`.
    Envelope(std::ops::Range<usize>),
    /// A JSON string holding the event.
    Text,
    /// An NDJSON line that is not JSON.
    Invalid,
}

/// Just enough of an element to tell an envelope: its `message`, unparsed.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow)]
    message: Option<&'a RawValue>,
}

impl<'a> Item<'a> {
    /// Reads one element of a body: what it is and the event it holds.
    fn new(raw: &'a [u8]) -> Item<'a> {
        let bare = || Item { raw, kind: Kind::Bare, event: raw.to_vec() };
        let invalid = || Item { raw, kind: Kind::Invalid, event: raw.to_vec() };
        let valid = || serde_json::from_slice::<serde::de::IgnoredAny>(raw).is_ok();
        match raw.trim_ascii_start().first() {
            // Most records: no `"message"` key to look at, no parse for it.
            Some(b'{') if memchr::memmem::find(raw, b"\"message\"").is_none() => {
                if valid() {
                    bare()
                } else {
                    invalid()
                }
            }
            Some(b'{') => match serde_json::from_slice::<Probe<'_>>(raw) {
                Ok(Probe { message: Some(message) }) => {
                    let text = message.get();
                    // `message` borrows from `raw`: where it lies there.
                    let start = (text.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
                    let in_raw = raw.get(start..start.saturating_add(text.len())) == Some(text.as_bytes());
                    match serde_json::from_str::<String>(text) {
                        Ok(inner) if in_raw && inner.trim_start().starts_with('{') => {
                            Item { raw, kind: Kind::Envelope(start..start + text.len()), event: inner.into_bytes() }
                        }
                        _ => bare(),
                    }
                }
                Ok(Probe { message: None }) => bare(),
                // `message` twice: valid JSON all the same.
                Err(_) if valid() => bare(),
                Err(_) => invalid(),
            },
            Some(b'"') => match serde_json::from_slice::<String>(raw) {
                Ok(inner) => Item { raw, kind: Kind::Text, event: inner.into_bytes() },
                Err(_) => invalid(),
            },
            _ if valid() => bare(),
            _ => invalid(),
        }
    }

    /// Writes the element to forward: `tagged` is the engine's output for
    /// it, `None` when unchanged.
    fn write(&self, out: &mut Vec<u8>, tagged: Option<&[u8]>) {
        match (&self.kind, tagged) {
            (Kind::Bare, Some(tagged)) => out.extend_from_slice(tagged),
            (Kind::Bare, None) => out.extend_from_slice(self.raw),
            (Kind::Envelope(range), Some(tagged)) => {
                out.extend_from_slice(&self.raw[..range.start]);
                json_string(out, tagged);
                out.extend_from_slice(&self.raw[range.end..]);
            }
            (Kind::Envelope(_), None) => out.extend_from_slice(self.raw),
            (Kind::Text, tagged) => json_string(out, tagged.unwrap_or(&self.event)),
            (Kind::Invalid, _) => {
                out.extend_from_slice(b"{\"message\":");
                json_string(out, self.raw);
                out.push(b'}');
            }
        }
    }
}

/// Appends `bytes` as a JSON string (invalid UTF-8 replaced by U+FFFD).
fn json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &*text);
}

/// The elements of a body: a JSON array, or NDJSON (one event a line, blank
/// lines and a trailing newline tolerated), found by the engine's splitter.
/// Elements are not parsed here: an element that is not JSON (or not UTF-8)
/// reaches the engine as written and gets its error verdict.
fn split(body: &[u8], ndjson: bool) -> Result<Vec<Item<'_>>, Refusal> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let spans = if !ndjson && first == Some(&b'[') {
        let whole = modwatch_engine::split::split(body);
        if whole.layout != Layout::Array {
            return Err(Refusal::bad(format!("invalid JSON array: the body is read as {}", whole.layout)));
        }
        whole.events
    } else {
        modwatch_engine::split::lines(body)
    };
    Ok(spans.iter().filter_map(|span| body.get(span.range())).map(Item::new).collect())
}

/// Tagged batches whose forward failed, oldest first, bounded by count and
/// bytes.
#[derive(Default)]
struct RetryCache {
    kept: VecDeque<Tagged>,
    bytes: usize,
}

impl RetryCache {
    fn get(&self, key: (u64, usize)) -> Option<Tagged> {
        self.kept.iter().find(|t| t.key == key).cloned()
    }

    fn keep(&mut self, key: (u64, usize), tagged: &Tagged) {
        if self.kept.iter().any(|t| t.key == key) {
            return;
        }
        self.bytes += tagged.forward.len();
        self.kept.push_back(Tagged { replayed: false, ..tagged.clone() });
        while self.kept.len() > RETRY_BATCHES || self.bytes > RETRY_BYTES {
            match self.kept.pop_front() {
                Some(old) => self.bytes -= old.forward.len(),
                None => break,
            }
        }
    }

    fn forget(&mut self, key: (u64, usize)) {
        if let Some(i) = self.kept.iter().position(|t| t.key == key)
            && let Some(old) = self.kept.remove(i)
        {
            self.bytes -= old.forward.len();
        }
    }
}

/// The sidecar's own counters; the engine's come from [`Detector::stats`].
/// Each is shared (an `Arc` inside) with the registry made for a scrape.
struct Metrics {
    by_status: Family<Vec<(&'static str, String)>, Counter>,
    latency: Histogram,
    forward_failures: Counter,
    forwarded: Counter,
    replayed: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            by_status: Family::default(),
            latency: Histogram::new(LATENCY_BUCKETS),
            forward_failures: Counter::default(),
            forwarded: Counter::default(),
            replayed: Counter::default(),
        }
    }
}

impl Metrics {
    fn request(&self, status: StatusCode, elapsed: Duration) {
        self.by_status.get_or_create(&vec![("code", status.as_u16().to_string())]).inc();
        self.latency.observe(elapsed.as_secs_f64());
    }

    /// The OpenMetrics text exposition of the engine's counters and the
    /// sidecar's. Counters are registered without their `_total`, and help
    /// texts without their final period: the encoder adds both.
    fn render(&self, shared: &Shared) -> String {
        let mut registry = Registry::default();
        let counters = {
            let mut detector = shared.detector.lock().unwrap_or_else(PoisonError::into_inner);
            detector.stats().and_then(|s| Ok((s, detector.correlation_stats()?)))
        };
        match counters {
            Ok((s, correlations)) => engine_metrics(&mut registry, &s, &correlations),
            Err(e) => eprintln!("modwatch serve: the engine's counters could not be read: {e:#}"),
        }
        registry.register("modwatch_serve_requests", "HTTP requests answered, by status code", self.by_status.clone());
        registry.register(
            "modwatch_serve_forward_failures",
            "Batches whose forward failed or timed out (answered 503)",
            self.forward_failures.clone(),
        );
        registry.register("modwatch_serve_forwarded_events", "Events forwarded", self.forwarded.clone());
        registry.register(
            "modwatch_serve_replayed_batches",
            "Retried batches forwarded from the retry cache, not scored again",
            self.replayed.clone(),
        );
        registry.register("modwatch_serve_request_duration_seconds", "Time to answer a request", self.latency.clone());
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            eprintln!("modwatch serve: the metrics could not be written: {e}");
        }
        text
    }
}

/// The engine's counters as they are now, registered as fresh metrics: the
/// engine counts, the registry only reports.
fn engine_metrics(registry: &mut Registry, s: &Stats, correlations: &[CorrelationStats]) {
    let counter = |value: u64| {
        let counter: Counter = Counter::default();
        counter.inc_by(value);
        counter
    };
    let counters: [(&str, &str, u64); 9] = [
        ("modwatch_events", "Events evaluated (a batch object counts once)", s.events),
        ("modwatch_records", "Records evaluated", s.records),
        ("modwatch_matches", "Records that matched a rule", s.matches),
        ("modwatch_alerts", "Alerts raised", s.alerts),
        ("modwatch_errors", "Events that could not be decoded", s.errors),
        ("modwatch_suppressed", "Matches suppressed by an allowlist", s.suppressed),
        ("modwatch_unrecognised", "Records of an unknown shape", s.unrecognised),
        ("modwatch_prefiltered", "Events passed on without being parsed", s.prefiltered),
        ("modwatch_evictions", "Principals evicted to stay within the bound", s.evictions),
    ];
    for (name, help, value) in counters {
        registry.register(name, help, counter(value));
    }
    let by_category = Family::<Vec<(&'static str, String)>, Counter>::default();
    for (category, n) in &s.by_category {
        by_category.get_or_create(&vec![("category", category.clone())]).inc_by(*n);
    }
    registry.register("modwatch_matches_by_category", "Matches by the best match's category", by_category);
    if !correlations.is_empty() {
        let alerts = Family::<Vec<(&'static str, String)>, Counter>::default();
        for c in correlations {
            alerts.get_or_create(&vec![("rule_id", c.rule_id.clone())]).inc_by(c.alerts);
        }
        registry.register(
            "modwatch_correlation_alerts",
            "Sigma correlation alerts raised, by correlation rule",
            alerts,
        );
        let groups = Family::<Vec<(&'static str, String)>, Gauge>::default();
        for c in correlations {
            groups
                .get_or_create(&vec![("rule_id", c.rule_id.clone())])
                .set(i64::try_from(c.groups).unwrap_or(i64::MAX));
        }
        registry.register(
            "modwatch_correlation_groups",
            "Sigma correlation groups tracked now, by correlation rule",
            groups,
        );
    }
    let principals: Gauge = Gauge::default();
    principals.set(i64::try_from(s.principals).unwrap_or(i64::MAX));
    registry.register("modwatch_principals", "Principals tracked now", principals);
}
