//! Incoming blocks (BLOCK-*), outbound restrictions with the CSV upload (RESTRICT-*) and the
//! call history (HIST-*).

mod common;

use common::{start, Client, Resp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use store::calls::Direction;
use store::journal::{CallStart, Journal, Write};

async fn upload(c: &Client, file: Vec<u8>, field: &str) -> Resp {
    let part = reqwest::multipart::Part::bytes(file)
        .file_name("restrictions.csv")
        .mime_str("text/csv")
        .unwrap();
    let form = reqwest::multipart::Form::new().part(field.to_owned(), part);
    let r = c
        .http
        .post(format!("{}/api/v1/outbound-restrictions/upload", c.base))
        .header("x-csrf-token", c.csrf.clone().unwrap_or_default())
        // A refused oversized body leaves the connection unusable; never reuse it.
        .header("connection", "close")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    Resp {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn incoming_blocks_validate_and_list() {
    let server = start(true).await;
    let sv = Client::login(&server, "sv01", "Demo1234").await;
    let path = "/api/v1/incoming-blocks";

    let r = sv.post(path, json!({})).await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["number".to_string()])
    );
    for bad in ["03-1234-5678", "０３１２３４", "1", "abc", "' OR 1=1 --"] {
        let r = sv.post(path, json!({"number": bad})).await;
        assert_eq!(r.fields(), vec!["number"], "{bad}: {}", r.body);
    }
    let r = sv
        .post(path, json!({"number": "0312345678", "remarks": "<b>x</b>"}))
        .await;
    assert_eq!(r.fields(), vec!["remarks"]);
    let r = sv.raw(Method::POST, path, r#"{"number": 312345678}"#).await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["number".to_string()])
    );
    let r = sv
        .raw(Method::POST, path, r#"{"number": "0312345678", "x": 1}"#)
        .await;
    assert_eq!(r.fields(), vec!["x"]);

    let r = sv
        .post(
            path,
            json!({"number": " 0312345678 ", "remarks": "迷惑電話"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["number"], "0312345678");
    assert_eq!(r.body["created_by"], "sv01");
    let id = r.body["id"].as_i64().unwrap();
    let dup = sv.post(path, json!({"number": "0312345678"})).await;
    assert_eq!(
        (dup.status, dup.fields()),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["number".to_string()])
    );
    let other = sv.post(path, json!({"number": "0399999999"})).await;
    let other_id = other.body["id"].as_i64().unwrap();
    // Changing a number to one already blocked is a duplicate too.
    let r = sv
        .patch(
            &format!("{path}/{other_id}"),
            json!({"number": "0312345678"}),
        )
        .await;
    assert_eq!(r.fields(), vec!["number"]);

    let r = sv.get(&format!("{path}?remarks=迷惑")).await;
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["items"][0]["id"], id);
    let r = sv.get(&format!("{path}?number=99")).await;
    assert_eq!(r.body["total"], 1);

    let r = sv
        .patch(&format!("{path}/{id}"), json!({"remarks": "営業電話"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let h = sv.get(&format!("{path}/{id}/history")).await.body;
    assert_eq!(
        h["items"][0]["changes"]["remarks"],
        json!(["迷惑電話", "営業電話"])
    );

    // The telephony edge asks the store.
    let mut c = server.store.conn().await.unwrap();
    assert!(store::incoming_blocks::is_blocked(&mut c, "0312345678")
        .await
        .unwrap());
    assert_eq!(
        sv.delete(&format!("{path}/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(!store::incoming_blocks::is_blocked(&mut c, "0312345678")
        .await
        .unwrap());
    assert_eq!(
        sv.get(&format!("{path}/{id}")).await.status,
        StatusCode::NOT_FOUND
    );

    // Agents have no access (PERM-23 defaults).
    let agent = Client::login(&server, "201", "Demo1234").await;
    assert_eq!(agent.get(path).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_restrictions_scope_by_caller_number() {
    let server = start(true).await;
    let sv = Client::login(&server, "sv01", "Demo1234").await;
    let path = "/api/v1/outbound-restrictions";
    let all = sv.post(path, json!({"number": "0120000000"})).await;
    assert_eq!(all.status, StatusCode::CREATED, "{}", all.body);
    assert_eq!(all.body["caller_number"], "");
    // The same destination for one caller number is a different restriction …
    let scoped = sv
        .post(
            path,
            json!({"number": "0120000000", "caller_number": "0501111", "remarks": "x"}),
        )
        .await;
    assert_eq!(scoped.status, StatusCode::CREATED, "{}", scoped.body);
    // … but "all" twice is a duplicate, whether spelled null or "".
    for cn in [json!(null), json!("")] {
        let r = sv
            .post(path, json!({"number": "0120000000", "caller_number": cn}))
            .await;
        assert_eq!(r.fields(), vec!["number"], "{cn}: {}", r.body);
    }
    let r = sv
        .post(
            path,
            json!({"number": "0120000001", "caller_number": "05-01"}),
        )
        .await;
    assert_eq!(r.fields(), vec!["caller_number"]);
    let r = sv.get(&format!("{path}?caller_number=0501")).await;
    assert_eq!(r.body["total"], 1);
    // Clearing the caller number of the scoped one would duplicate the "all" one.
    let id = scoped.body["id"].as_i64().unwrap();
    let r = sv
        .patch(&format!("{path}/{id}"), json!({"caller_number": null}))
        .await;
    assert_eq!(r.fields(), vec!["number"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_upload_in_utf8_and_shift_jis() {
    let server = start(true).await;
    let sv = Client::login(&server, "sv01", "Demo1234").await;
    sv.post(
        "/api/v1/outbound-restrictions",
        json!({"number": "0311110000"}),
    )
    .await;

    // UTF-8 with a BOM and a header; a duplicate of a stored row and one inside the file.
    let csv = "\u{feff}電話番号,発信者番号,備考\r\n\
               0311110000\r\n\
               0311110001,,\"督促, 禁止\"\r\n\
               03-1111-0002,0501111,ハイフン付き\r\n\
               0311110001\r\n\
               \r\n\
               abc,,bad number\r\n\
               0311110003,,<script>\r\n\
               0311110004,1,2,3\r\n\
               0311110005,\"unclosed\r\n";
    let r = upload(&sv, csv.as_bytes().to_vec(), "file").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created"], 2, "{}", r.body);
    assert_eq!(r.body["skipped_duplicates"], 2, "{}", r.body);
    let lines: Vec<i64> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [7, 8, 9, 10], "{}", r.body);
    assert_eq!(r.body["error_count"], 4);
    assert!(r.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("number"));
    let list = sv
        .get("/api/v1/outbound-restrictions?remarks=督促")
        .await
        .body;
    assert_eq!(list["items"][0]["remarks"], "督促, 禁止");
    let list = sv
        .get("/api/v1/outbound-restrictions?caller_number=0501111")
        .await
        .body;
    assert_eq!(list["items"][0]["number"], "0311110002");

    // Shift_JIS (CP932) as Excel writes it, without a header, with a bad line.
    let text =
        "0322220000,,取引停止①\r\n0322220001,0312345678,担当者不在\r\n０３２２２２,,全角\r\n";
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&sjis).is_err(), "really not UTF-8");
    let r = upload(&sv, sjis.into_owned(), "file").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (
            r.body["created"].as_i64(),
            r.body["skipped_duplicates"].as_i64()
        ),
        (Some(2), Some(0))
    );
    assert_eq!(r.body["errors"][0]["line"], 3, "{}", r.body);
    let list = sv
        .get("/api/v1/outbound-restrictions?remarks=取引停止")
        .await
        .body;
    assert_eq!(
        list["items"][0]["remarks"], "取引停止①",
        "CP932 extension decoded"
    );
    let mut c = server.store.conn().await.unwrap();
    assert!(
        store::outbound_restrictions::is_restricted(&mut c, "0322220001", Some("0312345678"))
            .await
            .unwrap()
    );
    assert!(
        !store::outbound_restrictions::is_restricted(&mut c, "0322220001", Some("0399999999"))
            .await
            .unwrap()
    );

    // Not CSV text at all, empty, the wrong field, not multipart, too large.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01".to_vec();
    let r = upload(&sv, png, "file").await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["file".to_string()])
    );
    assert!(r.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("CSV"));
    let r = upload(&sv, vec![0xff, 0xfe, 0x41, 0x81], "file").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = upload(&sv, Vec::new(), "file").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = upload(&sv, b"0311119999".to_vec(), "other").await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["file".to_string()])
    );
    let r = sv
        .post("/api/v1/outbound-restrictions/upload", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("multipart"));
    // Just over the 5 MiB limit, so the whole body is sent before the 413 comes back.
    let big = "0311119999\n"
        .repeat(5 * 1024 * 1024 / 11 + 200)
        .into_bytes();
    let r = upload(&sv, big, "file").await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(
        sv.get("/api/v1/outbound-restrictions?number=0311119999")
            .await
            .body["total"],
        0,
        "a refused file registers nothing"
    );

    // Uploading needs restrict.upload: agents are refused before the body is read.
    let agent = Client::login(&server, "201", "Demo1234").await;
    let r = upload(&agent, b"0311119999".to_vec(), "file").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// A call in history, written as the telephony writes it: through the journal.
#[allow(clippy::too_many_arguments)]
async fn add_call(
    server: &common::Server,
    uuid: &str,
    dir: Direction,
    at: i64,
    party: &str,
    agent: Option<i64>,
    group: Option<i64>,
    talk_secs: Option<i64>,
) {
    let clock = Arc::new(engine::clock::ManualClock::new(0));
    let (journal, _) = Journal::start(server.store.clone(), "test", clock)
        .await
        .unwrap();
    let id = journal.new_call_id().await.unwrap();
    let mut writes = vec![Write::CallStarted(CallStart {
        id,
        call_uuid: uuid.into(),
        direction: dir,
        started_at: at,
        remote_party: party.into(),
        number_id: None,
        number: Some("0312345678".into()),
        agent_id: if dir == Direction::Outbound {
            agent
        } else {
            None
        },
        peer_agent_id: None,
        group_id: group,
    })];
    match talk_secs {
        Some(t) => {
            writes.push(Write::CallAnswered {
                call: id,
                at: at + 3000,
                agent,
                peer_agent: None,
            });
            writes.push(Write::CallEnded {
                call: id,
                at: at + 3000 + t * 1000,
                cause: "normal_clearing".into(),
            });
        }
        None => writes.push(Write::CallEnded {
            call: id,
            at: at + 20_000,
            cause: "no_answer".into(),
        }),
    }
    journal.commit(writes).await.unwrap();
    journal.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn call_history_filters() {
    let server = start(true).await;
    let admin = Client::login(&server, "admin", "Admin1234").await;
    let agent_id = |login: &'static str| {
        let admin = &admin;
        async move {
            admin
                .get(&format!("/api/v1/agents?login_id={login}"))
                .await
                .body["items"][0]["id"]
                .as_i64()
                .unwrap()
        }
    };
    let a201 = agent_id("201").await;
    let a202 = agent_id("202").await;
    let day = 86_400_000;
    let t0 = 1_750_000_000_000;
    add_call(
        &server,
        "c1",
        Direction::Inbound,
        t0,
        "09011112222",
        Some(a201),
        Some(1),
        Some(35),
    )
    .await;
    add_call(
        &server,
        "c2",
        Direction::Inbound,
        t0 + day,
        "09033334444",
        None,
        Some(1),
        None,
    )
    .await;
    add_call(
        &server,
        "c3",
        Direction::Outbound,
        t0 + 2 * day,
        "0120999999",
        Some(a202),
        None,
        Some(5),
    )
    .await;
    add_call(
        &server,
        "c4",
        Direction::Outbound,
        t0 + 3 * day,
        "0120999999",
        Some(a201),
        None,
        None,
    )
    .await;

    let uuids = |r: &Resp| -> Vec<String> {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["call_uuid"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = admin.get("/api/v1/calls").await;
    assert_eq!(uuids(&r), ["c4", "c3", "c2", "c1"], "newest first");
    assert_eq!(r.body["total"], 4);
    let c1 = &r.body["items"][3];
    assert_eq!(c1["kind"], "incoming");
    assert_eq!(c1["direction"], "inbound");
    assert_eq!(c1["duration_secs"], 35);
    assert_eq!(c1["group_name"], "Support");
    assert!(c1["agent_name"].is_string());
    assert_eq!(c1["in_progress"], false);
    assert_eq!(r.body["items"][2]["kind"], "incoming_missed");
    assert_eq!(r.body["items"][0]["kind"], "outgoing_unanswered");

    let q = |s: String| {
        let admin = &admin;
        async move { admin.get(&format!("/api/v1/calls?{s}")).await }
    };
    assert_eq!(
        uuids(&q(format!("from={}&to={}", t0 + day, t0 + 3 * day)).await),
        ["c3", "c2"]
    );
    assert_eq!(uuids(&q("party=3333".into()).await), ["c2"]);
    assert_eq!(uuids(&q("number=1234&kind=outgoing".into()).await), ["c3"]);
    assert_eq!(uuids(&q(format!("agent_id={a201}")).await), ["c4", "c1"]);
    assert_eq!(uuids(&q("group_id=1&kind=".into()).await), ["c2", "c1"]);
    assert_eq!(uuids(&q("min_duration=6".into()).await), ["c1"]);
    assert_eq!(uuids(&q("limit=1&offset=1".into()).await), ["c3"]);
    for bad in [
        "from=yesterday",
        "kind=lost",
        "agent_id=x",
        "min_duration=-1",
        "limit=0",
    ] {
        let r = q(bad.into()).await;
        let field = bad.split('=').next().unwrap().to_string();
        assert_eq!(
            (r.status, r.fields()),
            (StatusCode::BAD_REQUEST, vec![field]),
            "{bad}"
        );
    }

    let id = r.body["items"][3]["id"].as_i64().unwrap();
    let one = admin.get(&format!("/api/v1/calls/{id}")).await;
    assert_eq!(one.body["call_uuid"], "c1");
    assert_eq!(
        admin.get("/api/v1/calls/999999").await.status,
        StatusCode::NOT_FOUND
    );

    // An agent sees only their own calls, whatever they ask for.
    let agent = Client::login(&server, "201", "Demo1234").await;
    assert_eq!(uuids(&agent.get("/api/v1/calls").await), ["c4", "c1"]);
    assert!(uuids(&agent.get(&format!("/api/v1/calls?agent_id={a202}")).await).is_empty());
    let c3 = r.body["items"][1]["id"].as_i64().unwrap();
    assert_eq!(
        agent.get(&format!("/api/v1/calls/{c3}")).await.status,
        StatusCode::NOT_FOUND
    );
    let sv = Client::login(&server, "sv01", "Demo1234").await;
    assert_eq!(uuids(&sv.get("/api/v1/calls").await).len(), 4);
    // SV has no agent.view, yet the search offers agents and groups by name.
    let ch = sv.get("/api/v1/calls/choices").await;
    assert_eq!(ch.status, StatusCode::OK);
    assert!(ch.body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["id"] == a201));
    assert_eq!(ch.body["groups"][0]["name"], "Support");
}
