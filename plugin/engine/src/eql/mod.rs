//! EQL: the subset of Elastic's Event Query Language that rules are written in,
//! evaluated per event with Elasticsearch's semantics (`spec/eql-semantics.md`).
//!
//! A query is parsed once (`Query::parse`) and evaluated against anything that
//! implements [`Document`]: the engine's normalised view of an event.

/// One scalar value of a field, as the evaluator sees it. JSON `null` and the
/// empty string never reach the evaluator: they count as missing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Str(&'a str),
    /// A JSON number, kept exactly as written (`serde_json` with `arbitrary_precision`).
    Num(&'a serde_json::Number),
    Bool(bool),
}

/// A dotted field name as written in a query, e.g. `event.action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldPath {
    /// The whole name, e.g. `aws.cloudtrail.user_identity.type`.
    pub(crate) dotted: String,
}

/// What a query is evaluated on.
pub(crate) trait Document {
    /// Calls `visit` on every scalar value of `field` (arrays flattened, at any
    /// depth, nulls and empty strings skipped) until `visit` returns true.
    /// Returns true if some call returned true; false if none did or the field
    /// is missing.
    fn any_value(&self, field: &FieldPath, visit: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool;
}
