//! SIP digest authentication under attack, end to end against the real binary: SIPp as the
//! phones, and hand-made requests from many loopback addresses (all of 127.0.0.0/8 is this
//! machine) as the attacker who captured or guesses credentials. AUTH/SIP hardening (issue 10,
//! items 2 and 4).

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sipp")
        .join(name)
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

/// A UDP port free on `ip` right now (SIPp binds it a moment later).
fn free_udp_port(ip: &str) -> u16 {
    UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Tsunagu {
    _child: Child,
    sip: String,
    _data: tempfile::TempDir,
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
        // Below the ephemeral ports (32768 and up) that the SIPp peers bind.
        let base = 10000 + (sip_port as u32 % 200) * 100;
        let child = Command::new(env!("CARGO_BIN_EXE_tsunagu"))
            .args(["serve", "--demo", "--data-dir"])
            .arg(data.path())
            .args(["--http-addr", &format!("127.0.0.1:{http_port}")])
            .args(["--sip-addr", &format!("127.0.0.1:{sip_port}")])
            .args(["--rtp-ports", &format!("{}-{}", base, base + 99)])
            .args(["--web-dir", "/nonexistent"])
            .env("RUST_LOG", "warn")
            .env("TSUNAGU_DEMO_AUDIO", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let http = format!("http://127.0.0.1:{http_port}");
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let health = client.get(format!("{http}/healthz")).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Tsunagu {
            _child: child,
            sip: format!("127.0.0.1:{sip_port}"),
            _data: data,
        }
    }

    /// SIPp from `ip` against Tsunagu with these extra arguments.
    fn sipp(&self, ip: &str, scenario_file: &Path, args: &[&str]) -> Child {
        Command::new("sipp")
            .arg(&self.sip)
            .arg("-sf")
            .arg(scenario_file)
            .args(["-i", ip, "-p", &free_udp_port(ip).to_string()])
            .args(["-m", "1", "-nostdin", "-timeout", "20", "-timeout_error"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("sipp (Debian package sip-tester) must be installed")
    }

    /// A SIPp phone registering `user` from `ip` with `password`; whether it got its 200.
    async fn sipp_register(&self, ip: &str, user: &str, password: &str, extra: &[&str]) -> bool {
        let mut args = vec![
            "-au",
            user,
            "-ap",
            password,
            "-key",
            "user",
            user,
            "-key",
            "contact_port",
            "5999",
        ];
        args.extend_from_slice(extra);
        finished_ok(self.sipp(ip, &scenario("register.xml"), &args), 20).await
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

/// A hand-made SIP peer on one loopback address: the attacker, or a phone whose every byte the
/// test controls.
struct Peer {
    sock: UdpSocket,
    ip: String,
    port: u16,
    server: String,
    seq: std::cell::Cell<u32>,
}

/// A response: status code and headers (name lowercased).
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Peer {
    fn new(ip: &str, server: &str) -> Peer {
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        Peer {
            sock,
            ip: ip.to_owned(),
            port,
            server: server.to_owned(),
            seq: std::cell::Cell::new(0),
        }
    }

    fn uri(&self) -> String {
        format!("sip:{}", self.server)
    }

    fn next_seq(&self) -> u32 {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        n
    }

    /// A REGISTER for `user` whose Contact is this peer, with `auth` (a whole header line).
    fn register(&self, user: &str, auth: Option<(&str, &str)>) -> Resp {
        let n = self.next_seq();
        let auth = auth
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .unwrap_or_default();
        let text = format!(
            "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK-{ip}-{port}-{n};rport\r\nFrom: <sip:{user}@127.0.0.1>;tag=t{n}\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: reg-{ip}-{port}-{n}\r\nCSeq: {n} REGISTER\r\nContact: <sip:{user}@{ip}:{port}>\r\nExpires: 300\r\n{auth}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            uri = self.uri(),
            ip = self.ip,
            port = self.port,
        );
        self.exchange(&text, &format!("reg-{}-{}-{n}", self.ip, self.port))
    }

    /// An INVITE from terminal `user` to `to`, with `auth` (a whole header line).
    fn invite(&self, user: &str, to: &str, auth: Option<(&str, &str)>) -> Resp {
        let n = self.next_seq();
        let auth = auth
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .unwrap_or_default();
        let sdp = format!(
            "v=0\r\no=p 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
            ip = self.ip
        );
        let call_id = format!("inv-{}-{}-{n}", self.ip, self.port);
        let text = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK-{call_id};rport\r\nFrom: <sip:{user}@127.0.0.1>;tag=t{n}\r\nTo: <sip:{to}@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:{user}@{ip}:{port}>\r\n{auth}Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            uri = self.invite_uri(to),
            ip = self.ip,
            port = self.port,
            len = sdp.len(),
        );
        let resp = self.exchange(&text, &call_id);
        // A final answer to an INVITE is acknowledged (no retransmissions to confuse later steps).
        let via = format!(
            "SIP/2.0/UDP {}:{};branch=z9hG4bK-{call_id};rport",
            self.ip, self.port
        );
        let to_header = resp.header("to").unwrap_or_default().to_owned();
        let ack = format!(
            "ACK {uri} SIP/2.0\r\nVia: {via}\r\nFrom: <sip:{user}@127.0.0.1>;tag=t{n}\r\nTo: {to_header}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            uri = self.invite_uri(to),
        );
        self.sock.send_to(ack.as_bytes(), &self.server).unwrap();
        resp
    }

    fn invite_uri(&self, to: &str) -> String {
        format!("sip:{to}@{}", self.server)
    }

    /// Sends `text` and returns the first final response of its transaction.
    fn exchange(&self, text: &str, call_id: &str) -> Resp {
        self.sock.send_to(text.as_bytes(), &self.server).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = vec![0u8; 65536];
        while Instant::now() < deadline {
            let Ok((n, _)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let mut lines = msg.split("\r\n");
            let first = lines.next().unwrap_or_default();
            let Some(status) = first
                .strip_prefix("SIP/2.0 ")
                .and_then(|r| r.get(..3))
                .and_then(|s| s.parse::<u16>().ok())
            else {
                continue;
            };
            let headers: Vec<(String, String)> = lines
                .take_while(|l| !l.is_empty())
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let ours = headers
                .iter()
                .any(|(n, v)| (n == "call-id" || n == "i") && v == call_id);
            if ours && status >= 200 {
                return Resp { status, headers };
            }
        }
        panic!("no final response to {call_id} from {}", self.ip);
    }

    /// The first (MD5) challenge of a 401/407.
    fn challenge(resp: &Resp) -> String {
        let name = if resp.status == 407 {
            "proxy-authenticate"
        } else {
            "www-authenticate"
        };
        resp.header(name)
            .unwrap_or_else(|| panic!("a {} without {name}", resp.status))
            .to_owned()
    }
}

/// Our answer to `challenge` as a phone computes it; without qop when `rfc2069`.
fn answer(challenge: &str, method: &str, uri: &str, user: &str, rfc2069: bool) -> String {
    let challenge = if rfc2069 {
        challenge.replace(", qop=\"auth\"", "")
    } else {
        challenge.to_owned()
    };
    let password = format!("demo{user}");
    sip::digest::answer_challenge(&challenge, method, uri, user, &password, "0a4f113b").unwrap()
}

/// Item 2: a captured REGISTER Authorization replayed from another host re-registered the
/// terminal. Now a nonce is good only from the address it was sent to, and only once without
/// qop; with qop=auth the nc is tracked.
#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_register_authorization_is_refused() {
    let t = Tsunagu::start().await;
    let phone = Peer::new("127.0.0.2", &t.sip);
    let attacker = Peer::new("127.0.0.3", &t.sip);

    // The real phone, SIPp, registers; the attacker captured its REGISTER on the wire.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("register.msg");
    let trace_s = trace.display().to_string();
    assert!(
        t.sipp_register(
            "127.0.0.2",
            "201",
            "demo201",
            &["-trace_msg", "-message_file", &trace_s]
        )
        .await
    );
    let captured = std::fs::read_to_string(&trace).unwrap();
    let auth = captured
        .lines()
        .find_map(|l| l.trim().strip_prefix("Authorization:"))
        .expect("SIPp's REGISTER with credentials")
        .trim()
        .to_owned();
    assert!(auth.contains("qop=auth"), "{auth}");
    // Replayed from another host, with the attacker's own Contact (the replay would steal the
    // terminal's calls): refused.
    let r = attacker.register("201", Some(("Authorization", &auth)));
    assert_ne!(r.status, 200, "the replay from another host");
    // From the phone's own address too (nc already used).
    let r = phone.register("201", Some(("Authorization", &auth)));
    assert_eq!(r.status, 403, "the replay from the phone's address");

    // A response captured before the phone's own request arrives, sent first from elsewhere:
    // refused with a fresh challenge (the nonce was sent to the phone), and the phone's
    // request still works.
    let ch = Peer::challenge(&phone.register("201", None));
    let creds = answer(&ch, "REGISTER", &phone.uri(), "201", false);
    let r = attacker.register("201", Some(("Authorization", &creds)));
    assert_eq!(r.status, 401, "a nonce from another host");
    assert!(Peer::challenge(&r).contains("stale=true"));
    assert_eq!(
        phone
            .register("201", Some(("Authorization", &creds)))
            .status,
        200
    );

    // RFC 2069 (no qop, no nc): good for one request only.
    let ch = Peer::challenge(&phone.register("201", None));
    let legacy = answer(&ch, "REGISTER", &phone.uri(), "201", true);
    assert!(!legacy.contains("qop"), "{legacy}");
    assert_eq!(
        attacker
            .register("201", Some(("Authorization", &legacy)))
            .status,
        401
    );
    assert_eq!(
        phone
            .register("201", Some(("Authorization", &legacy)))
            .status,
        200,
        "an RFC 2069 phone registers"
    );
    for replayer in [&phone, &attacker] {
        let r = replayer.register("201", Some(("Authorization", &legacy)));
        assert_eq!(r.status, 401, "an RFC 2069 replay from {}", replayer.ip);
    }
}

/// Item 2, toll fraud: a captured Proxy-Authorization replayed on INVITE.
#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_invite_proxy_authorization_is_refused() {
    let t = Tsunagu::start().await;
    let phone = Peer::new("127.0.0.4", &t.sip);
    let attacker = Peer::new("127.0.0.5", &t.sip);
    // 202 is not registered: an authenticated INVITE gets past 407 to a final 480.
    for rfc2069 in [false, true] {
        let r = phone.invite("201", "202", None);
        assert_eq!(r.status, 407);
        let creds = answer(
            &Peer::challenge(&r),
            "INVITE",
            &phone.invite_uri("202"),
            "201",
            rfc2069,
        );
        let h = ("Proxy-Authorization", creds.as_str());
        assert_eq!(
            attacker.invite("201", "202", Some(h)).status,
            407,
            "sent first from another host (rfc2069: {rfc2069})"
        );
        let first = phone.invite("201", "202", Some(h)).status;
        assert_ne!(first, 407, "the phone's own call (rfc2069: {rfc2069})");
        assert!(first >= 400, "202 is not registered: {first}");
        for replayer in [&phone, &attacker] {
            let again = replayer.invite("201", "202", Some(h)).status;
            assert!(
                again == 407 || again == 403,
                "replayed from {} (rfc2069: {rfc2069}): {again}",
                replayer.ip
            );
        }
    }
}

/// A guess from `peer` for `user`: a well-formed digest with a wrong response (a scanner does
/// not even need a challenge for that); the status it got.
fn wrong_guess(peer: &Peer, user: &str) -> u16 {
    let auth = format!(
        "Digest username=\"{user}\", realm=\"tsunagu\", nonce=\"bogus\", uri=\"{}\", response=\"00000000000000000000000000000000\"",
        peer.uri()
    );
    peer.register(user, Some(("Authorization", &auth))).status
}

/// The right password for `user` from `peer`, answering a fresh challenge; the final status.
fn right_password(peer: &Peer, user: &str) -> u16 {
    let r = peer.register(user, None);
    if r.status != 401 {
        return r.status;
    }
    let creds = answer(&Peer::challenge(&r), "REGISTER", &peer.uri(), user, false);
    peer.register(user, Some(("Authorization", &creds))).status
}

/// Item 4: 300 wrong REGISTERs from one address blocked it, and with it the real phone behind
/// the same NAT address. Now the phone, which had registered from there before, gets through;
/// the guesser stays blocked.
#[tokio::test(flavor = "multi_thread")]
async fn the_phone_behind_a_guessers_address_still_registers() {
    let t = Tsunagu::start().await;
    let nat = "127.0.0.6";
    // The real phone (SIPp) registered a while ago.
    assert!(t.sipp_register(nat, "201", "demo201", &[]).await);
    // A scanner behind the same address: 300 wrong guesses over the usual extensions.
    let scanner = Peer::new(nat, &t.sip);
    let statuses: Vec<u16> = (0..300)
        .map(|i| wrong_guess(&scanner, &format!("{}", 100 + i % 50)))
        .collect();
    assert!(statuses.iter().all(|&s| s == 403), "{statuses:?}");
    // The address is blocked: the right password for an account it never used from there is
    // refused without being checked (nothing tells the scanner a right guess from a wrong one).
    assert_eq!(
        right_password(&scanner, "202"),
        403,
        "the scanner is blocked"
    );
    // The phone's next registration, from the same address, goes through.
    assert!(
        t.sipp_register(nat, "201", "demo201", &[]).await,
        "the phone behind the blocked address registers"
    );
    let phone = Peer::new(nat, &t.sip);
    assert_eq!(right_password(&phone, "201"), 200);
}

/// Item 4: 270 guesses spread over 30 addresses (9 each, under the per-address limit) blocked
/// nothing. Now the account is throttled: new sources are refused for it, the known phone
/// still registers, other accounts are unaffected.
#[tokio::test(flavor = "multi_thread")]
async fn guesses_spread_over_many_addresses_throttle_the_account() {
    let t = Tsunagu::start().await;
    let phone = "127.0.0.7";
    assert!(t.sipp_register(phone, "201", "demo201", &[]).await);
    let mut refused = 0;
    for a in 1..=30 {
        let guesser = Peer::new(&format!("127.0.1.{a}"), &t.sip);
        for _ in 0..9 {
            refused += u32::from(wrong_guess(&guesser, "201") == 403);
        }
        // No single address reached its limit: it may still register its own account.
        if a == 30 {
            assert_eq!(right_password(&guesser, "203"), 200);
        }
    }
    assert_eq!(refused, 270);
    // The right password for 201 from an address that never had it: refused, unchecked.
    let newcomer = Peer::new("127.0.2.1", &t.sip);
    assert_eq!(right_password(&newcomer, "201"), 403, "201 is throttled");
    assert!(
        !t.sipp_register("127.0.2.2", "201", "demo201", &[]).await,
        "201 is throttled for SIPp from a new address too"
    );
    // 202 from the same newcomer is not.
    assert_eq!(right_password(&newcomer, "202"), 200);
    // The phone that registered before the attack still does.
    assert!(
        t.sipp_register(phone, "201", "demo201", &[]).await,
        "the known phone registers during the attack"
    );
}
