//! Telephony end to end: the real `tsunagu` binary with its demo data, SIPp as the carrier and
//! as agents' phones, all on loopback. Each test checks what SIP said, that audio crossed the
//! relay both ways where a call was answered, and the call-history record.

mod common;

use common::*;
use serde_json::Value;
use std::net::UdpSocket;
use std::time::Duration;
use tokio::process::Child;

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
    let events = t.events(c["id"].as_i64().unwrap()).await;
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
    let response = |text: String| -> String {
        sock.send_to(text.as_bytes(), &t.sip).unwrap();
        let mut buf = [0u8; 4096];
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let status =
        |text: String| -> String { response(text).lines().next().unwrap_or_default().to_owned() };
    // A scanner guessing passwords: well-formed digests with wrong responses.
    for n in 1..=10 {
        let auth = "Authorization: Digest username=\"201\", realm=\"tsunagu\", nonce=\"bogus\", uri=\"sip:127.0.0.1\", response=\"00000000000000000000000000000000\"\r\n";
        assert!(
            status(register(n, auth)).starts_with("SIP/2.0 403"),
            "wrong credentials are refused"
        );
    }
    // Now the source's credentials are not even checked: the right password is refused too
    // (nothing tells a right guess from a wrong one).
    let challenged = response(register(11, ""));
    assert!(challenged.starts_with("SIP/2.0 401"), "{challenged}");
    let challenge = challenged
        .lines()
        .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .unwrap();
    let uri = format!("sip:{}", t.sip);
    let right =
        sip::digest::answer_challenge(challenge, "REGISTER", &uri, "201", "demo201", "c0ffee")
            .unwrap();
    assert!(
        status(register(12, &format!("Authorization: {right}\r\n"))).starts_with("SIP/2.0 403"),
        "the source is blocked"
    );
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
        let id = by(party)["id"].as_i64();
        events.iter().any(|(k, c)| k == kind && *c == id)
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
            &free_media_port().to_string(),
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

impl Tsunagu {
    /// The carrier's signalling by SIPp, its media by a socket of the test (returned).
    async fn listening_carrier(
        &self,
        scenario_name: &str,
        caller: &str,
        talk_ms: u32,
    ) -> (Child, tokio::net::UdpSocket) {
        let rtp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = rtp.local_addr().unwrap().port().to_string();
        let mut args = vec![
            "-s",
            "0312345678",
            "-key",
            "caller",
            caller,
            "-key",
            "rtp",
            &port,
        ];
        let talk = talk_ms.to_string();
        let sip_port = free_udp_port().to_string();
        if talk_ms > 0 {
            args.extend(["-d", &talk]);
        }
        args.extend(["-p", &sip_port]);
        let child = self.sipp(&scenario(scenario_name), &args);
        (child, rtp)
    }
}

/// One received RTP packet: (marker, seq, ssrc, payload).
type Heard = (bool, u16, u32, Vec<u8>);

/// Receives RTP on `rtp` for `secs`, answering every packet's source with our own audio
/// (constant bytes `voice`, 20 ms apart) once we know where Tsunagu listens.
async fn listen(rtp: &tokio::net::UdpSocket, secs: u64, voice: u8) -> Vec<Heard> {
    let mut heard = Vec::new();
    let mut buf = [0u8; 2048];
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut peer = None;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut seq, mut ts) = (1u16, 0u32);
    loop {
        tokio::select! {
            r = rtp.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { break };
                if n < 12 { continue; }
                peer = Some(from);
                heard.push((
                    buf[1] & 0x80 != 0,
                    u16::from_be_bytes([buf[2], buf[3]]),
                    u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
                    buf[12..n].to_vec(),
                ));
            }
            _ = tick.tick() => {
                if let Some(p) = peer {
                    let mut pkt = vec![0x80, 0];
                    pkt.extend(seq.to_be_bytes());
                    pkt.extend(ts.to_be_bytes());
                    pkt.extend(0x5eed_u32.to_be_bytes());
                    pkt.extend([voice; 160]);
                    rtp.send_to(&pkt, p).await.ok();
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(160);
                }
            }
            _ = tokio::time::sleep_until(end) => break,
        }
    }
    heard
}

