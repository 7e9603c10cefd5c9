//! Per-principal risk scoring over a sliding window of event time (SPEC §5).
//!
//! Points are kept in milli-points (integers) so that every host adds them up
//! the same way. Each principal's window is a ring of fixed buckets (one
//! fifteenth of the window each), its known source IPs and recently scored
//! operations are small fixed-size sets of 32-bit hashes, so a principal's
//! state has a fixed size; at most `scoring.max_principals` are tracked, the
//! least recently seen evicted first. Nothing here reads the wall clock.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Scoring;
use crate::error::{Error, ErrorKind};
use crate::time;

/// Buckets per window: the window's resolution is a fifteenth of it (one
/// minute at the default fifteen minutes).
use crate::config::BUCKETS;
/// Source IPs remembered per principal (most recent kept).
const KNOWN_IPS: usize = 8;
/// Scored operations remembered per principal, to score each once.
const RECENT_OPS: usize = 16;
const NONE: u32 = u32::MAX;

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

#[derive(Debug, Clone)]
struct Slot {
    key: Box<str>,
    prev: u32,
    next: u32,
    state: State,
}

/// The scoring state of every tracked principal.
#[derive(Debug, Clone)]
pub(crate) struct Scorer {
    /// Key hash → slot. A key whose hash another key already holds goes to
    /// `overflow` instead, so the index stays exact without a second copy of
    /// every key.
    index: HashMap<u64, u32>,
    overflow: HashMap<Box<str>, u32>,
    slots: Vec<Slot>,
    /// Most recently seen.
    head: u32,
    /// Least recently seen: evicted first.
    tail: u32,
    /// The latest event time seen: the time of events that carry none.
    latest: Option<i64>,
    pub(crate) evictions: u64,
    pub(crate) alerts: u64,
}

impl Default for Scorer {
    fn default() -> Scorer {
        Scorer {
            index: HashMap::new(),
            overflow: HashMap::new(),
            slots: Vec::new(),
            head: NONE,
            tail: NONE,
            latest: None,
            evictions: 0,
            alerts: 0,
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
        self.index.len() + self.overflow.len()
    }

    fn find(&self, key: &str) -> Option<u32> {
        match self.index.get(&fnv(key)) {
            Some(&slot) if *self.slots[slot as usize].key == *key => Some(slot),
            _ => self.overflow.get(key).copied(),
        }
    }

    fn forget(&mut self, key: &str, slot: u32) {
        let h = fnv(key);
        if self.index.get(&h) == Some(&slot) {
            self.index.remove(&h);
        } else {
            self.overflow.remove(key);
        }
    }

    fn remember(&mut self, key: &str, slot: u32) {
        match self.index.entry(fnv(key)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(slot);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.overflow.insert(key.into(), slot);
            }
        }
    }

    /// Scores one matched event of one principal.
    pub(crate) fn score(&mut self, cfg: &Scoring, input: &Input<'_>) -> Score {
        let ts = input.time.and_then(time::parse).or(self.latest).unwrap_or(0);
        self.latest = Some(self.latest.map_or(ts, |l| l.max(ts)));
        let slot = self.touch(input.key, ts, cfg.max_principals);
        let width = cfg.bucket_secs();
        let state = &mut self.slots[slot as usize].state;
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
                first: time::format(first.unwrap_or(ts)),
                last: time::format(ts),
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
        let slot = self.touch(key, ts, cfg.max_principals);
        if let Some(ip) = ip {
            self.slots[slot as usize].state.learn_ip(fnv32(ip));
        }
    }

