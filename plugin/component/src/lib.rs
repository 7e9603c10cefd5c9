//! The modwatch engine as a WebAssembly component: a thin skin that only
//! translates between the WIT types of `wit/detector.wit` and
//! `modwatch-engine`. Built for `wasm32-unknown-unknown` and componentized
//! with `wit-component`, so the component imports nothing (no WASI).

use std::cell::RefCell;

use modwatch_engine as me;

#[allow(unsafe_code, reason = "wit-bindgen's generated ABI glue; the code of this crate has none")]
mod bindings {
    use super::Component;

    wit_bindgen::generate!({
        path: "../../wit",
        world: "detector",
    });

    export!(Component);
}

use bindings::exports::modwatch::detector::detection as wit;

/// The component's implementation of the world's exports.
struct Component;

impl wit::Guest for Component {
    type Engine = Engine;
}

/// One engine resource. `RefCell` because WIT methods take `&self`; the
/// component model never re-enters an instance, so a borrow is never held
/// when another call arrives and `borrow_mut` cannot fail.
struct Engine(RefCell<me::Engine>);

impl wit::GuestEngine for Engine {
    fn create(config: Option<String>, rules: Option<String>) -> Result<wit::Engine, wit::Error> {
        Self::create_with_options(config, rules, wit::Options { validate: None, builtin_rules: None })
    }

    fn create_with_options(
        config: Option<String>,
        rules: Option<String>,
        options: wit::Options,
    ) -> Result<wit::Engine, wit::Error> {
        let overrides = me::Overrides { validate: options.validate, builtin_rules: options.builtin_rules };
        let engine = me::Engine::load(config.as_deref(), rules.as_deref(), &overrides).map_err(load_error)?;
        Ok(wit::Engine::new(Engine(RefCell::new(engine))))
    }

    fn evaluate(&self, event: Vec<u8>) -> Vec<wit::Verdict> {
        self.0.borrow_mut().evaluate(&event).iter().map(verdict).collect()
    }

    fn tag(&self, event: Vec<u8>) -> wit::TagResult {
        tag_result(self.0.borrow_mut().tag(&event))
    }

    fn batch(&self, events: Vec<Vec<u8>>) -> Vec<wit::TagResult> {
        let mut engine = self.0.borrow_mut();
        events.iter().map(|event| tag_result(engine.tag(event))).collect()
    }

    fn tag_chunk(&self, events: Vec<u8>, ends: Vec<u32>) -> wit::ChunkResult {
        let mut engine = self.0.borrow_mut();
        let mut result =
            wit::ChunkResult { replaced: Vec::new(), dropped: Vec::new(), verdicts: Vec::new(), records: 0 };
        let mut start = 0;
        for (index, &end) in (0u32..).zip(&ends) {
            let end = (end as usize).min(events.len());
            let event = events.get(start..end).unwrap_or_default();
            start = end;
            let tagged = engine.tag(event);
            match tagged.output {
                me::Output::Unchanged => {}
                me::Output::Replaced(bytes) => result.replaced.push(wit::Replacement { event: index, bytes }),
                me::Output::Dropped => result.dropped.push(index),
            }
            result.records = result.records.saturating_add(tagged.verdicts.len() as u32);
            // Only what a host acts on crosses back; the JSON of a verdict is
            // built only for these.
            let changed = tagged.verdicts.iter().filter(|v| v.status != me::Status::NoMatch);
            result.verdicts.extend(changed.map(|v| wit::ChunkVerdict { event: index, verdict: verdict(v) }));
        }
        result
    }

    fn stats(&self) -> wit::Stats {
        let s = self.0.borrow().stats();
        wit::Stats {
            events: s.events,
            records: s.records,
            matches: s.matches,
            suppressed: s.suppressed,
            unrecognised: s.unrecognised,
            errors: s.errors,
            prefiltered: s.prefiltered,
            alerts: s.alerts,
            principals: s.principals,
            evictions: s.evictions,
            by_rule: s.by_rule.into_iter().collect(),
            by_category: s.by_category.into_iter().collect(),
        }
    }

    fn export_state(&self) -> String {
        self.0.borrow().export_state()
    }

    fn import_state(&self, state: String) -> Result<(), wit::Error> {
        self.0.borrow_mut().import_state(&state).map_err(load_error)
    }