/// GROUP-24/26/27, VOICE: a waiting caller is answered and hears exactly the greeting, then
/// the music; the agent hears the answer-side announcement alone; then the caller hears the
/// agent in the same RTP stream (one SSRC, consecutive sequence numbers).
#[tokio::test(flavor = "multi_thread")]
async fn queued_caller_hears_greeting_and_music_then_the_agent() {
    use media::g711::Law;
    use media::player::{Player, Program, Prompt};
    use std::sync::Arc;
    let t = Tsunagu::start().await;
    let a201 = t.agent_id("201").await;
    let (greeting_wav, greeting) = tone_wav(500.0, 1000, 6000.0);
    let (music_wav, music) = tone_wav(1000.0, 1500, 5000.0);
    let (answer_wav, _) = tone_wav(700.0, 500, 5000.0);
    let g = t.voice_file("greeting", greeting_wav).await;
    let m = t.voice_file("music", music_wav).await;
    let a = t.voice_file("answer", answer_wav).await;
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/groups/1",
        Some(serde_json::json!({
            "greeting_voice_id": g, "hold_voice_id": m, "answer_voice_id": a,
            "members": [{"agent_id": a201, "skill_level": 0}]
        })),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // The agent answers 3 s after the phone starts ringing and echoes what it hears.
    let phone = t.phone("201", "answer.xml", 3000).await;
    let (carrier, rtp) = t
        .listening_carrier("carrier_listen.xml", "09011112222", 6000)
        .await;
    let heard = listen(&rtp, 7, 0x5a).await;
    assert!(finished_ok(carrier, 10).await, "the carrier's call failed");
    assert!(finished_ok(phone, 10).await);

    // What the caller heard until the agent's voice, as the player plays it.
    let echo_at = heard
        .iter()
        .position(|h| h.3 == [0x5a; 160])
        .expect("the agent's side (the echo of our audio) was never heard");
    let mut model = Player::new(Program::Queue {
        greeting: Some(Arc::new(Prompt::from_samples(greeting.clone()).unwrap())),
        announcement: None,
        music: Some(Arc::new(Prompt::from_samples(music).unwrap())),
        every_frames: 30 * 50,
    });
    for (i, h) in heard[..echo_at].iter().enumerate() {
        let want: Vec<u8> = model
            .next_frame()
            .unwrap()
            .iter()
            .map(|&s| Law::Ulaw.encode(s))
            .collect();
        assert_eq!(
            h.3, want,
            "packet {i} of the prompts differs from the voice files"
        );
    }
    // Greeting (50 packets) and music for the ~3.5 s the agent's phone rang and the
    // announcement played: fewer only if the machine stalled the player.
    assert!(
        echo_at >= 100,
        "only {echo_at} prompt packets before the agent"
    );
    // One stream: the player's SSRC throughout, sequence numbers without a jump at the switch.
    let ssrc = heard[0].2;
    assert!(heard.iter().all(|h| h.2 == ssrc), "the SSRC changed");
    assert!(heard[0].0 && heard[echo_at].0, "talkspurts marked");
    assert_eq!(heard[echo_at].1, heard[echo_at - 1].1.wrapping_add(1));
    let lost = heard
        .windows(2)
        .filter(|w| w[1].1 != w[0].1.wrapping_add(1))
        .count();
    assert_eq!(lost, 0, "gaps in the sequence numbers");

    let c = &t.calls().await[0];
    assert_eq!(c["agent_id"].as_i64(), Some(a201));
    assert_eq!(c["hangup_cause"], "caller_hangup");
    let events = t.events(c["id"].as_i64().unwrap()).await;
    let media = events
        .iter()
        .find(|(k, _)| k == "call.media")
        .unwrap()
        .1
        .clone();
    assert_eq!(
        media["prompt_packets_to_callee"], 25,
        "the 0.5 s announcement, to the agent"
    );
    assert!(media["prompt_packets_to_caller"].as_u64().unwrap() >= echo_at as u64);
    // The agent was rung only once the 1 s greeting had played.
    let at = |kind: &str| {
        events
            .iter()
            .find(|(k, _)| k == kind)
            .and_then(|(_, d)| d["at"].as_u64())
            .unwrap_or_else(|| panic!("no {kind} in {events:?}"))
    };
    assert!(
        at("queue.rang") >= at("queue.entered") + 1000,
        "rang {} ms after entering",
        at("queue.rang") - at("queue.entered")
    );
}

