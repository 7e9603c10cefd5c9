//! `modwatch serve`, the real binary on loopback, fed as Vector's `http` sink
//! feeds it, forwarding to a real HTTP receiver run by the test.
//!
//! The expected output of every test comes from a [`Detector`] (the same
//! component) run over the same events in one stream: the sidecar must
//! forward each event once, tagged byte for byte as the component tags it.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use modwatch::{Detector, Output, Status};
use modwatch_testkit::corpus;
use serde_json::Value;

// ---------------------------------------------------------------- harness

/// One runtime for the receivers and the client of every test.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap())
}

/// The sidecar process; killed when dropped.
struct Sidecar {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Sidecar {
    fn start(forward: &str, extra: &[&str]) -> Sidecar {
        let mut child = Command::new(env!("CARGO_BIN_EXE_modwatch"))
            .args(["serve", "--listen", "127.0.0.1:0", "--forward", forward])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let kept = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.split('/').next().unwrap_or_default().to_string());
                }
                kept.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(120)) else {
            let _ = child.kill();
            panic!("modwatch serve did not start:\n{}", log.lock().unwrap());
        };
        Sidecar { child, url: format!("http://{addr}"), log, reader: Some(reader) }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then waits for the exit; true when it exited with 0.
    fn terminate(&mut self) -> bool {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exited = self.child.wait().unwrap().success();
        // Its stderr is closed now: the log is complete once the reader is done.
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        exited
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A receiving endpoint (Vector's `http_server` source in production): it
/// records every batch it is sent as soon as it has read it (as the source
/// has the events once it read the body, whenever it answers), and answers
/// with `status` after `delay`.
struct Receiver {
    addr: SocketAddr,
    batches: Arc<Mutex<Vec<Bytes>>>,
    status: Arc<AtomicU16>,
    /// Milliseconds to wait before answering.
    delay: Arc<AtomicU64>,
    /// Told of each request as it arrives.
    arrived: Arc<Mutex<Option<mpsc::Sender<()>>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        Receiver::on("127.0.0.1:0".parse().unwrap())
    }

    fn on(addr: SocketAddr) -> Receiver {
        let listener = runtime().block_on(tokio::net::TcpListener::bind(addr)).unwrap();
        let addr = listener.local_addr().unwrap();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let delay = Arc::new(AtomicU64::new(0));
        let arrived: Arc<Mutex<Option<mpsc::Sender<()>>>> = Arc::new(Mutex::new(None));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (b, s, d, a) = (Arc::clone(&batches), Arc::clone(&status), Arc::clone(&delay), Arc::clone(&arrived));
        runtime().spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => accepted.unwrap().0,
                    _ = &mut stopped => return,
                };
                let (b, s, d, a) = (Arc::clone(&b), Arc::clone(&s), Arc::clone(&d), Arc::clone(&a));
                let service = service_fn(move |request: Request<Incoming>| {
                    let (b, s, d, a) = (Arc::clone(&b), Arc::clone(&s), Arc::clone(&d), Arc::clone(&a));
                    async move {
                        assert_eq!(request.headers()["content-type"], "application/json");
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        b.lock().unwrap().push(body);
                        if let Some(tx) = a.lock().unwrap().as_ref() {
                            let _ = tx.send(());
                        }
                        tokio::time::sleep(Duration::from_millis(d.load(Ordering::SeqCst))).await;
                        let status = StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap();
                        let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
                        *response.status_mut() = status;
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Receiver { addr, batches, status, delay, arrived, stop: Some(stop) }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Every batch received so far, each parsed as the JSON array it must be,
    /// its elements as compact bytes.
    fn take(&self) -> Vec<Vec<Vec<u8>>> {
        std::mem::take(&mut *self.batches.lock().unwrap()).iter().map(|b| elements(b)).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The elements of a JSON array, each as the bytes it was written with.
fn elements(body: &[u8]) -> Vec<Vec<u8>> {
    let raw: Vec<&serde_json::value::RawValue> =
        serde_json::from_slice(body).unwrap_or_else(|e| panic!("forwarded body is not a JSON array ({e})"));
    raw.iter().map(|r| r.get().as_bytes().to_vec()).collect()
}

/// How Vector's `http` sink frames a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Codec {
    /// `encoding.codec: json` (default framing): a JSON array.
    JsonArray,
    /// `encoding.codec: json`, `framing.method: newline_delimited`.
    Ndjson,
}

/// Vector's `compression` option, as the `content-encoding` it sends.
#[derive(Debug, Clone, Copy)]
enum Compression {
    None,
    Gzip,
    Zstd,
    Zlib,
}

/// The request body Vector would send for these encoded events.
fn body(events: &[Vec<u8>], codec: Codec) -> Vec<u8> {
    match codec {
        Codec::JsonArray => [b"[".to_vec(), events.join(&b","[..]), b"]".to_vec()].concat(),
        Codec::Ndjson => events.join(&b"\n"[..]),
    }
}

fn compress(body: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::None => body.to_vec(),
        Compression::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(body).unwrap();
            gz.finish().unwrap()
        }
        Compression::Zlib => {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(body).unwrap();
            z.finish().unwrap()
        }
        Compression::Zstd => ruzstd::encoding::compress_to_vec(body, ruzstd::encoding::CompressionLevel::Fastest),
    }
}

/// A POST with the headers Vector's `http` sink sends.
fn vector_post(url: &str, body: &[u8], codec: Codec, compression: Compression) -> (StatusCode, String) {
    let content_type = match codec {
        Codec::JsonArray => "application/json",
        Codec::Ndjson => "application/x-ndjson",
    };
    let mut request = Request::post(url)
        .header("content-type", content_type)
        .header("user-agent", "Vector/0.57.0 (x86_64-unknown-linux-gnu)")
        .header("accept-encoding", "zstd,gzip,deflate,br");
    let encoding = match compression {
        Compression::None => None,
        Compression::Gzip => Some("gzip"),
        Compression::Zstd => Some("zstd"),
        Compression::Zlib => Some("deflate"),
    };
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    send(request.body(Full::new(Bytes::from(compress(body, compression)))).unwrap())
}

pub(crate) fn send(request: Request<Full<Bytes>>) -> (StatusCode, String) {
    static CLIENT: OnceLock<Client<HttpConnector, Full<Bytes>>> = OnceLock::new();
    let client = CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build_http());
    runtime().block_on(async {
        let response = client.request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    })
}

pub(crate) fn get(url: &str) -> (StatusCode, String) {
    send(Request::get(url).body(Full::new(Bytes::new())).unwrap())
}

/// What a Vector source makes of a raw line: the legacy log namespace's
/// envelope, keys in Vector's (sorted) order.
fn envelope(line: &[u8], n: usize) -> Vec<u8> {
    let message = serde_json::to_string(std::str::from_utf8(line).unwrap()).unwrap();
    format!(
        r#"{{"file":"/var/log/audit/cloud.ndjson","host":"ip-10-0-0-{}","message":{message},"source_type":"file","timestamp":"2026-11-26T15:00:{:02}.{:06}Z"}}"#,
        n % 7,
        n % 60,
        n
    )
    .into_bytes()
}

/// The events sent in one request: the raw events, and whether they go
/// wrapped in Vector's envelope.
struct Sent {
    raw: Vec<Vec<u8>>,
    enveloped: bool,
}

impl Sent {
    /// The encoded events, as Vector's json codec writes them.
    fn encoded(&self) -> Vec<Vec<u8>> {
        if self.enveloped {
            self.raw.iter().enumerate().map(|(i, e)| envelope(e, i)).collect()
        } else {
            self.raw.clone()
        }
    }
}

/// The component's output for one event: tagged bytes, or `None` for the
/// event unchanged; and whether it matched.
fn tag(detector: &mut Detector, event: &[u8]) -> (Option<Vec<u8>>, bool) {
    let result = detector.tag(event).unwrap();
    let matched = result.verdicts.iter().any(|v| v.status == Status::Match);
    match result.output {
        Output::Replaced(bytes) => (Some(bytes), matched),
        Output::Unchanged => (None, matched),
        Output::Dropped => panic!("nothing is dropped with the default config"),
    }
}

/// What the sidecar must forward for `sent`, tagged by `detector` in order.
fn expected(detector: &mut Detector, sent: &Sent, only_matches: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, raw) in sent.raw.iter().enumerate() {
        let (tagged, matched) = tag(detector, raw);
        if only_matches && !matched {
            continue;
        }
        let line = tagged.unwrap_or_else(|| raw.clone());
        out.push(if sent.enveloped { envelope(&line, i) } else { line });
    }
    out
}

/// The corpus, the S3 batch file (one event of nine records) and generated
/// traffic, as compact single-line events.
fn events(generated: usize) -> Vec<Vec<u8>> {
    let mut events: Vec<Vec<u8>> = corpus::events().into_iter().map(|e| e.event).collect();
    let s3: Value = serde_json::from_str(&corpus::read("s3-batch.json")).unwrap();
    events.push(serde_json::to_vec(&s3).unwrap());
    events.extend(modwatch_testkit::r#gen::mix(generated, 7).into_iter().map(String::into_bytes));
    events
}

/// The events of a scenario file (`tests/scenarios/`).
fn scenario(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios").join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::to_vec(&serde_json::from_str::<Value>(l).unwrap()["event"]).unwrap())
        .collect()
}

fn show(batch: &[Vec<u8>]) -> String {
    batch.iter().map(|e| String::from_utf8_lossy(e).chars().take(300).collect::<String>() + "\n").collect()
}

fn temp_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("serve-{}-{name}", std::process::id()))
}

