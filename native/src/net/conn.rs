//! One non-blocking TCP connection with its read and write buffers.
//!
//! mio reports readiness edge-triggered: another event is only guaranteed once the socket
//! was drained. So reads go on until `WouldBlock` or a short read (which drained it), and
//! writes go on until the buffer is empty or the socket is full. Writable interest is only registered while bytes
//! are waiting, or every poll would wake up for a socket that is always writable.

use super::{interrupted, would_block};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use std::io::{self, Read, Write};

/// How many bytes one `read` call asks for.
const READ_CHUNK_BYTES: usize = 64 * 1024;

thread_local! {
    /// Where `read` puts bytes before they are appended to a connection's `read_buf`.
    static READ_CHUNK: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0u8; READ_CHUNK_BYTES].into_boxed_slice());
}

/// What draining the socket found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// The socket is drained for now and still open.
    Open,
    /// The peer closed its side (or the connection failed).
    Closed,
}

/// A connection registered with a mio `Poll` under one token.
#[derive(Debug)]
pub struct Conn {
    pub stream: TcpStream,
    pub token: Token,
    /// Bytes received and not yet consumed by a decoder.
    pub read_buf: Vec<u8>,
    /// Bytes queued to send.
    write_buf: Vec<u8>,
    /// Whether WRITABLE interest is currently registered.
    writable_registered: bool,
}

impl Conn {
    /// Registers `stream` for reading (and writing, when `connecting`: a non-blocking connect
    /// reports its outcome as writability).
    pub fn register(
        registry: &Registry,
        mut stream: TcpStream,
        token: Token,
        connecting: bool,
    ) -> io::Result<Conn> {
        let interest = if connecting {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        registry.register(&mut stream, token, interest)?;
        Ok(Conn {
            stream,
            token,
            read_buf: Vec::new(),
            write_buf: Vec::new(),
            writable_registered: connecting,
        })
    }

    /// Reads what the socket holds into `read_buf`, stopping early once `read_buf` holds
    /// `buffered_bytes_max` (the rest waits in the kernel: backpressure on a fast sender).
    ///
    /// A read that returns less than it asked for has emptied the socket's receive queue, so
    /// it ends the drain without another `recv` that would only say `WouldBlock` (half of
    /// all `recv` calls at 256 clients did): bytes that arrive later make the kernel report
    /// the socket readable again, which is all edge-triggered readiness needs (nginx stops
    /// the same way). The bytes land in a buffer of the thread, zeroed once, instead of a
    /// 64 KiB stack buffer zeroed on every call.
    pub fn read_available(&mut self, buffered_bytes_max: usize) -> ReadOutcome {
        READ_CHUNK.with_borrow_mut(|chunk| {
            while self.read_buf.len() < buffered_bytes_max {
                match self.stream.read(&mut chunk[..]) {
                    Ok(0) => return ReadOutcome::Closed,
                    Ok(n) => {
                        self.read_buf.extend_from_slice(&chunk[..n]);
                        if n < chunk.len() {
                            return ReadOutcome::Open;
                        }
                    }
                    Err(e) if would_block(&e) => return ReadOutcome::Open,
                    Err(e) if interrupted(&e) => {}
                    Err(_) => return ReadOutcome::Closed,
                }
            }
            ReadOutcome::Open
        })
    }

    /// How many bytes wait to be sent.
    pub fn pending_write_bytes(&self) -> usize {
        self.write_buf.len()
    }

    /// The write buffer, for encoders that write into it directly.
    pub fn write_buf_mut(&mut self) -> &mut Vec<u8> {
        &mut self.write_buf
    }

    /// Writes as much as the socket takes, then registers WRITABLE interest if bytes are
    /// left (and drops it once they are gone). An error means the connection is broken.
    pub fn flush(&mut self, registry: &Registry) -> io::Result<()> {
        let mut written = 0;
        while written < self.write_buf.len() {
            match self.stream.write(&self.write_buf[written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if would_block(&e) => break,
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.write_buf.drain(..written);
        let want_writable = !self.write_buf.is_empty();
        if want_writable != self.writable_registered {
            let interest = if want_writable {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            registry.reregister(&mut self.stream, self.token, interest)?;
            self.writable_registered = want_writable;
        }
        Ok(())
    }

    pub fn deregister(&mut self, registry: &Registry) {
        // The stream is dropped right after; failing to deregister changes nothing then.
        let _ = registry.deregister(&mut self.stream);
    }
}