/// GROUP-17, VOICE: a call that times out to a voice file hears it to the end and is hung up.
#[tokio::test(flavor = "multi_thread")]
async fn queue_timeout_to_a_voice_file_plays_it_and_hangs_up() {
    use media::g711::Law;
    let t = Tsunagu::start().await;
    let (wav, samples) = tone_wav(440.0, 800, 7000.0);
    let v = t.voice_file("closed", wav).await;
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/groups/1",
        Some(serde_json::json!({
            "timeout": 1, "timeout_target": {"kind": "voice_file", "id": v}
        })),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (carrier, rtp) = t
        .listening_carrier("carrier_listen_bye.xml", "09011113333", 0)
        .await;
    let heard = listen(&rtp, 4, 0x11).await;
    assert!(
        finished_ok(carrier, 10).await,
        "Tsunagu did not hang up after the file"
    );
    let want: Vec<Vec<u8>> = samples
        .chunks(160)
        .map(|f| f.iter().map(|&s| Law::Ulaw.encode(s)).collect())
        .collect();
    assert_eq!(heard.len(), want.len(), "the whole file, nothing after it");
    for (i, (h, w)) in heard.iter().zip(&want).enumerate() {
        assert_eq!(&h.3, w, "packet {i}");
    }
    let c = &t.calls().await[0];
    assert_eq!(c["hangup_cause"], "announcement");
    let events = queue_events(&t).await;
    assert!(
        events.iter().any(|(k, _)| k == "queue.timed_out"),
        "{events:?}"
    );
}

/// NUM-05: a number routed to a voice file answers, plays it and hangs up.
#[tokio::test(flavor = "multi_thread")]
async fn a_number_routed_to_a_voice_file_plays_it() {
    let t = Tsunagu::start().await;
    let (wav, samples) = tone_wav(300.0, 400, 4000.0);
    let v = t.voice_file("notice", wav).await;
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/numbers/1",
        Some(serde_json::json!({"route": {"kind": "voice_file", "id": v}})),
    )
    .await;
    let (carrier, rtp) = t
        .listening_carrier("carrier_listen_bye.xml", "09011114444", 0)
        .await;
    let heard = listen(&rtp, 3, 0x22).await;
    assert!(
        finished_ok(carrier, 10).await,
        "Tsunagu did not hang up after the file"
    );
    assert_eq!(heard.len(), samples.len().div_ceil(160));
    let c = &t.calls().await[0];
    assert_eq!(c["hangup_cause"], "announcement");
}

/// GROUP-26: while the agent holds the call, the caller hears the group's music on hold, then
/// the agent again, in one RTP stream.
#[tokio::test(flavor = "multi_thread")]
async fn agent_hold_plays_music_on_hold_to_the_caller() {
    let t = Tsunagu::start().await;
    let a201 = t.agent_id("201").await;
    let (music_wav, _) = tone_wav(1000.0, 2000, 5000.0);
    let m = t.voice_file("music", music_wav).await;
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/groups/1",
        Some(serde_json::json!({
            "hold_voice_id": m, "members": [{"agent_id": a201, "skill_level": 0}]
        })),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let phone = t.phone("201", "answer_then_hold.xml", 500).await;
    let (carrier, rtp) = t
        .listening_carrier("carrier_listen.xml", "09011115555", 5500)
        .await;
    let heard = listen(&rtp, 6, 0x5a).await;
    assert!(finished_ok(carrier, 10).await, "the carrier's call failed");
    assert!(
        finished_ok(phone, 10).await,
        "the agent's hold was not answered recvonly"
    );
    // Runs of what the caller heard: the echo of our own audio (the agent) or music.
    let mut runs: Vec<(bool, usize)> = Vec::new();
    for h in &heard {
        let agent = h.3 == [0x5a; 160];
        match runs.last_mut() {
            Some((a, n)) if *a == agent => *n += 1,
            _ => runs.push((agent, 1)),
        }
    }
    let shape: Vec<bool> = runs.iter().map(|r| r.0).collect();
    assert_eq!(
        shape,
        vec![false, true, false, true],
        "music while waiting, agent, music on hold, agent: {runs:?}"
    );
    assert!(
        (40..=110).contains(&runs[2].1),
        "about 1.5 s of hold music: {runs:?}"
    );
    let ssrc = heard[0].2;
    assert!(heard.iter().all(|h| h.2 == ssrc), "one stream throughout");
    let gaps = heard
        .windows(2)
        .filter(|w| w[1].1 != w[0].1.wrapping_add(1))
        .count();
    assert_eq!(gaps, 0);
}

