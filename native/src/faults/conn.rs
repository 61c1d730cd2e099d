//! A blocking RESP connection with timeouts, for the fault run's clients and admin calls.

use crate::resp::{parse_reply, Reply};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Largest reply the fault run's clients accept, in bytes (its values are tiny).
const REPLY_BYTES_MAX: usize = 1024 * 1024;

#[derive(Debug)]
pub struct RespConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RespConn {
    /// Connects to 127.0.0.1:`port`; every read and write then times out after `timeout`.
    pub fn connect(port: u16, timeout: Duration) -> io::Result<RespConn> {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&address, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let _ = stream.set_nodelay(true);
        Ok(RespConn {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends one command and reads its reply. An error (timeout, closed connection) leaves
    /// the connection unusable: its reply may still arrive later.
    pub fn call(&mut self, args: &[&str]) -> io::Result<Reply> {
        let mut wire = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            wire.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        self.stream.write_all(&wire)?;
        loop {
            match parse_reply(&self.buf) {
                Ok(Some((reply, used))) => {
                    self.buf.drain(..used);
                    return Ok(reply);
                }
                Ok(None) if self.buf.len() > REPLY_BYTES_MAX => {
                    return Err(io::Error::other("reply too large"))
                }
                Ok(None) => {}
                Err(error) => return Err(io::Error::other(error.to_string())),
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
