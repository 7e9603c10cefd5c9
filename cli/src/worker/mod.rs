//! `modwatch worker`: scores partitions of a NATS JetStream stream, one
//! engine per partition, so every event of a principal is scored in one
//! place and in stream order, whichever collector shipped it.
//!
//! Shippers publish each event to `<subject>.<token>`, the token being the
//! engine's partition token of the event's principal; the server's subject
//! mapping turns that into `<input_prefix>.<partition>.<token>`. A worker
//! scores the partitions whose lease it holds (see [`partition`]) and
//! publishes every output to `<output_prefix>.<partition>`. `docs/scale.md`
//! has the deployment.

mod metrics;
mod partition;
mod settings;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use async_nats::jetstream::{self, kv, stream};
use clap::Args;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use modwatch::{Detector, Options};
use tokio::sync::watch;

use super::serve::{not_allowed, problem, reply};
use super::{Failure, PackArgs, read_rules, read_text, usage};
use metrics::Metrics;
use settings::Settings;

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// The NATS server(s) (overrides the config's `worker.nats`).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// The partitions to score, e.g. `0,1,2` (overrides `worker.partitions`;
    /// default: every partition no other worker holds).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    partitions: Option<Vec<u32>>,
    /// Where `/health` and `/metrics` listen (overrides `worker.listen`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// This worker's name in leases and logs (overrides `worker.name`).
    #[arg(long)]
    name: Option<String>,
    /// The config and the rule pack; the config may hold a `worker` section
    /// (see docs/scale.md), which the worker reads and the engine never sees.
    #[command(flatten)]
    pack: PackArgs,
    /// Parse every event, even those the prefilter rules out.
    #[arg(long)]
    validate: bool,
}

/// What every partition's task shares.
pub(crate) struct Shared {
    settings: Settings,
    name: String,
    config: Option<String>,
    rules: Option<String>,
    options: Options,
    js: jetstream::Context,
    input: stream::Stream,
    output: stream::Stream,
    checkpoints: kv::Store,
    leases: kv::Store,
    metrics: Metrics,
}

impl Shared {
    /// A new engine for one partition.
    fn detector(&self) -> anyhow::Result<Detector> {
        Detector::with_options(self.config.as_deref(), self.rules.as_deref(), self.options).map_err(|e| anyhow!(e))
    }
}

pub(crate) fn worker(args: &WorkerArgs) -> Result<(), Failure> {
    let config = read_text(args.pack.config.as_deref())?;
    let (config, settings) = match config {
        Some(text) => {
            let (engine, settings) = settings::split(&text).map_err(usage)?;
            (Some(engine), settings)
        }
        None => (None, None),
    };
    let mut settings = settings.unwrap_or_default();
    if let Some(nats) = &args.nats {
        settings.nats.clone_from(nats);
    }
    if let Some(partitions) = &args.partitions {
        settings.partitions = Some(partitions.clone());
    }
    if let Some(listen) = args.listen {
        settings.listen = Some(listen.to_string());
    }
    if let Some(name) = &args.name {
        settings.name = Some(name.clone());
    }
    settings.validate().map_err(usage)?;
    let rules = read_rules(&args.pack.rules)?;
    let options =
        Options { validate: args.validate.then_some(true), builtin_rules: args.pack.with_builtin.then_some(true) };
    // The config and the pack are checked once, before connecting.
    super::detector(config.as_deref(), rules.as_deref(), options)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(run(settings, config, rules, options))
}

