//! AUTH-06 hardened (issue 10 item 3): failed logins are delayed per account and per source
//! address before the lock; an automatic lock lifts by itself; the last unlocked
//! administrator is delayed but never locked; every lock and unlock is an event.

mod common;

use api::login_throttle::Backoff;
use common::{start_configured, Client, Resp, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// Delays long enough that a test never outruns them by accident.
const LONG: Backoff = Backoff {
    free: 1,
    base: Duration::from_secs(600),
    max: Duration::from_secs(600),
};

async fn login(c: &Client, login_id: &str, password: &str) -> Resp {
    c.post(
        "/api/v1/auth/login",
        json!({"login_id": login_id, "password": password}),
    )
    .await
}

/// As if `ms` had passed since the account's last failure and lock.
async fn rewind(server: &Server, login_id: &str, ms: i64) {
    let mut c = server.store.conn().await.unwrap();
    sqlx::query(
        "UPDATE agents SET last_failed_login_at = last_failed_login_at - $1,
            auto_locked_at = auto_locked_at - $1 WHERE login_id = $2",
    )
    .bind(ms)
    .bind(login_id)
    .execute(&mut *c)
    .await
    .unwrap();
}

/// Lock and unlock events of the log: (kind, data).
async fn lock_events(server: &Server) -> Vec<(String, Value)> {
    let mut c = server.store.conn().await.unwrap();
    store::events::read_after(&mut c, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.starts_with("account_"))
        .map(|e| (e.kind, e.data))
        .collect()
}

fn retry_after(r: &Resp) -> u64 {
    r.headers["retry-after"].to_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_delayed_then_lock_and_the_lock_lifts_after_its_time() {
    let server = start_configured(true, None, |c| {
        c.login.account = LONG;
        c.login.source = Backoff::NONE;
    })
    .await;
    let anon = Client::anonymous(&server);

    // The first failure is free; after the second the next attempt must wait, whatever its
    // password, and the refused attempt is not counted.
    assert_eq!(
        login(&anon, "201", "Wrong1234").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&anon, "201", "Wrong1234").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = login(&anon, "201", "Demo1234").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "throttled");
    let wait = retry_after(&r);
    assert!((1..=600).contains(&wait), "Retry-After {wait}");
    assert!(r.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("for this account"));
    // Another account is not held up by this one.
    assert_eq!(login(&anon, "202", "Demo1234").await.status, StatusCode::OK);

    // Failures 3..5, each after its delay: the fifth locks.
    for n in 3..=5 {
        rewind(&server, "201", 600_000).await;
        let r = login(&anon, "201", "Wrong1234").await;
        let expected = if n == 5 {
            StatusCode::LOCKED
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(r.status, expected, "failure {n}: {}", r.body);
    }
    let r = login(&anon, "201", "Demo1234").await;
    assert_eq!(r.status, StatusCode::LOCKED);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unlocks by itself in"),
        "{}",
        r.body
    );
    let events = lock_events(&server).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "account_locked");
    assert_eq!(events[0].1["login_id"], "201");
    assert_eq!(events[0].1["reason"], "failed_logins");
    assert_eq!(events[0].1["failed_logins"], 5);

    // 29 minutes on: still locked. 31: it lifts at the next attempt, with an event.
    rewind(&server, "201", 29 * 60_000).await;
    assert_eq!(
        login(&anon, "201", "Demo1234").await.status,
        StatusCode::LOCKED
    );
    rewind(&server, "201", 2 * 60_000).await;
    let r = login(&anon, "201", "Demo1234").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let events = lock_events(&server).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].0, "account_unlocked");
    assert_eq!(events[1].1["reason"], "expired");
    // And the count starts again from zero.
    assert_eq!(
        login(&anon, "201", "Wrong1234").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_locks_are_lifted_without_a_login_and_admin_locks_stay() {
    let server = start_configured(true, None, |c| {
        c.login.account = Backoff::NONE;
        c.login.source = Backoff::NONE;
    })
    .await;
    let anon = Client::anonymous(&server);
    for _ in 0..5 {
        login(&anon, "201", "Wrong1234").await;
    }
    let admin = Client::login(&server, "admin", "Admin1234").await;
    // An administrator's lock (AUTH-07) is an event too, and never lifts by itself.
    let id203 = admin.get("/api/v1/agents?login_id=203").await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    let r = admin
        .patch(&format!("/api/v1/agents/{id203}"), json!({"locked": true}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    rewind(&server, "201", 31 * 60_000).await;
    let state = api::AppState::new(
        server.store.clone(),
        api::ApiConfig::new("/nonexistent".into(), "/nonexistent".into()),
    );
    assert_eq!(api::auth::release_expired_locks(&state).await.unwrap(), 1);
    let agents = admin.get("/api/v1/agents").await.body["items"].clone();
    let locked = |login: &str| {
        agents
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["login_id"] == login)
            .unwrap()["locked"]
            .clone()
    };
    assert_eq!(locked("201"), false);
    assert_eq!(locked("203"), true);
    let kinds: Vec<(String, String)> = lock_events(&server)
        .await
        .into_iter()
        .map(|(k, d)| (k, format!("{} {}", d["login_id"], d["reason"])))
        .collect();
    assert_eq!(
        kinds,
        [
            ("account_locked".into(), "\"201\" \"failed_logins\"".into()),
            ("account_locked".into(), "\"203\" \"administrator\"".into()),
            ("account_unlocked".into(), "\"201\" \"expired\"".into()),
        ]
    );
    // The administrator unlocks: an event naming them.
    admin
        .patch(&format!("/api/v1/agents/{id203}"), json!({"locked": false}))
        .await;
    let last = lock_events(&server).await.pop().unwrap();
    assert_eq!(last.0, "account_unlocked");
    assert_eq!(last.1["reason"], "administrator");
    assert_eq!(last.1["by"], "admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_unlocked_administrator_is_delayed_but_never_locked() {
    let server = start_configured(false, None, |c| {
        c.login.account = Backoff::NONE;
        c.login.source = Backoff::NONE;
    })
    .await;
    let anon = Client::anonymous(&server);
    for n in 1..=12 {
        let r = login(&anon, "admin", "Wrong1234").await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "failure {n}: {}",
            r.body
        );
    }
    let admin = Client::login(&server, "admin", "Admin1234").await;
    assert!(lock_events(&server).await.is_empty());

    // With a second administrator, the first is no longer the last: it locks.
    let r = admin
        .post(
            "/api/v1/agents",
            json!({"login_id": "admin2", "name": "Second", "nickname": "2", "role": "admin",
                   "password": "Second1234"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    for _ in 0..4 {
        assert_eq!(
            login(&anon, "admin", "Wrong1234").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&anon, "admin", "Wrong1234").await.status,
        StatusCode::LOCKED
    );
    // admin2 is now the last one: never locked.
    for _ in 0..8 {
        assert_eq!(
            login(&anon, "admin2", "Wrong1234").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&anon, "admin2", "Second1234").await.status,
        StatusCode::OK
    );

    // The delays do apply to the last administrator.
    let server = start_configured(false, None, |c| {
        c.login.account = LONG;
        c.login.source = Backoff::NONE;
    })
    .await;
    let anon = Client::anonymous(&server);
    for _ in 0..2 {
        assert_eq!(
            login(&anon, "admin", "Wrong1234").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&anon, "admin", "Admin1234").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_throttled_per_source_address_and_forwarded_for_needs_a_trusted_proxy() {
    let source = Backoff {
        free: 3,
        base: Duration::from_secs(600),
        max: Duration::from_secs(600),
    };
    let server = start_configured(false, None, |c| {
        c.login.account = Backoff::NONE;
        c.login.source = source;
    })
    .await;
    let anon = Client::anonymous(&server);
    let with_xff = |login_id: &str, password: &str, xff: &str| {
        anon.http
            .post(format!("{}/api/v1/auth/login", anon.base))
            .header("x-forwarded-for", xff)
            .json(&json!({"login_id": login_id, "password": password}))
            .send()
    };
    // Three free guesses and a fourth on four names (a spray): then this address waits, even
    // for a right password, and a made-up X-Forwarded-For does not get round it.
    for name in ["alice", "bob", "carol", "dave"] {
        assert_eq!(
            login(&anon, name, "Wrong1234").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = login(&anon, "admin", "Admin1234").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("from your address"));
    let r = with_xff("admin", "Admin1234", "198.51.100.77")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    // Behind a trusted proxy (here: loopback), each forwarded client counts on its own.
    let server = start_configured(false, None, |c| {
        c.login.account = Backoff::NONE;
        c.login.source = source;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let anon = Client::anonymous(&server);
    let with_xff = |login_id: &str, password: &str, xff: &str| {
        anon.http
            .post(format!("{}/api/v1/auth/login", anon.base))
            .header("x-forwarded-for", xff)
            .json(&json!({"login_id": login_id, "password": password}))
            .send()
    };
    for _ in 0..4 {
        let r = with_xff("nobody", "Wrong1234", "198.51.100.1")
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = with_xff("admin", "Admin1234", "198.51.100.1")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = with_xff("admin", "Admin1234", "198.51.100.2")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
