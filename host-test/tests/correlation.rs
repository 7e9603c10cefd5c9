//! Sigma correlation rules through the component in wasmtime: the stream of
//! `tests/sigma/correlations.ndjson` gives the native engine's verdicts and
//! tagged events, and an export from the component at any point, imported
//! into a fresh component (or the native engine), continues as one run. The
//! Fluent Bit module with the pack embedded tags the stream as the component
//! does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use modwatch::{Detector, Output};
use modwatch_engine::Engine;
use modwatch_host_test::fluent_bit::{Answer, FLUENT_BIT_SIGMA, FLUENT_BIT_SIGMA_RULES, FluentBit};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/sigma");

fn rules() -> String {
    std::fs::read_to_string(format!("{DIR}/correlations.yml")).unwrap()
}

/// The stream's events and the correlation ids each is expected to fire.
fn stream() -> Vec<(Vec<u8>, Value)> {
    std::fs::read_to_string(format!("{DIR}/correlations.ndjson"))
        .unwrap()
        .lines()
        .map(|l| {
            let row: Value = serde_json::from_str(l).unwrap();
            (serde_json::to_vec(&row["event"]).unwrap(), row["fires"].clone())
        })
        .collect()
}

/// The component's verdicts (JSON) and outputs for `events`.
fn tag_all(component: &mut Detector, events: &[(Vec<u8>, Value)]) -> Vec<(Vec<String>, Option<Vec<u8>>)> {
    events
        .iter()
        .map(|(event, _)| {
            let got = component.tag(event).unwrap();
            let output = match got.output {
                Output::Replaced(bytes) => Some(bytes),
                _ => None,
            };
            (got.verdicts.into_iter().map(|v| v.json).collect(), output)
        })
        .collect()
}

#[test]
fn correlations_fire_alike_in_the_component() {
    let events = stream();
    let mut native = Engine::new(None, Some(&rules())).unwrap();
    let mut component = Detector::new(None, Some(&rules())).unwrap();
    let got = tag_all(&mut component, &events);
    for (i, ((event, fires), (verdicts, output))) in events.iter().zip(&got).enumerate() {
        let want = native.tag(event);
        let want_json: Vec<String> = want.verdicts.iter().map(|v| v.to_json()).collect();
        assert_eq!(&want_json, verdicts, "event {i}");
        let want_output = match want.output {
            modwatch_engine::Output::Replaced(bytes) => Some(bytes),
            _ => None,
        };
        assert_eq!(&want_output, output, "event {i}");
        let v: Value = serde_json::from_str(&verdicts[0]).unwrap();
        let ids: Vec<Value> =
            v["correlations"].as_array().map_or_else(Vec::new, |c| c.iter().map(|c| c["id"].clone()).collect());
        assert_eq!(&Value::Array(ids), fires, "event {i}");
    }
    let (a, b) = (native.stats(), component.stats().unwrap());
    assert_eq!((a.matches, a.alerts), (b.matches, b.alerts));
    assert_eq!(a.correlation_alerts, 7);
    // `correlation-stats` carries the engine's counters per correlation rule.
    let per_rule: Vec<(String, u64, u64, u64)> = component
        .correlation_stats()
        .unwrap()
        .into_iter()
        .map(|c| (c.rule_id, c.alerts, c.groups, c.evictions))
        .collect();
    let want: Vec<(String, u64, u64, u64)> =
        a.by_correlation.into_iter().map(|(id, c)| (id, c.alerts, c.groups, c.evictions)).collect();
    assert_eq!(per_rule, want);
    assert_eq!(per_rule.iter().map(|c| c.1).sum::<u64>(), 7);
    assert!(Detector::new(None, None).unwrap().correlation_stats().unwrap().is_empty());
}

#[test]
fn a_component_state_carries_correlations_over() {
    let events = stream();
    let mut whole = Detector::new(None, Some(&rules())).unwrap();
    let want = tag_all(&mut whole, &events);
    let final_state = whole.export_state().unwrap();
    for split in [1, 5, 11, 17, 23] {
        let mut first = Detector::new(None, Some(&rules())).unwrap();
        let mut got = tag_all(&mut first, &events[..split]);
        let state = first.export_state().unwrap();
        let mut second = Detector::new(None, Some(&rules())).unwrap();
        second.import_state(&state).unwrap().unwrap();
        got.extend(tag_all(&mut second, &events[split..]));
        assert_eq!(got, want, "split {split}");
        assert_eq!(second.export_state().unwrap(), final_state, "split {split}");
        // And the native engine reads the component's state as it wrote it.
        let mut native = Engine::new(None, Some(&rules())).unwrap();
        native.import_state(&state).unwrap();
        assert_eq!(native.export_state(), state, "split {split}");
    }
}

/// The correlation ids in a tagged event's `modwatch.correlations`.
fn fired(tagged: Option<&[u8]>) -> Value {
    let ids = tagged.and_then(|t| {
        let v: Value = serde_json::from_slice(t).ok()?;
        Some(v["modwatch"]["correlations"].as_array()?.iter().map(|c| c["id"].clone()).collect())
    });
    Value::Array(ids.unwrap_or_default())
}

#[test]
fn correlations_fire_alike_in_the_fluent_bit_module() {
    // The module embeds the correlation pack beside the Sigma parity pack;
    // the component gets the same text.
    let events = stream();
    let mut component = Detector::new(None, Some(FLUENT_BIT_SIGMA_RULES)).unwrap();
    let want = tag_all(&mut component, &events);
    let mut fb = FluentBit::from_build(FLUENT_BIT_SIGMA).unwrap();
    for (i, ((event, fires), (_, want))) in events.iter().zip(&want).enumerate() {
        let got = match fb.filter("cloudtrail", 1_772_445_600, 0, event).unwrap() {
            Answer::Replaced(bytes) => Some(bytes),
            Answer::Unchanged => None,
            other => panic!("event {i}: {other:?}"),
        };
        assert_eq!(
            got.as_deref().map(String::from_utf8_lossy),
            want.as_deref().map(String::from_utf8_lossy),
            "event {i}"
        );
        assert_eq!(&fired(got.as_deref()), fires, "event {i}");
    }
    let alerts: usize = events.iter().map(|(_, f)| f.as_array().map_or(0, Vec::len)).sum();
    assert_eq!(alerts, 7);
}