/// The samples of an OpenMetrics text exposition: `name{labels}` → value.
/// Panics on a line that is neither a comment nor a sample.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            // OpenMetrics ends the exposition with `# EOF`.
            let known = comment.starts_with("HELP ") || comment.starts_with("TYPE ") || comment == "EOF";
            assert!(known, "bad comment {line:?}");
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample {line:?}"));
        let name_end = key.find('{').unwrap_or(key.len());
        assert!(key[..name_end].chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "bad metric name in {line:?}");
        assert!(name_end == key.len() || key.ends_with('}'), "bad labels in {line:?}");
        let value: f64 = value.parse().unwrap_or_else(|e| panic!("bad value in {line:?}: {e}"));
        assert!(samples.insert(key.to_string(), value).is_none(), "sample {key} twice");
    }
    samples
}

// ---------------------------------------------------------------- tests

/// Every codec, compression and shape Vector sends, one after the other:
/// every event arrives once, in order, tagged as the component tags it.
#[test]
fn forwards_every_event_once_tagged_as_the_component_does() {
    let receiver = Receiver::start();
    let sidecar = Sidecar::start(&receiver.url(), &[]);
    let mut reference = Detector::new(None, None).unwrap();
    let all = events(600);

    let modes = [
        (Codec::JsonArray, Compression::None, false),
        (Codec::Ndjson, Compression::Gzip, true),
        (Codec::JsonArray, Compression::Zstd, true),
        (Codec::Ndjson, Compression::None, false),
        (Codec::JsonArray, Compression::Gzip, false),
        (Codec::Ndjson, Compression::Zstd, false),
        (Codec::JsonArray, Compression::Zlib, true),
        (Codec::Ndjson, Compression::None, true),
    ];
    let chunk = all.len().div_ceil(modes.len());
    let mut sent_total = 0;
    let mut matches = 0;
    for (part, &(codec, compression, enveloped)) in all.chunks(chunk).zip(modes.iter().cycle()) {
        let sent = Sent { raw: part.to_vec(), enveloped };
        let mut body = body(&sent.encoded(), codec);
        if codec == Codec::Ndjson && enveloped {
            // A trailing newline is tolerated.
            body.push(b'\n');
        }
        let (status, answer) = vector_post(&format!("{}/", sidecar.url), &body, codec, compression);
        assert_eq!(status, StatusCode::OK, "{codec:?} {compression:?}: {answer}\n{}", sidecar.log());
        let answer: Value = serde_json::from_str(&answer).unwrap();
        let want = expected(&mut reference, &sent, false);
        let got = receiver.take();
        assert_eq!(got.len(), 1, "one request gives one forwarded batch");
        assert_eq!(got[0].len(), part.len(), "{codec:?} {compression:?} envelope={enveloped}: one output per event");
        for (i, (g, w)) in got[0].iter().zip(&want).enumerate() {
            assert!(
                g == w,
                "{codec:?} {compression:?} envelope={enveloped}, event {i}:\n got  {}\n want {}",
                show(std::slice::from_ref(g)),
                show(std::slice::from_ref(w))
            );
        }
        assert_eq!(answer["events"], part.len());
        assert_eq!(answer["forwarded"], part.len());
        matches += answer["matches"].as_u64().unwrap();
        sent_total += part.len();
    }
    assert_eq!(sent_total, all.len());
    assert!(matches >= 40, "the corpus and the mix have matches: {matches}");

    // The counters say the same.
    let (status, health) = get(&format!("{}/health", sidecar.url));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&health).unwrap()["status"], "ok");
    let (status, text) = get(&format!("{}/metrics", sidecar.url));
    assert_eq!(status, StatusCode::OK);
    let metrics = parse_metrics(&text);
    let stats = reference.stats().unwrap();
    assert_eq!(metrics["modwatch_events_total"], stats.events as f64);
    assert_eq!(metrics["modwatch_matches_total"], stats.matches as f64);
    assert_eq!(metrics["modwatch_alerts_total"], stats.alerts as f64);
    assert_eq!(metrics["modwatch_principals"], stats.principals as f64);
    for (category, n) in &stats.by_category {
        assert_eq!(metrics[&format!("modwatch_matches_by_category_total{{category=\"{category}\"}}")], *n as f64);
    }
    assert_eq!(metrics["modwatch_serve_forwarded_events_total"], all.len() as f64);
    assert_eq!(metrics["modwatch_serve_requests_total{code=\"200\"}"], modes.len() as f64 + 1.0);
    assert_eq!(metrics["modwatch_serve_request_duration_seconds_count"], modes.len() as f64 + 1.0);
    assert_eq!(metrics["modwatch_serve_request_duration_seconds_bucket{le=\"+Inf\"}"], modes.len() as f64 + 1.0);
    assert_eq!(metrics["modwatch_serve_forward_failures_total"], 0.0);
}

