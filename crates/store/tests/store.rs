//! Store tests. They run against SQLite always, and also against PostgreSQL when
//! `TSUNAGU_TEST_DATABASE_URL` names one (scripts/with-postgres.sh starts a throwaway server).

use engine::clock::ManualClock;
use serde_json::json;
use std::sync::Arc;
use store::agents::{self, Agent, AgentFields, AgentFilter};
use store::calls::{self, CallFilter, CallKind, Direction};
use store::groups::{self, Group, GroupFields, Member};
use store::incoming_blocks::{self, IncomingBlock, IncomingBlockFields};
use store::journal::{CallStart, Event, Journal, Write};
use store::numbers::{self, Number, NumberFields};
use store::outbound_restrictions::{self, OutboundRestriction, OutboundRestrictionFields};
use store::{events, roles, sessions, Page, Record, Store};

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
         agent_numbers, agents, numbers, agent_statuses, trunks, role_permissions, roles, settings, \
         incoming_blocks, outbound_restrictions, calls, id_blocks, node_heartbeats, \
         registrations, mail_outbox RESTART IDENTITY CASCADE",
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

        let n = Number::insert(
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
        let g = Group::insert(
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

        // The presence panel's directory, by extension; a skill level changed in place.
        let dir = groups::member_directory(&mut c, g).await.unwrap();
        let names: Vec<_> = dir
            .iter()
            .map(|m| {
                (
                    m.agent_id,
                    m.extension.as_deref(),
                    m.nickname.as_str(),
                    m.skill_level,
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                (a1, Some("201"), "alice", 1),
                (a2, Some("202"), "bob_100%", 0)
            ]
        );
        assert!(groups::set_skill_level(&mut c, g, a1, 7, Some("sv01"), 16)
            .await
            .unwrap());
        assert!(!groups::set_skill_level(&mut c, g, 999_999, 7, None, 16)
            .await
            .unwrap());
        let group = groups::get(&mut c, g).await.unwrap().unwrap();
        assert!(group.fields.members.contains(&Member {
            agent_id: a1,
            skill_level: 7
        }));
        assert_eq!(group.stamps.updated_by.as_deref(), Some("sv01"));

        let f = groups::GroupFilter {
            agent_id: Some(a2),
            ..Default::default()
        };
        assert_eq!(
            groups::list(&mut c, &f, Page::default()).await.unwrap().1,
            1
        );

        // Lockout counting: the fifth failure locks, automatically (AUTH-06).
        for i in 1..=5 {
            let cred = agents::record_failed_login(&mut c, a1, 100 + i, Some(5))
                .await
                .unwrap();
            assert_eq!(cred.locked, i == 5);
            assert_eq!(cred.failed_logins, i);
            assert_eq!(cred.last_failed_login_at, Some(100 + i));
            assert_eq!(cred.auto_locked_at, (i == 5).then_some(105));
        }
        // Later failures do not move the time of the lock.
        let cred = agents::record_failed_login(&mut c, a1, 200, Some(5))
            .await
            .unwrap();
        assert_eq!((cred.locked, cred.auto_locked_at), (true, Some(105)));
        assert_eq!(
            agents::auto_locked_before(&mut c, 104).await.unwrap().len(),
            0
        );
        let due = agents::auto_locked_before(&mut c, 105).await.unwrap();
        assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), vec![a1]);
        let mut f = agents::get(&mut c, a1).await.unwrap().unwrap().fields;
        assert!(f.locked);
        f.locked = false;
        Agent::update(&mut c, a1, &f, Some("admin"), 16)
            .await
            .unwrap();
        let cred = agents::credentials_by_login(&mut c, "alice")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((cred.locked, cred.failed_logins), (false, 0));
        assert_eq!(
            (cred.last_failed_login_at, cred.auto_locked_at),
            (None, None)
        );

        // Without a threshold (the last administrator) failures count but never lock.
        for i in 1..=7 {
            let cred = agents::record_failed_login(&mut c, a1, 300 + i, None)
                .await
                .unwrap();
            assert_eq!((cred.locked, cred.failed_logins), (false, i));
        }
        assert!(!agents::unlock(&mut c, a1).await.unwrap());
        let cred = agents::credentials_by_login(&mut c, "alice")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((cred.failed_logins, cred.last_failed_login_at), (0, None));
        // A lock set by an administrator is not automatic, and `unlock` lifts it.
        f.locked = true;
        Agent::update(&mut c, a1, &f, Some("admin"), 17)
            .await
            .unwrap();
        assert!(agents::auto_locked_before(&mut c, i64::MAX)
            .await
            .unwrap()
            .is_empty());
        assert!(agents::unlock(&mut c, a1).await.unwrap());
        assert!(
            !agents::get(&mut c, a1)
                .await
                .unwrap()
                .unwrap()
                .fields
                .locked
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_append_only_and_sessions_expire() {
    let _serial = lock().await;
    for (store, _dir) in stores().await {
        let mut c = store.conn().await.unwrap();
        let clock = Arc::new(ManualClock::new(1_000));
        let (journal, _) = Journal::start(store.clone(), "t", clock).await.unwrap();
        journal
            .commit(vec![Write::Event(
                Event::new(5, "test", json!({"a": 1})).group(Some(1)),
            )])
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
        assert_eq!(
            (back[0].at, back[0].group_id, back[0].data.clone()),
            (5, Some(1), json!({"a": 1})),
            "the event's own time, not the write's"
        );

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

async fn heartbeat(c: &mut store::Conn, node: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT at FROM node_heartbeats WHERE node = $1")
        .bind(node)
        .fetch_one(&mut *c)
        .await
        .unwrap()
        .0
}

/// Issue 11 (performance): under load the heartbeat is one row a second, not one per batch.
#[tokio::test(flavor = "multi_thread")]
async fn the_heartbeat_is_written_at_most_once_a_second() {
    let _serial = lock().await;
    for (store, _dir) in stores().await {
        let mut c = store.conn().await.unwrap();
        let clock = Arc::new(ManualClock::new(10_000));
        let (journal, _) = Journal::start(store.clone(), "beat", clock.clone())
            .await
            .unwrap();
        let write = |at: i64| Write::Event(Event::new(at, "test", json!({})));
        journal.commit(vec![write(1)]).await.unwrap();
        let first = heartbeat(&mut c, "beat").await;
        clock.set(10_500);
        journal.commit(vec![write(2)]).await.unwrap();
        assert_eq!(
            heartbeat(&mut c, "beat").await,
            first,
            "half a second later: not again"
        );
        clock.set(11_200);
        journal.commit(vec![write(3)]).await.unwrap();
        assert_eq!(heartbeat(&mut c, "beat").await, 11_200);
        clock.set(11_300);
        journal.stop().await.unwrap();
        assert_eq!(
            heartbeat(&mut c, "beat").await,
            11_300,
            "a clean stop always leaves its moment"
        );
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

#[tokio::test(flavor = "multi_thread")]
async fn blocks_and_restrictions() {
    let _serial = lock().await;
    for (store, _dir) in stores().await {
        let mut c = store.conn().await.unwrap();
        let b = IncomingBlockFields {
            number: "0312345678".into(),
            remarks: "迷惑電話".into(),
        };
        let id = IncomingBlock::insert(&mut c, &b, Some("sv01"), 1)
            .await
            .unwrap();
        assert!(IncomingBlock::insert(&mut c, &b, None, 2)
            .await
            .unwrap_err()
            .is_unique_violation());
        assert!(incoming_blocks::is_blocked(&mut c, "0312345678")
            .await
            .unwrap());
        assert!(incoming_blocks::is_blocked(&mut c, "+81 3-1234-5678")
            .await
            .unwrap());
        assert!(!incoming_blocks::is_blocked(&mut c, "0312345679")
            .await
            .unwrap());
        assert!(!incoming_blocks::is_blocked(&mut c, "anonymous")
            .await
            .unwrap());
        let (items, total) = IncomingBlock::list(
            &mut c,
            &incoming_blocks::IncomingBlockFilter {
                remarks: Some("迷惑".into()),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
        assert_eq!((items[0].id, total), (id, 1));
        IncomingBlock::delete(&mut c, id).await.unwrap();
        assert!(!incoming_blocks::is_blocked(&mut c, "0312345678")
            .await
            .unwrap());

        // One restriction for every caller number, one only for calls from 0501111.
        let all = OutboundRestrictionFields {
            number: "0120000000".into(),
            ..Default::default()
        };
        let scoped = OutboundRestrictionFields {
            number: "0990000000".into(),
            caller_number: "0501111".into(),
            remarks: String::new(),
        };
        OutboundRestriction::insert(&mut c, &all, None, 1)
            .await
            .unwrap();
        OutboundRestriction::insert(&mut c, &scoped, None, 1)
            .await
            .unwrap();
        // "All" is stored as '' so that the pair stays unique.
        assert!(OutboundRestriction::insert(&mut c, &all, None, 2)
            .await
            .unwrap_err()
            .is_unique_violation());
        for (dest, caller, restricted) in [
            ("0120000000", None, true),
            ("0120000000", Some("0501111"), true),
            ("0120-000-000", Some("0502222"), true),
            ("0990000000", Some("0501111"), true),
            ("0990000000", Some("0502222"), false),
            ("0990000000", None, false),
            ("0990000001", Some("0501111"), false),
        ] {
            assert_eq!(
                outbound_restrictions::is_restricted(&mut c, dest, caller)
                    .await
                    .unwrap(),
                restricted,
                "{dest} from {caller:?}"
            );
        }
        assert!(outbound_restrictions::id_by_key(&mut c, "0120000000", "")
            .await
            .unwrap()
            .is_some());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn call_history_projection() {
    let _serial = lock().await;
    for (store, _dir) in stores().await {
        let mut c = store.conn().await.unwrap();
        roles::ensure_builtin(&mut c, 1).await.unwrap();
        let a = agents::insert(&mut c, &agent("dave", Some("205")), "h", None, 1)
            .await
            .unwrap();
        let g = Group::insert(
            &mut c,
            &GroupFields {
                name: "サポート".into(),
                ..Default::default()
            },
            None,
            1,
        )
        .await
        .unwrap();

        // An inbound call answered after 2 s and ended 35.4 s later.
        let clock = Arc::new(ManualClock::new(900_000));
        let (journal, _) = Journal::start(store.clone(), "n1", clock.clone())
            .await
            .unwrap();
        let start = |id: i64, uuid: &str, direction, at, agent_id, group_id| {
            Write::CallStarted(CallStart {
                id,
                call_uuid: uuid.into(),
                direction,
                started_at: at,
                remote_party: match direction {
                    Direction::Inbound => "09011112222".into(),
                    _ => "0120999999".into(),
                },
                number_id: None,
                number: Some("0312345678".into()),
                agent_id,
                peer_agent_id: None,
                group_id,
            })
        };
        let in1 = journal.new_call_id().await.unwrap();
        journal
            .commit(vec![start(
                in1,
                "in-1",
                Direction::Inbound,
                1_000_000,
                None,
                Some(g),
            )])
            .await
            .unwrap();
        let r = calls::get(&mut c, "in-1").await.unwrap().unwrap();
        assert_eq!(r.id, in1, "the call has the id the journal gave it");
        assert_eq!((r.kind, r.in_progress), (CallKind::IncomingMissed, true));
        assert_eq!(r.group_name.as_deref(), Some("サポート"));
        journal.record(Write::CallAnswered {
            call: in1,
            at: 1_002_000,
            agent: Some(a),
            peer_agent: None,
        });
        journal.record(Write::CallEnded {
            call: in1,
            at: 1_037_400,
            cause: "normal_clearing".into(),
        });
        // A second end and an end of an unknown call change nothing.
        journal.record(Write::CallEnded {
            call: in1,
            at: 2_000_000,
            cause: "again".into(),
        });
        journal.record(Write::CallEnded {
            call: 999_999,
            at: 2_000_000,
            cause: "x".into(),
        });
        journal.flush().await.unwrap();
        let r = calls::get(&mut c, "in-1").await.unwrap().unwrap();
        assert_eq!(r.kind, CallKind::Incoming);
        assert_eq!(
            (r.answered_at, r.ended_at, r.duration_secs),
            (Some(1_002_000), Some(1_037_400), 35)
        );
        assert_eq!(r.hangup_cause.as_deref(), Some("normal_clearing"));
        assert_eq!(
            (r.agent_id, r.agent_name.as_deref()),
            (Some(a), Some("Name dave"))
        );
        assert!(!r.in_progress);

        // An outbound call nobody answered, and one still ringing when the process stopped.
        let out1 = journal.new_call_id().await.unwrap();
        let out2 = journal.new_call_id().await.unwrap();
        journal
            .commit(vec![
                start(out1, "out-1", Direction::Outbound, 3_000_000, Some(a), None),
                start(out2, "out-2", Direction::Outbound, 4_000_000, Some(a), None),
                Write::CallEnded {
                    call: out1,
                    at: 3_010_000,
                    cause: "no_answer".into(),
                },
            ])
            .await
            .unwrap();
        // The last sign of life: the clean stop at 4 500 000 (a stop always writes the heartbeat).
        clock.set(4_500_000);
        journal.stop().await.unwrap();
        // The restart, much later: the open call is closed when the node was last alive.
        clock.set(9_000_000);
        let (journal, recovered) = Journal::start(store.clone(), "n1", clock.clone())
            .await
            .unwrap();
        assert_eq!(
            (recovered.closed, recovered.last_alive),
            (1, Some(4_500_000))
        );
        let (_, again) = Journal::start(store.clone(), "n1", clock.clone())
            .await
            .unwrap();
        assert_eq!(again.closed, 0);
        let r = calls::get(&mut c, "out-2").await.unwrap().unwrap();
        assert_eq!(
            (
                r.kind,
                r.hangup_cause.as_deref(),
                r.in_progress,
                r.ended_at,
                r.duration_secs
            ),
            (
                CallKind::OutgoingUnanswered,
                Some("interrupted"),
                false,
                Some(4_500_000),
                0
            )
        );
        // Ids go on above the ones handed out, even after a restart.
        assert!(journal.new_call_id().await.unwrap() > out2);

        let evs: Vec<(String, Option<i64>)> = events::read_after(&mut c, 0, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind.starts_with("call."))
            .map(|e| (e.kind, e.call))
            .collect();
        let kinds: Vec<&str> = evs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "call.started",
                "call.answered",
                "call.ended",
                "call.started",
                "call.started",
                "call.ended",
                "call.ended"
            ]
        );
        assert_eq!(evs[0].1, Some(in1), "events name the call by its row id");
        let ended = events::read_after(&mut c, 0, 100)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.kind == "call.ended")
            .unwrap();
        assert_eq!(ended.data["duration_secs"], json!(35));
        assert_eq!((ended.agent_id, ended.group_id), (Some(a), Some(g)));

        // Filters, newest first.
        let list = |f: CallFilter| {
            let store = store.clone();
            async move {
                let mut c = store.conn().await.unwrap();
                let (items, total) = calls::list(&mut c, &f, Page::default()).await.unwrap();
                assert_eq!(items.len() as i64, total);
                items.into_iter().map(|r| r.call_uuid).collect::<Vec<_>>()
            }
        };
        assert_eq!(
            list(CallFilter::default()).await,
            ["out-2", "out-1", "in-1"]
        );
        assert_eq!(
            list(CallFilter {
                from: Some(3_000_000),
                to: Some(4_000_000),
                ..Default::default()
            })
            .await,
            ["out-1"]
        );
        assert_eq!(
            list(CallFilter {
                party: Some("1111".into()),
                ..Default::default()
            })
            .await,
            ["in-1"]
        );
        assert_eq!(
            list(CallFilter {
                kind: Some(CallKind::OutgoingUnanswered),
                agent_id: Some(a),
                ..Default::default()
            })
            .await,
            ["out-2", "out-1"]
        );
        assert_eq!(
            list(CallFilter {
                min_duration: Some(35),
                group_id: Some(g),
                number: Some("1234".into()),
                ..Default::default()
            })
            .await,
            ["in-1"]
        );
        assert!(list(CallFilter {
            min_duration: Some(36),
            ..Default::default()
        })
        .await
        .is_empty());
        let by_id = calls::get_by_id(&mut c, r.id).await.unwrap().unwrap();
        assert_eq!(by_id.call_uuid, "out-2");
        // A call that reuses a SIP Call-ID is refused by the database, and the journal says so.
        let dup = journal.new_call_id().await.unwrap();
        assert!(journal
            .commit(vec![start(dup, "in-1", Direction::Inbound, 1, None, None)])
            .await
            .is_err());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_outbox_is_claimed_once_and_retried() {
    use store::mail::{MailAttachment, MailSecurity, MailState, NewMail, OutboxFilter, Retry};
    let _serial = lock().await;
    for (store, _dir) in stores().await {
        // Settings: defaults until saved, then as saved.
        let mut settings = store.mail_settings().await.unwrap();
        assert!(!settings.enabled);
        assert_eq!(settings.security, MailSecurity::Starttls);
        settings.host = "smtp.example.com".into();
        settings.password = "secret".into();
        store.set_mail_settings(&settings).await.unwrap();
        assert_eq!(store.mail_settings().await.unwrap(), settings);

        let mail = |to: &str, attach: bool| NewMail {
            to: to.into(),
            subject: "件名".into(),
            body: "本文".into(),
            attachment: attach.then(|| MailAttachment {
                path: "/data/recordings/1.wav".into(),
                file_name: "1.wav".into(),
                content_type: "audio/wav".into(),
            }),
            ref_kind: "voicemail".into(),
            ref_id: Some(17),
            created_at: 1_000,
        };
        let a = store
            .enqueue_mail(&mail("a@example.com", true))
            .await
            .unwrap();
        let b = store
            .enqueue_mail(&mail("b@example.com", false))
            .await
            .unwrap();
        assert!(b > a);
        assert_eq!(store.next_mail_due().await.unwrap(), Some(1_000));
        assert!(store.mails_due(999, 10).await.unwrap().is_empty());
        let due = store.mails_due(1_000, 10).await.unwrap();
        assert_eq!(due.iter().map(|m| m.id).collect::<Vec<_>>(), [a, b]);
        let first = &due[0];
        assert_eq!(
            first.attachment.as_ref().map(|x| x.file_name.as_str()),
            Some("1.wav")
        );
        assert_eq!(due[1].attachment, None);

        // Two senders read the same row: only one claims it.
        assert!(store.claim_mail(first, 61_000).await.unwrap());
        assert!(!store.claim_mail(first, 61_000).await.unwrap());
        assert_eq!(store.mails_due(2_000, 10).await.unwrap().len(), 1);
        store
            .mail_attempt_failed(a, "connection refused", Some(5_000))
            .await
            .unwrap();
        let m = store.outbox_mail(a).await.unwrap().unwrap();
        assert_eq!(
            (
                m.state,
                m.attempts,
                m.next_attempt_at,
                m.last_error.as_deref()
            ),
            (
                MailState::Queued,
                1,
                Some(5_000),
                Some("connection refused")
            )
        );
        // Oldest due first: b (due since 1 000) before a (due at 5 000).
        let again = store.mails_due(5_000, 10).await.unwrap();
        assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), [b, a]);
        assert!(store.claim_mail(&again[1], 65_000).await.unwrap());
        store.mail_sent(a, 5_100).await.unwrap();
        let m = store.outbox_mail(a).await.unwrap().unwrap();
        assert_eq!(
            (m.state, m.attempts, m.sent_at, m.last_error),
            (MailState::Sent, 2, Some(5_100), None)
        );
        assert_eq!(
            store.retry_mail(a, 6_000).await.unwrap(),
            Retry::AlreadySent
        );

        // Given up on, then retried by hand with a fresh count.
        let due = store.mails_due(6_000, 10).await.unwrap();
        assert!(store.claim_mail(&due[0], 66_000).await.unwrap());
        store
            .mail_attempt_failed(b, "550 no such user", None)
            .await
            .unwrap();
        let (failed, total) = store
            .outbox(
                &OutboxFilter {
                    state: Some(MailState::Failed),
                    ..Default::default()
                },
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!((failed.len(), total), (1, 1));
        assert_eq!(failed[0].last_error.as_deref(), Some("550 no such user"));
        assert_eq!(store.next_mail_due().await.unwrap(), None);
        match store.retry_mail(b, 7_000).await.unwrap() {
            Retry::Queued(m) => assert_eq!(
                (m.state, m.attempts, m.next_attempt_at),
                (MailState::Queued, 0, Some(7_000))
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            store.retry_mail(9_999, 7_000).await.unwrap(),
            Retry::NotFound
        );

        // Found again by what they are about, newest first.
        let (mine, _) = store
            .outbox(
                &OutboxFilter {
                    ref_kind: Some("voicemail".into()),
                    ref_id: Some(17),
                    ..Default::default()
                },
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(mine.iter().map(|m| m.id).collect::<Vec<_>>(), [b, a]);
    }
}

/// PostgreSQL is one shared database: run these tests one at a time.
async fn lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
