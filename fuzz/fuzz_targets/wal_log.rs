#![no_main]
//! See `flotilla::fuzzing::wal_log`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla::fuzzing::wal_log(data));