/// `--only-matches` forwards the matches alone, still tagged as the
/// component tags them.
#[test]
fn only_matches_forwards_the_matches() {
    let receiver = Receiver::start();
    let sidecar = Sidecar::start(&receiver.url(), &["--only-matches"]);
    let mut reference = Detector::new(None, None).unwrap();
    let sent = Sent { raw: events(200), enveloped: true };
    let (status, answer) = vector_post(
        &format!("{}/events", sidecar.url),
        &body(&sent.encoded(), Codec::Ndjson),
        Codec::Ndjson,
        Compression::Gzip,
    );
    assert_eq!(status, StatusCode::OK, "{answer}");
    let want = expected(&mut reference, &sent, true);
    assert!(want.len() >= 40 && want.len() < sent.raw.len(), "{} matches", want.len());
    assert_eq!(receiver.take(), vec![want]);

    // A batch without a match forwards nothing, and is still taken.
    let quiet = Sent {
        raw: modwatch_testkit::r#gen::mix(50, 99).into_iter().map(String::into_bytes).collect(),
        enveloped: false,
    };
    let want = expected(&mut reference, &quiet, true);
    let (status, _) =
        vector_post(&sidecar.url, &body(&quiet.encoded(), Codec::JsonArray), Codec::JsonArray, Compression::None);
    assert_eq!(status, StatusCode::OK);
    let got: Vec<Vec<u8>> = receiver.take().into_iter().flatten().collect();
    assert_eq!(got, want);
}

