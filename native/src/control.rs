//! The supervisor's control channel: how a node asks `flotilla cluster` to pause, resume,
//! crash or restart one of its children.
//!
//! `flotilla cluster` listens on a loopback port of its own and passes its address to every
//! child as `--supervisor HOST:PORT`. A request is one line on a fresh TCP connection,
//! `<cluster token> <verb> <node id>\n` with `verb` one of `pause`, `resume`, `crash`,
//! `restart`; the answer is one line, `ok <what was done>` or `err <why not>`, and the
//! connection closes. The token is the cluster token, compared in constant time, so only a
//! holder of the token (a page that presented it, through its node) can stop a process.
//!
//! A node started on its own has no supervisor and answers these four actions with a
//! refusal that says so.

use std::time::Duration;

/// Longest request line accepted, in bytes.
pub const CONTROL_LINE_BYTES_MAX: usize = 256;
/// How long either side waits for the other's line.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// What a node can ask of its supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// SIGSTOP the child.
    Pause,
    /// SIGCONT the child.
    Resume,
    /// SIGKILL the child and keep it down until `Restart`.
    Crash,
    /// Start the child again (SIGKILL first if it runs).
    Restart,
}

impl Verb {
    pub fn name(self) -> &'static str {
        match self {
            Verb::Pause => "pause",
            Verb::Resume => "resume",
            Verb::Crash => "crash",
            Verb::Restart => "restart",
        }
    }

    fn from_name(name: &str) -> Option<Verb> {
        [Verb::Pause, Verb::Resume, Verb::Crash, Verb::Restart]
            .into_iter()
            .find(|v| v.name() == name)
    }
}

/// Compares two secrets without an early exit on the first differing byte.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    diff == 0
}

/// Parses a request line: the verb and the node id, or why it is refused.
pub fn parse_request(line: &str, token: &str) -> Result<(Verb, u16), String> {
    let mut words = line.split_whitespace();
    let (Some(given), Some(verb), Some(id), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err("expected: <token> <pause|resume|crash|restart> <node id>".into());
    };
    if !same_secret(given.as_bytes(), token.as_bytes()) {
        return Err("wrong token".into());
    }
    let verb = Verb::from_name(verb).ok_or_else(|| format!("unknown action {verb:?}"))?;
    let id = id
        .parse::<u16>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| format!("bad node id {id:?}"))?;
    Ok((verb, id))
}

/// Sends one request to the supervisor at `address` and returns its answer: `Ok(message)`
/// for `ok ...`, `Err(message)` for `err ...` or when it cannot be reached.
pub async fn call(address: &str, token: &str, verb: Verb, node: u64) -> Result<String, String> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| format!("cannot reach the supervisor at {address}: {e}"))?;
        let line = format!("{token} {} {node}\n", verb.name());
        stream
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("supervisor: {e}"))?;
        let mut answer = String::new();
        BufReader::new(stream.take(CONTROL_LINE_BYTES_MAX as u64))
            .read_line(&mut answer)
            .await
            .map_err(|e| format!("supervisor: {e}"))?;
        Ok::<String, String>(answer)
    };
    let answer = tokio::time::timeout(CONTROL_TIMEOUT, exchange)
        .await
        .map_err(|_| "the supervisor did not answer in time".to_string())??;
    let answer = answer.trim();
    match answer.split_once(' ') {
        Some(("ok", message)) => Ok(message.to_string()),
        Some(("err", message)) => Err(message.to_string()),
        _ if answer == "ok" => Ok(String::new()),
        _ => Err(format!("unexpected answer from the supervisor: {answer:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_or_say_why_not() {
        assert_eq!(parse_request("t pause 2\n", "t"), Ok((Verb::Pause, 2)));
        assert_eq!(parse_request("t restart 1", "t"), Ok((Verb::Restart, 1)));
        assert_eq!(
            parse_request("x crash 2", "t"),
            Err("wrong token".to_string())
        );
        assert!(parse_request("t explode 2", "t").is_err());
        assert!(parse_request("t pause 0", "t").is_err());
        assert!(parse_request("t pause", "t").is_err());
        assert!(parse_request("t pause 2 3", "t").is_err());
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}
