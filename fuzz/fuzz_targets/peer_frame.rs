#![no_main]
//! See `flotilla::fuzzing::peer_frame`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla::fuzzing::peer_frame(data));
