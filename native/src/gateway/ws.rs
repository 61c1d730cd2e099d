//! The WebSocket endpoint: status and events out, commands in.
//!
//! Out: the current status at once, then every new status (`{"type":"status","status":..}`)
//! and event (`{"type":"event","event":..}`). A subscriber that falls more than the event
//! buffer behind gets `{"type":"lagged","missed":N}` instead of the events it missed.
//! In: `{"command":["GET","k"],"id":7}`, answered with `{"type":"reply","id":7,"reply":..}`
//! where `reply` is the RESP reply as JSON (`{"Bulk":[...]}`, `{"Error":"..."}`, ...).

use super::http::Head;
use super::{Shared, WsAccess};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Largest message a browser may send, in bytes.
pub const WS_MESSAGE_BYTES_MAX: usize = 1024 * 1024;

pub(super) async fn serve(mut stream: TcpStream, head: &Head, shared: Arc<Shared>) {
    let Some(key) = head.header("sec-websocket-key") else {
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            .await;
        return;
    };
    let authed = match check_access(head, &shared.access) {
        Ok(authed) => authed,
        Err(status) => {
            tracing::warn!(origin = ?head.header("origin"), %status, "refused a WebSocket");
            let answer =
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(answer.as_bytes()).await;
            return;
        }
    };
    let accept = derive_accept_key(key.as_bytes());
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(WS_MESSAGE_BYTES_MAX))
        .max_frame_size(Some(WS_MESSAGE_BYTES_MAX));
    let ws = WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await;
    let (mut sink, mut incoming) = ws.split();
    let mut status = shared.status.clone();
    let mut events = shared.events.subscribe();
    let first = status_message(&status.borrow_and_update());
    if sink.send(Message::text(first)).await.is_err() {
        return;
    }
    loop {
        let outgoing = tokio::select! {
            changed = status.changed() => match changed {
                Ok(()) => status_message(&status.borrow_and_update()),
                Err(_) => break,
            },
            event = events.recv() => match event {
                Ok(text) => text.to_string(),
                Err(RecvError::Lagged(missed)) => json!({"type": "lagged", "missed": missed}).to_string(),
                Err(RecvError::Closed) => break,
            },
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => command_reply(&shared, text.as_str(), authed).await,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => continue,
            },
        };
        if sink.send(Message::text(outgoing)).await.is_err() {
            break;
        }
    }
}

/// Whether a WebSocket upgrade may proceed: `Ok(authed)`, or the HTTP status refusing it.
/// A browser's `Origin` must be this machine's or the gateway's own, or be listed; a
/// `token` in the query must be the cluster token, and then admin commands are allowed.
pub fn check_access(head: &Head, access: &WsAccess) -> Result<bool, &'static str> {
    if let Some(origin) = head.header("origin") {
        let same_host = head
            .header("host")
            .is_some_and(|host| origin_host(origin) == Some(host));
        let local = origin_host(origin)
            .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
            .is_some_and(|name| matches!(name, "127.0.0.1" | "localhost" | "[::1]"));
        let listed = access.allowed_origins.iter().any(|o| o == origin);
        if !(same_host || local || listed) {
            return Err("403 Forbidden");
        }
    }
    let query = head.path.split_once('?').map_or("", |(_, q)| q);
    let token = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="));
    match token {
        None => Ok(false),
        Some(token) if token == access.token => Ok(true),
        Some(_) => Err("401 Unauthorized"),
    }
}

/// The `host[:port]` of an origin such as `http://127.0.0.1:8080`.
fn origin_host(origin: &str) -> Option<&str> {
    let (_, rest) = origin.split_once("://")?;
    Some(rest.trim_end_matches('/'))
}