/// A receiver that fails gives 503 and the batch is not lost: its retry is
/// forwarded with the tags of one single pass (not scored twice, alert
/// kept). The same events re-sent in another body are recognised by their
/// event ids: tagged `duplicate`, no points added.
#[test]
fn failed_forward_is_503_and_a_retry_does_not_score_twice() {
    let receiver = Receiver::start();
    let sidecar = Sidecar::start(&receiver.url(), &[]);
    let mut reference = Detector::new(None, None).unwrap();
    let threshold = scenario("score-2-threshold.ndjson");
    let sent = Sent { raw: threshold.clone(), enveloped: true };
    let request = body(&sent.encoded(), Codec::JsonArray);
    let want = expected(&mut reference, &sent, false);
    let alerts = want.iter().filter(|e| String::from_utf8_lossy(e).contains(r#"\"alert\":{"#)).count();
    assert_eq!(alerts, 2, "the scenario raises two alerts (in the tagged lines inside `message`)");

    receiver.status.store(500, Ordering::SeqCst);
    let (status, answer) = vector_post(&sidecar.url, &request, Codec::JsonArray, Compression::Gzip);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert!(answer.contains("500"), "the answer says why: {answer}");
    assert_eq!(receiver.take().len(), 1, "the forward was tried");

    // Vector retries the same request, still failing, then succeeding.
    let (status, _) = vector_post(&sidecar.url, &request, Codec::JsonArray, Compression::Gzip);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    receiver.status.store(200, Ordering::SeqCst);
    let (status, answer) = vector_post(&sidecar.url, &request, Codec::JsonArray, Compression::Gzip);
    assert_eq!(status, StatusCode::OK, "{answer}");
    let delivered = receiver.take();
    assert_eq!(delivered.last().unwrap(), &want, "the retry carries the single-pass tags, alert included");

    // The same events again, in another framing: each one is a duplicate.
    let (status, _) = vector_post(&sidecar.url, &body(&threshold, Codec::Ndjson), Codec::Ndjson, Compression::None);
    assert_eq!(status, StatusCode::OK);
    let again = receiver.take();
    let final_score = reference.evaluate(&threshold[threshold.len() - 1]).unwrap()[0].score.clone().unwrap();
    assert!(final_score.reasons.contains(&"duplicate".to_string()));
    for event in &again[0] {
        let v: Value = serde_json::from_slice(event).unwrap();
        let m = &v["modwatch"];
        assert!(m["reasons"].as_array().unwrap().contains(&Value::from("duplicate")), "{v}");
        assert_eq!(m["scored_points"].as_f64(), Some(0.0), "{v}");
        assert_eq!(m["principal_score"].as_f64(), Some(final_score.principal_score), "{v}");
        assert!(m.get("alert").is_none(), "no second alert: {v}");
    }

    let (_, text) = get(&format!("{}/metrics", sidecar.url));
    let metrics = parse_metrics(&text);
    assert_eq!(metrics["modwatch_serve_forward_failures_total"], 2.0);
    assert_eq!(metrics["modwatch_serve_replayed_batches_total"], 2.0);
    assert_eq!(metrics["modwatch_serve_requests_total{code=\"503\"}"], 2.0);
    assert_eq!(metrics["modwatch_alerts_total"], 2.0, "two alerts in the scenario, each raised once");
}

/// A receiver that is down (connection refused) gives 503; once it is up
/// the retry is delivered.
#[test]
fn receiver_down_is_503_until_it_is_back() {
    // A port nobody listens on, then a receiver on that port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let sidecar = Sidecar::start(&format!("http://{port}/"), &["--forward-timeout", "5"]);
    let mut reference = Detector::new(None, None).unwrap();
    let sent = Sent { raw: events(0), enveloped: false };
    let request = body(&sent.encoded(), Codec::Ndjson);
    let (status, answer) = vector_post(&sidecar.url, &request, Codec::Ndjson, Compression::Zstd);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");

    let receiver = Receiver::on(port);
    let (status, answer) = vector_post(&sidecar.url, &request, Codec::Ndjson, Compression::Zstd);
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(receiver.take(), vec![expected(&mut reference, &sent, false)]);
}

/// Several clients posting at once share one scoring state: the verdicts
/// are those of one stream. Each principal's events go through one client,
/// in order, so no score depends on how the clients interleave. Two kinds of
/// event do depend on it and are left out: a batch whose records belong to
/// several principals (no one client keeps all of their orders), and a
/// scored event that carries no time (it is scored at the latest time seen
/// across all principals).
#[test]
fn concurrent_posts_give_the_verdicts_of_one_stream() {
    let receiver = Receiver::start();
    let sidecar = Sidecar::start(&receiver.url(), &[]);
    let mut probe = Detector::new(None, None).unwrap();
    let one_order = |verdicts: &[modwatch::Verdict]| {
        let keys: std::collections::BTreeSet<&str> =
            verdicts.iter().filter_map(|v| v.principal.as_ref()).map(|p| p.key.as_str()).collect();
        let timeless = verdicts
            .iter()
            .any(|v| v.score.is_some() && v.time.as_deref().and_then(modwatch_engine::time::parse).is_none());
        keys.len() <= 1 && !timeless
    };
    let all: Vec<Vec<u8>> = events(1500).into_iter().filter(|e| one_order(&probe.evaluate(e).unwrap())).collect();
    assert!(all.len() > 1400, "{} events left", all.len());

    // One stream: the reference output, and each event's principal.
    let mut reference = Detector::new(None, None).unwrap();
    let mut want = Vec::new();
    let mut lanes: [Vec<Vec<u8>>; 4] = Default::default();
    for (i, event) in all.iter().enumerate() {
        let verdicts = reference.evaluate(event).unwrap();
        let principal = verdicts.iter().find_map(|v| v.principal.as_ref()).map(|p| p.key.clone());
        // An event with no principal (not parsed, or of no known shape)
        // touches no scoring state: any lane will do.
        let lane = principal.map_or(i % 4, |p| {
            use std::hash::{Hash, Hasher};
            let mut h = std::hash::DefaultHasher::new();
            p.hash(&mut h);
            (h.finish() % 4) as usize
        });
        lanes[lane].push(event.clone());
    }
    let mut one_stream = Detector::new(None, None).unwrap();
    for event in &all {
        let (tagged, _) = tag(&mut one_stream, event);
        want.push(tagged.unwrap_or_else(|| event.clone()));
    }
    assert!(lanes.iter().all(|l| l.len() > 50), "{:?}", lanes.iter().map(Vec::len).collect::<Vec<_>>());

    let url = sidecar.url.clone();
    std::thread::scope(|scope| {
        for (i, lane) in lanes.iter().enumerate() {
            let url = url.clone();
            scope.spawn(move || {
                let codec = if i % 2 == 0 { Codec::JsonArray } else { Codec::Ndjson };
                for batch in lane.chunks(40) {
                    let (status, answer) = vector_post(&url, &body(batch, codec), codec, Compression::Gzip);
                    assert_eq!(status, StatusCode::OK, "{answer}");
                }
            });
        }
    });

    let mut got: Vec<Vec<u8>> = receiver.take().into_iter().flatten().collect();
    got.sort();
    want.sort();
    assert_eq!(got.len(), want.len());
    let differ = got.iter().zip(&want).filter(|(g, w)| g != w).count();
    assert_eq!(differ, 0, "{differ} events differ from one stream");
    let alerts = |events: &[Vec<u8>]| events.iter().filter(|e| e.windows(9).any(|w| w == b"\"alert\":{")).count();
    assert_eq!(alerts(&got), alerts(&want));
}

/// Bad requests get a status and a message; a bad event inside a good batch
/// passes through; nothing brings the server down.
#[test]
fn bad_requests_are_refused_with_a_reason() {
    let receiver = Receiver::start();
    let sidecar = Sidecar::start(&receiver.url(), &["--max-body-bytes", "100000"]);
    let url = &sidecar.url;
    let post = |body: &[u8], headers: &[(&str, &str)]| {
        let mut request = Request::post(format!("{url}/"));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        send(request.body(Full::new(Bytes::from(body.to_vec()))).unwrap())
    };
    let json = [("content-type", "application/json")];

    let cases: Vec<(&str, (StatusCode, String), StatusCode, &str)> = vec![
        ("truncated array", post(b"[{\"a\":1},", &json), StatusCode::BAD_REQUEST, "invalid JSON array"),
        ("array never closed", post(b"[{\"a\":1}, [2", &json), StatusCode::BAD_REQUEST, "invalid JSON array"),
        (
            "invalid gzip",
            post(b"not gzip at all", &[("content-type", "application/json"), ("content-encoding", "gzip")]),
            StatusCode::BAD_REQUEST,
            "invalid gzip body",
        ),
        (
            "invalid zstd",
            post(b"not zstd at all", &[("content-type", "application/json"), ("content-encoding", "zstd")]),
            StatusCode::BAD_REQUEST,
            "invalid zstd body",
        ),
        (
            "unknown encoding",
            post(b"[]", &[("content-type", "application/json"), ("content-encoding", "br")]),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not supported",
        ),
        ("over the limit", post(&vec![b' '; 100_001], &json), StatusCode::PAYLOAD_TOO_LARGE, "over 100000"),
        (
            "over the limit once decompressed",
            post(
                &compress(&vec![b' '; 5_000_000], Compression::Gzip),
                &[("content-type", "application/json"), ("content-encoding", "gzip")],
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "decompressed body over 100000",
        ),
        ("GET /", get(&format!("{url}/")), StatusCode::METHOD_NOT_ALLOWED, "POST"),
        (
            "PUT /events",
            send(Request::put(format!("{url}/events")).body(Full::new(Bytes::new())).unwrap()),
            StatusCode::METHOD_NOT_ALLOWED,
            "POST",
        ),
        ("POST /health", post_to(url, "/health"), StatusCode::METHOD_NOT_ALLOWED, "GET"),
        ("unknown path", get(&format!("{url}/nope")), StatusCode::NOT_FOUND, "not found"),
    ];
    for (what, (status, answer), want, says) in &cases {
        assert_eq!(status, want, "{what}: {answer}");
        let message = serde_json::from_str::<Value>(answer).unwrap()["error"].as_str().unwrap().to_string();
        assert!(message.contains(says), "{what}: {message:?} should say {says:?}");
    }
    assert!(receiver.take().is_empty(), "nothing refused is forwarded");

    // An array whose element is not JSON is still an array (the engine's
    // splitter does not parse elements): the element passes through as a
    // bad NDJSON line does. It used to be refused as an invalid array.
    let (status, answer) = post(b"[nope]", &json);
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(receiver.take(), [vec![br#"{"message":"nope"}"#.to_vec()]], "the element passes through");

    // Bad events inside a good NDJSON batch: each passes through (the line
    // that is not JSON wrapped as a message, so the array stays JSON).
    let mut reference = Detector::new(None, None).unwrap();
    let good = corpus::events().remove(0).event;
    let lines: Vec<Vec<u8>> = vec![
        b"this is not json".to_vec(),
        b"[1,2,3]".to_vec(),
        b"\"a string\"".to_vec(),
        b"{\"message\":17}".to_vec(),
        good.clone(),
    ];
    let (status, answer) = vector_post(url, &body(&lines, Codec::Ndjson), Codec::Ndjson, Compression::None);
    assert_eq!(status, StatusCode::OK, "{answer}");
    let got = receiver.take().remove(0);
    // The engine gets what the sidecar gives it: the JSON string's text.
    let fed: [&[u8]; 5] = [b"this is not json", b"[1,2,3]", b"a string", b"{\"message\":17}", &good];
    for line in fed {
        tag(&mut reference, line);
    }
    let tagged_good = tag(&mut Detector::new(None, None).unwrap(), &good).0.unwrap();
    let want: Vec<Vec<u8>> = vec![
        br#"{"message":"this is not json"}"#.to_vec(),
        b"[1,2,3]".to_vec(),
        b"\"a string\"".to_vec(),
        b"{\"message\":17}".to_vec(),
        tagged_good,
    ];
    assert_eq!(got, want, "got:\n{}", show(&got));
    let (_, text) = get(&format!("{url}/metrics"));
    assert_eq!(parse_metrics(&text)["modwatch_errors_total"], reference.stats().unwrap().errors as f64);
    assert!(!sidecar.log().contains("panicked"), "{}", sidecar.log());
}

fn post_to(url: &str, path: &str) -> (StatusCode, String) {
    send(Request::post(format!("{url}{path}")).body(Full::new(Bytes::new())).unwrap())
}

/// SIGTERM lets the request in flight finish, saves the state, and a
/// restart with `--state` continues the scores where they were.
#[test]
fn sigterm_saves_the_state_and_a_restart_continues() {
    let state = temp_path("state.json");
    let _ = std::fs::remove_file(&state);
    let receiver = Receiver::start();
    let flags = ["--state", state.to_str().unwrap()];
    let events = scenario("score-2-threshold.ndjson");
    let (first, second) = events.split_at(6);
    let mut reference = Detector::new(None, None).unwrap();
    let want_first = expected(&mut reference, &Sent { raw: first.to_vec(), enveloped: false }, false);
    let want_second = expected(&mut reference, &Sent { raw: second.to_vec(), enveloped: false }, false);

    let mut sidecar = Sidecar::start(&receiver.url(), &flags);
    // The receiver is slow: SIGTERM arrives while the request is in flight.
    receiver.delay.store(1500, Ordering::SeqCst);
    let (tx, rx) = mpsc::channel();
    *receiver.arrived.lock().unwrap() = Some(tx);
    let url = sidecar.url.clone();
    let request = body(first, Codec::JsonArray);
    let in_flight = std::thread::spawn(move || vector_post(&url, &request, Codec::JsonArray, Compression::None));
    rx.recv_timeout(Duration::from_secs(60)).expect("the forward reached the receiver");
    assert!(sidecar.terminate(), "exit status after SIGTERM:\n{}", sidecar.log());
    let (status, answer) = in_flight.join().unwrap();
    assert_eq!(status, StatusCode::OK, "the in-flight request finished: {answer}");
    assert!(sidecar.log().contains("state saved"), "{}", sidecar.log());
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(saved.is_object(), "{saved}");
    assert_eq!(receiver.take(), vec![want_first]);

    receiver.delay.store(0, Ordering::SeqCst);
    let restarted = Sidecar::start(&receiver.url(), &flags);
    let (status, answer) =
        vector_post(&restarted.url, &body(second, Codec::JsonArray), Codec::JsonArray, Compression::None);
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(receiver.take(), vec![want_second], "the scores go on from the saved state");
    let _ = std::fs::remove_file(&state);
}

/// With Sigma correlation rules, `/metrics` has each one's alerts and groups.
#[test]
fn metrics_count_correlation_alerts_per_rule() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/sigma");
    let rules = format!("{fixtures}/correlations.yml");
    let events: Vec<Vec<u8>> = std::fs::read_to_string(format!("{fixtures}/correlations.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].to_string().into_bytes())
        .collect();
    let receiver = Receiver::start();
    let sidecar = Sidecar::start(&receiver.url(), &["--rules", &rules]);
    let (status, answer) =
        vector_post(&sidecar.url, &body(&events, Codec::JsonArray), Codec::JsonArray, Compression::None);
    assert_eq!(status, StatusCode::OK, "{answer}\n{}", sidecar.log());
    let (status, text) = get(&format!("{}/metrics", sidecar.url));
    assert_eq!(status, StatusCode::OK);
    let metrics = parse_metrics(&text);
    let mut reference = Detector::new(None, Some(&std::fs::read_to_string(&rules).unwrap())).unwrap();
    for event in &events {
        reference.tag(event).unwrap();
    }
    let want = reference.correlation_stats().unwrap();
    assert_eq!(want.len(), 4);
    for c in &want {
        let label = format!("{{rule_id=\"{}\"}}", c.rule_id);
        assert_eq!(metrics[&format!("modwatch_correlation_alerts_total{label}")], c.alerts as f64, "{text}");
        assert_eq!(metrics[&format!("modwatch_correlation_groups{label}")], c.groups as f64, "{text}");
    }
    // tests/sigma/correlations.ndjson: seven alerts in all.
    let alerts: f64 =
        metrics.iter().filter(|(k, _)| k.starts_with("modwatch_correlation_alerts_total")).map(|(_, v)| v).sum();
    assert_eq!(alerts, 7.0);
}

/// `scan`'s engine options are `serve`'s too: a bad rule pack stops it at
/// start with the problem, exit code 2.
#[test]
fn a_bad_rule_pack_stops_serve_at_start() {
    let pack = temp_path("bad.toml");
    std::fs::write(&pack, "[[rule]]\nid = \"x\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_modwatch"))
        .args(["serve", "--listen", "127.0.0.1:0", "--forward", "http://127.0.0.1:9/", "--rules"])
        .arg(&pack)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rule pack was refused"));
    let out = Command::new(env!("CARGO_BIN_EXE_modwatch"))
        .args(["serve", "--forward", "https://127.0.0.1:9/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(&pack);
}

// ------------------------------------------------- the documented pipeline

/// The `vector.yaml` of docs/vector.md: the one YAML block there.
fn documented_config() -> serde_yaml_ng::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/vector.md");
    let blocks = code_blocks(&std::fs::read_to_string(path).unwrap(), "yaml");
    assert_eq!(blocks.len(), 1, "docs/vector.md has one vector.yaml");
    serde_yaml_ng::from_str(&blocks[0]).unwrap_or_else(|e| panic!("docs/vector.md: the vector.yaml is not YAML: {e}"))
}

/// The fenced code blocks of a Markdown text in a language.
fn code_blocks(text: &str, language: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start().strip_prefix("```")) {
            (None, Some(lang)) if lang.trim() == language => current = Some(String::new()),
            (Some(_), Some(_)) => blocks.extend(current.take()),
            (Some(block), None) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// `config` at a path of keys, or a panic naming it.
fn at<'v>(config: &'v serde_yaml_ng::Value, path: &str) -> &'v serde_yaml_ng::Value {
    path.split('.').fold(config, |v, k| v.get(k).unwrap_or_else(|| panic!("docs/vector.md: vector.yaml has no {path}")))
}

/// The documented components of one kind (`sources`, `transforms`, `sinks`).
fn components<'v>(config: &'v serde_yaml_ng::Value, kind: &str) -> Vec<(String, &'v serde_yaml_ng::Value)> {
    at(config, kind).as_mapping().unwrap().iter().map(|(k, v)| (k.as_str().unwrap().to_string(), v)).collect()
}

/// The documented transform of a type, and its name.
fn transform_of_type<'v>(config: &'v serde_yaml_ng::Value, kind: &str) -> (String, &'v serde_yaml_ng::Value) {
    let mut found = components(config, "transforms").into_iter().filter(|(_, t)| t["type"].as_str() == Some(kind));
    let first = found.next().unwrap_or_else(|| panic!("docs/vector.md: vector.yaml has no {kind} transform"));
    assert!(found.next().is_none(), "one {kind} transform");
    first
}

/// The documented `vector.yaml` is one Vector can load as written (what
/// `vector validate --no-environment` checks of its structure: a
/// `data_dir`, a `type` on every component, every input an existing
/// component), and it agrees with the sidecar: the `http` sink posts to the
/// sidecar's documented `--listen` address, the sidecar forwards to the
/// `http_server` source's address, the sink's timeouts and sizes fit the
/// sidecar's, and every `modwatch serve` flag the page uses exists.
#[test]
fn the_documented_vector_yaml_is_complete_and_agrees_with_the_sidecar() {
    let config = documented_config();
    assert!(at(&config, "data_dir").as_str().is_some_and(|d| d.starts_with('/')), "data_dir is an absolute path");
    let mut names = std::collections::BTreeSet::new();
    for kind in ["sources", "transforms", "sinks"] {
        for (name, component) in components(&config, kind) {
            assert!(component["type"].as_str().is_some(), "{kind}.{name} has a type");
            assert!(names.insert(name.clone()), "{name} is defined once");
        }
    }
    for kind in ["transforms", "sinks"] {
        for (name, component) in components(&config, kind) {
            let inputs = component["inputs"].as_sequence().unwrap_or_else(|| panic!("{kind}.{name} has inputs"));
            for input in inputs {
                let input = input.as_str().unwrap();
                assert!(names.contains(input) && input != name, "{kind}.{name}: input {input} is not a component");
            }
        }
    }

    // The sidecar's documented command line, and its flags.
    let page = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/vector.md")).unwrap();
    let commands: Vec<&str> = page.lines().filter(|l| l.contains("modwatch serve --")).collect();
    assert!(!commands.is_empty(), "docs/vector.md shows how to start the sidecar");
    let help = Command::new(env!("CARGO_BIN_EXE_modwatch")).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let flag = |line: &str, name: &str| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.iter().position(|w| *w == name).map(|i| words[i + 1].to_string())
    };
    for line in &commands {
        for word in line.split_whitespace().filter(|w| w.starts_with("--")) {
            assert!(
                help.contains(&format!("{word} ")),
                "docs/vector.md: `modwatch serve {word}` is not a flag of serve"
            );
        }
    }
    let listen = flag(commands[0], "--listen").expect("the command gives --listen");
    let forward = flag(commands[0], "--forward").expect("the command gives --forward");

    let (_, sink) = components(&config, "sinks").into_iter().find(|(_, s)| s["type"] == "http").expect("an http sink");
    let uri = sink["uri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!("http://{listen}/")),
        "the http sink posts to the sidecar ({uri}, --listen {listen})"
    );
    assert_eq!(sink["healthcheck"]["uri"].as_str(), Some(format!("http://{listen}/health").as_str()));
    assert_eq!(
        sink["request"]["concurrency"].as_u64(),
        Some(1),
        "one request in flight: batches reach the sidecar in order"
    );
    assert!(sink["request"]["timeout_secs"].as_f64().unwrap() > 30.0, "above the sidecar's --forward-timeout (30 s)");
    assert!(sink["batch"]["max_bytes"].as_u64().unwrap() <= 10 << 20, "within the sidecar's --max-body-bytes");
    assert_eq!(sink["acknowledgements"]["enabled"].as_bool(), Some(true));
    let (_, source) = components(&config, "sources")
        .into_iter()
        .find(|(_, s)| s["type"] == "http_server")
        .expect("an http_server source");
    let address = source["address"].as_str().unwrap();
    assert_eq!(forward, format!("http://{address}/"), "the sidecar forwards to the http_server source");
    assert_eq!(source["decoding"]["codec"].as_str(), Some("json"));

    // The dedupe transform reads what the http_server source gives.
    let (_, dedupe) = transform_of_type(&config, "dedupe");
    let source_name = components(&config, "sources").into_iter().find(|(_, s)| s["type"] == "http_server").unwrap().0;
    assert_eq!(dedupe["inputs"].as_sequence().unwrap(), &[serde_yaml_ng::Value::from(source_name)]);
}

/// What Vector's `dedupe` transform keeps of a stream of events, as it
/// does it (vector `src/transforms/dedupe`): an LRU cache of the last
/// `num_events` events' keys; with `fields.ignore` the key is every field
/// but those (nested fields by their dotted path, each value with its type),
/// with `fields.match` the listed fields' values, a missing one counted as
/// missing. An event whose key is in the cache is dropped (and refreshed).
fn vector_dedupe(events: Vec<Value>, dedupe: &serde_yaml_ng::Value) -> Vec<Value> {
    let num_events = dedupe["cache"]["num_events"].as_u64().unwrap_or(5000) as usize;
    let list = |key: &str| -> Option<Vec<String>> {
        dedupe["fields"][key].as_sequence().map(|s| s.iter().map(|f| f.as_str().unwrap().to_string()).collect())
    };
    let (ignore, matching) = (list("ignore"), list("match"));
    let key = |event: &Value| -> String {
        let mut leaves = BTreeMap::new();
        flatten_into(event, String::new(), &mut leaves);
        match (&ignore, &matching) {
            (Some(ignore), _) => {
                leaves.retain(|k, _| !ignore.iter().any(|f| k == f || k.starts_with(&format!("{f}."))));
                serde_json::to_string(&leaves).unwrap()
            }
            (None, Some(fields)) => {
                serde_json::to_string(&fields.iter().map(|f| leaves.get(f)).collect::<Vec<_>>()).unwrap()
            }
            (None, None) => panic!("the documented dedupe names its fields"),
        }
    };
    let mut cache: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let mut kept = Vec::new();
    for event in events {
        let k = key(&event);
        if let Some(i) = cache.iter().position(|c| *c == k) {
            let hit = cache.remove(i).unwrap();
            cache.push_back(hit);
            continue;
        }
        cache.push_back(k);
        if cache.len() > num_events {
            cache.pop_front();
        }
        kept.push(event);
    }
    kept
}

/// Leaf values by dotted path, each with its JSON type (as Vector's
/// dedupe keys a value by its type and bytes).
fn flatten_into(v: &Value, path: String, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                flatten_into(x, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out);
            }
        }
        other => {
            out.insert(path, other.to_string());
        }
    }
}

