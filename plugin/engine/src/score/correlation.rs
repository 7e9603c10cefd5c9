//! Sigma correlation rules on the scoring state (`docs/sigma.md#correlation-rules`).
//!
//! Each correlation keeps its groups (one per `group-by` value) in an LRU of
//! at most `scoring.max_principals`, the least recently seen evicted first,
//! like the scorer's principals. A group is its latest event time, whether
//! its condition held after its last event, and a short list of
//! `(time, value)` entries whose meaning depends on the type:
//!
//! - `event_count`: (second, events in that second), oldest first;
//! - `value_count`: (last seen, hash of the value);
//! - `temporal`: (last seen, rule);
//! - `temporal_ordered`: (start of the latest run of the rules in order up to
//!   this one, rule).
//!
//! Entries older than the timespan are dropped, and a group keeps no more of
//! them than its condition can tell apart (its largest value + 1), so a
//! group's size is bounded by its rule, whatever the traffic. Times are event
//! times, never the wall clock.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{EventTime, Scorer, fnv, touch};
use crate::config::Scoring;
use crate::eql::Document;
use crate::sigma::correlation::{Correlation, Source, Type};
use crate::time;
use hashlink::LruCache;

/// A correlation alert: a correlation's condition came to hold for a group
/// with this event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelationAlert {
    /// The correlation rule's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// `event_count`, `value_count`, `temporal` or `temporal_ordered`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its level.
    pub level: String,
    /// The group: each `group-by` field and its value in this group.
    pub group: Map<String, Value>,
    /// What the condition counted: events, distinct values, or rules (for
    /// `temporal_ordered`, the rules matched in order).
    pub count: u64,
    /// The condition, as written (`{"gte": 3}`).
    pub condition: Map<String, Value>,
    /// The timespan, as written (`10m`).
    pub timespan: String,
    /// Time of the earliest event counted.
    pub first: String,
    /// Time of this event.
    pub last: String,
}

/// The groups of one correlation.
#[derive(Debug, Clone)]
pub(super) struct Groups {
    groups: LruCache<Box<str>, Group>,
    pub(super) alerts: u64,
    pub(super) evictions: u64,
}

impl Default for Groups {
    fn default() -> Groups {
        // Unbounded: the cap is the config's, as for principals.
        Groups { groups: LruCache::new_unbounded(), alerts: 0, evictions: 0 }
    }
}

impl Groups {
    pub(super) fn len(&self) -> usize {
        self.groups.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    /// The latest event time of the group.
    now: i64,
    /// The condition held after the group's last event: it fires again only
    /// once it has stopped holding.
    held: bool,
    entries: Vec<(i64, u64)>,
}

/// Value hashes are kept to 53 bits, so that every JSON reader of an
/// exported state reads them exactly.
const HASH_BITS: u64 = (1 << 53) - 1;

/// The separator of a group key's values.
const SEP: char = '\u{1f}';

impl Scorer {
    /// Feeds one record to the correlations: `matched` are the rules it
    /// matched (allow-listed records and dry runs excluded). Returns the
    /// correlations that fired, by index, each with its alerts (one per
    /// group whose condition came to hold).
    pub(crate) fn correlate(
        &mut self,
        cfg: &Scoring,
        defs: &[Correlation],
        matched: &[usize],
        doc: &dyn Document,
        event_time: Option<&str>,
    ) -> Vec<(usize, Vec<CorrelationAlert>)> {
        if defs.is_empty() {
            return Vec::new();
        }
        let ts = event_time.and_then(time::parse).or(self.latest).unwrap_or(0);
        self.latest = Some(self.latest.map_or(ts, |l| l.max(ts)));
        if self.correlations.len() < defs.len() {
            self.correlations.resize_with(defs.len(), Groups::default);
        }
        let mut fired: Vec<(usize, Vec<CorrelationAlert>)> = Vec::new();
        for (k, def) in defs.iter().enumerate() {
            // The rules this record matched, with the group each puts it in.
            let mut steps: Vec<(usize, String)> = Vec::new();
            for (step, input) in def.inputs.iter().enumerate() {
                let hit = match input.source {
                    Source::Rule(r) => matched.contains(&r),
                    Source::Correlation(j) => fired.iter().any(|(f, _)| *f == j),
                };
                if !hit {
                    continue;
                }
                // A record without a value for every group-by field is in
                // no group.
                let values: Option<Vec<String>> = input.group.iter().map(|g| g.value(doc)).collect();
                if let Some(values) = values {
                    steps.push((step, values.join(&SEP.to_string())));
                }
            }
            if steps.is_empty() {
                continue;
            }
            let mut alerts = Vec::new();
            let mut keys: Vec<&str> = Vec::new();
            for (_, key) in &steps {
                if !keys.contains(&key.as_str()) {
                    keys.push(key);
                }
            }
            for key in keys {
                let mine = steps.iter().filter(|(_, k)| k == key).map(|(s, _)| *s);
                let mut mine: Vec<usize> = mine.collect();
                // An event is one step of an ordered run: the later steps
                // first, so that it does not complete the step it starts.
                if def.kind == Type::TemporalOrdered {
                    mine.reverse();
                }
                let value = (def.kind == Type::ValueCount)
                    .then(|| {
                        let input = &def.inputs[mine[0]];
                        let values: Option<Vec<String>> = input.field.iter().map(|f| f.value(doc)).collect();
                        values.map(|v| fnv(&v.join(&SEP.to_string())) & HASH_BITS)
                    })
                    .flatten();
                if def.kind == Type::ValueCount && value.is_none() {
                    continue;
                }
                let groups = &mut self.correlations[k];
                let group = groups.touch(key, ts, cfg.max_principals);
                if ts <= group.now - def.timespan {
                    continue; // late: older than the timespan
                }
                group.now = group.now.max(ts);
                let (count, first) = group.update(def, &mine, ts, value);
                let holds = def.holds(count);
                let fires = holds && !group.held;
                group.held = holds;
                if fires {
                    groups.alerts += 1;
                    alerts.push(alert(def, key, count, first, ts));
                }
            }
            if !alerts.is_empty() {
                fired.push((k, alerts));
            }
        }
        fired
    }

