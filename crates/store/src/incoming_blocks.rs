//! Incoming-call block list (BLOCK-*): caller numbers whose calls are refused.

use crate::query::{self, Filter};
use crate::{Conn, Page, Result, Stamps};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, Default, sqlx::FromRow)]
pub struct IncomingBlockFields {
    /// The blocked caller number, half-width digits only.
    pub number: String,
    pub remarks: String,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct IncomingBlock {
    pub id: i64,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub fields: IncomingBlockFields,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub stamps: Stamps,
}

const COLS: &str = "id, number, remarks, created_at, created_by, updated_at, updated_by";

#[derive(Debug, Default)]
pub struct IncomingBlockFilter {
    pub number: Option<String>,
    pub remarks: Option<String>,
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<IncomingBlock>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLS} FROM incoming_blocks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn list(
    conn: &mut Conn,
    f: &IncomingBlockFilter,
    page: Page,
) -> Result<(Vec<IncomingBlock>, i64)> {
    let mut filter = Filter::default();
    filter.contains("number", f.number.as_deref());
    filter.contains("remarks", f.remarks.as_deref());
    query::list(conn, COLS, "incoming_blocks", "number, id", &filter, page).await
}

pub async fn insert(
    conn: &mut Conn,
    f: &IncomingBlockFields,
    actor: Option<&str>,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO incoming_blocks (number, remarks, created_at, created_by, updated_at,
            updated_by)
         VALUES ($1, $2, $3, $4, $3, $4) RETURNING id",
    )
    .bind(&f.number)
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
    f: &IncomingBlockFields,
    actor: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE incoming_blocks SET number = $1, remarks = $2, updated_at = $3, updated_by = $4
         WHERE id = $5",
    )
    .bind(&f.number)
    .bind(&f.remarks)
    .bind(now)
    .bind(actor)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM incoming_blocks WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn id_by_number(conn: &mut Conn, number: &str) -> Result<Option<i64>> {
    let r: Option<(i64,)> = sqlx::query_as("SELECT id FROM incoming_blocks WHERE number = $1")
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(r.map(|(i,)| i))
}

/// Whether calls from `caller` are refused. The caller as signalled may carry punctuation or
/// an international prefix: `+81 3-1234-5678` matches a block on `0312345678`.
pub async fn is_blocked(conn: &mut Conn, caller: &str) -> Result<bool> {
    let Some((a, b)) = variants(caller) else {
        return Ok(false);
    };
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM incoming_blocks WHERE number = $1 OR number = $2")
            .bind(a)
            .bind(b)
            .fetch_one(&mut *conn)
            .await?;
    Ok(n > 0)
}

pub(crate) use engine::phone_number::variants;

#[cfg(test)]
mod tests {
    use super::variants;

    #[test]
    fn signalled_numbers_are_normalised() {
        assert_eq!(
            variants("0312345678"),
            Some(("0312345678".into(), "0312345678".into()))
        );
        assert_eq!(
            variants("+81 3-1234-5678"),
            Some(("81312345678".into(), "0312345678".into()))
        );
        assert_eq!(variants("anonymous"), None);
        assert_eq!(variants("81312345678").unwrap().1, "81312345678");
    }
}
