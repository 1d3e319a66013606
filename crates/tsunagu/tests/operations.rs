//! Operations: readiness and startup checks against the real binary (issue 10).

mod process;

use process::{command, run_to_end, serve_args, start};
use serde_json::Value;
use sqlx::Connection;

async fn readyz(client: &reqwest::Client, base: &str) -> (u16, Value) {
    let r = client.get(format!("{base}/readyz")).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn healthz(client: &reqwest::Client, base: &str) -> u16 {
    client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Issue 10 item 7: /readyz proves the store takes a write and SIP listens; /healthz stays a
/// liveness check that a database refusing writes does not fail.
#[tokio::test(flavor = "multi_thread")]
async fn readiness_needs_a_writable_store_and_sip() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = start(data.path(), &[], "http", &client).await;

    let (status, body) = readyz(&client, &server.base).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["checks"]["store"], "ok");
    assert_eq!(body["checks"]["sip"], "ok");

    // Another process holds the write lock: reads go on, writes cannot.
    let db = data.path().join("tsunagu.db");
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    assert_eq!(healthz(&client, &server.base).await, 200);
    let (status, body) = readyz(&client, &server.base).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    assert!(
        body["checks"]["store"]
            .as_str()
            .unwrap()
            .starts_with("cannot write"),
        "{body}"
    );
    assert_eq!(body["checks"]["sip"], "ok");
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    assert_eq!(readyz(&client, &server.base).await.0, 200);

    // The database file deleted under the running server: SQLite would go on writing into
    // the unlinked file, and everything would be gone at the next start.
    std::fs::remove_file(&db).unwrap();
    assert_eq!(healthz(&client, &server.base).await, 200);
    let (status, body) = readyz(&client, &server.base).await;
    assert_eq!(status, 503, "{body}");
    let store = body["checks"]["store"].as_str().unwrap();
    // "deleted", or "deleted or replaced" once a new pool connection has made an empty file
    // in its place (which of the two depends on the pool's timing).
    assert!(store.contains("was deleted"), "{body}");
    assert!(store.contains(&db.display().to_string()), "{body}");
}

/// Issue 10 item 7: a start on an unusable data directory fails at once with the cause, not
/// with a pool timeout after ten seconds.
#[tokio::test(flavor = "multi_thread")]
async fn start_on_an_unusable_data_directory_names_the_cause() {
    // A file that is not a database.
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("tsunagu.db"), vec![0x42u8; 8192]).unwrap();
    let (args, _, _) = serve_args(data.path(), &[]);
    let (status, stderr) = run_to_end(command(&args)).await;
    assert!(!status.success());
    assert!(stderr.contains("file is not a database"), "{stderr}");
    assert!(!stderr.contains("timed out"), "{stderr}");
    assert!(
        stderr.contains(&data.path().join("tsunagu.db").display().to_string()),
        "{stderr}"
    );

    // The database path is a directory.
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(data.path().join("tsunagu.db")).unwrap();
    let (args, _, _) = serve_args(data.path(), &[]);
    let (status, stderr) = run_to_end(command(&args)).await;
    assert!(!status.success());
    assert!(stderr.contains("is not a regular file"), "{stderr}");

    // A directory the server may not write to, as an unprivileged user (the tests may run as
    // root, which may write anywhere: then as `nobody`).
    let data = tempfile::tempdir().unwrap();
    let ro = data.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let (args, _, _) = serve_args(&ro, &[]);
    let root = nix_is_root();
    let cmd = if root {
        let mut probe = tokio::process::Command::new("runuser");
        probe.args([
            "-u",
            "nobody",
            "--",
            env!("CARGO_BIN_EXE_tsunagu"),
            "--version",
        ]);
        if !probe.output().await.is_ok_and(|o| o.status.success()) {
            eprintln!("skipped the read-only case: `nobody` cannot run the test binary here");
            return;
        }
        let mut c = tokio::process::Command::new("runuser");
        c.args(["-u", "nobody", "--", env!("CARGO_BIN_EXE_tsunagu")])
            .args(&args)
            .env("TSUNAGU_ADMIN_PASSWORD", process::ADMIN_PASSWORD)
            .kill_on_drop(true);
        c
    } else {
        command(&args)
    };
    let (status, stderr) = run_to_end(cmd).await;
    assert!(!status.success());
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert!(stderr.contains("cannot open it for writing"), "{stderr}");
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Issue 10 item 3: the console unlocks an account even when no administrator can log in, and
/// the unlock is an event. Run as the README and docs/operations.md write it.
#[tokio::test(flavor = "multi_thread")]
async fn admin_unlock_from_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let client = reqwest::Client::new();
    let server = start(&data, &[], "http", &client).await;
    let login = |password: &'static str| {
        client
            .post(format!("{}/api/v1/auth/login", server.base))
            .json(&serde_json::json!({"login_id": "admin", "password": password}))
            .send()
    };
    // The only administrator locked (as an older version, or a direct edit, could leave it).
    let db = format!("sqlite://{}", data.join("tsunagu.db").display());
    let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
    sqlx::query("UPDATE agents SET locked = 1 WHERE login_id = 'admin'")
        .execute(&mut c)
        .await
        .unwrap();
    assert_eq!(login(process::ADMIN_PASSWORD).await.unwrap().status(), 423);

    let mut cmd = command(&[]);
    cmd.args(["admin", "unlock", "admin", "--data-dir", "./data"])
        .current_dir(dir.path());
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "unlocked `admin`"
    );
    assert_eq!(login(process::ADMIN_PASSWORD).await.unwrap().status(), 200);
    let (kind, event): (String, String) =
        sqlx::query_as("SELECT kind, data FROM events WHERE kind LIKE 'account_%'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!(kind, "account_unlocked");
    let event: Value = serde_json::from_str(&event).unwrap();
    assert_eq!(event["reason"], "console");
    assert_eq!(event["login_id"], "admin");

    let mut cmd = command(&[]);
    cmd.args(["admin", "unlock", "nosuch", "--data-dir", "./data"])
        .current_dir(dir.path());
    let (status, stderr) = run_to_end(cmd).await;
    assert!(!status.success());
    assert!(
        stderr.contains("no account with login ID `nosuch`"),
        "{stderr}"
    );
}