    fn max_event_bytes(&self) -> u64 {
        self.0.borrow().config().max_event_bytes() as u64
    }

    fn warnings(&self) -> Vec<wit::Problem> {
        self.0.borrow().rules().warnings().iter().map(problem).collect()
    }

    fn correlation_stats(&self) -> Vec<wit::CorrelationStats> {
        let s = self.0.borrow().stats();
        s.by_correlation
            .into_iter()
            .map(|(rule_id, c)| wit::CorrelationStats {
                rule_id,
                alerts: c.alerts,
                groups: c.groups,
                evictions: c.evictions,
            })
            .collect()
    }
}

// Conversions, engine → WIT. Every field the engine adds lands here.

fn load_error(e: me::LoadError) -> wit::Error {
    match e {
        me::LoadError::Config(errors) => wit::Error::Config(errors.0.iter().map(problem).collect()),
        me::LoadError::Rules(errors) => wit::Error::Rules(errors.0.iter().map(problem).collect()),
        me::LoadError::State(error) => wit::Error::State(problem(&error)),
    }
}

fn problem(e: &me::Error) -> wit::Problem {
    let loc = e.location();
    // A position of 0 means "no position" in the engine.
    let pos = |n: u32| (n > 0).then_some(n);
    wit::Problem {
        code: e.code(),
        kind: e.kind().name().to_string(),
        message: e.message().to_string(),
        rule_id: loc.and_then(|l| l.rule_id.clone()),
        line: loc.and_then(|l| pos(l.line)),
        column: loc.and_then(|l| pos(l.column)),
        pack_line: loc.and_then(|l| l.pack_line),
    }
}

fn tag_result(tagged: me::Tagged) -> wit::TagResult {
    wit::TagResult {
        output: match tagged.output {
            me::Output::Unchanged => wit::Output::Unchanged,
            me::Output::Replaced(bytes) => wit::Output::Replaced(bytes),
            me::Output::Dropped => wit::Output::Dropped,
        },
        verdicts: tagged.verdicts.iter().map(verdict).collect(),
    }
}

fn verdict(v: &me::Verdict) -> wit::Verdict {
    wit::Verdict {
        status: match v.status {
            me::Status::Match => wit::Status::Match,
            me::Status::NoMatch => wit::Status::NoMatch,
            me::Status::Suppressed => wit::Status::Suppressed,
            me::Status::Unrecognised => wit::Status::Unrecognised,
            me::Status::Error => wit::Status::Error,
        },
        format: v.format.map(|f| f.name().to_string()),
        cloud: v.format.map(|f| f.cloud().to_string()),
        op: v.op.clone(),
        outcome: v.outcome.map(|o| match o {
            me::Outcome::Success => wit::Outcome::Success,
            me::Outcome::Failure => wit::Outcome::Failure,
            me::Outcome::DryRun => wit::Outcome::DryRun,
            me::Outcome::Unknown => wit::Outcome::Unknown,
        }),
        principal: v.principal.as_ref().map(|p| wit::Principal {
            id: p.id.clone(),
            display: p.display.clone(),
            kind: p.kind.clone(),
            account: p.account.clone(),
            key: v.principal_key().unwrap_or_default().to_string(),
        }),
        time: v.time.clone(),
        matches: v
            .matches
            .iter()
            .map(|m| wit::RuleMatch {
                rule_id: m.rule_id.clone(),
                rule_name: m.rule_name.clone(),
                category: m.category.clone(),
                points: m.points,
                severity: m.severity.clone(),
                risk_score: m.risk_score,
                technique: m.technique.clone(),
                subtechnique: m.subtechnique.clone(),
            })
            .collect(),
        category: v.category.clone(),
        points: v.points,
        suppressed_by: v.suppressed_by.clone(),
        error: v.error.as_ref().map(|e| wit::EventError {
            code: e.code,
            kind: e.kind.clone(),
            message: e.message.clone(),
        }),
        score: v.score.as_ref().map(|s| wit::Score {
            points: s.points,
            principal_score: s.principal_score,
            reasons: s.reasons.clone(),
            alert: s.alert.as_ref().map(|a| wit::Alert {
                score: a.score,
                threshold: a.threshold,
                window_minutes: a.window_minutes,
                operations: a.operations,
                first: a.first.clone(),
                last: a.last.clone(),
            }),
        }),
        json: v.to_json(),
    }
}
