//! Incoming-call block list (BLOCK-*): caller numbers whose calls are refused.

use crate::record::{Record, Value};
use crate::{Conn, Filter, Result, Stamps};
use serde::{Deserialize, Serialize};
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

#[derive(Debug, Default, Deserialize)]
pub struct IncomingBlockFilter {
    pub number: Option<String>,
    pub remarks: Option<String>,
}

impl Record for IncomingBlock {
    type Fields = IncomingBlockFields;
    type Filter = IncomingBlockFilter;
    type Row = Self;
    const TABLE: &'static str = "incoming_blocks";
    const COLUMNS: &'static [&'static str] = &["number", "remarks"];
    const ORDER: &'static str = "number, id";

    fn values(f: &IncomingBlockFields) -> Vec<Value> {
        vec![(&f.number).into(), (&f.remarks).into()]
    }

    fn filter(f: &IncomingBlockFilter, q: &mut Filter) {
        q.contains("number", f.number.as_deref());
        q.contains("remarks", f.remarks.as_deref());
    }

    fn from_row(row: Self) -> Result<Self> {
        Ok(row)
    }

    fn to_fields(&self) -> IncomingBlockFields {
        self.fields.clone()
    }
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
