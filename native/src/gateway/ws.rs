//! The WebSocket endpoint: the upgrade, who may open it, and the pure pieces of protocol v1
//! (`flotilla_core::live::protocol`, docs/protocol.md): decoding a page's message, shaping
//! replies, splitting a browser peer's Raft messages to fit a frame. The session itself is
//! in `super::page`.

use super::http::Head;
use super::{page, Shared, WsAccess};
use crate::resp::Reply;
use flotilla_core::live::protocol::{
    AdminAction, AdminResult, KvOp, KvOutcome, NodeMessage, PageMessage, FRAME_BYTES_MAX,
};
use flotilla_core::raft::{Envelope, Message};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

/// Largest message a page may send, in bytes (the protocol's frame limit).
pub const WS_MESSAGE_BYTES_MAX: usize = FRAME_BYTES_MAX as usize;
/// Most pages connected to one node at once; more are refused (503).
pub const WS_PAGES_MAX: usize = 256;
/// The kernel's send buffer for a page's socket, in bytes: small, so that a page that stops
/// reading is noticed (and its memory bounded) after a few hundred kilobytes, not megabytes.
pub const WS_SEND_BUFFER_BYTES: usize = 128 * 1024;

pub(super) async fn serve(mut stream: TcpStream, head: &Head, shared: Arc<Shared>) {
    let Some(key) = head.header("sec-websocket-key") else {
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            .await;
        return;
    };
    let refuse = |status: &str| {
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    };
    let authed = match check_access(head, &shared.access) {
        Ok(authed) => authed,
        Err(status) => {
            tracing::warn!(origin = ?head.header("origin"), %status, "refused a WebSocket");
            let _ = stream.write_all(refuse(status).as_bytes()).await;
            return;
        }
    };
    if shared.counters.pages.load(Ordering::Relaxed) >= WS_PAGES_MAX {
        tracing::warn!(max = WS_PAGES_MAX, "refused a WebSocket: too many pages");
        let _ = stream
            .write_all(refuse("503 Service Unavailable").as_bytes())
            .await;
        return;
    }
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(WS_SEND_BUFFER_BYTES);
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
        .max_frame_size(Some(WS_MESSAGE_BYTES_MAX))
        .max_write_buffer_size(4 * WS_MESSAGE_BYTES_MAX);
    let ws = WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await;
    page::run(ws, authed, shared).await;
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

/// Decodes one text frame from a page. Pure and panic-free (the fuzz target `ws_json` runs
/// it on arbitrary bytes): serde_json refuses nesting deeper than 128 levels and the frame is
/// at most [`WS_MESSAGE_BYTES_MAX`]. On failure: the request id, if one could be read, and
/// what was wrong.
pub fn parse_page_message(text: &str) -> Result<PageMessage, (Option<u64>, String)> {
    serde_json::from_str(text).map_err(|error| {
        let id = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("id").and_then(serde_json::Value::as_u64));
        (id, format!("not a protocol v1 page message: {error}"))
    })
}

