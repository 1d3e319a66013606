//! Route × role: every route of the API, called by each built-in role, is allowed exactly when
//! the role's permissions grant what the route declares (PERM-45), and refused with 403
//! otherwise. Anonymous callers get 401 everywhere but the public routes.

mod common;

use api::auth::Access;
use common::{start, Client};
use reqwest::{Method, StatusCode};
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread")]
async fn every_route_for_every_builtin_role() {
    let server = start(true).await;
    let anonymous = Client::anonymous(&server);
    let users = [
        ("agent", "201", "Demo1234"),
        ("sv", "sv01", "Demo1234"),
        ("admin", "admin", "Admin1234"),
    ];
    let routes = api::routes::table();
    assert!(routes.len() >= 40, "the table lists every route");
    let mut checked = 0;
    for (role, login, pw) in users {
        let client = Client::login(&server, login, pw).await;
        let granted: BTreeSet<String> = store::permissions::builtin_defaults(role)
            .into_iter()
            .collect();
        for r in &routes {
            if r.path == "/api/v1/auth/logout" {
                continue; // would end this client's session; checked below
            }
            // A record that does not exist: a permitted call gets 404 or a validation error and
            // changes nothing, a refused one 403 before the handler runs.
            let path = r.path.replace("{id}", "999999");
            let body = matches!(r.method, Method::POST | Method::PATCH | Method::PUT)
                .then(|| serde_json::json!({}));
            let resp = client.send(r.method.clone(), &path, body).await;
            let allowed = match r.access {
                Access::Public | Access::LoggedIn => true,
                // 999999 is never the caller's own id.
                Access::Perm(p) | Access::SelfOr(p) => granted.contains(p),
            };
            if allowed {
                assert_ne!(
                    resp.status,
                    StatusCode::FORBIDDEN,
                    "{role} {} {path}: {}",
                    r.method,
                    resp.body
                );
                assert_ne!(
                    resp.status,
                    StatusCode::UNAUTHORIZED,
                    "{role} {} {path}",
                    r.method
                );
                // 503: the API-only test server runs no telephony behind the live routes.
                assert!(
                    !resp.status.is_server_error()
                        || resp.status == StatusCode::SERVICE_UNAVAILABLE,
                    "{role} {} {path}: {}",
                    r.method,
                    resp.body
                );
            } else {
                assert_eq!(
                    resp.status,
                    StatusCode::FORBIDDEN,
                    "{role} {} {path}: {}",
                    r.method,
                    resp.body
                );
            }
            checked += 1;

            let anon = anonymous.send(r.method.clone(), &path, None).await;
            if r.access != Access::Public {
                assert_eq!(
                    anon.status,
                    StatusCode::UNAUTHORIZED,
                    "anonymous {} {path}",
                    r.method
                );
            }
        }
        let out = client.send(Method::POST, "/api/v1/auth/logout", None).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert_eq!(
            client.get("/api/v1/me").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(checked > 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn builtin_role_defaults_match_the_manual() {
    let server = start(true).await;
    let agent = Client::login(&server, "201", "Demo1234").await;
    let sv = Client::login(&server, "sv01", "Demo1234").await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    // Agents and supervisors administer nothing; only the administrator sees Admin settings.
    assert_eq!(
        agent.get("/api/v1/agents").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(sv.get("/api/v1/agents").await.status, StatusCode::FORBIDDEN);
    assert_eq!(admin.get("/api/v1/agents").await.status, StatusCode::OK);
    let me = agent.get("/api/v1/me").await.body;
    let perms: Vec<&str> = me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        perms.contains(&"tab.crm") && !perms.contains(&"tab.admin") && !perms.contains(&"tab.sv")
    );
    assert!(!perms.contains(&"call.monitor"), "ROLE-04");

    // A custom role takes effect on the next request of its holders.
    let role = admin
        .post(
            "/api/v1/roles",
            serde_json::json!({"name": "閲覧のみ", "permissions": ["agent.view", "tab.admin"]}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let role_id = role.body["id"].as_str().unwrap().to_owned();
    let agents = admin.get("/api/v1/agents?login_id=202").await.body;
    let id = agents["items"][0]["id"].as_i64().unwrap();
    let r = admin
        .patch(
            &format!("/api/v1/agents/{id}"),
            serde_json::json!({"role": role_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let viewer = Client::login(&server, "202", "Demo1234").await;
    assert_eq!(viewer.get("/api/v1/agents").await.status, StatusCode::OK);
    assert_eq!(
        viewer
            .patch(
                &format!("/api/v1/agents/{id}"),
                serde_json::json!({"name": "x"})
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // A role in use cannot be deleted; built-in roles never.
    assert_eq!(
        admin
            .delete(&format!("/api/v1/roles/{role_id}"))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        admin.delete("/api/v1/roles/sv").await.status,
        StatusCode::CONFLICT
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn state_changes_need_the_csrf_token() {
    let server = start(true).await;
    let mut admin = Client::login(&server, "admin", "Admin1234").await;
    let token = admin.csrf.take();
    let r = admin
        .post(
            "/api/v1/agent-statuses",
            serde_json::json!({"name": "研修"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    admin.csrf = Some("wrong".into());
    assert_eq!(
        admin
            .post(
                "/api/v1/agent-statuses",
                serde_json::json!({"name": "研修"})
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    admin.csrf = token;
    assert_eq!(
        admin
            .post(
                "/api/v1/agent-statuses",
                serde_json::json!({"name": "研修"})
            )
            .await
            .status,
        StatusCode::CREATED
    );
}
