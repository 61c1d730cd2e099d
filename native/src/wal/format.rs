//! The layout of a segment file, and the scan that tells a torn write from damaged data.
//!
//! ```text
//! segment = SEGMENT_MAGIC (8 bytes) pad (to 512 bytes)  batch*
//! batch   = magic: 4 bytes ("FLBT", or "FLRW" for a batch that rewrites the whole log)
//!           body_len: u32 LE | body_crc: u32 LE = CRC32C(body) | head_crc: u32 LE = CRC32C(the 12 bytes before)
//!           body: core records (length, CRC32C, LogRecord), as `flotilla_core::storage`
//!           pad: to the next multiple of 512 bytes, a fixed pattern with no zero byte
//! ```
//!
//! Every batch starts and ends on a 512-byte sector boundary, so a sector never holds bytes
//! of two batches: a torn write can only damage its own batch, never the synced one before
//! it, and every sector it damages is a whole sector of the batch. The pad pattern has no
//! zero byte, so a zeroed sector always differs from what was written in many bytes.
//!
//! Segments are preallocated: created with zeros after the header, and extended by more
//! zeros when a batch would not fit, so that most fdatasyncs write data into space the file
//! already has, without changing its size (on ext4 a size change costs a second,
//! synchronous write of the inode). A batch header cannot be all zeros (its checksum of
//! zeros is not zero), so where the batches stop and only zeros follow is the end of the
//! segment's log: nothing was written there yet.
//!
//! A batch is what one `sync` wrote: one `write`, then one `fdatasync`. So at any moment at
//! most one batch is not durable, the last one, and a crash can only damage that one. The
//! scan uses this: damage anywhere but in the last batch of the last segment is corruption
//! of durable data, and the node must refuse to start on it.
//!
//! The last batch is the hard case. A crash while it was being written leaves any of its
//! 512-byte sectors kept, zeroed or garbled, and the batch was never acknowledged: it is a
//! torn tail, which recovery drops, whole (a batch is all or nothing). But the last batch may
//! also have been synced and then damaged by the disk, and dropping it would silently lose
//! acknowledged entries. What tells them apart is the shape of the damage: a torn write
//! ruins whole sectors; a bit flip changes one bit (a bad byte, a few bits in one byte).
//! CRC32C is linear, so [`byte_errors`] finds, from the checksum difference alone, every
//! byte whose damage would explain it. If repairing one of them makes the batch whole and its
//! body decodes as valid records (each with its own CRC32C, a second, independent check), the
//! batch was durable and got damaged: corruption, refused. A torn write passes both checks
//! by chance with a probability around 2^-40 for a 1 MiB batch.
//!
//! A batch marked "FLRW" holds the whole log after a snapshot (compaction). Segments before
//! the last one that starts with a valid rewrite are obsolete: the store deletes them after
//! the rewrite is synced, and if a crash interrupted that deletion, the scan ignores them.

use flotilla_core::storage::record::CRC32C;
use flotilla_core::storage::{scan_records, ScanStop};
use thiserror::Error;

/// The first bytes of every segment file ("Flotilla WAL, layout 1"), followed by the pad
/// pattern up to [`SECTOR_BYTES`].
pub const SEGMENT_MAGIC: [u8; 8] = *b"FLWAL001";
/// The alignment of batches in a segment, in bytes: the disk's atomic write unit.
pub const SECTOR_BYTES: usize = 512;
/// Bytes of the segment header (the magic and its pad).
pub const SEGMENT_HEADER_BYTES: usize = SECTOR_BYTES;
/// Bytes of a batch header.
pub const BATCH_HEADER_BYTES: usize = 16;
/// Largest batch body, in bytes: what the u32 length holds. One sync writes one batch (a
/// log rewritten after a snapshot included), so this bounds one Ready's writes, which the
/// node's own limits keep far smaller.
pub const BATCH_BODY_BYTES_MAX: usize = u32::MAX as usize;

const APPEND_MAGIC: [u8; 4] = *b"FLBT";
const REWRITE_MAGIC: [u8; 4] = *b"FLRW";

/// What a batch does to the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchKind {
    /// Records appended to the log.
    Append,
    /// The whole log, rewritten after a snapshot: earlier segments are obsolete.
    Rewrite,
}

