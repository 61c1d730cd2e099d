//! The etcd side of the load generator: its v3 JSON gateway (grpc-gateway) over keep-alive
//! HTTP/1.1. `POST /v3/kv/put` writes, `POST /v3/kv/range` reads (linearizable: etcd's
//! default when `serializable` is not set). Keys and values are base64 in the JSON bodies.

use super::protocol::{error_text, find_crlf, parse_int, Garbled, Outcome, Protocol};
use super::workload::{Op, Workload};
use std::sync::Arc;

/// Largest response header section accepted, in bytes.
const HEADER_BYTES_MAX: usize = 64 * 1024;
/// Largest response body accepted, in bytes.
const BODY_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Drives etcd's JSON gateway at one `host:port` (the `Host` header).
#[derive(Clone, Debug)]
pub struct Etcd {
    /// Every key's JSON body prefix, `{"key":"<base64>"`, prepared once.
    keys: Arc<Vec<String>>,
    /// `,"value":"<base64>"}`.
    value: Arc<String>,
    host: Arc<String>,
}

impl Etcd {
    /// The workload's requests, for no host yet (see [`Etcd::for_host`]); this encodes every
    /// key once, so it is built once per run.
    pub fn new(workload: &Workload) -> Etcd {
        let keys = (0..workload.key_count())
            .map(|k| format!("{{\"key\":\"{}\"", base64(workload.key(k))))
            .collect();
        Etcd {
            keys: Arc::new(keys),
            value: Arc::new(format!(",\"value\":\"{}\"}}", base64(workload.value()))),
            host: Arc::new(String::new()),
        }
    }

    /// The same requests, sent to `host` (HOST:PORT).
    pub fn for_host(&self, host: &str) -> Etcd {
        Etcd {
            host: Arc::new(host.to_string()),
            ..self.clone()
        }
    }

    /// Appends `POST path` with the JSON body made of the `body` parts.
    fn request(&self, path: &str, body: [&str; 2], out: &mut Vec<u8>) {
        let len = body[0].len() + body[1].len();
        out.extend_from_slice(b"POST ");
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        out.extend_from_slice(self.host.as_bytes());
        out.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
        out.extend_from_slice(len.to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body[0].as_bytes());
        out.extend_from_slice(body[1].as_bytes());
    }
}

impl Protocol for Etcd {
    fn encode(&self, op: Op, out: &mut Vec<u8>) {
        let key = |k: u32| {
            self.keys
                .get(k as usize)
                .map_or("{\"key\":\"\"", String::as_str)
        };
        match op {
            Op::Read { key: k } => self.request("/v3/kv/range", [key(k), "}"], out),
            Op::Write { key: k } => self.request("/v3/kv/put", [key(k), &self.value], out),
        }
    }

    fn parse(&self, buf: &[u8]) -> Result<Option<(Outcome, usize)>, Garbled> {
        parse_response(buf)
    }
}

/// One HTTP/1.1 response: its status decides the outcome; the body is skipped (by
/// `Content-Length` or chunked transfer encoding).
fn parse_response(buf: &[u8]) -> Result<Option<(Outcome, usize)>, Garbled> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > HEADER_BYTES_MAX {
            return Err(Garbled("response headers too long".into()));
        }
        return Ok(None);
    };
    let head = &buf[..head_end];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix(b"HTTP/1.0 "))
        .and_then(|rest| parse_int(rest.get(..3)?))
        .ok_or_else(|| Garbled(format!("bad status line {}", error_text(status_line))))?;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let len = parse_int(value).filter(|&n| n >= 0 && n as usize <= BODY_BYTES_MAX);
            content_length =
                Some(len.ok_or_else(|| Garbled("bad Content-Length".into()))? as usize);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked"));
        }
    }
    let body_start = head_end + 4;
    let (body, end) = if chunked {
        match skip_chunks(buf, body_start)? {
            Some(end) => (&buf[body_start..end], end),
            None => return Ok(None),
        }
    } else {
        let end = body_start + content_length.unwrap_or(0);
        if buf.len() < end {
            return Ok(None);
        }
        (&buf[body_start..end], end)
    };
    let outcome = if status == 200 {
        Outcome::Ok
    } else {
        Outcome::Failed(format!("HTTP {status}: {}", error_text(body)))
    };
    Ok(Some((outcome, end)))
}

/// The end of a chunked body that starts at `pos`, trailers included.
fn skip_chunks(buf: &[u8], mut pos: usize) -> Result<Option<usize>, Garbled> {
    let mut total = 0usize;
    loop {
        let Some(end) = find_crlf(buf, pos) else {
            return Ok(None);
        };
        let size_text = buf[pos..end]
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default();
        let size = std::str::from_utf8(size_text)
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .ok_or_else(|| Garbled("bad chunk size".into()))?;
        total = total.saturating_add(size);
        if total > BODY_BYTES_MAX {
            return Err(Garbled("chunked body too long".into()));
        }
        pos = end + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(end) = find_crlf(buf, pos) else {
                    return Ok(None);
                };
                let empty = end == pos;
                pos = end + 2;
                if empty {
                    return Ok(Some(pos));
                }
            }
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        pos += size + 2;
    }
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn encodes_put_and_range() {
        let workload = Workload::new(10, 2, 3, 0.0).expect("workload");
        let etcd = Etcd::new(&workload).for_host("127.0.0.1:2379");
        let mut out = Vec::new();
        etcd.encode(Op::Write { key: 1 }, &mut out);
        let body = r#"{"key":"azE=","value":"YWJj"}"#;
        let expected = format!(
            "POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1:2379\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(String::from_utf8_lossy(&out), expected);
        out.clear();
        etcd.encode(Op::Read { key: 1 }, &mut out);
        assert!(out.ends_with(b"Content-Length: 14\r\n\r\n{\"key\":\"azE=\"}"));
    }

    #[test]
    fn parses_sized_and_chunked_responses_and_waits_for_partial_ones() {
        let sized =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        let failed = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 11\r\n\r\n{\"error\":1}";
        for wire in [&sized[..], chunked, failed] {
            let (outcome, used) = parse_response(wire).expect("parses").expect("complete");
            assert_eq!(used, wire.len());
            assert_eq!(outcome == Outcome::Ok, wire != failed);
            for cut in 0..wire.len() {
                assert_eq!(parse_response(&wire[..cut]), Ok(None), "cut at {cut}");
            }
        }
        let mut two = sized.to_vec();
        two.extend_from_slice(sized);
        assert_eq!(parse_response(&two), Ok(Some((Outcome::Ok, sized.len()))));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for wire in [
            &b"SSH-2.0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert!(parse_response(wire).is_err(), "{wire:?}");
        }
    }
}
