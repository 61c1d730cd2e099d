#![no_main]
//! See `flotilla::fuzzing::snapshot`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla::fuzzing::snapshot(data));
