//! Call recording end to end (REC-*, HIST-04, HIST-07, PERM-26): a SIPp carrier streaming
//! 440 Hz calls the demo number, a SIPp phone for agent 201 answers streaming 1 kHz, and the
//! WAV the real server writes holds the carrier on the left and the agent on the right, as
//! long as the talk time; history plays it with ranges, and only to those allowed.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `secs` of a sine at `hz` as raw μ-law, what SIPp's rtp_stream sends as PCMU.
fn tone_file(dir: &Path, hz: f64, secs: u32) -> PathBuf {
    let n = 8000 * secs as usize;
    let bytes: Vec<u8> = (0..n)
        .map(|i| {
            let s = (i as f64 * hz * 2.0 * std::f64::consts::PI / 8000.0).sin() * 8000.0;
            media::g711::ulaw_encode(s as i16)
        })
        .collect();
    let path = dir.join(format!("tone{hz}.ulaw"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A scenario of tests/sipp with its TONE_FILE replaced by `tone`.
fn tone_scenario(dir: &Path, name: &str, tone: &Path) -> PathBuf {
    let text = std::fs::read_to_string(scenario(name))
        .unwrap()
        .replace("TONE_FILE", &tone.display().to_string());
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Power of `hz` in `samples` (8 kHz), by the Goertzel algorithm.
fn power(samples: &[i16], hz: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - k * s1 * s2) / samples.len().max(1) as f64
}

/// Left and right channels of a stereo 16-bit WAV with a 44-byte header.
fn channels(wav: &[u8]) -> (Vec<i16>, Vec<i16>) {
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2, "stereo");
    assert_eq!(
        u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]),
        8000
    );
    let data_len = u32::from_le_bytes([wav[40], wav[41], wav[42], wav[43]]) as usize;
    assert_eq!(data_len, wav.len() - 44, "the header's size is the file's");
    let samples: Vec<i16> = wav[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (left, right)
}

async fn recording_of(t: &Tsunagu, call: i64) -> Value {
    for _ in 0..50 {
        let c = t
            .api(reqwest::Method::GET, &format!("/api/v1/calls/{call}"), None)
            .await;
        if c["recording"]["state"] == "complete" {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the recording of call {call} did not complete");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_carrier_is_left_the_agent_right_and_history_plays_it() {
    let t = Tsunagu::start().await;
    let dir = tempfile::tempdir().unwrap();
    let low = tone_file(dir.path(), 440.0, 10);
    let high = tone_file(dir.path(), 1000.0, 10);
    let answer = tone_scenario(dir.path(), "answer_tone.xml", &high);
    let carrier = tone_scenario(dir.path(), "carrier_tone.xml", &low);
    // The phone rings for a second: none of that is in the recording.
    let phone = t.phone_with("201", &answer, 1000, &[]).await;
    let carrier = t.carrier(&carrier, "09011112222", 3000);
    assert!(finished_ok(carrier, 30).await, "carrier call failed");
    assert!(
        finished_ok(phone, 10).await,
        "the phone did not see the call through"
    );
    let calls = t.calls().await;
    assert_eq!(calls.len(), 1);
    let id = calls[0]["id"].as_i64().unwrap();
    let call = recording_of(&t, id).await;
    let talk_ms = call["ended_at"].as_i64().unwrap() - call["answered_at"].as_i64().unwrap();

    // The file, as the history's play button gets it.
    let url = format!("{}/api/v1/calls/{id}/recording", t.http);
    let resp = t.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/wav");
    let wav = resp.bytes().await.unwrap();
    let (left, right) = channels(&wav);
    let secs = left.len() as f64 / 8000.0;
    assert!(
        (secs * 1000.0 - talk_ms as f64).abs() < 500.0,
        "recorded {secs:.2} s of a {talk_ms} ms talk"
    );
    assert_eq!(
        call["recording"]["duration_ms"].as_i64(),
        Some((left.len() / 8) as i64)
    );
    // Skip the first half second (the streams start a moment after the answer).
    let (l, r) = (&left[4000..], &right[4000..]);
    assert!(
        power(l, 440.0) > 20.0 * power(l, 1000.0),
        "left holds the carrier's 440 Hz"
    );
    assert!(
        power(r, 1000.0) > 20.0 * power(r, 440.0),
        "right holds the agent's 1 kHz"
    );
    assert!(
        power(l, 440.0) > 1e5,
        "and loud enough: {}",
        power(l, 440.0)
    );

    // The audio element seeks with ranges.
    let part = t
        .client
        .get(&url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), wav[100..200]);
    // Download is an attachment.
    let dl = t
        .client
        .get(format!("{url}?download=true"))
        .send()
        .await
        .unwrap();
    assert!(dl.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let bad = t
        .client
        .get(format!("{url}?download=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let events = t.events(id).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    for k in [
        "recording.started",
        "recording.ended",
        "recording.played",
        "recording.downloaded",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    assert!(
        events
            .iter()
            .any(|(k, d)| k == "recording.played" && d["by"] == "admin"),
        "who played it"
    );

    // Agent 201 may play their own call; 202 does not see it; without the voice permission
    // 201 is refused.
    let (a201, _) = t.login_as("201", "Demo1234").await;
    assert_eq!(a201.get(&url).send().await.unwrap().status(), 200);
    let (a202, _) = t.login_as("202", "Demo1234").await;
    assert_eq!(a202.get(&url).send().await.unwrap().status(), 404);
    let roles = t.api(reqwest::Method::GET, "/api/v1/roles", None).await;
    let agent_role = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            let p = r["permissions"].as_array().unwrap();
            p.iter().any(|x| x == "history.voice") && !p.iter().any(|x| x == "tab.sv")
        })
        .expect("the Agent role")
        .clone();
    let kept: Vec<Value> = agent_role["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| *p != "history.voice")
        .cloned()
        .collect();
    t.api(
        reqwest::Method::PATCH,
        &format!(
            "/api/v1/roles/{}",
            agent_role["id"]
                .as_str()
                .map_or_else(|| agent_role["id"].to_string(), str::to_owned)
        ),
        Some(serde_json::json!({ "permissions": kept })),
    )
    .await;
    assert_eq!(a201.get(&url).send().await.unwrap().status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_stretch_is_silence_in_the_file_and_an_event() {
    let t = Tsunagu::start().await;
    let dir = tempfile::tempdir().unwrap();
    let low = tone_file(dir.path(), 440.0, 10);
    let high = tone_file(dir.path(), 1000.0, 10);
    let answer = tone_scenario(dir.path(), "answer_tone.xml", &high);
    let carrier_sf = tone_scenario(dir.path(), "carrier_tone.xml", &low);
    let phone = t.phone_with("201", &answer, 200, &[]).await;
    let carrier = t.carrier(&carrier_sf, "09011112222", 4000);
    // Wait for the answer, then the agent pauses for about 1.5 s.
    let (a201, csrf) = t.login_as("201", "Demo1234").await;
    let mut id = None;
    for _ in 0..100 {
        let items = t.api(reqwest::Method::GET, "/api/v1/calls", None).await["items"].clone();
        if let Some(c) = items.as_array().and_then(|a| a.first()) {
            if c["recording"]["state"] == "recording" {
                id = c["id"].as_i64();
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = id.expect("a call being recorded");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let pause = |paused: bool| {
        a201.put(format!("{}/api/v1/calls/{id}/recording/pause", t.http))
            .header("x-csrf-token", &csrf)
            .json(&serde_json::json!({ "paused": paused }))
            .send()
    };
    assert_eq!(pause(true).await.unwrap().status(), 204);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pause(false).await.unwrap().status(), 204);
    assert!(finished_ok(carrier, 30).await, "carrier call failed");
    assert!(finished_ok(phone, 10).await);
    let call = recording_of(&t, id).await;
    let paused = call["recording"]["paused_ms"].as_i64().unwrap();
    assert!((1300..=1800).contains(&paused), "paused {paused} ms");
    let wav = t
        .client
        .get(format!("{}/api/v1/calls/{id}/recording", t.http))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let (left, _) = channels(&wav);
    // A stretch of at least 1.2 s of silence on the carrier's side, tones around it.
    let mut longest = 0;
    let mut run = 0;
    for s in &left {
        run = if *s == 0 { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    assert!(longest >= 9600, "longest silence {longest} samples");
    assert!(power(&left[..6000], 440.0) > 1e5);
    let kinds: Vec<String> = t.events(id).await.into_iter().map(|(k, _)| k).collect();
    assert!(kinds.iter().any(|k| k == "recording.paused"));
    assert!(kinds.iter().any(|k| k == "recording.resumed"));
    // After the call, pausing is refused with a reason.
    assert_eq!(pause(true).await.unwrap().status(), 409);

    // The number's own setting wins over the system's: off, the next call is not recorded.
    let number = t
        .api(
            reqwest::Method::GET,
            "/api/v1/numbers?number=0312345678",
            None,
        )
        .await["items"][0]["id"]
        .as_i64()
        .unwrap();
    t.api(
        reqwest::Method::PATCH,
        &format!("/api/v1/numbers/{number}"),
        Some(serde_json::json!({ "recording": "off" })),
    )
    .await;
    // The configuration is reloaded in the background.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let phone = t.phone("201", "answer.xml", 200).await;
    let carrier = t.carrier(&scenario("carrier.xml"), "09011112222", 500);
    assert!(finished_ok(carrier, 30).await);
    assert!(finished_ok(phone, 10).await);
    let calls = t.calls().await;
    assert_eq!(calls.len(), 2);
    assert!(calls[0]["answered_at"].is_i64());
    assert_eq!(calls[0]["recording"], Value::Null, "{}", calls[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_that_cannot_be_written_leaves_the_call_alone() {
    let t = Tsunagu::start().await;
    // Where the day's folder must go there is a file: every write fails, as on a full disk.
    std::fs::write(t.data.path().join("recordings"), b"not a folder").unwrap();
    let phone = t.phone("201", "answer.xml", 300).await;
    let carrier = t.carrier(&scenario("carrier.xml"), "09011112222", 1500);
    assert!(finished_ok(carrier, 30).await, "the call went on");
    assert!(finished_ok(phone, 10).await);
    let calls = t.calls().await;
    let id = calls[0]["id"].as_i64().unwrap();
    assert_eq!(calls[0]["hangup_cause"], "caller_hangup");
    let mut state = Value::Null;
    for _ in 0..50 {
        let c = t
            .api(reqwest::Method::GET, &format!("/api/v1/calls/{id}"), None)
            .await;
        state = c["recording"]["state"].clone();
        if state != "recording" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "incomplete");
    let events = t.events(id).await;
    assert!(
        events
            .iter()
            .any(|(k, d)| k == "recording.failed" && d["error"].is_string()),
        "{events:?}"
    );
    let (to_agent, to_caller) = media_packets(&events);
    assert!(
        to_agent >= 20 && to_caller >= 20,
        "audio flowed all the same"
    );
}

/// A copy of tests/sipp/`name` that streams `tone` from just after `anchor` in it.
fn streaming(dir: &Path, name: &str, anchor: &str, tone: &Path) -> PathBuf {
    let text = std::fs::read_to_string(scenario(name)).unwrap();
    assert!(text.contains(anchor), "{name} has {anchor}");
    let exec = format!(
        "{anchor}\n  <nop><action><exec rtp_stream=\"{},-1,0\"/></action></nop>",
        tone.display()
    );
    let path = dir.join(format!("tone_{name}"));
    std::fs::write(&path, text.replacen(anchor, &exec, 1)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outbound_call_has_the_far_party_on_the_left_too() {
    let t = Tsunagu::start().await;
    let dir = tempfile::tempdir().unwrap();
    let far = tone_file(dir.path(), 440.0, 10);
    let agent = tone_file(dir.path(), 1000.0, 10);
    let uas = streaming(dir.path(), "trunk_uas.xml", "<recv request=\"ACK\"/>", &far);
    let port = free_udp_port();
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/trunks/1",
        Some(serde_json::json!({ "outbound_host": format!("127.0.0.1:{port}") })),
    )
    .await;
    let trunk = t.sipp(
        &uas,
        &[
            "-p",
            &port.to_string(),
            "-mp",
            &free_media_port().to_string(),
        ],
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The agent's phone streams from its ACK on; dial.xml then pauses for -d and hangs up.
    let ack = "CSeq: 2 ACK\n      Max-Forwards: 70\n      Content-Length: 0\n\n    ]]>\n  </send>";
    let dial = streaming(dir.path(), "dial.xml", ack, &agent);
    let phone = t.sipp(
        &dial,
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
            "-d",
            "2500",
            "-p",
            &free_udp_port().to_string(),
            "-mp",
            &free_media_port().to_string(),
        ],
    );
    assert!(finished_ok(phone, 30).await, "outbound call failed");
    assert!(finished_ok(trunk, 10).await);
    let calls = t.calls().await;
    assert_eq!(calls[0]["direction"], "outbound");
    let id = calls[0]["id"].as_i64().unwrap();
    recording_of(&t, id).await;
    let wav = t
        .client
        .get(format!("{}/api/v1/calls/{id}/recording", t.http))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let (left, right) = channels(&wav);
    let (l, r) = (&left[4000..], &right[4000..]);
    assert!(
        power(l, 440.0) > 20.0 * power(l, 1000.0),
        "left: the far party"
    );
    assert!(
        power(r, 1000.0) > 20.0 * power(r, 440.0),
        "right: the agent"
    );
}

/// VOICE-04/07, HIST-06: a number routed to a voice file with voicemail on: after the file, the
/// instructions and the beep, the carrier streams 2 s of 440 Hz and presses #; the stored
/// message is a mono WAV holding that tone for about its length, listed in the voicemail
/// history with the caller and the voice file, played by the API, marked in the call history;
/// then deleted in bulk, file and all.
#[tokio::test(flavor = "multi_thread")]
async fn a_caller_leaves_a_voicemail_message_ended_by_pound() {
    let t = Tsunagu::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (wav, _) = tone_wav(1000.0, 500, 4000.0);
    let voice = t.voice_file("夜間", wav).await;
    t.api(
        reqwest::Method::PATCH,
        &format!("/api/v1/voice-files/{voice}"),
        Some(serde_json::json!({"voicemail": true})),
    )
    .await;
    t.api(
        reqwest::Method::PATCH,
        "/api/v1/numbers/1",
        Some(serde_json::json!({"route": {"kind": "voice_file", "id": voice}})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tone = tone_file(dir.path(), 440.0, 2);
    let sf = tone_scenario(dir.path(), "carrier_voicemail.xml", &tone);
    // The voice file (0.5 s), the instructions (6.2 s) and the beep (0.5 s) come first.
    let carrier = t.carrier(&sf, "09011116666", 8000);
    assert!(
        finished_ok(carrier, 40).await,
        "the carrier's call did not end with our BYE after the thanks"
    );
    let mut list = Value::Null;
    for _ in 0..50 {
        list = t
            .api(reqwest::Method::GET, "/api/v1/voicemails", None)
            .await;
        if list["total"].as_i64() == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let vm = &list["items"][0];
    assert_eq!(
        (
            vm["caller"].as_str(),
            vm["voice_file_id"].as_i64(),
            vm["voice_file_name"].as_str(),
            vm["stop_reason"].as_str()
        ),
        (
            Some("09011116666"),
            Some(voice),
            Some("夜間"),
            Some("pound")
        ),
        "{list}"
    );
    let ms = vm["duration_ms"].as_i64().unwrap_or_default();
    assert!((2_300..6_000).contains(&ms), "the message is {ms} ms");
    let id = vm["id"].as_i64().expect("id");
    let r = t
        .client
        .get(format!("{}/api/v1/voicemails/{id}/audio", t.http))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let wav = r.bytes().await.unwrap();
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 1, "mono");
    let samples: Vec<i16> = wav[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(
        samples.len() as i64 / 8,
        ms,
        "the row's length is the file's"
    );
    let loud: Vec<i16> = samples
        .chunks_exact(160)
        .filter(|f| f.iter().map(|x| i64::from(x.unsigned_abs())).sum::<i64>() > 160 * 1000)
        .flatten()
        .copied()
        .collect();
    assert!(
        (1_700 * 8..2_300 * 8).contains(&loud.len()),
        "the tone lasts {} ms of the message",
        loud.len() / 8
    );
    assert!(
        power(&loud, 440.0) > 20.0 * power(&loud, 1000.0),
        "the message holds the caller's 440 Hz, not our prompts"
    );

    let calls = t.calls().await;
    assert_eq!(
        (
            calls[0]["voicemail_id"].as_i64(),
            calls[0]["hangup_cause"].as_str()
        ),
        (Some(id), Some("voicemail")),
        "{calls:?}"
    );

    let deleted = t
        .api(
            reqwest::Method::POST,
            "/api/v1/voicemails/delete",
            Some(serde_json::json!({"ids": [id, 999_999]})),
        )
        .await;
    assert_eq!(deleted["deleted"], 1);
    let list = t
        .api(reqwest::Method::GET, "/api/v1/voicemails", None)
        .await;
    assert_eq!(list["total"], 0);
    let files = std::fs::read_dir(t.data.path().join("voicemail"))
        .map(|days| {
            days.flatten()
                .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
                .count()
        })
        .unwrap_or(0);
    assert_eq!(files, 0, "the message's file is gone too");
}