/// STATUS-08: an agent's pause (休憩) survives a restart of the server.
#[tokio::test(flavor = "multi_thread")]
async fn an_agents_pause_survives_a_restart() {
    let mut t = Tsunagu::start().await;
    let a201 = t.agent_id("201").await;
    let rest = t
        .api(
            reqwest::Method::GET,
            "/api/v1/agent-statuses?name=休憩",
            None,
        )
        .await["items"][0]["id"]
        .as_i64()
        .unwrap();
    t.api(
        reqwest::Method::PUT,
        &format!("/api/v1/agents/{a201}/state"),
        Some(serde_json::json!({"state": "paused", "status_id": rest})),
    )
    .await;
    t.crash_and_restart().await;
    let _phone = t.phone("201", "answer.xml", 300).await;
    let s = t
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/agents/{a201}/state"),
            None,
        )
        .await;
    assert_eq!(
        s["groups"][0]["status"]["pause"],
        serde_json::json!({"kind": "custom", "status_id": rest}),
        "{s}"
    );
}

/// RT: the WebSocket pushes a change within 250 ms of the event (measured from before the API
/// call that makes the change: an upper bound that includes the HTTP round trip).
#[tokio::test(flavor = "multi_thread")]
async fn websocket_pushes_status_changes_within_250_ms() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let t = Tsunagu::start().await;
    let a201 = t.agent_id("201").await;
    // A second session of the admin, for its cookie.
    let login = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", t.http))
        .json(&serde_json::json!({"login_id": "admin", "password": "Admin1234"}))
        .send()
        .await
        .unwrap();
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let mut req = format!("{}/api/v1/ws", t.http.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut latencies = Vec::new();
    for i in 0..20 {
        let body = if i % 2 == 0 {
            serde_json::json!({"state": "paused"})
        } else {
            serde_json::json!({"state": "available"})
        };
        let changed = std::time::Instant::now();
        t.api(
            reqwest::Method::PUT,
            &format!("/api/v1/agents/{a201}/state"),
            Some(body),
        )
        .await;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(2), ws.next())
                .await
                .expect("no push within 2 s")
                .unwrap()
                .unwrap();
            let v: Value = serde_json::from_str(msg.to_text().unwrap_or("{}")).unwrap_or_default();
            if v["type"] == "agent_status" && v["agent"] == a201 {
                latencies.push(changed.elapsed());
                break;
            }
        }
    }
    latencies.sort();
    let worst = latencies[latencies.len() - 1];
    eprintln!(
        "push latency p50 {:?}, max {:?}",
        latencies[latencies.len() / 2],
        worst
    );
    assert!(worst < Duration::from_millis(250), "{latencies:?}");
}

/// RT: after a restart the realtime numbers are rebuilt from the event log and are the same
/// (registrations, and so the online counts, are not persisted).
#[tokio::test(flavor = "multi_thread")]
async fn realtime_numbers_survive_a_restart() {
    let mut t = Tsunagu::start().await;
    let phone = t.phone("201", "answer.xml", 300).await;
    let answered = t.carrier(&scenario("carrier.xml"), "09000000031", 500);
    assert!(finished_ok(answered, 15).await && finished_ok(phone, 10).await);
    // Nobody is online any more: this caller waits and gives up (an abandon).
    let abandoned = t.carrier(&scenario("carrier_cancel.xml"), "09000000032", 800);
    assert!(finished_ok(abandoned, 15).await);
    t.calls().await;
    let counters = |v: &Value| {
        let row = &v["groups"][0];
        [
            "incoming",
            "answered",
            "abandoned",
            "overflow",
            "timeout",
            "answer_rate_pct",
        ]
        .map(|k| row[k].clone())
    };
    let before = t.api(reqwest::Method::GET, "/api/v1/realtime", None).await;
    assert_eq!(before["groups"][0]["answered"], 1, "{before}");
    assert_eq!(before["groups"][0]["abandoned"], 1, "{before}");
    t.crash_and_restart().await;
    let after = t.api(reqwest::Method::GET, "/api/v1/realtime", None).await;
    assert_eq!(counters(&before), counters(&after), "{before}\n{after}");
}

