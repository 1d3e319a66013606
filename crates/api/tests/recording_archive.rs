//! The daily recording archive (REC-01…05, ROLE-05, S3-01…03): a day with three recordings
//! becomes one ZIP holding exactly those files, downloaded with ranges by an SV and refused to
//! an agent; retention deletes archived files only; a crash mid-pack is redone at the next
//! start; and the ZIP is uploaded to a real S3-compatible server (moto, signatures checked),
//! with the presigned link giving the same bytes and a wrong secret reported, not a 500.

mod common;

use api::archive::Archiver;
use common::{start, Client, Server};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use store::journal::Journal;

const DAY_MS: i64 = 86_400_000;

struct Setup {
    server: Server,
    journal: Journal,
    archiver: Arc<Archiver>,
    schedule: engine::archive_schedule::Schedule,
}

async fn setup() -> Setup {
    let server = start(true).await;
    let clock: Arc<dyn engine::Clock> = Arc::new(store::clock::SystemClock::default());
    let (journal, _) = Journal::start(server.store.clone(), "test", clock)
        .await
        .expect("journal");
    let archiver = archiver(&server);
    let schedule = server
        .store
        .system_settings()
        .await
        .expect("settings")
        .schedule()
        .expect("schedule");
    Setup {
        server,
        journal,
        archiver,
        schedule,
    }
}

fn archiver(server: &Server) -> Arc<Archiver> {
    Archiver::new(
        server.store.clone(),
        server.data_dir.join("recordings"),
        server.data_dir.join("archives"),
    )
}

impl Setup {
    /// The local day `days_ago` days before today, and its name.
    fn day(&self, days_ago: i64) -> (i64, String) {
        let d = self.schedule.day_of(api::now_ms() - days_ago * DAY_MS);
        (
            self.schedule.bounds(d).0,
            engine::archive_schedule::day_name(d),
        )
    }

    async fn three_recordings(&self, day_start: i64) -> Vec<i64> {
        api::seed::demo_recordings(
            &self.server.store,
            &self.journal,
            &self.server.data_dir.join("recordings"),
            day_start,
        )
        .await
        .expect("recordings")
    }

    fn zip(&self, name: &str) -> PathBuf {
        self.server
            .data_dir
            .join("archives")
            .join(format!("{name}.zip"))
    }
}

fn zip_entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let f = std::fs::File::open(path).expect("zip file");
    let mut z = zip::ZipArchive::new(f).expect("zip");
    (0..z.len())
        .map(|i| {
            let mut e = z.by_index(i).expect("entry");
            let mut data = Vec::new();
            e.read_to_end(&mut data).expect("read entry");
            (e.name().to_string(), data)
        })
        .collect()
}

