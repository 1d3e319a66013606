//! A real softphone, not SIPp: baresip (Debian `baresip-core`) as agent 201's desk phone against
//! the real binary, on loopback. It registers with digest auth, answers a queue call with RTP
//! both ways, places a call (answering the 407 challenge) and sends an RFC 4733 digit.
//!
//! baresip is driven through its `ctrl_tcp` module (netstring-framed JSON commands and events).
//! It will not use a loopback interface for media (`net_interface lo`: "could not get network
//! address"; left to itself it writes the machine's eth0 address into its SDP, where no test
//! may send), so the test runs in a network namespace of its own: the test re-runs itself under
//! `unshare -n` (root, as in CI), makes a veth pair inside it — Tsunagu and SIPp on
//! 10.99.0.1, baresip on 10.99.0.2 — and nothing leaves it; the namespace and its links vanish
//! with the process. See docs/telephony.md, "Real softphones".
//!
//! The same over SIP over TLS (issue 10 item 22): baresip registers over TLS with a
//! certificate made by the test (given to it as its CA), is called down that connection and
//! dials over it. SIPp 3.6.1 here is built without TLS, so baresip is the TLS peer.

use serde_json::Value;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sipp")
        .join(name)
}

/// Tsunagu and SIPp inside the namespace.
const HOST: &str = "10.99.0.1";
/// baresip inside the namespace.
const PHONE: &str = "10.99.0.2";
/// Set in the re-run inside the namespace.
const IN_NETNS: &str = "TSUNAGU_TEST_IN_NETNS";

