//! The browser's WebSocket, as the live view uses it: open one, send text frames, and hear
//! back through a yew callback. Dropping a [`Socket`] detaches its handlers and closes it,
//! so a replaced socket never reports again.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};
use yew::Callback;

/// What a socket reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketEvent {
    Open,
    Text(String),
    /// Closed, or failed to open (the browser does not say which, nor why: the reason is
    /// whatever the server sent, or the close code).
    Closed(String),
}

/// One open (or opening) WebSocket.
pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(JsValue)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("url", &self.ws.url())
            .finish()
    }
}

impl Socket {
    /// Opens `url` (`ws://host:port/ws`); every event goes to `on_event`.
    pub fn open(url: &str, on_event: Callback<SocketEvent>) -> Result<Socket, String> {
        let ws = WebSocket::new(url).map_err(|e| {
            e.as_string()
                .unwrap_or_else(|| format!("cannot open a WebSocket to {url}"))
        })?;
        let open = on_event.clone();
        let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| open.emit(SocketEvent::Open));
        let text = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            // Protocol v1 is text frames only; binary ones are ignored.
            if let Some(frame) = event.data().as_string() {
                text.emit(SocketEvent::Text(frame));
            }
        });
        let closed = on_event;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            let reason = event.reason();
            let why = if reason.is_empty() {
                match event.code() {
                    1000 | 1001 | 1005 => String::new(),
                    1006 => "connection lost".to_string(),
                    code => format!("closed with code {code}"),
                }
            } else {
                reason
            };
            closed.emit(SocketEvent::Closed(why));
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends a text frame; false if the socket is not open.
    pub fn send(&self, text: &str) -> bool {
        self.ws.ready_state() == WebSocket::OPEN && self.ws.send_with_str(text).is_ok()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if self.ws.ready_state() == WebSocket::CONNECTING {
            // Closing a socket that is still connecting makes the browser log an error:
            // close it once it opens instead.
            let ws = self.ws.clone();
            let close = Closure::once_into_js(move |_: JsValue| {
                let _ = ws.close();
            });
            self.ws.set_onopen(Some(close.unchecked_ref()));
        } else {
            let _ = self.ws.close();
        }
    }
}
