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
}
