//! `fluent_bit`: the Fluent Bit module's export, natively; see
//! `modwatch_testkit::fuzz::fluent_bit::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    modwatch_testkit::fuzz::fluent_bit::check(modwatch_fluent_bit::modwatch_filter, data);
});