fn status_message(status: &str) -> String {
    format!(r#"{{"type":"status","status":{status}}}"#)
}

async fn command_reply(shared: &Shared, text: &str, authed: bool) -> String {
    let (id, reply) = match parse_request(text) {
        Ok(WsRequest { id, args }) => (id, shared.run_command(args, authed).await),
        Err(WsRequestError { id }) => (
            id,
            crate::resp::Reply::err("expected {\"command\": [\"NAME\", \"arg\", ...]}"),
        ),
    };
    json!({"type": "reply", "id": id, "reply": reply}).to_string()
}

/// Most arguments in one WebSocket command (the RESP parser's limit too).
pub const WS_ARGS_MAX: usize = 1024 * 1024;

/// A command a browser sent: `{"command":["SET","k","v"],"id":1}`.
#[derive(Clone, Debug, PartialEq)]
pub struct WsRequest {
    /// Echoed in the reply so the browser can match it (any JSON value; null if absent).
    pub id: Value,
    /// The command's arguments; strings as their UTF-8 bytes, other JSON values as their
    /// JSON text (so `["INCRBY","n",5]` works).
    pub args: Vec<Vec<u8>>,
}

/// A message that is not a command; `id` is echoed if it could be read.
#[derive(Clone, Debug, PartialEq)]
pub struct WsRequestError {
    pub id: Value,
}

/// Decodes one text message from a browser. Pure and panic-free: the fuzz target
/// `ws_json` runs it on arbitrary bytes. serde_json refuses nesting deeper than 128 levels
/// and the message itself is at most [`WS_MESSAGE_BYTES_MAX`], so this is bounded.
pub fn parse_request(text: &str) -> Result<WsRequest, WsRequestError> {
    let request: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(items) = request.get("command").and_then(Value::as_array) else {
        return Err(WsRequestError { id });
    };
    if items.is_empty() || items.len() > WS_ARGS_MAX {
        return Err(WsRequestError { id });
    }
    let args = items
        .iter()
        .map(|v| {
            v.as_str()
                .map_or_else(|| v.to_string(), str::to_string)
                .into_bytes()
        })
        .collect();
    Ok(WsRequest { id, args })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(path: &str, origin: Option<&str>) -> Head {
        let mut headers = vec![("Host".to_string(), "127.0.0.1:8080".to_string())];
        if let Some(origin) = origin {
            headers.push(("Origin".to_string(), origin.to_string()));
        }
        Head {
            method: "GET".into(),
            path: path.into(),
            headers,
        }
    }

    #[test]
    fn origins_and_tokens_are_checked() {
        let access = WsAccess {
            token: "secret".into(),
            allowed_origins: vec!["https://ops.example".into()],
        };
        let check = |path, origin| check_access(&head(path, origin), &access);
        assert_eq!(check("/ws", None), Ok(false));
        assert_eq!(check("/ws", Some("http://127.0.0.1:8080")), Ok(false));
        assert_eq!(check("/ws", Some("http://localhost:3000")), Ok(false));
        assert_eq!(check("/ws", Some("https://ops.example")), Ok(false));
        assert_eq!(
            check("/ws", Some("https://evil.example")),
            Err("403 Forbidden")
        );
        assert_eq!(
            check("/ws", Some("http://127.0.0.1.evil.example")),
            Err("403 Forbidden")
        );
        assert_eq!(check("/ws?token=secret", None), Ok(true));
        assert_eq!(check("/ws?x=1&token=nope", None), Err("401 Unauthorized"));
    }

    #[test]
    fn requests_decode_or_say_why_not() {
        let request = parse_request(r#"{"command":["INCRBY","n",5],"id":7}"#).expect("valid");
        assert_eq!(
            request.args,
            vec![b"INCRBY".to_vec(), b"n".to_vec(), b"5".to_vec()]
        );
        assert_eq!(request.id, serde_json::json!(7));
        assert!(parse_request(r#"{"command":[],"id":1}"#).is_err());
        assert!(parse_request("not json").is_err());
        let deep = "[".repeat(100_000);
        assert!(parse_request(&deep).is_err());
    }
}