/// The RESP arguments that carry out a key-value operation.
pub fn kv_args(op: &KvOp) -> Vec<Vec<u8>> {
    let args: Vec<&str> = match op {
        KvOp::Get { key } => vec!["GET", key],
        KvOp::Put { key, value } => vec!["SET", key, value],
        KvOp::Delete { key } => vec!["DEL", key],
    };
    args.into_iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// The outcome of a key-value operation from the node's RESP reply. Only errors that the
/// node gives before anything was proposed (no leader known, refused, busy, invalid) are
/// `failed`; `UNKNOWN` (leadership lost after proposing, the leader went silent) is
/// `unknown`, as is anything the gateway cannot classify.
pub fn kv_outcome(reply: Reply) -> KvOutcome {
    match reply {
        Reply::Bulk(value) => KvOutcome::Ok {
            value: value.map(|v| String::from_utf8_lossy(&v).into_owned()),
        },
        Reply::Simple(_) | Reply::Integer(_) => KvOutcome::Ok { value: None },
        Reply::Error(message) => {
            let code = message.split(' ').next().unwrap_or("");
            match code {
                "NOLEADER" | "TRYAGAIN" | "BUSY" | "ERR" | "NOAUTH" | "WRONGPASS" => {
                    KvOutcome::Failed { message }
                }
                _ => KvOutcome::Unknown { message },
            }
        }
        Reply::Array(_) => KvOutcome::Unknown {
            message: "unexpected reply shape".into(),
        },
    }
}

/// The RESP command for a membership or leadership action (run through the leader); `None`
/// for the actions the node handles itself or passes to a node or to the supervisor.
pub fn admin_args(action: &AdminAction) -> Option<Vec<Vec<u8>>> {
    let args = match action {
        AdminAction::Transfer { to } => vec!["RAFT.TRANSFER".to_string(), to.0.to_string()],
        AdminAction::AddLearner { id, address } => vec![
            "RAFT.ADDLEARNER".to_string(),
            id.0.to_string(),
            address.clone(),
        ],
        AdminAction::Promote { id } => vec!["RAFT.PROMOTE".to_string(), id.0.to_string()],
        AdminAction::Remove { id } => vec!["RAFT.REMOVE".to_string(), id.0.to_string()],
        _ => return None,
    };
    Some(args.into_iter().map(String::into_bytes).collect())
}

/// An admin command's RESP reply as an [`AdminResult`].
pub fn admin_result(reply: Reply) -> AdminResult {
    match reply {
        Reply::Error(message) => AdminResult::Refused { message },
        reply => AdminResult::Ok {
            message: render_reply(&reply),
        },
    }
}

/// A RESP reply as `redis-cli` prints it.
pub fn render_reply(reply: &Reply) -> String {
    fn render(reply: &Reply, indent: usize, out: &mut String) {
        match reply {
            Reply::Simple(text) => out.push_str(text),
            Reply::Error(text) => {
                out.push_str("(error) ");
                out.push_str(text);
            }
            Reply::Integer(n) => out.push_str(&format!("(integer) {n}")),
            Reply::Bulk(None) | Reply::Array(None) => out.push_str("(nil)"),
            Reply::Bulk(Some(bytes)) => {
                out.push_str(&format!("{:?}", String::from_utf8_lossy(bytes)));
            }
            Reply::Array(Some(items)) if items.is_empty() => out.push_str("(empty array)"),
            Reply::Array(Some(items)) => {
                let width = items.len().to_string().len();
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                        out.push_str(&" ".repeat(indent));
                    }
                    let label = format!("{:>width$}) ", i + 1);
                    out.push_str(&label);
                    render(item, indent + label.len(), out);
                }
            }
        }
    }
    let mut out = String::new();
    render(reply, 0, &mut out);
    out
}

