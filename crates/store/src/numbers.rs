//! Phone numbers (NUM-*): DIDs with their routing target, limits and pop-ups.

use crate::record::{self, Link, Record, Value};
use crate::{text_enum, Conn, Filter, Page, Result, Stamps, StoreError};
use engine::{RouteTarget, TargetKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

text_enum!(
    /// How the number appears in caller-ID lists (NUM-08).
    NumberDisplay { NumberName = "number_name", Name = "name", Number = "number" } default NumberName
);

text_enum!(
    /// Whether calls to and from the number are recorded: as the system setting says, or
    /// always, or never.
    NumberRecording { Inherit = "inherit", On = "on", Off = "off" } default Inherit
);

impl NumberRecording {
    /// Whether a call of this number is recorded when the system setting is `system`.
    pub fn applies(self, system: bool) -> bool {
        match self {
            NumberRecording::Inherit => system,
            NumberRecording::On => true,
            NumberRecording::Off => false,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Target)]
pub struct TargetDto {
    /// `group`, `agent`, `voice_file`, `ivr` or `forward`.
    #[schema(value_type = String)]
    pub kind: TargetKind,
    pub id: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, Default)]
pub struct NumberFields {
    pub number: String,
    pub name: String,
    pub prefix: Option<String>,
    #[schema(value_type = Option<TargetDto>)]
    pub route: Option<RouteTarget>,
    /// 0 means no per-number limit.
    pub max_channels: i64,
    pub incoming_popup_url: String,
    pub answer_popup_url: String,
    pub display: NumberDisplay,
    pub incoming_message: String,
    pub outgoing_message: String,
    pub caller_area_routing: bool,
    /// Agents to whom this number is offered as caller ID (NUM-12).
    pub agent_ids: Vec<i64>,
    /// Full-call recording for this number's calls.
    pub recording: NumberRecording,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Number {
    pub id: i64,
    #[serde(flatten)]
    pub fields: NumberFields,
    #[serde(flatten)]
    pub stamps: Stamps,
}

/// A row of `numbers`.
#[derive(sqlx::FromRow)]
pub struct Row {
    id: i64,
    number: String,
    name: String,
    prefix: Option<String>,
    route_kind: Option<String>,
    route_id: Option<i64>,
    max_channels: i64,
    incoming_popup_url: String,
    answer_popup_url: String,
    display: String,
    incoming_message: String,
    outgoing_message: String,
    caller_area_routing: i64,
    recording: String,
    #[sqlx(flatten)]
    stamps: Stamps,
}

#[derive(Debug, Default, Deserialize)]
pub struct NumberFilter {
    pub number: Option<String>,
    pub name: Option<String>,
    pub prefix: Option<String>,
    pub route_kind: Option<String>,
}

/// The agents a number is offered to as caller ID (the same rows as `agents::NUMBERS`).
const AGENTS: Link = Link {
    table: "agent_numbers",
    from: "number_id",
    to: "agent_id",
};

impl Record for Number {
    type Fields = NumberFields;
    type Filter = NumberFilter;
    type Row = Row;
    const TABLE: &'static str = "numbers";
    const COLUMNS: &'static [&'static str] = &[
        "number",
        "name",
        "prefix",
        "route_kind",
        "route_id",
        "max_channels",
        "incoming_popup_url",
        "answer_popup_url",
        "display",
        "incoming_message",
        "outgoing_message",
        "caller_area_routing",
        "recording",
    ];
    const ORDER: &'static str = "number";

    fn values(f: &NumberFields) -> Vec<Value> {
        vec![
            (&f.number).into(),
            (&f.name).into(),
            (&f.prefix).into(),
            f.route.map(|t| t.kind.as_str()).into(),
            f.route.map(|t| t.id).into(),
            f.max_channels.into(),
            (&f.incoming_popup_url).into(),
            (&f.answer_popup_url).into(),
            f.display.as_str().into(),
            (&f.incoming_message).into(),
            (&f.outgoing_message).into(),
            f.caller_area_routing.into(),
            f.recording.as_str().into(),
        ]
    }

    fn filter(f: &NumberFilter, q: &mut Filter) {
        q.contains("number", f.number.as_deref());
        q.contains("name", f.name.as_deref());
        q.contains("prefix", f.prefix.as_deref());
        q.eq_text("route_kind", f.route_kind.as_deref());
    }

    fn from_row(r: Row) -> Result<Number> {
        Ok(Number {
            id: r.id,
            fields: NumberFields {
                number: r.number,
                name: r.name,
                prefix: r.prefix,
                route: target(r.route_kind, r.route_id)?,
                max_channels: r.max_channels,
                incoming_popup_url: r.incoming_popup_url,
                answer_popup_url: r.answer_popup_url,
                display: NumberDisplay::from_db(&r.display)?,
                incoming_message: r.incoming_message,
                outgoing_message: r.outgoing_message,
                caller_area_routing: r.caller_area_routing != 0,
                agent_ids: Vec::new(),
                recording: NumberRecording::from_db(&r.recording)?,
            },
            stamps: r.stamps,
        })
    }

    fn to_fields(&self) -> NumberFields {
        self.fields.clone()
    }

    async fn read_children(&mut self, conn: &mut Conn) -> Result<()> {
        self.fields.agent_ids = AGENTS.read(conn, self.id).await?;
        Ok(())
    }

    async fn after_write(conn: &mut Conn, id: i64, f: &NumberFields) -> Result<()> {
        AGENTS.write(conn, id, &f.agent_ids).await
    }
}

pub(crate) fn target(kind: Option<String>, id: Option<i64>) -> Result<Option<RouteTarget>> {
    match (kind, id) {
        (Some(k), Some(id)) => {
            let kind = k
                .parse::<TargetKind>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(Some(RouteTarget { kind, id }))
        }
        _ => Ok(None),
    }
}

/// `Number::get`, for the callers that name the module (crates/sip, the API's tests).
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Number>> {
    Number::get(conn, id).await
}

/// `Number::list`, for the callers that name the module (crates/sip, the API's tests).
pub async fn list(conn: &mut Conn, f: &NumberFilter, page: Page) -> Result<(Vec<Number>, i64)> {
    Number::list(conn, f, page).await
}

/// `Number::update`, for the callers that name the module (the API's tests).
pub async fn update(
    conn: &mut Conn,
    id: i64,
    f: &NumberFields,
    actor: Option<&str>,
    now: i64,
) -> Result<()> {
    Number::update(conn, id, f, actor, now).await
}

/// The number's id, for the callers that name the module (crates/sip).
pub async fn id_by_number(conn: &mut Conn, number: &str) -> Result<Option<i64>> {
    Number::id_where(conn, "number", number).await
}

pub async fn references(conn: &mut Conn, id: i64) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let sql = "SELECT COUNT(*) FROM agents WHERE caller_number_id = $1";
    record::reason(conn, &mut out, sql, id, |n| {
        format!("the caller number of {n} agent(s)")
    })
    .await?;
    let sql = "SELECT COUNT(*) FROM forwardings WHERE caller_number_id = $1";
    record::reason(conn, &mut out, sql, id, |n| {
        format!("the caller number of {n} external forwarding(s)")
    })
    .await?;
    Ok(out)
}

/// Does a routing target point at an existing record?
pub async fn target_exists(conn: &mut Conn, t: RouteTarget) -> Result<bool> {
    match t.kind {
        TargetKind::Group => crate::exists(conn, "queue_groups", t.id).await,
        TargetKind::Agent => crate::exists(conn, "agents", t.id).await,
        TargetKind::VoiceFile => crate::exists(conn, "voice_files", t.id).await,
        TargetKind::Ivr => crate::exists(conn, "ivrs", t.id).await,
        TargetKind::Forward => crate::exists(conn, "forwardings", t.id).await,
    }
}
