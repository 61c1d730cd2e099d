//! Parsing client commands: multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`, what client libraries
//! and redis-cli send) and inline (`GET k\r\n`, what a person types into telnet or nc).

use super::ProtocolError;

/// Most arguments in one command (Redis allows 1024*1024 too).
pub const ARGS_MAX: u64 = 1024 * 1024;
/// Largest single argument, in bytes. Above the KV's value limit, so that the KV's own
/// check gives the friendlier error for values that are merely too big.
pub const BULK_BYTES_MAX: u64 = 8 * 1024 * 1024;
/// Longest inline command line, in bytes (Redis uses 64 KiB as well).
pub const INLINE_BYTES_MAX: u64 = 64 * 1024;

/// A parsed command's arguments and how many bytes it took, or `None` if incomplete.
pub type Parsed = Result<Option<(Vec<Vec<u8>>, usize)>, ProtocolError>;

/// Parses one command from the front of `buf`. Returns the arguments and how many bytes they
/// took, `Ok(None)` when `buf` holds only part of a command, and an error for bytes that are
/// not RESP. An empty command (a blank inline line, `*0`) comes back as zero arguments, which
/// the caller skips.
pub fn parse_command(buf: &[u8]) -> Parsed {
    match buf.first() {
        None => Ok(None),
        Some(b'*') => parse_multibulk(buf),
        Some(_) => parse_inline(buf),
    }
}

fn parse_multibulk(buf: &[u8]) -> Parsed {
    let Some((count, mut pos)) = read_number_line(buf, 1, INLINE_BYTES_MAX)? else {
        return Ok(None);
    };
    if count <= 0 {
        return Ok(Some((Vec::new(), pos)));
    }
    if count as u64 > ARGS_MAX {
        return Err(ProtocolError("invalid multibulk length".into()));
    }
    // Do not trust the count for the allocation: it is only bounded by ARGS_MAX.
    let mut args = Vec::with_capacity((count as usize).min(64));
    for _ in 0..count {
        match buf.get(pos) {
            None => return Ok(None),
            Some(b'$') => {}
            Some(&other) => {
                return Err(ProtocolError(format!(
                    "expected '$', got '{}'",
                    other as char
                )))
            }
        }
        let Some((len, after_len)) = read_number_line(buf, pos + 1, INLINE_BYTES_MAX)? else {
            return Ok(None);
        };
        if len < 0 || len as u64 > BULK_BYTES_MAX {
            return Err(ProtocolError("invalid bulk length".into()));
        }
        let end = after_len + len as usize;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ProtocolError("bulk string not terminated by CRLF".into()));
        }
        args.push(buf[after_len..end].to_vec());
        pos = end + 2;
    }
    Ok(Some((args, pos)))
}

/// Reads a decimal number from `start` to the next CRLF; returns it and the position after
/// the CRLF.
fn read_number_line(
    buf: &[u8],
    start: usize,
    line_bytes_max: u64,
) -> Result<Option<(i64, usize)>, ProtocolError> {
    let Some(rel) = buf.get(start..).and_then(find_crlf) else {
        if (buf.len() - start.min(buf.len())) as u64 > line_bytes_max {
            return Err(ProtocolError("too big count line".into()));
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[start..start + rel])
        .map_err(|_| ProtocolError("invalid count".into()))?;
    let number = text
        .parse::<i64>()
        .map_err(|_| ProtocolError("invalid count".into()))?;
    Ok(Some((number, start + rel + 2)))
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// An inline command: one line, ended by LF (CRLF from telnet), split on whitespace, with
/// double and single quotes as redis-cli understands them.
fn parse_inline(buf: &[u8]) -> Parsed {
    let Some(newline) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() as u64 > INLINE_BYTES_MAX {
            return Err(ProtocolError("too big inline request".into()));
        }
        return Ok(None);
    };
    let mut line = &buf[..newline];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let args = split_inline(line)?;
    Ok(Some((args, newline + 1)))
}

fn split_inline(line: &[u8]) -> Result<Vec<Vec<u8>>, ProtocolError> {
    let mut args = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let mut arg = Vec::new();
        match line[i] {
            quote @ (b'"' | b'\'') => {
                i += 1;
                loop {
                    let Some(&b) = line.get(i) else {
                        return Err(ProtocolError("unbalanced quotes in request".into()));
                    };
                    i += 1;
                    if b == quote {
                        break;
                    }
                    if b == b'\\' && quote == b'"' {
                        let (byte, used) = unescape(&line[i..]);
                        arg.push(byte);
                        i += used;
                    } else {
                        arg.push(b);
                    }
                }
                if line.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                    return Err(ProtocolError("unbalanced quotes in request".into()));
                }
            }
            _ => {
                while i < line.len() && !line[i].is_ascii_whitespace() {
                    arg.push(line[i]);
                    i += 1;
                }
            }
        }
        args.push(arg);
    }
    Ok(args)
}

/// Decodes the escape after a backslash in a double-quoted inline argument; returns the byte
/// and how many input bytes it used.
fn unescape(rest: &[u8]) -> (u8, usize) {
    match rest {
        [b'x', h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
            let text = [*h, *l];
            let hex = std::str::from_utf8(&text).unwrap_or("00");
            (u8::from_str_radix(hex, 16).unwrap_or(0), 3)
        }
        [b'n', ..] => (b'\n', 1),
        [b'r', ..] => (b'\r', 1),
        [b't', ..] => (b'\t', 1),
        [b'0', ..] => (0, 1),
        [other, ..] => (*other, 1),
        [] => (b'\\', 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_whole_and_in_every_split() {
        let wire = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        assert_eq!(
            parse_command(wire),
            Ok(Some((args(&["SET", "k", "hello"]), wire.len())))
        );
        for cut in 0..wire.len() {
            assert_eq!(parse_command(&wire[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn pipelined_commands_come_one_at_a_time() {
        let wire = b"*1\r\n$4\r\nPING\r\nGET a\r\n";
        let (first, used) = parse_command(wire).unwrap().unwrap();
        assert_eq!(first, args(&["PING"]));
        assert_eq!(
            parse_command(&wire[used..]),
            Ok(Some((args(&["GET", "a"]), 7)))
        );
    }

    #[test]
    fn inline_splits_on_whitespace_and_understands_quotes() {
        let (got, _) = parse_command(b"SET  k \"a b\\x41\\n\" 'c d'\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            got,
            vec![
                b"SET".to_vec(),
                b"k".to_vec(),
                b"a bA\n".to_vec(),
                b"c d".to_vec()
            ]
        );
        assert_eq!(parse_command(b"\r\n"), Ok(Some((vec![], 2))));
        assert!(parse_command(b"SET \"k\r\n").is_err());
        assert!(parse_command(b"SET \"k\"x\r\n").is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_command(b"*x\r\n").is_err());
        assert!(parse_command(b"*1\r\n+PING\r\n").is_err());
        assert!(parse_command(b"*1\r\n$-5\r\n").is_err());
        assert!(parse_command(b"*1\r\n$1\r\nab\r\n").is_err());
        assert!(parse_command(b"*99999999999\r\n").is_err());
        assert_eq!(parse_command(b"*-1\r\n"), Ok(Some((vec![], 5))));
        let long = vec![b'a'; INLINE_BYTES_MAX as usize + 1];
        assert!(parse_command(&long).is_err());
    }
}
