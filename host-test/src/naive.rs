//! The naive baseline every benchmark compares with: what a straightforward
//! implementation does with one event. Parse it into a `serde_json::Value`,
//! read the operation of its shape, look it up in a list, and for a match add
//! tags and serialise the event again. `just bench` runs it in-process
//! (`benches/throughput.rs`); `examples/naive_scan.rs` is the same as a
//! process over a file, beside `modwatch scan`.

use std::collections::HashSet;

use serde_json::{Value, json};

/// The T1578 operations a straightforward implementation would list: AWS as
/// `eventSource:eventName`, Azure as the lower-case `operationName`.
pub const OPERATIONS: &[&str] = &[
    "ec2.amazonaws.com:runinstances",
    "ec2.amazonaws.com:terminateinstances",
    "ec2.amazonaws.com:stopinstances",
    "ec2.amazonaws.com:startinstances",
    "ec2.amazonaws.com:modifyinstanceattribute",
    "ec2.amazonaws.com:createsnapshot",
    "ec2.amazonaws.com:createsnapshots",
    "ec2.amazonaws.com:copysnapshot",
    "ec2.amazonaws.com:deletesnapshot",
    "ec2.amazonaws.com:modifysnapshotattribute",
    "ec2.amazonaws.com:createimage",
    "ec2.amazonaws.com:registerimage",
    "ec2.amazonaws.com:copyimage",
    "ec2.amazonaws.com:deregisterimage",
    "ec2.amazonaws.com:modifyimageattribute",
    "ec2.amazonaws.com:createvolume",
    "ec2.amazonaws.com:deletevolume",
    "ec2.amazonaws.com:attachvolume",
    "ec2.amazonaws.com:detachvolume",
    "ec2.amazonaws.com:createreplacerootvolumetask",
    "ec2.amazonaws.com:createinstanceexporttask",
    "ec2.amazonaws.com:exportimage",
    "ec2.amazonaws.com:disableebsencryptionbydefault",
    "ec2.amazonaws.com:enableserialconsoleaccess",
    "microsoft.compute/virtualmachines/write",
    "microsoft.compute/virtualmachines/delete",
    "microsoft.compute/virtualmachines/capture/action",
    "microsoft.compute/virtualmachines/generalize/action",
    "microsoft.compute/virtualmachines/runcommand/action",
    "microsoft.compute/virtualmachines/extensions/write",
    "microsoft.compute/virtualmachines/extensions/delete",
    "microsoft.compute/virtualmachines/reimage/action",
    "microsoft.compute/snapshots/write",
    "microsoft.compute/snapshots/delete",
    "microsoft.compute/snapshots/begingetaccess/action",
    "microsoft.compute/disks/write",
    "microsoft.compute/disks/delete",
    "microsoft.compute/disks/begingetaccess/action",
    "microsoft.compute/images/write",
    "microsoft.compute/galleries/images/versions/write",
];

/// The baseline, its operation list ready.
#[derive(Debug)]
pub struct Naive {
    ops: HashSet<&'static str>,
}

impl Default for Naive {
    fn default() -> Naive {
        Naive::new()
    }
}

impl Naive {
    /// The baseline over [`OPERATIONS`].
    pub fn new() -> Naive {
        Naive { ops: OPERATIONS.iter().copied().collect() }
    }

    /// The event tagged, for a match; `None` for anything else.
    pub fn tag(&self, event: &str) -> Option<Vec<u8>> {
        let mut value = serde_json::from_str::<Value>(event).ok()?;
        let text = |v: &Value, path: &str| v.pointer(path).and_then(Value::as_str).map(str::to_ascii_lowercase);
        let op = if let Some(name) = text(&value, "/eventName") {
            format!("{}:{name}", text(&value, "/eventSource").unwrap_or_default())
        } else if let Some(name) = text(&value, "/operationName") {
            name
        } else if let Some(action) = text(&value, "/event/action") {
            match text(&value, "/event/provider") {
                Some(provider) => format!("{provider}:{action}"),
                None => action,
            }
        } else {
            return None;
        };
        if !self.ops.contains(op.as_str()) {
            return None;
        }
        if let Value::Object(fields) = &mut value {
            fields.insert("threat".into(), json!({ "technique": { "id": "T1578" }, "tactic": { "id": "TA0005" } }));
            fields.insert("modwatch".into(), json!({ "op": op }));
        }
        serde_json::to_vec(&value).ok()
    }
}
