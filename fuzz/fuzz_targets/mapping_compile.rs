#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = fedgate_fuzz::mapping_compile(data);
});
