//! Terminals (TERM-*): SIP devices, each with its own digest credentials.

use crate::query::{self, Filter};
use crate::{Conn, Page, Result, Stamps};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, Default)]
pub struct TerminalFields {
    /// SIP user name used for REGISTER and digest authentication.
    pub username: String,
    pub name: String,
    /// The agent this phone belongs to; null for hot-desk phones (TERM-04).
    pub agent_id: Option<i64>,
    #[serde(skip)]
    pub sip_password: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Terminal {
    pub id: i64,
    #[serde(flatten)]
    pub fields: TerminalFields,
    pub password_set: bool,
    #[serde(flatten)]
    pub stamps: Stamps,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    username: String,
    name: String,
    agent_id: Option<i64>,
    sip_password: String,
    #[sqlx(flatten)]
    stamps: Stamps,
}

impl From<Row> for Terminal {
    fn from(r: Row) -> Self {
        Terminal {
            id: r.id,
            password_set: !r.sip_password.is_empty(),
            fields: TerminalFields {
                username: r.username,
                name: r.name,
                agent_id: r.agent_id,
                sip_password: r.sip_password,
            },
            stamps: r.stamps,
        }
    }
}

const COLS: &str =
    "id, username, name, agent_id, sip_password, created_at, created_by, updated_at, updated_by";

#[derive(Debug, Default)]
pub struct TerminalFilter {
    pub username: Option<String>,
    pub name: Option<String>,
    pub agent_id: Option<i64>,
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Terminal>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLS} FROM terminals WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(Terminal::from))
}

pub async fn by_username(conn: &mut Conn, username: &str) -> Result<Option<Terminal>> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLS} FROM terminals WHERE username = $1"))
            .bind(username)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(Terminal::from))
}

pub async fn list(conn: &mut Conn, f: &TerminalFilter, page: Page) -> Result<(Vec<Terminal>, i64)> {
    let mut filter = Filter::default();
    filter.contains("username", f.username.as_deref());
    filter.contains("name", f.name.as_deref());
    filter.eq_int("agent_id", f.agent_id);
    let (rows, total): (Vec<Row>, i64) =
        query::list(conn, COLS, "terminals", "id", &filter, page).await?;
    Ok((rows.into_iter().map(Terminal::from).collect(), total))
}

pub async fn insert(
    conn: &mut Conn,
    f: &TerminalFields,
    actor: Option<&str>,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO terminals (username, name, agent_id, sip_password, created_at, created_by,
            updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $5, $6) RETURNING id",
    )
    .bind(&f.username)
    .bind(&f.name)
    .bind(f.agent_id)
    .bind(&f.sip_password)
    .bind(now)
    .bind(actor)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn update(
    conn: &mut Conn,
    id: i64,
    f: &TerminalFields,
    actor: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE terminals SET username = $1, name = $2, agent_id = $3, sip_password = $4,
            updated_at = $5, updated_by = $6 WHERE id = $7",
    )
    .bind(&f.username)
    .bind(&f.name)
    .bind(f.agent_id)
    .bind(&f.sip_password)
    .bind(now)
    .bind(actor)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM terminals WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
