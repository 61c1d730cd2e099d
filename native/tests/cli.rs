//! The `flotilla` binary as a user runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn flotilla(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .output()
        .expect("run flotilla")
}

#[test]
fn version_names_the_package_version() {
    let out = flotilla(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("flotilla {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_the_subcommands() {
    let out = flotilla(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Raft-replicated key-value database"),
        "{help}"
    );
    assert!(help.contains("serve-web"), "{help}");
}

#[test]
fn no_arguments_prints_help_and_fails() {
    let out = flotilla(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: flotilla"));
}

#[test]
fn serve_web_refuses_a_folder_without_index_html() {
    let out = flotilla(&["serve-web", "--dir", env!("CARGO_MANIFEST_DIR")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no index.html"));
}

#[test]
fn serve_web_serves_the_folder() {
    let dir = std::env::temp_dir().join(format!("flotilla-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create site");
    std::fs::write(dir.join("index.html"), "<p>flotilla</p>").expect("write index.html");

    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["serve-web", "--listen", "127.0.0.1:0", "--dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start serve-web");
    let mut banner = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut banner)
        .expect("read banner");
    let address = banner
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.trim().strip_suffix('/'))
        .expect("banner names the address")
        .to_owned();

    let mut stream = TcpStream::connect(&address).expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    child.kill().expect("stop serve-web");
    child.wait().expect("reap serve-web");

    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("Content-Type: text/html"), "{response}");
    assert!(response.ends_with("<p>flotilla</p>"), "{response}");
}