/// GROUP-14/16: overflow to another group queues the call there; a timeout to an agent rings
/// that agent's phone.
#[tokio::test(flavor = "multi_thread")]
async fn overflow_to_a_group_and_timeout_to_an_agent() {
    let t = Tsunagu::start().await;
    let (a201, a202, a203) = (
        t.agent_id("201").await,
        t.agent_id("202").await,
        t.agent_id("203").await,
    );
    let sales = t
        .api(
            reqwest::Method::POST,
            "/api/v1/groups",
            Some(serde_json::json!({
                "name": "Sales", "members": [{"agent_id": a202, "skill_level": 0}]
            })),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    // Support: only 201 (not registered), nobody may wait: every call overflows to Sales.
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/groups/1",
        Some(serde_json::json!({
            "max_waiting": 0, "overflow": {"kind": "group", "id": sales},
            "members": [{"agent_id": a201, "skill_level": 0}]
        })),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let p202 = t.phone("202", "answer.xml", 300).await;
    let c = t.carrier(&scenario("carrier.xml"), "09000000041", 800);
    assert!(
        finished_ok(c, 15).await,
        "the overflowed call was not answered"
    );
    assert!(finished_ok(p202, 10).await);
    let calls = t.calls().await;
    assert_eq!(calls[0]["agent_id"].as_i64(), Some(a202), "{calls:?}");
    let id = calls[0]["id"].as_i64().unwrap();
    let kinds: Vec<String> = t.events(id).await.into_iter().map(|(k, _)| k).collect();
    for k in ["queue.overflowed", "queue.entered", "queue.answered"] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing: {kinds:?}");
    }

    // Support again: 1 s timeout to agent 203, who is not a member of any group.
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/groups/1",
        Some(serde_json::json!({
            "max_waiting": 10, "overflow": null,
            "timeout": 1, "timeout_target": {"kind": "agent", "id": a203}
        })),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let p203 = t.phone("203", "answer.xml", 300).await;
    let c = t.carrier(&scenario("carrier.xml"), "09000000042", 800);
    assert!(
        finished_ok(c, 15).await,
        "the timed-out call did not reach 203"
    );
    assert!(finished_ok(p203, 10).await);
    let calls = t.calls().await;
    let call = calls
        .iter()
        .find(|c| c["remote_party"] == "09000000042")
        .unwrap();
    assert_eq!(call["agent_id"].as_i64(), Some(a203), "{call}");
}

/// An agent on an outbound call is on call for the ACD too (never offered a queue call
/// meanwhile), and available again when it ends.
#[tokio::test(flavor = "multi_thread")]
async fn an_agent_on_an_outbound_call_is_on_call() {
    let t = Tsunagu::start().await;
    let a201 = t.agent_id("201").await;
    let _phone = t.phone("201", "answer.xml", 300).await;
    let status = || async {
        t.api(
            reqwest::Method::GET,
            &format!("/api/v1/agents/{a201}/state"),
            None,
        )
        .await["groups"][0]["status"]["status"]
            .as_str()
            .map(str::to_owned)
    };
    let wait_for = |want: &'static str| async move {
        for _ in 0..100 {
            if status().await.as_deref() == Some(want) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        false
    };
    assert!(wait_for("available").await);
    let (trunk, _) = t.trunk_uas().await;
    let dial = t.dial("201", "0398765432", 200);
    assert!(
        wait_for("on_call").await,
        "201 not on call during the outbound call"
    );
    assert!(finished_ok(dial, 30).await && finished_ok(trunk, 10).await);
    assert!(
        wait_for("available").await,
        "201 not available after the call"
    );
}

/// TRUNK: a carrier that challenges our INVITE (401; 407 is answered the same way) gets the
/// trunk's digest credentials, and SIPp checks them.
#[tokio::test(flavor = "multi_thread")]
async fn outbound_call_answers_the_carriers_digest_challenge() {
    let t = Tsunagu::start().await;
    let (trunk, log) = t
        .trunk_with(
            "trunk_auth_uas.xml",
            serde_json::json!({"username": "tsunagu-trunk", "password": "s3cret-trunk"}),
        )
        .await;
    assert!(
        finished_ok(t.dial("201", "0398765432", 200), 30).await,
        "the challenged outbound call failed"
    );
    assert!(finished_ok(trunk, 10).await);
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(seen.contains("AUTH=true"), "{seen}");
    let c = &t.calls().await[0];
    assert_eq!(c["kind"], "outgoing");
}

