//! External forwarding over the API (FWD-01…04, PERM-36): validation naming each field, a
//! forwarding as the target of numbers, group diverts and IVRs, a delete refused while one
//! routes to it, and a number in use as its caller number kept.

mod common;

use common::{start, Client};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn forwardings_are_validated_routed_to_and_kept_while_in_use() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let r = admin
        .post(
            "/api/v1/forwardings",
            json!({"name": "本社", "destination": "09011112222", "caller_number_id": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_i64().expect("id");
    assert_eq!(r.body["use_called_number"], false);
    assert_eq!(r.body["extension"], serde_json::Value::Null);
    assert_eq!(r.body["created_by"], "admin");

    // Each mistake beside its field.
    let r = admin
        .post(
            "/api/v1/forwardings",
            json!({"name": "本社", "destination": "090-1111", "extension": "201"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(
        fields,
        ["caller_number_id", "destination", "extension", "name"],
        "{}",
        r.body
    );
    let r = admin
        .post(
            "/api/v1/forwardings",
            json!({"name": "x", "destination": "0311112222", "caller_number_id": 999}),
        )
        .await;
    assert_eq!(r.fields(), ["caller_number_id"]);
    let r = admin
        .post("/api/v1/forwardings", json!({"name": "x", "bogus": 1}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.fields(), ["bogus"]);

    // With the called number as caller ID, no caller number is needed; the extension is
    // then taken for every other owner.
    let r = admin
        .post(
            "/api/v1/forwardings",
            json!({"name": "夜間", "destination": "0312340000", "use_called_number": true, "extension": "701"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let night = r.body["id"].as_i64().expect("id");
    let r = admin
        .patch("/api/v1/groups/1", json!({"extension": "701"}))
        .await;
    assert_eq!(r.fields(), ["extension"], "{}", r.body);

    // FWD-03: numbers, group diverts and IVRs route to forwardings.
    let fwd = json!({"kind": "forward", "id": id});
    let r = admin
        .patch("/api/v1/numbers/1", json!({"route": fwd}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = admin
        .patch(
            "/api/v1/groups/1",
            json!({"overflow": {"kind": "forward", "id": night}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = admin
        .post(
            "/api/v1/ivrs",
            json!({"name": "転送IVR", "default_route": {"kind": "forward", "id": night}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ivr = r.body["id"].as_i64().expect("id");
    let r = admin
        .patch(
            "/api/v1/numbers/1",
            json!({"route": {"kind": "forward", "id": 999}}),
        )
        .await;
    assert_eq!(r.fields(), ["route"]);

    // In use: not deleted, and the reasons say where.
    let r = admin.delete(&format!("/api/v1/forwardings/{id}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = admin.delete(&format!("/api/v1/forwardings/{night}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let text = r.body.to_string();
    assert!(text.contains("group") && text.contains("転送IVR"), "{text}");
    // The caller number of a forwarding stays.
    let r = admin.delete("/api/v1/numbers/1").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body.to_string().contains("external forwarding"),
        "{}",
        r.body
    );

    // Free them, then the deletes go ahead.
    let group = json!({"kind": "group", "id": 1});
    admin
        .patch("/api/v1/numbers/1", json!({"route": group}))
        .await;
    admin
        .patch("/api/v1/groups/1", json!({"overflow": null}))
        .await;
    assert_eq!(
        admin.delete(&format!("/api/v1/ivrs/{ivr}")).await.status,
        StatusCode::NO_CONTENT
    );
    for f in [id, night] {
        let r = admin.delete(&format!("/api/v1/forwardings/{f}")).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    }

    // The list searches by name; the change history has the create.
    let r = admin
        .post(
            "/api/v1/forwardings",
            json!({"name": "支店", "destination": "0612345678", "caller_number_id": 1}),
        )
        .await;
    let branch = r.body["id"].as_i64().expect("id");
    let r = admin.get("/api/v1/forwardings?name=支").await;
    assert_eq!(r.body["total"], 1, "{}", r.body);
    let r = admin
        .get(&format!("/api/v1/forwardings/{branch}/history"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["total"], 1);

    // PERM-36: agents see nothing of it.
    let agent = Client::login(&server, "201", "Demo1234").await;
    assert_eq!(
        agent.get("/api/v1/forwardings").await.status,
        StatusCode::FORBIDDEN
    );
}
