//! Terminals (TERM-*): SIP devices, each with its own digest credentials.

use crate::record::{Record, Value};
use crate::{Conn, Filter, Page, Result, Stamps};
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

/// A row of `terminals`.
#[derive(sqlx::FromRow)]
pub struct Row {
    id: i64,
    username: String,
    name: String,
    agent_id: Option<i64>,
    sip_password: String,
    #[sqlx(flatten)]
    stamps: Stamps,
}

#[derive(Debug, Default)]
pub struct TerminalFilter {
    pub username: Option<String>,
    pub name: Option<String>,
    pub agent_id: Option<i64>,
}

impl Record for Terminal {
    type Fields = TerminalFields;
    type Filter = TerminalFilter;
    type Row = Row;
    const TABLE: &'static str = "terminals";
    const COLUMNS: &'static [&'static str] = &["username", "name", "agent_id", "sip_password"];

    fn values(f: &TerminalFields) -> Vec<Value> {
        vec![
            (&f.username).into(),
            (&f.name).into(),
            f.agent_id.into(),
            (&f.sip_password).into(),
        ]
    }

    fn filter(f: &TerminalFilter, q: &mut Filter) {
        q.contains("username", f.username.as_deref());
        q.contains("name", f.name.as_deref());
        q.eq_int("agent_id", f.agent_id);
    }

    fn from_row(r: Row) -> Result<Terminal> {
        Ok(Terminal {
            id: r.id,
            password_set: !r.sip_password.is_empty(),
            fields: TerminalFields {
                username: r.username,
                name: r.name,
                agent_id: r.agent_id,
                sip_password: r.sip_password,
            },
            stamps: r.stamps,
        })
    }

    fn to_fields(&self) -> TerminalFields {
        self.fields.clone()
    }
}

/// `Terminal::find` by SIP user name, for the callers that name the module (crates/sip).
pub async fn by_username(conn: &mut Conn, username: &str) -> Result<Option<Terminal>> {
    Terminal::find(conn, "username", username).await
}

/// `Terminal::list`, for the callers that name the module (crates/sip).
pub async fn list(conn: &mut Conn, f: &TerminalFilter, page: Page) -> Result<(Vec<Terminal>, i64)> {
    Terminal::list(conn, f, page).await
}
