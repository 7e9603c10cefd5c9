//! Per-principal risk scoring over a sliding window of event time (`docs/detection.md#scoring`).
//!
//! Points are kept in milli-points (integers) so that every host adds them up
//! the same way. Each principal's window is a ring of fixed buckets (one
//! fifteenth of the window each), its known source IPs and recently scored
//! operations are small fixed-size sets of 32-bit hashes, so a principal's
//! state has a fixed size; at most `scoring.max_principals` are tracked, the
//! least recently seen evicted first. Nothing here reads the wall clock.

use std::borrow::Cow;

use hashlink::LruCache;
use hashlink::linked_hash_map::RawEntryMut;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::error::Category;

use crate::config::Scoring;
use crate::error::{Error, ErrorKind};
use crate::sigma::Correlation;
use crate::time;

mod correlation;
pub use correlation::CorrelationAlert;

/// Buckets per window: the window's resolution is a fifteenth of it (one
/// minute at the default fifteen minutes).
use crate::config::BUCKETS;
/// Source IPs remembered per principal (most recent kept).
const KNOWN_IPS: usize = 8;
/// Scored operations remembered per principal, to score each once.
const RECENT_OPS: usize = 16;

/// What scoring added to a verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// The points this event added to its principal's window.
    pub points: f64,
    /// The principal's points in the window after this event.
    pub principal_score: f64,
    /// Why the points are what they are: `bulk`, `unfamiliar_ip`,
    /// `outside_change_window`, `failed_attempt`, `duplicate`, `late_event`,
    /// `lifecycle`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Set on the event whose points make the window reach the threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
}

/// An alert: a principal's window reached the threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The window score that reached the threshold.
    pub score: f64,
    /// The threshold.
    pub threshold: f64,
    /// The window, in minutes.
    pub window_minutes: u32,
    /// Operations scored in the window.
    pub operations: u32,
    /// Time of the first operation in the window.
    pub first: String,
    /// Time of this event.
    pub last: String,
}

/// One event, as scoring needs it.
#[derive(Debug)]
pub(crate) struct Input<'a> {
    /// `account|principal id`.
    pub(crate) key: &'a str,
    pub(crate) time: Option<&'a str>,
    pub(crate) source_ip: Option<&'a str>,
    pub(crate) dedup: Option<&'a str>,
    /// The best match's points, after the per-record adjustments.
    pub(crate) base: u32,
    /// How many resources the call affects (1 if not a bulk call).
    pub(crate) bulk: u64,
    pub(crate) failed: bool,
    /// An Azure record before its operation is accepted, or a later GCP entry:
    /// tagged, never scored.
    pub(crate) lifecycle_only: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bucket {
    /// `time / bucket width`.
    index: u32,
    milli: u32,
    count: u16,
    /// Seconds from the bucket's start to its first operation.
    first: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    first_seen: i64,
    last_seen: i64,
    alerted: bool,
    buckets: [Bucket; BUCKETS],
    ips: [u32; KNOWN_IPS],
    ip_count: u8,
    ops: [u32; RECENT_OPS],
    op_count: u8,
}

/// The scoring state of every tracked principal.
#[derive(Debug, Clone)]
pub(crate) struct Scorer {
    /// `account|principal id` → state, least recently seen first (the
    /// front is evicted first).
    principals: LruCache<Box<str>, State>,
    /// The latest event time seen: the time of events that carry none.
    latest: Option<i64>,
    pub(crate) evictions: u64,
    pub(crate) alerts: u64,
    /// The groups of each Sigma correlation rule, by the rule set's order
    /// (`score/correlation.rs`).
    correlations: Vec<correlation::Groups>,
}

impl Default for Scorer {
    fn default() -> Scorer {
        // Unbounded: the cap is the config's, passed to each call, and a
        // bounded cache would allocate its table for the whole cap up front.
        Scorer {
            principals: LruCache::new_unbounded(),
            latest: None,
            evictions: 0,
            alerts: 0,
            correlations: Vec::new(),
        }
    }
}

