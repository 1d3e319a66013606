//! Store tests. They run against SQLite always, and also against PostgreSQL when
//! `TSUNAGU_TEST_DATABASE_URL` names one (scripts/with-postgres.sh starts a throwaway server).

use serde_json::json;
use store::agents::{self, AgentFields, AgentFilter};
use store::groups::{self, GroupFields, Member};
use store::numbers::{self, NumberFields};
use store::{events, roles, sessions, Page, Store};

async fn stores() -> Vec<(Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![(Store::open_data_dir(dir.path()).await.unwrap(), Some(dir))];
    if let Ok(url) = std::env::var("TSUNAGU_TEST_DATABASE_URL") {
        let s = Store::open(&url).await.unwrap();
        reset(&s).await;
        out.push((s, None));
    }
    out
}

/// PostgreSQL is shared between test functions: start each from empty tables. The event log
/// cannot be emptied with DELETE (append-only), so it is truncated.
async fn reset(s: &Store) {
    for sql in [
        "TRUNCATE events, change_log, sessions, group_members, queue_groups, terminals, \
         agent_numbers, agents, numbers, agent_statuses, trunks, role_permissions, roles, settings \
         RESTART IDENTITY CASCADE",
    ] {
        sqlx::query(sql).execute(s.pool()).await.unwrap();
    }
}

fn agent(login: &str, ext: Option<&str>) -> AgentFields {
    AgentFields {
        login_id: login.into(),
        name: format!("Name {login}"),
        nickname: login.into(),
        extension: ext.map(Into::into),
        role: "agent".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn crud_filters_and_references() {
    let _serial = lock().await;
    for (store, _dir) in stores().await {
        let mut c = store.conn().await.unwrap();
        roles::ensure_builtin(&mut c, 1).await.unwrap();
        let admin = roles::get(&mut c, "admin").await.unwrap().unwrap();
        assert!(admin.permissions.contains(&"agent.delete".to_string()));

        let a1 = agents::insert(&mut c, &agent("alice", Some("201")), "h", None, 10)
            .await
            .unwrap();
        let a2 = agents::insert(
            &mut c,
            &agent("bob_100%", Some("202")),
            "h",
            Some("admin"),
            11,
        )
        .await
        .unwrap();
        let dup = agents::insert(&mut c, &agent("alice", None), "h", None, 12).await;
        assert!(dup.unwrap_err().is_unique_violation());

        // `%` and `_` in a search term match themselves, not anything.
        let f = AgentFilter {
            login_id: Some("o%b".into()),
            ..Default::default()
        };
        assert_eq!(
            agents::list(&mut c, &f, Page::default()).await.unwrap().1,
            0
        );
        let f = AgentFilter {
            login_id: Some("B_100%".into()),
            ..Default::default()
        };
        assert_eq!(
            agents::list(&mut c, &f, Page::default()).await.unwrap().1,
            1
        );
        let f = AgentFilter {
            login_id: Some("' OR 1=1 --".into()),
            ..Default::default()
        };
        assert_eq!(
            agents::list(&mut c, &f, Page::default()).await.unwrap().1,
            0
        );
        let (page, total) = agents::list(
            &mut c,
            &AgentFilter::default(),
            Page {
                offset: 1,
                limit: 1,
            },
        )
        .await
        .unwrap();
        assert_eq!((page.len(), total), (1, 2));
        assert_eq!(page[0].id, a2);

        let n = numbers::insert(
            &mut c,
            &NumberFields {
                number: "0312345678".into(),
                name: "Support".into(),
                agent_ids: vec![a1],
                ..Default::default()
            },
            None,
            13,
        )
        .await
        .unwrap();
        let g = groups::insert(
            &mut c,
            &GroupFields {
                name: "サポート".into(),
                extension: Some("800".into()),
                members: vec![
                    Member {
                        agent_id: a1,
                        skill_level: 1,
                    },
                    Member {
                        agent_id: a2,
                        skill_level: 0,
                    },
                ],
                ..Default::default()
            },
            None,
            14,
        )
        .await
        .unwrap();
        let group = groups::get(&mut c, g).await.unwrap().unwrap();
        assert_eq!(
            group.fields.members[0].agent_id, a2,
            "members ordered by skill level"
        );
        assert_eq!(group.fields.timeout, Some(300));
        assert_eq!(
            agents::get(&mut c, a1)
                .await
                .unwrap()
                .unwrap()
                .fields
                .number_ids,
            vec![n]
        );
        assert_eq!(
            agents::extension_owner(&mut c, "800").await.unwrap(),
            Some(("group".into(), g))
        );

        let mut nf = numbers::get(&mut c, n).await.unwrap().unwrap().fields;
        nf.route = Some(engine::RouteTarget {
            kind: engine::TargetKind::Group,
            id: g,
        });
        numbers::update(&mut c, n, &nf, Some("admin"), 15)
            .await
            .unwrap();
        assert_eq!(groups::references(&mut c, g).await.unwrap().len(), 1);

        let f = groups::GroupFilter {
            agent_id: Some(a2),
            ..Default::default()
        };
        assert_eq!(
            groups::list(&mut c, &f, Page::default()).await.unwrap().1,
            1
        );

        // Lockout counting.
        for i in 1..=5 {
            let locked = agents::record_failed_login(&mut c, a1, 5).await.unwrap();
            assert_eq!(locked, i == 5);
        }
        let mut f = agents::get(&mut c, a1).await.unwrap().unwrap().fields;
        assert!(f.locked);
        f.locked = false;
        agents::update(&mut c, a1, &f, Some("admin"), 16)
            .await
            .unwrap();
        let cred = agents::credentials_by_login(&mut c, "alice")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((cred.locked, cred.failed_logins), (false, 0));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_append_only_and_sessions_expire() {
    let _serial = lock().await;
    for (store, _dir) in stores().await {
        let mut c = store.conn().await.unwrap();
        let id = events::append(
            &mut c,
            &events::NewEvent {
                at: 5,
                kind: "test",
                call_id: Some("c1"),
                agent_id: None,
                group_id: Some(1),
                data: json!({"a": 1}),
            },
        )
        .await
        .unwrap();
        assert!(sqlx::query("UPDATE events SET kind = 'x'")
            .execute(&mut *c)
            .await
            .is_err());
        assert!(sqlx::query("DELETE FROM events")
            .execute(&mut *c)
            .await
            .is_err());
        let back = events::read_after(&mut c, 0, 10).await.unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!((back[0].id, back[0].data.clone()), (id, json!({"a": 1})));

        roles::ensure_builtin(&mut c, 1).await.unwrap();
        let a = agents::insert(&mut c, &agent("carol", None), "h", None, 1)
            .await
            .unwrap();
        sessions::insert(&mut c, "hash", a, "csrf", 100, 200)
            .await
            .unwrap();
        assert!(sessions::get(&mut c, "hash", 150).await.unwrap().is_some());
        assert!(sessions::get(&mut c, "hash", 200).await.unwrap().is_none());
        assert_eq!(sessions::purge_expired(&mut c, 300).await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_are_idempotent() {
    let _serial = lock().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open_data_dir(dir.path()).await.unwrap();
    s.set_setting("k", "v1").await.unwrap();
    s.close().await;
    let s = Store::open_data_dir(dir.path()).await.unwrap();
    assert_eq!(s.get_setting("k").await.unwrap().as_deref(), Some("v1"));
    s.ping().await.unwrap();
}

/// PostgreSQL is one shared database: run these tests one at a time.
async fn lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