/// What Vector's `http_server` source makes of a forwarded batch with the
/// `json` codec: one event per element, with the fields it adds
/// (`source_type`, `path`, and the time it read the request as `timestamp`
/// when the element has none).
fn http_server_events(batches: &[Vec<Vec<u8>>]) -> Vec<Value> {
    let mut out = Vec::new();
    for (n, batch) in batches.iter().enumerate() {
        for element in batch {
            let mut event: Value = serde_json::from_slice(element).unwrap();
            if let Value::Object(m) = &mut event {
                m.insert("source_type".into(), "http_server".into());
                m.insert("path".into(), "/".into());
                m.entry("timestamp").or_insert_with(|| format!("2026-12-02T14:00:{n:02}Z").into());
            }
            out.push(event);
        }
    }
    out
}

/// A `modwatch scan` of the events as one stream, as the receiver would
/// parse each forwarded element.
fn scan(raw: &[Vec<u8>], enveloped: bool) -> Vec<Value> {
    let mut detector = Detector::new(None, None).unwrap();
    expected(&mut detector, &Sent { raw: raw.to_vec(), enveloped }, false)
        .iter()
        .map(|e| serde_json::from_slice(e).unwrap())
        .collect()
}

/// Vector's `http` sink as documented (`request.concurrency: 1`): one
/// batch in flight; a batch answered anything but 200 is sent again, the
/// same body, before the next one. Returns the attempts per batch.
fn documented_sink(url: &str, batches: &[Vec<Vec<u8>>]) -> Vec<usize> {
    batches
        .iter()
        .map(|batch| {
            let request = body(batch, Codec::JsonArray);
            (1..=100)
                .find(|_| vector_post(url, &request, Codec::JsonArray, Compression::Gzip).0 == StatusCode::OK)
                .expect("a batch is delivered within 100 attempts")
        })
        .collect()
}

