//! What the node answers, and parsing of answers for the `flotilla` client subcommands.

use super::ProtocolError;
use serde::{Deserialize, Serialize};

/// A RESP2 reply. Serializable, because a follower relays the leader's replies to forwarded
/// commands over the peer connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`: the text starts with the error code (ERR, NOLEADER, NOAUTH, ...).
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$5\r\nhello`, or `$-1` (nil) for `None`.
    Bulk(Option<Vec<u8>>),
    /// `*2 ...`, or `*-1` for `None`.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    /// An error with the generic `ERR` code.
    pub fn err(text: impl std::fmt::Display) -> Reply {
        Reply::Error(format!("ERR {text}"))
    }

    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::Bulk(Some(bytes.into()))
    }

    #[cfg(test)]
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the wire form of the reply to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(text) => line(out, b'+', text.as_bytes()),
            Reply::Error(text) => line(out, b'-', text.as_bytes()),
            Reply::Integer(n) => line(out, b':', n.to_string().as_bytes()),
            Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(Some(bytes)) => {
                line(out, b'$', bytes.len().to_string().as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(None) => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(Some(items)) => {
                line(out, b'*', items.len().to_string().as_bytes());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
}

/// Writes a one-line reply. Simple strings and errors must not hold CR or LF: they are
/// replaced by spaces so that a message with a newline cannot break the framing.
fn line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    out.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

/// Most nested arrays the reply parser follows; deeper input is refused rather than
/// recursed into.
const REPLY_DEPTH_MAX: u32 = 8;

/// Parses one reply from the front of `buf`: the reply and its length, or `Ok(None)` when
/// more bytes are needed.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ProtocolError> {
    parse_at(buf, 0, 0)
}

fn parse_at(buf: &[u8], pos: usize, depth: u32) -> Result<Option<(Reply, usize)>, ProtocolError> {
    if depth > REPLY_DEPTH_MAX {
        return Err(ProtocolError("reply nested too deeply".into()));
    }
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(rel) = buf[pos + 1..].windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let text = &buf[pos + 1..pos + 1 + rel];
    let next = pos + 1 + rel + 2;
    let as_string = || String::from_utf8_lossy(text).into_owned();
    let as_number = || {
        std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| ProtocolError(format!("bad number {:?}", as_string())))
    };
    match kind {
        b'+' => Ok(Some((Reply::Simple(as_string()), next))),
        b'-' => Ok(Some((Reply::Error(as_string()), next))),
        b':' => Ok(Some((Reply::Integer(as_number()?), next))),
        b'$' => {
            let len = as_number()?;
            if len < 0 {
                return Ok(Some((Reply::Bulk(None), next)));
            }
            let end = next + len as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            Ok(Some((Reply::bulk(&buf[next..end]), end + 2)))
        }
        b'*' => {
            let count = as_number()?;
            if count < 0 {
                return Ok(Some((Reply::Array(None), next)));
            }
            let mut items = Vec::new();
            let mut at = next;
            for _ in 0..count {
                let Some((item, after)) = parse_at(buf, at, depth + 1)? else {
                    return Ok(None);
                };
                items.push(item);
                at = after;
            }
            Ok(Some((Reply::Array(Some(items)), at)))
        }
        other => Err(ProtocolError(format!(
            "unexpected reply type {:?}",
            other as char
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_exactly_and_parses_back() {
        let reply = Reply::Array(Some(vec![
            Reply::bulk("a"),
            Reply::Bulk(None),
            Reply::Integer(-3),
            Reply::ok(),
            Reply::err("bad\r\nthing"),
        ]));
        let mut wire = Vec::new();
        reply.encode(&mut wire);
        assert_eq!(
            wire,
            b"*5\r\n$1\r\na\r\n$-1\r\n:-3\r\n+OK\r\n-ERR bad  thing\r\n"
        );
        let (parsed, used) = parse_reply(&wire).unwrap().unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(parsed.clone(), {
            let Reply::Array(Some(mut items)) = reply else {
                unreachable!()
            };
            items[4] = Reply::Error("ERR bad  thing".into());
            Reply::Array(Some(items))
        });
        for cut in 0..wire.len() {
            assert_eq!(parse_reply(&wire[..cut]), Ok(None));
        }
    }
}