/// FNV-1a: a stable hash, the same in every host and every run.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A 32-bit hash for the small per-principal sets (8 IPs, 16 operations):
/// a false "already seen" needs a collision within one principal's set.
fn fnv32(text: &str) -> u32 {
    let h = fnv(text);
    (h ^ (h >> 32)) as u32
}

fn to_f64(milli: u64) -> f64 {
    milli as f64 / 1000.0
}

impl Scorer {
    /// Principals tracked.
    pub(crate) fn len(&self) -> usize {
        self.principals.len()
    }

    /// Scores one matched event of one principal.
    #[inline(never)] // See `engine::judge` on frames.
    pub(crate) fn score(&mut self, cfg: &Scoring, input: &Input<'_>) -> Score {
        let ts = input.time.and_then(time::parse).or(self.latest).unwrap_or(0);
        self.latest = Some(self.latest.map_or(ts, |l| l.max(ts)));
        let width = cfg.bucket_secs();
        let state = self.touch(input.key, ts, cfg.max_principals);
        state.last_seen = state.last_seen.max(ts);
        let now = state.last_seen;
        let before = state.live(now, width);
        if before < cfg.threshold_milli {
            state.alerted = false;
        }
        let mut reasons = Vec::new();
        let dedup = input.dedup.map(fnv32);
        let milli = if input.lifecycle_only {
            reasons.push("lifecycle".to_string());
            0
        } else if dedup.is_some_and(|h| state.ops[..usize::from(state.op_count)].contains(&h)) {
            reasons.push("duplicate".to_string());
            0
        } else if ts < now - cfg.out_of_order_secs || ts <= now - cfg.window_secs {
            reasons.push("late_event".to_string());
            0
        } else {
            let mut milli = u64::from(input.base) * 1000;
            if input.failed {
                reasons.push("failed_attempt".to_string());
            } else if input.bulk > 1 {
                milli *= input.bulk.min(u64::from(cfg.bulk_cap));
                reasons.push("bulk".to_string());
            }
            if let Some(ip) = input.source_ip.filter(|ip| !cfg.known_networks.iter().any(|n| n.contains(ip)))
                && state.learn_ip(fnv32(ip))
                && ts >= state.first_seen + cfg.learning_secs
            {
                milli += cfg.unfamiliar_ip_milli;
                reasons.push("unfamiliar_ip".to_string());
            }
            if !cfg.change_windows.is_empty() && !cfg.change_windows.iter().any(|w| w.contains(ts)) {
                milli = milli * cfg.outside_window_permille / 1000;
                reasons.push("outside_change_window".to_string());
            }
            if let Some(h) = dedup {
                state.remember_op(h);
            }
            state.add(ts, width, milli.min(u64::from(u32::MAX / 2)) as u32);
            milli
        };
        let after = state.live(now, width);
        let mut alert = None;
        if after >= cfg.threshold_milli && !state.alerted && milli > 0 {
            state.alerted = true;
            let (operations, first) = state.window_operations(now, width);
            alert = Some(Alert {
                score: to_f64(after),
                threshold: to_f64(cfg.threshold_milli),
                window_minutes: (cfg.window_secs / 60) as u32,
                operations,
                first: time::format_rfc3339(first.unwrap_or(ts)),
                last: time::format_rfc3339(ts),
            });
        }
        if alert.is_some() {
            self.alerts += 1;
        }
        Score { points: to_f64(milli), principal_score: to_f64(after), reasons, alert }
    }

    /// Records that a principal used an IP without scoring (dry runs teach the
    /// learner and score nothing).
    pub(crate) fn teach(&mut self, cfg: &Scoring, key: &str, time: Option<&str>, ip: Option<&str>) {
        let ts = time.and_then(time::parse).or(self.latest).unwrap_or(0);
        let state = self.touch(key, ts, cfg.max_principals);
        if let Some(ip) = ip {
            state.learn_ip(fnv32(ip));
        }
    }

