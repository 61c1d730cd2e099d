#![no_main]
//! See `flotilla::fuzzing::resp`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla::fuzzing::resp(data));
