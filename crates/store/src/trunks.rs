//! SIP trunks: connections to carriers, by allowed source address or by registration.

use crate::record::{Record, Value};
use crate::{text_enum, Conn, Filter, Page, Result, Stamps};
use serde::{Deserialize, Serialize};
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

/// A row of `trunks`.
#[derive(sqlx::FromRow)]
pub struct Row {
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

#[derive(Debug, Default, Deserialize)]
pub struct TrunkFilter {
    pub name: Option<String>,
}

impl Record for Trunk {
    type Fields = TrunkFields;
    type Filter = TrunkFilter;
    type Row = Row;
    const TABLE: &'static str = "trunks";
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "allowed_sources",
        "outbound_host",
        "username",
        "password",
        "register",
        "caller_id_header",
        "enabled",
    ];

    fn values(f: &TrunkFields) -> Vec<Value> {
        vec![
            (&f.name).into(),
            f.allowed_sources.join(",").as_str().into(),
            (&f.outbound_host).into(),
            (&f.username).into(),
            (&f.password).into(),
            f.register.into(),
            f.caller_id_header.as_str().into(),
            f.enabled.into(),
        ]
    }

    fn filter(f: &TrunkFilter, q: &mut Filter) {
        q.contains("name", f.name.as_deref());
    }

    fn from_row(r: Row) -> Result<Trunk> {
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

    fn to_fields(&self) -> TrunkFields {
        self.fields.clone()
    }
}

/// `Trunk::list`, for the callers that name the module (crates/sip).
pub async fn list(conn: &mut Conn, f: &TrunkFilter, page: Page) -> Result<(Vec<Trunk>, i64)> {
    Trunk::list(conn, f, page).await
}