    /// The state of a principal, created if new (evicting the least recently
    /// seen when `cap` are tracked), and marked the most recently seen.
    fn touch(&mut self, key: &str, ts: i64, cap: usize) -> &mut State {
        touch(&mut self.principals, &mut self.evictions, key, cap, || State::new(ts))
    }

    /// The state as JSON, least recently seen principal (and correlation
    /// group) first, so that an import rebuilds the same eviction order.
    /// Version 2 when the rules have correlations (their state is in it),
    /// else version 1, which engines without correlations read.
    pub(crate) fn export(&self, cfg: &Scoring, correlations: &[Correlation]) -> String {
        let principals = self
            .principals
            .iter()
            .map(|(key, st)| PrincipalFile {
                key: Cow::Borrowed(key),
                first_seen: EventTime(st.first_seen),
                last_seen: EventTime(st.last_seen),
                alerted: st.alerted,
                buckets: st
                    .buckets
                    .iter()
                    .filter(|b| b.count > 0 || b.milli > 0)
                    .map(|b| (u64::from(b.index), u64::from(b.milli), u64::from(b.count), u64::from(b.first)))
                    .collect(),
                ips: st.ips[..usize::from(st.ip_count)].iter().copied().map(Hex).collect(),
                ops: st.ops[..usize::from(st.op_count)].iter().copied().map(Hex).collect(),
            })
            .collect();
        let file = StateFile {
            format: Some(FORMAT.into()),
            version: Some(if correlations.is_empty() { 1 } else { VERSION }),
            bucket_secs: Some(cfg.bucket_secs()),
            latest: self.latest.map(EventTime),
            evictions: self.evictions,
            alerts: self.alerts,
            principals: Some(principals),
            correlations: (!correlations.is_empty()).then(|| correlation::export(self, correlations)),
        };
        // Plain structs with string keys: serialising them cannot fail.
        serde_json::to_string(&file).unwrap_or_default()
    }

    /// Rebuilds the state from [`Scorer::export`]'s JSON (either version).
    pub(crate) fn import(cfg: &Scoring, correlations: &[Correlation], text: &str) -> Result<Scorer, Error> {
        let bad = |msg: String| Error::new(ErrorKind::StateInvalid, msg);
        let file: StateFile<'_> = serde_json::from_str(text).map_err(|e| match e.classify() {
            Category::Data => bad(format!("state is not a modwatch state: {e}")),
            _ => bad(format!("state is not valid json: {e}")),
        })?;
        if file.format.as_deref() != Some(FORMAT) || !file.version.is_some_and(|v| (1..=VERSION).contains(&v)) {
            return Err(bad(format!("state is not a {FORMAT} version 1 or {VERSION} document")));
        }
        if file.version == Some(1) && file.correlations.is_some() {
            return Err(bad("a version 1 state has no correlations".into()));
        }
        if file.bucket_secs != Some(cfg.bucket_secs()) {
            let saved = file.bucket_secs.map_or_else(|| "no bucket_secs".to_string(), |b| format!("{b} s buckets"));
            return Err(bad(format!(
                "state was saved with {saved}, the config's window gives {} s",
                cfg.bucket_secs()
            )));
        }
        let list = file.principals.ok_or_else(|| bad("state has no principals list".into()))?;
        let mut scorer = Scorer {
            latest: file.latest.map(|t| t.0),
            evictions: file.evictions,
            alerts: file.alerts,
            ..Scorer::default()
        };
        // Keep the most recently seen if the config now allows fewer.
        let skip = list.len().saturating_sub(cfg.max_principals.max(1));
        for (i, p) in list.into_iter().enumerate().skip(skip) {
            let mut state = State::new(p.first_seen.0);
            state.last_seen = p.last_seen.0;
            state.alerted = p.alerted;
            for (index, milli, count, first) in p.buckets {
                let bucket = Bucket {
                    index: u32::try_from(index)
                        .map_err(|_| bad(format!("principal {i}: bucket index {index} is over 32 bits")))?,
                    milli: u32::try_from(milli)
                        .map_err(|_| bad(format!("principal {i}: bucket points {milli} are over 32 bits")))?,
                    count: u16::try_from(count).unwrap_or(u16::MAX),
                    first: u16::try_from(first).unwrap_or(0),
                };
                state.buckets[bucket.index as usize % BUCKETS] = bucket;
            }
            for Hex(h) in p.ips.into_iter().take(KNOWN_IPS) {
                state.learn_ip(h);
            }
            for Hex(h) in p.ops.into_iter().take(RECENT_OPS) {
                state.remember_op(h);
            }
            let first_seen = state.first_seen;
            *scorer.touch(&p.key, first_seen, usize::MAX) = state;
        }
        correlation::import(&mut scorer, cfg, correlations, file.correlations.unwrap_or_default()).map_err(bad)?;
        Ok(scorer)
    }

    /// Bytes per tracked principal for a key of `key_len` bytes: its node in
    /// the LRU (key and state, and the two links of the recency list), its
    /// key's bytes, and its table entry (a pointer to the node and a control
    /// byte) at the table's maximum load of 7/8.
    pub(crate) fn bytes_per_principal(key_len: usize) -> usize {
        let node = std::mem::size_of::<(Box<str>, State)>() + 2 * std::mem::size_of::<usize>();
        let entry = (std::mem::size_of::<usize>() + 1) * 8 / 7;
        node + key_len + entry
    }
}

