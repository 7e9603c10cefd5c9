//! One partition: its lease, its checkpoint, and the loop that scores its
//! events in stream order.
//!
//! The worker that holds a partition's lease (a key in the lease bucket,
//! written with compare-and-set on its revision and lapsing after
//! `lease_secs` without renewal) is the only one that scores it. On taking
//! it, the worker imports the partition's checkpoint (the engine's scoring
//! state and the stream sequence it covers), recreates the partition's
//! durable consumer at the sequence after it, and replays: events the output
//! stream already holds (by the `Modwatch-Seq` header of its last message on
//! the partition's subject) are scored again but not published again.
//! Outputs carry a message id (`<input stream>.<sequence>`), so the output
//! stream drops a copy that slips through anyway. The input is acked only
//! once its output is stored.
//!
//! A message is one event, or, as Fluent Bit's `nats` output publishes a
//! flush, a JSON array of `[timestamp, record]` pairs: then each record is
//! an event of its own, with its own output (message id
//! `<input stream>.<sequence>.<record>`, header `Modwatch-Record`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::kv::{self, UpdateErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use futures::StreamExt;
use hyper::body::Bytes;
use modwatch::{Detector, Output, Status};
use modwatch_engine::split;
use tokio::sync::watch;

use super::{Shared, metrics::PartitionLabel};

/// The first line of a checkpoint value names its format; the engine's
/// state follows on the next line.
const FORMAT: &str = "modwatch-worker-checkpoint/1";

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    format: String,
    stream: String,
    partition: u32,
    /// The last input sequence the state covers.
    seq: u64,
}

/// Why scoring a partition stopped.
enum Stop {
    /// Shutdown: checkpointed and released.
    Shutdown,
    /// Another worker holds the lease now (or this one could not renew it in
    /// time): the in-memory state is dropped.
    Lost,
}