#[tokio::test]
async fn a_day_with_three_recordings_becomes_one_zip_of_exactly_those_files() {
    let s = setup().await;
    let (two_days_ago, name) = s.day(2);
    let calls = s.three_recordings(two_days_ago).await;
    // Today's recordings wait for today's business day to end.
    let (today, today_name) = s.day(0);
    let later = s.three_recordings(today).await;
    let now = api::now_ms();
    let report = s.archiver.pass(now).await.expect("pass");
    let mut want_packed = vec![name.as_str()];
    if s.schedule.due(s.schedule.day_of(now), false, now) {
        want_packed.push(today_name.as_str());
    }
    assert_eq!(report.packed, want_packed);

    let entries = zip_entries(&s.zip(&name));
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let want: Vec<String> = calls.iter().map(|c| format!("{c}.wav")).collect();
    assert_eq!(names, want);
    for (call, (_, data)) in calls.iter().zip(&entries) {
        let rec = s
            .server
            .store
            .recording(*call)
            .await
            .expect("row")
            .expect("recording");
        let on_disk = std::fs::read(s.server.data_dir.join("recordings").join(&rec.file))
            .expect("recording file");
        assert_eq!(data, &on_disk, "call {call}");
    }
    assert!(later
        .iter()
        .all(|c| !names.contains(&format!("{c}.wav").as_str())));

    // Nothing to do the second time.
    let again = s.archiver.pass(now).await.expect("pass");
    assert!(again.packed.is_empty(), "{again:?}");

    // The SV sees it with its size and downloads it, with ranges.
    let sv = Client::login(&s.server, "sv01", "Demo1234").await;
    let list = sv
        .get(&format!("/api/v1/recording-archives?from={name}&to={name}"))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let item = &list.body["items"][0];
    assert_eq!(item["file_name"], format!("{name}.zip"));
    assert_eq!(item["recordings"], 3);
    let size = std::fs::metadata(s.zip(&name)).expect("zip").len();
    assert_eq!(item["bytes"].as_u64(), Some(size));
    assert_eq!(item["state"], "ready");
    assert_eq!(item["s3_state"], "off");
    let url = format!(
        "{}/api/v1/recording-archives/{name}/download",
        s.server.base
    );
    let whole = sv.http.get(&url).send().await.expect("download");
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(
        whole.headers()["content-disposition"],
        format!("attachment; filename=\"{name}.zip\"").as_str()
    );
    let body = whole.bytes().await.expect("body");
    assert_eq!(body.as_ref(), std::fs::read(s.zip(&name)).expect("zip"));
    let part = sv
        .http
        .get(&url)
        .header("range", "bytes=0-3")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.expect("body").as_ref(), b"PK\x03\x04");
    // One event for the download, naming who; none for the range request.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM events WHERE kind = 'recording_archive.downloaded' AND data LIKE '%sv01%'",
    )
    .fetch_one(s.server.store.pool())
    .await
    .expect("count");
    assert_eq!(n, 1);
    let bad = sv.get("/api/v1/recording-archives?from=2026-12-01").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.fields(), ["from"]);
    let bad = sv.get("/api/v1/recording-archives?to=20260230").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.fields(), ["to"]);
    let none = sv.get("/api/v1/recording-archives/19991231/download").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);

    // ROLE-05: not for agents.
    let agent = Client::login(&s.server, "201", "Demo1234").await;
    assert_eq!(
        agent.get("/api/v1/recording-archives").await.status,
        StatusCode::FORBIDDEN
    );
    let r = agent.http.get(&url).send().await.expect("download");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_late_recording_is_added_once_the_next_business_day_has_ended() {
    let s = setup().await;
    let (three_days_ago, name) = s.day(3);
    s.three_recordings(three_days_ago).await;
    let now = api::now_ms();
    assert_eq!(
        s.archiver.pass(now).await.expect("pass").packed,
        [name.as_str()]
    );
    // A fourth call of that day that ended after the archive was built.
    let more = s.three_recordings(three_days_ago + 3 * 3_600_000).await;
    assert_eq!(
        s.archiver.pass(now).await.expect("pass").packed,
        [name.as_str()]
    );
    let entries = zip_entries(&s.zip(&name));
    assert_eq!(entries.len(), 6);
    assert!(entries
        .iter()
        .any(|(n, _)| *n == format!("{}.wav", more[0])));
}

