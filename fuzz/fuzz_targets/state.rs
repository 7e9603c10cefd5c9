//! `state`: see `modwatch_testkit::fuzz::checks::state`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    modwatch_testkit::fuzz::checks::state(data);
});