/// Order. The documented sink sends one batch at a time, so the sidecar
/// scores in the stream's order and every event comes out as `modwatch
/// scan` tags it, scores and alerts included. Batches sent concurrently
/// (`request.concurrency` above 1) are never interleaved: each is scored
/// whole, under one lock, in the order the sidecar took them (the `batch`
/// number of its answer), so the output is `scan`'s of the stream in that
/// order of batches, which differs from the sender's where a principal's
/// events straddle batches: why the documented config has concurrency 1.
#[test]
fn the_documented_concurrency_gives_scan_and_concurrent_batches_are_serialised() {
    let sink = at(&documented_config(), "sinks.to_modwatch.request.concurrency").as_u64();
    assert_eq!(sink, Some(1));
    let all = events(1200);
    let batches: Vec<Vec<Vec<u8>>> = all.chunks(40).map(<[_]>::to_vec).collect();

    let receiver = Receiver::start();
    let sidecar = Sidecar::start(&receiver.url(), &[]);
    documented_sink(&sidecar.url, &batches);
    let got: Vec<Value> = receiver.take().into_iter().flatten().map(|e| serde_json::from_slice(&e).unwrap()).collect();
    let want = scan(&all, false);
    assert_eq!(got.len(), want.len());
    let differ = got.iter().zip(&want).filter(|(g, w)| g != w).count();
    assert_eq!(differ, 0, "{differ} events differ from `modwatch scan` of the stream");
    let scored = want.iter().filter(|e| e["modwatch"]["principal_score"].as_f64().is_some_and(|s| s > 0.0)).count();
    assert!(scored > 10, "the stream scores principals ({scored} events)");
    drop(sidecar);

    // Four batches in flight at once, from four senders.
    let sidecar = Sidecar::start(&receiver.url(), &[]);
    let order = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for lane in 0..4 {
            let (url, batches, order) = (&sidecar.url, &batches, &order);
            scope.spawn(move || {
                for (i, batch) in batches.iter().enumerate().skip(lane).step_by(4) {
                    let (status, answer) =
                        vector_post(url, &body(batch, Codec::JsonArray), Codec::JsonArray, Compression::None);
                    assert_eq!(status, StatusCode::OK, "{answer}");
                    let scored = serde_json::from_str::<Value>(&answer).unwrap()["batch"].as_u64().unwrap();
                    order.lock().unwrap().push((scored, i));
                }
            });
        }
    });
    let mut order = order.into_inner().unwrap();
    order.sort_unstable();
    assert_eq!(order.iter().map(|o| o.0).collect::<Vec<_>>(), (0..batches.len() as u64).collect::<Vec<_>>());
    let taken: Vec<Vec<u8>> = order.iter().flat_map(|&(_, i)| batches[i].clone()).collect();
    let mut got: Vec<String> = receiver
        .take()
        .into_iter()
        .flatten()
        .map(|e| serde_json::from_slice::<Value>(&e).unwrap().to_string())
        .collect();
    let mut want: Vec<String> = scan(&taken, false).iter().map(Value::to_string).collect();
    got.sort();
    want.sort();
    assert_eq!(got.len(), want.len());
    let differ = got.iter().zip(&want).filter(|(g, w)| g != w).count();
    assert_eq!(differ, 0, "{differ} events differ from `scan` of the batches in the order they were scored");
    let in_order = order.iter().filter(|(scored, i)| *scored == *i as u64).count();
    println!("concurrent senders: {in_order} of {} batches scored in the sender's order", order.len());
}