/// The entry of `key` in an LRU of at most `cap` entries, created with
/// `new` if absent (the least recently seen evicted first, counted in
/// `evictions`), and marked the most recently seen: principals, and the
/// groups of each correlation.
fn touch<'c, V>(
    lru: &'c mut LruCache<Box<str>, V>,
    evictions: &mut u64,
    key: &str,
    cap: usize,
    new: impl FnOnce() -> V,
) -> &'c mut V {
    // Evict before the lookup that returns the entry: the borrow it returns
    // would otherwise be held across the eviction.
    if lru.len() >= cap.max(1) && !lru.contains_key(key) {
        lru.remove_lru();
        *evictions += 1;
    }
    match lru.raw_entry_mut().from_key(key) {
        RawEntryMut::Occupied(mut known) => {
            known.to_back();
            known.into_mut()
        }
        RawEntryMut::Vacant(vacant) => vacant.insert(key.into(), new()).1,
    }
}

/// The state document's `format` and latest `version`: 2 added the state of
/// Sigma correlation rules (`correlations`).
const FORMAT: &str = "modwatch-state";
const VERSION: u64 = 2;

/// The state document. The fields an import checks with a message of its
/// own (not a modwatch state, another window, no principals) are options,
/// so that their absence gets that message; `export` sets them all.
#[derive(Serialize, Deserialize)]
struct StateFile<'a> {
    format: Option<Cow<'a, str>>,
    version: Option<u64>,
    bucket_secs: Option<i64>,
    latest: Option<EventTime>,
    #[serde(default)]
    evictions: u64,
    #[serde(default)]
    alerts: u64,
    #[serde(borrow)]
    principals: Option<Vec<PrincipalFile<'a>>>,
    /// Version 2: each correlation rule's groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    correlations: Option<Vec<correlation::CorrelationFile>>,
}

/// One principal of the state document.
#[derive(Serialize, Deserialize)]
struct PrincipalFile<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    first_seen: EventTime,
    last_seen: EventTime,
    alerted: bool,
    /// `[index, milli, count, first]`, the buckets that hold anything.
    buckets: Vec<(u64, u64, u64, u64)>,
    ips: Vec<Hex>,
    ops: Vec<Hex>,
}

/// The Unix seconds of any time `time::parse` reads (years 0000 to 9999)
/// lie within this of 0; so do all that `export` writes.
const MAX_EVENT_TIME: i64 = 1 << 40;

/// A time of the state document. An import refuses one outside
/// ±[`MAX_EVENT_TIME`]: `export` never wrote it, and the window arithmetic
/// (`first_seen + learning`, `now - window`) could overflow.
#[derive(Clone, Copy, Serialize)]
#[serde(transparent)]
struct EventTime(i64);

