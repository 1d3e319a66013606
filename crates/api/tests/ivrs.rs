//! IVRs over the API (IVR-01…11): validation naming each field, targets that must exist, a
//! loop among IVRs refused with the IVRs named (IVR-09), and a delete refused while routed to.

mod common;

use common::{start, Client};
use reqwest::StatusCode;
use serde_json::json;

fn group(id: i64) -> serde_json::Value {
    json!({"kind": "group", "id": id})
}

#[tokio::test]
async fn ivrs_are_validated_and_loops_are_refused_with_their_names() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let day = json!({
        "name": "昼間",
        "default_route": group(1),
        "schedule_on": true,
        "entries": [{
            "from": "09:00", "to": "18:00",
            "weekdays": [true, true, true, true, true, false, false],
            "designated": false, "target": group(1)
        }],
        "designated_days": ["2026-12-31"],
        "jp_holidays": true,
    });
    let r = admin.post("/api/v1/ivrs", day.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let a = r.body["id"].as_i64().expect("id");
    assert_eq!(r.body["entries"][0]["from"], "09:00");
    assert_eq!(r.body["designated_days"], json!(["2026-12-31"]));

    // Each mistake beside its field.
    let mut bad = day.clone();
    bad["name"] = json!("悪い");
    bad["entries"][0]["from"] = json!("9:00");
    bad["entries"][0]["weekdays"] = json!([true]);
    bad["designated_days"] = json!(["2026/12/31"]);
    bad["buttons_on"] = json!(true);
    bad["buttons"] = json!({"12": group(1), "3": {"kind": "group", "id": 999}});
    let r = admin.post("/api/v1/ivrs", bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let fields = r.fields();
    for f in [
        "entries[0].from",
        "entries[0].weekdays",
        "designated_days",
        "buttons.12",
        "menu_voice_id",
        "buttons.3",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }

    // B routes to A by default; A's button then routes to B: a loop.
    let r = admin
        .post(
            "/api/v1/ivrs",
            json!({"name": "夜間", "default_route": {"kind": "ivr", "id": a}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let b = r.body["id"].as_i64().expect("id");
    let r = admin
        .patch(
            &format!("/api/v1/ivrs/{a}"),
            json!({"default_route": {"kind": "ivr", "id": b}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), ["default_route"]);
    let message = r.body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("昼間") && message.contains("夜間"),
        "{message}"
    );

    // A phone number may route to an IVR; a routed-to IVR cannot be deleted.
    let r = admin
        .patch(
            "/api/v1/numbers/1",
            json!({"route": {"kind": "ivr", "id": b}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = admin.delete(&format!("/api/v1/ivrs/{a}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = admin.delete(&format!("/api/v1/ivrs/{b}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = admin
        .patch("/api/v1/numbers/1", json!({"route": group(1)}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        admin.delete(&format!("/api/v1/ivrs/{b}")).await.status,
        StatusCode::NO_CONTENT
    );

    // IVR-11: agents see nothing of it.
    let agent = Client::login(&server, "201", "Demo1234").await;
    assert_eq!(
        agent.get("/api/v1/ivrs").await.status,
        StatusCode::FORBIDDEN
    );
}
