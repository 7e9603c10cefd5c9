//! `just bench-worker`: `modwatch worker` against one `nats-server` on
//! loopback (Debian's, `scripts/setup-nats.sh`), on the mix of `just bench`
//! (`modwatch_testkit::r#gen::mix(100_000, 1578)`).
//!
//! The mix is published first, as shippers do (each event to
//! `modwatch.in.<partition token of its principal>`, mapped by the server
//! onto 4 partitions), then one worker (the real `modwatch` binary, built by
//! cargo with the bench profile) scores all four. Measured, from one run:
//!
//! - events/s of the worker: outputs stored in the output stream per second,
//!   from the 2,000th output to the last (the start-up and the engine's
//!   compilation left out);
//! - the same mix through the component in this process (`Detector::batch`,
//!   no broker): the difference per event is the broker's share (fetch,
//!   publish with a message id, its ack, the input's ack);
//! - the checkpoints: time per write (`/metrics`, the worker's own histogram)
//!   and bytes, and those bytes per principal of the partition (the engine's
//!   state as exported, with the checkpoint header).
//!
//! `MODWATCH_BENCH_EVENTS` changes the count.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use async_nats::jetstream::{self, stream};
use modwatch::Detector;

const DEFAULT_EVENTS: usize = 100_000;
const SEED: u64 = 1578;
const PARTITIONS: u32 = 4;
const WARM_UP: u64 = 2_000;