    /// The slot of a principal, created (evicting the least recently seen
    /// when full) if new, and moved to the front.
    fn touch(&mut self, key: &str, ts: i64, cap: usize) -> u32 {
        if let Some(slot) = self.find(key) {
            self.unlink(slot);
            self.push_front(slot);
            return slot;
        }
        let state = State::new(ts);
        let slot = if self.len() >= cap.max(1) && self.tail != NONE {
            let victim = self.tail;
            self.unlink(victim);
            let old = std::mem::replace(&mut self.slots[victim as usize].key, key.into());
            self.forget(&old, victim);
            self.slots[victim as usize].state = state;
            self.evictions += 1;
            victim
        } else {
            if self.slots.len() == self.slots.capacity() {
                // Grow by doubling, but never past the cap: at the cap the
                // slots take exactly what they need.
                let more = self.slots.len().max(16).min(cap.saturating_sub(self.slots.len()).max(1));
                self.slots.reserve_exact(more);
            }
            self.slots.push(Slot { key: key.into(), prev: NONE, next: NONE, state });
            (self.slots.len() - 1) as u32
        };
        self.remember(key, slot);
        self.push_front(slot);
        slot
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next) = (self.slots[slot as usize].prev, self.slots[slot as usize].next);
        if prev != NONE {
            self.slots[prev as usize].next = next;
        } else if self.head == slot {
            self.head = next;
        }
        if next != NONE {
            self.slots[next as usize].prev = prev;
        } else if self.tail == slot {
            self.tail = prev;
        }
        self.slots[slot as usize].prev = NONE;
        self.slots[slot as usize].next = NONE;
    }

    fn push_front(&mut self, slot: u32) {
        let head = self.head;
        let s = &mut self.slots[slot as usize];
        s.prev = NONE;
        s.next = head;
        if head != NONE {
            self.slots[head as usize].prev = slot;
        }
        self.head = slot;
        if self.tail == NONE {
            self.tail = slot;
        }
    }

    /// The state as JSON, least recently seen principal first, so that an
    /// import rebuilds the same eviction order.
    pub(crate) fn export(&self, cfg: &Scoring) -> Value {
        let mut principals = Vec::with_capacity(self.len());
        let mut slot = self.tail;
        while slot != NONE {
            let s = &self.slots[slot as usize];
            let st = &s.state;
            let buckets: Vec<Value> = st
                .buckets
                .iter()
                .filter(|b| b.count > 0 || b.milli > 0)
                .map(|b| json!([b.index, b.milli, b.count, b.first]))
                .collect();
            let hex = |hs: &[u32]| hs.iter().map(|h| format!("{h:08x}")).collect::<Vec<_>>();
            principals.push(json!({
                "key": s.key,
                "first_seen": st.first_seen,
                "last_seen": st.last_seen,
                "alerted": st.alerted,
                "buckets": buckets,
                "ips": hex(&st.ips[..usize::from(st.ip_count)]),
                "ops": hex(&st.ops[..usize::from(st.op_count)]),
            }));
            slot = s.prev;
        }
        json!({
            "format": "modwatch-state",
            "version": 1,
            "bucket_secs": cfg.bucket_secs(),
            "latest": self.latest,
            "evictions": self.evictions,
            "alerts": self.alerts,
            "principals": principals,
        })
    }

    /// Rebuilds the state from [`Scorer::export`]'s JSON.
    pub(crate) fn import(cfg: &Scoring, text: &str) -> Result<Scorer, Error> {
        let bad = |msg: String| Error::new(ErrorKind::StateInvalid, msg);
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("state is not valid json: {e}")))?;
        if v["format"] != "modwatch-state" || v["version"] != 1 {
            return Err(bad("state is not a modwatch-state version 1 document".into()));
        }
        if v["bucket_secs"].as_i64() != Some(cfg.bucket_secs()) {
            return Err(bad(format!(
                "state was saved with {} s buckets, the config's window gives {} s",
                v["bucket_secs"],
                cfg.bucket_secs()
            )));
        }
        let list = v["principals"].as_array().ok_or_else(|| bad("state has no principals list".into()))?;
        let mut scorer = Scorer {
            latest: match &v["latest"] {
                Value::Null => None,
                t => Some(event_time(t).ok_or_else(|| bad(format!("latest {t} is not an event time")))?),
            },
            evictions: v["evictions"].as_u64().unwrap_or(0),
            alerts: v["alerts"].as_u64().unwrap_or(0),
            ..Scorer::default()
        };
        // Keep the most recently seen if the config now allows fewer.
        let skip = list.len().saturating_sub(cfg.max_principals.max(1));
        for (i, p) in list.iter().enumerate().skip(skip) {
            let field = |k: &str| p.get(k).ok_or_else(|| bad(format!("principal {i}: missing {k:?}")));
            let key = field("key")?.as_str().ok_or_else(|| bad(format!("principal {i}: key is not a string")))?;
            let time =
                |k: &str| event_time(field(k)?).ok_or_else(|| bad(format!("principal {i}: {k} is not an event time")));
            let mut state = State::new(time("first_seen")?);
            state.last_seen = time("last_seen")?;
            state.alerted = field("alerted")?.as_bool().unwrap_or(false);
            for b in field("buckets")?.as_array().into_iter().flatten() {
                let n = |j: usize| b.get(j).and_then(Value::as_u64);
                let (Some(index), Some(milli), Some(count), Some(first)) = (n(0), n(1), n(2), n(3)) else {
                    return Err(bad(format!("principal {i}: a bucket is not [index, milli, count, first]")));
                };
                let bucket = Bucket {
                    index: u32::try_from(index).map_err(|_| bad(format!("principal {i}: bucket index {index}")))?,
                    milli: u32::try_from(milli).map_err(|_| bad(format!("principal {i}: bucket points {milli}")))?,
                    count: u16::try_from(count).unwrap_or(u16::MAX),
                    first: u16::try_from(first).unwrap_or(0),
                };
                state.buckets[bucket.index as usize % BUCKETS] = bucket;
            }
            let hashes = |k: &str| -> Result<Vec<u32>, Error> {
                field(k)?
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|h| {
                        h.as_str()
                            .and_then(|s| u32::from_str_radix(s, 16).ok())
                            .ok_or_else(|| bad(format!("principal {i}: {k} holds {h}, not a hex hash")))
                    })
                    .collect()
            };
            for h in hashes("ips")?.into_iter().take(KNOWN_IPS) {
                state.learn_ip(h);
            }
            for h in hashes("ops")?.into_iter().take(RECENT_OPS) {
                state.remember_op(h);
            }
            let slot = scorer.touch(key, state.first_seen, usize::MAX);
            scorer.slots[slot as usize].state = state;
        }
        Ok(scorer)
    }

    /// Bytes per tracked principal for a key of `key_len` bytes: its slot,
    /// its key, and its index entry (with a control byte) at the table's
    /// maximum load of 7/8.
    pub(crate) fn bytes_per_principal(key_len: usize) -> usize {
        let entry = (std::mem::size_of::<(u64, u32)>() + 1) * 8 / 7;
        std::mem::size_of::<Slot>() + entry + key_len
    }
}

/// The Unix seconds of any time `time::parse` reads (years 0000 to 9999)
/// lie within this of 0; so do all that `export` writes.
const MAX_EVENT_TIME: i64 = 1 << 40;

/// An imported time, if it is one an exported state can hold: outside
/// ±[`MAX_EVENT_TIME`] it was not written by `export`, and the window
/// arithmetic (`first_seen + learning`, `now - window`) could overflow.
fn event_time(v: &Value) -> Option<i64> {
    v.as_i64().filter(|t| (-MAX_EVENT_TIME..=MAX_EVENT_TIME).contains(t))
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
