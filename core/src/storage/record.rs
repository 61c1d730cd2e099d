//! Record framing: how a payload is laid on disk so that a reader can find where it ends and
//! tell whether it is intact.
//!
//! ```text
//! +--------------------+--------------------------------------+-----------------+
//! | length: u32 LE     | crc: u32 LE = CRC32C(length ‖ payload) | payload         |
//! +--------------------+--------------------------------------+-----------------+
//! ```
//!
//! The checksum covers the length field as well as the payload. Two reasons: a garbled
//! length that happens to point inside the buffer is caught by the checksum instead of
//! silently shifting every record after it; and a zero-filled region (a file extended but
//! never written, which some file systems leave after a crash) does not parse as a valid
//! empty record, because the CRC32C of four zero bytes is not zero.
//!
//! [`scan_records`] reads a whole log and says where and why it stopped; the module essay in
//! `storage/mod.rs` explains how that separates a torn tail from corruption.

use crc::{Crc, Table, CRC_32_ISCSI};
use thiserror::Error;

/// Bytes before the payload: length and checksum.
pub const RECORD_HEADER_BYTES: u64 = 8;
/// Largest payload a record may carry, in bytes. A length above this is refused before
/// anything is read or allocated, so a garbled length of 4 GB costs nothing.
pub const RECORD_PAYLOAD_BYTES_MAX: u64 = 64 * 1024 * 1024;

const _: () = assert!(RECORD_PAYLOAD_BYTES_MAX <= u32::MAX as u64);

/// CRC32C (Castagnoli, "CRC-32/ISCSI"): the checksum of iSCSI, ext4, Btrfs and most
/// write-ahead logs. Its polynomial detects more error patterns in storage-sized blocks than
/// the older CRC-32 of zip and Ethernet, and CPUs compute it in hardware.
///
/// Natively, slice-by-16 tables (16 KiB, built at compile time): every entry is checksummed
/// by each node, once in its record and again in the WAL batch, and the byte-at-a-time
/// table made that a quarter of a follower's CPU per write. In wasm32 the page's download
/// size matters more (the tables would add 16 KB to it, gzipped) and a browser peer writes
/// little. Both tables give the same checksums.
pub static CRC32C: Crc<u32, Crc32cTable> = Crc::<u32, Crc32cTable>::new(&CRC_32_ISCSI);

#[cfg(not(target_arch = "wasm32"))]
type Crc32cTable = Table<16>;
#[cfg(target_arch = "wasm32")]
type Crc32cTable = Table<1>;

/// Why the bytes at some offset are not a valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum RecordError {
    /// The buffer ends before the header, or before the length the header announces. At the
    /// end of a log this is what a torn write looks like.
    #[error("incomplete record: {needed} bytes needed, {available} available")]
    Incomplete { needed: u64, available: u64 },
    /// The header announces more than [`RECORD_PAYLOAD_BYTES_MAX`] bytes.
    #[error("record length {length} exceeds the limit of {RECORD_PAYLOAD_BYTES_MAX} bytes")]
    TooLarge { length: u64 },
    /// The checksum does not match the length and payload.
    #[error("record checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch { stored: u32, computed: u32 },
}

/// Frames `payload` as one record.
///
/// # Panics
/// If the payload is longer than [`RECORD_PAYLOAD_BYTES_MAX`]: callers bound what they write.
pub fn encode_record(payload: &[u8]) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(payload.len() + RECORD_HEADER_BYTES as usize);
    append_record(&mut buffer, payload);
    buffer
}

/// Appends `payload`, framed as one record, to `buffer`.
///
/// # Panics
/// If the payload is longer than [`RECORD_PAYLOAD_BYTES_MAX`].
pub fn append_record(buffer: &mut Vec<u8>, payload: &[u8]) {
    let length = payload.len() as u64;
    assert!(
        length <= RECORD_PAYLOAD_BYTES_MAX,
        "record payload of {length} bytes"
    );
    let length = (length as u32).to_le_bytes();
    let mut digest = CRC32C.digest();
    digest.update(&length);
    digest.update(payload);
    buffer.extend_from_slice(&length);
    buffer.extend_from_slice(&digest.finalize().to_le_bytes());
    buffer.extend_from_slice(payload);
}

/// Decodes the record at the start of `bytes`: its payload (borrowed, never copied) and how
/// many bytes it took. Never panics and never allocates.
pub fn decode_record(bytes: &[u8]) -> Result<(&[u8], usize), RecordError> {
    let available = bytes.len() as u64;
    let Some((header, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(RecordError::Incomplete {
            needed: RECORD_HEADER_BYTES,
            available,
        });
    };
    let length_bytes = [header[0], header[1], header[2], header[3]];
    let length = u64::from(u32::from_le_bytes(length_bytes));
    let stored = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if length > RECORD_PAYLOAD_BYTES_MAX {
        return Err(RecordError::TooLarge { length });
    }
    // `length` fits in u32 and RECORD_PAYLOAD_BYTES_MAX in usize on every target we build.
    let Some(payload) = rest.get(..length as usize) else {
        return Err(RecordError::Incomplete {
            needed: RECORD_HEADER_BYTES + length,
            available,
        });
    };
    let mut digest = CRC32C.digest();
    digest.update(&length_bytes);
    digest.update(payload);
    let computed = digest.finalize();
    if computed != stored {
        return Err(RecordError::ChecksumMismatch { stored, computed });
    }
    Ok((payload, RECORD_HEADER_BYTES as usize + payload.len()))
}

/// Why [`scan_records`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanStop {
    /// Every byte belongs to a valid record.
    Clean,
    /// The bytes from `offset` to the end are not a valid record and no valid record follows:
    /// the remains of a write that a crash interrupted. Safe to cut off.
    TornTail { offset: u64, error: RecordError },
    /// The record at `offset` is damaged, yet a valid record starts later, at `next_valid`:
    /// data that was once whole is damaged. Must not be cut off silently.
    Corrupt {
        offset: u64,
        error: RecordError,
        next_valid: u64,
    },
}