async fn run(
    settings: Settings,
    config: Option<String>,
    rules: Option<String>,
    options: Options,
) -> Result<(), Failure> {
    let name = settings.name.clone().unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id()));
    let client = async_nats::ConnectOptions::new()
        .name(format!("modwatch-worker {name}"))
        .retry_on_initial_connect()
        .connect(settings.nats.split(',').map(str::trim).collect::<Vec<_>>())
        .await
        .with_context(|| format!("cannot connect to {}", settings.nats))?;
    let js = jetstream::new(client.clone());
    let (input, output, checkpoints, leases) = tokio::time::timeout(Duration::from_secs(30), prepare(&js, &settings))
        .await
        .map_err(|_| anyhow!("JetStream at {} did not answer within 30 s", settings.nats))??;
    let shared = Arc::new(Shared {
        name,
        config,
        rules,
        options,
        js,
        input,
        output,
        checkpoints,
        leases,
        metrics: Metrics::default(),
        settings,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(listen) = &shared.settings.listen {
        let listener = tokio::net::TcpListener::bind(listen.as_str())
            .await
            .with_context(|| format!("cannot listen on {listen}"))
            .map_err(usage)?;
        let local = listener.local_addr().context("the listening address")?;
        eprintln!("modwatch worker {}: /health and /metrics on http://{local}/", shared.name);
        tokio::spawn(http(listener, Arc::clone(&shared), client.clone()));
    }
    let tasks: Vec<_> = shared
        .settings
        .wanted()
        .into_iter()
        .map(|k| tokio::spawn(partition::run(Arc::clone(&shared), k, stop_rx.clone())))
        .collect();
    eprintln!(
        "modwatch worker {}: scoring partitions {:?} from {}",
        shared.name,
        shared.settings.wanted(),
        shared.settings.nats
    );
    crate::serve::shutdown_signal().await?;
    eprintln!("modwatch worker {}: shutting down: finishing in-flight batches, checkpointing", shared.name);
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let _ = client.flush().await;
    Ok(())
}

/// The streams and buckets, made if missing.
async fn prepare(
    js: &jetstream::Context,
    s: &Settings,
) -> anyhow::Result<(stream::Stream, stream::Stream, kv::Store, kv::Store)> {
    let input = made(
        js,
        stream::Config {
            name: s.input_stream.clone(),
            subjects: vec![format!("{}.>", s.input_prefix)],
            num_replicas: s.replicas,
            ..Default::default()
        },
    )
    .await
    .with_context(|| format!("the input stream {}", s.input_stream))?;
    let output = made(
        js,
        stream::Config {
            name: s.output_stream.clone(),
            subjects: vec![format!("{}.>", s.output_prefix)],
            num_replicas: s.replicas,
            duplicate_window: Duration::from_secs_f64(s.duplicate_window_secs),
            ..Default::default()
        },
    )
    .await
    .with_context(|| format!("the output stream {}", s.output_stream))?;
    let checkpoints = bucket(js, &s.checkpoint_bucket, Duration::ZERO, s.replicas).await?;
    let leases = bucket(js, &s.lease_bucket, s.lease(), s.replicas).await?;
    for name in
        [&s.input_stream, &s.output_stream, &format!("KV_{}", s.checkpoint_bucket), &format!("KV_{}", s.lease_bucket)]
    {
        led(js, name).await?;
    }
    Ok((input, output, checkpoints, leases))
}

/// Stream `config.name`, made if missing. Workers that start together race
/// to make it, and the server may refuse the loser's create (saying the
/// subjects overlap with the stream the winner has just made): after a
/// refused create the stream is read again, and only if it is still missing
/// is the refusal the answer.
async fn made(js: &jetstream::Context, config: stream::Config) -> anyhow::Result<stream::Stream> {
    let name = config.name.clone();
    match js.get_or_create_stream(config).await {
        Ok(stream) => Ok(stream),
        Err(refused) => js.get_stream(&name).await.map_err(|_| refused.into()),
    }
}

/// Waits until stream `name` has a leader: a replicated stream just made
/// elects one only after it exists, and refuses what is sent to it until
/// then.
async fn led(js: &jetstream::Context, name: &str) -> anyhow::Result<()> {
    loop {
        let info = js.get_stream(name).await.with_context(|| format!("the stream {name}"))?.info().await.cloned();
        match info {
            Ok(info) if info.cluster.as_ref().is_none_or(|c| c.leader.is_some()) => return Ok(()),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A key-value bucket, made if missing. Made as its stream (what a bucket
/// is: `KV_<name>` on `$KV.<name>.>`, one message per key), because the
/// client's own `create_key_value` first reads the account's info, which it
/// cannot parse from a 2.9 server.
async fn bucket(js: &jetstream::Context, name: &str, max_age: Duration, replicas: usize) -> anyhow::Result<kv::Store> {
    made(
        js,
        stream::Config {
            name: format!("KV_{name}"),
            subjects: vec![format!("$KV.{name}.>")],
            max_messages_per_subject: 1,
            max_age,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            num_replicas: replicas,
            ..Default::default()
        },
    )
    .await
    .with_context(|| format!("the key-value bucket {name}"))?;
    js.get_key_value(name).await.with_context(|| format!("the key-value bucket {name}"))
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "worker".into())
}

/// `/health` (200 while connected to NATS, 503 otherwise) and `/metrics`.
async fn http(listener: tokio::net::TcpListener, shared: Arc<Shared>, client: async_nats::Client) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = Arc::clone(&shared);
        let client = client.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let answer = answer(&shared, &client, &request);
            async move { Ok::<_, Infallible>(answer) }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn answer(shared: &Shared, client: &async_nats::Client, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/health") => {
            let connected = client.connection_state() == async_nats::connection::State::Connected;
            let body = serde_json::json!({ "status": if connected { "ok" } else { "disconnected" } }).to_string();
            let status = if connected { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            reply(status, "application/json", body)
        }
        (&Method::GET | &Method::HEAD, "/metrics") => {
            reply(StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", shared.metrics.render())
        }
        (_, "/health" | "/metrics") => not_allowed("GET, HEAD"),
        _ => problem(StatusCode::NOT_FOUND, "not found: GET /health, /metrics"),
    }
}
