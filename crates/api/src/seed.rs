//! What a new installation starts with: the built-in roles, the administrator, and with
//! `--demo` a small call center a newcomer can log in to and call.

use crate::error::ApiError;
use crate::{now_ms, password};
use engine::{RingStrategy, RouteTarget, TargetKind};
use store::agent_statuses::{AgentStatus, AgentStatusFields};
use store::agents::{self, AgentFields};
use store::groups::{Group, GroupFields, Member};
use store::numbers::{Number, NumberFields};
use store::terminals::{Terminal, TerminalFields};
use store::trunks::{Trunk, TrunkFields};
use store::{roles, Record, Store};

pub const DEMO_ADMIN_PASSWORD: &str = "Admin1234";
pub const DEMO_PASSWORD: &str = "Demo1234";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("TSUNAGU_ADMIN_PASSWORD does not satisfy the password policy: {0}")]
    WeakAdminPassword(String),
    #[error("{0}")]
    Api(String),
}

impl From<ApiError> for SeedError {
    fn from(e: ApiError) -> Self {
        SeedError::Api(e.to_string())
    }
}

impl From<store::DbError> for SeedError {
    fn from(e: store::DbError) -> Self {
        SeedError::Store(e.into())
    }
}

/// What first start did.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstStart {
    /// The database already held data; nothing was touched.
    Existing,
    /// `admin` was created with this password, generated because none was given: print it once.
    AdminCreated { generated_password: Option<String> },
    /// The demo call center was loaded.
    Demo,
}

/// A password that satisfies AUTH-05 with ~130 bits of randomness.
fn generate_password() -> String {
    format!("Ts9{}", crate::token(16))
}

/// Ensures the built-in roles and, on an empty database, creates the administrator (and the
/// demo data with `demo`). Existing data is never modified.
pub async fn first_start(
    store: &Store,
    admin_password: Option<String>,
    demo: bool,
) -> Result<FirstStart, SeedError> {
    let now = now_ms();
    let mut tx = store.begin().await?;
    roles::ensure_builtin(&mut tx, now).await?;
    tx.commit().await?;
    if !store.is_empty().await? {
        return Ok(FirstStart::Existing);
    }
    if demo {
        load_demo(store).await?;
        return Ok(FirstStart::Demo);
    }
    let (pw, generated) = match admin_password.filter(|p| !p.is_empty()) {
        Some(p) => {
            if let Some(e) = password::check_policy("TSUNAGU_ADMIN_PASSWORD", &p) {
                return Err(SeedError::WeakAdminPassword(e.message));
            }
            (p, None)
        }
        None => {
            let p = generate_password();
            (p.clone(), Some(p))
        }
    };
    let mut tx = store.begin().await?;
    let f = AgentFields {
        login_id: "admin".into(),
        name: "システム管理者".into(),
        nickname: "admin".into(),
        role: "admin".into(),
        ..Default::default()
    };
    agents::insert(&mut tx, &f, &password::hash(pw).await?, None, now).await?;
    tx.commit().await?;
    Ok(FirstStart::AdminCreated {
        generated_password: generated,
    })
}

