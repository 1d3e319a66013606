//! Phone numbers (NUM-*): DIDs with their routing target, limits and pop-ups.

use crate::query::{self, Filter};
use crate::{flag, text_enum, Conn, Page, Result, Stamps, StoreError};
use engine::{RouteTarget, TargetKind};
use serde::Serialize;
use utoipa::ToSchema;

text_enum!(
    /// How the number appears in caller-ID lists (NUM-08).
    NumberDisplay { NumberName = "number_name", Name = "name", Number = "number" } default NumberName
);

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Target)]
pub struct TargetDto {
    /// `group`, `agent`, `voice_file`, `ivr` or `forward`.
    #[schema(value_type = String)]
    pub kind: TargetKind,
    pub id: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, Default)]
pub struct NumberFields {
    pub number: String,
    pub name: String,
    pub prefix: Option<String>,
    #[schema(value_type = Option<TargetDto>)]
    pub route: Option<RouteTarget>,
    /// 0 means no per-number limit.
    pub max_channels: i64,
    pub incoming_popup_url: String,
    pub answer_popup_url: String,
    pub display: NumberDisplay,
    pub incoming_message: String,
    pub outgoing_message: String,
    pub caller_area_routing: bool,
    /// Agents to whom this number is offered as caller ID (NUM-12).
    pub agent_ids: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Number {
    pub id: i64,
    #[serde(flatten)]
    pub fields: NumberFields,
    #[serde(flatten)]
    pub stamps: Stamps,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    number: String,
    name: String,
    prefix: Option<String>,
    route_kind: Option<String>,
    route_id: Option<i64>,
    max_channels: i64,
    incoming_popup_url: String,
    answer_popup_url: String,
    display: String,
    incoming_message: String,
    outgoing_message: String,
    caller_area_routing: i64,
    #[sqlx(flatten)]
    stamps: Stamps,
}

const COLS: &str = "id, number, name, prefix, route_kind, route_id, max_channels, \
    incoming_popup_url, answer_popup_url, display, incoming_message, outgoing_message, \
    caller_area_routing, created_at, created_by, updated_at, updated_by";

#[derive(Debug, Default)]
pub struct NumberFilter {
    pub number: Option<String>,
    pub name: Option<String>,
    pub prefix: Option<String>,
    pub route_kind: Option<String>,
}

pub(crate) fn target(kind: Option<String>, id: Option<i64>) -> Result<Option<RouteTarget>> {
    match (kind, id) {
        (Some(k), Some(id)) => {
            let kind = k
                .parse::<TargetKind>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(Some(RouteTarget { kind, id }))
        }
        _ => Ok(None),
    }
}

async fn hydrate(conn: &mut Conn, r: Row) -> Result<Number> {
    let agents: Vec<(i64,)> =
        sqlx::query_as("SELECT agent_id FROM agent_numbers WHERE number_id = $1 ORDER BY agent_id")
            .bind(r.id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(Number {
        id: r.id,
        fields: NumberFields {
            number: r.number,
            name: r.name,
            prefix: r.prefix,
            route: target(r.route_kind, r.route_id)?,
            max_channels: r.max_channels,
            incoming_popup_url: r.incoming_popup_url,
            answer_popup_url: r.answer_popup_url,
            display: NumberDisplay::from_db(&r.display)?,
            incoming_message: r.incoming_message,
            outgoing_message: r.outgoing_message,
            caller_area_routing: r.caller_area_routing != 0,
            agent_ids: agents.into_iter().map(|(a,)| a).collect(),
        },
        stamps: r.stamps,
    })
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Number>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLS} FROM numbers WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => Ok(Some(hydrate(conn, r).await?)),
        None => Ok(None),
    }
}

pub async fn list(conn: &mut Conn, f: &NumberFilter, page: Page) -> Result<(Vec<Number>, i64)> {
    let mut filter = Filter::default();
    filter.contains("number", f.number.as_deref());
    filter.contains("name", f.name.as_deref());
    filter.contains("prefix", f.prefix.as_deref());
    filter.eq_text("route_kind", f.route_kind.as_deref());
    let (rows, total): (Vec<Row>, i64) =
        query::list(conn, COLS, "numbers", "number", &filter, page).await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(hydrate(conn, r).await?);
    }
    Ok((items, total))
}