    /// Of the correlation at index `k` of the rule set: groups tracked now,
    /// alerts raised, groups evicted.
    pub(crate) fn correlation_counts(&self, k: usize) -> (u64, u64, u64) {
        self.correlations.get(k).map_or((0, 0, 0), |g| (g.len() as u64, g.alerts, g.evictions))
    }
}

fn alert(def: &Correlation, key: &str, count: u64, first: i64, ts: i64) -> CorrelationAlert {
    let group = def.group_by.iter().cloned().zip(key.split(SEP).map(|v| Value::String(v.to_string()))).collect();
    let mut condition: Map<String, Value> =
        def.condition.iter().map(|(op, v)| (op.name().to_string(), json!(v))).collect();
    match def.field.as_slice() {
        [] => {}
        [one] => {
            condition.insert("field".into(), json!(one));
        }
        many => {
            condition.insert("field".into(), json!(many));
        }
    }
    CorrelationAlert {
        id: def.id.clone(),
        title: def.title.clone(),
        kind: def.kind.name().to_string(),
        level: def.level.clone(),
        group,
        count,
        condition,
        timespan: def.timespan_text.clone(),
        first: time::format_rfc3339(first),
        last: time::format_rfc3339(ts),
    }
}

impl Groups {
    /// A group's state, created if new (evicting the least recently seen
    /// when `cap` are tracked), and marked the most recently seen.
    fn touch(&mut self, key: &str, ts: i64, cap: usize) -> &mut Group {
        touch(&mut self.groups, &mut self.evictions, key, cap, || Group { now: ts, held: false, entries: Vec::new() })
    }
}

impl Group {
    /// Adds this record (its steps: the correlation's rules it matched) and
    /// returns the count the condition reads, and the time of the earliest
    /// entry counted.
    fn update(&mut self, def: &Correlation, steps: &[usize], ts: i64, value: Option<u64>) -> (u64, i64) {
        let limit = def.limit();
        let e = &mut self.entries;
        match def.kind {
            Type::EventCount => {
                let at = e.partition_point(|(t, _)| *t < ts);
                match e.get_mut(at) {
                    Some((t, n)) if *t == ts => *n = (*n + 1).min(limit),
                    _ => e.insert(at, (ts, 1)),
                }
            }
            Type::ValueCount => {
                let h = value.unwrap_or(0);
                match e.iter_mut().find(|(_, x)| *x == h) {
                    Some((t, _)) => *t = (*t).max(ts),
                    None => e.push((ts, h)),
                }
            }
            Type::Temporal => {
                for &step in steps {
                    match e.iter_mut().find(|(_, x)| *x == step as u64) {
                        Some((t, _)) => *t = (*t).max(ts),
                        None => e.push((ts, step as u64)),
                    }
                }
            }
            Type::TemporalOrdered => {
                for &step in steps {
                    let start = if step == 0 {
                        Some(ts)
                    } else {
                        // The latest run through the previous rule, if this
                        // event comes after it within the timespan.
                        e.iter()
                            .find(|(_, x)| *x == step as u64 - 1)
                            .map(|(t, _)| *t)
                            .filter(|t| *t <= ts && ts - *t < def.timespan)
                    };
                    let Some(start) = start else { continue };
                    match e.iter_mut().find(|(_, x)| *x == step as u64) {
                        Some((t, _)) => *t = (*t).max(start),
                        None => e.push((start, step as u64)),
                    }
                }
            }
        }
        let oldest = self.now - def.timespan;
        e.retain(|(t, _)| *t > oldest);
        match def.kind {
            Type::EventCount => {
                // Keep `limit` events: older ones cannot change the count's
                // reading.
                let mut total: u64 = e.iter().map(|(_, n)| n).sum();
                while e.len() > 1 && total - e[0].1 >= limit {
                    total -= e[0].1;
                    e.remove(0);
                }
                (total.min(limit), e.first().map_or(ts, |(t, _)| *t))
            }
            Type::ValueCount | Type::Temporal => {
                while e.len() as u64 > limit {
                    let Some(i) = e.iter().enumerate().min_by_key(|(_, (t, _))| *t).map(|(i, _)| i) else { break };
                    e.remove(i);
                }
                (e.len() as u64, e.iter().map(|(t, _)| *t).min().unwrap_or(ts))
            }
            Type::TemporalOrdered => {
                let longest = e.iter().max_by_key(|(_, step)| *step).copied();
                longest.map_or((0, ts), |(start, step)| (step + 1, start))
            }
        }
    }
}

/// One correlation of the state document.
#[derive(Serialize, Deserialize)]
pub(super) struct CorrelationFile {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    alerts: u64,
    #[serde(default)]
    evictions: u64,
    /// Least recently seen first.
    groups: Vec<GroupFile>,
}

#[derive(Serialize, Deserialize)]
struct GroupFile {
    key: String,
    now: EventTime,
    held: bool,
    entries: Vec<(EventTime, u64)>,
}

/// The state of the correlations, as the state document writes it.
pub(super) fn export(scorer: &Scorer, defs: &[Correlation]) -> Vec<CorrelationFile> {
    let none = Groups::default();
    defs.iter()
        .enumerate()
        .map(|(k, def)| {
            let groups = scorer.correlations.get(k).unwrap_or(&none);
            CorrelationFile {
                id: def.id.clone(),
                kind: def.kind.name().to_string(),
                alerts: groups.alerts,
                evictions: groups.evictions,
                groups: groups
                    .groups
                    .iter()
                    .map(|(key, g)| GroupFile {
                        key: key.to_string(),
                        now: EventTime(g.now),
                        held: g.held,
                        entries: g.entries.iter().map(|(t, x)| (EventTime(*t), *x)).collect(),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Rebuilds the correlations' state from the document's. A correlation the
/// rules no longer have is dropped; one whose type changed is refused.
pub(super) fn import(
    scorer: &mut Scorer,
    cfg: &Scoring,
    defs: &[Correlation],
    files: Vec<CorrelationFile>,
) -> Result<(), String> {
    scorer.correlations = defs.iter().map(|_| Groups::default()).collect();
    for file in files {
        let Some(k) = defs.iter().position(|d| d.id == file.id) else { continue };
        let def = &defs[k];
        if file.kind != def.kind.name() {
            return Err(format!(
                "state holds correlation {:?} as {}, the rules make it {}",
                file.id,
                file.kind,
                def.kind.name()
            ));
        }
        let most = match def.kind {
            Type::EventCount | Type::ValueCount => def.limit() as usize,
            Type::Temporal | Type::TemporalOrdered => def.inputs.len(),
        };
        let groups = &mut scorer.correlations[k];
        groups.alerts = file.alerts;
        groups.evictions = file.evictions;
        // Keep the most recently seen if the config now allows fewer.
        let skip = file.groups.len().saturating_sub(cfg.max_principals.max(1));
        for g in file.groups.into_iter().skip(skip) {
            let what = || format!("correlation {:?} group {:?}", def.id, g.key);
            if g.entries.len() > most {
                return Err(format!("{}: {} entries, more than the {most} it keeps", what(), g.entries.len()));
            }
            let kept = |x: u64| match def.kind {
                Type::EventCount => (1..=def.limit()).contains(&x),
                Type::ValueCount => x <= HASH_BITS,
                Type::Temporal | Type::TemporalOrdered => x < most as u64,
            };
            if let Some((_, x)) = g.entries.iter().find(|(_, x)| !kept(*x)) {
                return Err(format!("{}: entry value {x} is not one it keeps", what()));
            }
            let mut entries: Vec<(i64, u64)> = g.entries.iter().map(|(t, x)| (t.0, *x)).collect();
            if def.kind == Type::EventCount {
                entries.sort_unstable();
            }
            let group = Group { now: g.now.0, held: g.held, entries };
            *groups.touch(&g.key, g.now.0, usize::MAX) = group;
        }
    }
    Ok(())
}
