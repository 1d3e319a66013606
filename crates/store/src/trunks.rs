//! SIP trunks: connections to carriers, by allowed source address or by registration.

use crate::query::{self, Filter};
use crate::{flag, text_enum, Conn, Page, Result, Stamps};
use serde::Serialize;
use utoipa::ToSchema;

text_enum!(
    /// Where outbound calls carry the caller ID.
    CallerIdHeader { From = "from", Pai = "pai", Both = "both" } default From
);

#[derive(Debug, Clone, Serialize, ToSchema, Default)]
pub struct TrunkFields {
    pub name: String,
    /// IP addresses or CIDR blocks whose INVITEs are accepted as coming from this carrier.
    pub allowed_sources: Vec<String>,
    /// `host:port` outbound calls are sent to.
    pub outbound_host: Option<String>,
    pub username: Option<String>,
    /// Register to the carrier with `username`/`password`.
    pub register: bool,
    pub caller_id_header: CallerIdHeader,
    pub enabled: bool,
    #[serde(skip)]
    pub password: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Trunk {
    pub id: i64,
    #[serde(flatten)]
    pub fields: TrunkFields,
    pub password_set: bool,
    #[serde(flatten)]
    pub stamps: Stamps,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    allowed_sources: String,
    outbound_host: Option<String>,
    username: Option<String>,
    password: Option<String>,
    register: i64,
    caller_id_header: String,
    enabled: i64,
    #[sqlx(flatten)]
    stamps: Stamps,
}

fn hydrate(r: Row) -> Result<Trunk> {
    Ok(Trunk {
        id: r.id,
        password_set: r.password.is_some(),
        fields: TrunkFields {
            name: r.name,
            allowed_sources: r
                .allowed_sources
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            outbound_host: r.outbound_host,
            username: r.username,
            register: r.register != 0,
            caller_id_header: CallerIdHeader::from_db(&r.caller_id_header)?,
            enabled: r.enabled != 0,
            password: r.password,
        },
        stamps: r.stamps,
    })
}

const COLS: &str = "id, name, allowed_sources, outbound_host, username, password, register, \
    caller_id_header, enabled, created_at, created_by, updated_at, updated_by";

#[derive(Debug, Default)]
pub struct TrunkFilter {
    pub name: Option<String>,
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Trunk>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLS} FROM trunks WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(hydrate).transpose()
}

pub async fn list(conn: &mut Conn, f: &TrunkFilter, page: Page) -> Result<(Vec<Trunk>, i64)> {
    let mut filter = Filter::default();
    filter.contains("name", f.name.as_deref());
    let (rows, total): (Vec<Row>, i64) =
        query::list(conn, COLS, "trunks", "id", &filter, page).await?;
    Ok((rows.into_iter().map(hydrate).collect::<Result<_>>()?, total))
}

pub async fn insert(
    conn: &mut Conn,
    f: &TrunkFields,
    actor: Option<&str>,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO trunks (name, allowed_sources, outbound_host, username, password, register,
            caller_id_header, enabled, created_at, created_by, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $10) RETURNING id",
    )
    .bind(&f.name)
    .bind(f.allowed_sources.join(","))
    .bind(f.outbound_host.as_deref())
    .bind(f.username.as_deref())
    .bind(f.password.as_deref())
    .bind(flag(f.register))
    .bind(f.caller_id_header.as_str())
    .bind(flag(f.enabled))
    .bind(now)
    .bind(actor)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn update(
    conn: &mut Conn,
    id: i64,
    f: &TrunkFields,
    actor: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE trunks SET name = $1, allowed_sources = $2, outbound_host = $3, username = $4,
            password = $5, register = $6, caller_id_header = $7, enabled = $8, updated_at = $9,
            updated_by = $10 WHERE id = $11",
    )
    .bind(&f.name)
    .bind(f.allowed_sources.join(","))
    .bind(f.outbound_host.as_deref())
    .bind(f.username.as_deref())
    .bind(f.password.as_deref())
    .bind(flag(f.register))
    .bind(f.caller_id_header.as_str())
    .bind(flag(f.enabled))
    .bind(now)
    .bind(actor)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM trunks WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
