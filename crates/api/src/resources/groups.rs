use super::collection::{get_or_404, Collection, Perms};
use super::numbers::{check_target, TargetInput};
use super::{int_filter, nullable, record_change, set, set_opt_text, set_text};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, IdPath};
use crate::routes::Param::{self, *};
use crate::{now_ms, validate, AppState};
use axum::extract::State;
use axum::{Extension, Json};
use engine::{RingStrategy, TargetKind};
use serde::Deserialize;
use std::sync::Arc;
use store::agent_statuses::AgentStatus;
use store::groups::{self, Group, GroupFields, GroupFilter, Member};
use store::numbers::TargetDto;
use store::voice_files::VoiceFile;
use store::{agents, Conn, Page, Record};
use utoipa::ToSchema;

/// ACD groups (GROUP-*).
pub struct Groups;

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    pub agent_id: i64,
    #[serde(default)]
    pub skill_level: i64,
}

/// Body of POST and PATCH /groups. Omitted fields keep their value (defaults on create).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub extension: Option<Option<String>>,
    #[schema(value_type = Option<String>)]
    pub strategy: Option<RingStrategy>,
    pub max_answering: Option<i64>,
    pub max_waiting: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<TargetDto>, nullable)]
    pub overflow: Option<Option<TargetInput>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub timeout: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<TargetDto>, nullable)]
    pub timeout_target: Option<Option<TargetInput>>,
    pub ring_time: Option<i64>,
    pub queue_start_delay: Option<i64>,
    pub no_answer_pause: Option<bool>,
    pub no_answer_pause_time: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub acw_status_id: Option<Option<i64>>,
    pub acw_time: Option<i64>,
    pub display_name: Option<String>,
    pub color_fg: Option<String>,
    pub color_bg: Option<String>,
    /// GROUP-24 応答音声 (voice file id; null = not set).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub greeting_voice_id: Option<Option<i64>>,
    /// GROUP-25 呼中音声.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub queue_voice_id: Option<Option<i64>>,
    /// GROUP-26 保留音.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub hold_voice_id: Option<Option<i64>>,
    /// GROUP-27 着信判別音声.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub answer_voice_id: Option<Option<i64>>,
    pub members: Option<Vec<MemberInput>>,
}

#[derive(Debug, Deserialize)]
pub struct GroupQuery {
    pub name: Option<String>,
    pub extension: Option<String>,
    pub agent_id: Option<String>,
}

const EXTENSION_USED: &str = "This extension is already in use.";

