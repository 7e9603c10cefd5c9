//! JSON helpers shared by the checks.

use serde_json::Value;

/// True if `out` still has everything `orig` had: every key of every object
/// with a value that is itself kept (tags may add keys, and merge into an
/// object key by key), arrays element by element, scalars equal.
pub fn kept(orig: &Value, out: &Value) -> bool {
    match (orig, out) {
        (Value::Object(a), Value::Object(b)) => a.iter().all(|(k, v)| b.get(k).is_some_and(|w| kept(v, w))),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(v, w)| kept(v, w)),
        (a, b) => a == b,
    }
}

/// Parses JSON within serde_json's default nesting limit (128): `None` for
/// anything else, including deeper documents.
pub fn parse(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}
