//! `modwatch worker` against real `nats-server` processes on loopback (the
//! Debian package, installed by `scripts/setup-nats.sh`).
//!
//! Every test publishes a mixed stream of many principals the way a shipper
//! does (to `modwatch.in.<partition token>`, which the server's subject
//! mapping turns into a partition), lets workers score it, and compares each
//! partition's output stream, in order, with `modwatch scan` of that
//! partition's input events: the same bytes, line for line, no event
//! missing, none twice. Shippers publish one event a message, or, as Fluent
//! Bit's `nats` output does, a JSON array of `[timestamp, record]` pairs a
//! message, each record an event.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, reason = "tests fail by panicking")]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use modwatch::Detector;
use modwatch_testkit::corpus;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, StatusCode};

use crate::serve::{get, runtime, send};

/// Partitions of the subject mapping in every test.
const PARTITIONS: u32 = 4;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "modwatch-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One `nats-server` with JetStream, on loopback; killed when dropped.
struct Server {
    child: Option<Child>,
    args: Vec<String>,
    port: u16,
    _dir: Scratch,
}

impl Server {
    /// A single server, or node `i` of a cluster whose route ports are `routes`.
    fn start(cluster: Option<(usize, &[u16])>) -> Server {
        let dir = Scratch::new("nats");
        let port = free_port();
        let mut conf = format!(
            "listen: 127.0.0.1:{port}\n\
             jetstream {{ store_dir: {:?} }}\n\
             mappings {{ \"modwatch.in.*\": \"modwatch.p.{{{{partition({PARTITIONS},1)}}}}.{{{{wildcard(1)}}}}\" }}\n",
            dir.0.join("js")
        );
        if let Some((i, routes)) = cluster {
            let others: Vec<String> = routes.iter().map(|p| format!("nats-route://127.0.0.1:{p}")).collect();
            conf += &format!(
                "server_name: n{i}\ncluster {{ name: modwatch, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                routes[i],
                others.join(", ")
            );
        }
        let path = dir.0.join("nats.conf");
        std::fs::write(&path, conf).unwrap();
        let args = vec!["-c".to_string(), path.display().to_string()];
        let mut server = Server { child: None, args, port, _dir: dir };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("nats-server")
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nats-server ({e}): run scripts/setup-nats.sh"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `modwatch worker` process; killed (SIGKILL) when dropped.
struct Worker {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Worker {
    fn start(nats: &str, config: &Path, extra: &[&str]) -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_modwatch"))
            .args(["worker", "--nats", nats, "--config"])
            .arg(config)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                kept.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Worker { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then waits; true when it exited with 0.
    fn terminate(mut self) -> bool {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().unwrap().success()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The config file of the workers: the engine's defaults and a `worker`
/// section.
fn config(dir: &Path, worker: serde_json::Value) -> PathBuf {
    let mut section = serde_json::json!({
        "partition_count": PARTITIONS,
        "checkpoint_events": 40,
        "checkpoint_secs": 1.0,
        "lease_secs": 2.0,
        "batch": 16,
    });
    section.as_object_mut().unwrap().extend(worker.as_object().unwrap().clone());
    let path = dir.join("modwatch.json");
    let text = serde_json::to_string_pretty(&serde_json::json!({ "scoring": {}, "worker": section })).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// The events: the scenarios' (those that raise alerts among them), the
/// corpus and generated traffic, interleaved, and a line that is not JSON.
fn events() -> Vec<Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut sources: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for path in names {
        // Rows `{"event": …, "expect": …}`; a file whose first row sets its
        // own config is left out: the workers and `scan` run the defaults.
        let text = std::fs::read_to_string(&path).unwrap();
        let rows: Vec<serde_json::Value> =
            text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
        if rows.iter().any(|r| r.get("config").is_some()) {
            continue;
        }
        sources.push(rows.iter().map(|r| serde_json::to_vec(&r["event"]).unwrap()).collect());
    }
    sources.push(corpus::events().into_iter().map(|e| e.event).collect());
    sources.push(modwatch_testkit::r#gen::mix(600, 13).into_iter().map(String::into_bytes).collect());
    sources.push(vec![b"not json".to_vec()]);
    // Round robin: the principals' events interleave as collectors deliver them.
    let mut out = Vec::new();
    let mut at = 0;
    while sources.iter().any(|s| at < s.len()) {
        for s in &sources {
            if let Some(e) = s.get(at) {
                out.push(e.clone());
            }
        }
        at += 1;
    }
    // One line each, as shippers publish them.
    out.into_iter()
        .map(|e| serde_json::from_slice::<serde_json::Value>(&e).map_or(e, |v| serde_json::to_vec(&v).unwrap()))
        .collect()
}

/// The subject a shipper publishes `event` to: its principal's partition
/// token (an event with no principal adds to no state: any token, here its
/// own bytes').
fn subject(detector: &mut Detector, event: &[u8]) -> String {
    let verdicts = detector.evaluate(event).unwrap();
    let key = verdicts
        .iter()
        .find_map(|v| v.principal.as_ref().map(|p| p.key.clone()))
        .unwrap_or_else(|| String::from_utf8_lossy(event).into_owned());
    format!("modwatch.in.{}", modwatch_engine::partition_token(&key))
}

async fn context(url: &str) -> jetstream::Context {
    jetstream::new(async_nats::connect(url).await.unwrap())
}

/// How a shipper publishes the events.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shipper {
    /// One event a message (Vector's `nats` sink).
    Event,
    /// As Fluent Bit's `nats` output: each flush of a tag is one message, a
    /// JSON array of `[timestamp, record]` pairs, the tag (the subject) added
    /// to each record as its first key `tag` (`plugins/out_nats/nats.c`).
    FluentBit,
}

/// The messages Fluent Bit's `nats` output publishes for `events` routed by
/// `rewrite_tag` to `modwatch.in.<token>`: the records of one tag flushed
/// together, 1 to 5 at a time. Fluent Bit's records are maps: an event that
/// is not a JSON object is left out.
fn fluent_bit_flushes(detector: &mut Detector, events: &[Vec<u8>]) -> Vec<(String, Vec<u8>)> {
    let mut pending: Vec<(String, Vec<String>)> = Vec::new();
    let mut out = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let Ok(serde_json::Value::Object(_)) = serde_json::from_slice::<serde_json::Value>(event) else { continue };
        let tag = subject(detector, event);
        let text = String::from_utf8(event.clone()).unwrap();
        let fields = text.trim().strip_prefix('{').unwrap();
        let sep = if fields.trim_start().starts_with('}') { "" } else { "," };
        // The time as Fluent Bit prints a double: `%.1f` when it is whole,
        // else `%.16g`.
        let time = format!("{}.{}", 1_764_700_000 + i, if i % 2 == 0 { "0" } else { "25" });
        let pair = format!("[{time},{{\"tag\":\"{tag}\"{sep}{fields}]");
        let at = match pending.iter().position(|(t, _)| *t == tag) {
            Some(at) => at,
            None => {
                pending.push((tag.clone(), Vec::new()));
                pending.len() - 1
            }
        };
        pending[at].1.push(pair);
        if pending[at].1.len() > i % 5 {
            let (tag, pairs) = pending.remove(at);
            out.push((tag, format!("[{}]", pairs.join(",")).into_bytes()));
        }
    }
    out.extend(pending.into_iter().map(|(tag, pairs)| (tag, format!("[{}]", pairs.join(",")).into_bytes())));
    out
}

/// Creates the input stream (as the operator does) and publishes `events`
/// as `shipper` does; the number of events published.
async fn publish(js: &jetstream::Context, events: &[Vec<u8>], replicas: usize, shipper: Shipper) -> usize {
    js.get_or_create_stream(stream::Config {
        name: "MODWATCH_IN".into(),
        subjects: vec!["modwatch.p.>".into()],
        num_replicas: replicas,
        ..Default::default()
    })
    .await
    .unwrap();
    led(js, "MODWATCH_IN", None).await;
    let mut detector = Detector::new(None, None).unwrap();
    let (messages, count) = match shipper {
        Shipper::Event => {
            (events.iter().map(|e| (subject(&mut detector, e), e.clone())).collect::<Vec<_>>(), events.len())
        }
        Shipper::FluentBit => {
            let objects = events.iter().filter(|e| serde_json::from_slice::<serde_json::Map<_, _>>(e).is_ok());
            (fluent_bit_flushes(&mut detector, events), objects.count())
        }
    };
    let mut acks = Vec::new();
    for (subject, payload) in messages {
        acks.push(js.publish(subject, payload.into()).await.unwrap());
    }
    for ack in acks {
        ack.await.unwrap();
    }
    count
}

/// Waits until `stream` has a leader: a replicated stream just made refuses
/// messages until its replicas elect one.
async fn led(js: &jetstream::Context, stream: &str, not_by: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = js.get_stream(stream).await
            && let Ok(info) = s.info().await
            && info.cluster.as_ref().is_none_or(|c| c.leader.is_some() && c.leader.as_deref() != not_by)
        {
            return;
        }
        assert!(Instant::now() < deadline, "{stream} has no leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every message of `stream`, in order, with its headers: read by sequence
/// from the stream's leader (no consumer, which a cluster that lost a server
/// may be slow to place).
async fn read(js: &jetstream::Context, stream: &str) -> Vec<async_nats::jetstream::message::StreamMessage> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    let mut seq = 1;
    loop {
        let found = match js.get_stream(stream).await {
            Ok(mut s) => s.info().await.map(|i| i.state.last_sequence).map(|last| (s, last)).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match found {
            Ok((s, last)) => {
                while seq <= last {
                    match s.get_raw_message(seq).await {
                        Ok(m) => out.push(m),
                        Err(e) => {
                            assert!(Instant::now() < deadline, "reading {stream} at {seq}: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    }
                    seq += 1;
                }
                return out;
            }
            Err(e) => assert!(Instant::now() < deadline, "reading {stream}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Messages in the output stream.
async fn output_count(js: &jetstream::Context) -> u64 {
    match js.get_stream("MODWATCH_OUT").await {
        Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

/// Waits until the output stream holds `n` messages.
async fn wait_for(js: &jetstream::Context, n: u64, workers: &[&Worker]) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while output_count(js).await < n {
        let logs: Vec<String> = workers.iter().map(|w| w.log()).collect();
        assert!(
            Instant::now() < deadline,
            "{} of {n} outputs; worker logs:\n{}",
            output_count(js).await,
            logs.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The events of an input message as `shipper` published them, each with
/// its record's place in the message (`None`: the whole message). Fluent
/// Bit's pairs are decoded with serde_json, not the worker's byte scan.
fn events_of(payload: &[u8], shipper: Shipper) -> Vec<(Option<u64>, Vec<u8>)> {
    match shipper {
        Shipper::Event => vec![(None, payload.to_vec())],
        Shipper::FluentBit => {
            let pairs: Vec<(serde_json::Number, Box<serde_json::value::RawValue>)> =
                serde_json::from_slice(payload).unwrap();
            pairs.into_iter().enumerate().map(|(i, (_, r))| (Some(i as u64), r.get().as_bytes().to_vec())).collect()
        }
    }
}

/// `modwatch scan` of each partition's input events, against that
/// partition's output stream: identical, and every input event once.
async fn assert_like_scan(js: &jetstream::Context, dir: &Path, shipper: Shipper) {
    let mut total = 0;
    let mut alerts = 0;
    let all_input = read(js, "MODWATCH_IN").await;
    let all_output = read(js, "MODWATCH_OUT").await;
    for k in 0..PARTITIONS {
        let input: Vec<_> = all_input.iter().filter(|m| m.subject.starts_with(&format!("modwatch.p.{k}."))).collect();
        let output: Vec<_> = all_output.iter().filter(|m| m.subject.as_str() == format!("modwatch.out.{k}")).collect();
        let file = dir.join(format!("p{k}.ndjson"));
        let mut lines = Vec::new();
        let mut seqs = Vec::new();
        for m in &input {
            for (record, event) in events_of(&m.payload, shipper) {
                lines.extend_from_slice(&event);
                lines.push(b'\n');
                seqs.push((m.sequence, record));
            }
        }
        std::fs::write(&file, lines).unwrap();
        let scan = Command::new(env!("CARGO_BIN_EXE_modwatch")).args(["scan", "--quiet"]).arg(&file).output().unwrap();
        assert!(scan.status.success(), "{}", String::from_utf8_lossy(&scan.stderr));
        let want: Vec<&[u8]> = scan.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        let got_seqs: Vec<(u64, Option<u64>)> = output
            .iter()
            .map(|m| {
                let header = |name: &str| m.headers.get(name).map(|v| v.as_str().parse::<u64>().unwrap());
                (header("Modwatch-Seq").unwrap(), header("Modwatch-Record"))
            })
            .collect();
        assert_eq!(got_seqs, seqs, "partition {k}: every input once, in order");
        assert_eq!(output.len(), want.len(), "partition {k}");
        for (i, (got, want)) in output.iter().zip(&want).enumerate() {
            assert!(
                &got.payload[..] == *want,
                "partition {k}, event {i}:\n  worker: {}\n  scan:   {}",
                String::from_utf8_lossy(&got.payload),
                String::from_utf8_lossy(want)
            );
        }
        total += seqs.len();
        alerts += want.iter().filter(|l| l.windows(9).any(|w| w == b"\"alert\":{")).count();
    }
    assert!(total > 600, "{total} events");
    assert!(alerts > 0, "the mix raises alerts");
    eprintln!("{total} events compared with `modwatch scan`, {alerts} alert lines");
}

fn by_partition_lists(workers: usize) -> Vec<String> {
    (0..workers)
        .map(|w| {
            (0..PARTITIONS).filter(|k| *k as usize % workers == w).map(|k| k.to_string()).collect::<Vec<_>>().join(",")
        })
        .collect()
}

fn scores_like_scan_with(workers: usize, shipper: Shipper) {
    let server = Server::start(None);
    let dir = Scratch::new("worker");
    let config = config(&dir.0, serde_json::json!({}));
    runtime().block_on(async {
        let js = context(&server.url()).await;
        let events = events();
        let published = publish(&js, &events, 1, shipper).await;
        let procs: Vec<Worker> = by_partition_lists(workers)
            .iter()
            .map(|p| Worker::start(&server.url(), &config, &["--partitions", p]))
            .collect();
        wait_for(&js, published as u64, &procs.iter().collect::<Vec<_>>()).await;
        assert_like_scan(&js, &dir.0, shipper).await;
        for w in procs {
            assert!(w.terminate(), "graceful shutdown exits 0");
        }
    });
}

#[test]
fn one_worker_scores_like_scan() {
    scores_like_scan_with(1, Shipper::Event);
}

#[test]
fn two_workers_score_like_scan() {
    scores_like_scan_with(2, Shipper::Event);
}

#[test]
fn three_workers_score_like_scan() {
    scores_like_scan_with(3, Shipper::Event);
}

/// Fluent Bit's `nats` output publishes arrays of `[timestamp, record]`
/// pairs: each record is scored as `modwatch scan` scores it.
#[test]
fn two_workers_score_fluent_bit_messages_like_scan() {
    scores_like_scan_with(2, Shipper::FluentBit);
}

/// A worker killed with SIGKILL mid-stream and started again resumes from
/// its checkpoints: nothing lost, nothing twice, the same alerts.
#[test]
fn a_killed_worker_resumes_from_its_checkpoint() {
    killed_worker_resumes(Shipper::Event);
}

/// The same with the messages of Fluent Bit's `nats` output: each record of
/// a message scored and published once, also when the kill falls between
/// two records of one message.
#[test]
fn a_killed_worker_resumes_with_fluent_bit_messages() {
    killed_worker_resumes(Shipper::FluentBit);
}

fn killed_worker_resumes(shipper: Shipper) {
    let server = Server::start(None);
    let dir = Scratch::new("worker");
    let config = config(&dir.0, serde_json::json!({ "batch": 8 }));
    runtime().block_on(async {
        let js = context(&server.url()).await;
        // Half the events are in the stream when the worker dies and the
        // rest come while it is down, so the kill always falls mid-stream.
        let events = events();
        let (before, after) = events.split_at(events.len() / 2);
        let first_half = publish(&js, before, 1, shipper).await as u64;
        let first = Worker::start(&server.url(), &config, &[]);
        wait_for(&js, first_half / 3, &[&first]).await;
        drop(first);
        let at_kill = output_count(&js).await;
        assert!(at_kill <= first_half, "{at_kill} outputs of {first_half} inputs");
        let published = first_half + publish(&js, after, 1, shipper).await as u64;
        let restarted = Instant::now();
        let second = Worker::start(&server.url(), &config, &[]);
        wait_for(&js, published, &[&second]).await;
        let recovery = restarted.elapsed();
        assert_like_scan(&js, &dir.0, shipper).await;
        let log = second.log();
        eprintln!("killed at {at_kill} outputs; recovered in {recovery:?}\n{log}");
        assert!(log.contains("events replayed"), "{log}");
        assert!(second.terminate());
    });
}

/// A 3-node cluster with R3 streams and buckets: one server killed with
/// SIGKILL mid-stream loses nothing and duplicates nothing, and the outputs
/// are still those of `modwatch scan`.
#[test]
fn a_killed_server_in_a_three_node_cluster_loses_nothing() {
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut servers: Vec<Server> = (0..3).map(|i| Server::start(Some((i, &routes)))).collect();
    let urls = servers.iter().map(Server::url).collect::<Vec<_>>().join(",");
    let dir = Scratch::new("worker");
    let config = config(&dir.0, serde_json::json!({ "batch": 8, "replicas": 3 }));
    runtime().block_on(async {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(urls.split(',').collect::<Vec<_>>())
            .await
            .unwrap();
        let js = jetstream::new(client);
        // The cluster elects its meta leader once the routes are up: until
        // then a stream cannot be made.
        let deadline = Instant::now() + Duration::from_secs(30);
        while js
            .get_or_create_stream(stream::Config {
                name: "MODWATCH_IN".into(),
                subjects: vec!["modwatch.p.>".into()],
                num_replicas: 3,
                ..Default::default()
            })
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "cannot make the R3 stream");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Half the events are in the stream when the server dies and the
        // rest are published while it is down, so the worker is always
        // caught mid-stream, whatever its speed.
        let events = events();
        let (before, after) = events.split_at(events.len() / 2);
        let first = publish(&js, before, 3, Shipper::Event).await as u64;
        let worker = Worker::start(&urls, &config, &[]);
        wait_for(&js, 1, &[&worker]).await;
        servers[1].kill();
        let at_kill = output_count(&js).await;
        assert!(at_kill <= first, "{at_kill} outputs of {first} inputs");
        led(&js, "MODWATCH_IN", Some("n1")).await;
        let published = first + publish(&js, after, 3, Shipper::Event).await as u64;
        wait_for(&js, published, &[&worker]).await;
        assert_like_scan(&js, &dir.0, Shipper::Event).await;
        eprintln!("server killed at {at_kill} outputs\n{}", worker.log());
        assert!(worker.terminate());
    });
}

/// `/health` is 200 while the worker is connected to NATS and 503 once the
/// server is gone; `/metrics` counts every event scored and the partitions
/// held; anything else is refused with the right status.
#[test]
fn the_worker_reports_its_health_and_metrics() {
    let mut server = Server::start(None);
    let dir = Scratch::new("worker");
    let config = config(&dir.0, serde_json::json!({}));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let worker = Worker::start(&server.url(), &config, &["--listen", &format!("127.0.0.1:{port}")]);
    let published = runtime().block_on(async {
        let js = context(&server.url()).await;
        let published = publish(&js, &events(), 1, Shipper::Event).await as u64;
        wait_for(&js, published, &[&worker]).await;
        published
    });
    assert_eq!(get(&format!("{base}/health")), (StatusCode::OK, r#"{"status":"ok"}"#.to_string()));
    let (status, metrics) = get(&format!("{base}/metrics"));
    assert_eq!(status, StatusCode::OK);
    let sum = |name: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(sum("modwatch_worker_events_total"), published, "{metrics}");
    assert_eq!(sum("modwatch_worker_owned"), PARTITIONS as u64, "{metrics}");
    let post = Request::post(format!("{base}/health")).body(Full::new(Bytes::new())).unwrap();
    assert_eq!(send(post).0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get(&format!("{base}/events")).0, StatusCode::NOT_FOUND);

    server.kill();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let health = get(&format!("{base}/health"));
        if health == (StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"disconnected"}"#.to_string()) {
            break;
        }
        assert!(Instant::now() < deadline, "still {health:?} with the server gone\n{}", worker.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}
