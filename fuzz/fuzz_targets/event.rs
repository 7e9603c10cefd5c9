//! `event`: see `modwatch_fuzz::checks::event`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    modwatch_fuzz::checks::event(data);
});
