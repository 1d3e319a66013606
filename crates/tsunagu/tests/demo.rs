//! The README's "Your first call", as a newcomer runs it: the server as `scripts/demo.sh` starts
//! it (demo data and demo audio on: the Support group's greeting plays before agents ring), then
//! `scripts/demo-call.sh` against it. The call must be answered by terminal 201, relayed both
//! ways, and in call history as an answered incoming call (not a missed one).
//!
//! Only the addresses differ from the README (free ports instead of 8080/5060, a temporary data
//! directory), because other test runs share this machine. `cargo run` inside demo.sh builds
//! the binary without the dev-dependencies' features, so it is a build of its own: the test is
//! `#[ignore]`d in `cargo test --workspace` and scripts/test.sh runs it after `cargo build`.

use serde_json::Value;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A port free for both UDP and TCP (SIP listens on both).
fn free_sip_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `scripts/demo.sh` runs `cargo run`, which replaces itself with the server: its process group
/// holds the whole demo, ended with it.
struct Demo {
    pid: i32,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.pid)])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "runs scripts/demo.sh, which builds the web app and the binary: scripts/test.sh runs it \
            (`cargo test -p tsunagu --test demo -- --ignored`) once it has built them"]
async fn the_readme_demo_call_is_answered_relayed_and_in_history() {
    let data = tempfile::tempdir().unwrap();
    let http_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sip_port = free_sip_port();
    // Below the ephemeral ports (32768 and up) that the SIPp peers bind.
    let rtp = 22000 + (sip_port as u32 % 50) * 100;
    let log = data.path().join("demo.log");
    let child = Command::new("bash")
        .arg(repo().join("scripts/demo.sh"))
        .args([
            "--http-addr",
            &format!("127.0.0.1:{http_port}"),
            "--sip-addr",
            &format!("127.0.0.1:{sip_port}"),
            "--rtp-ports",
            &format!("{rtp}-{}", rtp + 99),
        ])
        .env("TSUNAGU_DATA_DIR", data.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(data.path().join("demo.err")).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let _demo = Demo {
        pid: child.id().unwrap() as i32,
    };
    let mut child = child;

    // demo.sh installs what is missing, builds the web app and the binary: give it time.
    let http = format!("http://127.0.0.1:{http_port}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let mut up = false;
    for _ in 0..(15 * 60 * 4) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "scripts/demo.sh exited ({status}):\n{}",
                std::fs::read_to_string(data.path().join("demo.err")).unwrap_or_default()
            );
        }
        let health = client.get(format!("{http}/healthz")).send().await;
        if health.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(up, "scripts/demo.sh did not start the server in 15 minutes");

    let call = Command::new("bash")
        .arg(repo().join("scripts/demo-call.sh"))
        .arg(format!("127.0.0.1:{sip_port}"))
        .stdin(Stdio::null())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), call)
        .await
        .expect("scripts/demo-call.sh did not finish in 2 minutes")
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "scripts/demo-call.sh failed:\n{said}");
    assert!(said.contains("== done"), "{said}");

    let me: Value = client
        .post(format!("{http}/api/v1/auth/login"))
        .json(&serde_json::json!({"login_id": "admin", "password": "Admin1234"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let get = |path: String| {
        let req = client
            .get(format!("{http}{path}"))
            .header("x-csrf-token", &csrf);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    // The greeting is really there: the demo ran with its audio.
    let voices = get("/api/v1/voice-files".into()).await;
    assert_eq!(
        voices["total"].as_i64(),
        Some(2),
        "greeting and music: {voices}"
    );
    // SIP answers the BYE before history is written: wait until no call is in progress.
    let mut calls = Vec::new();
    for _ in 0..50 {
        calls = get("/api/v1/calls".into()).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !calls.is_empty() && calls.iter().all(|c| c["in_progress"] == false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(calls.len(), 1, "{calls:?}");
    let c = &calls[0];
    assert_eq!(c["kind"], "incoming", "answered, not missed: {c}");
    assert_eq!(c["remote_party"], "09011112222");
    assert_eq!(c["number"], "0312345678");
    assert_eq!(c["hangup_cause"], "caller_hangup", "{c}");
    assert!(c["answered_at"].as_i64().is_some(), "{c}");
    let agents = get("/api/v1/agents?login_id=201".into()).await;
    assert_eq!(c["agent_id"], agents["items"][0]["id"], "{c}");
    // Recorded from 201's answer, for the history's play button (the recording is finished a
    // moment after the call).
    let mut rec = c["recording"].clone();
    for _ in 0..50 {
        if rec["state"] == "complete" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        rec = get(format!("/api/v1/calls/{}", c["id"])).await["recording"].clone();
    }
    assert_eq!(rec["state"], "complete", "{rec}");
    assert!(rec["duration_ms"].as_i64().unwrap_or(0) >= 5000, "{rec}");

    // Relayed both ways: the relay's packet counts in the call's events.
    let store = store::Store::open_data_dir(&data.path().join("data"))
        .await
        .unwrap();
    let mut conn = store.conn().await.unwrap();
    let events: Vec<_> = store::events::read_after(&mut conn, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.call == c["id"].as_i64())
        .collect();
    let media = events
        .iter()
        .find(|e| e.kind == "call.media")
        .map(|e| e.data.clone())
        .unwrap_or_default();
    let to_agent = media["caller_to_callee_packets"].as_u64().unwrap_or(0);
    let to_caller = media["callee_to_caller_packets"].as_u64().unwrap_or(0);
    // The carrier talks 7 s to the agent, who echoes it: well over 100 packets each way.
    assert!(
        to_agent >= 100 && to_caller >= 100,
        "RTP both ways: {to_agent} / {to_caller}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == "call.dtmf" && e.data["from"] == "caller"),
        "the carrier's digit: {:?}",
        events.iter().map(|e| &e.kind).collect::<Vec<_>>()
    );
}
