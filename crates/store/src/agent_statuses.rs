//! Agent statuses (AST-*): custom pause reasons, every one a kind of Paused.

use crate::record::{self, Record, Value};
use crate::{Conn, Filter, Result, Stamps};
use serde::{Deserialize, Serialize};
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

#[derive(Debug, Default, Deserialize)]
pub struct AgentStatusFilter {
    pub name: Option<String>,
}

impl Record for AgentStatus {
    type Fields = AgentStatusFields;
    type Filter = AgentStatusFilter;
    type Row = Self;
    const TABLE: &'static str = "agent_statuses";
    const COLUMNS: &'static [&'static str] = &["name", "icon", "color_fg", "color_bg"];

    fn values(f: &AgentStatusFields) -> Vec<Value> {
        vec![
            (&f.name).into(),
            (&f.icon).into(),
            (&f.color_fg).into(),
            (&f.color_bg).into(),
        ]
    }

    fn filter(f: &AgentStatusFilter, q: &mut Filter) {
        q.contains("name", f.name.as_deref());
    }

    fn from_row(row: Self) -> Result<Self> {
        Ok(row)
    }

    fn to_fields(&self) -> AgentStatusFields {
        self.fields.clone()
    }
}

pub async fn references(conn: &mut Conn, id: i64) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let sql = "SELECT COUNT(*) FROM queue_groups WHERE acw_status_id = $1";
    record::reason(conn, &mut out, sql, id, |n| {
        format!("the ACW status of {n} group(s)")
    })
    .await?;
    Ok(out)
}
