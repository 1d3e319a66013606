//! Voice files (VOICE-*): multipart upload with WAV validation, download, replacement, the
//! audio on disk, delete refused while a group uses the file, and permissions.

mod common;

use common::{start, Client, Resp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;

/// A RIFF/WAVE file with a PCM-style fmt chunk and `data_bytes` of a ramp.
fn wav(format: u16, channels: u16, rate: u32, bits: u16, data_bytes: usize) -> Vec<u8> {
    let align = channels * bits / 8;
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&format.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
    fmt.extend_from_slice(&align.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    let data: Vec<u8> = (0..data_bytes).map(|i| (i % 251) as u8).collect();
    let mut body = b"WAVE".to_vec();
    for (id, chunk) in [(b"fmt ", fmt), (b"data", data)] {
        body.extend_from_slice(id);
        body.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        body.extend_from_slice(&chunk);
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// `seconds` of 8000 Hz mono 16-bit PCM.
fn good(seconds_tenths: usize) -> Vec<u8> {
    wav(1, 1, 8000, 16, 1600 * seconds_tenths)
}

async fn send_form(
    c: &Client,
    method: Method,
    path: &str,
    file: Option<(&str, Vec<u8>)>,
    text: &[(&str, &str)],
) -> Resp {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in text {
        form = form.text(k.to_string(), v.to_string());
    }
    if let Some((name, bytes)) = file {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("audio/wav")
            .unwrap();
        form = form.part("file", part);
    }
    let r = c
        .http
        .request(method, format!("{}{}", c.base, path))
        .header("x-csrf-token", c.csrf.clone().unwrap_or_default())
        // A refused oversized body leaves the connection unusable; never reuse it.
        .header("connection", "close")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    Resp {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

async fn upload(c: &Client, name: &str, bytes: Vec<u8>, text: &[(&str, &str)]) -> Resp {
    send_form(
        c,
        Method::POST,
        "/api/v1/voice-files",
        Some((name, bytes)),
        text,
    )
    .await
}

fn message(r: &Resp) -> String {
    r.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn download(c: &Client, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let r = c
        .http
        .get(format!("{}{}", c.base, path))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// The voice directory of the test server (its `voice_dir`).
fn voice_dir(server: &common::Server) -> PathBuf {
    server.data_dir.join("voice")
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_list_download_replace_and_delete() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let dir = voice_dir(&server);

    // A good file with the fields as text.
    let bytes = good(15);
    let r = upload(
        &admin,
        "営業時間外.wav",
        bytes.clone(),
        &[("name", "営業時間外案内"), ("voicemail", "true")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["name"], "営業時間外案内");
    assert_eq!(r.body["voicemail"], true);
    assert_eq!(r.body["notify_email"], false);
    assert_eq!(r.body["file_name"], "営業時間外.wav");
    assert_eq!(r.body["duration_ms"], 1500);
    assert_eq!(r.body["size_bytes"], bytes.len());
    assert_eq!(r.body["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(r.body["created_by"], "admin");
    let url = format!("/api/v1/voice-files/{id}/download");
    assert_eq!(r.body["download_url"], url.as_str());
    assert_eq!(std::fs::read(dir.join(format!("{id}.wav"))).unwrap(), bytes);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files are left behind");

    // Listed, filtered by name, and read back.
    let r = admin.get("/api/v1/voice-files?name=時間外").await;
    assert_eq!(r.body["total"], 1, "{}", r.body);
    assert_eq!(r.body["items"][0]["duration_ms"], 1500);
    assert_eq!(r.body["items"][0]["download_url"], url.as_str());
    assert_eq!(
        admin.get("/api/v1/voice-files?name=nothing").await.body["total"],
        0
    );
    let r = admin.get(&format!("/api/v1/voice-files/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);

    // The download is the identical file, as a WAV attachment with its UTF-8 name.
    let (status, headers, got) = download(&admin, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, bytes);
    assert_eq!(headers["content-type"], "audio/wav");
    let cd = headers["content-disposition"].to_str().unwrap();
    assert!(cd.starts_with("attachment;"), "{cd}");
    assert!(
        cd.contains("filename*=UTF-8''%E5%96%B6%E6%A5%AD%E6%99%82%E9%96%93%E5%A4%96.wav"),
        "{cd}"
    );
    // Players ask for ranges.
    let r = admin
        .http
        .get(format!("{}{}", admin.base, url))
        .header("range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"RIFF");

    // PATCH edits the fields; VOICE-06 needs a valid address when notification is on.
    let item = format!("/api/v1/voice-files/{id}");
    let r = admin.patch(&item, json!({"notify_email": true})).await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["email".to_string()])
    );
    let r = admin
        .patch(
            &item,
            json!({"notify_email": true, "email": "not-an-address"}),
        )
        .await;
    assert_eq!(r.fields(), vec!["email"], "{}", r.body);
    let r = admin
        .patch(
            &item,
            json!({"notify_email": true, "email": "vm@example.com", "name": "夜間"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["email"], "vm@example.com");
    assert_eq!(r.body["duration_ms"], 1500, "the audio is untouched");
    let r = admin.patch(&item, json!({"file_name": "x.wav"})).await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["file_name".to_string()])
    );

    // Replace the audio: a bad file changes nothing, a good one replaces bytes and metadata.
    let file_path = format!("/api/v1/voice-files/{id}/file");
    let r = send_form(
        &admin,
        Method::PUT,
        &file_path,
        Some(("s.wav", wav(1, 2, 8000, 16, 800))),
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["file".to_string()])
    );
    assert_eq!(download(&admin, &url).await.2, bytes);
    let replacement = good(30);
    let r = send_form(
        &admin,
        Method::PUT,
        &file_path,
        Some(("new.wav", replacement.clone())),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["duration_ms"], 3000);
    assert_eq!(r.body["file_name"], "new.wav");
    assert_eq!(r.body["name"], "夜間", "the fields are kept");
    assert_eq!(download(&admin, &url).await.2, replacement);
    // A form without any part is malformed multipart: a 400 naming `file`.
    let r = send_form(&admin, Method::PUT, &file_path, None, &[]).await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["file".to_string()]),
        "{}",
        r.body
    );
    let r = send_form(
        &admin,
        Method::PUT,
        &file_path,
        Some(("new.wav", good(1))),
        &[("name", "x")],
    )
    .await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["name".to_string()])
    );
    let r = send_form(
        &admin,
        Method::PUT,
        "/api/v1/voice-files/999999/file",
        Some(("new.wav", good(1))),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The change history has the create and the updates.
    let r = admin.get(&format!("{item}/history")).await;
    assert_eq!(r.body["total"], 3, "{}", r.body);

    // A group uses it: the delete is refused with a clear message, then allowed.
    let r = admin
        .post(
            "/api/v1/groups",
            json!({"name": "夜間窓口", "greeting_voice_id": id, "hold_voice_id": id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let group = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["greeting_voice_id"], id);
    assert_eq!(r.body["queue_voice_id"], Value::Null);
    let r = admin.delete(&item).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let m = message(&r);
    assert!(
        m.contains("used by 1 group(s)") && m.contains("夜間窓口"),
        "{m}"
    );
    assert!(dir.join(format!("{id}.wav")).exists());
    let r = admin
        .patch(
            &format!("/api/v1/groups/{group}"),
            json!({"greeting_voice_id": null, "hold_voice_id": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["greeting_voice_id"], Value::Null);
    let r = admin.delete(&item).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(
        !dir.join(format!("{id}.wav")).exists(),
        "the audio is removed"
    );
    assert_eq!(admin.get(&item).await.status, StatusCode::NOT_FOUND);
    assert_eq!(download(&admin, &url).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_uploads_are_refused_on_the_file_field() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let name = [("name", "x")];

    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "stereo",
            wav(1, 2, 44_100, 16, 800),
            "wav_format",
            "44100 Hz stereo 16-bit PCM found; 8000 Hz mono 16-bit PCM WAV is required \
             (convert with: sox in.wav -r 8000 -c 1 -b 16 out.wav).",
        ),
        (
            "8-bit",
            wav(1, 1, 8000, 8, 800),
            "wav_format",
            "8000 Hz mono 8-bit PCM found",
        ),
        (
            "µ-law",
            wav(7, 1, 8000, 8, 800),
            "wav_format",
            "8000 Hz mono 8-bit µ-law found",
        ),
        (
            "garbage",
            b"hello, not audio".to_vec(),
            "not_wav",
            "RIFF/WAVE",
        ),
        ("empty", wav(1, 1, 8000, 16, 0), "empty", "no audio"),
        (
            "truncated",
            {
                let mut w = good(10);
                w.truncate(w.len() - 10);
                w
            },
            "truncated",
            "truncated",
        ),
        ("too long", good(6001), "too_long", "at most 10 minutes"),
        // Issue 10 item 15: an unset RIFF size and a byte rate of 0 are malformed too.
        (
            "RIFF size 0xFFFFFFFF",
            {
                let mut w = good(10);
                w[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
                w
            },
            "truncated",
            "The WAV file is truncated: the RIFF header's size is unset (0xFFFFFFFF",
        ),
        (
            "byte rate 0",
            {
                let mut w = good(10);
                w[28..32].copy_from_slice(&0u32.to_le_bytes());
                w
            },
            "wav_format",
            "The fmt chunk declares 0 bytes per second",
        ),
    ];
    for (what, bytes, code, text) in cases {
        let r = upload(&admin, "bad.wav", bytes, &name).await;
        assert_eq!(
            (r.status, r.fields()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["file".to_string()]),
            "{what}: {}",
            r.body
        );
        assert_eq!(r.body["errors"][0]["code"], code, "{what}");
        assert!(message(&r).contains(text), "{what}: {}", message(&r));
    }

    // Every field error at once: no name, notification without an address, and no file.
    let r = send_form(
        &admin,
        Method::POST,
        "/api/v1/voice-files",
        None,
        &[("voicemail", "true"), ("notify_email", "true")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, vec!["email", "file", "name"]);
    let r = upload(&admin, "a.wav", good(1), &[("name", "<b>x</b>")]).await;
    assert_eq!(r.fields(), vec!["name"]);

    // Malformed forms: a bad boolean, an unknown field, not multipart, broken framing.
    let r = upload(
        &admin,
        "a.wav",
        good(1),
        &[("name", "x"), ("voicemail", "maybe")],
    )
    .await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["voicemail".to_string()])
    );
    let r = upload(
        &admin,
        "a.wav",
        good(1),
        &[("name", "x"), ("colour", "red")],
    )
    .await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["colour".to_string()])
    );
    let r = admin
        .post("/api/v1/voice-files", json!({"name": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(message(&r).contains("multipart"), "{}", r.body);
    let r = admin
        .http
        .post(format!("{}/api/v1/voice-files", admin.base))
        .header("x-csrf-token", admin.csrf.clone().unwrap())
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .header("connection", "close")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Over 20 MiB: 413, and nothing is stored.
    let r = upload(&admin, "big.wav", vec![0u8; 20 * 1024 * 1024 + 1], &name).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(admin.get("/api/v1/voice-files").await.body["total"], 0);
    let dir = voice_dir(&server);
    let stored = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored, 0, "refused uploads leave no file");
}

#[tokio::test(flavor = "multi_thread")]
async fn permissions_and_references() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let agent = Client::login(&server, "201", "Demo1234").await;

    // Agents cannot upload, list or download (no voice.* permission).
    let r = upload(&agent, "a.wav", good(5), &[("name", "x")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        agent.get("/api/v1/voice-files").await.status,
        StatusCode::FORBIDDEN
    );
    let r = upload(&admin, "a.wav", good(5), &[("name", "案内")]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    let (status, _, _) = download(&agent, &format!("/api/v1/voice-files/{id}/download")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let anonymous = Client::anonymous(&server);
    let (status, _, _) = download(&anonymous, &format!("/api/v1/voice-files/{id}/download")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        agent
            .delete(&format!("/api/v1/voice-files/{id}"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Groups must reference existing voice files, on each of the four fields.
    let r = admin
        .post(
            "/api/v1/groups",
            json!({"name": "g", "greeting_voice_id": 999, "queue_voice_id": 998,
                   "hold_voice_id": 997, "answer_voice_id": 996}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        r.fields(),
        vec![
            "greeting_voice_id",
            "queue_voice_id",
            "hold_voice_id",
            "answer_voice_id"
        ]
    );
    let r = admin
        .post(
            "/api/v1/groups",
            json!({"name": "g", "answer_voice_id": id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = admin.delete(&format!("/api/v1/voice-files/{id}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // A number routed to the voice file also keeps it (the telephony side plays it later).
    let r = admin
        .patch(
            &format!("/api/v1/groups/{}", r_id(&admin, "g").await),
            json!({"answer_voice_id": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    {
        let mut c = server.store.conn().await.unwrap();
        sqlx_route_number(&mut c, id).await;
    }
    let r = admin.delete(&format!("/api/v1/voice-files/{id}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(message(&r).contains("phone number"), "{}", r.body);
}

async fn r_id(c: &Client, group_name: &str) -> i64 {
    let r = c.get(&format!("/api/v1/groups?name={group_name}")).await;
    r.body["items"][0]["id"].as_i64().unwrap()
}

/// Routes the demo number to the voice file directly in the database (the number screen does
/// not offer voice files as a target yet).
async fn sqlx_route_number(c: &mut store::Conn, voice_id: i64) {
    let mut f = store::numbers::list(
        c,
        &Default::default(),
        store::Page {
            offset: 0,
            limit: 1,
        },
    )
    .await
    .unwrap()
    .0
    .remove(0);
    f.fields.route = Some(engine::RouteTarget {
        kind: engine::TargetKind::VoiceFile,
        id: voice_id,
    });
    store::numbers::update(c, f.id, &f.fields, None, 1)
        .await
        .unwrap();
}