/// A child process, killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn main() -> anyhow::Result<()> {
    let count = match std::env::var("MODWATCH_BENCH_EVENTS") {
        Ok(text) => text.trim().parse().with_context(|| format!("MODWATCH_BENCH_EVENTS={text:?} is not a count"))?,
        Err(_) => DEFAULT_EVENTS,
    };
    let modwatch = modwatch_host_test::modwatch_binary("bench")?;
    let events: Vec<Vec<u8>> = modwatch_testkit::r#gen::mix(count, SEED).into_iter().map(String::into_bytes).collect();
    let bytes: usize = events.iter().map(Vec::len).sum();
    println!(
        "modwatch worker: {count} events ({:.1} MB, mean {} B), {PARTITIONS} partitions, one worker, one nats-server",
        bytes as f64 / 1e6,
        bytes / count.max(1)
    );

    // The subjects (and each partition's principals), and the component
    // alone in this process: the ceiling for the worker.
    let mut detector = Detector::new(None, None)?;
    let mut subjects = Vec::with_capacity(count);
    for event in &events {
        let key = detector
            .evaluate(event)?
            .iter()
            .find_map(|v| v.principal.as_ref().map(|p| p.key.clone()))
            .unwrap_or_else(|| String::from_utf8_lossy(event).into_owned());
        subjects.push(format!("modwatch.in.{}", modwatch_engine::partition_token(&key)));
    }
    let mut detector = Detector::new(None, None)?;
    let started = Instant::now();
    for chunk in events.chunks(1_000) {
        detector.batch(chunk)?;
    }
    let in_process = started.elapsed();
    report("component in-process, batch(1000)", count as u64, in_process);

    let dir = std::env::temp_dir().join(format!("modwatch-bench-worker-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let conf = dir.join("nats.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{port}\njetstream {{ store_dir: {:?} }}\n\
             mappings {{ \"modwatch.in.*\": \"modwatch.p.{{{{partition({PARTITIONS},1)}}}}.{{{{wildcard(1)}}}}\" }}\n",
            dir.join("js")
        ),
    )?;
    let _server = Killed(
        Command::new("nats-server")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start nats-server: run scripts/setup-nats.sh")?,
    );
    let url = format!("nats://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let outcome = runtime.block_on(run(&modwatch, &url, &dir, &events, &subjects, in_process));
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn run(
    modwatch: &std::path::Path,
    url: &str,
    dir: &std::path::Path,
    events: &[Vec<u8>],
    subjects: &[String],
    in_process: Duration,
) -> anyhow::Result<()> {
    let count = events.len() as u64;
    let client = async_nats::ConnectOptions::new().retry_on_initial_connect().connect(url).await?;
    let js = jetstream::new(client);
    js.get_or_create_stream(stream::Config {
        name: "MODWATCH_IN".into(),
        subjects: vec!["modwatch.p.>".into()],
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow!("the input stream: {e}"))?;
    let started = Instant::now();
    let mut acks = Vec::with_capacity(events.len());
    for (event, subject) in events.iter().zip(subjects) {
        acks.push(js.publish(subject.clone(), event.clone().into()).await?);
        if acks.len() >= 1_000 {
            for ack in acks.drain(..) {
                ack.await?;
            }
        }
    }
    for ack in acks {
        ack.await?;
    }
    report("publish to the input stream (acked)", count, started.elapsed());

    let listen = format!("127.0.0.1:{}", free_port()?);
    let config = dir.join("modwatch.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"worker": {{"partition_count": {PARTITIONS}, "checkpoint_events": 10000, "checkpoint_secs": 5.0, "batch": 256}}}}"#
        ),
    )?;
    let mut worker = Killed(
        Command::new(modwatch)
            .args(["worker", "--nats", url, "--listen", &listen, "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?,
    );
    let mut warm = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let stored = match js.get_stream("MODWATCH_OUT").await {
            Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
            Err(_) => 0,
        };
        if warm.is_none() && stored >= WARM_UP {
            warm = Some((Instant::now(), stored));
        }
        if stored >= count {
            break;
        }
        if Instant::now() > deadline {
            bail!("{stored} of {count} outputs after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (from, at) = warm.context("no warm-up")?;
    let worker_time = from.elapsed();
    report("modwatch worker, 4 partitions, batch 256", count - at, worker_time);
    let per_worker = worker_time.as_secs_f64() / (count - at) as f64;
    let per_component = in_process.as_secs_f64() / count as f64;
    println!(
        "  broker's share: {:.1} µs/event ({:.1} µs through the worker, {:.1} µs in-process)",
        (per_worker - per_component) * 1e6,
        per_worker * 1e6,
        per_component * 1e6
    );

    // The checkpoint written at shutdown holds the state of every principal.
    let metrics = get(&listen, "/metrics")?;
    let _ = Command::new("kill").args(["-TERM", &worker.0.id().to_string()]).status();
    let status = worker.0.wait()?;
    let mut log = String::new();
    if let Some(mut e) = worker.0.stderr.take() {
        let _ = e.read_to_string(&mut log);
    }
    if !status.success() {
        bail!("the worker exited with {status}:\n{log}");
    }
    let sum = metric(&metrics, "modwatch_worker_checkpoint_seconds_sum");
    let n = metric(&metrics, "modwatch_worker_checkpoint_seconds_count");
    if n > 0.0 {
        println!("  checkpoint writes while scoring: {n}, mean {:.1} ms", sum / n * 1e3);
    }
    let store = js.get_key_value("modwatch_checkpoints").await.map_err(|e| anyhow!("the checkpoint bucket: {e}"))?;
    let (mut total_bytes, mut total_principals) = (0, 0);
    for k in 0..PARTITIONS {
        let Some(value) = store.get(format!("p{k}")).await.map_err(|e| anyhow!("checkpoint p{k}: {e}"))? else {
            bail!("no checkpoint of partition {k}");
        };
        let text = std::str::from_utf8(&value)?;
        let (_, state) = text.split_once('\n').context("checkpoint header")?;
        let principals = serde_json::from_str::<serde_json::Value>(state)?["principals"].as_array().map_or(0, Vec::len);
        let started = Instant::now();
        let mut restored = Detector::new(None, None)?;
        restored.import_state(state)?.map_err(|e| anyhow!("{e}"))?;
        let import = started.elapsed();
        let started = Instant::now();
        restored.export_state()?;
        let export = started.elapsed();
        println!(
            "  partition {k}: checkpoint {:.1} kB, {principals} principals; state export {:.1} ms, import {:.1} ms (component, in-process)",
            value.len() as f64 / 1e3,
            export.as_secs_f64() * 1e3,
            import.as_secs_f64() * 1e3,
        );
        total_bytes += value.len();
        total_principals += principals;
    }
    println!(
        "  checkpoint bytes per tracked principal: {:.0} ({total_bytes} B, {total_principals} principals)",
        total_bytes as f64 / total_principals.max(1) as f64
    );
    Ok(())
}

/// The body of `GET path` (HTTP/1.0: the server closes when done).
fn get(addr: &str, path: &str) -> anyhow::Result<String> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text.split_once("\r\n\r\n").map_or(text.clone(), |(_, body)| body.to_string()))
}

/// The value of an unlabelled OpenMetrics sample (0 when absent).
fn metric(text: &str, name: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

fn report(what: &str, events: u64, elapsed: Duration) {
    println!(
        "{what:>44}: {:>9.0} events/s ({events} in {:.2} s)",
        events as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}