/// A carrier's early media (183 with SDP: ringback or an announcement) reaches the agent before
/// the answer, and the call continues on the same media after it.
#[tokio::test(flavor = "multi_thread")]
async fn early_media_from_the_carrier_reaches_the_caller() {
    let t = Tsunagu::start().await;
    let (trunk, _) = t
        .trunk_with("trunk_early_uas.xml", serde_json::json!({}))
        .await;
    let rtp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let rtp_port = rtp.local_addr().unwrap().port().to_string();
    let started = std::time::Instant::now();
    let phone = t.sipp(
        &scenario("dial_listen.xml"),
        &[
            "-s",
            "0398765432",
            "-au",
            "201",
            "-ap",
            "demo201",
            "-key",
            "user",
            "201",
            "-key",
            "rtp",
            &rtp_port,
            "-d",
            "1500",
            "-p",
            &free_udp_port().to_string(),
        ],
    );
    // The first packet of the announcement, long before the 200 (2 s after the 183).
    let mut buf = [0u8; 2048];
    tokio::time::timeout(Duration::from_secs(5), rtp.recv_from(&mut buf))
        .await
        .expect("no early media")
        .unwrap();
    let early_after = started.elapsed();
    assert_eq!(buf[1] & 0x7f, 8, "the carrier's PCMA announcement");
    assert!(
        early_after < Duration::from_millis(1800),
        "audio only after {early_after:?}"
    );
    let heard = listen(&rtp, 4, 0x33).await;
    assert!(finished_ok(phone, 10).await, "the caller's call failed");
    assert!(finished_ok(trunk, 10).await);
    assert!(
        heard.iter().any(|h| h.3 == [0x33; 160]),
        "after the answer the carrier's echo of our audio comes back on the same media"
    );
    let c = &t.calls().await[0];
    assert_eq!(c["kind"], "outgoing");
}