/// Appends one batch holding `body` (core records) to `out`.
///
/// # Panics
/// If `body` is longer than [`BATCH_BODY_BYTES_MAX`]: the store checks before.
pub fn encode_batch(kind: BatchKind, body: &[u8], out: &mut Vec<u8>) {
    assert!(
        body.len() <= BATCH_BODY_BYTES_MAX,
        "batch of {}",
        body.len()
    );
    let pad = pad_bytes(body.len());
    let start = out.len();
    out.extend_from_slice(match kind {
        BatchKind::Append => &APPEND_MAGIC,
        BatchKind::Rewrite => &REWRITE_MAGIC,
    });
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&CRC32C.checksum(body).to_le_bytes());
    let head_crc = CRC32C.checksum(&out[start..start + 12]);
    out.extend_from_slice(&head_crc.to_le_bytes());
    out.extend_from_slice(body);
    out.extend((0..pad).map(pad_byte));
}

/// The segment header: the magic, padded to one sector.
pub fn segment_header() -> Vec<u8> {
    let mut header = SEGMENT_MAGIC.to_vec();
    header.extend((SEGMENT_MAGIC.len()..SEGMENT_HEADER_BYTES).map(pad_byte));
    header
}

/// Byte `i` of the pad pattern: never zero, and not constant.
fn pad_byte(i: usize) -> u8 {
    0x80 | (i as u8 & 0x7f)
}

/// Pad after a body of `body_len` bytes, so that the batch ends on a sector boundary.
fn pad_bytes(body_len: usize) -> usize {
    (SECTOR_BYTES - (BATCH_HEADER_BYTES + body_len) % SECTOR_BYTES) % SECTOR_BYTES
}

/// How many bytes of `pad` differ from the pattern.
fn pad_damage(pad: &[u8]) -> usize {
    pad.iter()
        .enumerate()
        .filter(|&(i, &b)| b != pad_byte(i))
        .count()
}

/// A valid batch header.
#[derive(Clone, Copy, Debug)]
struct Header {
    kind: BatchKind,
    body_len: usize,
    body_crc: u32,
}

fn le32(bytes: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(word)
}

fn decode_header(bytes: &[u8]) -> Option<Header> {
    let header = bytes.get(..BATCH_HEADER_BYTES)?;
    if CRC32C.checksum(&header[..12]) != le32(&header[12..]) {
        return None;
    }
    let kind = match [header[0], header[1], header[2], header[3]] {
        APPEND_MAGIC => BatchKind::Append,
        REWRITE_MAGIC => BatchKind::Rewrite,
        _ => return None,
    };
    let body_len = le32(&header[4..]) as usize;
    if body_len > BATCH_BODY_BYTES_MAX {
        return None;
    }
    Some(Header {
        kind,
        body_len,
        body_crc: le32(&header[8..]),
    })
}

/// Why the batch at some offset is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum BatchError {
    #[error("bad batch header")]
    BadHeader,
    #[error("batch of {needed} bytes, {available} available")]
    Incomplete { needed: usize, available: usize },
    #[error("batch checksum mismatch")]
    BadBody,
    #[error("batch padding damaged")]
    BadPad,
}

/// Decodes the batch at the start of `bytes`: its kind, body and total length (pad
/// included). Never panics, never allocates.
pub fn decode_batch(bytes: &[u8]) -> Result<(BatchKind, &[u8], usize), BatchError> {
    let header = decode_header(bytes).ok_or(BatchError::BadHeader)?;
    let body_end = BATCH_HEADER_BYTES + header.body_len;
    let end = body_end + pad_bytes(header.body_len);
    if bytes.len() < end {
        return Err(BatchError::Incomplete {
            needed: end,
            available: bytes.len(),
        });
    }
    let body = &bytes[BATCH_HEADER_BYTES..body_end];
    if CRC32C.checksum(body) != header.body_crc {
        return Err(BatchError::BadBody);
    }
    if pad_damage(&bytes[body_end..end]) != 0 {
        return Err(BatchError::BadPad);
    }
    Ok((header.kind, body, end))
}

const REVERSED_POLY: u32 = 0x82F6_3B78;

/// The inverse of one step of the reflected CRC32C register over a zero bit (which is
/// `r >> 1`, xored with P when `r` is odd; P has its top bit set, so the step is a bijection).
fn crc_unstep(register: u32) -> u32 {
    if register & 0x8000_0000 != 0 {
        ((register ^ REVERSED_POLY) << 1) | 1
    } else {
        register << 1
    }
}

