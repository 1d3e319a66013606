//! The presence panel's routes and WebSocket scoping (PRES-01…03), and the skill level edited
//! from the realtime screen (RT-11). The live side is a test double of the telephony: fixed
//! statuses, and a broadcast channel the test pushes messages into.

mod common;

use api::telephony::{BoxFuture, Telephony};
use common::{start_with, Client, Server};
use engine::agent_state::{AgentStatus, ChangedBy, Pause, Readiness};
use engine::live::{Live, Realtime};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

struct FakeTelephony {
    statuses: Mutex<HashMap<i64, Vec<(i64, AgentStatus)>>>,
    changes: broadcast::Sender<Live>,
}

impl Telephony for FakeTelephony {
    fn agent_status(&self, agent: i64) -> BoxFuture<'_, Vec<(i64, AgentStatus)>> {
        let v = self
            .statuses
            .lock()
            .unwrap()
            .get(&agent)
            .cloned()
            .unwrap_or_default();
        Box::pin(async move { v })
    }
    fn set_readiness(&self, _: i64, _: Option<i64>, _: Readiness, _: ChangedBy) {}
    fn realtime(&self, _: Option<i64>, _: u32) -> BoxFuture<'_, Option<Realtime>> {
        Box::pin(async { None })
    }
    fn subscribe(&self) -> broadcast::Receiver<Live> {
        self.changes.subscribe()
    }
    fn sip_listening(&self) -> Result<(), String> {
        Ok(())
    }
}

async fn my_id(c: &Client) -> i64 {
    c.get("/api/v1/me").await.body["user"]["id"]
        .as_i64()
        .unwrap()
}

