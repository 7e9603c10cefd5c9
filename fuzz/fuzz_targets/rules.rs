//! `rules`: see `modwatch_fuzz::checks::rules`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    modwatch_fuzz::checks::rules(data);
});