/// Every way of damaging bits inside a single byte of a `len`-byte string that changes its
/// CRC32C by `syndrome`: `(byte, mask)` pairs, where `mask` holds the flipped bits.
///
/// CRC32C is affine, so `crc(m ^ e) ^ crc(m)` depends only on the error `e`; for `e` = the
/// byte `mask` at offset `j` (zeros elsewhere), it is the register holding `mask` stepped
/// over the `8 * (len - j)` bits that follow it, in the reflected algorithm. Stepping the
/// syndrome back instead, one byte at a time, finds every `j` whose `mask` fits in a byte.
/// Linear in `len`. A single flipped bit is the case `mask.count_ones() == 1`.
pub fn byte_errors(syndrome: u32, len: usize) -> Vec<(usize, u8)> {
    let mut found = Vec::new();
    if syndrome == 0 {
        return found;
    }
    let mut register = syndrome;
    for j in (0..len).rev() {
        for _ in 0..8 {
            register = crc_unstep(register);
        }
        if let Ok(mask) = u8::try_from(register) {
            if mask != 0 {
                found.push((j, mask));
            }
        }
    }
    found
}

/// Whether `bytes` are a batch with damage confined to one byte (one flipped bit, or a
/// few in the same byte): what a disk does to durable data, as opposed to the whole sectors
/// a torn write ruins. Returns the offset of the damaged byte.
pub fn one_byte_from_valid(bytes: &[u8]) -> Option<usize> {
    // Damage to a byte does not change the length, and no batch is shorter than its header.
    if bytes.len() < BATCH_HEADER_BYTES {
        return None;
    }
    // What was written: past it, only the segment's preallocated zeros. A batch must reach
    // at least this far (the zeros after it were never written), and not beyond the file.
    let written = bytes.len() - trailing_zeros(bytes);
    let fits = |end: usize| written <= end && end <= bytes.len();
    match decode_header(bytes) {
        // The header is intact, so the body's length and checksum are the written ones.
        Some(header) => {
            let body_end = BATCH_HEADER_BYTES + header.body_len;
            let end = body_end + pad_bytes(header.body_len);
            if !fits(end) {
                return None;
            }
            let bytes = &bytes[..end];
            let body = &bytes[BATCH_HEADER_BYTES..body_end];
            let pad = &bytes[body_end..];
            let syndrome = CRC32C.checksum(body) ^ header.body_crc;
            match (syndrome, pad_damage(pad)) {
                // Only the pad is damaged, in one byte.
                (0, 1) => pad
                    .iter()
                    .enumerate()
                    .position(|(i, &b)| b != pad_byte(i))
                    .map(|i| body_end + i),
                (0, _) => None,
                (_, 0) => byte_errors(syndrome, body.len())
                    .into_iter()
                    .find_map(|(byte, mask)| {
                        let mut fixed = bytes.to_vec();
                        fixed[BATCH_HEADER_BYTES + byte] ^= mask;
                        batch_is_whole(&fixed).then_some(BATCH_HEADER_BYTES + byte)
                    }),
                _ => None,
            }
        }
        // Damage in the header: try every byte of it with every mask; only a repaired
        // header that decodes and fits the length is worth checking the whole batch for.
        None => (0..BATCH_HEADER_BYTES).find(|&byte| {
            (1..=255u8).any(|mask| {
                let mut header = [0u8; BATCH_HEADER_BYTES];
                header.copy_from_slice(&bytes[..BATCH_HEADER_BYTES]);
                header[byte] ^= mask;
                let end = decode_header(&header)
                    .map(|h| BATCH_HEADER_BYTES + h.body_len + pad_bytes(h.body_len))
                    .filter(|&end| fits(end));
                end.is_some_and(|end| {
                    let mut fixed = bytes[..end].to_vec();
                    fixed[..BATCH_HEADER_BYTES].copy_from_slice(&header);
                    batch_is_whole(&fixed)
                })
            })
        }),
    }
}

/// Whether `bytes` are exactly one valid batch whose records all decode.
fn batch_is_whole(bytes: &[u8]) -> bool {
    matches!(decode_batch(bytes), Ok((_, body, used)) if used == bytes.len()
        && scan_records(body).stop == ScanStop::Clean)
}

/// The first offset after `from` where a valid batch starts. Batches start on sector
/// boundaries (counted from the start of the segment, as `from` is), so only those are
/// tried: a scan over megabytes of preallocated zeros stays cheap.
fn next_valid_batch(bytes: &[u8], from: usize) -> Option<usize> {
    (from + SECTOR_BYTES..bytes.len())
        .step_by(SECTOR_BYTES)
        .find(|&at| decode_batch(&bytes[at..]).is_ok())
}

fn trailing_zeros(bytes: &[u8]) -> usize {
    bytes.iter().rev().take_while(|&&b| b == 0).count()
}

