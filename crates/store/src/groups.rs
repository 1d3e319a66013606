//! Groups (GROUP-*): ACD queue settings and members with per-group skill levels.

use crate::numbers::{target, TargetDto};
use crate::record::{self, Record, Value};
use crate::{Conn, Filter, Page, Result, Stamps, StoreError};
use engine::{RingStrategy, RouteTarget};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Member {
    pub agent_id: i64,
    /// Lower levels are rung first (GROUP-11); default 0.
    pub skill_level: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupFields {
    pub name: String,
    pub extension: Option<String>,
    /// `ring_all`, `longest_idle`, `shortest_talk`, `random`, `round_robin` or `level_ratio`.
    #[schema(value_type = String)]
    pub strategy: RingStrategy,
    pub max_answering: i64,
    pub max_waiting: i64,
    #[schema(value_type = Option<TargetDto>)]
    pub overflow: Option<RouteTarget>,
    /// Seconds from arrival; null = no timeout.
    pub timeout: Option<i64>,
    #[schema(value_type = Option<TargetDto>)]
    pub timeout_target: Option<RouteTarget>,
    pub ring_time: i64,
    pub queue_start_delay: i64,
    pub no_answer_pause: bool,
    pub no_answer_pause_time: i64,
    pub acw_status_id: Option<i64>,
    pub acw_time: i64,
    pub display_name: String,
    pub color_fg: String,
    pub color_bg: String,
    /// GROUP-24 応答音声: voice file played first when a call arrives.
    pub greeting_voice_id: Option<i64>,
    /// GROUP-25 呼中音声: voice file played periodically while the call waits.
    pub queue_voice_id: Option<i64>,
    /// GROUP-26 保留音: music on hold.
    pub hold_voice_id: Option<i64>,
    /// GROUP-27 着信判別音声: played only to the agent on answer.
    pub answer_voice_id: Option<i64>,
    pub members: Vec<Member>,
}

impl Default for GroupFields {
    /// The manual's defaults (GROUP-04…29).
    fn default() -> Self {
        GroupFields {
            name: String::new(),
            extension: None,
            strategy: RingStrategy::RingAll,
            max_answering: 99,
            max_waiting: 99,
            overflow: None,
            timeout: Some(300),
            timeout_target: None,
            ring_time: 20,
            queue_start_delay: 0,
            no_answer_pause: false,
            no_answer_pause_time: 0,
            acw_status_id: None,
            acw_time: 0,
            display_name: String::new(),
            color_fg: "#ffffff".into(),
            color_bg: "#777777".into(),
            greeting_voice_id: None,
            queue_voice_id: None,
            hold_voice_id: None,
            answer_voice_id: None,
            members: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Group {
    pub id: i64,
    #[serde(flatten)]
    pub fields: GroupFields,
    #[serde(flatten)]
    pub stamps: Stamps,
}

/// A row of `queue_groups`.
#[derive(sqlx::FromRow)]
pub struct Row {
    id: i64,
    name: String,
    extension: Option<String>,
    strategy: String,
    max_answering: i64,
    max_waiting: i64,
    overflow_kind: Option<String>,
    overflow_id: Option<i64>,
    timeout_secs: Option<i64>,
    timeout_kind: Option<String>,
    timeout_id: Option<i64>,
    ring_time: i64,
    queue_start_delay: i64,
    no_answer_pause: i64,
    no_answer_pause_time: i64,
    acw_status_id: Option<i64>,
    acw_time: i64,
    display_name: String,
    color_fg: String,
    color_bg: String,
    greeting_voice_id: Option<i64>,
    queue_voice_id: Option<i64>,
    hold_voice_id: Option<i64>,
    answer_voice_id: Option<i64>,
    #[sqlx(flatten)]
    stamps: Stamps,
}

#[derive(Debug, Default)]
pub struct GroupFilter {
    pub name: Option<String>,
    pub extension: Option<String>,
    pub agent_id: Option<i64>,
}

impl Record for Group {
    type Fields = GroupFields;
    type Filter = GroupFilter;
    type Row = Row;
    const TABLE: &'static str = "queue_groups";
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "extension",
        "strategy",
        "max_answering",
        "max_waiting",
        "overflow_kind",
        "overflow_id",
        "timeout_secs",
        "timeout_kind",
        "timeout_id",
        "ring_time",
        "queue_start_delay",
        "no_answer_pause",
        "no_answer_pause_time",
        "acw_status_id",
        "acw_time",
        "display_name",
        "color_fg",
        "color_bg",
        "greeting_voice_id",
        "queue_voice_id",
        "hold_voice_id",
        "answer_voice_id",
    ];

    fn values(f: &GroupFields) -> Vec<Value> {
        vec![
            (&f.name).into(),
            (&f.extension).into(),
            f.strategy.as_str().into(),
            f.max_answering.into(),
            f.max_waiting.into(),
            f.overflow.map(|t| t.kind.as_str()).into(),
            f.overflow.map(|t| t.id).into(),
            f.timeout.into(),
            f.timeout_target.map(|t| t.kind.as_str()).into(),
            f.timeout_target.map(|t| t.id).into(),
            f.ring_time.into(),
            f.queue_start_delay.into(),
            f.no_answer_pause.into(),
            f.no_answer_pause_time.into(),
            f.acw_status_id.into(),
            f.acw_time.into(),
            (&f.display_name).into(),
            (&f.color_fg).into(),
            (&f.color_bg).into(),
            f.greeting_voice_id.into(),
            f.queue_voice_id.into(),
            f.hold_voice_id.into(),
            f.answer_voice_id.into(),
        ]
    }

    fn filter(f: &GroupFilter, q: &mut Filter) {
        q.contains("name", f.name.as_deref());
        q.contains("extension", f.extension.as_deref());
        q.raw_int(
            "id IN (SELECT group_id FROM group_members WHERE agent_id = {})",
            f.agent_id,
        );
    }

    fn from_row(r: Row) -> Result<Group> {
        Ok(Group {
            id: r.id,
            fields: GroupFields {
                name: r.name,
                extension: r.extension,
                strategy: r.strategy.parse().map_err(
                    |e: engine::ring_strategy::UnknownStrategy| StoreError::Corrupt(e.to_string()),
                )?,
                max_answering: r.max_answering,
                max_waiting: r.max_waiting,
                overflow: target(r.overflow_kind, r.overflow_id)?,
                timeout: r.timeout_secs,
                timeout_target: target(r.timeout_kind, r.timeout_id)?,
                ring_time: r.ring_time,
                queue_start_delay: r.queue_start_delay,
                no_answer_pause: r.no_answer_pause != 0,
                no_answer_pause_time: r.no_answer_pause_time,
                acw_status_id: r.acw_status_id,
                acw_time: r.acw_time,
                display_name: r.display_name,
                color_fg: r.color_fg,
                color_bg: r.color_bg,
                greeting_voice_id: r.greeting_voice_id,
                queue_voice_id: r.queue_voice_id,
                hold_voice_id: r.hold_voice_id,
                answer_voice_id: r.answer_voice_id,
                members: Vec::new(),
            },
            stamps: r.stamps,
        })
    }

    fn to_fields(&self) -> GroupFields {
        self.fields.clone()
    }

    async fn read_children(&mut self, conn: &mut Conn) -> Result<()> {
        let members: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT agent_id, skill_level FROM group_members WHERE group_id = $1
             ORDER BY skill_level, agent_id",
        )
        .bind(self.id)
        .fetch_all(&mut *conn)
        .await?;
        self.fields.members = members
            .into_iter()
            .map(|(agent_id, skill_level)| Member {
                agent_id,
                skill_level,
            })
            .collect();
        Ok(())
    }

    async fn after_write(conn: &mut Conn, id: i64, f: &GroupFields) -> Result<()> {
        sqlx::query("DELETE FROM group_members WHERE group_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        for m in &f.members {
            sqlx::query(
                "INSERT INTO group_members (group_id, agent_id, skill_level) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(m.agent_id)
            .bind(m.skill_level)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

/// `Group::get`, for the callers that name the module (crates/sip, the API's tests).
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Group>> {
    Group::get(conn, id).await
}

/// `Group::list`, for the callers that name the module (crates/sip).
pub async fn list(conn: &mut Conn, f: &GroupFilter, page: Page) -> Result<(Vec<Group>, i64)> {
    Group::list(conn, f, page).await
}

/// A member as the presence panel shows it: `extension(nickname)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub agent_id: i64,
    pub extension: Option<String>,
    pub nickname: String,
    pub name: String,
    pub skill_level: i64,
}

/// The members of a group with their extension and names, by extension (agents without one
/// last).
pub async fn member_directory(conn: &mut Conn, group: i64) -> Result<Vec<MemberInfo>> {
    let rows: Vec<(i64, Option<String>, String, String, i64)> = sqlx::query_as(
        "SELECT a.id, a.extension, a.nickname, a.name, m.skill_level
         FROM group_members m JOIN agents a ON a.id = m.agent_id
         WHERE m.group_id = $1
         ORDER BY CASE WHEN a.extension IS NULL THEN 1 ELSE 0 END, a.extension, a.id",
    )
    .bind(group)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(agent_id, extension, nickname, name, skill_level)| MemberInfo {
                agent_id,
                extension,
                nickname,
                name,
                skill_level,
            },
        )
        .collect())
}

/// Sets one member's skill level (RT-11) and stamps the group as updated. `false` when the
/// agent is not a member of the group.
pub async fn set_skill_level(
    conn: &mut Conn,
    group: i64,
    agent: i64,
    level: i64,
    actor: Option<&str>,
    now: i64,
) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE group_members SET skill_level = $1 WHERE group_id = $2 AND agent_id = $3",
    )
    .bind(level)
    .bind(group)
    .bind(agent)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    sqlx::query("UPDATE queue_groups SET updated_at = $1, updated_by = $2 WHERE id = $3")
        .bind(now)
        .bind(actor)
        .bind(group)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

pub async fn references(conn: &mut Conn, id: i64) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let sql = "SELECT COUNT(*) FROM numbers WHERE route_kind = 'group' AND route_id = $1";
    record::reason(conn, &mut out, sql, id, |n| {
        format!("the routing target of {n} phone number(s)")
    })
    .await?;
    let sql = "SELECT COUNT(*) FROM queue_groups WHERE id <> $1
        AND ((overflow_kind = 'group' AND overflow_id = $1)
            OR (timeout_kind = 'group' AND timeout_id = $1))";
    record::reason(conn, &mut out, sql, id, |n| {
        format!("a divert destination of {n} other group(s)")
    })
    .await?;
    Ok(out)
}
