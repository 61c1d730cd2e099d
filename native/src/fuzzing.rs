//! The bodies of the fuzz targets in `fuzz/`, kept here so that the corpus can be replayed
//! by an ordinary `cargo test` (`native/tests/fuzz_corpus.rs`) without libFuzzer or a
//! nightly compiler. Each function feeds arbitrary bytes to one decoder that faces the
//! outside world and checks the properties that must hold for every input: no panic, and
//! what decodes re-encodes to something that decodes to the same value.

use crate::gateway::ws;
use crate::peer::frame;
use crate::resp::{parse_command, parse_reply};

/// The RESP command parser (what clients send), fed as one buffer, as the event loop does
/// after every read: parse, consume, parse again. Also the reply parser the client
/// subcommands use.
pub fn resp(data: &[u8]) {
    let mut rest = data;
    while let Ok(Some((args, used))) = parse_command(rest) {
        assert!(
            used > 0 && used <= rest.len(),
            "consumed {used} of {}",
            rest.len()
        );
        if !args.is_empty() {
            let _ = crate::node::command::classify(&args);
        }
        rest = &rest[used..];
    }
    let mut rest = data;
    while let Ok(Some((reply, used))) = parse_reply(rest) {
        assert!(used > 0 && used <= rest.len());
        let mut wire = Vec::new();
        reply.encode(&mut wire);
        assert!(matches!(parse_reply(&wire), Ok(Some((_, n))) if n == wire.len()));
        rest = &rest[used..];
    }
}

/// The peer frame decoder: a length prefix and a postcard `PeerMessage`. What decodes must
/// encode and decode to the same message.
pub fn peer_frame(data: &[u8]) {
    let mut rest = data;
    while let Ok(Some((message, used))) = frame::decode(rest) {
        assert!(used > 0 && used <= rest.len());
        let mut wire = Vec::new();
        frame::encode(&message, &mut wire);
        let again = frame::decode(&wire);
        assert!(
            matches!(&again, Ok(Some((m, n))) if *m == message && *n == wire.len()),
            "{message:?} did not round-trip: {again:?}"
        );
        rest = &rest[used..];
    }
}

/// The WebSocket decoder of page messages (protocol v1): never panics, and what decodes
/// encodes to JSON that decodes to the same message.
pub fn ws_json(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(message) = ws::parse_page_message(text) {
            let again = serde_json::to_string(&message).expect("page messages encode");
            assert_eq!(ws::parse_page_message(&again), Ok(message));
        }
    }
}

/// The snapshot and hard-state file decoders. What decodes re-encodes to the same bytes.
pub fn snapshot(data: &[u8]) {
    use flotilla_core::storage::{
        decode_hard_state, decode_snapshot, encode_hard_state, encode_snapshot,
    };
    if let Ok(snapshot) = decode_snapshot(data) {
        assert_eq!(encode_snapshot(&snapshot), data);
    }
    if let Ok(hard_state) = decode_hard_state(data) {
        assert_eq!(
            decode_hard_state(&encode_hard_state(&hard_state)),
            Ok(hard_state)
        );
    }
}

/// The write-ahead log decoders: the native file store's segment scan (which tells torn
/// writes from damage) over arbitrary segments, and the core's record scanner and recovery
/// over what it accepts and over the raw bytes.
pub fn wal_log(data: &[u8]) {
    use crate::wal::format::{one_byte_from_valid, scan_segments};
    use flotilla_core::storage::{recover, DurableFiles};
    let recover_log = |log: &[u8]| {
        let files = DurableFiles {
            log,
            hard_state: None,
            snapshot: None,
        };
        if let Ok(recovered) = recover(files) {
            assert!(recovered.log_valid_bytes <= log.len() as u64);
        }
    };
    recover_log(data);
    // The first byte says whether the rest is one segment or several, cut at 0xfe bytes.
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let segments: Vec<&[u8]> = if count % 4 == 0 {
        vec![rest]
    } else {
        rest.split(|&b| b == 0xfe).collect()
    };
    if let Ok(scan) = scan_segments(&segments) {
        if let Some((segment, valid)) = scan.torn {
            assert!(valid <= segments[segment].len());
        }
        recover_log(&scan.records);
    }
    let _ = one_byte_from_valid(rest);
    wal_damage(data);
}

/// Most records the structured WAL check builds from one input.
const WAL_RECORDS_MAX: usize = 64;

/// The WAL's promise, fuzzed: a segment of valid batches built from the input scans clean
/// and gives back its records; the same segment with any one byte damaged (position and
/// mask from the input) is refused, whichever byte it is.
fn wal_damage(data: &[u8]) {
    use crate::wal::format::{encode_batch, scan_segments, segment_header, BatchKind};
    use flotilla_core::storage::record::append_record;
    let Some((control, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let payloads: Vec<&[u8]> = rest.split(|&b| b == 0xfd).take(WAL_RECORDS_MAX).collect();
    let per_batch = usize::from(control[0] % 4) + 1;
    let mut segment = segment_header();
    let mut records = Vec::new();
    for chunk in payloads.chunks(per_batch) {
        let mut body = Vec::new();
        for payload in chunk {
            append_record(&mut body, payload);
        }
        let kind = if control[0] & 0x80 != 0 && records.is_empty() {
            BatchKind::Rewrite
        } else {
            BatchKind::Append
        };
        encode_batch(kind, &body, &mut segment);
        records.extend_from_slice(&body);
    }
    let scan = scan_segments(&[&segment]);
    assert!(
        matches!(&scan, Ok(s) if s.torn.is_none() && s.records == records),
        "a clean segment did not scan clean: {scan:?}"
    );
    let position = usize::from(u16::from_le_bytes([control[1], control[2]])) % segment.len();
    let mask = control[3].max(1);
    segment[position] ^= mask;
    assert!(
        scan_segments(&[&segment]).is_err(),
        "damage {mask:#04x} at byte {position} of {} was not detected",
        segment.len()
    );
}
