//! The RESP side of the load generator: `SET key value` and `GET key`, replies skipped over
//! without building them.

use super::protocol::{error_text, find_crlf, parse_int, Garbled, Outcome, Protocol};
use super::workload::{Op, Workload};
use std::sync::Arc;

/// Deepest nesting of arrays accepted in a reply.
const ARRAY_DEPTH_MAX: u32 = 8;
/// Largest bulk string accepted in a reply, in bytes.
const BULK_BYTES_MAX: i64 = 512 * 1024 * 1024;
/// Most elements accepted in one array reply.
const ARRAY_ITEMS_MAX: i64 = 1024 * 1024;

/// Drives a Flotilla node (or anything else that speaks RESP).
#[derive(Clone, Debug)]
pub struct Resp {
    workload: Arc<Workload>,
}

impl Resp {
    pub fn new(workload: Arc<Workload>) -> Resp {
        Resp { workload }
    }
}

fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

impl Protocol for Resp {
    fn encode(&self, op: Op, out: &mut Vec<u8>) {
        match op {
            Op::Read { key } => {
                out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
                bulk(out, self.workload.key(key));
            }
            Op::Write { key } => {
                out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
                bulk(out, self.workload.key(key));
                bulk(out, self.workload.value());
            }
        }
    }

    fn parse(&self, buf: &[u8]) -> Result<Option<(Outcome, usize)>, Garbled> {
        skip_reply(buf, 0, 0)
    }
}

/// Finds the end of the reply that starts at `pos`.
fn skip_reply(buf: &[u8], pos: usize, depth: u32) -> Result<Option<(Outcome, usize)>, Garbled> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(end) = find_crlf(buf, pos + 1) else {
        return Ok(None);
    };
    let line = &buf[pos + 1..end];
    let next = end + 2;
    let number = || parse_int(line).ok_or_else(|| Garbled(format!("bad length {line:?}")));
    match kind {
        b'+' | b':' => Ok(Some((Outcome::Ok, next))),
        b'-' => Ok(Some((Outcome::Failed(error_text(line)), next))),
        b'$' => {
            let len = number()?;
            if len < 0 {
                return Ok(Some((Outcome::Ok, next)));
            }
            if len > BULK_BYTES_MAX {
                return Err(Garbled(format!("bulk of {len} bytes")));
            }
            let stop = next + len as usize;
            if buf.len() < stop + 2 {
                return Ok(None);
            }
            if &buf[stop..stop + 2] != b"\r\n" {
                return Err(Garbled("bulk string not followed by CRLF".into()));
            }
            Ok(Some((Outcome::Ok, stop + 2)))
        }
        b'*' => {
            let count = number()?;
            if depth >= ARRAY_DEPTH_MAX || count > ARRAY_ITEMS_MAX {
                return Err(Garbled("array too deep or too long".into()));
            }
            let mut at = next;
            for _ in 0..count.max(0) {
                match skip_reply(buf, at, depth + 1)? {
                    Some((_, after)) => at = after,
                    None => return Ok(None),
                }
            }
            Ok(Some((Outcome::Ok, at)))
        }
        other => Err(Garbled(format!("unexpected reply type byte {other:#04x}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp() -> Resp {
        Resp::new(Workload::new(10, 4, 3, 0.0).expect("workload"))
    }

    #[test]
    fn encodes_set_and_get() {
        let mut out = Vec::new();
        resp().encode(Op::Write { key: 7 }, &mut out);
        resp().encode(Op::Read { key: 7 }, &mut out);
        assert_eq!(
            out,
            b"*3\r\n$3\r\nSET\r\n$4\r\nk007\r\n$3\r\nabc\r\n*2\r\n$3\r\nGET\r\n$4\r\nk007\r\n"
        );
    }

    #[test]
    fn skips_every_reply_kind_and_waits_for_partial_ones() {
        let r = resp();
        let cases: &[(&[u8], Outcome)] = &[
            (b"+OK\r\n", Outcome::Ok),
            (b":12\r\n", Outcome::Ok),
            (b"$-1\r\n", Outcome::Ok),
            (b"$3\r\nabc\r\n", Outcome::Ok),
            (b"*2\r\n$1\r\na\r\n$-1\r\n", Outcome::Ok),
            (
                b"-NOLEADER no leader\r\n",
                Outcome::Failed("NOLEADER no leader".into()),
            ),
        ];
        for (wire, outcome) in cases {
            assert_eq!(
                r.parse(wire),
                Ok(Some((outcome.clone(), wire.len()))),
                "{wire:?}"
            );
            for cut in 0..wire.len() {
                assert_eq!(r.parse(&wire[..cut]), Ok(None), "{wire:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let r = resp();
        for wire in [
            &b"?x\r\n"[..],
            b"$abc\r\n",
            b"$3\r\nabcXY",
            b"*99999999999\r\n",
        ] {
            assert!(r.parse(wire).is_err(), "{wire:?}");
        }
    }
}