async fn write_agents(conn: &mut Conn, id: i64, agents: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM agent_numbers WHERE number_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for a in agents {
        sqlx::query("INSERT INTO agent_numbers (agent_id, number_id) VALUES ($1, $2)")
            .bind(*a)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn insert(
    conn: &mut Conn,
    f: &NumberFields,
    actor: Option<&str>,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO numbers (number, name, prefix, route_kind, route_id, max_channels,
            incoming_popup_url, answer_popup_url, display, incoming_message, outgoing_message,
            caller_area_routing, created_at, created_by, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $13, $14)
         RETURNING id",
    )
    .bind(&f.number)
    .bind(&f.name)
    .bind(f.prefix.as_deref())
    .bind(f.route.map(|t| t.kind.as_str()))
    .bind(f.route.map(|t| t.id))
    .bind(f.max_channels)
    .bind(&f.incoming_popup_url)
    .bind(&f.answer_popup_url)
    .bind(f.display.as_str())
    .bind(&f.incoming_message)
    .bind(&f.outgoing_message)
    .bind(flag(f.caller_area_routing))
    .bind(now)
    .bind(actor)
    .fetch_one(&mut *conn)
    .await?;
    write_agents(conn, id, &f.agent_ids).await?;
    Ok(id)
}

pub async fn update(
    conn: &mut Conn,
    id: i64,
    f: &NumberFields,
    actor: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE numbers SET number = $1, name = $2, prefix = $3, route_kind = $4, route_id = $5,
            max_channels = $6, incoming_popup_url = $7, answer_popup_url = $8, display = $9,
            incoming_message = $10, outgoing_message = $11, caller_area_routing = $12,
            updated_at = $13, updated_by = $14
         WHERE id = $15",
    )
    .bind(&f.number)
    .bind(&f.name)
    .bind(f.prefix.as_deref())
    .bind(f.route.map(|t| t.kind.as_str()))
    .bind(f.route.map(|t| t.id))
    .bind(f.max_channels)
    .bind(&f.incoming_popup_url)
    .bind(&f.answer_popup_url)
    .bind(f.display.as_str())
    .bind(&f.incoming_message)
    .bind(&f.outgoing_message)
    .bind(flag(f.caller_area_routing))
    .bind(now)
    .bind(actor)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    write_agents(conn, id, &f.agent_ids).await
}

pub async fn delete(conn: &mut Conn, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM numbers WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn id_by_number(conn: &mut Conn, number: &str) -> Result<Option<i64>> {
    let r: Option<(i64,)> = sqlx::query_as("SELECT id FROM numbers WHERE number = $1")
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(r.map(|(i,)| i))
}

pub async fn id_by_prefix(conn: &mut Conn, prefix: &str) -> Result<Option<i64>> {
    let r: Option<(i64,)> = sqlx::query_as("SELECT id FROM numbers WHERE prefix = $1")
        .bind(prefix)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(r.map(|(i,)| i))
}

pub async fn references(conn: &mut Conn, id: i64) -> Result<Vec<String>> {
    let n = crate::count(
        conn,
        "SELECT COUNT(*) FROM agents WHERE caller_number_id = $1",
        id,
    )
    .await?;
    Ok(if n > 0 {
        vec![format!("the caller number of {n} agent(s)")]
    } else {
        vec![]
    })
}

/// Does a routing target point at an existing record?
pub async fn target_exists(conn: &mut Conn, t: RouteTarget) -> Result<bool> {
    match t.kind {
        TargetKind::Group => crate::exists(conn, "queue_groups", t.id).await,
        TargetKind::Agent => crate::exists(conn, "agents", t.id).await,
        TargetKind::VoiceFile => crate::exists(conn, "voice_files", t.id).await,
        // IVRs and external forwarding arrive with later features.
        TargetKind::Ivr | TargetKind::Forward => Ok(false),
    }
}
