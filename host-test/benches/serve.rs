//! `just bench-serve`: events/s through `modwatch serve`, the sidecar for
//! Vector's `http` sink, on the mix of `just bench`
//! (`modwatch_testkit::r#gen::mix(100_000, 1578)`), in batches of 1,000 as
//! Vector would post them, to a receiver on loopback that answers 200 at
//! once.
//!
//! Each mode gets its own sidecar (the real `modwatch` binary of `cli/`,
//! built by cargo with the bench profile before the run:
//! `modwatch_host_test::modwatch_binary`), a warm-up of ten
//! batches, then one timed pass over the whole mix; a request counts when its
//! 200 came back, i.e. after the tagged batch was forwarded and acknowledged.
//! For scale, the same mix through the component in this process
//! (`Detector::batch`, no HTTP) is measured too. `MODWATCH_BENCH_EVENTS`
//! changes the count.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use modwatch::Detector;

const DEFAULT_EVENTS: usize = 100_000;
const SEED: u64 = 1578;
const BATCH: usize = 1_000;
const WARM_UP_BATCHES: usize = 10;

/// How the batches are sent.
struct Mode {
    name: &'static str,
    ndjson: bool,
    gzip: bool,
    envelope: bool,
    clients: usize,
}

const MODES: [Mode; 4] = [
    Mode { name: "JSON array, bare events, 1 client", ndjson: false, gzip: false, envelope: false, clients: 1 },
    Mode { name: "JSON array, Vector envelope, 1 client", ndjson: false, gzip: false, envelope: true, clients: 1 },
    Mode { name: "NDJSON + gzip, Vector envelope, 1 client", ndjson: true, gzip: true, envelope: true, clients: 1 },
    Mode { name: "JSON array, bare events, 4 clients", ndjson: false, gzip: false, envelope: false, clients: 4 },
];

fn main() -> anyhow::Result<()> {
    let count = match std::env::var("MODWATCH_BENCH_EVENTS") {
        Ok(text) => text.trim().parse().with_context(|| format!("MODWATCH_BENCH_EVENTS={text:?} is not a count"))?,
        Err(_) => DEFAULT_EVENTS,
    };
    let modwatch = modwatch_host_test::modwatch_binary("bench")?;
    let events = modwatch_testkit::r#gen::mix(count, SEED);
    let (bytes, _, _) = modwatch_testkit::r#gen::stats(&events);
    println!(
        "modwatch serve: {count} events ({:.1} MB, mean {} B), batches of {BATCH}, receiver on loopback",
        bytes as f64 / 1e6,
        bytes / count.max(1)
    );

    // The component alone, in this process: the ceiling for the sidecar.
    let owned: Vec<Vec<u8>> = events.iter().map(|e| e.as_bytes().to_vec()).collect();
    let mut detector = Detector::new(None, None)?;
    detector.batch(&owned[..BATCH.min(owned.len())])?;
    let started = Instant::now();
    for chunk in owned.chunks(BATCH) {
        detector.batch(chunk)?;
    }
    report("component in-process, batch(1000)", count, bytes, started.elapsed());

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let received = Arc::new(AtomicU64::new(0));
    let receiver = runtime.block_on(receiver(Arc::clone(&received)))?;
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();

    for mode in &MODES {
        let bodies: Vec<Bytes> = events.chunks(BATCH).map(|chunk| Bytes::from(encode(chunk, mode))).collect();
        let mut sidecar = Sidecar::start(&modwatch, &format!("http://{receiver}/"))?;
        let post = |body: Bytes| {
            let client = client.clone();
            let url = sidecar.url.clone();
            async move {
                let mut request = Request::post(url)
                    .header("content-type", if mode.ndjson { "application/x-ndjson" } else { "application/json" });
                if mode.gzip {
                    request = request.header("content-encoding", "gzip");
                }
                let response = client.request(request.body(Full::new(body))?).await?;
                let status = response.status();
                response.into_body().collect().await?;
                if !status.is_success() {
                    bail!("modwatch serve answered {status}");
                }
                anyhow::Ok(())
            }
        };
        runtime.block_on(async {
            for body in bodies.iter().take(WARM_UP_BATCHES) {
                post(body.clone()).await?;
            }
            anyhow::Ok(())
        })?;
        let before = received.load(Ordering::SeqCst);
        let started = Instant::now();
        // Each client posts every `clients`-th batch, one at a time.
        std::thread::scope(|scope| {
            let lanes: Vec<_> = (0..mode.clients)
                .map(|lane| {
                    let (runtime, post, bodies) = (&runtime, &post, &bodies);
                    scope.spawn(move || {
                        for body in bodies.iter().skip(lane).step_by(mode.clients) {
                            runtime.block_on(post(body.clone()))?;
                        }
                        anyhow::Ok(())
                    })
                })
                .collect();
            for lane in lanes {
                lane.join().map_err(|_| anyhow!("a client thread panicked"))??;
            }
            anyhow::Ok(())
        })?;
        let elapsed = started.elapsed();
        let forwarded = received.load(Ordering::SeqCst) - before;
        if forwarded != bodies.len() as u64 {
            bail!("{}: {forwarded} batches forwarded for {} sent", mode.name, bodies.len());
        }
        report(mode.name, count, bytes, elapsed);
        sidecar.stop();
    }
    Ok(())
}

fn report(name: &str, count: usize, bytes: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "  {name:<44} {:>9.0} events/s  {:>6.1} MB/s  ({count} events in {secs:.2} s)",
        count as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
}

/// A batch as Vector's `http` sink sends it in this mode.
fn encode(chunk: &[String], mode: &Mode) -> Vec<u8> {
    let encoded: Vec<String> = chunk
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if mode.envelope {
                let message = serde_json::Value::from(e.as_str());
                format!(
                    r#"{{"file":"/var/log/audit/cloud.ndjson","host":"ip-10-0-0-1","message":{message},"source_type":"file","timestamp":"2026-11-26T15:00:00.{i:06}Z"}}"#
                )
            } else {
                e.clone()
            }
        })
        .collect();
    let body = if mode.ndjson { encoded.join("\n") } else { format!("[{}]", encoded.join(",")) };
    if !mode.gzip {
        return body.into_bytes();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec does not fail.
    let _ = gz.write_all(body.as_bytes());
    gz.finish().unwrap_or_default()
}

/// A receiver that answers 200 at once and counts the batches.
async fn receiver(received: Arc<AtomicU64>) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let received = Arc::clone(&received);
            let service = service_fn(move |request: Request<Incoming>| {
                let received = Arc::clone(&received);
                async move {
                    request.into_body().collect().await?;
                    received.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(b"{}"))))
                }
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    Ok(addr)
}

/// The release `modwatch serve` on a free loopback port.
struct Sidecar {
    child: Child,
    url: String,
}

impl Sidecar {
    fn start(modwatch: &Path, forward: &str) -> anyhow::Result<Sidecar> {
        let mut child = Command::new(modwatch)
            .args(["serve", "--listen", "127.0.0.1:0", "--forward", forward])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let Some(line) = lines.next().transpose()? else { bail!("modwatch serve exited before listening") };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split('/').next().unwrap_or_default().to_string();
            }
        };
        // Keep draining stderr so the sidecar never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Ok(Sidecar { child, url: format!("http://{addr}/") })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
