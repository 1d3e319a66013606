//! Outbound restrictions (RESTRICT-*): destination numbers that must not be dialled, for every
//! caller number or only for calls made from one of them.

use crate::incoming_blocks::variants;
use crate::record::{Record, Value};
use crate::{Conn, Filter, Result, Stamps};
use serde::{Deserialize, Serialize};
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

#[derive(Debug, Default, Deserialize)]
pub struct OutboundRestrictionFilter {
    pub number: Option<String>,
    pub remarks: Option<String>,
    pub caller_number: Option<String>,
}

impl Record for OutboundRestriction {
    type Fields = OutboundRestrictionFields;
    type Filter = OutboundRestrictionFilter;
    type Row = Self;
    const TABLE: &'static str = "outbound_restrictions";
    const COLUMNS: &'static [&'static str] = &["number", "caller_number", "remarks"];
    const ORDER: &'static str = "number, caller_number, id";

    fn values(f: &OutboundRestrictionFields) -> Vec<Value> {
        vec![
            (&f.number).into(),
            (&f.caller_number).into(),
            (&f.remarks).into(),
        ]
    }

    fn filter(f: &OutboundRestrictionFilter, q: &mut Filter) {
        q.contains("number", f.number.as_deref());
        q.contains("remarks", f.remarks.as_deref());
        q.contains("caller_number", f.caller_number.as_deref());
    }

    fn from_row(row: Self) -> Result<Self> {
        Ok(row)
    }

    fn to_fields(&self) -> OutboundRestrictionFields {
        self.fields.clone()
    }
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