/// The result of reading a whole buffer of records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan<'a> {
    /// The payloads of the valid prefix, in order.
    pub payloads: Vec<&'a [u8]>,
    /// Length of the valid prefix in bytes: where the next record should be written once a
    /// torn tail is cut off.
    pub valid_bytes: u64,
    /// What ended the valid prefix.
    pub stop: ScanStop,
}

/// Reads records from the start of `bytes` until the end or the first bad record, and
/// classifies what stopped it (see [`ScanStop`]). Never panics.
///
/// After a bad record, every later byte offset is tried as the start of a record; finding a
/// valid one makes the damage corruption rather than a torn tail. That search is quadratic
/// in the worst case, but it only runs on damaged logs, and a torn tail is at most one write.
pub fn scan_records(bytes: &[u8]) -> Scan<'_> {
    let mut payloads = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        match decode_record(&bytes[offset..]) {
            Ok((payload, consumed)) => {
                payloads.push(payload);
                offset += consumed;
            }
            Err(error) => {
                let stop = match find_valid_record(bytes, offset + 1) {
                    Some(next_valid) => ScanStop::Corrupt {
                        offset: offset as u64,
                        error,
                        next_valid: next_valid as u64,
                    },
                    None => ScanStop::TornTail {
                        offset: offset as u64,
                        error,
                    },
                };
                return Scan {
                    payloads,
                    valid_bytes: offset as u64,
                    stop,
                };
            }
        }
    }
    Scan {
        payloads,
        valid_bytes: offset as u64,
        stop: ScanStop::Clean,
    }
}

/// The first offset at or after `from` where a valid record starts.
fn find_valid_record(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find(|&start| decode_record(&bytes[start..]).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_exact() {
        let record = encode_record(b"abc");
        let crc = CRC32C
            .checksum(&[3, 0, 0, 0, b'a', b'b', b'c'])
            .to_le_bytes();
        let mut expected = vec![3, 0, 0, 0];
        expected.extend_from_slice(&crc);
        expected.extend_from_slice(b"abc");
        assert_eq!(record, expected);
        assert_eq!(decode_record(&record), Ok((b"abc".as_slice(), 11)));
    }

    #[test]
    fn decode_classifies_errors() {
        let record = encode_record(b"hello");
        assert_eq!(
            decode_record(&record[..5]),
            Err(RecordError::Incomplete {
                needed: 8,
                available: 5
            })
        );
        assert_eq!(
            decode_record(&record[..10]),
            Err(RecordError::Incomplete {
                needed: 13,
                available: 10
            })
        );
        let mut garbled = record.clone();
        garbled[9] ^= 1;
        assert!(matches!(
            decode_record(&garbled),
            Err(RecordError::ChecksumMismatch { .. })
        ));
        let huge = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2];
        assert_eq!(
            decode_record(&huge),
            Err(RecordError::TooLarge {
                length: u32::MAX as u64
            })
        );
    }

    #[test]
    fn zeros_are_not_a_record() {
        assert!(matches!(
            decode_record(&[0; 8]),
            Err(RecordError::ChecksumMismatch { .. })
        ));
        let mut log = encode_record(b"one");
        log.extend_from_slice(&[0; 64]);
        let scan = scan_records(&log);
        assert_eq!(scan.payloads, vec![b"one".as_slice()]);
        assert!(matches!(scan.stop, ScanStop::TornTail { offset: 11, .. }));
    }

    #[test]
    fn scan_tells_torn_tail_from_corruption() {
        let mut log = encode_record(b"first");
        log.extend(encode_record(b"second"));
        log.extend(encode_record(b"third"));
        assert_eq!(scan_records(&log).stop, ScanStop::Clean);
        assert_eq!(scan_records(&log).valid_bytes, log.len() as u64);

        let torn = &log[..log.len() - 2];
        let scan = scan_records(torn);
        assert_eq!(scan.payloads.len(), 2);
        assert_eq!(scan.valid_bytes, 27);
        assert!(matches!(scan.stop, ScanStop::TornTail { offset: 27, .. }));

        let mut corrupt = log.clone();
        corrupt[22] ^= 0x40; // inside the payload "second"
        let scan = scan_records(&corrupt);
        assert_eq!(scan.payloads, vec![b"first".as_slice()]);
        assert!(matches!(
            scan.stop,
            ScanStop::Corrupt {
                offset: 13,
                next_valid: 27,
                ..
            }
        ));

        let mut long_length = log.clone();
        long_length[16] = 0xff; // the length of "second" now runs past the end
        assert!(matches!(
            scan_records(&long_length).stop,
            ScanStop::Corrupt { offset: 13, .. }
        ));
    }
}