/// What the scan of all segments found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogScan {
    /// The bodies of the valid batches, concatenated: core records for `recover`.
    pub records: Vec<u8>,
    /// Segments (indexes into the input) made obsolete by a later rewrite.
    pub obsolete: Vec<usize>,
    /// A torn write to cut off: the segment (index into the input) and how many of its
    /// bytes are valid. A valid length of 0 means the segment's creation was torn too.
    pub torn: Option<(usize, usize)>,
    /// Per segment (index into the input), where its valid batches end: where the next
    /// batch goes in the last one. Zeros may follow (preallocated space); obsolete segments
    /// and segments after a torn one have 0.
    pub ends: Vec<usize>,
}

/// Damage to durable data: which segment, where, and what.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("segment {segment} at byte {offset}: {reason}")]
pub struct Corrupt {
    /// Index into the input.
    pub segment: usize,
    pub offset: usize,
    pub reason: String,
}

/// Scans every segment, oldest first. Never panics. Cost: linear in the bytes, except on
/// damaged data (a search for later valid batches, quadratic in the worst case).
pub fn scan_segments(segments: &[&[u8]]) -> Result<LogScan, Corrupt> {
    let mut scan = LogScan::default();
    // Only segments from the last valid rewrite on count.
    let header = segment_header();
    let first_live = segments
        .iter()
        .rposition(|s| {
            s.starts_with(&header)
                && matches!(
                    decode_batch(&s[header.len()..]),
                    Ok((BatchKind::Rewrite, ..))
                )
        })
        .unwrap_or(0);
    scan.obsolete = (0..first_live).collect();
    scan.ends = vec![0; segments.len()];
    for (index, bytes) in segments.iter().enumerate().skip(first_live) {
        let last = index + 1 == segments.len();
        let corrupt = |offset: usize, reason: String| Corrupt {
            segment: index,
            offset,
            reason,
        };
        if !bytes.starts_with(&header) {
            let head = &bytes[..bytes.len().min(header.len())];
            let damaged = head.iter().zip(&header).filter(|(a, b)| a != b).count();
            let complete = head.len() == header.len();
            if last && bytes.len() <= header.len() && !(complete && damaged == 1) {
                // The segment's creation was interrupted before its header was synced.
                scan.torn = Some((index, 0));
                return Ok(scan);
            }
            let reason = if complete && damaged == 1 {
                "one byte of the segment header is damaged".to_string()
            } else {
                "not a Flotilla WAL segment (bad magic; written by another version?)".to_string()
            };
            return Err(corrupt(0, reason));
        }
        let mut at = header.len();
        while at < bytes.len() {
            match decode_batch(&bytes[at..]) {
                Ok((_, body, used)) => {
                    scan.records.extend_from_slice(body);
                    at += used;
                }
                // Preallocated space that no batch reached yet. A single damaged byte in
                // it holds nothing either (no batch is one byte), even in a segment that
                // a later one follows, where anything else is refused.
                Err(_) if bytes[at..].iter().filter(|&&b| b != 0).count() <= 1 => break,
                Err(error) => {
                    if !last {
                        let reason = format!("{error} in a segment that a later segment follows");
                        return Err(corrupt(at, reason));
                    }
                    if let Some(next) = next_valid_batch(bytes, at) {
                        let reason = format!("{error}, yet a valid batch follows at byte {next}");
                        return Err(corrupt(at, reason));
                    }
                    if let Some(byte) = one_byte_from_valid(&bytes[at..]) {
                        let reason = format!(
                            "{error}: byte {} (in the last batch) is damaged, yet the rest \
                             of the batch was written whole, so it was durable",
                            at + byte
                        );
                        return Err(corrupt(at, reason));
                    }
                    scan.torn = Some((index, at));
                    scan.ends[index] = at;
                    return Ok(scan);
                }
            }
        }
        scan.ends[index] = at.min(bytes.len());
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_core::storage::encode_record;

    fn batch(kind: BatchKind, payloads: &[&[u8]]) -> Vec<u8> {
        let body: Vec<u8> = payloads.iter().flat_map(|p| encode_record(p)).collect();
        let mut out = Vec::new();
        encode_batch(kind, &body, &mut out);
        out
    }

    #[test]
    fn byte_errors_are_located() {
        let message: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        let crc = CRC32C.checksum(&message);
        for byte in 0..message.len() {
            for mask in [1u8, 2, 4, 8, 16, 32, 64, 128, 0xff, 0x5a] {
                let mut flipped = message.clone();
                flipped[byte] ^= mask;
                let syndrome = CRC32C.checksum(&flipped) ^ crc;
                assert!(byte_errors(syndrome, message.len()).contains(&(byte, mask)));
            }
        }
        assert!(byte_errors(0, 10).is_empty());
    }

    #[test]
    fn a_torn_last_batch_is_dropped_and_a_flipped_one_refused() {
        let mut segment = segment_header();
        segment.extend(batch(BatchKind::Append, &[b"one", b"two"]));
        let durable = segment.len();
        assert_eq!(durable % SECTOR_BYTES, 0);
        segment.extend(batch(BatchKind::Append, &[b"three", &[7; 600]]));
        let whole = scan_segments(&[&segment]).expect("clean");
        assert_eq!(whole.torn, None);
        // Torn: the last batch's second sector zeroed.
        let mut torn = segment.clone();
        torn[durable + SECTOR_BYTES..].fill(0);
        let scan = scan_segments(&[&torn]).expect("torn is not corrupt");
        assert_eq!(scan.torn, Some((0, durable)));
        // Every single bit flip, and every garbled byte, anywhere is refused.
        for byte in 0..segment.len() {
            for mask in [0x10, 0xff] {
                let mut flipped = segment.clone();
                flipped[byte] ^= mask;
                assert!(scan_segments(&[&flipped]).is_err(), "{mask:#x} at {byte}");
            }
        }
    }

    #[test]
    fn preallocated_zeros_end_the_log_and_keep_flips_detectable() {
        let mut segment = segment_header();
        segment.extend(batch(BatchKind::Append, &[b"one", b"two"]));
        let end = segment.len();
        segment.extend(batch(BatchKind::Append, &[b"three", &[0; 700]]));
        let end2 = segment.len();
        let zeros = 8 * SECTOR_BYTES;
        let mut preallocated = segment.clone();
        preallocated.resize(end2 + zeros, 0);
        // Zeros after the batches: the end of the log, in the last segment or any other.
        let scan = scan_segments(&[&preallocated, &preallocated]).expect("clean");
        assert_eq!(scan.torn, None);
        assert_eq!(scan.ends, vec![end2, end2]);
        assert_eq!(scan.records, {
            let one = scan_segments(&[&segment]).expect("clean").records;
            [one.clone(), one].concat()
        });
        // A torn last batch followed by zeros is dropped whole.
        let mut torn = preallocated.clone();
        torn[end + SECTOR_BYTES..end2].fill(0xee);
        let scan = scan_segments(&[&torn]).expect("a torn tail");
        assert_eq!(scan.torn, Some((0, end)));
        // One flipped bit in the last batch is refused although zeros follow it, and so is
        // any damage in a batch that another one follows.
        for byte in [end, end + 5, end + BATCH_HEADER_BYTES + 3, end2 - 1] {
            let mut flipped = preallocated.clone();
            flipped[byte] ^= 0x04;
            assert!(scan_segments(&[&flipped]).is_err(), "flip at {byte}");
        }
        let mut early = preallocated.clone();
        early[SEGMENT_HEADER_BYTES + 20] ^= 0x01;
        assert!(scan_segments(&[&early]).is_err());
        // A flipped bit in the zeros holds nothing, even in a segment another one follows.
        let mut in_zeros = preallocated.clone();
        in_zeros[end2 + 3 * SECTOR_BYTES + 7] ^= 0x10;
        let scan = scan_segments(&[&in_zeros, &preallocated]).expect("nothing lost");
        assert_eq!(scan.ends, vec![end2, end2]);
        // But two damaged bytes there, in a segment another one follows, are refused.
        in_zeros[end2 + 9] ^= 0x01;
        assert!(scan_segments(&[&in_zeros, &preallocated]).is_err());
    }

    #[test]
    fn a_rewrite_makes_earlier_segments_obsolete() {
        let mut old = segment_header();
        old.extend(batch(BatchKind::Append, &[b"a"]));
        let mut new = segment_header();
        new.extend(batch(BatchKind::Rewrite, &[b"b"]));
        let scan = scan_segments(&[&old, &old, &new]).expect("clean");
        assert_eq!(scan.obsolete, vec![0, 1]);
        assert_eq!(scan.records, encode_record(b"b"));
    }

    #[test]
    fn a_huge_length_allocates_nothing() {
        let mut segment = segment_header();
        let mut header = [0u8; BATCH_HEADER_BYTES];
        header[..4].copy_from_slice(&APPEND_MAGIC);
        header[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        let crc = CRC32C.checksum(&header[..12]);
        header[12..].copy_from_slice(&crc.to_le_bytes());
        segment.extend_from_slice(&header);
        assert!(matches!(
            decode_batch(&header),
            Err(BatchError::Incomplete { .. })
        ));
        let scan = scan_segments(&[&segment]).expect("a torn tail");
        assert_eq!(scan.torn, Some((0, SEGMENT_HEADER_BYTES)));
    }
}