/// IVR-08: a number routed to an IVR answers with its menu; button 2 (an RFC 4733 digit from
/// the carrier) sends the call to the Support group, whose agent rings only then.
#[tokio::test(flavor = "multi_thread")]
async fn an_ivr_menu_routes_the_call_on_button_2() {
    let t = Tsunagu::start().await;
    let (wav, _) = tone_wav(500.0, 3000, 4000.0);
    let prompt = t.voice_file("menu", wav).await;
    let ivr = t
        .api(
            reqwest::Method::POST,
            "/api/v1/ivrs",
            Some(serde_json::json!({
                "name": "受付メニュー",
                "default_route": {"kind": "voice_file", "id": prompt},
                "buttons_on": true,
                "menu_voice_id": prompt,
                "buttons": {"2": {"kind": "group", "id": 1}},
            })),
        )
        .await;
    let ivr = ivr["id"].as_i64().expect("ivr id");
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/numbers/1",
        Some(serde_json::json!({"route": {"kind": "ivr", "id": ivr}})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let phone = t.phone("201", "answer.xml", 300).await;
    let carrier = t.carrier(&scenario("carrier_ivr.xml"), "09011115555", 2000);
    assert!(finished_ok(carrier, 30).await, "carrier call failed");
    assert!(
        finished_ok(phone, 10).await,
        "the agent's phone did not get the call"
    );
    let c = &t.calls().await[0];
    assert_eq!(c["agent_id"].as_i64(), Some(t.agent_id("201").await), "{c}");
    assert_eq!(c["group_id"].as_i64(), Some(1), "{c}");
    let events = t.events(c["id"].as_i64().expect("id")).await;
    let key_at = events
        .iter()
        .position(|(k, d)| k == "call.dtmf" && d["digit"] == "2")
        .expect("the digit reached the call");
    let queued_at = events
        .iter()
        .position(|(k, _)| k.starts_with("queue."))
        .expect("the call entered the queue");
    assert!(key_at < queued_at, "queued only after the key: {events:?}");
}

/// IVR-08: a caller who presses nothing hears the menu three times (5 s for a key after each),
/// then the IVR's default routing: the group, whose agent answers.
#[tokio::test(flavor = "multi_thread")]
async fn an_ivr_menu_with_no_input_three_times_falls_to_the_default_routing() {
    let t = Tsunagu::start().await;
    let (wav, _) = tone_wav(500.0, 500, 4000.0);
    let prompt = t.voice_file("menu", wav).await;
    let ivr = t
        .api(
            reqwest::Method::POST,
            "/api/v1/ivrs",
            Some(serde_json::json!({
                "name": "無入力",
                "default_route": {"kind": "group", "id": 1},
                "buttons_on": true,
                "menu_voice_id": prompt,
                "buttons": {"2": {"kind": "voice_file", "id": prompt}},
            })),
        )
        .await;
    let ivr = ivr["id"].as_i64().expect("ivr id");
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/numbers/1",
        Some(serde_json::json!({"route": {"kind": "ivr", "id": ivr}})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let phone = t.phone("201", "answer.xml", 300).await;
    // Three times the 0.5 s menu and 5 s for a key: 16.5 s before the group rings.
    let carrier = t.carrier(&scenario("carrier_silent.xml"), "09011117777", 20_000);
    assert!(
        finished_ok(phone, 40).await,
        "the group's agent was not rung after the third silence"
    );
    assert!(finished_ok(carrier, 15).await, "carrier call failed");
    let c = &t.calls().await[0];
    assert_eq!(
        (c["agent_id"].as_i64(), c["group_id"].as_i64()),
        (Some(t.agent_id("201").await), Some(1)),
        "{c}"
    );
    let events = t.events(c["id"].as_i64().expect("id")).await;
    assert!(
        !events.iter().any(|(k, _)| k == "call.dtmf"),
        "no key was pressed: {events:?}"
    );
    let waited = c["answered_at"].as_i64().unwrap_or(0) - c["started_at"].as_i64().unwrap_or(0);
    assert!(
        (16_000..19_000).contains(&waited),
        "the agent answered {waited} ms after the start: not after the third timeout"
    );
}

/// IVR-07: on a designated day (today) only the ★ entry matches: its voice file plays.
#[tokio::test(flavor = "multi_thread")]
async fn an_ivr_schedule_routes_a_designated_day_to_its_starred_entry() {
    let t = Tsunagu::start().await;
    let (wav, samples) = tone_wav(700.0, 400, 4000.0);
    let holiday = t.voice_file("holiday", wav).await;
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Tokyo").expect("tz"))
        .date()
        .to_string();
    let (every_day, no_day) = (vec![true; 7], vec![false; 7]);
    let ivr = t
        .api(
            reqwest::Method::POST,
            "/api/v1/ivrs",
            Some(serde_json::json!({
                "name": "祝日",
                "default_route": {"kind": "group", "id": 1},
                "schedule_on": true,
                "entries": [
                    {"from": "00:00", "to": "00:00", "weekdays": every_day,
                     "designated": false, "target": {"kind": "group", "id": 1}},
                    {"from": "00:00", "to": "00:00", "weekdays": no_day,
                     "designated": true, "target": {"kind": "voice_file", "id": holiday}},
                ],
                "designated_days": [today],
            })),
        )
        .await;
    let ivr = ivr["id"].as_i64().expect("ivr id");
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/numbers/1",
        Some(serde_json::json!({"route": {"kind": "ivr", "id": ivr}})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (carrier, rtp) = t
        .listening_carrier("carrier_listen_bye.xml", "09011116666", 0)
        .await;
    let heard = listen(&rtp, 3, 0x33).await;
    assert!(
        finished_ok(carrier, 10).await,
        "Tsunagu did not hang up after the file"
    );
    assert_eq!(heard.len(), samples.len().div_ceil(160));
    assert_eq!(t.calls().await[0]["hangup_cause"], "announcement");
}

/// FWD-02/03: a number routed to an external forwarding goes out through the trunk showing
/// the forwarding's caller number, or with 着信番号を発番に利用 the number the carrier called;
/// RTP flows both ways and history names both legs' parties.
#[tokio::test(flavor = "multi_thread")]
async fn forward_a_number_out_through_the_trunk_with_either_caller_id() {
    use reqwest::Method;
    let t = Tsunagu::start().await;
    let sales = t
        .api(
            Method::POST,
            "/api/v1/numbers",
            Some(serde_json::json!({"number": "0501112222", "name": "Sales"})),
        )
        .await;
    let fwd = t
        .api(
            Method::POST,
            "/api/v1/forwardings",
            Some(serde_json::json!({
                "name": "本社", "destination": "0398765432", "caller_number_id": sales["id"]
            })),
        )
        .await;
    let fwd_id = fwd["id"].as_i64().unwrap();
    t.api(
        Method::PATCH,
        "/api/v1/numbers/1",
        Some(serde_json::json!({"route": {"kind": "forward", "id": fwd_id}})),
    )
    .await;

    // (use the called number, the caller ID the carrier's outbound side must see)
    for (use_called, shown) in [(false, "0501112222"), (true, "0312345678")] {
        t.api(
            Method::PATCH,
            &format!("/api/v1/forwardings/{fwd_id}"),
            Some(serde_json::json!({"use_called_number": use_called})),
        )
        .await;
        let (trunk, log) = t.trunk_uas().await;
        let carrier = t.carrier(&scenario("carrier.xml"), "09011112222", 2000);
        assert!(
            finished_ok(carrier, 30).await,
            "forwarded call failed ({shown})"
        );
        assert!(
            finished_ok(trunk, 10).await,
            "the trunk saw no call ({shown})"
        );
        let seen = std::fs::read_to_string(&log).unwrap();
        assert!(
            seen.contains(&format!("FROM= <sip:{shown}@"))
                && seen.contains(&format!("PAI= <sip:{shown}@"))
                && seen.contains("RURI=INVITE sip:0398765432@"),
            "{seen}"
        );
        let c = &t.calls().await[0];
        assert_eq!(c["direction"], "inbound");
        assert_eq!(c["kind"], "incoming", "{c}");
        assert_eq!(
            (c["remote_party"].as_str(), c["number"].as_str()),
            (Some("09011112222"), Some("0312345678")),
            "the first leg: the caller and the number called"
        );
        assert_eq!(
            (c["forwarded_from"].as_str(), c["forwarded_to"].as_str()),
            (Some(shown), Some("0398765432")),
            "the second leg: the caller ID shown and the forwarding's number"
        );
        let events = t.events(c["id"].as_i64().unwrap()).await;
        assert!(
            events.iter().any(|(k, _)| k == "call.forwarded"),
            "{events:?}"
        );
        let (to_far, to_caller) = media_packets(&events);
        assert!(
            to_far > 20 && to_caller > 20,
            "RTP both ways: {to_far} / {to_caller}"
        );
    }
}

/// FWD-03 with the restriction list: a forwarding to a restricted number is refused and the
/// refusal recorded; a group diverting on overflow forwards out too.
#[tokio::test(flavor = "multi_thread")]
async fn forward_refused_by_the_restriction_list_and_from_a_group_divert() {
    use reqwest::Method;
    let t = Tsunagu::start().await;
    let fwd = t
        .api(
            Method::POST,
            "/api/v1/forwardings",
            Some(serde_json::json!({
                "name": "夜間", "destination": "0120999999", "use_called_number": true
            })),
        )
        .await;
    let fwd_id = fwd["id"].as_i64().unwrap();
    t.api(
        Method::POST,
        "/api/v1/outbound-restrictions",
        Some(serde_json::json!({"number": "0120999999", "remarks": "no"})),
    )
    .await;
    t.api(
        Method::PATCH,
        "/api/v1/numbers/1",
        Some(serde_json::json!({"route": {"kind": "forward", "id": fwd_id}})),
    )
    .await;
    let (trunk, _log) = t.trunk_uas().await;
    let refused = refused_scenario(t.data.path(), 403);
    let carrier = t.carrier(&refused, "09011113333", 1000);
    assert!(finished_ok(carrier, 20).await, "restricted forwarding");
    let c = &t.calls().await[0];
    assert_eq!(c["hangup_cause"], "restricted", "{c}");
    drop(trunk);

    // The Support group (no agent available) overflows to another forwarding.
    let ok = t
        .api(
            Method::POST,
            "/api/v1/forwardings",
            Some(serde_json::json!({
                "name": "支店", "destination": "0612345678", "use_called_number": true
            })),
        )
        .await;
    t.api(
        Method::PATCH,
        "/api/v1/groups/1",
        Some(serde_json::json!({
            "max_waiting": 0,
            "overflow": {"kind": "forward", "id": ok["id"]}
        })),
    )
    .await;
    t.api(
        Method::PATCH,
        "/api/v1/numbers/1",
        Some(serde_json::json!({"route": {"kind": "group", "id": 1}})),
    )
    .await;
    let (trunk, log) = t.trunk_uas().await;
    let carrier = t.carrier(&scenario("carrier.xml"), "09011114444", 2000);
    assert!(finished_ok(carrier, 30).await, "diverted forwarding failed");
    assert!(finished_ok(trunk, 10).await);
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(
        seen.contains("FROM= <sip:0312345678@") && seen.contains("RURI=INVITE sip:0612345678@"),
        "{seen}"
    );
    let c = &t.calls().await[0];
    assert_eq!(c["forwarded_to"], "0612345678", "{c}");
    let (to_far, to_caller) = media_packets(&t.events(c["id"].as_i64().unwrap()).await);
    assert!(to_far > 20 && to_caller > 20, "{to_far} / {to_caller}");
}
