//! `eql`: see `modwatch_fuzz::checks::eql`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    modwatch_fuzz::checks::eql(data);
});