impl<'de> Deserialize<'de> for EventTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EventTime, D::Error> {
        let t = i64::deserialize(d)?;
        if (-MAX_EVENT_TIME..=MAX_EVENT_TIME).contains(&t) {
            Ok(EventTime(t))
        } else {
            Err(de::Error::custom(format_args!("{t} is not an event time (more than 2^40 s from 1970)")))
        }
    }
}

/// A member of a principal's IP or operation set: a 32-bit hash, written as
/// eight hex digits.
#[derive(Clone, Copy)]
struct Hex(u32);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:08x}", self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hex, D::Error> {
        struct HexVisitor;
        impl de::Visitor<'_> for HexVisitor {
            type Value = Hex;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a hash as hex digits")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Hex, E> {
                u32::from_str_radix(text, 16)
                    .map(Hex)
                    .map_err(|_| E::custom(format_args!("{text:?} is not a hash as hex digits")))
            }
        }
        d.deserialize_str(HexVisitor)
    }
}

impl State {
    fn new(ts: i64) -> State {
        State {
            first_seen: ts,
            last_seen: ts,
            alerted: false,
            buckets: [Bucket::default(); BUCKETS],
            ips: [0; KNOWN_IPS],
            ip_count: 0,
            ops: [0; RECENT_OPS],
            op_count: 0,
        }
    }

    fn bucket_index(ts: i64, width: i64) -> u32 {
        ts.div_euclid(width).clamp(0, i64::from(u32::MAX - 1)) as u32
    }

    /// Milli-points of the buckets still inside the window ending at `now`.
    fn live(&self, now: i64, width: i64) -> u64 {
        let current = Self::bucket_index(now, width);
        let oldest = current.saturating_sub(BUCKETS as u32 - 1);
        self.buckets.iter().filter(|b| b.index >= oldest && b.index <= current).map(|b| u64::from(b.milli)).sum()
    }

    /// Operations and first operation time inside the window ending at `now`.
    fn window_operations(&self, now: i64, width: i64) -> (u32, Option<i64>) {
        let current = Self::bucket_index(now, width);
        let oldest = current.saturating_sub(BUCKETS as u32 - 1);
        let live = self.buckets.iter().filter(|b| b.index >= oldest && b.index <= current && b.count > 0);
        let ops = live.clone().map(|b| u32::from(b.count)).sum();
        let first = live.map(|b| i64::from(b.index) * width + i64::from(b.first)).min();
        (ops, first)
    }

    fn add(&mut self, ts: i64, width: i64, milli: u32) {
        let index = Self::bucket_index(ts, width);
        let offset = (ts - i64::from(index) * width).clamp(0, i64::from(u16::MAX)) as u16;
        let b = &mut self.buckets[index as usize % BUCKETS];
        if b.index != index || (b.count == 0 && b.milli == 0) {
            if b.index > index && (b.count > 0 || b.milli > 0) {
                return; // the slot holds a newer bucket: this time is out of the window
            }
            *b = Bucket { index, milli: 0, count: 0, first: offset };
        }
        b.milli = b.milli.saturating_add(milli);
        b.count = b.count.saturating_add(1);
        b.first = b.first.min(offset);
    }

    /// Adds an IP hash; true if it was not known. The oldest is forgotten
    /// when the set is full.
    fn learn_ip(&mut self, h: u32) -> bool {
        let n = usize::from(self.ip_count);
        if let Some(i) = self.ips[..n].iter().position(|&x| x == h) {
            // Most recent last.
            self.ips[i..n].rotate_left(1);
            return false;
        }
        if n < KNOWN_IPS {
            self.ips[n] = h;
            self.ip_count += 1;
        } else {
            self.ips.rotate_left(1);
            self.ips[KNOWN_IPS - 1] = h;
        }
        true
    }

    fn remember_op(&mut self, h: u32) {
        let n = usize::from(self.op_count);
        if n < RECENT_OPS {
            self.ops[n] = h;
            self.op_count += 1;
        } else {
            self.ops.rotate_left(1);
            self.ops[RECENT_OPS - 1] = h;
        }
    }
}

#[cfg(test)]
mod tests;