fn free_udp_port() -> u16 {
    UdpSocket::bind((HOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An even port for SIPp's `-mp`: SIPp binds it and the one two above (video).
fn free_media_port() -> u16 {
    loop {
        let port = free_udp_port();
        if port.is_multiple_of(2)
            && port <= u16::MAX - 3
            && (1..=3).all(|k| UdpSocket::bind((HOST, port + k)).is_ok())
        {
            return port;
        }
    }
}

fn free_tcp_port() -> u16 {
    TcpListener::bind((HOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port free for both UDP and TCP (SIP listens on both).
fn free_sip_port() -> u16 {
    loop {
        let udp = UdpSocket::bind((HOST, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind((HOST, port)).is_ok() {
            return port;
        }
    }
}

/// 8 kHz 16-bit mono WAV of a tone: the softphone's microphone.
fn tone_wav(hz: f64, secs: u32) -> Vec<u8> {
    let data: Vec<u8> = (0..secs * 8000)
        .map(|i| (8000.0 * (f64::from(i) * 2.0 * std::f64::consts::PI * hz / 8000.0).sin()) as i16)
        .flat_map(|s| s.to_le_bytes())
        .collect();
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
    w
}

/// A self-signed certificate for the namespace's server address, in PEM files.
struct Cert {
    pem: String,
    dir: tempfile::TempDir,
}

impl Cert {
    fn new() -> Cert {
        let mut params = rcgen::CertificateParams::new(vec![HOST.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, HOST);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        Cert {
            pem: cert.pem(),
            dir,
        }
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }
}

struct Tsunagu {
    _child: Child,
    http: String,
    sip: String,
    /// SIP over TLS, when started with a certificate.
    sip_tls: Option<String>,
    data: tempfile::TempDir,
    client: reqwest::Client,
    csrf: String,
}

impl Tsunagu {
    /// With `tls`, HTTPS and SIP over TLS on that certificate.
    async fn start(tls: Option<&Cert>) -> Tsunagu {
        let data = tempfile::tempdir().unwrap();
        let http_port = free_tcp_port();
        let sip_port = free_sip_port();
        // Below the ephemeral ports (32768 and up) that the SIPp peers bind.
        let base = 10000 + (sip_port as u32 % 200) * 100;
        let sip_tls = tls.map(|_| format!("{HOST}:{}", free_tcp_port()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_tsunagu"));
        command.arg("serve");
        if let (Some(cert), Some(addr)) = (tls, &sip_tls) {
            command
                .arg("--tls-cert")
                .arg(cert.cert())
                .arg("--tls-key")
                .arg(cert.key())
                .args(["--sip-tls-addr", addr]);
        }
        let child = command
            .args(["--demo", "--data-dir"])
            .arg(data.path())
            .args(["--http-addr", &format!("{HOST}:{http_port}")])
            .args(["--sip-addr", &format!("{HOST}:{sip_port}")])
            .args(["--rtp-ports", &format!("{}-{}", base, base + 99)])
            .args(["--web-dir", "/nonexistent"])
            // libre answers a 401 that also offers SHA-256 with ENOSYS ("Register: Function not
            // implemented"): baresip needs the MD5-only challenge.
            .arg("--sip-md5-only")
            .env("RUST_LOG", "warn")
            .env("TSUNAGU_DEMO_AUDIO", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut client = reqwest::Client::builder().cookie_store(true);
        let http = match tls {
            Some(cert) => {
                client = client.tls_built_in_root_certs(false).add_root_certificate(
                    reqwest::Certificate::from_pem(cert.pem.as_bytes()).unwrap(),
                );
                format!("https://{HOST}:{http_port}")
            }
            None => format!("http://{HOST}:{http_port}"),
        };
        let client = client.build().unwrap();
        for _ in 0..200 {
            let health = client.get(format!("{http}/healthz")).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
        Tsunagu {
            _child: child,
            http,
            sip: format!("{HOST}:{sip_port}"),
            sip_tls,
            data,
            client,
            csrf,
        }
    }

    async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.http))
            .header("x-csrf-token", &self.csrf)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn patch(&self, path: &str, body: Value) {
        let r = self
            .client
            .patch(format!("{}{path}", self.http))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    /// Call history once no call is in progress any more.
    async fn calls(&self, count: usize) -> Vec<Value> {
        let mut items = Vec::new();
        for _ in 0..100 {
            items = self.get("/api/v1/calls").await["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if items.len() >= count && items.iter().all(|c| c["in_progress"] == false) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        items
    }

    /// Events of one call from the log.
    async fn events(&self, call: i64) -> Vec<(String, Value)> {
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

    fn sipp(&self, scenario_file: &Path, args: &[&str]) -> Child {
        Command::new("sipp")
            .arg(&self.sip)
            .arg("-sf")
            .arg(scenario_file)
            .args([
                "-i",
                HOST,
                "-m",
                "1",
                "-nostdin",
                "-timeout",
                "40",
                "-timeout_error",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("sipp (Debian package sip-tester) must be installed")
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

/// baresip, and the control connection to it.
struct Baresip {
    _child: Child,
    ctrl: TcpStream,
    buf: Vec<u8>,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Baresip {
    /// Starts baresip as terminal `user` (password `demo<user>`) of `server`, over UDP, or over
    /// TLS trusting `ca`.
    async fn start(server: &str, user: &str, ca: Option<&Cert>) -> Baresip {
        Baresip::start_with(server, user, ca, false).await
    }

    /// Like [`Baresip::start`]; with `srtp`, its calls must be SDES-SRTP (`mediaenc=srtp-mand`:
    /// RTP/SAVP offers with `a=crypto`, plain answers refused).
    async fn start_with(server: &str, user: &str, ca: Option<&Cert>, srtp: bool) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        let sip_port = UdpSocket::bind((PHONE, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ctrl_port = free_tcp_port();
        let rtp = 39000 + (sip_port as u32 % 50) * 20;
        let mic = dir.path().join("mic.wav");
        std::fs::write(&mic, tone_wav(440.0, 60)).unwrap();
        let transport = if ca.is_some() { "tls" } else { "udp" };
        std::fs::write(
            dir.path().join("accounts"),
            format!("<sip:{user}@{server};transport={transport}>;auth_pass=demo{user};regint=600;answermode=manual{mediaenc}\n",
                mediaenc = if srtp { ";mediaenc=srtp-mand" } else { "" }),
        )
        .unwrap();
        let cafile = match ca {
            Some(c) => format!("sip_cafile {}\n", c.cert().display()),
            None => String::new(),
        };
        std::fs::write(
            dir.path().join("config"),
            format!(
                "poll_method epoll\n\
                 sip_listen {PHONE}:{sip_port}\n\
                 rtp_ports {rtp}-{}\n\
                 audio_source aufile,{mic}\n\
                 audio_player aufile,/dev/null\n\
                 audio_alert aufile,/dev/null\n\
                 ctrl_tcp_listen {HOST}:{ctrl_port}\n\
                 module_path /usr/lib/baresip/modules\n\
                 module g711.so\n\
                 module aufile.so\n\
                 module_app account.so\n\
                 module_app menu.so\n\
                 module_app ctrl_tcp.so\n\
                 {srtp}\
                 {cafile}",
                rtp + 19,
                srtp = if srtp { "module srtp.so\n" } else { "" },
                mic = mic.display(),
            ),
        )
        .unwrap();
        let log = dir.path().join("baresip.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .arg("-v")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .expect("baresip (Debian package baresip-core) must be installed");
        let mut ctrl = None;
        for _ in 0..100 {
            if let Ok(c) = TcpStream::connect((HOST, ctrl_port)).await {
                ctrl = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Baresip {
            _child: child,
            ctrl: ctrl.expect("baresip's ctrl_tcp"),
            buf: Vec::new(),
            _dir: dir,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the 200 to its REGISTER; panics on a failed registration.
    async fn wait_registered(&self) {
        for _ in 0..200 {
            let log = self.log();
            assert!(
                !log.contains("Register:"),
                "baresip failed to register:\n{log}"
            );
            if log.contains("200 OK (Tsunagu) [1 binding]") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no registration:\n{}", self.log());
    }

    async fn command(&mut self, command: &str, params: &str) {
        let body =
            serde_json::json!({"command": command, "params": params, "token": command}).to_string();
        let frame = format!("{}:{body},", body.len());
        self.ctrl.write_all(frame.as_bytes()).await.unwrap();
    }

    /// The next netstring message from baresip.
    async fn next_message(&mut self) -> Value {
        loop {
            if let Some(colon) = self.buf.iter().position(|&b| b == b':') {
                let len: usize = std::str::from_utf8(&self.buf[..colon])
                    .unwrap()
                    .parse()
                    .unwrap();
                if self.buf.len() > colon + len + 1 {
                    let body = self.buf[colon + 1..colon + 1 + len].to_vec();
                    self.buf.drain(..colon + len + 2);
                    return serde_json::from_slice(&body).unwrap();
                }
            }
            let mut chunk = [0u8; 4096];
            let n = self.ctrl.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "baresip closed its control connection:\n{}",
                self.log()
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Waits (up to `secs`) for the event `kind`; panics on `fail` events.
    async fn wait_event(&mut self, kind: &str, fail: &[&str], secs: u64) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let m = tokio::time::timeout_at(deadline, self.next_message())
                .await
                .unwrap_or_else(|_| panic!("no {kind} from baresip:\n{}", self.log()));
            if m["event"] != true {
                continue;
            }
            let t = m["type"].as_str().unwrap_or_default();
            if t == kind {
                return m;
            }
            assert!(!fail.contains(&t), "baresip: {m}\n{}", self.log());
        }
    }
}

/// Runs `ip` inside the namespace.
fn ip(args: &str) {
    let status = std::process::Command::new("ip")
        .args(args.split_whitespace())
        .status()
        .expect("ip (Debian package iproute2)");
    assert!(status.success(), "ip {args}");
}

/// Runs `test` in a network namespace of its own with the veth pair: the test binary runs
/// itself again, only `name`, under `unshare --net`.
fn in_netns<F: std::future::Future<Output = ()>>(name: &str, test: impl FnOnce() -> F) {
    if std::env::var_os(IN_NETNS).is_none() {
        let status = std::process::Command::new("unshare")
            .args(["--net", "--"])
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads", "1"])
            .env(IN_NETNS, "1")
            .status()
            .expect("unshare (util-linux)");
        assert!(
            status.success(),
            "the test in its network namespace failed (needs root: unshare --net)"
        );
        return;
    }
    ip("link set lo up");
    ip("link add tsunagu0 type veth peer name tsunagu1");
    ip(&format!("addr add {HOST}/24 dev tsunagu0"));
    ip(&format!("addr add {PHONE}/24 dev tsunagu1"));
    ip("link set tsunagu0 up");
    ip("link set tsunagu1 up");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(test());
}

#[test]
fn baresip_registers_answers_a_queue_call_dials_and_sends_dtmf() {
    in_netns(
        "baresip_registers_answers_a_queue_call_dials_and_sends_dtmf",
        in_namespace,
    );
}

async fn in_namespace() {
    let t = Tsunagu::start(None).await;
    // The demo carrier calls from the namespace's address, not 127.0.0.1.
    t.patch(
        "/api/v1/trunks/1",
        serde_json::json!({"allowed_sources": [HOST]}),
    )
    .await;
    let mut phone = Baresip::start(&t.sip, "201", None).await;
    // Digest registration (401, then REGISTER with Authorization). It may well be done before
    // the control connection is up (events only go to a connected client): baresip's own
    // output says it.
    phone.wait_registered().await;

    // A carrier calls the demo number: the Support group rings 201's baresip, which answers.
    let carrier = t.sipp(
        &scenario("carrier.xml"),
        &[
            "-s",
            "0312345678",
            "-key",
            "caller",
            "09011112222",
            "-d",
            "3000",
            "-p",
            &free_udp_port().to_string(),
            "-mp",
            &free_media_port().to_string(),
        ],
    );
    phone.wait_event("CALL_INCOMING", &[], 20).await;
    phone.command("accept", "").await;
    phone
        .wait_event("CALL_ESTABLISHED", &["CALL_CLOSED"], 10)
        .await;
    assert!(finished_ok(carrier, 30).await, "the carrier's call failed");
    phone.wait_event("CALL_CLOSED", &[], 10).await;

    // 201 dials extension 202, a SIPp phone that answers and echoes.
    let answer_port = free_udp_port();
    let callee = t.sipp(
        &scenario("answer.xml"),
        &[
            "-p",
            &answer_port.to_string(),
            "-mp",
            &free_media_port().to_string(),
            "-rtp_echo",
            "-d",
            "200",
        ],
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reg = t.sipp(
        &scenario("register.xml"),
        &[
            "-p",
            &free_udp_port().to_string(),
            "-au",
            "202",
            "-ap",
            "demo202",
            "-key",
            "user",
            "202",
            "-key",
            "contact_port",
            &answer_port.to_string(),
        ],
    );
    assert!(finished_ok(reg, 10).await, "registration of 202");
    phone.command("dial", &format!("sip:202@{}", t.sip)).await;
    phone
        .wait_event("CALL_ESTABLISHED", &["CALL_CLOSED"], 20)
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    phone.command("sndcode", "5").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    phone.command("hangup", "").await;
    phone.wait_event("CALL_CLOSED", &[], 10).await;
    assert!(finished_ok(callee, 10).await, "202 saw the call through");

    let calls = t.calls(2).await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    let incoming = calls.iter().find(|c| c["kind"] == "incoming").unwrap();
    let agents = t.get("/api/v1/agents?login_id=201").await;
    assert_eq!(incoming["agent_id"], agents["items"][0]["id"], "{incoming}");
    let events = t.events(incoming["id"].as_i64().unwrap()).await;
    let (to_agent, to_caller) = media_packets(&events);
    // As in telephony.rs: SIPp's pcap and baresip's microphone, counted by the relay.
    assert!(
        to_agent >= 20 && to_caller >= 20,
        "queue call, RTP both ways: {to_agent} / {to_caller}"
    );

    let internal = calls
        .iter()
        .find(|c| c["kind"] != "incoming")
        .unwrap_or_else(|| panic!("{calls:?}"));
    let events = t.events(internal["id"].as_i64().unwrap()).await;
    let (from_baresip, to_baresip) = media_packets(&events);
    assert!(
        from_baresip >= 20 && to_baresip >= 20,
        "dialled call, RTP both ways: {from_baresip} / {to_baresip}"
    );
    assert!(
        events
            .iter()
            .any(|(k, d)| k == "call.dtmf" && d["digit"] == "5" && d["from"] == "caller"),
        "baresip's RFC 4733 digit: {events:?}"
    );
}

#[test]
fn baresip_over_tls_registers_is_called_over_its_connection_and_dials() {
    in_netns(
        "baresip_over_tls_registers_is_called_over_its_connection_and_dials",
        over_tls,
    );
}

async fn over_tls() {
    let cert = Cert::new();
    let t = Tsunagu::start(Some(&cert)).await;
    t.patch(
        "/api/v1/trunks/1",
        serde_json::json!({"allowed_sources": [HOST]}),
    )
    .await;
    let sip_tls = t.sip_tls.clone().unwrap();
    let mut phone = Baresip::start(&sip_tls, "201", Some(&cert)).await;
    phone.wait_registered().await;
    // The binding remembers the wire (kept across a restart as well; written soon after).
    let store = store::Store::open_data_dir(t.data.path()).await.unwrap();
    let mut kept = Vec::new();
    for _ in 0..50 {
        let mut conn = store.conn().await.unwrap();
        kept = store::registrations::live(&mut conn, 0)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.username == "201")
            .map(|r| r.transport)
            .collect();
        if !kept.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(kept, ["tls"], "201's binding");

    // A carrier (SIPp over UDP) calls the demo number: 201 is rung down its TLS connection,
    // answers, and the carrier's hang-up reaches it as a BYE over TLS.
    let carrier = t.sipp(
        &scenario("carrier.xml"),
        &[
            "-s",
            "0312345678",
            "-key",
            "caller",
            "09011112222",
            "-d",
            "3000",
            "-p",
            &free_udp_port().to_string(),
            "-mp",
            &free_media_port().to_string(),
        ],
    );
    phone.wait_event("CALL_INCOMING", &[], 20).await;
    phone.command("accept", "").await;
    phone
        .wait_event("CALL_ESTABLISHED", &["CALL_CLOSED"], 10)
        .await;
    assert!(finished_ok(carrier, 30).await, "the carrier's call failed");
    phone.wait_event("CALL_CLOSED", &[], 10).await;

    // 201 dials extension 202 (SIPp over UDP) over TLS, answering the 407 over TLS, and hangs
    // up with a BYE over TLS.
    let answer_port = free_udp_port();
    let callee = t.sipp(
        &scenario("answer.xml"),
        &[
            "-p",
            &answer_port.to_string(),
            "-mp",
            &free_media_port().to_string(),
            "-rtp_echo",
            "-d",
            "200",
        ],
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reg = t.sipp(
        &scenario("register.xml"),
        &[
            "-p",
            &free_udp_port().to_string(),
            "-au",
            "202",
            "-ap",
            "demo202",
            "-key",
            "user",
            "202",
            "-key",
            "contact_port",
            &answer_port.to_string(),
        ],
    );
    assert!(finished_ok(reg, 10).await, "registration of 202");
    phone
        .command("dial", &format!("sip:202@{sip_tls};transport=tls"))
        .await;
    phone
        .wait_event("CALL_ESTABLISHED", &["CALL_CLOSED"], 20)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    phone.command("hangup", "").await;
    phone.wait_event("CALL_CLOSED", &[], 10).await;
    assert!(finished_ok(callee, 10).await, "202 saw the call through");

    let calls = t.calls(2).await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    for call in &calls {
        assert_eq!(call["in_progress"], false, "{call}");
        let events = t.events(call["id"].as_i64().unwrap()).await;
        let (one_way, other_way) = media_packets(&events);
        assert!(
            one_way >= 20 && other_way >= 20,
            "{}: RTP both ways: {one_way} / {other_way}",
            call["kind"]
        );
    }
}

#[test]
fn baresip_over_tls_calls_in_with_sdes_srtp_relayed_to_plain_rtp() {
    in_netns(
        "baresip_over_tls_calls_in_with_sdes_srtp_relayed_to_plain_rtp",
        srtp_over_tls,
    );
}

/// Issue 10 item 22: a phone that insists on SRTP calls in over TLS; its leg is SRTP, the
/// callee's (SIPp, echoing) plain RTP, and audio crosses the relay both ways.
async fn srtp_over_tls() {
    let cert = Cert::new();
    let t = Tsunagu::start(Some(&cert)).await;
    let sip_tls = t.sip_tls.clone().unwrap();
    let mut phone = Baresip::start_with(&sip_tls, "201", Some(&cert), true).await;
    phone.wait_registered().await;
    let answer_port = free_udp_port();
    let trace = tempfile::tempdir().unwrap();
    let messages = trace.path().join("messages.log");
    let callee = t.sipp(
        &scenario("answer.xml"),
        &[
            "-p",
            &answer_port.to_string(),
            "-mp",
            &free_media_port().to_string(),
            "-rtp_echo",
            "-d",
            "200",
            "-trace_msg",
            "-message_file",
            messages.to_str().unwrap(),
        ],
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reg = t.sipp(
        &scenario("register.xml"),
        &[
            "-p",
            &free_udp_port().to_string(),
            "-au",
            "202",
            "-ap",
            "demo202",
            "-key",
            "user",
            "202",
            "-key",
            "contact_port",
            &answer_port.to_string(),
        ],
    );
    assert!(finished_ok(reg, 10).await, "registration of 202");
    phone
        .command("dial", &format!("sip:202@{sip_tls};transport=tls"))
        .await;
    phone
        .wait_event("CALL_ESTABLISHED", &["CALL_CLOSED"], 20)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    phone.command("hangup", "").await;
    phone.wait_event("CALL_CLOSED", &[], 10).await;
    assert!(finished_ok(callee, 10).await, "202 saw the call through");
    let log = phone.log();
    assert!(
        log.contains("SRTP is Enabled"),
        "baresip took our a=crypto:\n{log}"
    );
    assert!(
        !log.contains("failed to decrypt"),
        "what we sent baresip is SRTP with the key we gave it:\n{log}"
    );

    // 202 was offered plain RTP, and never the caller's key.
    let seen = std::fs::read_to_string(&messages).unwrap_or_default();
    assert!(
        seen.contains("m=audio") && seen.contains("RTP/AVP") && !seen.contains("SAVP"),
        "202's INVITE:\n{seen}"
    );
    assert!(!seen.contains("a=crypto"), "202's INVITE:\n{seen}");

    let calls = t.calls(1).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let events = t.events(calls[0]["id"].as_i64().unwrap()).await;
    let media = events
        .iter()
        .find(|(k, _)| k == "call.media")
        .map(|(_, d)| d.clone())
        .unwrap_or_default();
    assert_eq!(media["caller_srtp"], true, "{media}");
    // baresip sends one RTCP APP packet ("PING"/"PONG", 16 bytes, to open NAT pinholes) in
    // the clear before its SRTP is set up: refusing it is right, anything more is not.
    assert!(
        media["caller_unauthenticated_packets"]
            .as_u64()
            .is_some_and(|n| n <= 1),
        "{media}"
    );
    assert_eq!(media["callee_unauthenticated_packets"], 0, "{media}");
    let (one_way, other_way) = media_packets(&events);
    assert!(
        one_way >= 20 && other_way >= 20,
        "SRTP in, plain RTP out, and back: {one_way} / {other_way}: {media}"
    );
}
