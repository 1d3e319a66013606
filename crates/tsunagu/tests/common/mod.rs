//! The harness of the end-to-end telephony tests: the real `tsunagu` binary with its demo
//! data on free ports of loopback, SIPp as carrier and phones, and what the tests read back
//! (history, events).

#![allow(dead_code)]

use serde_json::Value;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sipp")
        .join(name)
}

/// A UDP port nobody uses right now (SIPp binds it a moment later).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An even port for SIPp's `-mp`: SIPp binds it for audio and the one two above for video, so
/// both (and the odd ones between, RTCP's) must be free. From the ephemeral range, which the
/// servers' RTP ranges stay below.
pub fn free_media_port() -> u16 {
    loop {
        let Ok(first) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let port = first.local_addr().unwrap().port();
        if !port.is_multiple_of(2) || port > u16::MAX - 3 {
            continue;
        }
        if (1..=3).all(|k| UdpSocket::bind(("127.0.0.1", port + k)).is_ok()) {
            return port;
        }
    }
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

pub fn spawn_server(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tsunagu"))
        .args(args)
        .env("RUST_LOG", "warn")
        // The demo's greeting would answer every group call at once; tests that want prompts
        // set their own.
        .env("TSUNAGU_DEMO_AUDIO", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

pub struct Tsunagu {
    pub child: Child,
    pub args: Vec<String>,
    pub http: String,
    pub sip: String,
    pub data: tempfile::TempDir,
    pub client: reqwest::Client,
    pub csrf: String,
}

impl Drop for Tsunagu {
    fn drop(&mut self) {
        self.child.start_kill().ok();
    }
}

impl Tsunagu {
    pub async fn start() -> Tsunagu {
        let data = tempfile::tempdir().unwrap();
        let http_port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let sip_port = free_sip_port();
        // An RTP range of our own per test, so that parallel tests never collide, and below the
        // ephemeral ports (32768 and up) the SIPp phones bind: a server's RTP pool must not
        // take a port a phone is about to bind.
        let base = 10000 + (sip_port as u32 % 100) * 200;
        let args: Vec<String> = vec![
            "serve".into(),
            "--demo".into(),
            "--data-dir".into(),
            data.path().display().to_string(),
            "--http-addr".into(),
            format!("127.0.0.1:{http_port}"),
            "--sip-addr".into(),
            format!("127.0.0.1:{sip_port}"),
            "--rtp-ports".into(),
            format!("{}-{}", base, base + 199),
            "--web-dir".into(),
            "/nonexistent".into(),
        ];
        let child = spawn_server(&args);
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let mut t = Tsunagu {
            child,
            args,
            http: format!("http://127.0.0.1:{http_port}"),
            sip: format!("127.0.0.1:{sip_port}"),
            data,
            client,
            csrf: String::new(),
        };
        t.wait_and_login().await;
        t
    }

    pub async fn wait_and_login(&mut self) {
        for _ in 0..200 {
            let health = self
                .client
                .get(format!("{}/healthz", self.http))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let me: Value = self
            .client
            .post(format!("{}/api/v1/auth/login", self.http))
            .json(&serde_json::json!({"login_id": "admin", "password": "Admin1234"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        self.csrf = me["csrf_token"].as_str().unwrap().to_owned();
    }

    /// Kills the server with no chance to clean up (a crash) and starts it again on the same
    /// data directory and ports.
    pub async fn crash_and_restart(&mut self) {
        self.child.kill().await.ok();
        self.child = spawn_server(&self.args);
        self.wait_and_login().await;
    }

    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.http))
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// Call history, once the calls have settled: SIP answers a BYE before the history row is
    /// written, so wait (up to 5 s) until no call is still in progress.
    pub async fn calls(&self) -> Vec<Value> {
        let mut items = Vec::new();
        for _ in 0..50 {
            items = self.api(reqwest::Method::GET, "/api/v1/calls", None).await["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if items.iter().all(|c| c["in_progress"] == false) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        items
    }

    /// A client logged in as `login` (password `Demo1234` for the demo's agents), and its CSRF
    /// token.
    pub async fn login_as(&self, login: &str, password: &str) -> (reqwest::Client, String) {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let me: Value = client
            .post(format!("{}/api/v1/auth/login", self.http))
            .json(&serde_json::json!({"login_id": login, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let csrf = me["csrf_token"].as_str().unwrap().to_owned();
        (client, csrf)
    }

    pub async fn agent_id(&self, login: &str) -> i64 {
        self.api(
            reqwest::Method::GET,
            &format!("/api/v1/agents?login_id={login}"),
            None,
        )
        .await["items"][0]["id"]
            .as_i64()
            .unwrap()
    }

    /// Events of one call (by its history row id) from the log.
    pub async fn events(&self, call: i64) -> Vec<(String, Value)> {
        let store = store::Store::open_data_dir(self.data.path()).await.unwrap();
        let mut conn = store.conn().await.unwrap();
        store::events::read_after(&mut conn, 0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.call == Some(call))
            .map(|e| (e.kind, e.data))
            .collect()
    }

    /// Starts SIPp against Tsunagu with these extra arguments.
    pub fn sipp(&self, scenario_file: &Path, args: &[&str]) -> Child {
        Command::new("sipp")
            .arg(&self.sip)
            .arg("-sf")
            .arg(scenario_file)
            .args(["-m", "1", "-nostdin", "-timeout", "40", "-timeout_error"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("sipp (Debian package sip-tester) must be installed")
    }

    /// A phone for `user`: one SIPp answering with `answer_scenario`, registered by another.
    pub async fn phone(&self, user: &str, answer_scenario: &str, answer_after_ms: u32) -> Child {
        self.phone_with(
            user,
            &scenario(answer_scenario),
            answer_after_ms,
            &["-rtp_echo"],
        )
        .await
    }

    /// A phone for `user` running `answer_scenario` (a path) with these extra SIPp arguments.
    pub async fn phone_with(
        &self,
        user: &str,
        answer_scenario: &Path,
        answer_after_ms: u32,
        extra: &[&str],
    ) -> Child {
        let port = free_udp_port();
        let media = free_media_port();
        let mut args = vec![
            "-p".to_owned(),
            port.to_string(),
            "-mp".to_owned(),
            media.to_string(),
            "-d".to_owned(),
            answer_after_ms.to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let phone = self.sipp(answer_scenario, &args);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let reg = self.sipp(
            &scenario("register.xml"),
            &[
                "-p",
                &free_udp_port().to_string(),
                "-au",
                user,
                "-ap",
                &format!("demo{user}"),
                "-key",
                "user",
                user,
                "-key",
                "contact_port",
                &port.to_string(),
            ],
        );
        assert!(finished_ok(reg, 10).await, "registration of {user} failed");
        phone
    }

    pub fn carrier(&self, scenario_file: &Path, caller: &str, talk_ms: u32) -> Child {
        self.sipp(
            scenario_file,
            &[
                "-s",
                "0312345678",
                "-key",
                "caller",
                caller,
                "-d",
                &talk_ms.to_string(),
                "-p",
                &free_udp_port().to_string(),
                "-mp",
                &free_media_port().to_string(),
            ],
        )
    }
}

pub async fn finished_ok(mut child: Child, secs: u64) -> bool {
    match tokio::time::timeout(Duration::from_secs(secs), child.wait()).await {
        Ok(Ok(status)) => status.success(),
        _ => {
            child.start_kill().ok();
            false
        }
    }
}

/// carrier_refused.xml expecting `status`.
pub fn refused_scenario(dir: &Path, status: u16) -> PathBuf {
    let text = std::fs::read_to_string(scenario("carrier_refused.xml"))
        .unwrap()
        .replace("EXPECTED", &status.to_string());
    let path = dir.join(format!("refused_{status}.xml"));
    std::fs::write(&path, text).unwrap();
    path
}

pub fn media_packets(events: &[(String, Value)]) -> (u64, u64) {
    let m = events
        .iter()
        .find(|(k, _)| k == "call.media")
        .map(|(_, d)| d.clone())
        .unwrap_or_default();
    (
        m["caller_to_callee_packets"].as_u64().unwrap_or(0),
        m["callee_to_caller_packets"].as_u64().unwrap_or(0),
    )
}

impl Tsunagu {
    /// Phone `user` dials `number`; `expected` is the final status (200 = answered and hung up
    /// after 1 s).
    pub fn dial(&self, user: &str, number: &str, expected: u16) -> Child {
        let file = if expected == 200 {
            scenario("dial.xml")
        } else {
            let text = std::fs::read_to_string(scenario("dial_refused.xml"))
                .unwrap()
                .replace("EXPECTED", &expected.to_string());
            let path = self
                .data
                .path()
                .join(format!("dial_{expected}_{number}.xml"));
            std::fs::write(&path, text).unwrap();
            path
        };
        self.sipp(
            &file,
            &[
                "-s",
                number,
                "-au",
                user,
                "-ap",
                &format!("demo{user}"),
                "-key",
                "user",
                user,
                "-d",
                "1000",
                "-p",
                &free_udp_port().to_string(),
                "-mp",
                &free_media_port().to_string(),
            ],
        )
    }

    /// The carrier's outbound side: answers and logs the caller-ID headers to a file.
    pub async fn trunk_uas(&self) -> (Child, PathBuf) {
        self.trunk_with(
            "trunk_uas.xml",
            serde_json::json!({"caller_id_header": "both"}),
        )
        .await
    }

    /// A carrier running `scenario_name` (echoing RTP, logging to the returned file) that the
    /// demo trunk, changed by `trunk`, sends outbound calls to.
    pub async fn trunk_with(&self, scenario_name: &str, mut trunk: Value) -> (Child, PathBuf) {
        let port = free_udp_port();
        let log = self.data.path().join(format!("trunk_{port}.log"));
        trunk["outbound_host"] = Value::String(format!("127.0.0.1:{port}"));
        self.api(reqwest::Method::PATCH, "/api/v1/trunks/1", Some(trunk))
            .await;
        let child = self.sipp(
            &scenario(scenario_name),
            &[
                "-p",
                &port.to_string(),
                "-mp",
                &free_media_port().to_string(),
                "-rtp_echo",
                "-trace_logs",
                "-log_file",
                log.to_str().unwrap(),
            ],
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        (child, log)
    }
}

/// The queue events of the log, as (kind, call id).
pub async fn queue_events(t: &Tsunagu) -> Vec<(String, Option<i64>)> {
    let store = store::Store::open_data_dir(t.data.path()).await.unwrap();
    let mut conn = store.conn().await.unwrap();
    store::events::read_after(&mut conn, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.starts_with("queue."))
        .map(|e| (e.kind, e.call))
        .collect()
}

/// A mono 8 kHz 16-bit WAV of a sine tone.
pub fn tone_wav(hz: f64, ms: u32, amplitude: f64) -> (Vec<u8>, Vec<i16>) {
    let n = (ms * 8) as usize;
    let samples: Vec<i16> = (0..n)
        .map(|i| (amplitude * (i as f64 * 2.0 * std::f64::consts::PI * hz / 8000.0).sin()) as i16)
        .collect();
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut w = b"RIFF".to_vec();
    w.extend((36 + data.len() as u32).to_le_bytes());
    w.extend(b"WAVEfmt ");
    w.extend(16u32.to_le_bytes());
    w.extend(1u16.to_le_bytes());
    w.extend(1u16.to_le_bytes());
    w.extend(8000u32.to_le_bytes());
    w.extend(16000u32.to_le_bytes());
    w.extend(2u16.to_le_bytes());
    w.extend(16u16.to_le_bytes());
    w.extend(b"data");
    w.extend((data.len() as u32).to_le_bytes());
    w.extend(data);
    (w, samples)
}

impl Tsunagu {
    /// Uploads a voice file; its id.
    pub async fn voice_file(&self, name: &str, wav: Vec<u8>) -> i64 {
        let part = reqwest::multipart::Part::bytes(wav)
            .file_name(format!("{name}.wav"))
            .mime_str("audio/wav")
            .unwrap();
        let form = reqwest::multipart::Form::new()
            .text("name", name.to_owned())
            .part("file", part);
        let r = self
            .client
            .post(format!("{}/api/v1/voice-files", self.http))
            .header("x-csrf-token", &self.csrf)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "upload: {}", r.status());
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }
}
