//! What a load-generating connection needs from a wire protocol: encode one operation, and
//! find the end of one reply in a buffer and whether it was a success.

use super::workload::Op;

/// How a reply ended the operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The server answered with an error (its text, shortened).
    Failed(String),
}

/// A reply that could not be parsed: the connection cannot be trusted any more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Garbled(pub String);

/// One wire protocol, as the load generator drives it.
pub trait Protocol: Clone + 'static {
    /// Appends the request for `op` to `out`.
    fn encode(&self, op: Op, out: &mut Vec<u8>);
    /// The first complete reply in `buf` and how many bytes it took; `Ok(None)` when `buf`
    /// holds only part of one.
    fn parse(&self, buf: &[u8]) -> Result<Option<(Outcome, usize)>, Garbled>;
}

/// Longest error text kept for the report, in bytes.
pub const ERROR_TEXT_BYTES_MAX: usize = 120;

/// An error text, shortened to [`ERROR_TEXT_BYTES_MAX`] and made printable.
pub fn error_text(bytes: &[u8]) -> String {
    let end = bytes.len().min(ERROR_TEXT_BYTES_MAX);
    String::from_utf8_lossy(&bytes[..end])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The position of the first `\r\n` at or after `from`.
pub fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| from + p)
}

/// Parses a decimal integer (with an optional minus sign) from ASCII.
pub fn parse_int(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}
