//! The server refuses exactly what its OpenAPI document says is invalid, and accepts what it
//! says is valid (the cases schemathesis found; scripts/schemathesis.sh fuzzes the rest).

mod common;

use common::{start, Client};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn integer_parameters_are_integers() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    // Documented as integers: empty is not one (it used to mean "default").
    for q in ["offset=", "limit=", "agent_id=", "offset=1.5"] {
        let r = admin.get(&format!("/api/v1/terminals?{q}")).await;
        let field = q.split('=').next().unwrap().to_owned();
        assert_eq!(
            (r.status, r.fields()),
            (StatusCode::BAD_REQUEST, vec![field]),
            "{q}"
        );
    }
    // The kind of a call is one of its words, or empty for every kind.
    let r = admin.get("/api/v1/calls?kind=lost").await;
    assert_eq!(r.fields(), vec!["kind"]);
    assert_eq!(
        admin.get("/api/v1/calls?kind=").await.status,
        StatusCode::OK
    );
    assert_eq!(
        admin
            .get("/api/v1/terminals?offset=0&limit=500&name=")
            .await
            .status,
        StatusCode::OK,
        "empty text filters still mean no filter"
    );
    // A numeric id that is not a number names no record, in the history too.
    assert_eq!(
        admin.get("/api/v1/groups/abc/history").await.status,
        StatusCode::NOT_FOUND
    );
    let doc = api::openapi::document();
    let params = &doc["paths"]["/api/v1/terminals"]["get"]["parameters"];
    let limit = params
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(
        limit["schema"],
        json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": 500})
    );
    let id = &doc["paths"]["/api/v1/groups/{id}/history"]["get"]["parameters"][0];
    assert_eq!(id["schema"]["type"], "integer");
    let role = &doc["paths"]["/api/v1/roles/{id}"]["get"]["parameters"][0];
    assert_eq!(role["schema"]["type"], "string");
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_are_objects_and_whole_floats_are_integers() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    // serde reads a struct from an array too; the document says object.
    let r = admin
        .raw(Method::PATCH, "/api/v1/roles/sv", "[null, null]")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // JSON Schema's integer includes 618.0.
    let r = admin
        .patch("/api/v1/groups/1", json!({"max_answering": 618.0}))
        .await;
    assert_eq!(
        (r.status, r.body["max_answering"].clone()),
        (StatusCode::OK, json!(618))
    );
    let r = admin
        .patch("/api/v1/groups/1", json!({"max_answering": 6.5}))
        .await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["max_answering".to_string()])
    );
    // The words the server takes for a target or a strategy are the document's.
    let doc = api::openapi::document();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Target"]["properties"]["kind"]["enum"],
        json!(["group", "agent", "voice_file", "ivr", "forward"])
    );
    assert!(schemas["GroupFields"]["properties"]["strategy"]["enum"]
        .as_array()
        .is_some_and(|e| e.contains(&json!("round_robin"))));
    let r = admin
        .patch(
            "/api/v1/groups/1",
            json!({"overflow": {"kind": "group", "id": 1, "x": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(schemas["Target"]["additionalProperties"], json!(false));
}
