//! Agent statuses (AST-*): custom pause reasons, every one a kind of Paused.

use crate::query::{self, Filter};
use crate::{Conn, Page, Result, Stamps};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, Default, sqlx::FromRow)]
pub struct AgentStatusFields {
    pub name: String,
    pub icon: String,
    pub color_fg: String,
    pub color_bg: String,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct AgentStatus {
    pub id: i64,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub fields: AgentStatusFields,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub stamps: Stamps,
}

const COLS: &str =
    "id, name, icon, color_fg, color_bg, created_at, created_by, updated_at, updated_by";

#[derive(Debug, Default)]
pub struct AgentStatusFilter {
    pub name: Option<String>,
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<AgentStatus>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLS} FROM agent_statuses WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn list(
    conn: &mut Conn,
    f: &AgentStatusFilter,
    page: Page,
) -> Result<(Vec<AgentStatus>, i64)> {
    let mut filter = Filter::default();
    filter.contains("name", f.name.as_deref());
    query::list(conn, COLS, "agent_statuses", "id", &filter, page).await
}

pub async fn insert(
    conn: &mut Conn,
    f: &AgentStatusFields,
    actor: Option<&str>,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO agent_statuses (name, icon, color_fg, color_bg, created_at, created_by,
            updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $5, $6) RETURNING id",
    )
    .bind(&f.name)
    .bind(&f.icon)
    .bind(&f.color_fg)
    .bind(&f.color_bg)
    .bind(now)
    .bind(actor)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn update(
    conn: &mut Conn,
    id: i64,
    f: &AgentStatusFields,
    actor: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE agent_statuses SET name = $1, icon = $2, color_fg = $3, color_bg = $4,
            updated_at = $5, updated_by = $6 WHERE id = $7",
    )
    .bind(&f.name)
    .bind(&f.icon)
    .bind(&f.color_fg)
    .bind(&f.color_bg)
    .bind(now)
    .bind(actor)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM agent_statuses WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn id_by_name(conn: &mut Conn, name: &str) -> Result<Option<i64>> {
    let r: Option<(i64,)> = sqlx::query_as("SELECT id FROM agent_statuses WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(r.map(|(i,)| i))
}

pub async fn references(conn: &mut Conn, id: i64) -> Result<Vec<String>> {
    let n = crate::count(
        conn,
        "SELECT COUNT(*) FROM queue_groups WHERE acw_status_id = $1",
        id,
    )
    .await?;
    Ok(if n > 0 {
        vec![format!("the ACW status of {n} group(s)")]
    } else {
        vec![]
    })
}
