//! The administration API: validation per field, bad input of every kind, references that
//! block deletes, change history, lockout (AUTH-06/07) and first start.

mod common;

use common::{start, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn count(c: &Client, path: &str) -> i64 {
    c.get(path).await.body["total"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_validation_names_each_field() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let before = count(&admin, "/api/v1/agents").await;

    let r = admin.post("/api/v1/agents", json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["login_id", "name", "nickname", "password"] {
        assert!(
            r.fields().contains(&f.to_string()),
            "{f} missing in {}",
            r.body
        );
    }

    let r = admin
        .post("/api/v1/agents", json!({"login_id": "x1", "name": "n", "nickname": "n", "password": "weak", "pin": "12a4", "extension": "201", "role": "nope"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = r.fields();
    for f in ["login_id", "password", "pin", "extension", "role"] {
        assert!(fields.contains(&f.to_string()), "{f} missing in {}", r.body);
    }
    // An extension shared with a group is refused too (one dial plan).
    let r = admin.post("/api/v1/agents", json!({"login_id": "newbie", "name": "n", "nickname": "n", "password": "Strong123", "extension": "800"})).await;
    assert_eq!(r.fields(), vec!["extension"]);

    let ok = admin.post("/api/v1/agents", json!({"login_id": "newbie", "name": "新人", "nickname": "新人", "password": "Strong123", "pin": "1234"})).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.body["role"], "agent", "ROLE-02 default role");
    assert_eq!(ok.body["pin_set"], true);
    assert!(
        ok.body.get("password").is_none()
            && ok.body.get("pin").is_none()
            && ok.body.get("password_hash").is_none()
    );
    let dup = admin
        .post(
            "/api/v1/agents",
            json!({"login_id": "newbie", "name": "n", "nickname": "n", "password": "Strong123"}),
        )
        .await;
    assert_eq!(dup.fields(), vec!["login_id"]);
    assert_eq!(count(&admin, "/api/v1/agents").await, before + 1);

    // The new agent logs in; a password change by PATCH is policed too.
    let id = ok.body["id"].as_i64().unwrap();
    assert_eq!(
        admin
            .patch(
                &format!("/api/v1/agents/{id}"),
                json!({"password": "short"})
            )
            .await
            .fields(),
        vec!["password"]
    );
    Client::login(&server, "newbie", "Strong123").await;

    // Change history: create then update, secrets masked (AGENT-02).
    admin
        .patch(
            &format!("/api/v1/agents/{id}"),
            json!({"nickname": "しんじん", "password": "Another123"}),
        )
        .await;
    let h = admin
        .get(&format!("/api/v1/agents/{id}/history"))
        .await
        .body;
    assert_eq!(h["total"], 2);
    assert_eq!(h["items"][0]["action"], "update", "newest first by default");
    assert_eq!(h["items"][0]["actor"], "admin");
    assert_eq!(
        h["items"][0]["changes"]["nickname"],
        json!(["新人", "しんじん"])
    );
    assert_eq!(h["items"][0]["changes"]["password"], json!(["***", "***"]));
    assert!(!h.to_string().contains("Another123"));
}

async fn totals(c: &Client, names: &[&str]) -> Vec<i64> {
    let mut v = Vec::new();
    for name in names {
        v.push(count(c, &format!("/api/v1/{name}")).await);
    }
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_a_clear_4xx_and_changes_nothing() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let collections = [
        "agents",
        "roles",
        "terminals",
        "numbers",
        "groups",
        "agent-statuses",
        "trunks",
    ];
    let before = totals(&admin, &collections).await;
    let group_before = admin.get("/api/v1/groups/1").await.body;

    for name in collections {
        let path = format!("/api/v1/{name}");
        // Malformed JSON, wrong types, unknown fields, oversized bodies, not an object.
        for (body, code) in [
            ("{", StatusCode::BAD_REQUEST),
            ("", StatusCode::BAD_REQUEST),
            ("[1,2]", StatusCode::BAD_REQUEST),
            (r#"{"name": 5}"#, StatusCode::BAD_REQUEST),
            (
                r#"{"name": "x", "no_such_field": 1}"#,
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let r = admin.raw(Method::POST, &path, body).await;
            assert_eq!(r.status, code, "{name} {body}: {}", r.body);
            assert!(
                r.body["errors"][0]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{name} {body}: {}",
                r.body
            );
        }
        let r = admin.raw(Method::POST, &path, r#"{"name": 5}"#).await;
        assert_eq!(
            r.fields(),
            vec!["name"],
            "{name}: wrong type names the field"
        );
        let r = admin
            .raw(Method::POST, &path, r#"{"name": "x", "no_such_field": 1}"#)
            .await;
        assert_eq!(
            r.fields(),
            vec!["no_such_field"],
            "{name}: unknown field is named"
        );
        let huge = format!(r#"{{"name": "{}"}}"#, "a".repeat(api::MAX_BODY + 1024));
        assert_eq!(
            admin.raw(Method::POST, &path, &huge).await.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{name}"
        );
        // HTML in names is refused; SQL metacharacters are data, never code.
        let r = admin
            .post(&path, json!({"name": "<script>alert(1)</script>"}))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            r.body
        );
        assert!(
            r.fields().contains(&"name".to_string()),
            "{name}: {}",
            r.body
        );
        let r = admin
            .get(&format!("{path}?name=%27%20OR%201%3D1%20--&offset=0"))
            .await;
        assert_eq!(
            (r.status, r.body["total"].as_i64()),
            (StatusCode::OK, Some(0)),
            "{name}"
        );
        let r = admin.get(&format!("{path}?limit=abc")).await;
        assert_eq!(
            (r.status, r.fields()),
            (StatusCode::BAD_REQUEST, vec!["limit".to_string()]),
            "{name}"
        );
        assert_eq!(
            admin.get(&format!("{path}/abc")).await.status,
            StatusCode::NOT_FOUND,
            "{name}"
        );
        assert_eq!(
            admin
                .patch(&format!("{path}/999999"), json!({}))
                .await
                .status,
            StatusCode::NOT_FOUND,
            "{name}"
        );
    }
    let r = admin.post("/api/v1/agents", json!({"login_id": "x'; DROP TABLE agents;--", "name": "n", "nickname": "n", "password": "Strong123"})).await;
    assert_eq!(r.fields(), vec!["login_id"]);
    let r = admin
        .patch(
            "/api/v1/groups/1",
            json!({"ring_time": 0, "color_bg": "red", "strategy": "fastest"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "unknown strategy is a type error: {}",
        r.body
    );
    assert_eq!(r.fields(), vec!["strategy"]);
    let r = admin
        .patch(
            "/api/v1/groups/1",
            json!({"ring_time": 0, "color_bg": "red", "members": [{"agent_id": 424242}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), vec!["ring_time", "color_bg", "members"]);

    assert_eq!(
        totals(&admin, &collections).await,
        before,
        "nothing was created"
    );
    let mut group_after = admin.get("/api/v1/groups/1").await.body;
    assert_eq!(group_before, group_after.take(), "nothing was changed");
    assert!(server.store.ping().await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn referenced_records_cannot_be_deleted() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    // The demo number routes to group 1: the group stays.
    let r = admin.delete("/api/v1/groups/1").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("phone number"),
        "{}",
        r.body
    );
    // Agents linked to terminals stay; the number used as caller ID stays.
    let agents = admin.get("/api/v1/agents?login_id=201").await.body;
    let id = agents["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        admin.delete(&format!("/api/v1/agents/{id}")).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        admin.delete("/api/v1/numbers/1").await.status,
        StatusCode::CONFLICT
    );
    // An ACW status in use by a group stays.
    let acw = admin.get("/api/v1/agent-statuses?name=ACW").await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        admin
            .patch("/api/v1/groups/1", json!({"acw_status_id": acw}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        admin
            .delete(&format!("/api/v1/agent-statuses/{acw}"))
            .await
            .status,
        StatusCode::CONFLICT
    );
    // Unlink, then the delete goes through.
    assert_eq!(
        admin
            .patch("/api/v1/numbers/1", json!({"route": null}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        admin.delete("/api/v1/groups/1").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin.get("/api/v1/groups/1").await.status,
        StatusCode::NOT_FOUND
    );
    // Routing targets must exist, and only kinds this release routes are accepted.
    let r = admin
        .patch(
            "/api/v1/numbers/1",
            json!({"route": {"kind": "group", "id": 1}}),
        )
        .await;
    assert_eq!(r.fields(), vec!["route"]);
    let r = admin
        .patch(
            "/api/v1/numbers/1",
            json!({"route": {"kind": "ivr", "id": 1}}),
        )
        .await;
    assert_eq!(r.fields(), vec!["route"]);
    let r = admin
        .patch("/api/v1/numbers/1", json!({"number": "0399999999"}))
        .await;
    assert_eq!(r.fields(), vec!["number"], "NUM-02 number is read-only");
    // The last administrator can be neither deleted, locked nor demoted; nor can one delete oneself.
    let me = admin.get("/api/v1/me").await.body["user"]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        admin.delete(&format!("/api/v1/agents/{me}")).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        admin
            .patch(&format!("/api/v1/agents/{me}"), json!({"role": "sv"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        admin
            .patch(&format!("/api/v1/agents/{me}"), json!({"locked": true}))
            .await
            .status,
        StatusCode::CONFLICT
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn five_wrong_passwords_lock_until_an_admin_unlocks() {
    // The delays between attempts are tested in login_lock.rs; here only the count matters.
    let server = common::start_configured(true, None, |c| {
        c.login.account = api::login_throttle::Backoff::NONE;
        c.login.source = api::login_throttle::Backoff::NONE;
    })
    .await;
    let anon = Client::anonymous(&server);
    let attempt = |pw: &'static str| {
        let anon = &anon;
        async move {
            anon.post(
                "/api/v1/auth/login",
                json!({"login_id": "202", "password": pw}),
            )
            .await
        }
    };
    for _ in 0..4 {
        let r = attempt("Wrong1234").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.body["errors"][0]["message"],
            "The login ID or password is incorrect."
        );
    }
    // A wrong login ID says the same thing.
    let r = anon
        .post(
            "/api/v1/auth/login",
            json!({"login_id": "nobody", "password": "Wrong1234"}),
        )
        .await;
    assert_eq!(
        r.body["errors"][0]["message"],
        "The login ID or password is incorrect."
    );
    let r = attempt("Wrong1234").await;
    assert_eq!(r.status, StatusCode::LOCKED, "fifth failure locks");
    assert!(r.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("locked"));
    // Even the right password is refused now.
    assert_eq!(attempt("Demo1234").await.status, StatusCode::LOCKED);

    let admin = Client::login(&server, "admin", "Admin1234").await;
    let a = admin.get("/api/v1/agents?login_id=202").await.body["items"][0].clone();
    assert_eq!(a["locked"], true);
    let id = a["id"].as_i64().unwrap();
    assert_eq!(
        admin
            .patch(&format!("/api/v1/agents/{id}"), json!({"locked": false}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(attempt("Demo1234").await.status, StatusCode::OK);
    // The count restarts: four more failures do not lock.
    for _ in 0..4 {
        assert_eq!(attempt("Wrong1234").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(attempt("Demo1234").await.status, StatusCode::OK);

    // AUTH-07: an administrator locks deliberately; the agent's open session ends.
    let agent = Client::login(&server, "203", "Demo1234").await;
    let id = admin.get("/api/v1/agents?login_id=203").await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        admin
            .patch(&format!("/api/v1/agents/{id}"), json!({"locked": true}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        agent.get("/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anon.post(
            "/api/v1/auth/login",
            json!({"login_id": "203", "password": "Demo1234"})
        )
        .await
        .status,
        StatusCode::LOCKED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn session_cookie_is_httponly_strict_and_personal_settings_work() {
    let server = start(true).await;
    let anon = Client::anonymous(&server);
    let r = anon
        .post(
            "/api/v1/auth/login",
            json!({"login_id": "201", "password": "Demo1234"}),
        )
        .await;
    let cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(r.body["csrf_token"].as_str().is_some_and(|t| t.len() >= 32));

    let agent = Client::login(&server, "201", "Demo1234").await;
    let r = agent
        .patch(
            "/api/v1/me",
            json!({"language": "en", "history_order": "asc"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["user"]["language"].clone()),
        (StatusCode::OK, json!("en"))
    );
    assert_eq!(
        agent
            .patch("/api/v1/me", json!({"language": "fr"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // PREF-02: the current password is checked and the policy applies.
    let r = agent
        .send(
            Method::PUT,
            "/api/v1/me/password",
            Some(json!({"current_password": "Demo1234", "new_password": "weakpass"})),
        )
        .await;
    assert_eq!(r.fields(), vec!["new_password"]);
    let r = agent
        .send(
            Method::PUT,
            "/api/v1/me/password",
            Some(json!({"current_password": "nope", "new_password": "Better123"})),
        )
        .await;
    assert_eq!(r.fields(), vec!["current_password"]);
    let before = agent.get("/api/v1/me").await.body["user"]["password_updated_at"]
        .as_i64()
        .unwrap();
    let r = agent
        .send(
            Method::PUT,
            "/api/v1/me/password",
            Some(
                json!({"current_password": "Demo1234", "new_password": "Better123", "pin": "4321"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let me = agent.get("/api/v1/me").await.body;
    assert!(
        me["user"]["password_updated_at"].as_i64().unwrap() >= before,
        "AUTH-09"
    );
    assert_eq!(me["user"]["pin_set"], true);
    Client::login(&server, "201", "Better123").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn collections_round_trip() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let t = admin
        .post(
            "/api/v1/terminals",
            json!({"name": "受付電話", "password": "secret99"}),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    let username = t.body["username"].as_str().unwrap();
    assert!(
        username.len() == 7 && username.chars().take(6).all(|c| c.is_ascii_uppercase()),
        "TERM-03 id {username}"
    );
    assert_eq!(t.body["password_set"], true);
    let tr = admin
        .post(
            "/api/v1/trunks",
            json!({"name": "ntt", "allowed_sources": ["192.0.2.0/24"], "caller_id_header": "both"}),
        )
        .await;
    assert_eq!(tr.status, StatusCode::CREATED, "{}", tr.body);
    let bad = admin
        .post(
            "/api/v1/trunks",
            json!({"name": "x", "allowed_sources": ["not-an-ip"]}),
        )
        .await;
    assert_eq!(bad.fields(), vec!["allowed_sources"]);
    let n = admin.post("/api/v1/numbers", json!({"number": "0501234567", "name": "営業", "prefix": "9", "route": {"kind": "group", "id": 1}, "incoming_popup_url": "https://crm.example/?num=@@@@"})).await;
    assert_eq!(n.status, StatusCode::CREATED, "{}", n.body);
    assert_eq!(n.body["route"], json!({"kind": "group", "id": 1}));
    let g = admin
        .post(
            "/api/v1/groups",
            json!({"name": "営業", "strategy": "round_robin"}),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED);
    assert_eq!(
        (
            g.body["ring_time"].clone(),
            g.body["max_waiting"].clone(),
            g.body["timeout"].clone()
        ),
        (json!(20), json!(99), json!(300)),
        "GROUP defaults"
    );
    let gid = g.body["id"].as_i64().unwrap();
    let r = admin
        .patch(
            &format!("/api/v1/groups/{gid}"),
            json!({"overflow": {"kind": "group", "id": gid}}),
        )
        .await;
    assert_eq!(
        r.fields(),
        vec!["overflow"],
        "a group cannot overflow to itself"
    );
    let r = admin.patch(&format!("/api/v1/groups/{gid}"), json!({"overflow": {"kind": "group", "id": 1}, "members": [{"agent_id": 3, "skill_level": 2}]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        admin.get("/api/v1/groups?agent_id=3").await.body["total"],
        2
    );
    assert_eq!(
        admin.delete("/api/v1/groups/1").await.status,
        StatusCode::CONFLICT,
        "still an overflow target"
    );
    let l = admin.get("/api/v1/numbers?limit=1&offset=1").await.body;
    assert_eq!(
        (l["items"].as_array().unwrap().len(), l["total"].as_i64()),
        (1, Some(2))
    );
    let roles = admin.get("/api/v1/roles").await.body;
    let ids: Vec<&str> = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(&ids[..3], ["admin", "agent", "sv"], "built-in roles first");
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_matches_the_routes_and_the_committed_copy() {
    let doc = api::openapi::document();
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for (p, ops) in paths {
        for m in ops.as_object().unwrap().keys() {
            documented.insert((m.to_uppercase(), p.clone()));
        }
    }
    let routed: std::collections::BTreeSet<_> = api::routes::table()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, routed);
    // Every schema reference resolves.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for part in text.split("#/components/schemas/").skip(1) {
        let name: String = part.chars().take_while(|c| *c != '"').collect();
        assert!(schemas.contains_key(&name), "dangling $ref {name}");
    }
    // The copy the web app generates its types from is current.
    let committed: Value =
        serde_json::from_str(include_str!("../../../docs/openapi.json")).unwrap();
    assert_eq!(
        committed, doc,
        "docs/openapi.json is stale: run `tsunagu openapi > docs/openapi.json`"
    );

    // And the running server answers every documented route (no 404/405 from the router).
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    assert_eq!(admin.get("/api/v1/openapi.json").await.body, doc);
    for (m, p) in &routed {
        if p.ends_with("/logout") {
            continue;
        }
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let r = admin.send(method, &p.replace("{id}", "999999"), body).await;
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{m} {p}");
        if !p.contains("{id}") {
            assert_ne!(r.status, StatusCode::NOT_FOUND, "{m} {p}");
        }
    }
    assert_eq!(
        admin.get("/api/v1/nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin.get("/api/v1/nope").await.body["errors"][0]["code"],
        "not_found"
    );
}
