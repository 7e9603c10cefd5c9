//! `rules`: see `modwatch_testkit::fuzz::checks::rules`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    modwatch_testkit::fuzz::checks::rules(data);
});