/// A Raft message for a page's browser peer, encoded as `raft` frames of at most
/// [`WS_MESSAGE_BYTES_MAX`] bytes. JSON writes each payload byte as a decimal number (up to
/// four bytes), so a full 1 MiB append does not fit one frame: an append is split into
/// consecutive appends, each naming the last entry of the one before as its previous entry.
/// That is exactly what the leader would have sent with a smaller batch limit; the follower
/// caps its commit index at the last entry it received, so no part commits too much. A
/// single entry that does not fit is dropped (Raft will keep retrying it; see
/// docs/protocol.md, limits).
pub fn raft_frames(envelope: Envelope) -> Vec<String> {
    let frame = |envelope: Envelope| {
        serde_json::to_string(&NodeMessage::Raft { envelope }).unwrap_or_default()
    };
    let text = frame(envelope.clone());
    if text.len() <= WS_MESSAGE_BYTES_MAX {
        return vec![text];
    }
    let Envelope {
        from,
        to,
        term,
        message,
    } = envelope;
    let Message::Append {
        prev_index,
        prev_term,
        entries,
        commit,
    } = message
    else {
        return Vec::new();
    };
    if entries.len() < 2 {
        return Vec::new();
    }
    let mut entries = entries;
    let second = entries.split_off(entries.len() / 2);
    let Some(last) = entries.last() else {
        return Vec::new();
    };
    let (middle_index, middle_term) = (last.index, last.term);
    let head = Envelope {
        from,
        to,
        term,
        message: Message::Append {
            prev_index,
            prev_term,
            entries,
            commit,
        },
    };
    let tail = Envelope {
        from,
        to,
        term,
        message: Message::Append {
            prev_index: middle_index,
            prev_term: middle_term,
            entries: second,
            commit,
        },
    };
    let mut frames = raft_frames(head);
    frames.extend(raft_frames(tail));
    frames
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
    fn page_messages_decode_or_say_why_not() {
        let message = parse_page_message(r#"{"type":"kv","id":7,"op":{"get":{"key":"k"}}}"#);
        assert_eq!(
            message,
            Ok(PageMessage::Kv {
                id: 7,
                op: KvOp::Get { key: "k".into() }
            })
        );
        let (id, _) = parse_page_message(r#"{"type":"kv","id":9}"#).unwrap_err();
        assert_eq!(id, Some(9));
        assert_eq!(parse_page_message("not json").unwrap_err().0, None);
        let deep = "[".repeat(100_000);
        assert!(parse_page_message(&deep).is_err());
    }

    #[test]
    fn kv_outcomes_tell_definite_from_unknown_failures() {
        assert_eq!(
            kv_outcome(Reply::bulk("v")),
            KvOutcome::Ok {
                value: Some("v".into())
            }
        );
        assert_eq!(kv_outcome(Reply::Bulk(None)), KvOutcome::Ok { value: None });
        assert_eq!(kv_outcome(Reply::ok()), KvOutcome::Ok { value: None });
        assert_eq!(kv_outcome(Reply::Integer(1)), KvOutcome::Ok { value: None });
        for definite in [
            "NOLEADER no leader",
            "TRYAGAIN x",
            "BUSY x",
            "ERR too large",
        ] {
            assert!(
                matches!(
                    kv_outcome(Reply::Error(definite.into())),
                    KvOutcome::Failed { .. }
                ),
                "{definite}"
            );
        }
        for unknown in ["UNKNOWN leadership changed", "WHATEVER"] {
            assert!(
                matches!(
                    kv_outcome(Reply::Error(unknown.into())),
                    KvOutcome::Unknown { .. }
                ),
                "{unknown}"
            );
        }
        assert_eq!(
            kv_args(&KvOp::Put {
                key: "k".into(),
                value: "v".into()
            }),
            vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]
        );
    }

    #[test]
    fn replies_render_as_redis_cli_shows_them() {
        assert_eq!(render_reply(&Reply::ok()), "OK");
        assert_eq!(render_reply(&Reply::Integer(3)), "(integer) 3");
        assert_eq!(render_reply(&Reply::Bulk(None)), "(nil)");
        assert_eq!(render_reply(&Reply::bulk("a b")), "\"a b\"");
        assert_eq!(
            render_reply(&Reply::Error("ERR nope".into())),
            "(error) ERR nope"
        );
        assert_eq!(
            render_reply(&Reply::Array(Some(vec![
                Reply::bulk("a"),
                Reply::Bulk(None)
            ]))),
            "1) \"a\"\n2) (nil)"
        );
        assert_eq!(
            admin_result(Reply::Error("ERR x".into())),
            AdminResult::Refused {
                message: "ERR x".into()
            }
        );
    }

    #[test]
    fn large_appends_are_split_to_fit_a_frame() {
        use flotilla_core::raft::{Entry, Payload};
        use flotilla_core::{Index, NodeId, Term};
        let entries: Vec<Entry> = (1..=8u64)
            .map(|i| Entry {
                index: Index(10 + i),
                term: Term(2),
                payload: Payload::Command(vec![200; 100 * 1024]),
            })
            .collect();
        let envelope = Envelope {
            from: NodeId(1),
            to: NodeId(4),
            term: Term(2),
            message: Message::Append {
                prev_index: Index(10),
                prev_term: Term(1),
                entries: entries.clone(),
                commit: Index(18),
            },
        };
        let frames = raft_frames(envelope);
        assert!(frames.len() > 1);
        let mut expected_prev = (Index(10), Term(1));
        let mut seen = Vec::new();
        for frame in &frames {
            assert!(frame.len() <= WS_MESSAGE_BYTES_MAX);
            let NodeMessage::Raft { envelope } = serde_json::from_str(frame).unwrap() else {
                panic!("not a raft frame");
            };
            let Message::Append {
                prev_index,
                prev_term,
                entries,
                ..
            } = envelope.message
            else {
                panic!("not an append");
            };
            assert_eq!((prev_index, prev_term), expected_prev);
            let last = entries.last().unwrap();
            expected_prev = (last.index, last.term);
            seen.extend(entries);
        }
        assert_eq!(seen, entries);
        let huge = Envelope {
            from: NodeId(1),
            to: NodeId(4),
            term: Term(2),
            message: Message::Append {
                prev_index: Index(10),
                prev_term: Term(1),
                entries: vec![Entry {
                    index: Index(11),
                    term: Term(2),
                    payload: Payload::Command(vec![200; 1024 * 1024]),
                }],
                commit: Index(11),
            },
        };
        assert!(raft_frames(huge).is_empty());
    }
}
