//! External forwarding (外線転送, FWD-01…04): an external number calls are forwarded to
//! through the trunk, and the caller ID the forwarded call shows.

use crate::record::{self, Record, Value};
use crate::{Conn, Filter, Page, Result, Stamps};
use engine::TargetKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, Default, PartialEq)]
pub struct ForwardingFields {
    /// 名称.
    pub name: String,
    /// 外線転送番号: the external number the call is forwarded to.
    pub destination: String,
    /// 発信者番号: one of our numbers, shown as the caller of the forwarded call (ignored when
    /// `use_called_number` is on).
    pub caller_number_id: Option<i64>,
    /// 内線: dialled on one of our phones, the call is forwarded the same way (optional).
    pub extension: Option<String>,
    /// 着信番号を発番に利用: the forwarded call shows the number the caller dialled.
    pub use_called_number: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Forwarding {
    pub id: i64,
    #[serde(flatten)]
    pub fields: ForwardingFields,
    #[serde(flatten)]
    pub stamps: Stamps,
}

/// A row of `forwardings`.
#[derive(sqlx::FromRow)]
pub struct Row {
    id: i64,
    name: String,
    destination: String,
    caller_number_id: Option<i64>,
    extension: Option<String>,
    use_called_number: i64,
    #[sqlx(flatten)]
    stamps: Stamps,
}

#[derive(Debug, Default, Deserialize)]
pub struct ForwardingFilter {
    pub name: Option<String>,
    pub destination: Option<String>,
}

impl Record for Forwarding {
    type Fields = ForwardingFields;
    type Filter = ForwardingFilter;
    type Row = Row;
    const TABLE: &'static str = "forwardings";
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "destination",
        "caller_number_id",
        "extension",
        "use_called_number",
    ];
    const ORDER: &'static str = "name, id";

    fn values(f: &ForwardingFields) -> Vec<Value> {
        vec![
            (&f.name).into(),
            (&f.destination).into(),
            f.caller_number_id.into(),
            (&f.extension).into(),
            f.use_called_number.into(),
        ]
    }

    fn filter(f: &ForwardingFilter, q: &mut Filter) {
        q.contains("name", f.name.as_deref());
        q.contains("destination", f.destination.as_deref());
    }

    fn from_row(r: Row) -> Result<Forwarding> {
        Ok(Forwarding {
            id: r.id,
            fields: ForwardingFields {
                name: r.name,
                destination: r.destination,
                caller_number_id: r.caller_number_id,
                extension: r.extension,
                use_called_number: r.use_called_number != 0,
            },
            stamps: r.stamps,
        })
    }

    fn to_fields(&self) -> ForwardingFields {
        self.fields.clone()
    }
}

/// Every forwarding, by name.
pub async fn list_all(conn: &mut Conn) -> Result<Vec<Forwarding>> {
    let page = Page {
        offset: 0,
        limit: i64::MAX / 4,
    };
    Ok(Forwarding::list(conn, &ForwardingFilter::default(), page)
        .await?
        .0)
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Forwarding>> {
    Forwarding::get(conn, id).await
}

/// What routes to the forwarding: phone numbers, group diverts, IVRs. A forwarding in use
/// cannot be deleted.
pub async fn references(conn: &mut Conn, id: i64) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let sql = "SELECT COUNT(*) FROM numbers WHERE route_kind = 'forward' AND route_id = $1";
    record::reason(conn, &mut out, sql, id, |n| {
        format!("the routing of {n} phone number(s)")
    })
    .await?;
    let sql = "SELECT COUNT(*) FROM queue_groups
        WHERE (overflow_kind = 'forward' AND overflow_id = $1)
            OR (timeout_kind = 'forward' AND timeout_id = $1)";
    record::reason(conn, &mut out, sql, id, |n| {
        format!("a divert destination of {n} group(s)")
    })
    .await?;
    let ivrs: Vec<String> = crate::ivrs::list_all(conn)
        .await?
        .into_iter()
        .filter(|r| {
            r.fields
                .targets()
                .iter()
                .any(|(_, t)| t.kind == TargetKind::Forward && t.id == id)
        })
        .map(|r| format!("\"{}\"", r.fields.name))
        .collect();
    if !ivrs.is_empty() {
        out.push(format!(
            "a destination of {} IVR(s) ({})",
            ivrs.len(),
            ivrs.join(", ")
        ));
    }
    Ok(out)
}
