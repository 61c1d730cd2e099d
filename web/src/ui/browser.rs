//! The few browser services the page uses (clock, URL fragment, clipboard, theme), each
//! failing softly: if the browser refuses, the page goes on without it.

use wasm_bindgen::JsValue;

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

/// Milliseconds since the page loaded, with sub-millisecond precision.
pub fn now_ms() -> f64 {
    window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// The URL fragment without `#`.
pub fn location_hash() -> String {
    window()
        .and_then(|w| w.location().hash().ok())
        .map(|h| h.trim_start_matches('#').to_string())
        .unwrap_or_default()
}

/// Replaces the URL fragment without adding a history entry or scrolling.
pub fn replace_hash(fragment: &str) {
    if let Some(history) = window().and_then(|w| w.history().ok()) {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("#{fragment}")));
    }
}

/// The page's address without its fragment.
pub fn base_url() -> String {
    window()
        .and_then(|w| w.location().href().ok())
        .map(|href| href.split('#').next().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// Puts `text` on the clipboard (asynchronously; errors are ignored).
pub fn copy(text: &str) {
    if let Some(window) = window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
}

/// The theme saved by an earlier visit, or the system's preference.
pub fn initial_dark() -> bool {
    let saved = window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item("flotilla-theme").ok().flatten());
    match saved.as_deref() {
        Some("dark") => true,
        Some("light") => false,
        _ => window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .is_some_and(|m| m.matches()),
    }
}

/// Applies and saves the theme.
pub fn set_dark(dark: bool) {
    let name = if dark { "dark" } else { "light" };
    if let Some(root) = window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("data-theme", name);
    }
    if let Some(storage) = window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item("flotilla-theme", name);
    }
}

/// Whether keyboard focus is in a text field (where shortcuts must not fire).
pub fn typing() -> bool {
    window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element())
        .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"))
}

/// The wall clock, ms since the Unix epoch (comparable with the nodes' stamps).
pub fn now_unix_ms() -> f64 {
    window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.time_origin() + p.now())
}

/// The page's `host:port`.
pub fn location_host() -> String {
    window()
        .and_then(|w| w.location().host().ok())
        .unwrap_or_default()
}

/// `ws://` or `wss://`, as the page was loaded over http or https.
pub fn ws_scheme() -> &'static str {
    let secure = window()
        .and_then(|w| w.location().protocol().ok())
        .is_some_and(|p| p == "https:");
    if secure {
        "wss"
    } else {
        "ws"
    }
}

/// A repeating timer; stops when dropped.
pub struct Interval {
    handle: i32,
    _callback: wasm_bindgen::closure::Closure<dyn FnMut()>,
}

impl std::fmt::Debug for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interval")
            .field("handle", &self.handle)
            .finish()
    }
}

impl Interval {
    pub fn new(ms: i32, f: impl FnMut() + 'static) -> Option<Interval> {
        use wasm_bindgen::JsCast;
        let callback = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(f);
        let handle = window()?
            .set_interval_with_callback_and_timeout_and_arguments_0(
                callback.as_ref().unchecked_ref(),
                ms,
            )
            .ok()?;
        Some(Interval {
            handle,
            _callback: callback,
        })
    }
}

impl Drop for Interval {
    fn drop(&mut self) {
        if let Some(window) = window() {
            window.clear_interval_with_handle(self.handle);
        }
    }
}

/// Calls `f` with what `promise` resolves to; a rejection is ignored (and handled, so the
/// browser does not report it).
fn on_resolve(promise: &web_sys::js_sys::Promise, f: impl FnOnce(JsValue) + 'static) {
    use wasm_bindgen::closure::Closure;
    let ok = Closure::<dyn FnMut(JsValue)>::once(f);
    let failed = Closure::<dyn FnMut(JsValue)>::new(|_: JsValue| {});
    let _ = promise.then(&ok).catch(&failed);
    // Each runs at most once, when the promise settles; a handful per page load.
    ok.forget();
    failed.forget();
}

/// Finds out whether a Flotilla node served this page, and calls `found` with its
/// `host:port` if so. A node's answers carry `X-Flotilla-Node` (or, from nodes without it,
/// `Access-Control-Allow-Origin: *`, which the node's gateway sets and static servers do
/// not); only then is its `/status` asked for, so that a page served by anything else makes
/// no request that could fail.
pub fn probe_node(found: impl FnOnce(String) + 'static) {
    use wasm_bindgen::JsCast;
    let Some(window) = window() else {
        return;
    };
    let init = web_sys::RequestInit::new();
    init.set_method("HEAD");
    init.set_cache(web_sys::RequestCache::NoStore);
    let head = window.fetch_with_str_and_init(&base_url(), &init);
    on_resolve(&head, move |response: JsValue| {
        let Ok(response) = response.dyn_into::<web_sys::Response>() else {
            return;
        };
        let headers = response.headers();
        let marked = headers.get("x-flotilla-node").ok().flatten().is_some()
            || headers
                .get("access-control-allow-origin")
                .ok()
                .flatten()
                .is_some_and(|v| v == "*");
        let Some(window) = web_sys::window().filter(|_| marked) else {
            return;
        };
        on_resolve(&window.fetch_with_str("/status"), move |response| {
            let Some(text) = response
                .dyn_into::<web_sys::Response>()
                .ok()
                .filter(web_sys::Response::ok)
                .and_then(|r| r.text().ok())
            else {
                return;
            };
            on_resolve(&text, move |body| {
                let body = body.as_string().unwrap_or_default();
                // A node's status names the node; anything else is not a node.
                let is_node = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .is_some_and(|v| v.get("id").is_some());
                if is_node {
                    found(location_host());
                }
            });
        });
    });
}
