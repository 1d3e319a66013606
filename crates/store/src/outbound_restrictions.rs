//! Outbound restrictions (RESTRICT-*): destination numbers that must not be dialled, for every
//! caller number or only for calls made from one of them.

use crate::incoming_blocks::variants;
use crate::query::{self, Filter};
use crate::{Conn, Page, Result, Stamps};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, Default, sqlx::FromRow)]
pub struct OutboundRestrictionFields {
    /// The restricted destination, half-width digits only.
    pub number: String,
    /// The caller number the restriction is limited to; empty = every caller number.
    pub caller_number: String,
    pub remarks: String,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OutboundRestriction {
    pub id: i64,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub fields: OutboundRestrictionFields,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub stamps: Stamps,
}

const COLS: &str =
    "id, number, caller_number, remarks, created_at, created_by, updated_at, updated_by";

#[derive(Debug, Default)]
pub struct OutboundRestrictionFilter {
    pub number: Option<String>,
    pub remarks: Option<String>,
    pub caller_number: Option<String>,
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<OutboundRestriction>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM outbound_restrictions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn list(
    conn: &mut Conn,
    f: &OutboundRestrictionFilter,
    page: Page,
) -> Result<(Vec<OutboundRestriction>, i64)> {
    let mut filter = Filter::default();
    filter.contains("number", f.number.as_deref());
    filter.contains("remarks", f.remarks.as_deref());
    filter.contains("caller_number", f.caller_number.as_deref());
    query::list(
        conn,
        COLS,
        "outbound_restrictions",
        "number, caller_number, id",
        &filter,
        page,
    )
    .await
}

pub async fn insert(
    conn: &mut Conn,
    f: &OutboundRestrictionFields,
    actor: Option<&str>,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO outbound_restrictions (number, caller_number, remarks, created_at,
            created_by, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $4, $5) RETURNING id",
    )
    .bind(&f.number)
    .bind(&f.caller_number)
    .bind(&f.remarks)
    .bind(now)
    .bind(actor)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn update(
    conn: &mut Conn,
    id: i64,
    f: &OutboundRestrictionFields,
    actor: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbound_restrictions SET number = $1, caller_number = $2, remarks = $3,
            updated_at = $4, updated_by = $5 WHERE id = $6",
    )
    .bind(&f.number)
    .bind(&f.caller_number)
    .bind(&f.remarks)
    .bind(now)
    .bind(actor)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM outbound_restrictions WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The restriction on exactly this destination and caller number (`""` = all), if any.
pub async fn id_by_key(conn: &mut Conn, number: &str, caller_number: &str) -> Result<Option<i64>> {
    let r: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM outbound_restrictions WHERE number = $1 AND caller_number = $2",
    )
    .bind(number)
    .bind(caller_number)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(r.map(|(i,)| i))
}

/// Whether dialling `destination` from `caller_number` is refused (RESTRICT-06). A restriction
/// with an empty caller number applies to every caller number; one with a caller number only to
/// calls made from it. Punctuation and a `+81` prefix in the numbers are ignored.
pub async fn is_restricted(
    conn: &mut Conn,
    destination: &str,
    caller_number: Option<&str>,
) -> Result<bool> {
    let Some((d1, d2)) = variants(destination) else {
        return Ok(false);
    };
    // An unknown caller number matches only the restrictions that apply to everyone.
    let (c1, c2) = caller_number
        .and_then(variants)
        .unwrap_or_else(|| (String::new(), String::new()));
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM outbound_restrictions
         WHERE (number = $1 OR number = $2)
           AND (caller_number = '' OR caller_number = $3 OR caller_number = $4)",
    )
    .bind(d1)
    .bind(d2)
    .bind(c1)
    .bind(c2)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}