/// Owns partition `k` whenever it can, until shutdown.
pub(crate) async fn run(shared: Arc<Shared>, k: u32, mut stop: watch::Receiver<bool>) {
    let label = PartitionLabel { partition: k };
    loop {
        if *stop.borrow() {
            return;
        }
        match acquire(&shared, k).await {
            Ok(Some(lease)) => {
                shared.metrics.owned.get_or_create(&label).set(1);
                eprintln!("modwatch worker {}: took partition {k}", shared.name);
                let outcome = own(&shared, k, lease, &mut stop).await;
                shared.metrics.owned.get_or_create(&label).set(0);
                match outcome {
                    Ok(Stop::Shutdown) => return,
                    Ok(Stop::Lost) => eprintln!("modwatch worker {}: lost partition {k}", shared.name),
                    Err(e) => eprintln!("modwatch worker {}: partition {k}: {e:#}", shared.name),
                }
            }
            Ok(None) => {}
            Err(e) => eprintln!("modwatch worker {}: partition {k}: cannot take the lease: {e:#}", shared.name),
        }
        // Held elsewhere (or NATS unreachable): look again within a lease.
        let wait = shared.settings.lease() / 3;
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

/// A held lease: its revision and until when it is ours without renewal.
struct Lease {
    key: String,
    revision: u64,
    renewed: Instant,
}

async fn acquire(shared: &Shared, k: u32) -> anyhow::Result<Option<Lease>> {
    let key = format!("p{k}");
    let renewed = Instant::now();
    match shared.leases.create(&key, Bytes::from(shared.name.clone())).await {
        Ok(revision) => Ok(Some(Lease { key, revision, renewed })),
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl Lease {
    /// Renews the lease when a third of it has passed. `Ok(false)`: it is
    /// someone else's, or lapsed before it could be renewed.
    async fn keep(&mut self, shared: &Shared) -> anyhow::Result<bool> {
        let ttl = shared.settings.lease();
        if self.renewed.elapsed() < ttl / 3 {
            return Ok(true);
        }
        let now = Instant::now();
        match shared.leases.update(&self.key, Bytes::from(shared.name.clone()), self.revision).await {
            Ok(revision) => {
                self.revision = revision;
                self.renewed = now;
                Ok(true)
            }
            Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Ok(false),
            // Unreachable broker: ours until it lapses (with a margin for clocks).
            Err(e) if self.renewed.elapsed() < ttl.mul_f64(0.8) => {
                eprintln!("modwatch worker {}: cannot renew lease {}: {e}", shared.name, self.key);
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }

    async fn release(self, shared: &Shared) {
        // A lease that was taken over meanwhile is not ours to delete.
        if let Ok(Some(entry)) = shared.leases.entry(&self.key).await
            && entry.revision == self.revision
        {
            let _ = shared.leases.delete(&self.key).await;
        }
    }
}

/// The state of an owned partition.
struct Owned {
    k: u32,
    detector: Detector,
    /// The last input sequence scored (0: none).
    seq: u64,
    /// The last output the output stream holds: its input sequence and
    /// record ([`WHOLE`] once all of the message's outputs are stored).
    published: (u64, u64),
    /// The checkpoint's revision in the bucket (0: none yet).
    checkpoint_revision: u64,
    since_checkpoint: u64,
    checkpointed: Instant,
    /// Events scored again since the take-over, their outputs stored already.
    replayed: u64,
    subject_out: String,
}

async fn own(shared: &Shared, k: u32, mut lease: Lease, stop: &mut watch::Receiver<bool>) -> anyhow::Result<Stop> {
    let label = PartitionLabel { partition: k };
    let taken = Instant::now();
    let mut owned = take(shared, k).await?;
    eprintln!(
        "modwatch worker {}: took partition {k}: checkpoint at sequence {}, outputs stored up to sequence {}",
        shared.name, owned.seq, owned.published.0
    );
    let mut consumer = consumer(shared, k, owned.seq).await?;
    let mut recovering = true;
    let mut backoff = Duration::from_millis(100);
    // A failed step may have scored events whose outputs are not stored: the
    // engine's state is then past what is published, so the partition is
    // taken again from its checkpoint (replaying, not republishing, what
    // the output stream holds).
    let mut retake = false;
    loop {
        if *stop.borrow() {
            if !retake {
                checkpoint(shared, &mut owned).await?;
            }
            lease.release(shared).await;
            return Ok(Stop::Shutdown);
        }
        if !lease.keep(shared).await? {
            return Ok(Stop::Lost);
        }
        if retake {
            let taken_again = async {
                let owned = take(shared, k).await?;
                let consumer = self::consumer(shared, k, owned.seq).await?;
                anyhow::Ok((owned, consumer))
            };
            match taken_again.await {
                Ok((o, c)) => {
                    eprintln!(
                        "modwatch worker {}: partition {k}: taken again: checkpoint at sequence {}, outputs stored up to sequence {}",
                        shared.name, o.seq, o.published.0
                    );
                    (owned, consumer, retake) = (o, c, false);
                }
                Err(e) => {
                    eprintln!("modwatch worker {}: partition {k}: {e:#}; retrying in {backoff:?}", shared.name);
                    pause(&mut backoff, stop).await;
                    continue;
                }
            }
        }
        match step(shared, &mut owned, &consumer, stop).await {
            Ok(scored) => {
                backoff = Duration::from_millis(100);
                if recovering && (owned.seq >= owned.published.0 || scored == 0) {
                    recovering = false;
                    let secs = taken.elapsed().as_secs_f64();
                    eprintln!(
                        "modwatch worker {}: partition {k}: caught up in {secs:.3} s, {} events replayed",
                        shared.name, owned.replayed
                    );
                    shared.metrics.recovery_seconds.get_or_create(&label).set(secs);
                }
                let due = owned.since_checkpoint >= shared.settings.checkpoint_events
                    || (owned.since_checkpoint > 0
                        && owned.checkpointed.elapsed() >= shared.settings.checkpoint_every());
                if due {
                    match checkpoint(shared, &mut owned).await {
                        Ok(true) => {}
                        Ok(false) => return Ok(Stop::Lost),
                        // The state is intact: written again with the next batch.
                        Err(e) => eprintln!("modwatch worker {}: partition {k}: {e:#}", shared.name),
                    }
                }
                if scored == 0 {
                    // Nothing waiting: look again shortly.
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(50)) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
            Err(e) => {
                // A lost connection, a consumer gone, an output not stored:
                // back off and take the partition again.
                eprintln!("modwatch worker {}: partition {k}: {e:#}; retrying in {backoff:?}", shared.name);
                pause(&mut backoff, stop).await;
                retake = true;
            }
        }
    }
}

/// Sleeps `backoff` (or until shutdown) and doubles it, up to 5 s.
async fn pause(backoff: &mut Duration, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(*backoff) => {}
        _ = stop.changed() => {}
    }
    *backoff = (*backoff * 2).min(Duration::from_secs(5));
}

/// Imports partition `k`'s checkpoint into a new engine; a refused one
/// (corrupt, foreign, another format) is reported and the partition is
/// scored from the start of the stream instead.
async fn take(shared: &Shared, k: u32) -> anyhow::Result<Owned> {
    let key = format!("p{k}");
    let entry = shared.checkpoints.entry(&key).await.context("reading the checkpoint")?;
    let mut owned = Owned {
        k,
        detector: shared.detector()?,
        seq: 0,
        published: (0, 0),
        checkpoint_revision: 0,
        since_checkpoint: 0,
        checkpointed: Instant::now(),
        replayed: 0,
        subject_out: format!("{}.{k}", shared.settings.output_prefix),
    };
    if let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) {
        owned.checkpoint_revision = entry.revision;
        // A refused state leaves the engine as it was: new.
        match restore(shared, k, &entry.value, &mut owned.detector) {
            Ok(seq) => owned.seq = seq,
            Err(e) => {
                shared.metrics.refused_checkpoints.inc();
                eprintln!(
                    "modwatch worker {}: partition {k}: checkpoint refused, scoring from the start of the stream: {e:#}",
                    shared.name
                );
            }
        }
    }
    owned.published = published(shared, &owned.subject_out).await?;
    Ok(owned)
}

fn restore(shared: &Shared, k: u32, value: &[u8], detector: &mut Detector) -> anyhow::Result<u64> {
    let text = std::str::from_utf8(value).map_err(|_| anyhow!("not UTF-8"))?;
    let (head, state) = text.split_once('\n').ok_or_else(|| anyhow!("no header line"))?;
    let header: Header = serde_json::from_str(head).map_err(|e| anyhow!("header {head:.80?}: {e}"))?;
    if header.format != FORMAT {
        return Err(anyhow!("format {:?}, expected {FORMAT:?}", header.format));
    }
    if header.stream != shared.settings.input_stream || header.partition != k {
        return Err(anyhow!(
            "it is partition {} of stream {:?}, not partition {k} of {:?}",
            header.partition,
            header.stream,
            shared.settings.input_stream
        ));
    }
    detector.import_state(state)?.map_err(|e| anyhow!("{e}"))?;
    Ok(header.seq)
}

/// The input sequence and record of the last output on `subject` (record 0
/// for a message taken whole; `(0, 0)`: none).
async fn published(shared: &Shared, subject: &str) -> anyhow::Result<(u64, u64)> {
    match shared.output.get_last_raw_message_by_subject(subject).await {
        Ok(message) => {
            let header = |name: &str| message.headers.get(name).map(|v| v.as_str().parse::<u64>());
            let seq = match header(SEQ_HEADER) {
                Some(Ok(seq)) => seq,
                _ => return Err(anyhow!("the last message on {subject} has no {SEQ_HEADER} header")),
            };
            match header(RECORD_HEADER) {
                None => Ok((seq, 0)),
                Some(Ok(record)) => Ok((seq, record)),
                Some(Err(_)) => Err(anyhow!("the last message on {subject} has a bad {RECORD_HEADER} header")),
            }
        }
        Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok((0, 0)),
        Err(e) => Err(anyhow!("reading the last output on {subject}: {e}")),
    }
}

const SEQ_HEADER: &str = "Modwatch-Seq";
/// The record's place in its message, for a message of `[timestamp,
/// record]` pairs.
const RECORD_HEADER: &str = "Modwatch-Record";
/// The record of [`Owned::published`] once a whole message is stored.
const WHOLE: u64 = u64::MAX;

/// One event of a fetched message: the message itself, or one record of a
/// message of `[timestamp, record]` pairs.
struct Event {
    seq: u64,
    /// The record's place in the message; `None`: the whole message.
    record: Option<u64>,
    bytes: Bytes,
}

/// The events of a message, in order.
fn events_of(seq: u64, payload: &Bytes) -> Vec<Event> {
    match split::timestamped_records(payload) {
        Some(records) => records
            .into_iter()
            .enumerate()
            .map(|(i, r)| Event { seq, record: Some(i as u64), bytes: payload.slice(r) })
            .collect(),
        None => vec![Event { seq, record: None, bytes: payload.clone() }],
    }
}

/// Recreates the partition's durable consumer at the sequence after `seq`.
async fn consumer(shared: &Shared, k: u32, seq: u64) -> anyhow::Result<PullConsumer> {
    let name = format!("modwatch-p{k}");
    // Gone already is fine: it is made again below.
    let _ = shared.input.delete_consumer(&name).await;
    let deliver_policy =
        if seq == 0 { DeliverPolicy::All } else { DeliverPolicy::ByStartSequence { start_sequence: seq + 1 } };
    let config = pull::Config {
        durable_name: Some(name),
        filter_subject: format!("{}.{k}.>", shared.settings.input_prefix),
        deliver_policy,
        ack_policy: AckPolicy::All,
        ack_wait: Duration::from_secs(30),
        max_ack_pending: 4 * shared.settings.batch as i64,
        ..Default::default()
    };
    shared.input.create_consumer(config).await.context("creating the partition's consumer")
}

/// Fetches one batch, scores it, publishes its outputs and acks it. The
/// number of events scored.
async fn step(
    shared: &Shared,
    owned: &mut Owned,
    consumer: &PullConsumer,
    stop: &mut watch::Receiver<bool>,
) -> anyhow::Result<usize> {
    let label = PartitionLabel { partition: owned.k };
    let mut batch = consumer
        .fetch()
        .max_messages(shared.settings.batch)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .context("fetching")?;
    let mut messages = Vec::new();
    while let Some(message) = batch.next().await {
        messages.push(message.map_err(|e| anyhow!("fetching: {e}"))?);
    }
    let Some(last) = messages.last() else { return Ok(0) };
    let mut fresh = Vec::with_capacity(messages.len());
    let mut pending = 0;
    for message in &messages {
        let info = message.info().map_err(|e| anyhow!("a message without JetStream metadata: {e}"))?;
        pending = info.pending;
        // A redelivery of what is scored already.
        if info.stream_sequence > owned.seq {
            fresh.push((info.stream_sequence, message));
        }
    }
    shared.metrics.lag.get_or_create(&label).set(pending as i64);
    if fresh.is_empty() {
        last.ack().await.map_err(|e| anyhow!("acking: {e}"))?;
        return Ok(0);
    }
    let events: Vec<Event> = fresh.iter().flat_map(|(seq, m)| events_of(*seq, &m.payload)).collect();
    let inputs: Vec<Vec<u8>> = events.iter().map(|e| e.bytes.to_vec()).collect();
    let results = owned.detector.batch(&inputs)?;
    let mut acks = Vec::new();
    for (event, result) in events.iter().zip(results) {
        let seq = event.seq;
        let alerts = result.verdicts.iter().filter(|v| v.score.as_ref().is_some_and(|s| s.alert.is_some())).count();
        let matched = result.verdicts.iter().any(|v| v.status == Status::Match);
        shared.metrics.alerts.get_or_create(&label).inc_by(alerts as u64);
        if (seq, event.record.unwrap_or(0)) <= owned.published {
            owned.replayed += 1;
            shared.metrics.replayed.get_or_create(&label).inc();
            continue;
        }
        if shared.settings.only_matches && !matched {
            continue;
        }
        let payload = match result.output {
            Output::Dropped => continue,
            Output::Replaced(bytes) => Bytes::from(bytes),
            Output::Unchanged => event.bytes.clone(),
        };
        let mut headers = HeaderMap::new();
        headers.insert(SEQ_HEADER, seq.to_string().as_str());
        if let Some(record) = event.record {
            headers.insert(RECORD_HEADER, record.to_string().as_str());
        }
        if alerts > 0 {
            headers.insert("Modwatch-Alerts", alerts.to_string().as_str());
        }
        let id = match event.record {
            Some(record) => format!("{}.{seq}.{record}", shared.settings.input_stream),
            None => format!("{}.{seq}", shared.settings.input_stream),
        };
        let publish = PublishMessage::build().payload(payload).headers(headers).message_id(id);
        acks.push(publish_until_stored(shared, &owned.subject_out, publish, stop).await?);
    }
    for ack in acks {
        ack.await.map_err(|e| anyhow!("the output stream did not store an output: {e}"))?;
    }
    let newest = fresh[fresh.len() - 1].0;
    owned.seq = newest;
    owned.published = owned.published.max((newest, WHOLE));
    owned.since_checkpoint += events.len() as u64;
    shared.metrics.events.get_or_create(&label).inc_by(events.len() as u64);
    last.ack().await.map_err(|e| anyhow!("acking: {e}"))?;
    Ok(events.len())
}

/// Sends one output, retrying while the broker refuses it: the engine has
/// scored the event, so it cannot be given back.
async fn publish_until_stored(
    shared: &Shared,
    subject: &str,
    publish: PublishMessage,
    stop: &mut watch::Receiver<bool>,
) -> anyhow::Result<async_nats::jetstream::context::PublishAckFuture> {
    let mut backoff = Duration::from_millis(50);
    loop {
        match shared.js.send_publish(subject.to_string(), publish.clone()).await {
            Ok(ack) => return Ok(ack),
            Err(e) if *stop.borrow() => return Err(anyhow!("publishing to {subject}: {e}")),
            Err(e) => {
                eprintln!("modwatch worker {}: publishing to {subject}: {e}; retrying", shared.name);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Writes the partition's checkpoint (compare-and-set on its revision).
/// `Ok(false)`: another worker wrote it meanwhile, so the partition is no
/// longer ours.
async fn checkpoint(shared: &Shared, owned: &mut Owned) -> anyhow::Result<bool> {
    let label = PartitionLabel { partition: owned.k };
    let started = Instant::now();
    let header = Header {
        format: FORMAT.into(),
        stream: shared.settings.input_stream.clone(),
        partition: owned.k,
        seq: owned.seq,
    };
    let mut value = serde_json::to_string(&header)?;
    value.push('\n');
    value += &owned.detector.export_state()?;
    let bytes = value.len();
    let key = format!("p{}", owned.k);
    let written = if owned.checkpoint_revision == 0 {
        shared.checkpoints.create(&key, Bytes::from(value)).await.map_err(|e| match e.kind() {
            kv::CreateErrorKind::AlreadyExists => None,
            _ => Some(anyhow!("writing the checkpoint: {e}")),
        })
    } else {
        shared.checkpoints.update(&key, Bytes::from(value), owned.checkpoint_revision).await.map_err(|e| {
            match e.kind() {
                UpdateErrorKind::WrongLastRevision => None,
                _ => Some(anyhow!("writing the checkpoint: {e}")),
            }
        })
    };
    match written {
        Ok(revision) => {
            owned.checkpoint_revision = revision;
            owned.since_checkpoint = 0;
            owned.checkpointed = Instant::now();
            shared.metrics.checkpoint_bytes.get_or_create(&label).set(bytes as i64);
            shared.metrics.checkpoint_seconds.observe(started.elapsed().as_secs_f64());
            shared.metrics.checkpoint_at.get_or_create(&label).set(super::metrics::unix_now());
            Ok(true)
        }
        Err(None) => Ok(false),
        Err(Some(e)) => Err(e),
    }
}
