//! A minimal HTTP/1.1 server: one request per connection, GET and HEAD only. Enough for a
//! page, two JSON/text endpoints and the WebSocket upgrade, without an HTTP library.
//!
//! Every answer carries `X-Flotilla-Node: <id>`: the web app, loaded from a node, reads it
//! to know that a node served it (and so switches to live mode and connects to it).

use super::{ws, Shared};
use crate::serve_web::{content_type, resolve};
use flotilla_core::NodeId;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest request head accepted.
const HEAD_BYTES_MAX: usize = 16 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed request head.
#[derive(Debug, Default)]
pub struct Head {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return,
    };
    let path = head.path.split(['?', '#']).next().unwrap_or("").to_string();
    let is_upgrade = head
        .header("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let node = shared.node;
    let response = match (head.method.as_str(), path.as_str()) {
        ("GET", "/ws") if is_upgrade => return ws::serve(stream, &head, shared).await,
        ("GET" | "HEAD", "/status") => {
            let body = shared.status.borrow().as_bytes().to_vec();
            response(node, "200 OK", "application/json", body)
        }
        ("GET" | "HEAD", "/metrics") => response(
            node,
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            shared.metrics.render().into_bytes(),
        ),
        ("GET" | "HEAD", _) => static_file(&shared, &head.path).await,
        _ => response(
            node,
            "405 Method Not Allowed",
            "text/plain",
            b"method not allowed\n".to_vec(),
        ),
    };
    let (head_bytes, body) = response;
    let _ = stream.write_all(&head_bytes).await;
    if head.method != "HEAD" {
        let _ = stream.write_all(&body).await;
    }
    let _ = stream.shutdown().await;
}

async fn static_file(shared: &Shared, target: &str) -> (Vec<u8>, Vec<u8>) {
    let node = shared.node;
    let not_found = || response(node, "404 Not Found", "text/plain", b"not found\n".to_vec());
    let Some(root) = &shared.web_dir else {
        let text = "the web app is not built: run scripts/build-web (or make web), then restart\n";
        return response(
            node,
            "404 Not Found",
            "text/plain",
            text.as_bytes().to_vec(),
        );
    };
    match resolve(root, target) {
        Some(path) => match tokio::fs::read(&path).await {
            Ok(body) => response(node, "200 OK", content_type(&path), body),
            Err(_) => not_found(),
        },
        None => not_found(),
    }
}

/// An answer's head and body. `X-Flotilla-Node` names the node that answered.
fn response(node: NodeId, status: &str, content_type: &str, body: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n\
         X-Flotilla-Node: {}\r\nConnection: close\r\n\r\n",
        body.len(),
        node.0
    );
    (head.into_bytes(), body)
}

/// Reads up to the blank line that ends the head. Browsers send nothing after the head of a
/// GET before they get an answer, so no body bytes are lost.
async fn read_head(stream: &mut TcpStream) -> Option<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > HEAD_BYTES_MAX {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    parse_head(&buf)
}

pub fn parse_head(buf: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(buf).ok()?;
    let mut lines = text.split("\r\n");
    let mut request = lines.next()?.split_whitespace();
    let method = request.next()?.to_string();
    let path = request.next()?.to_string();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Head {
        method,
        path,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_head() {
        let head =
            parse_head(b"GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n").unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/ws?x=1");
        assert_eq!(head.header("upgrade"), Some("websocket"));
        assert!(parse_head(b"\r\n\r\n").is_none());
    }

    #[test]
    fn answers_name_the_node() {
        let (head, body) = response(NodeId(3), "200 OK", "text/html", b"<p>".to_vec());
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nX-Flotilla-Node: 3\r\n"), "{head}");
        assert!(head.contains("\r\nContent-Length: 3\r\n"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        assert_eq!(body, b"<p>");
    }
}