impl Collection for Groups {
    type Table = Group;
    type Input = GroupInput;
    type Query = GroupQuery;
    const PATH: &'static str = "/api/v1/groups";
    const TAG: &'static str = "Groups";
    const PERMS: Perms = Perms {
        view: "group.view",
        create: "group.update",
        update: "group.update",
        delete: "group.delete",
    };
    const FILTERS: &'static [(&'static str, Param)] =
        &[("name", Text), ("extension", Text), ("agent_id", Int)];
    const ENTITY: &'static str = "group";
    const LABEL: &'static str = "group";

    fn new_draft() -> GroupFields {
        GroupFields::default()
    }

    fn apply(f: &mut GroupFields, i: GroupInput) -> Vec<&'static str> {
        set_text(&mut f.name, i.name);
        set_opt_text(&mut f.extension, i.extension);
        set(&mut f.strategy, i.strategy);
        set(&mut f.max_answering, i.max_answering);
        set(&mut f.max_waiting, i.max_waiting);
        if let Some(v) = i.overflow {
            f.overflow = v.map(Into::into);
        }
        set(&mut f.timeout, i.timeout);
        if let Some(v) = i.timeout_target {
            f.timeout_target = v.map(Into::into);
        }
        set(&mut f.ring_time, i.ring_time);
        set(&mut f.queue_start_delay, i.queue_start_delay);
        set(&mut f.no_answer_pause, i.no_answer_pause);
        set(&mut f.no_answer_pause_time, i.no_answer_pause_time);
        set(&mut f.acw_status_id, i.acw_status_id);
        set(&mut f.acw_time, i.acw_time);
        set(&mut f.display_name, i.display_name);
        set_text(&mut f.color_fg, i.color_fg);
        set_text(&mut f.color_bg, i.color_bg);
        set(&mut f.greeting_voice_id, i.greeting_voice_id);
        set(&mut f.queue_voice_id, i.queue_voice_id);
        set(&mut f.hold_voice_id, i.hold_voice_id);
        set(&mut f.answer_voice_id, i.answer_voice_id);
        if let Some(v) = i.members {
            f.members = v
                .into_iter()
                .map(|m| Member {
                    agent_id: m.agent_id,
                    skill_level: m.skill_level,
                })
                .collect();
        }
        vec![]
    }

    async fn validate(
        conn: &mut Conn,
        id: Option<&i64>,
        _: Option<&Group>,
        f: &mut GroupFields,
    ) -> ApiResult<()> {
        let mut e = Vec::new();
        validate::required_text(&mut e, "name", &f.name, 64);
        validate::extension(
            conn,
            &mut e,
            "extension",
            f.extension.as_deref(),
            ("group", id.copied()),
        )
        .await?;
        validate::range(&mut e, "max_answering", f.max_answering, 1, 999);
        validate::range(&mut e, "max_waiting", f.max_waiting, 0, 999);
        if let Some(t) = f.timeout {
            validate::range(&mut e, "timeout", t, 1, 86_400);
        }
        validate::range(&mut e, "ring_time", f.ring_time, 1, 600);
        validate::range(&mut e, "queue_start_delay", f.queue_start_delay, 0, 3600);
        validate::range(
            &mut e,
            "no_answer_pause_time",
            f.no_answer_pause_time,
            0,
            86_400,
        );
        validate::range(&mut e, "acw_time", f.acw_time, 0, 86_400);
        validate::text(&mut e, "display_name", &f.display_name, 32);
        validate::color(&mut e, "color_fg", &f.color_fg);
        validate::color(&mut e, "color_bg", &f.color_bg);
        for (field, t) in [
            ("overflow", f.overflow),
            ("timeout_target", f.timeout_target),
        ] {
            if t.is_some_and(|t| t.kind == TargetKind::Group && Some(&t.id) == id) {
                e.push(FieldError::new(
                    field,
                    "loop",
                    "A group cannot divert to itself.",
                ));
            } else {
                check_target(conn, &mut e, field, t).await?;
            }
        }
        if let Some(s) = f.acw_status_id {
            if AgentStatus::get(conn, s).await?.is_none() {
                e.push(FieldError::new(
                    "acw_status_id",
                    "unknown",
                    format!("There is no agent status {s}."),
                ));
            }
        }
        for (field, v) in [
            ("greeting_voice_id", f.greeting_voice_id),
            ("queue_voice_id", f.queue_voice_id),
            ("hold_voice_id", f.hold_voice_id),
            ("answer_voice_id", f.answer_voice_id),
        ] {
            if let Some(v) = v {
                if VoiceFile::get(conn, v).await?.is_none() {
                    e.push(FieldError::new(
                        field,
                        "unknown",
                        format!("There is no voice file {v}."),
                    ));
                }
            }
        }
        let mut seen = Vec::new();
        for m in &f.members {
            if seen.contains(&m.agent_id) {
                e.push(FieldError::new(
                    "members",
                    "duplicate",
                    format!("Agent {} is listed twice.", m.agent_id),
                ));
            }
            seen.push(m.agent_id);
            if !(0..=99).contains(&m.skill_level) {
                e.push(FieldError::new(
                    "members",
                    "range",
                    "Skill levels are 0 to 99.",
                ));
            }
            if agents::get(conn, m.agent_id).await?.is_none() {
                e.push(FieldError::new(
                    "members",
                    "unknown",
                    format!("There is no agent {}.", m.agent_id),
                ));
            }
        }
        ApiError::validation(e)
    }

    fn duplicate(_: bool) -> Option<(&'static str, &'static str)> {
        Some(("extension", EXTENSION_USED))
    }

    async fn list(conn: &mut Conn, q: GroupQuery, p: Page) -> ApiResult<(Vec<Group>, i64)> {
        let f = GroupFilter {
            name: q.name,
            extension: q.extension,
            agent_id: int_filter("agent_id", q.agent_id.as_deref())?,
        };
        Ok(Group::list(conn, &f, p).await?)
    }

    async fn references(conn: &mut Conn, id: &i64) -> store::Result<Vec<String>> {
        groups::references(conn, *id).await
    }
}

/// Body of PUT /groups/{id}/skill-level (RT-11).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillLevelInput {
    pub agent_id: i64,
    /// 0 to 99; lower levels are rung first (GROUP-11).
    pub skill_level: i64,
}

/// PUT /groups/{id}/skill-level: a supervisor changes one member's skill level from the
/// realtime screen (permission realtime.skill_level, without group.update). The ACD reloads
/// the group within seconds, and the change is in the group's history.
pub async fn set_skill_level(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<SkillLevelInput>,
) -> ApiResult<Json<Member>> {
    let mut e = Vec::new();
    validate::range(&mut e, "skill_level", input.skill_level, 0, 99);
    ApiError::validation(e)?;
    let mut tx = s.store.begin().await?;
    let before = get_or_404::<Groups>(&mut tx, &id).await?;
    let now = now_ms();
    let changed = groups::set_skill_level(
        &mut tx,
        id,
        input.agent_id,
        input.skill_level,
        Some(me.login_id()),
        now,
    )
    .await?;
    if !changed {
        return Err(ApiError::Validation(vec![FieldError::new(
            "agent_id",
            "unknown",
            "The agent is not a member of this group.",
        )]));
    }
    let after = get_or_404::<Groups>(&mut tx, &id).await?;
    record_change(
        &mut tx,
        Groups::ENTITY,
        &id.to_string(),
        Some(me.login_id()),
        "update",
        &before,
        &after,
        &[],
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(Member {
        agent_id: input.agent_id,
        skill_level: input.skill_level,
    }))
}
