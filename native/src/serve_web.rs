//! `flotilla serve-web`: a small static file server for the built web app (`dist/`).
//!
//! It answers GET and HEAD for files under one folder, one thread per connection, and closes
//! every connection after one response. It is what `make demo` serves the page with until the
//! node's HTTP gateway does.

use crate::cli::CommandResult;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::thread;
use std::time::Duration;

/// How long a client may take to send its request.
const REQUEST_TIMEOUT_SECS: u64 = 10;
/// The longest request line or header line accepted.
const MAX_LINE_BYTES: u64 = 8 * 1024;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder to serve; it must hold an index.html.
    #[arg(long, default_value = "dist")]
    pub dir: PathBuf,
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

pub fn run(args: Args) -> CommandResult {
    let root = args
        .dir
        .canonicalize()
        .map_err(|e| format!("cannot serve {}: {e}", args.dir.display()))?;
    if !root.join("index.html").is_file() {
        return Err(format!(
            "{} has no index.html; build the web app first (scripts/build-web)",
            root.display()
        )
        .into());
    }
    let listener = TcpListener::bind(args.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    println!(
        "serving {} at http://{}/",
        root.display(),
        listener.local_addr()?
    );
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let root = root.clone();
                thread::spawn(move || {
                    // A client that goes away mid-request is not the server's problem.
                    let _ = handle(stream, &root);
                });
            }
            Err(e) => eprintln!("flotilla serve-web: accept failed: {e}"),
        }
    }
    Ok(())
}

fn handle(mut stream: TcpStream, root: &Path) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(REQUEST_TIMEOUT_SECS)))?;
    let mut reader = BufReader::new(stream.try_clone()?).take(MAX_LINE_BYTES);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        reader.set_limit(MAX_LINE_BYTES);
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim_end().is_empty() {
            break;
        }
    }
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or_default();
    let target = words.next().unwrap_or_default();

    let (status, content_type, body) = match (method, resolve(root, target)) {
        ("GET" | "HEAD", Some(path)) => match fs::read(&path) {
            Ok(body) => ("200 OK", content_type(&path), body),
            Err(_) => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
        },
        ("GET" | "HEAD", None) => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            b"method not allowed\n".to_vec(),
        ),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        stream.write_all(&body)?;
    }
    stream.flush()
}

/// Maps a request target to a file under `root`, or `None` when it names nothing servable.
/// Only plain path segments are accepted: no `..`, no absolute paths, no hidden files.
pub(crate) fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let relative = path.strip_prefix('/')?;
    let mut file = root.to_path_buf();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(name) if !name.to_string_lossy().starts_with('.') => file.push(name),
            _ => return None,
        }
    }
    if file.is_dir() {
        file.push("index.html");
    }
    file.is_file().then_some(file)
}

pub(crate) fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> PathBuf {
        let root = std::env::temp_dir().join(format!("flotilla-serve-web-{}", std::process::id()));
        fs::create_dir_all(root.join("assets")).expect("create test site");
        fs::write(root.join("index.html"), "<p>hi</p>").expect("write index.html");
        fs::write(root.join("assets/app.wasm"), b"\0asm").expect("write app.wasm");
        root
    }

    #[test]
    fn resolves_files_and_rejects_escapes() {
        let root = site();
        assert_eq!(resolve(&root, "/"), Some(root.join("index.html")));
        assert_eq!(resolve(&root, "/?seed=7"), Some(root.join("index.html")));
        assert_eq!(resolve(&root, "/assets"), None);
        assert_eq!(
            resolve(&root, "/assets/app.wasm"),
            Some(root.join("assets/app.wasm"))
        );
        assert_eq!(resolve(&root, "/missing.js"), None);
        assert_eq!(resolve(&root, "/../etc/passwd"), None);
        assert_eq!(resolve(&root, "/assets/../index.html"), None);
        assert_eq!(resolve(&root, "/.git/config"), None);
        assert_eq!(resolve(&root, "index.html"), None);
        assert_eq!(resolve(&root, ""), None);
    }

    #[test]
    fn wasm_is_served_as_application_wasm() {
        assert_eq!(content_type(Path::new("a/b.wasm")), "application/wasm");
        assert_eq!(
            content_type(Path::new("index.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("blob")), "application/octet-stream");
    }
}