#[tokio::test]
async fn retention_deletes_only_archived_files_and_history_says_where_they_went() {
    let s = setup().await;
    let (ten_days_ago, name) = s.day(10);
    let calls = s.three_recordings(ten_days_ago).await;
    let admin = Client::login(&s.server, "admin", "Admin1234").await;
    let mut settings = admin.get("/api/v1/settings/system").await.body;
    settings["recording_retention_days"] = json!(5);
    let r = admin
        .send(
            Method::PUT,
            "/api/v1/settings/system",
            Some(settings.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let report = s.archiver.pass(api::now_ms()).await.expect("pass");
    assert_eq!(report.packed, [name.as_str()]);
    assert_eq!(report.purged, 3);
    for call in &calls {
        let rec = s
            .server
            .store
            .recording(*call)
            .await
            .expect("row")
            .expect("rec");
        assert!(rec.purged_at.is_some());
        assert!(!s
            .server
            .data_dir
            .join("recordings")
            .join(&rec.file)
            .exists());
    }
    // The archive keeps them.
    assert_eq!(zip_entries(&s.zip(&name)).len(), 3);
    let r = admin
        .get(&format!("/api/v1/calls/{}/recording", calls[0]))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.to_string().contains("archive"), "{}", r.body);

    // Bad settings name their field.
    for (field, value) in [
        ("time_zone", json!("Mars/Olympus")),
        ("business_day_end", json!("25:00")),
        ("recording_retention_days", json!(100_000)),
    ] {
        let mut bad = settings.clone();
        bad[field] = value;
        let r = admin
            .send(Method::PUT, "/api/v1/settings/system", Some(bad))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            r.body
        );
        assert_eq!(r.fields(), [field]);
    }
    let sv = Client::login(&s.server, "sv01", "Demo1234").await;
    assert_eq!(
        sv.send(Method::PUT, "/api/v1/settings/system", Some(settings))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        sv.get("/api/v1/settings/system").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_pack_cut_short_by_a_crash_is_redone_at_the_next_start() {
    let s = setup().await;
    let (two_days_ago, name) = s.day(2);
    s.three_recordings(two_days_ago).await;
    // What a crash leaves: the row says packing, half a file, no recording marked archived.
    s.server
        .store
        .start_archive(&name, api::now_ms())
        .await
        .expect("row");
    let dir = s.server.data_dir.join("archives");
    std::fs::create_dir_all(&dir).expect("dir");
    let partial = dir.join(format!("{name}.zip.partial"));
    std::fs::write(&partial, b"PK half").expect("partial");

    let job = tokio::spawn(archiver(&s.server).run());
    let mut ready = false;
    for _ in 0..100 {
        let a = s.server.store.archive(&name).await.expect("row");
        if a.is_some_and(|a| a.state == store::archives::ArchiveState::Ready) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    job.abort();
    assert!(ready, "the day was packed again");
    assert!(!partial.exists());
    assert_eq!(zip_entries(&s.zip(&name)).len(), 3);
}

/// A moto server on a free port; killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn venv(bin: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.venv/bin")
        .join(bin)
}

async fn moto(auth: bool) -> Moto {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let mut cmd = Command::new(venv("moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if auth {
        // Three requests without authentication to create the user and key; all later ones
        // must be signed with a key IAM knows.
        cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "3");
    }
    let child = cmd
        .spawn()
        .expect("moto_server (scripts/install-deps.sh installs it in .venv)");
    let endpoint = format!("http://127.0.0.1:{port}");
    let m = Moto { child, endpoint };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto did not start");
}

/// A user, key and bucket in an authenticating moto: (key id, secret).
fn boto(args: &[&str]) -> Vec<u8> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_setup.py");
    let out = Command::new(venv("python"))
        .arg(script)
        .args(args)
        .output()
        .expect("moto_setup.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn prepare(m: &Moto, bucket: &str) -> (String, String) {
    let text = String::from_utf8_lossy(&boto(&["prepare", &m.endpoint, bucket])).to_string();
    let mut it = text.split_whitespace();
    match (it.next(), it.next()) {
        (Some(k), Some(s)) => (k.to_string(), s.to_string()),
        _ => panic!("moto_setup.py printed {text:?}"),
    }
}

fn s3_settings(m: &Moto, bucket: &str, key: &str, secret: Option<&str>) -> serde_json::Value {
    json!({
        "enabled": true,
        "bucket": bucket,
        "region": "us-east-1",
        "endpoint": m.endpoint,
        "access_key_id": key,
        "secret_access_key": secret,
        "prefix": "tsunagu/archives",
    })
}

#[tokio::test]
async fn archives_are_uploaded_to_s3_and_a_wrong_secret_is_reported() {
    let s = setup().await;
    let m = moto(true).await;
    let (key, secret) = prepare(&m, "recordings");
    let admin = Client::login(&s.server, "admin", "Admin1234").await;

    // A wrong secret: the test says why, nothing is saved, no 500.
    let wrong = s3_settings(&m, "recordings", &key, Some("not-the-secret"));
    let r = admin.post("/api/v1/settings/s3/test", wrong).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ok"], false);
    let error = r.body["error"].as_str().unwrap_or_default().to_string();
    assert!(
        error.contains("SignatureDoesNotMatch") || error.contains("403"),
        "{error}"
    );
    let r = admin
        .post(
            "/api/v1/settings/s3/test",
            s3_settings(&m, "recordings", &key, Some(&secret)),
        )
        .await;
    assert_eq!(r.body, json!({"ok": true, "error": null}));

    // Saved; the secret is write-only and kept when left out.
    let r = admin
        .send(
            Method::PUT,
            "/api/v1/settings/s3",
            Some(s3_settings(&m, "recordings", &key, Some(&secret))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.body.to_string().contains(&secret));
    assert_eq!(r.body["secret_set"], true);
    let r = admin
        .send(
            Method::PUT,
            "/api/v1/settings/s3",
            Some(s3_settings(&m, "recordings", &key, None)),
        )
        .await;
    assert_eq!(r.body["secret_set"], true, "{}", r.body);
    let got = admin.get("/api/v1/settings/s3").await;
    assert!(!got.body.to_string().contains(&secret));
    let mut missing = s3_settings(&m, "recordings", "", None);
    missing["bucket"] = json!("");
    let r = admin
        .send(Method::PUT, "/api/v1/settings/s3", Some(missing))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), ["bucket", "access_key_id"]);

    let (two_days_ago, name) = s.day(2);
    s.three_recordings(two_days_ago).await;
    let report = s.archiver.pass(api::now_ms()).await.expect("pass");
    assert_eq!(report.packed, [name.as_str()]);
    assert_eq!(report.uploaded, [name.as_str()], "{report:?}");
    let sv = Client::login(&s.server, "sv01", "Demo1234").await;
    let list = sv.get("/api/v1/recording-archives").await;
    assert_eq!(
        list.body["items"][0]["s3_state"], "uploaded",
        "{}",
        list.body
    );

    // The object is there, byte for byte (read back with the signing client).
    let link = sv
        .get(&format!("/api/v1/recording-archives/{name}/s3-link"))
        .await;
    assert_eq!(link.status, StatusCode::OK, "{}", link.body);
    let url = link.body["url"].as_str().unwrap_or_default().to_string();
    assert!(
        url.contains(&format!("tsunagu/archives/{name}.zip")),
        "{url}"
    );
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let zip = std::fs::read(s.zip(&name)).expect("zip");
    let object = format!("tsunagu/archives/{name}.zip");
    let stored = boto(&["get", &m.endpoint, "recordings", &object, &key, &secret]);
    assert_eq!(stored, zip);

    // An upload that fails shows on the screen and is retried.
    let r = admin
        .send(
            Method::PUT,
            "/api/v1/settings/s3",
            Some(s3_settings(&m, "recordings", &key, Some("wrong-now"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let (three_days_ago, name3) = s.day(3);
    s.three_recordings(three_days_ago).await;
    let report = s.archiver.pass(api::now_ms()).await.expect("pass");
    assert_eq!(report.upload_failed, [name3.as_str()], "{report:?}");
    let a = s
        .server
        .store
        .archive(&name3)
        .await
        .expect("row")
        .expect("archive");
    assert_eq!(a.s3_state, store::archives::S3State::Failed);
    assert!(a.s3_error.is_some_and(|e| !e.is_empty()));
    assert!(a.s3_next_at.is_some_and(|t| t > api::now_ms()));
}

/// moto checks presigned URLs only with its IAM authentication off, so the link is fetched
/// from a second, open server: the bytes a browser gets are the ZIP's.
#[tokio::test]
async fn the_presigned_link_downloads_the_same_bytes() {
    let s = setup().await;
    let m = moto(false).await;
    let made = reqwest::Client::new()
        .put(format!("{}/open", m.endpoint))
        .send()
        .await
        .expect("create bucket");
    assert!(made.status().is_success(), "{}", made.status());
    let admin = Client::login(&s.server, "admin", "Admin1234").await;
    let r = admin
        .send(
            Method::PUT,
            "/api/v1/settings/s3",
            Some(json!({
                "enabled": true, "bucket": "open", "region": "us-east-1",
                "endpoint": m.endpoint, "access_key_id": "k", "secret_access_key": "s",
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (two_days_ago, name) = s.day(2);
    s.three_recordings(two_days_ago).await;
    let report = s.archiver.pass(api::now_ms()).await.expect("pass");
    assert_eq!(report.uploaded, [name.as_str()], "{report:?}");
    let sv = Client::login(&s.server, "sv01", "Demo1234").await;
    let link = sv
        .get(&format!("/api/v1/recording-archives/{name}/s3-link"))
        .await;
    let url = link.body["url"].as_str().unwrap_or_default().to_string();
    let got = reqwest::get(&url).await.expect("presigned GET");
    assert_eq!(got.status(), StatusCode::OK);
    let body = got.bytes().await.expect("body");
    assert_eq!(body.as_ref(), std::fs::read(s.zip(&name)).expect("zip"));
}
