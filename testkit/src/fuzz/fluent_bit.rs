//! The `fluent_bit` target's check: one record through the module's
//! `modwatch_filter` export exactly as Fluent Bit passes it (a NUL-terminated
//! copy, its length without the NUL).

// The check calls the module's export through its C ABI, as Fluent Bit does.
#![allow(unsafe_code, reason = "calls the Fluent Bit filter's C ABI; each block says why it holds")]

use std::ffi::CStr;

use super::json::{kept, parse};

/// The signature of `modwatch_filter` (tag, tag length, seconds,
/// nanoseconds, record, record length).
pub type Filter = unsafe extern "C" fn(*const u8, u32, u32, u32, *const u8, u32) -> *const u8;

/// Calls `filter` on `data` and checks the answer: the record's own pointer
/// (kept), or a NUL-terminated, valid UTF-8 JSON object that keeps every
/// field of the record (replaced). Never `""` (a drop) or NULL: the embedded
/// config tags, it does not drop. Returns `unchanged` or `replaced`.
pub fn check(filter: Filter, data: &[u8]) -> &'static str {
    let Ok(len) = u32::try_from(data.len()) else { return "too-long" };
    let tag = b"cloudtrail\0";
    let mut record = Vec::with_capacity(data.len() + 1);
    record.extend_from_slice(data);
    record.push(0);
    // SAFETY: `record` holds `len` bytes and a NUL, and outlives the call.
    let out = unsafe { filter(tag.as_ptr(), 10, 1_700_000_000, 0, record.as_ptr(), len) };
    if out == record.as_ptr() {
        return "unchanged";
    }
    assert!(!out.is_null(), "NULL answer");
    // SAFETY: the filter returns a NUL-terminated string in its own memory
    // (its output buffer or a static), live until its next call.
    let answer = unsafe { CStr::from_ptr(out.cast()) }.to_bytes();
    assert!(!answer.is_empty(), "the record was dropped");
    let text = std::str::from_utf8(answer).unwrap_or_else(|e| panic!("answer is not UTF-8: {e}"));
    let out = parse(text.as_bytes()).unwrap_or_else(|| panic!("answer is not JSON: {text}"));
    assert!(out.is_object(), "answer is not an object");
    let orig = parse(data).unwrap_or_else(|| panic!("replaced a record that is not JSON"));
    assert!(kept(&orig, &out), "the answer lost or changed a field of the record");
    "replaced"
}
