#![no_main]
//! See `flotilla::fuzzing::ws_json`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla::fuzzing::ws_json(data));
