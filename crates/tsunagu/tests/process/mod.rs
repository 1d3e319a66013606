//! The real `tsunagu` binary on loopback ports of its own, run as a process to the end, for
//! the operations tests (start-up failures, readiness, TLS).

#![allow(dead_code)]

use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

pub const ADMIN_PASSWORD: &str = "Admin1234";

pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port free for both UDP and TCP (SIP listens on both).
pub fn free_sip_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn command(args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tsunagu"));
    c.args(args)
        .env("RUST_LOG", "warn")
        .env("TSUNAGU_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    c
}

pub struct Server {
    pub child: Child,
    pub args: Vec<String>,
    /// `http://127.0.0.1:PORT` (or `https://` with TLS).
    pub base: String,
    pub http_port: u16,
    pub sip_port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.start_kill().ok();
    }
}

/// The arguments of `tsunagu serve` on fresh ports with this data directory.
pub fn serve_args(data: &Path, extra: &[&str]) -> (Vec<String>, u16, u16) {
    let http_port = free_tcp_port();
    let sip_port = free_sip_port();
    // Below the ephemeral ports (32768 and up) that the SIPp peers bind.
    let rtp = 10000 + (u32::from(sip_port) % 100) * 200;
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--data-dir".into(),
        data.display().to_string(),
        "--http-addr".into(),
        format!("127.0.0.1:{http_port}"),
        "--sip-addr".into(),
        format!("127.0.0.1:{sip_port}"),
        "--rtp-ports".into(),
        format!("{}-{}", rtp, rtp + 199),
        "--web-dir".into(),
        "/nonexistent".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    (args, http_port, sip_port)
}

/// Starts the server and waits until `/healthz` answers (over `scheme`, with `client`).
pub async fn start(data: &Path, extra: &[&str], scheme: &str, client: &reqwest::Client) -> Server {
    let (args, http_port, sip_port) = serve_args(data, extra);
    let child = command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        args,
        base: format!("{scheme}://127.0.0.1:{http_port}"),
        http_port,
        sip_port,
    };
    wait_healthy(&server.base, client).await;
    server
}

pub async fn wait_healthy(base: &str, client: &reqwest::Client) {
    for _ in 0..600 {
        let r = client.get(format!("{base}/healthz")).send().await;
        if r.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} did not become healthy");
}

/// Runs the binary to its end (it is expected to stop by itself) and returns its exit status
/// and standard error.
pub async fn run_to_end(mut cmd: Command) -> (std::process::ExitStatus, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output(),
    )
    .await
    .expect("the server did not stop by itself")
    .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
