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
fn runtime() -> &'static tokio::runtime::Runtime {
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
/// records every batch it is sent, and answers with `status`.
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
                        if let Some(tx) = a.lock().unwrap().as_ref() {
                            let _ = tx.send(());
                        }
                        tokio::time::sleep(Duration::from_millis(d.load(Ordering::SeqCst))).await;
                        let status = StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap();
                        b.lock().unwrap().push(body);
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

fn send(request: Request<Full<Bytes>>) -> (StatusCode, String) {
    static CLIENT: OnceLock<Client<HttpConnector, Full<Bytes>>> = OnceLock::new();
    let client = CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build_http());
    runtime().block_on(async {
        let response = client.request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    })
}

fn get(url: &str) -> (StatusCode, String) {
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