/// The demo call center of the README: admin, a supervisor, three agents with phones, the
/// Support group and its number, and a carrier trunk on loopback.
async fn load_demo(store: &Store) -> Result<(), SeedError> {
    let now = now_ms();
    let admin_hash = password::hash(DEMO_ADMIN_PASSWORD.into()).await?;
    let demo_hash = password::hash(DEMO_PASSWORD.into()).await?;
    let mut tx = store.begin().await?;
    let actor = None;

    for (name, icon, bg) in [
        ("ACW", "edit", "#f39c12"),
        ("休憩", "coffee", "#8e44ad"),
        ("離席", "walk", "#c0392b"),
    ] {
        let f = AgentStatusFields {
            name: name.into(),
            icon: icon.into(),
            color_fg: "#ffffff".into(),
            color_bg: bg.into(),
        };
        AgentStatus::insert(&mut tx, &f, actor, now).await?;
    }

    let number_id = Number::insert(
        &mut tx,
        &NumberFields {
            number: "0312345678".into(),
            name: "Support line".into(),
            max_channels: 10,
            ..Default::default()
        },
        actor,
        now,
    )
    .await?;

    let person = |login: &str, name: &str, nick: &str, ext: Option<&str>, role: &str| AgentFields {
        login_id: login.into(),
        name: name.into(),
        nickname: nick.into(),
        extension: ext.map(Into::into),
        role: role.into(),
        caller_number_id: ext.map(|_| number_id),
        number_ids: if ext.is_some() {
            vec![number_id]
        } else {
            vec![]
        },
        ..Default::default()
    };
    agents::insert(
        &mut tx,
        &person("admin", "システム管理者", "admin", None, "admin"),
        &admin_hash,
        actor,
        now,
    )
    .await?;
    agents::insert(
        &mut tx,
        &person("sv01", "山田 花子", "山田", Some("210"), "sv"),
        &demo_hash,
        actor,
        now,
    )
    .await?;
    let mut members = Vec::new();
    for (ext, name, nick) in [
        ("201", "佐藤 一郎", "佐藤"),
        ("202", "鈴木 二郎", "鈴木"),
        ("203", "高橋 三郎", "高橋"),
    ] {
        let id = agents::insert(
            &mut tx,
            &person(ext, name, nick, Some(ext), "agent"),
            &demo_hash,
            actor,
            now,
        )
        .await?;
        members.push(Member {
            agent_id: id,
            skill_level: 0,
        });
        let t = TerminalFields {
            username: ext.into(),
            name: format!("Desk phone {ext}"),
            agent_id: Some(id),
            sip_password: format!("demo{ext}"),
        };
        Terminal::insert(&mut tx, &t, actor, now).await?;
    }

    let group_id = Group::insert(
        &mut tx,
        &GroupFields {
            name: "Support".into(),
            extension: Some("800".into()),
            strategy: RingStrategy::RingAll,
            display_name: "サポート".into(),
            color_bg: "#2e86de".into(),
            members,
            ..Default::default()
        },
        actor,
        now,
    )
    .await?;

    let mut support_line = Number::get(&mut tx, number_id)
        .await?
        .ok_or_else(|| SeedError::Api("demo number vanished".into()))?
        .fields;
    support_line.route = Some(RouteTarget {
        kind: TargetKind::Group,
        id: group_id,
    });
    support_line.incoming_message = "サポートへの着信".into();
    Number::update(&mut tx, number_id, &support_line, actor, now).await?;

    Trunk::insert(
        &mut tx,
        &TrunkFields {
            name: "carrier".into(),
            // The carrier itself is 127.0.0.1:5070: calls from there to a number we do not
            // have get a 404, never a digest challenge. The address alone admits carriers on
            // any other port (the test scripts' SIPp) for our numbers only, since the demo's
            // phones share 127.0.0.1.
            allowed_sources: vec!["127.0.0.1:5070".into(), "127.0.0.1".into()],
            outbound_host: Some("127.0.0.1:5080".into()),
            enabled: true,
            ..Default::default()
        },
        actor,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

const DEMO_GREETING: &[u8] = include_bytes!("../demo-audio/greeting.wav");
const DEMO_HOLD_MUSIC: &[u8] = include_bytes!("../demo-audio/hold.wav");

/// The demo's greeting, spoken by Open JTalk with the HTS voice "Mei" (CC BY 3.0), and its music
/// on hold: committed 8 kHz WAV files built into the binary (see demo-audio/README.md for their
/// source text, how they are made and the voice's credit), so that the demo plays the same
/// natural Japanese on every machine without a text-to-speech package. Given to the Support
/// group. Returns what was added.
pub async fn demo_audio(
    store: &Store,
    voice_dir: &std::path::Path,
) -> Result<Vec<String>, SeedError> {
    let g = crate::resources::voice_files::add(
        store,
        voice_dir,
        "挨拶 (greeting)",
        "greeting.wav",
        DEMO_GREETING,
    )
    .await?;
    let m = crate::resources::voice_files::add(
        store,
        voice_dir,
        "保留音 (music on hold)",
        "hold.wav",
        DEMO_HOLD_MUSIC,
    )
    .await?;
    let mut tx = store.begin().await?;
    let group_id = Group::list(
        &mut tx,
        &Default::default(),
        store::Page {
            offset: 0,
            limit: 1,
        },
    )
    .await?
    .0
    .into_iter()
    .next()
    .map(|g| g.id);
    if let Some(id) = group_id {
        if let Some(mut group) = Group::get(&mut tx, id).await? {
            group.fields.greeting_voice_id = Some(g);
            group.fields.hold_voice_id = Some(m);
            Group::update(&mut tx, id, &group.fields, None, now_ms()).await?;
        }
    }
    tx.commit().await?;
    Ok(vec!["greeting".into(), "music on hold".into()])
}

/// Three short recorded calls answered by agent 201 on the local day that starts at
/// `day_start` (epoch ms), each 5 s of 440 Hz from the caller (left) and 1 kHz from the agent
/// (right): something to play in call history and to find in that day's archive. Only with
/// `TSUNAGU_DEMO_RECORDINGS=1` (the browser tests); real demo calls are recorded anyway.
pub async fn demo_recordings(
    store: &Store,
    journal: &store::journal::Journal,
    recordings_dir: &std::path::Path,
    day_start: i64,
) -> Result<Vec<i64>, SeedError> {
    use store::journal::{CallStart, Write};
    use store::recordings::RecordingEnd;
    const SECONDS: i64 = 5;
    let agent = {
        let mut c = store.conn().await?;
        agents::credentials_by_login(&mut c, "201")
            .await?
            .map(|a| a.id)
            .ok_or_else(|| SeedError::Api("demo agent 201 is missing".into()))?
    };
    let mut calls = Vec::new();
    for i in 0..3i64 {
        let id = journal
            .new_call_id()
            .await
            .map_err(|e| SeedError::Api(e.to_string()))?;
        let start = day_start + (10 + i) * 3_600_000;
        let answered = start + 4_000;
        let end = answered + SECONDS * 1000;
        let utc_day = engine::archive_schedule::recording_folder(answered);
        let file = format!("{utc_day}/{id}.wav");
        let wav = two_tones(SECONDS as usize);
        let path = recordings_dir.join(&file);
        let bytes = i64::try_from(wav.len()).unwrap_or(0);
        let written = async {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::write(&path, wav).await
        };
        written
            .await
            .map_err(|e| SeedError::Api(format!("{}: {e}", path.display())))?;
        let writes = vec![
            Write::CallStarted(CallStart {
                id,
                call_uuid: format!("demo-recording-{id}"),
                direction: store::calls::Direction::Inbound,
                started_at: start,
                remote_party: format!("0312340{i:03}"),
                number_id: None,
                number: Some("0500000000".into()),
                agent_id: None,
                peer_agent_id: None,
                group_id: None,
            }),
            Write::CallAnswered {
                call: id,
                at: answered,
                agent: Some(agent),
                peer_agent: None,
            },
            Write::RecordingStarted {
                call: id,
                at: answered,
                file,
            },
            Write::CallEnded {
                call: id,
                at: end,
                cause: "caller_hangup".into(),
            },
            Write::RecordingEnded(RecordingEnd {
                call: id,
                at: end,
                bytes,
                duration_ms: SECONDS * 1000,
                paused_ms: 0,
                complete: true,
            }),
        ];
        journal
            .commit(writes)
            .await
            .map_err(|e| SeedError::Api(e.to_string()))?;
        calls.push(id);
    }
    Ok(calls)
}

/// A stereo 8 kHz 16-bit WAV: 440 Hz left, 1 kHz right.
fn two_tones(seconds: usize) -> Vec<u8> {
    let frames = seconds * 8000;
    let data = u32::try_from(frames * 4).unwrap_or(u32::MAX);
    let mut out = media::recorder::wav_header(data).to_vec();
    for n in 0..frames {
        let t = n as f64 / 8000.0;
        for f in [440.0, 1000.0] {
            let v = (8000.0 * (2.0 * std::f64::consts::PI * f * t).sin()) as i16;
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// One voicemail message of that day (VM-*): a caller's 3 s of 440 Hz left after the night
/// announcement at 20:00, for the voicemail history to list and play.
pub async fn demo_voicemail(
    journal: &store::journal::Journal,
    voicemail_dir: &std::path::Path,
    day_start: i64,
) -> Result<i64, SeedError> {
    use store::journal::{CallStart, Write};
    const SECONDS: usize = 3;
    let id = journal
        .new_call_id()
        .await
        .map_err(|e| SeedError::Api(e.to_string()))?;
    let start = day_start + 20 * 3_600_000;
    let end = start + 12_000;
    let file = format!(
        "{}/{id}.wav",
        engine::archive_schedule::recording_folder(end)
    );
    let samples: Vec<i16> = (0..SECONDS * 8000)
        .map(|i| ((i as f64 * 440.0 * 2.0 * std::f64::consts::PI / 8000.0).sin() * 6000.0) as i16)
        .collect();
    let path = voicemail_dir.join(&file);
    let written = async {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::write(&path, media::recorder::mono_wav(&samples)).await
    };
    written
        .await
        .map_err(|e| SeedError::Api(format!("{}: {e}", path.display())))?;
    let caller = "09012345678".to_owned();
    let writes = vec![
        Write::CallStarted(CallStart {
            id,
            call_uuid: format!("demo-voicemail-{id}"),
            direction: store::calls::Direction::Inbound,
            started_at: start,
            remote_party: caller.clone(),
            number_id: None,
            number: Some("0500000000".into()),
            agent_id: None,
            peer_agent_id: None,
            group_id: None,
        }),
        Write::CallEnded {
            call: id,
            at: end,
            cause: "voicemail".into(),
        },
        Write::VoicemailSaved(store::voicemails::NewVoicemail {
            call_id: id,
            voice_file_id: None,
            voice_file_name: "夜間案内".into(),
            caller,
            call_started_at: start,
            recorded_at: end,
            duration_ms: i64::try_from(SECONDS * 1000).unwrap_or(0),
            file,
            stop_reason: "pound".into(),
            notify_email: String::new(),
        }),
    ];
    journal
        .commit(writes)
        .await
        .map_err(|e| SeedError::Api(e.to_string()))?;
    Ok(id)
}
