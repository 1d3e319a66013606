//! First start: no fixed default password outside the demo, and the demo never touches real data.

use api::seed::{first_start, FirstStart};
use store::agents::{self, AgentFilter};
use store::{Page, Store};

#[tokio::test(flavor = "multi_thread")]
async fn admin_gets_a_generated_password_unless_one_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(dir.path()).await.unwrap();
    let FirstStart::AdminCreated {
        generated_password: Some(pw),
    } = first_start(&store, None, false).await.unwrap()
    else {
        panic!("expected a generated password");
    };
    assert!(api::password::check_policy("p", &pw).is_none());
    assert_ne!(pw, api::seed::DEMO_ADMIN_PASSWORD);
    let mut c = store.conn().await.unwrap();
    let creds = agents::credentials_by_login(&mut c, "admin")
        .await
        .unwrap()
        .unwrap();
    assert!(api::password::verify(pw.clone(), creds.password_hash.clone()).await);
    assert!(!api::password::verify("Admin1234".into(), creds.password_hash).await);
    // A second start changes nothing, and a late --demo does not load demo data.
    assert_eq!(
        first_start(&store, None, true).await.unwrap(),
        FirstStart::Existing
    );
    assert_eq!(
        agents::list(&mut c, &AgentFilter::default(), Page::default())
            .await
            .unwrap()
            .1,
        1
    );

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(dir.path()).await.unwrap();
    assert!(
        first_start(&store, Some("short".into()), false)
            .await
            .is_err(),
        "a weak TSUNAGU_ADMIN_PASSWORD is refused"
    );
    assert_eq!(
        first_start(&store, Some("Chosen1234".into()), false)
            .await
            .unwrap(),
        FirstStart::AdminCreated {
            generated_password: None
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_data_is_the_readme_call_center() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(dir.path()).await.unwrap();
    assert_eq!(
        first_start(&store, None, true).await.unwrap(),
        FirstStart::Demo
    );
    let mut c = store.conn().await.unwrap();
    let (all, _) = agents::list(&mut c, &AgentFilter::default(), Page::default())
        .await
        .unwrap();
    let logins: Vec<_> = all
        .iter()
        .map(|a| {
            (
                a.fields.login_id.as_str(),
                a.fields.extension.as_deref(),
                a.fields.role.as_str(),
            )
        })
        .collect();
    assert_eq!(
        logins,
        [
            ("admin", None, "admin"),
            ("sv01", Some("210"), "sv"),
            ("201", Some("201"), "agent"),
            ("202", Some("202"), "agent"),
            ("203", Some("203"), "agent")
        ]
    );
    let t = store::terminals::by_username(&mut c, "201")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.fields.sip_password, "demo201");
    assert_eq!(
        t.fields.agent_id,
        all.iter()
            .find(|a| a.fields.login_id == "201")
            .map(|a| a.id)
    );
    let g = store::groups::get(&mut c, 1).await.unwrap().unwrap();
    assert_eq!(
        (
            g.fields.name.as_str(),
            g.fields.extension.as_deref(),
            g.fields.members.len()
        ),
        ("Support", Some("800"), 3)
    );
    let n = store::numbers::get(&mut c, 1).await.unwrap().unwrap();
    assert_eq!(
        (
            n.fields.number.as_str(),
            n.fields.name.as_str(),
            n.fields.max_channels
        ),
        ("0312345678", "Support line", 10)
    );
    assert_eq!(
        n.fields.route,
        Some(engine::RouteTarget {
            kind: engine::TargetKind::Group,
            id: 1
        })
    );
    let (trunks, _) = store::trunks::list(&mut c, &Default::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(
        (
            trunks[0].fields.name.as_str(),
            trunks[0].fields.allowed_sources.clone()
        ),
        (
            "carrier",
            vec!["127.0.0.1:5070".to_string(), "127.0.0.1".to_string()]
        )
    );
}