/// Delivery. A receiver that takes the batch but answers after
/// `--forward-timeout` (a downstream sink with end-to-end acknowledgements
/// that is slow) makes the sidecar answer 503; Vector sends the batch
/// again and the sidecar forwards its kept output, not scored again: the
/// receiver has two copies of every event of that batch (at-least-once).
/// The documented `dedupe` transform behind the `http_server` source leaves
/// one copy of each event, each as `modwatch scan` tags it. Vector's dedupe
/// is modelled (no Vector binary here) on the same fields and cache size.
#[test]
fn a_slow_receiver_duplicates_and_the_documented_dedupe_leaves_one_copy() {
    let config = documented_config();
    let (_, dedupe) = transform_of_type(&config, "dedupe");
    let raw = events(300);
    let sent = Sent { raw: raw.clone(), enveloped: true };
    let enveloped = sent.encoded();
    let batches: Vec<Vec<Vec<u8>>> = enveloped.chunks(50).map(<[_]>::to_vec).collect();

    let receiver = Receiver::start();
    let sidecar = Sidecar::start(&receiver.url(), &["--forward-timeout", "0.5"]);
    // The receiver is slow for the first forwards: it has the batch, but
    // answers after the sidecar stopped waiting.
    receiver.delay.store(1500, Ordering::SeqCst);
    let (tx, rx) = mpsc::channel();
    *receiver.arrived.lock().unwrap() = Some(tx);
    let url = sidecar.url.clone();
    let slow = batches[..2].to_vec();
    let sender = std::thread::spawn(move || documented_sink(&url, &slow));
    // Two slow forwards, then the receiver is quick again.
    rx.recv_timeout(Duration::from_secs(60)).unwrap();
    rx.recv_timeout(Duration::from_secs(60)).unwrap();
    receiver.delay.store(0, Ordering::SeqCst);
    let attempts = sender.join().unwrap();
    assert!(attempts[0] >= 2, "the first batch was answered 503 and sent again: {attempts:?}");
    documented_sink(&sidecar.url, &batches[2..]);
    let (_, text) = get(&format!("{}/metrics", sidecar.url));
    assert!(parse_metrics(&text)["modwatch_serve_replayed_batches_total"] >= 1.0);

    let received = http_server_events(&receiver.take());
    assert!(received.len() > raw.len(), "copies were delivered: {} events for {}", received.len(), raw.len());
    let once = vector_dedupe(received, dedupe);
    let tagged: Vec<Value> =
        once.iter().map(|e| serde_json::from_str(e["message"].as_str().unwrap()).unwrap()).collect();
    let want: Vec<Value> =
        scan(&raw, true).iter().map(|e| serde_json::from_str(e["message"].as_str().unwrap()).unwrap()).collect();
    assert_eq!(tagged.len(), want.len(), "one copy of each event");
    let differ = tagged.iter().zip(&want).filter(|(g, w)| g != w).count();
    assert_eq!(differ, 0, "{differ} events differ from `modwatch scan`");
}

