//! The WebSocket endpoint: status and events out, commands in.
//!
//! Out: the current status at once, then every new status (`{"type":"status","status":..}`)
//! and event (`{"type":"event","event":..}`). A subscriber that falls more than the event
//! buffer behind gets `{"type":"lagged","missed":N}` instead of the events it missed.
//! In: `{"command":["GET","k"],"id":7}`, answered with `{"type":"reply","id":7,"reply":..}`
//! where `reply` is the RESP reply as JSON (`{"Bulk":[...]}`, `{"Error":"..."}`, ...).

use super::http::Head;
use super::Shared;
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
                Some(Ok(Message::Text(text))) => command_reply(&shared, text.as_str()).await,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => continue,
            },
        };
        if sink.send(Message::text(outgoing)).await.is_err() {
            break;
        }
    }
}

fn status_message(status: &str) -> String {
    format!(r#"{{"type":"status","status":{status}}}"#)
}

async fn command_reply(shared: &Shared, text: &str) -> String {
    let (id, reply) = match parse_request(text) {
        Ok(WsRequest { id, args }) => (id, shared.run_command(args).await),
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
