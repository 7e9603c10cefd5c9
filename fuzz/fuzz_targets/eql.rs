//! `eql`: see `modwatch_testkit::fuzz::checks::eql`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    modwatch_testkit::fuzz::checks::eql(data);
});