/// State across a crash. With `--state`, the sidecar also writes the state
/// once `--state-events` events were scored since the last write, and
/// `--state-interval` seconds after it: SIGKILL loses at most the events
/// scored since, fewer than `--state-events`. After a restart the scores
/// are those of a `scan` that lost exactly such a tail (the test finds
/// which) and never more; with no state they would differ.
#[test]
fn sigkill_loses_at_most_the_events_since_the_last_periodic_write() {
    const EVERY: usize = 100;
    let state = temp_path("periodic.json");
    let _ = std::fs::remove_file(&state);
    let receiver = Receiver::start();
    let every = EVERY.to_string();
    let flags = ["--state", state.to_str().unwrap(), "--state-events", &every, "--state-interval", "3600"];
    // A principal's scored events on both sides of the crash (early, in
    // what was written), the rest of the traffic around them.
    let threshold = scenario("score-2-threshold.ndjson");
    let (before, after) = threshold.split_at(6);
    let traffic = events(300);
    let first: Vec<Vec<u8>> = before.iter().chain(&traffic).take(270).cloned().collect();
    let second: Vec<Vec<u8>> =
        after.iter().cloned().chain(modwatch_testkit::r#gen::mix(100, 9).into_iter().map(String::into_bytes)).collect();
    let (first, second) = (&first[..], &second[..]);
    let batches: Vec<Vec<Vec<u8>>> = first.chunks(30).map(<[_]>::to_vec).collect();

    let mut sidecar = Sidecar::start(&receiver.url(), &flags);
    documented_sink(&sidecar.url, &batches);
    sidecar.child.kill().unwrap(); // SIGKILL
    sidecar.child.wait().unwrap();
    assert!(state.exists(), "the state was written before the crash");
    receiver.take();

    let restarted = Sidecar::start(&receiver.url(), &flags);
    documented_sink(&restarted.url, &second.chunks(30).map(<[_]>::to_vec).collect::<Vec<_>>());
    let got: Vec<Value> = receiver.take().into_iter().flatten().map(|e| serde_json::from_slice(&e).unwrap()).collect();
    // The output of a scan that scored `first[..kept]` before the crash.
    let resumed = |kept: usize| {
        let mut detector = Detector::new(None, None).unwrap();
        for event in &first[..kept] {
            tag(&mut detector, event);
        }
        let out: Vec<Value> = expected(&mut detector, &Sent { raw: second.to_vec(), enveloped: false }, false)
            .iter()
            .map(|e| serde_json::from_slice(e).unwrap())
            .collect();
        out
    };
    let boundaries: Vec<usize> = (0..=batches.len()).map(|b| b * 30).filter(|&k| k + EVERY > first.len()).collect();
    let lost = boundaries.iter().find(|&&kept| resumed(kept) == got).map(|kept| first.len() - kept);
    let lost = lost
        .unwrap_or_else(|| panic!("no scan that lost fewer than {EVERY} events gives the output after the restart"));
    assert!(lost < EVERY);
    assert_ne!(resumed(0), got, "the state matters to these events");
    println!("SIGKILL lost the scoring of {lost} of {} events (--state-events {EVERY})", first.len());

    // The interval alone: one batch, then quiet. The first write holds it
    // whole (the state is written between batches, through a temporary
    // file renamed over it, so the file exists only once complete).
    let _ = std::fs::remove_file(&state);
    let flags = ["--state", state.to_str().unwrap(), "--state-events", "1000000", "--state-interval", "0.2"];
    let mut sidecar = Sidecar::start(&receiver.url(), &flags);
    documented_sink(&sidecar.url, &batches[..1]);
    let written = (0..1200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        state.exists()
    });
    assert!(written, "the state is written once the interval has passed");
    sidecar.child.kill().unwrap();
    sidecar.child.wait().unwrap();
    receiver.take();
    let restarted = Sidecar::start(&receiver.url(), &flags);
    documented_sink(&restarted.url, &second.chunks(30).map(<[_]>::to_vec).collect::<Vec<_>>());
    let got: Vec<Value> = receiver.take().into_iter().flatten().map(|e| serde_json::from_slice(&e).unwrap()).collect();
    assert_eq!(got, resumed(batches[0].len()), "nothing lost after a quiet interval");
    let _ = std::fs::remove_file(&state);
}
