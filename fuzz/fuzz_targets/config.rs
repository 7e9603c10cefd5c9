//! `config`: see `modwatch_fuzz::checks::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    modwatch_fuzz::checks::config(data);
});
