//! `state`: see `modwatch_fuzz::checks::state`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    modwatch_fuzz::checks::state(data);
});
