//! Notification mail (VOICE-06) against a real SMTP server (aiosmtpd, started by each test with
//! tests/support/smtp_sink.py): the test mail arrives and the password is write-only; a queued
//! mail with a WAV attachment arrives once with its exact bytes; while the server is down a
//! mail is retried and then delivered, and the outbox shows the failure; a mail given up on is
//! sent again from the outbox; wrong fields are named.

mod common;

use api::mail::{Attachment, MailPolicy, MailRef, OutgoingMail};
use base64::Engine;
use common::{start_configured, Client, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An aiosmtpd on `port`, saving into `dir`; killed when dropped.
struct Sink {
    child: Child,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A TCP port that is free now, below the kernel's ephemeral range (32768 and up), so that no
/// outgoing connection takes it while the test keeps it for a server started later.
fn free_port() -> u16 {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    loop {
        let port = rng.gen_range(20_000..32_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

async fn sink(port: u16, auth: Option<(&str, &str)>) -> Sink {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let mut cmd = Command::new(python);
    cmd.arg(script).arg(port.to_string()).arg(&dir);
    if let Some((user, password)) = auth {
        cmd.args([user, password]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python with aiosmtpd (scripts/install-deps.sh installs it in .venv)");
    // The script prints `ready` once aiosmtpd listens (and exits if it cannot).
    let stdout = child.stdout.take().expect("stdout");
    let ready = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).ok();
            line
        }),
    )
    .await;
    let sink = Sink {
        child,
        dir,
        _tmp: tmp,
    };
    match ready {
        Ok(Ok(line)) if line.trim() == "ready" => sink,
        other => panic!("aiosmtpd did not start on port {port}: {other:?}"),
    }
}

impl Sink {
    /// The messages received so far, in order.
    fn received(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .expect("sink dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).expect("json")).expect("json"))
            .collect()
    }

    /// Waits until `n` messages have arrived.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A server whose mail job retries after `retry_first` (doubling up to 1 s), giving up after
/// `max_attempts`; its job is running.
async fn server(retry_first: Duration, max_attempts: u32) -> Server {
    let s = start_configured(true, None, |c| {
        c.mail = MailPolicy {
            retry_first,
            retry_max: Duration::from_secs(1),
            max_attempts,
            timeout: Duration::from_secs(10),
        }
    })
    .await;
    tokio::spawn(s.state.mail.clone().run());
    s
}

fn settings(port: u16) -> Value {
    json!({
        "enabled": true,
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": "",
        "from": "Tsunagu <noreply@example.com>",
    })
}

async fn put_settings(admin: &Client, body: Value) -> common::Resp {
    admin
        .send(Method::PUT, "/api/v1/settings/mail", Some(body))
        .await
}

/// Waits until mail `id` of the outbox satisfies `done`, and returns it.
async fn outbox_until(admin: &Client, id: i64, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = admin.get("/api/v1/mail/outbox?limit=500").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let item = r.body["items"]
            .as_array()
            .and_then(|a| a.iter().find(|m| m["id"] == id).cloned())
            .unwrap_or(Value::Null);
        if done(&item) {
            return item;
        }
        assert!(Instant::now() < deadline, "mail {id} is still {item}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A short 8 kHz mono WAV whose samples take every byte value.
fn wav_bytes() -> Vec<u8> {
    let data: Vec<u8> = (0..8000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut out = b"RIFF".to_vec();
    out.extend(u32::try_from(36 + data.len()).unwrap().to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(8000u32.to_le_bytes());
    out.extend(16000u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend(u32::try_from(data.len()).unwrap().to_le_bytes());
    out.extend(data);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_test_mail_arrives_and_the_password_is_write_only() {
    let s = server(Duration::from_millis(200), 10).await;
    let port = free_port();
    let smtp = sink(port, Some(("tsunagu", "s3cret pass"))).await;
    let admin = Client::login(&s, "admin", "Admin1234").await;

    let fresh = admin.get("/api/v1/settings/mail").await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    assert_eq!(fresh.body["enabled"], false);
    assert_eq!(fresh.body["password_set"], false);

    let mut body = settings(port);
    body["username"] = json!("tsunagu");
    body["password"] = json!("s3cret pass");
    let r = put_settings(&admin, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["password_set"], true);
    assert!(r.body.get("password").is_none(), "{}", r.body);
    let got = admin.get("/api/v1/settings/mail").await;
    assert!(got.body.get("password").is_none(), "{}", got.body);
    assert!(!got.body.to_string().contains("s3cret"), "{}", got.body);
    assert_eq!(got.body["username"], "tsunagu");

    // Saved again without the password: the stored one is kept, and the server (which
    // requires it) accepts the test mail.
    body.as_object_mut().map(|o| o.remove("password"));
    let r = put_settings(&admin, body.clone()).await;
    assert_eq!(r.body["password_set"], true, "{}", r.body);
    let t = admin
        .post(
            "/api/v1/settings/mail/test",
            json!({"to": "管理者 <admin@example.com>"}),
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    assert_eq!(t.body["ok"], true);
    let got = smtp.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["rcpt_tos"], json!(["admin@example.com"]));
    assert_eq!(got[0]["authenticated"], true);
    assert!(got[0]["to"]
        .as_str()
        .is_some_and(|t| t.contains("admin@example.com")));
    assert_eq!(got[0]["mail_from"], "noreply@example.com");
    assert!(got[0]["subject"]
        .as_str()
        .is_some_and(|t| t.contains("test mail")));

    // Unsaved settings from the form are tested as given: a wrong password is the server's
    // error in a 422, and nothing is stored.
    let mut wrong = body.clone();
    wrong["password"] = json!("wrong");
    let t = admin
        .post(
            "/api/v1/settings/mail/test",
            json!({"to": "admin@example.com", "settings": wrong}),
        )
        .await;
    assert_eq!(t.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.body);
    assert_eq!(t.body["errors"][0]["code"], "smtp");
    assert!(
        t.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("535")),
        "{}",
        t.body
    );
    // STARTTLS required by the settings, not offered by this server: said so, not a hang.
    let mut tls = body.clone();
    tls["security"] = json!("starttls");
    let t = admin
        .post(
            "/api/v1/settings/mail/test",
            json!({"to": "admin@example.com", "settings": tls}),
        )
        .await;
    assert_eq!(t.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.body);
    assert_eq!(t.body["errors"][0]["code"], "smtp");
    assert_eq!(smtp.received().len(), 1);

    // "" removes the password.
    body["password"] = json!("");
    let r = put_settings(&admin, body.clone()).await;
    assert_eq!(r.body["password_set"], false, "{}", r.body);

    // Wrong fields are named.
    let mut bad = settings(port);
    bad["from"] = json!("not an address");
    bad["host"] = json!("smtp example com");
    let r = put_settings(&admin, bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), ["host", "from"]);
    let mut off = settings(port);
    off["host"] = json!("");
    let r = put_settings(&admin, off).await;
    assert_eq!(r.fields(), ["host"], "{}", r.body);
    let r = admin
        .post("/api/v1/settings/mail/test", json!({"to": "nobody"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), ["to"]);
    let r = put_settings(&admin, json!({"enabled": true, "port": 70000})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = s
        .state
        .mail
        .enqueue(OutgoingMail {
            to: "no address".into(),
            subject: "x".into(),
            body: "x".into(),
            attachment: None,
            reference: None,
        })
        .await;
    assert!(
        matches!(r, Err(api::mail::MailError::Invalid { field: "to", .. })),
        "{r:?}"
    );

    // Administrators only.
    let agent = Client::login(&s, "201", "Demo1234").await;
    for path in ["/api/v1/settings/mail", "/api/v1/mail/outbox"] {
        assert_eq!(
            agent.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let r = agent
        .post("/api/v1/settings/mail/test", json!({"to": "a@example.com"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_wav_arrives_once_with_its_exact_bytes() {
    let s = server(Duration::from_millis(200), 10).await;
    let port = free_port();
    let smtp = sink(port, None).await;
    let admin = Client::login(&s, "admin", "Admin1234").await;
    let r = put_settings(&admin, settings(port)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let wav = wav_bytes();
    let path = s.data_dir.join("recordings").join("vm-17.wav");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(&path, &wav).expect("wav");
    let id = s
        .state
        .mail
        .enqueue(OutgoingMail {
            to: "sales@example.com".into(),
            subject: "留守番電話: 0312345678 から\r\n".into(),
            body: "新しい留守番電話があります。\nA new voicemail.".into(),
            attachment: Some(Attachment::wav(&path, "voicemail-17.wav")),
            reference: Some(MailRef::new("voicemail", 17)),
        })
        .await
        .expect("enqueue");

    let item = outbox_until(&admin, id, |m| m["state"] == "sent").await;
    assert_eq!(item["attempts"], 1);
    assert_eq!(item["attachment"], "voicemail-17.wav");
    assert_eq!(item["last_error"], Value::Null);
    let got = smtp.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m["rcpt_tos"], json!(["sales@example.com"]));
    assert_eq!(m["subject"], "留守番電話: 0312345678 から");
    // Lines of a mail end in CRLF.
    assert_eq!(
        m["text"].as_str().map(str::trim_end),
        Some("新しい留守番電話があります。\r\nA new voicemail.")
    );
    let att = m["attachments"].as_array().expect("attachments");
    assert_eq!(att.len(), 1, "{m}");
    assert_eq!(att[0]["file_name"], "voicemail-17.wav");
    assert_eq!(att[0]["content_type"], "audio/wav");
    let data = base64::engine::general_purpose::STANDARD
        .decode(att[0]["data"].as_str().expect("data"))
        .expect("base64");
    assert_eq!(data, wav);

    // Once: nothing is left to send, and the server got one message.
    let again = s.state.mail.pass(api::now_ms()).await.expect("pass");
    assert_eq!(again, api::mail::PassReport::default());
    assert_eq!(smtp.received().len(), 1);
    // The caller finds it by what it is about.
    let mine = admin
        .get("/api/v1/mail/outbox?ref_kind=voicemail&ref_id=17")
        .await;
    assert_eq!(mine.body["total"], 1, "{}", mine.body);
    assert_eq!(mine.body["items"][0]["id"], id);
    let r = admin
        .post(&format!("/api/v1/mail/outbox/{id}/retry"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn while_the_server_is_down_a_mail_is_retried_and_the_outbox_shows_why() {
    let s = server(Duration::from_millis(200), 50).await;
    let port = free_port();
    let admin = Client::login(&s, "admin", "Admin1234").await;
    let r = put_settings(&admin, settings(port)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let wav = wav_bytes();
    let path = s.data_dir.join("vm.wav");
    std::fs::write(&path, &wav).expect("wav");
    let mail = |attachment| OutgoingMail {
        to: "sales@example.com".into(),
        subject: "Voicemail".into(),
        body: "A new voicemail.".into(),
        attachment,
        reference: None,
    };
    let id = s
        .state
        .mail
        .enqueue(mail(Some(Attachment::wav(&path, "vm.wav"))))
        .await
        .expect("enqueue");
    let gone = s
        .state
        .mail
        .enqueue(mail(Some(Attachment::wav(
            s.data_dir.join("gone.wav"),
            "gone.wav",
        ))))
        .await
        .expect("enqueue");

    // Failing, and the admin sees why; it stays queued for the next attempt.
    let item = outbox_until(&admin, id, |m| m["attempts"].as_i64() >= Some(2)).await;
    assert_eq!(item["state"], "queued", "{item}");
    let error = item["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(error.contains("connection"), "{item}");
    // A missing attachment cannot get better: failed at the first attempt.
    let lost = outbox_until(&admin, gone, |m| m["state"] == "failed").await;
    assert_eq!(lost["attempts"], 1, "{lost}");
    assert!(
        lost["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("gone.wav") && e.contains("missing")),
        "{lost}"
    );
    let failed = admin.get("/api/v1/mail/outbox?state=failed").await;
    assert_eq!(failed.body["total"], 1, "{}", failed.body);

    // The server comes up: the mail arrives, once.
    let smtp = sink(port, None).await;
    let item = outbox_until(&admin, id, |m| m["state"] == "sent").await;
    assert_eq!(item["last_error"], Value::Null);
    let got = smtp.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let data = base64::engine::general_purpose::STANDARD
        .decode(got[0]["attachments"][0]["data"].as_str().expect("data"))
        .expect("base64");
    assert_eq!(data, wav);
    assert_eq!(
        admin.get("/api/v1/mail/outbox?state=sent").await.body["total"],
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mail_given_up_on_is_sent_again_from_the_outbox() {
    let s = server(Duration::from_millis(100), 2).await;
    let port = free_port();
    let admin = Client::login(&s, "admin", "Admin1234").await;
    assert_eq!(
        put_settings(&admin, settings(port)).await.status,
        StatusCode::OK
    );
    let id = s
        .state
        .mail
        .enqueue(OutgoingMail {
            to: "sales@example.com".into(),
            subject: "Voicemail".into(),
            body: "A new voicemail.".into(),
            attachment: None,
            reference: Some(MailRef::new("voicemail", 5)),
        })
        .await
        .expect("enqueue");
    let item = outbox_until(&admin, id, |m| m["state"] == "failed").await;
    assert_eq!(item["attempts"], 2, "{item}");
    assert!(
        item["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("gave up after 2 attempts")),
        "{item}"
    );

    let smtp = sink(port, None).await;
    let r = admin
        .post(&format!("/api/v1/mail/outbox/{id}/retry"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["attempts"], 0);
    let item = outbox_until(&admin, id, |m| m["state"] == "sent").await;
    assert_eq!(item["attempts"], 1);
    assert_eq!(smtp.wait_for(1).await.len(), 1);
    let r = admin
        .post("/api/v1/mail/outbox/999999/retry", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_stops_answering_does_not_hold_the_test_or_the_job() {
    let s = start_configured(true, None, |c| {
        c.mail = MailPolicy {
            timeout: Duration::from_millis(500),
            ..MailPolicy::default()
        }
    })
    .await;
    // Accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            held.push(c);
        }
    });
    let admin = Client::login(&s, "admin", "Admin1234").await;
    assert_eq!(
        put_settings(&admin, settings(port)).await.status,
        StatusCode::OK
    );
    let started = Instant::now();
    let t = admin
        .post("/api/v1/settings/mail/test", json!({"to": "a@example.com"}))
        .await;
    assert_eq!(t.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.body);
    assert!(
        t.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("did not finish")),
        "{}",
        t.body
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let id = s
        .state
        .mail
        .enqueue(OutgoingMail {
            to: "a@example.com".into(),
            subject: "x".into(),
            body: "x".into(),
            attachment: None,
            reference: None,
        })
        .await
        .expect("enqueue");
    let report = s.state.mail.pass(api::now_ms()).await.expect("pass");
    assert_eq!(report.retrying, [id]);
    let item = outbox_until(&admin, id, |m| m["attempts"] == 1).await;
    assert!(
        item["last_error"]
            .as_str()
            .is_some_and(|m| m.contains("did not finish")),
        "{item}"
    );
}

/// VOICE-06: a message left after a voice file with 通知メール on is mailed once, with its WAV,
/// to that voice file's address; one whose voice file does not notify is not; and a message
/// stored while nobody was listening is mailed by the next pass (at start).
#[tokio::test(flavor = "multi_thread")]
async fn a_voicemail_message_is_mailed_with_its_wav_to_the_voice_files_address() {
    use store::journal::{CallStart, Journal, Write};
    let s = server(Duration::from_millis(200), 10).await;
    let port = free_port();
    let smtp = sink(port, None).await;
    let admin = Client::login(&s, "admin", "Admin1234").await;
    let r = put_settings(&admin, settings(port)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let clock: std::sync::Arc<dyn engine::Clock> =
        std::sync::Arc::new(store::clock::SystemClock::default());
    let (journal, _) = Journal::start(s.store.clone(), "test", clock)
        .await
        .expect("journal");

    // Two messages as the telephony stores them: one to be mailed, one not.
    let wav = wav_bytes();
    let mut calls = Vec::new();
    for (i, email) in ["night@example.com", ""].into_iter().enumerate() {
        let id = journal.new_call_id().await.expect("call id");
        let file = format!("2026-12-02/{id}.wav");
        let path = s.state.config.voicemail_dir.join(&file);
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, &wav).expect("wav");
        journal
            .commit(vec![
                Write::CallStarted(CallStart {
                    id,
                    call_uuid: format!("vm-{id}"),
                    direction: store::calls::Direction::Inbound,
                    started_at: 1_796_191_200_000,
                    remote_party: format!("0901111000{i}"),
                    number_id: None,
                    number: None,
                    agent_id: None,
                    peer_agent_id: None,
                    group_id: None,
                }),
                Write::VoicemailSaved(store::voicemails::NewVoicemail {
                    call_id: id,
                    voice_file_id: None,
                    voice_file_name: "夜間案内".into(),
                    caller: format!("0901111000{i}"),
                    call_started_at: 1_796_191_200_000,
                    recorded_at: 1_796_191_212_000,
                    duration_ms: 4_400,
                    file,
                    stop_reason: "pound".into(),
                    notify_email: email.into(),
                }),
            ])
            .await
            .expect("journal");
        calls.push(id);
    }

    assert_eq!(api::voicemail_notify::notify_pending(&s.state).await, 1);
    assert_eq!(
        api::voicemail_notify::notify_pending(&s.state).await,
        0,
        "handed to the mailer once"
    );
    let got = smtp.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m["rcpt_tos"], json!(["night@example.com"]));
    let subject = m["subject"].as_str().unwrap_or_default();
    assert!(
        subject.contains("09011110000") && subject.contains("4秒"),
        "{subject}"
    );
    let text = m["text"].as_str().unwrap_or_default();
    // 2026-12-02T06:00:00Z in the system time zone, Asia/Tokyo.
    assert!(text.contains("2026-12-02 15:00:00"), "{text}");
    assert!(text.contains("夜間案内"), "{text}");
    let att = m["attachments"].as_array().expect("attachments");
    assert_eq!(att.len(), 1, "{m}");
    assert_eq!(att[0]["content_type"], "audio/wav");
    let data = base64::engine::general_purpose::STANDARD
        .decode(att[0]["data"].as_str().expect("data"))
        .expect("base64");
    assert_eq!(data, wav, "the message's WAV, byte for byte");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1, "one mail only");
}
