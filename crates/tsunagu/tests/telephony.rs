//! Telephony end to end: the real `tsunagu` binary with its demo data, SIPp as the carrier and
//! as agents' phones, all on loopback. Each test checks what SIP said, that audio crossed the
//! relay both ways where a call was answered, and the call-history record.

use serde_json::Value;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sipp")
        .join(name)
}

/// A UDP port nobody uses right now (SIPp binds it a moment later).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

fn spawn_server(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tsunagu"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

struct Tsunagu {
    child: Child,
    args: Vec<String>,
    http: String,
    sip: String,
    data: tempfile::TempDir,
    client: reqwest::Client,
    csrf: String,
}

impl Drop for Tsunagu {
    fn drop(&mut self) {
        self.child.start_kill().ok();
    }
}

impl Tsunagu {
    async fn start() -> Tsunagu {
        let data = tempfile::tempdir().unwrap();
        let http_port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let sip_port = free_sip_port();
        // An RTP range of our own per test, so that parallel tests never collide.
        let base = 20000 + (sip_port as u32 % 200) * 200;
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

    async fn wait_and_login(&mut self) {
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
    async fn crash_and_restart(&mut self) {
        self.child.kill().await.ok();
        self.child = spawn_server(&self.args);
        self.wait_and_login().await;
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
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
    async fn calls(&self) -> Vec<Value> {
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

    async fn agent_id(&self, login: &str) -> i64 {
        self.api(
            reqwest::Method::GET,
            &format!("/api/v1/agents?login_id={login}"),
            None,
        )
        .await["items"][0]["id"]
            .as_i64()
            .unwrap()
    }

    /// Events of one call from the log.
    async fn events(&self, call_id: &str) -> Vec<(String, Value)> {
        let store = store::Store::open_data_dir(self.data.path()).await.unwrap();
        let mut conn = store.conn().await.unwrap();
        store::events::read_after(&mut conn, 0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.call_id.as_deref() == Some(call_id))
            .map(|e| (e.kind, e.data))
            .collect()
    }

    /// Starts SIPp against Tsunagu with these extra arguments.
    fn sipp(&self, scenario_file: &Path, args: &[&str]) -> Child {
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
    async fn phone(&self, user: &str, answer_scenario: &str, answer_after_ms: u32) -> Child {
        let port = free_udp_port();
        let media = free_udp_port();
        let phone = self.sipp(
            &scenario(answer_scenario),
            &[
                "-p",
                &port.to_string(),
                "-mp",
                &media.to_string(),
                "-rtp_echo",
                "-d",
                &answer_after_ms.to_string(),
            ],
        );
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

    fn carrier(&self, scenario_file: &Path, caller: &str, talk_ms: u32) -> Child {
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
                &free_udp_port().to_string(),
            ],
        )
    }
}

async fn finished_ok(mut child: Child, secs: u64) -> bool {
    match tokio::time::timeout(Duration::from_secs(secs), child.wait()).await {
        Ok(Ok(status)) => status.success(),
        _ => {
            child.start_kill().ok();
            false
        }
    }
}

/// carrier_refused.xml expecting `status`.
fn refused_scenario(dir: &Path, status: u16) -> PathBuf {
    let text = std::fs::read_to_string(scenario("carrier_refused.xml"))
        .unwrap()
        .replace("EXPECTED", &status.to_string());
    let path = dir.join(format!("refused_{status}.xml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn media_packets(events: &[(String, Value)]) -> (u64, u64) {
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

#[tokio::test(flavor = "multi_thread")]
async fn answered_call_relays_audio_both_ways_and_is_in_history() {
    let t = Tsunagu::start().await;
    let phone = t.phone("201", "answer.xml", 500).await;
    let carrier = t.carrier(&scenario("carrier.xml"), "09011112222", 2000);
    assert!(finished_ok(carrier, 30).await, "carrier call failed");
    assert!(
        finished_ok(phone, 10).await,
        "the phone did not see the call through"
    );
    let calls = t.calls().await;
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c["kind"], "incoming");
    assert_eq!(c["remote_party"], "09011112222");
    assert_eq!(c["number"], "0312345678");
    assert_eq!(c["hangup_cause"], "caller_hangup");
    assert_eq!(c["agent_id"].as_i64(), Some(t.agent_id("201").await));
    assert!(c["answered_at"].as_i64().is_some() && c["ended_at"].as_i64().is_some());
    let events = t.events(c["call_uuid"].as_str().unwrap()).await;
    let (to_agent, to_caller) = media_packets(&events);
    assert!(
        to_agent >= 20 && to_caller >= 20,
        "RTP both ways: {to_agent} / {to_caller}"
    );
    // The carrier's RFC 4733 digit reached the engine as a digit.
    assert!(
        events
            .iter()
            .any(|(k, d)| k == "call.dtmf" && d["digit"] == "1" && d["from"] == "caller"),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_hangs_up() {
    let t = Tsunagu::start().await;
    let phone = t.phone("201", "answer_hangup.xml", 300).await;
    // The carrier would talk for 20 s; the agent hangs up after 2 s and the carrier must get
    // a BYE, which carrier.xml does not expect: it fails on it, and that is the point checked
    // through history instead.
    let carrier = t.carrier(&scenario("carrier.xml"), "09011112222", 20_000);
    assert!(
        finished_ok(phone, 20).await,
        "the agent's BYE was not answered"
    );
    drop(carrier);
    let c = &t.calls().await[0];
    assert_eq!(
        (c["kind"].as_str(), c["hangup_cause"].as_str()),
        (Some("incoming"), Some("callee_hangup"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn caller_cancels_before_answer() {
    let t = Tsunagu::start().await;
    let phone = t.phone("201", "ring.xml", 0).await;
    let carrier = t.carrier(&scenario("carrier_cancel.xml"), "09011112222", 1000);
    assert!(
        finished_ok(carrier, 20).await,
        "CANCEL did not give 200 + 487"
    );
    assert!(finished_ok(phone, 10).await, "the phone was not cancelled");
    let c = &t.calls().await[0];
    assert_eq!(
        (c["kind"].as_str(), c["hangup_cause"].as_str()),
        (Some("incoming_missed"), Some("caller_cancelled"))
    );
    assert!(c["answered_at"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn ring_all_second_member_answers_others_stop_ringing() {
    let t = Tsunagu::start().await;
    let first = t.phone("201", "ring.xml", 0).await;
    let second = t.phone("202", "answer.xml", 1000).await;
    let third = t.phone("203", "ring.xml", 0).await;
    let carrier = t.carrier(&scenario("carrier.xml"), "09011112222", 1500);
    assert!(finished_ok(carrier, 30).await);
    assert!(finished_ok(second, 10).await);
    assert!(finished_ok(first, 10).await, "201 kept ringing");
    assert!(finished_ok(third, 10).await, "203 kept ringing");
    let c = &t.calls().await[0];
    assert_eq!(c["agent_id"].as_i64(), Some(t.agent_id("202").await));
    assert_eq!(c["group_id"].as_i64(), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_blocked_channel_limit_unregistered() {
    let t = Tsunagu::start().await;
    let dir = t.data.path();
    // Blocked caller: 603, recorded as blocked.
    t.api(
        reqwest::Method::POST,
        "/api/v1/incoming-blocks",
        Some(serde_json::json!({"number": "0800000000", "remarks": "spam"})),
    )
    .await;
    assert!(finished_ok(t.carrier(&refused_scenario(dir, 603), "0800000000", 0), 20).await);
    // A number routed to an agent whose phone is not registered: 480, an unanswered incoming
    // call. (Through a group the caller would wait in the queue instead.)
    let id203 = t.agent_id("203").await;
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/numbers/1",
        Some(serde_json::json!({"route": {"kind": "agent", "id": id203}})),
    )
    .await;
    assert!(finished_ok(t.carrier(&refused_scenario(dir, 480), "09033334444", 0), 30).await);
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/numbers/1",
        Some(serde_json::json!({"route": {"kind": "group", "id": 1}})),
    )
    .await;
    // Channel limit 1 with one call up: the second is refused with 503 and never recorded.
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/numbers/1",
        Some(serde_json::json!({"max_channels": 1})),
    )
    .await;
    let phone = t.phone("201", "answer.xml", 200).await;
    let first = t.carrier(&scenario("carrier.xml"), "09055556666", 4000);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        finished_ok(t.carrier(&refused_scenario(dir, 503), "09077778888", 0), 20).await,
        "over the channel limit"
    );
    assert!(finished_ok(first, 30).await);
    drop(phone);

    let calls = t.calls().await;
    let by_party = |p: &str| calls.iter().find(|c| c["remote_party"] == p).cloned();
    assert_eq!(by_party("0800000000").unwrap()["hangup_cause"], "blocked");
    let unreg = by_party("09033334444").unwrap();
    assert_eq!(
        (unreg["kind"].as_str(), unreg["hangup_cause"].as_str()),
        (Some("incoming_missed"), Some("unavailable"))
    );
    assert!(
        by_party("09077778888").is_none(),
        "channel-limit refusals are not in history"
    );
    assert_eq!(by_party("09055556666").unwrap()["kind"], "incoming");
    assert_eq!(calls.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_malformed_messages_and_options() {
    let t = Tsunagu::start().await;
    let reg = t.sipp(
        &scenario("register.xml"),
        &[
            "-p",
            &free_udp_port().to_string(),
            "-au",
            "201",
            "-ap",
            "wrongpass",
            "-key",
            "user",
            "201",
            "-key",
            "contact_port",
            "5999",
        ],
    );
    assert!(
        !finished_ok(reg, 10).await,
        "a wrong password must not register"
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    for garbage in [&b"\x00\x01garbage"[..], b"INVITE sip:x SIP/2.0\r\n\r\n", b"INVITE sip:0312345678@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\nCSeq: 1 INVITE\r\n\r\n"] {
        sock.send_to(garbage, &t.sip).unwrap();
    }
    // Still alive and answering.
    let port = sock.local_addr().unwrap().port();
    let options = format!(
        "OPTIONS sip:{sip} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-opt1\r\nFrom: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:{sip}>\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        sip = t.sip
    );
    sock.send_to(options.as_bytes(), &t.sip).unwrap();
    let mut buf = [0u8; 4096];
    let mut got = String::new();
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        got = String::from_utf8_lossy(&buf[..n]).to_string();
        if got.contains("opt-1") {
            break;
        }
    }
    assert!(
        got.starts_with("SIP/2.0 200") && got.contains("Allow:"),
        "{got}"
    );
    assert!(
        t.calls().await.is_empty(),
        "malformed INVITEs leave no history"
    );
}

impl Tsunagu {
    /// Phone `user` dials `number`; `expected` is the final status (200 = answered and hung up
    /// after 1 s).
    fn dial(&self, user: &str, number: &str, expected: u16) -> Child {
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
                &free_udp_port().to_string(),
            ],
        )
    }

    /// The carrier's outbound side: answers and logs the caller-ID headers to a file.
    async fn trunk_uas(&self) -> (Child, PathBuf) {
        let port = free_udp_port();
        let log = self.data.path().join(format!("trunk_{port}.log"));
        self.api(reqwest::Method::PATCH, "/api/v1/trunks/1", Some(serde_json::json!({"outbound_host": format!("127.0.0.1:{port}"), "caller_id_header": "both"}))).await;
        let child = self.sipp(
            &scenario("trunk_uas.xml"),
            &[
                "-p",
                &port.to_string(),
                "-mp",
                &free_udp_port().to_string(),
                "-trace_logs",
                "-log_file",
                log.to_str().unwrap(),
            ],
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        (child, log)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_call_carries_the_agents_caller_id() {
    let t = Tsunagu::start().await;
    let (trunk, log) = t.trunk_uas().await;
    assert!(
        finished_ok(t.dial("201", "0398765432", 200), 30).await,
        "outbound call failed"
    );
    assert!(finished_ok(trunk, 10).await);
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(
        seen.contains("FROM= <sip:0312345678@") && seen.contains("PAI= <sip:0312345678@"),
        "{seen}"
    );
    assert!(seen.contains("RURI=INVITE sip:0398765432@"), "{seen}");
    let c = &t.calls().await[0];
    assert_eq!(
        (c["direction"].as_str(), c["kind"].as_str()),
        (Some("outbound"), Some("outgoing"))
    );
    assert_eq!(
        (c["remote_party"].as_str(), c["number"].as_str()),
        (Some("0398765432"), Some("0312345678"))
    );
    assert_eq!(c["agent_id"].as_i64(), Some(t.agent_id("201").await));
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_184_withholds_and_prefix_picks_the_number() {
    let t = Tsunagu::start().await;
    let (trunk, log) = t.trunk_uas().await;
    assert!(finished_ok(t.dial("201", "1840398765432", 200), 30).await);
    assert!(finished_ok(trunk, 10).await);
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(
        seen.contains("anonymous.invalid")
            && seen.contains("PRIVACY= id")
            && seen.contains("PAI= <sip:0312345678@"),
        "{seen}"
    );
    assert!(
        seen.contains("RURI=INVITE sip:0398765432@"),
        "184 is not sent to the carrier: {seen}"
    );

    // 発信仕分け: prefix 9 sends the call out on another number the agent is offered.
    let n = t
        .api(
            reqwest::Method::POST,
            "/api/v1/numbers",
            Some(serde_json::json!({"number": "0501112222", "name": "Sales", "prefix": "9"})),
        )
        .await;
    let id201 = t.agent_id("201").await;
    t.api(
        reqwest::Method::PATCH,
        &format!("/api/v1/agents/{id201}"),
        Some(serde_json::json!({"number_ids": [1, n["id"]]})),
    )
    .await;
    let (trunk, log) = t.trunk_uas().await;
    assert!(finished_ok(t.dial("201", "90398765432", 200), 30).await);
    assert!(finished_ok(trunk, 10).await);
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(
        seen.contains("FROM= <sip:0501112222@") && seen.contains("RURI=INVITE sip:0398765432@"),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_refusals_restricted_and_prohibited() {
    let t = Tsunagu::start().await;
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/trunks/1",
        Some(serde_json::json!({"outbound_host": format!("127.0.0.1:{}", free_udp_port())})),
    )
    .await;
    t.api(
        reqwest::Method::POST,
        "/api/v1/outbound-restrictions",
        Some(serde_json::json!({"number": "0120999999", "remarks": "no"})),
    )
    .await;
    assert!(
        finished_ok(t.dial("201", "0120999999", 403), 20).await,
        "restricted destination"
    );
    // 外線発信禁止: no caller number, no external calls.
    let id202 = t.agent_id("202").await;
    t.api(
        reqwest::Method::PATCH,
        &format!("/api/v1/agents/{id202}"),
        Some(serde_json::json!({"caller_number_id": null})),
    )
    .await;
    assert!(
        finished_ok(t.dial("202", "0398765432", 403), 20).await,
        "external calls prohibited"
    );
    // A wrong digest password on INVITE is refused too.
    let calls = t.calls().await;
    assert_eq!(
        calls.len(),
        1,
        "only the restricted attempt is recorded: {calls:?}"
    );
    assert_eq!(
        (
            calls[0]["hangup_cause"].as_str(),
            calls[0]["direction"].as_str()
        ),
        (Some("restricted"), Some("outbound"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_call_between_extensions() {
    let t = Tsunagu::start().await;
    let phone = t.phone("202", "answer.xml", 300).await;
    assert!(
        finished_ok(t.dial("201", "202", 200), 30).await,
        "extension call failed"
    );
    assert!(finished_ok(phone, 10).await);
    let c = &t.calls().await[0];
    assert_eq!(
        (
            c["direction"].as_str(),
            c["kind"].as_str(),
            c["remote_party"].as_str()
        ),
        (Some("internal"), Some("outgoing"), Some("202"))
    );
    assert_eq!(c["agent_id"].as_i64(), Some(t.agent_id("201").await));
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_auth_failures_block_the_source() {
    let t = Tsunagu::start().await;
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let port = sock.local_addr().unwrap().port();
    let register = |n: u32, auth: &str| {
        format!(
            "REGISTER sip:{sip} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-scan{n}\r\nFrom: <sip:201@127.0.0.1>;tag=s{n}\r\nTo: <sip:201@127.0.0.1>\r\nCall-ID: scan-{n}\r\nCSeq: {n} REGISTER\r\nContact: <sip:201@127.0.0.1:{port}>\r\n{auth}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            sip = t.sip
        )
    };
    let status = |text: String| -> String {
        sock.send_to(text.as_bytes(), &t.sip).unwrap();
        let mut buf = [0u8; 4096];
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    // A scanner guessing passwords: well-formed digests with wrong responses.
    for n in 1..=10 {
        let auth = "Authorization: Digest username=\"201\", realm=\"tsunagu\", nonce=\"bogus\", uri=\"sip:127.0.0.1\", response=\"00000000000000000000000000000000\"\r\n";
        assert!(
            status(register(n, auth)).starts_with("SIP/2.0 403"),
            "wrong credentials are refused"
        );
    }
    // Now even a first, unauthenticated REGISTER is refused instead of challenged.
    assert!(
        status(register(11, "")).starts_with("SIP/2.0 403"),
        "the source is blocked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_closes_calls_in_flight_as_interrupted() {
    let mut t = Tsunagu::start().await;
    let phone = t.phone("201", "answer.xml", 200).await;
    let carrier = t.carrier(&scenario("carrier.xml"), "09011112222", 30_000);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let live = t.calls().await;
    assert_eq!(live[0]["in_progress"], true, "{live:?}");
    t.crash_and_restart().await;
    drop((phone, carrier));
    let c = &t.calls().await[0];
    assert_eq!(
        (c["in_progress"].as_bool(), c["hangup_cause"].as_str()),
        (Some(false), Some("interrupted"))
    );
    assert_eq!(c["kind"], "incoming", "it had been answered");
}

#[tokio::test(flavor = "multi_thread")]
async fn hold_reinvite_is_passed_through_to_the_agent() {
    let t = Tsunagu::start().await;
    let phone = t.phone("201", "answer_hold.xml", 200).await;
    let carrier = t.carrier(&scenario("carrier_hold.xml"), "09011112222", 0);
    assert!(
        finished_ok(carrier, 30).await,
        "the carrier's hold was not answered recvonly"
    );
    assert!(
        finished_ok(phone, 10).await,
        "the phone never saw the hold re-INVITE"
    );
    let c = &t.calls().await[0];
    assert_eq!(
        (c["kind"].as_str(), c["hangup_cause"].as_str()),
        (Some("incoming"), Some("caller_hangup"))
    );
}

/// Events of the log with a given kind prefix, as (kind, call_id).
async fn queue_events(t: &Tsunagu) -> Vec<(String, Option<String>)> {
    let store = store::Store::open_data_dir(t.data.path()).await.unwrap();
    let mut conn = store.conn().await.unwrap();
    store::events::read_after(&mut conn, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.starts_with("queue."))
        .map(|e| (e.kind, e.call_id))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_burst_round_robin_overflow_timeout_abandon() {
    let t = Tsunagu::start().await;
    let (a201, a202) = (t.agent_id("201").await, t.agent_id("202").await);
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/groups/1",
        Some(serde_json::json!({
            "strategy": "round_robin", "max_waiting": 1, "timeout": 6, "ring_time": 5,
            "members": [{"agent_id": a201, "skill_level": 0}, {"agent_id": a202, "skill_level": 0}]
        })),
    )
    .await;
    // The ACD picks up group changes within 2 s.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let p201 = t.phone("201", "answer.xml", 300).await;
    let p202 = t.phone("202", "answer.xml", 300).await;
    let dir = t.data.path();
    let c1 = t.carrier(&scenario("carrier.xml"), "0900000001", 4000);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let c2 = t.carrier(&scenario("carrier.xml"), "0900000002", 4000);
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Both agents busy: the third waits (max waiting 1) and times out after 6 s -> busy.
    let c3 = t.carrier(&refused_scenario(dir, 486), "0900000003", 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The queue is full: the fourth overflows at once -> busy (no overflow destination).
    let c4 = t.carrier(&refused_scenario(dir, 486), "0900000004", 0);
    assert!(finished_ok(c4, 10).await, "overflow");
    assert!(finished_ok(c3, 15).await, "timeout");
    // The fifth waits and gives up: an abandon.
    let c5 = t.carrier(&scenario("carrier_cancel.xml"), "0900000005", 1000);
    assert!(finished_ok(c5, 15).await, "abandon");
    assert!(finished_ok(c1, 20).await && finished_ok(c2, 20).await);
    assert!(finished_ok(p201, 10).await && finished_ok(p202, 10).await);

    let calls = t.calls().await;
    let by = |p: &str| {
        calls
            .iter()
            .find(|c| c["remote_party"] == p)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        by("0900000001")["agent_id"].as_i64(),
        Some(a201),
        "round robin: 201 first"
    );
    assert_eq!(
        by("0900000002")["agent_id"].as_i64(),
        Some(a202),
        "then 202"
    );
    for p in ["0900000003", "0900000004"] {
        assert_eq!(
            (by(p)["kind"].as_str(), by(p)["hangup_cause"].as_str()),
            (Some("incoming_missed"), Some("busy")),
            "{p}"
        );
    }
    assert_eq!(by("0900000005")["hangup_cause"], "caller_cancelled");
    let events = queue_events(&t).await;
    let of = |kind: &str, party: &str| {
        let id = by(party)["call_uuid"].as_str().unwrap().to_owned();
        events
            .iter()
            .any(|(k, c)| k == kind && c.as_deref() == Some(id.as_str()))
    };
    assert!(of("queue.answered", "0900000001") && of("queue.answered", "0900000002"));
    assert!(of("queue.timed_out", "0900000003"), "{events:?}");
    assert!(of("queue.overflowed", "0900000004"));
    assert!(of("queue.abandoned", "0900000005"));
    assert!(of("queue.completed", "0900000001"));
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_state_and_realtime_follow_the_calls() {
    let t = Tsunagu::start().await;
    let a201 = t.agent_id("201").await;
    let state = |v: &Value| {
        v["groups"][0]["status"]["status"]
            .as_str()
            .map(str::to_owned)
    };
    let s = t
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/agents/{a201}/state"),
            None,
        )
        .await;
    assert_eq!(
        state(&s).as_deref(),
        Some("offline"),
        "no phone registered yet: {s}"
    );
    let phone = t.phone("201", "answer.xml", 300).await;
    let s = t
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/agents/{a201}/state"),
            None,
        )
        .await;
    assert_eq!(state(&s).as_deref(), Some("available"), "{s}");

    // A supervisor pauses 201 with a custom status in every group, then releases them.
    let acw = t
        .api(
            reqwest::Method::GET,
            "/api/v1/agent-statuses?name=ACW",
            None,
        )
        .await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let s = t
        .api(
            reqwest::Method::PUT,
            &format!("/api/v1/agents/{a201}/state"),
            Some(serde_json::json!({"state": "paused", "status_id": acw})),
        )
        .await;
    assert_eq!(
        s["groups"][0]["status"]["pause"],
        serde_json::json!({"kind": "custom", "status_id": acw}),
        "{s}"
    );
    // A paused agent is not rung: this caller waits and gives up (an abandon).
    let abandoned = t.carrier(&scenario("carrier_cancel.xml"), "09000000010", 1500);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let rt = t
        .api(reqwest::Method::GET, "/api/v1/realtime?group=1", None)
        .await;
    assert_eq!(
        (
            rt["groups"][0]["waiting"].as_u64(),
            rt["groups"][0]["paused"].as_u64()
        ),
        (Some(1), Some(1)),
        "{rt}"
    );
    assert_eq!(rt["detail"]["waiting"].as_array().map(Vec::len), Some(1));
    assert!(finished_ok(abandoned, 15).await);
    t.api(
        reqwest::Method::PUT,
        &format!("/api/v1/agents/{a201}/state"),
        Some(serde_json::json!({"state": "available"})),
    )
    .await;

    let answered = t.carrier(&scenario("carrier.xml"), "09000000011", 3000);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rt = t
        .api(reqwest::Method::GET, "/api/v1/realtime?group=1", None)
        .await;
    assert_eq!(rt["groups"][0]["on_call"].as_u64(), Some(1), "{rt}");
    assert!(finished_ok(answered, 20).await && finished_ok(phone, 10).await);
    let rt = t
        .api(
            reqwest::Method::GET,
            "/api/v1/realtime?group=1&hours=3",
            None,
        )
        .await;
    let row = &rt["groups"][0];
    assert_eq!(
        (row["answered"].as_u64(), row["abandoned"].as_u64()),
        (Some(1), Some(1)),
        "{rt}"
    );
    assert_eq!(row["answer_rate_pct"].as_f64(), Some(50.0));
    assert_eq!(
        rt["detail"]["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["agent"] == a201)
            .unwrap()["calls_today"],
        1
    );
    assert_eq!(
        rt["buckets"].as_array().map(Vec::len),
        Some(3),
        "three hourly buckets"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_registered_over_tcp_is_called_over_tcp() {
    let t = Tsunagu::start().await;
    let port = free_sip_port();
    let phone = t.sipp(
        &scenario("answer.xml"),
        &[
            "-t",
            "t1",
            "-p",
            &port.to_string(),
            "-mp",
            &free_udp_port().to_string(),
            "-rtp_echo",
            "-d",
            "300",
        ],
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reg = t.sipp(
        &scenario("register.xml"),
        &[
            "-t",
            "t1",
            "-p",
            &free_sip_port().to_string(),
            "-au",
            "201",
            "-ap",
            "demo201",
            "-key",
            "user",
            "201",
            "-key",
            "contact_port",
            &port.to_string(),
        ],
    );
    assert!(finished_ok(reg, 10).await, "REGISTER over TCP");
    let carrier = t.carrier(&scenario("carrier.xml"), "09011112222", 1500);
    assert!(
        finished_ok(carrier, 30).await,
        "the carrier's call over UDP"
    );
    assert!(finished_ok(phone, 10).await, "the phone answered over TCP");
    assert_eq!(t.calls().await[0]["kind"], "incoming");
}
