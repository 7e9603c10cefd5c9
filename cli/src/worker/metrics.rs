//! The worker's `/metrics`: OpenMetrics text, one series per partition.

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PartitionLabel {
    pub partition: u32,
}

type PerPartition<M> = Family<PartitionLabel, M>;

#[derive(Debug)]
pub(crate) struct Metrics {
    pub events: PerPartition<Counter>,
    pub alerts: PerPartition<Counter>,
    pub replayed: PerPartition<Counter>,
    pub lag: PerPartition<Gauge>,
    pub owned: PerPartition<Gauge>,
    pub checkpoint_at: PerPartition<Gauge>,
    pub checkpoint_bytes: PerPartition<Gauge>,
    pub recovery_seconds: PerPartition<Gauge<f64, std::sync::atomic::AtomicU64>>,
    pub checkpoint_seconds: Histogram,
    pub refused_checkpoints: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            events: Family::default(),
            alerts: Family::default(),
            replayed: Family::default(),
            lag: Family::default(),
            owned: Family::default(),
            checkpoint_at: Family::default(),
            checkpoint_bytes: Family::default(),
            recovery_seconds: Family::default(),
            checkpoint_seconds: Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
            refused_checkpoints: Counter::default(),
        }
    }
}

/// Seconds since the Unix epoch, whole.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut registry = Registry::with_prefix("modwatch_worker");
        registry.register("events", "Events scored", self.events.clone());
        registry.register("alerts", "Alerts raised", self.alerts.clone());
        registry.register(
            "replayed_events",
            "Events scored again after a take-over, whose output the output stream held already",
            self.replayed.clone(),
        );
        registry.register("lag", "Events in the partition not yet delivered to this worker", self.lag.clone());
        registry.register("owned", "1 while this worker holds the partition's lease", self.owned.clone());
        registry.register(
            "checkpoint_timestamp_seconds",
            "When the partition's last checkpoint was written (its age: now minus this)",
            self.checkpoint_at.clone(),
        );
        registry.register("checkpoint_bytes", "Size of the partition's last checkpoint", self.checkpoint_bytes.clone());
        registry.register(
            "recovery_seconds",
            "From taking the partition to scoring past what was published before",
            self.recovery_seconds.clone(),
        );
        registry.register(
            "checkpoint_seconds",
            "Time to export and store a checkpoint",
            self.checkpoint_seconds.clone(),
        );
        registry.register(
            "refused_checkpoints",
            "Checkpoints refused as corrupt or foreign",
            self.refused_checkpoints.clone(),
        );
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}
