//! The `worker` section of the config file: split off before the rest goes
//! to the engine, which refuses keys it does not know.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Where the worker reads, writes and keeps its state, and how often it
/// checkpoints. Every key is optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Settings {
    /// The NATS server(s), comma-separated URLs.
    pub nats: String,
    /// This worker's name in leases and logs (default: host name and pid).
    pub name: Option<String>,
    /// How many partitions the subject mapping makes (`partition(n, …)`).
    pub partition_count: u32,
    /// The partitions this worker scores (default: all of them; it takes
    /// those no other worker holds).
    pub partitions: Option<Vec<u32>>,
    /// The input stream and its subjects: `<input_prefix>.<partition>.<token>`.
    pub input_stream: String,
    pub input_prefix: String,
    /// The output stream and its subjects: `<output_prefix>.<partition>`.
    pub output_stream: String,
    pub output_prefix: String,
    /// The key-value buckets of the checkpoints and of the leases.
    pub checkpoint_bucket: String,
    pub lease_bucket: String,
    /// Checkpoint a partition after this many events …
    pub checkpoint_events: u64,
    /// … or this many seconds, whichever comes first.
    pub checkpoint_secs: f64,
    /// A lease not renewed for this long lapses and another worker may take
    /// the partition.
    pub lease_secs: f64,
    /// Replicas of the streams and buckets the worker creates.
    pub replicas: usize,
    /// The output stream's de-duplication window, in seconds.
    pub duplicate_window_secs: f64,
    /// Events fetched and tagged per round trip.
    pub batch: usize,
    /// Publish only the events with a match.
    pub only_matches: bool,
    /// The address of `/health` and `/metrics` (none: no HTTP server).
    pub listen: Option<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            nats: "nats://127.0.0.1:4222".into(),
            name: None,
            partition_count: 8,
            partitions: None,
            input_stream: "MODWATCH_IN".into(),
            input_prefix: "modwatch.p".into(),
            output_stream: "MODWATCH_OUT".into(),
            output_prefix: "modwatch.out".into(),
            checkpoint_bucket: "modwatch_checkpoints".into(),
            lease_bucket: "modwatch_leases".into(),
            checkpoint_events: 10_000,
            checkpoint_secs: 5.0,
            lease_secs: 10.0,
            replicas: 1,
            duplicate_window_secs: 600.0,
            batch: 256,
            only_matches: false,
            listen: None,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> anyhow::Result<()> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 { Ok(()) } else { Err(anyhow!("worker.{name} must be a positive number")) }
        };
        positive("checkpoint_secs", self.checkpoint_secs)?;
        positive("lease_secs", self.lease_secs)?;
        positive("duplicate_window_secs", self.duplicate_window_secs)?;
        if self.partition_count == 0 || self.checkpoint_events == 0 || self.batch == 0 || self.replicas == 0 {
            bail!("worker.partition_count, checkpoint_events, batch and replicas must be at least 1");
        }
        if let Some(p) = self.partitions.iter().flatten().find(|p| **p >= self.partition_count) {
            bail!("worker.partitions: partition {p} is not below partition_count {}", self.partition_count);
        }
        Ok(())
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs_f64(self.lease_secs)
    }

    pub fn checkpoint_every(&self) -> Duration {
        Duration::from_secs_f64(self.checkpoint_secs)
    }

    /// The partitions to try to own, in order.
    pub fn wanted(&self) -> Vec<u32> {
        self.partitions.clone().unwrap_or_else(|| (0..self.partition_count).collect())
    }
}

/// Splits the `worker` member off a JSON config: the engine's config with
/// that member blanked out (spaces in place of its bytes, so every other key
/// keeps its line and column in the engine's messages) and the member's
/// JSON. A text that is not a JSON object is returned whole, for the engine
/// to report.
pub(crate) fn split(text: &str) -> anyhow::Result<(String, Option<Settings>)> {
    let Ok(members) = serde_json::from_str::<BTreeMap<String, &RawValue>>(text) else {
        return Ok((text.to_string(), None));
    };
    let Some(raw) = members.get("worker") else {
        return Ok((text.to_string(), None));
    };
    let settings: Settings = serde_json::from_str(raw.get()).context("the config's \"worker\" section")?;
    let bytes = text.as_bytes();
    // The value is a slice of `text`: its offset is its distance from the start.
    let value_start = raw.get().as_ptr() as usize - text.as_ptr() as usize;
    let value_end = value_start + raw.get().len();
    // Back over `"worker" :` to the key's opening quote.
    let mut at = value_start;
    while at > 0 && bytes[at - 1] != b':' {
        at -= 1;
    }
    at = at.saturating_sub(1);
    while at > 0 && bytes[at - 1] != b'"' {
        at -= 1;
    }
    let mut start = at.saturating_sub(1);
    while start > 0 && (bytes[start - 1] != b'"' || escaped(bytes, start - 1)) {
        start -= 1;
    }
    start = start.saturating_sub(1);
    let mut end = value_end;
    // One separating comma goes too: the one after, or else the one before.
    let after = bytes[end..].iter().position(|b| !b.is_ascii_whitespace()).map(|i| end + i);
    if let Some(i) = after.filter(|&i| bytes[i] == b',') {
        end = i + 1;
    } else if let Some(i) = bytes[..start].iter().rposition(|b| !b.is_ascii_whitespace()).filter(|&i| bytes[i] == b',')
    {
        start = i;
    }
    let mut engine = bytes.to_vec();
    for b in &mut engine[start..end] {
        if *b != b'\n' && *b != b'\r' {
            *b = b' ';
        }
    }
    let engine = String::from_utf8(engine).map_err(|_| anyhow!("the config's \"worker\" section: not UTF-8"))?;
    Ok((engine, Some(settings)))
}

/// Whether the quote at `i` is escaped by an odd run of backslashes.
fn escaped(bytes: &[u8], i: usize) -> bool {
    bytes[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn the_worker_member_is_blanked_in_place() {
        let text = "{\n  \"scoring\": {},\n  \"worker\": {\"partition_count\": 4,\n \"batch\": 9},\n  \"rules\": {}\n}";
        let (engine, settings) = split(text).unwrap();
        assert_eq!(engine.lines().count(), text.lines().count());
        assert_eq!(engine.len(), text.len());
        let value: serde_json::Value = serde_json::from_str(&engine).unwrap();
        assert_eq!(value, serde_json::json!({"scoring": {}, "rules": {}}));
        let settings = settings.unwrap();
        assert_eq!((settings.partition_count, settings.batch), (4, 9));
    }

    #[test]
    fn last_member_takes_the_comma_before_it() {
        let (engine, _) = split(r#"{"input": {}, "worker": {"batch": 1}}"#).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&engine).unwrap(), serde_json::json!({"input": {}}));
        let (engine, _) = split(r#"{"worker": {}}"#).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&engine).unwrap(), serde_json::json!({}));
    }

    #[test]
    fn no_worker_member_or_not_json_is_unchanged() {
        assert_eq!(split(r#"{"input": {}}"#).unwrap().0, r#"{"input": {}}"#);
        assert_eq!(split("{oops").unwrap().0, "{oops");
        assert!(split(r#"{"worker": {"nope": 1}}"#).is_err());
    }
}
