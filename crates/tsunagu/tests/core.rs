//! The call-control core end to end: originate and a leg moved between calls (PRES-06
//! callback), the defects fixed when the call decisions left the SIP edge, one call id from the
//! ACD to history across a restart, registrations and interrupted calls across a crash,
//! in-dialog requests matched on their tags, trunk traffic told apart by port, and emergency
//! numbers.

mod common;

use common::*;
use serde_json::{json, Value};
use std::net::UdpSocket;
use std::time::Duration;

/// The agent's status in each group, from the API.
async fn state(t: &Tsunagu, agent: i64) -> Value {
    t.api(
        reqwest::Method::GET,
        &format!("/api/v1/agents/{agent}/state"),
        None,
    )
    .await
}

fn status_in(state: &Value, group: i64) -> Value {
    state["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == group)
        .map(|g| g["status"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn callback_rings_my_own_phone_then_the_colleague_with_audio_both_ways() {
    let t = Tsunagu::start().await;
    let (a201, a202) = (t.agent_id("201").await, t.agent_id("202").await);
    let mine = t.phone("201", "callback_answer.xml", 300).await;
    let colleague = t.phone("202", "answer.xml", 500).await;
    let (me, csrf) = t.login_as("201", "Demo1234").await;
    let r = me
        .post(format!("{}/api/v1/presence/callback", t.http))
        .header("x-csrf-token", &csrf)
        .json(&json!({"agent": a202}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(
        finished_ok(mine, 30).await,
        "my phone was not rung, or the call failed"
    );
    assert!(
        finished_ok(colleague, 15).await,
        "the colleague's phone was not rung"
    );
    let calls = t.calls().await;
    assert_eq!(calls.len(), 1, "one call in history: {calls:?}");
    let c = &calls[0];
    assert_eq!(
        (
            c["direction"].as_str(),
            c["remote_party"].as_str(),
            c["agent_id"].as_i64(),
            c["peer_agent_id"].as_i64(),
            c["hangup_cause"].as_str()
        ),
        (
            Some("internal"),
            Some("202"),
            Some(a201),
            Some(a202),
            Some("caller_hangup")
        )
    );
    let (to_colleague, to_me) = media_packets(&t.events(c["id"].as_i64().unwrap()).await);
    assert!(
        to_colleague > 20 && to_me > 20,
        "audio both ways: {to_colleague} to the colleague, {to_me} back"
    );

    // 203 has no registered desk phone: the callback is refused with the reason.
    let (other, csrf) = t.login_as("203", "Demo1234").await;
    let r = other
        .post(format!("{}/api/v1/presence/callback", t.http))
        .header("x-csrf-token", &csrf)
        .json(&json!({"agent": a202}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(body.to_string().contains("desk phone"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_extension_dialled_on_a_phone_enters_the_queue() {
    let t = Tsunagu::start().await;
    let (a201, a202) = (t.agent_id("201").await, t.agent_id("202").await);
    // 202 is paused in Support: the queue must pass them by (ringing everyone would not).
    t.api(
        reqwest::Method::PUT,
        &format!("/api/v1/agents/{a202}/state"),
        Some(json!({"state": "paused"})),
    )
    .await;
    let mut p202 = t.phone("202", "answer.xml", 100).await;
    let p201 = t.phone("201", "answer.xml", 600).await;
    assert!(
        finished_ok(t.dial("203", "800", 200), 30).await,
        "the call to the group's extension was not answered"
    );
    assert!(finished_ok(p201, 10).await, "201 was not rung");
    assert!(
        p202.try_wait().unwrap().is_none(),
        "the paused agent's phone rang"
    );
    let c = &t.calls().await[0];
    assert_eq!(
        (
            c["direction"].as_str(),
            c["group_id"].as_i64(),
            c["peer_agent_id"].as_i64()
        ),
        (Some("internal"), Some(1), Some(a201))
    );
    let id = c["id"].as_i64();
    let events = queue_events(&t).await;
    for kind in ["queue.entered", "queue.answered", "queue.completed"] {
        assert!(
            events.iter().any(|(k, call)| k == kind && *call == id),
            "{kind} missing: {events:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_internal_call_is_incoming_in_the_called_agents_history() {
    let t = Tsunagu::start().await;
    let phone = t.phone("202", "answer.xml", 300).await;
    assert!(finished_ok(t.dial("201", "202", 200), 30).await);
    assert!(finished_ok(phone, 10).await);
    t.calls().await;
    for (login, kind) in [("201", "outgoing"), ("202", "incoming")] {
        let (c, _) = t.login_as(login, "Demo1234").await;
        let v: Value = c
            .get(format!("{}/api/v1/calls", t.http))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{login}: {v}");
        assert_eq!(items[0]["kind"], kind, "{login}: {v}");
    }
    // 203 was not part of it.
    let (c, _) = t.login_as("203", "Demo1234").await;
    let v: Value = c
        .get(format!("{}/api/v1/calls", t.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 0, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn acw_replaces_available_only_and_never_a_pause_chosen_in_another_group() {
    let t = Tsunagu::start().await;
    let a201 = t.agent_id("201").await;
    let acw = t
        .api(
            reqwest::Method::POST,
            "/api/v1/agent-statuses",
            Some(json!({"name": "後処理", "icon": "edit", "color_fg": "#ffffff", "color_bg": "#aa5500"})),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/groups/1",
        Some(json!({
            "acw_status_id": acw, "acw_time": 3,
            "members": [{"agent_id": a201, "skill_level": 0}]
        })),
    )
    .await;
    let other = t
        .api(
            reqwest::Method::POST,
            "/api/v1/groups",
            Some(json!({"name": "Sales", "members": [{"agent_id": a201, "skill_level": 0}]})),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    // The agent takes a break in Sales only.
    t.api(
        reqwest::Method::PUT,
        &format!("/api/v1/agents/{a201}/state"),
        Some(json!({"state": "paused", "group": other})),
    )
    .await;
    let phone = t.phone("201", "answer.xml", 200).await;
    let carrier = t.carrier(&scenario("carrier.xml"), "09011112222", 1000);
    assert!(finished_ok(carrier, 20).await && finished_ok(phone, 10).await);
    t.calls().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = state(&t, a201).await;
    assert_eq!(
        status_in(&s, 1),
        json!({"status": "paused", "pause": {"kind": "acw", "status_id": acw}}),
        "{s}"
    );
    assert_eq!(
        status_in(&s, other),
        json!({"status": "paused", "pause": {"kind": "manual"}}),
        "the break chosen in Sales is not turned into ACW: {s}"
    );
    // The ACW ends after 3 s: available in Support, still on the break in Sales.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let s = state(&t, a201).await;
    assert_eq!(status_in(&s, 1), json!({"status": "available"}), "{s}");
    assert_eq!(
        status_in(&s, other),
        json!({"status": "paused", "pause": {"kind": "manual"}}),
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_acd_call_id_is_the_history_row_id_across_a_restart() {
    let mut t = Tsunagu::start().await;
    let mut ids = Vec::new();
    for round in 0..2 {
        if round == 1 {
            t.crash_and_restart().await;
        }
        let phone = t.phone("201", "answer.xml", 200).await;
        let carrier = t.carrier(&scenario("carrier.xml"), &format!("0900000000{round}"), 500);
        assert!(finished_ok(carrier, 20).await && finished_ok(phone, 10).await);
        let calls = t.calls().await;
        ids.push(calls[0]["id"].as_i64().unwrap());
    }
    assert_ne!(ids[0], ids[1], "a restart does not start the ids again");
    let events = queue_events(&t).await;
    for id in &ids {
        for kind in ["queue.entered", "queue.answered", "queue.completed"] {
            assert!(
                events.iter().any(|(k, c)| k == kind && *c == Some(*id)),
                "{kind} of call {id} missing: {events:?}"
            );
        }
    }
    assert!(
        events
            .iter()
            .all(|(_, c)| c.is_some_and(|c| ids.contains(&c))),
        "every queue event names one of the calls by its row id: {events:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn registrations_survive_a_restart() {
    let mut t = Tsunagu::start().await;
    let phone = t.phone("201", "answer.xml", 200).await;
    t.crash_and_restart().await;
    // No new REGISTER: the phone is reached at once.
    let carrier = t.carrier(&scenario("carrier.xml"), "09011112222", 1000);
    assert!(
        finished_ok(carrier, 20).await,
        "the registered phone was not reached"
    );
    assert!(finished_ok(phone, 10).await);
    assert_eq!(t.calls().await[0]["kind"], "incoming");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_closes_calls_at_the_last_moment_they_were_alive() {
    let mut t = Tsunagu::start().await;
    let phone = t.phone("201", "answer.xml", 200).await;
    let carrier = t.carrier(&scenario("carrier.xml"), "09011112222", 60_000);
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(
        t.api(reqwest::Method::GET, "/api/v1/calls", None).await["items"][0]["in_progress"],
        true
    );
    t.child.kill().await.ok();
    // A long outage before the restart: it must not count as talk time.
    tokio::time::sleep(Duration::from_secs(8)).await;
    t.child = spawn_server(&t.args);
    t.wait_and_login().await;
    drop((phone, carrier));
    let c = &t.calls().await[0];
    assert_eq!(c["hangup_cause"], "interrupted", "{c}");
    let talk = c["duration_secs"].as_i64().unwrap();
    assert!(
        (1..=6).contains(&talk),
        "talk time {talk} s: the call was up about 3 s before the crash, then 8 s of outage"
    );
}

/// A bare SIP caller on a UDP socket, to send what no well-behaved peer would.
struct RawCaller {
    sock: UdpSocket,
    server: String,
}

impl RawCaller {
    fn new(bind: &str, server: &str) -> RawCaller {
        let sock = UdpSocket::bind(bind).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        RawCaller {
            sock,
            server: server.to_owned(),
        }
    }

    fn addr(&self) -> String {
        self.sock.local_addr().unwrap().to_string()
    }

    fn send(&self, text: &str) {
        self.sock.send_to(text.as_bytes(), &self.server).unwrap();
    }

    /// The next response whose status line starts with `prefix` (others are skipped).
    fn expect(&self, prefix: &str) -> String {
        let mut buf = [0u8; 65_535];
        loop {
            let (n, _) = self.sock.recv_from(&mut buf).expect(prefix);
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if text.starts_with(prefix) {
                return text;
            }
            assert!(
                text.starts_with("SIP/2.0 1") || text.starts_with("SIP/2.0 2"),
                "expected {prefix}, got {text}"
            );
        }
    }
}

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn in_dialog_requests_need_both_tags_and_a_new_media_address_the_dialogs_peer() {
    let t = Tsunagu::start().await;
    let phone = t.phone("201", "answer.xml", 200).await;
    let caller = RawCaller::new("127.0.0.1:0", &t.sip);
    let media = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = caller.addr();
    let sdp = format!(
        "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        media.local_addr().unwrap().port()
    );
    let call_id = format!("spoof-{}@test", std::process::id());
    caller.send(&format!(
        "INVITE sip:0312345678@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-inv1\r\nFrom: <sip:09011112222@127.0.0.1>;tag=caller1\r\nTo: <sip:0312345678@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:c@{me}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len(),
        sip = t.sip
    ));
    let ok = caller.expect("SIP/2.0 200");
    let to = header(&ok, "To").to_owned();
    let our_tag = to.split("tag=").nth(1).unwrap().to_owned();
    caller.send(&format!(
        "ACK sip:tsunagu@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-ack1\r\nFrom: <sip:09011112222@127.0.0.1>;tag=caller1\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        sip = t.sip
    ));
    // Someone who learnt the Call-ID makes up the tags: 481, and the call goes on.
    let spoofer = RawCaller::new("127.0.0.2:0", &t.sip);
    let other = spoofer.addr();
    spoofer.send(&format!(
        "BYE sip:tsunagu@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {other};branch=z9hG4bK-bye-spoof\r\nFrom: <sip:09011112222@127.0.0.1>;tag=guessed\r\nTo: <sip:0312345678@127.0.0.1>;tag=guessed-too\r\nCall-ID: {call_id}\r\nCSeq: 5 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        sip = t.sip
    ));
    spoofer.expect("SIP/2.0 481");
    // With the right tags but from another host, a re-INVITE may not move the media: 403.
    let evil_sdp = sdp.replace("127.0.0.1", "127.0.0.2");
    spoofer.send(&format!(
        "INVITE sip:tsunagu@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {other};branch=z9hG4bK-reinv-spoof\r\nFrom: <sip:09011112222@127.0.0.1>;tag=caller1\r\nTo: <sip:0312345678@127.0.0.1>;tag={our_tag}\r\nCall-ID: {call_id}\r\nCSeq: 6 INVITE\r\nContact: <sip:c@{other}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{evil_sdp}",
        evil_sdp.len(),
        sip = t.sip
    ));
    spoofer.expect("SIP/2.0 403");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        t.api(reqwest::Method::GET, "/api/v1/calls", None).await["items"][0]["in_progress"],
        true,
        "the call is still up"
    );
    // The real caller hangs up: 200.
    caller.send(&format!(
        "BYE sip:tsunagu@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-bye1\r\nFrom: <sip:09011112222@127.0.0.1>;tag=caller1\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        sip = t.sip
    ));
    caller.expect("SIP/2.0 200");
    assert!(finished_ok(phone, 10).await);
    assert_eq!(t.calls().await[0]["hangup_cause"], "caller_hangup");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trunk_with_a_port_gets_404_for_a_number_we_do_not_have() {
    let t = Tsunagu::start().await;
    let port = free_udp_port();
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/trunks/1",
        Some(json!({"allowed_sources": [format!("127.0.0.1:{port}")]})),
    )
    .await;
    let wrong = t.sipp(
        &refused_scenario(t.data.path(), 404),
        &[
            "-s",
            "0399999999",
            "-key",
            "caller",
            "09011112222",
            "-p",
            &port.to_string(),
            "-mp",
            &free_media_port().to_string(),
        ],
    );
    assert!(
        finished_ok(wrong, 20).await,
        "the carrier got a challenge or another answer instead of 404"
    );
    // The same carrier reaches our number.
    let phone = t.phone("201", "answer.xml", 200).await;
    let right = t.sipp(
        &scenario("carrier.xml"),
        &[
            "-s",
            "0312345678",
            "-key",
            "caller",
            "09011112222",
            "-d",
            "500",
            "-p",
            &port.to_string(),
            "-mp",
            &free_media_port().to_string(),
        ],
    );
    assert!(finished_ok(right, 20).await && finished_ok(phone, 10).await);
    // A phone on the same host keeps its challenge: a call to an unknown number from another
    // port is a phone's (407, then refused without credentials).
    let phone_call = t.sipp(
        &refused_scenario(t.data.path(), 407),
        &[
            "-s",
            "0399999999",
            "-key",
            "caller",
            "201",
            "-p",
            &free_udp_port().to_string(),
            "-mp",
            &free_media_port().to_string(),
        ],
    );
    assert!(
        finished_ok(phone_call, 20).await,
        "a phone must be challenged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn emergency_numbers_always_reach_the_trunk() {
    let t = Tsunagu::start().await;
    let (trunk, _log) = t.trunk_uas().await;
    // 外線発信禁止 and a restriction on 119: neither stops an emergency call.
    let id202 = t.agent_id("202").await;
    t.api(
        reqwest::Method::PATCH,
        &format!("/api/v1/agents/{id202}"),
        Some(json!({"caller_number_id": null})),
    )
    .await;
    t.api(
        reqwest::Method::POST,
        "/api/v1/outbound-restrictions",
        Some(json!({"number": "119", "remarks": "test"})),
    )
    .await;
    assert!(
        finished_ok(t.dial("202", "119", 200), 30).await,
        "the emergency call did not go through"
    );
    assert!(finished_ok(trunk, 10).await);
    let c = &t.calls().await[0];
    assert_eq!(
        (
            c["direction"].as_str(),
            c["remote_party"].as_str(),
            c["kind"].as_str()
        ),
        (Some("outbound"), Some("119"), Some("outgoing"))
    );
    assert!(c["number"].is_string(), "it carries a number of ours: {c}");
}