/// A WebSocket to GET /api/v1/ws with the session of `login`.
async fn socket(
    server: &Server,
    fake: &FakeTelephony,
    login: &str,
    password: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"login_id": login, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tsunagu_session="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let url = format!("{}/api/v1/ws", server.base.replacen("http", "ws", 1));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    let before = fake.changes.receiver_count();
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    // The server subscribes once the upgrade completes: wait for it before pushing.
    for _ in 0..200 {
        if fake.changes.receiver_count() > before {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the socket never subscribed");
}

async fn next_json<S>(ws: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn presence_is_scoped_to_ones_groups_and_pushes_colleagues_statuses() {
    let (changes, _) = broadcast::channel(64);
    let fake = Arc::new(FakeTelephony {
        statuses: Mutex::new(HashMap::new()),
        changes,
    });
    let server = start_with(true, Some(fake.clone() as Arc<dyn Telephony>)).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let a201 = Client::login(&server, "201", "Demo1234").await;
    let a202 = Client::login(&server, "202", "Demo1234").await;
    let sv = Client::login(&server, "sv01", "Demo1234").await;
    let (id201, id202, id203) = (my_id(&a201).await, my_id(&a202).await, {
        let c = Client::login(&server, "203", "Demo1234").await;
        my_id(&c).await
    });
    // A second group without 201.
    let r = admin
        .post(
            "/api/v1/groups",
            json!({"name": "Back office", "extension": "801", "color_bg": "#aa3300",
                   "members": [{"agent_id": id202}, {"agent_id": id203, "skill_level": 2}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let back = r.body["id"].as_i64().unwrap();
    let paused = AgentStatus::Paused(Pause::Custom(1));
    fake.statuses.lock().unwrap().extend([
        (id201, vec![(1, AgentStatus::Available)]),
        (id202, vec![(1, paused), (back, AgentStatus::Available)]),
        (
            id203,
            vec![(1, AgentStatus::OnCall), (back, AgentStatus::OnCall)],
        ),
    ]);

    // Groups: an agent sees their own (with extension and colours, which agent lacks
    // group.view for); the supervisor and the admin see all.
    let mine = a201.get("/api/v1/presence/groups").await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["total"], 1);
    let g = &mine.body["items"][0];
    assert_eq!(
        (
            &g["id"],
            &g["name"],
            &g["extension"],
            &g["color_bg"],
            &g["member"]
        ),
        (
            &json!(1),
            &json!("Support"),
            &json!("800"),
            &json!("#2e86de"),
            &json!(true)
        )
    );
    let ids = |r: &common::Resp| -> Vec<i64> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&a202.get("/api/v1/presence/groups").await), [1, back]);
    assert_eq!(ids(&sv.get("/api/v1/presence/groups").await), [1, back]);
    assert_eq!(
        sv.get("/api/v1/presence/groups").await.body["items"][0]["member"],
        false
    );
    assert_eq!(ids(&admin.get("/api/v1/presence/groups").await), [1, back]);

    // Agents of a group: extension(nickname) and the status in that group, by extension.
    let r = a201.get("/api/v1/presence/groups/1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let rows: Vec<(Value, Value, Value)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["extension"].clone(),
                a["nickname"].clone(),
                a["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (json!("201"), json!("佐藤"), json!({"status": "available"})),
            (
                json!("202"),
                json!("鈴木"),
                json!({"status": "paused", "pause": {"kind": "custom", "status_id": 1}})
            ),
            (json!("203"), json!("高橋"), json!({"status": "on_call"})),
        ]
    );
    // Not a member, no supervision: refused; unknown group: 404; supervisor: allowed.
    let r = a201.get(&format!("/api/v1/presence/groups/{back}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(
        a201.get("/api/v1/presence/groups/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        a201.get("/api/v1/presence/groups/abc").await.status,
        StatusCode::NOT_FOUND
    );
    let r = sv.get(&format!("/api/v1/presence/groups/{back}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["items"][1]["status"], json!({"status": "on_call"}));

    // The WebSocket: 201 gets a colleague's status only in the groups they share, nothing
    // about agents of other groups, no realtime signal and nobody else's incoming call.
    let mut ws201 = socket(&server, &fake, "201", "Demo1234").await;
    let mut ws_sv = socket(&server, &fake, "sv01", "Demo1234").await;
    let both = json!({"type": "agent_status", "agent": id202, "statuses": [
        {"group": 1, "status": {"status": "available"}},
        {"group": back, "status": {"status": "offline"}},
    ]});
    // The messages as the core sends them: typed, written here as their wire shape.
    let send = |v: Value| {
        fake.changes
            .send(serde_json::from_value::<Live>(v).unwrap())
            .unwrap();
    };
    send(both.clone());
    send(json!({"type": "agent_status", "agent": id203, "statuses": [
        {"group": back, "status": {"status": "available"}},
    ]}));
    send(json!({"type": "realtime"}));
    send(
        json!({"type": "incoming_call", "agent": id202, "call": 1, "caller": "0901",
        "number": "0312345678", "number_name": "Support", "message": "", "popup_url": "",
        "answer_popup_url": "", "group": 1}),
    );
    send(json!({"type": "agent_status", "agent": id201, "statuses": [
        {"group": 1, "status": {"status": "on_call"}},
    ]}));
    assert_eq!(
        next_json(&mut ws201).await,
        json!({"type": "agent_status", "agent": id202, "statuses": [
            {"group": 1, "status": {"status": "available"}},
        ]})
    );
    let own = next_json(&mut ws201).await;
    assert_eq!(
        (&own["type"], &own["agent"]),
        (&json!("agent_status"), &json!(id201))
    );
    // The supervisor gets everything but the pop-up.
    assert_eq!(next_json(&mut ws_sv).await, both);
    assert_eq!(next_json(&mut ws_sv).await["agent"], id203);
    assert_eq!(next_json(&mut ws_sv).await["type"], "realtime");
    assert_eq!(next_json(&mut ws_sv).await["agent"], id201);
}

#[tokio::test(flavor = "multi_thread")]
async fn skill_level_is_edited_with_its_own_permission() {
    let server = common::start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let sv = Client::login(&server, "sv01", "Demo1234").await;
    let agent = Client::login(&server, "201", "Demo1234").await;
    let id201 = my_id(&agent).await;
    let path = "/api/v1/groups/1/skill-level";
    let level = |body: &Value| {
        body["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["agent_id"] == id201)
            .map(|m| m["skill_level"].clone())
    };

    // The supervisor has realtime.skill_level but not group.update.
    let r = sv
        .send(
            Method::PUT,
            path,
            Some(json!({"agent_id": id201, "skill_level": 5})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"agent_id": id201, "skill_level": 5}));
    let group = admin.get("/api/v1/groups/1").await.body;
    assert_eq!(level(&group), Some(json!(5)));
    assert_eq!(group["updated_by"], "sv01");
    let history = admin.get("/api/v1/groups/1/history").await.body;
    let last = &history["items"][0];
    assert_eq!(
        (&last["actor"], &last["action"]),
        (&json!("sv01"), &json!("update"))
    );
    assert!(last["changes"]["members"].is_array(), "{last}");

    // Refused for an agent; bad input is a 4xx naming the field and changes nothing.
    let r = agent
        .send(
            Method::PUT,
            path,
            Some(json!({"agent_id": id201, "skill_level": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for (body, status, field) in [
        (
            json!({"agent_id": id201, "skill_level": 100}),
            422,
            "skill_level",
        ),
        (
            json!({"agent_id": id201, "skill_level": -1}),
            422,
            "skill_level",
        ),
        (
            json!({"agent_id": 999_999, "skill_level": 1}),
            422,
            "agent_id",
        ),
        (
            json!({"agent_id": id201, "skill_level": "3"}),
            400,
            "skill_level",
        ),
        (
            json!({"agent_id": id201, "skill_level": 1, "x": 1}),
            400,
            "x",
        ),
        (json!({"agent_id": id201}), 400, "body"),
    ] {
        let r = sv.send(Method::PUT, path, Some(body.clone())).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.body);
        if field != "body" {
            assert_eq!(r.fields(), [field], "{body}: {}", r.body);
        }
    }
    let r = sv
        .send(
            Method::PUT,
            "/api/v1/groups/999999/skill-level",
            Some(json!({"agent_id": id201, "skill_level": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        level(&admin.get("/api/v1/groups/1").await.body),
        Some(json!(5))
    );
}

/// STATUS-10, PERM-07: an agent whose role has `status.lock` cannot change their own status;
/// a supervisor still can.
#[tokio::test(flavor = "multi_thread")]
async fn a_locked_status_is_changed_by_supervisors_only() {
    let fake = Arc::new(FakeTelephony {
        statuses: Mutex::new(HashMap::new()),
        changes: broadcast::channel(16).0,
    });
    let server = start_with(true, Some(fake.clone() as Arc<dyn Telephony>)).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let agent = Client::login(&server, "201", "Demo1234").await;
    let me = my_id(&agent).await;
    let pause = json!({"state": "paused"});
    assert_eq!(
        agent
            .send(
                Method::PUT,
                &format!("/api/v1/agents/{me}/state"),
                Some(pause.clone())
            )
            .await
            .status,
        StatusCode::OK,
        "unlocked: the agent pauses themselves"
    );
    let role = admin
        .post(
            "/api/v1/roles",
            json!({"name": "Locked agent", "permissions": ["status.update", "status.lock", "tab.personal"]}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{:?}", role.body);
    let role_id = role.body["id"].as_str().unwrap().to_owned();
    let r = admin
        .patch(&format!("/api/v1/agents/{me}"), json!({"role": role_id}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let agent = Client::login(&server, "201", "Demo1234").await;
    let r = agent
        .send(
            Method::PUT,
            &format!("/api/v1/agents/{me}/state"),
            Some(pause.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert!(r.body.to_string().contains("status.lock"), "{:?}", r.body);
    let r = admin
        .send(
            Method::PUT,
            &format!("/api/v1/agents/{me}/state"),
            Some(pause),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a supervisor still can: {:?}",
        r.body
    );
}
