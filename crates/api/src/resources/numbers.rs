use super::{nullable, page, record_change, unique_to_field, List, Paging};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, IdPath};
use crate::{now_ms, validate, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use engine::{RouteTarget, TargetKind};
use serde::Deserialize;
use std::sync::Arc;
use store::numbers::{self, Number, NumberDisplay, NumberFields, NumberFilter, TargetDto};
use store::{agents, Conn};
use utoipa::ToSchema;

/// A routing destination in a request body.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    #[schema(value_type = String)]
    pub kind: TargetKind,
    pub id: i64,
}

impl From<TargetInput> for RouteTarget {
    fn from(t: TargetInput) -> Self {
        RouteTarget {
            kind: t.kind,
            id: t.id,
        }
    }
}

/// Checks that a target exists and is of a kind this release can route to.
pub async fn check_target(
    conn: &mut Conn,
    e: &mut Vec<FieldError>,
    field: &str,
    t: Option<RouteTarget>,
) -> ApiResult<()> {
    let Some(t) = t else { return Ok(()) };
    if !matches!(
        t.kind,
        TargetKind::Group | TargetKind::Agent | TargetKind::VoiceFile
    ) {
        e.push(FieldError::new(
            field,
            "unsupported",
            format!("Routing to a {} is not available yet.", t.kind),
        ));
    } else if !numbers::target_exists(conn, t).await? {
        e.push(FieldError::new(
            field,
            "unknown",
            format!("There is no {} {}.", t.kind, t.id),
        ));
    }
    Ok(())
}

/// Body of POST and PATCH /numbers. `number` can only be set on create (NUM-02).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberInput {
    pub number: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub prefix: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<TargetDto>, nullable)]
    pub route: Option<Option<TargetInput>>,
    pub max_channels: Option<i64>,
    pub incoming_popup_url: Option<String>,
    pub answer_popup_url: Option<String>,
    pub display: Option<NumberDisplay>,
    pub incoming_message: Option<String>,
    pub outgoing_message: Option<String>,
    pub caller_area_routing: Option<bool>,
    pub agent_ids: Option<Vec<i64>>,
}

#[derive(Debug, Deserialize)]
pub struct NumberQuery {
    pub number: Option<String>,
    pub name: Option<String>,
    pub prefix: Option<String>,
    pub route_kind: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

fn apply(f: &mut NumberFields, i: NumberInput) {
    if let Some(v) = i.number {
        f.number = v.trim().to_owned();
    }
    if let Some(v) = i.name {
        f.name = v.trim().to_owned();
    }
    if let Some(v) = i.prefix {
        f.prefix = v.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
    }
    if let Some(v) = i.route {
        f.route = v.map(Into::into);
    }
    if let Some(v) = i.max_channels {
        f.max_channels = v;
    }
    if let Some(v) = i.incoming_popup_url {
        f.incoming_popup_url = v.trim().to_owned();
    }
    if let Some(v) = i.answer_popup_url {
        f.answer_popup_url = v.trim().to_owned();
    }
    if let Some(v) = i.display {
        f.display = v;
    }
    if let Some(v) = i.incoming_message {
        f.incoming_message = v;
    }
    if let Some(v) = i.outgoing_message {
        f.outgoing_message = v;
    }
    if let Some(v) = i.caller_area_routing {
        f.caller_area_routing = v;
    }
    if let Some(v) = i.agent_ids {
        f.agent_ids = v;
    }
}

async fn validate(
    conn: &mut Conn,
    id: Option<i64>,
    before: Option<&NumberFields>,
    f: &NumberFields,
) -> ApiResult<()> {
    let mut e = Vec::new();
    if let Some(b) = before {
        if b.number != f.number {
            e.push(FieldError::new(
                "number",
                "read_only",
                "The phone number itself cannot be changed.",
            ));
        }
    } else if validate::digits(&mut e, "number", &f.number, 2, 20)
        && numbers::id_by_number(conn, &f.number).await?.is_some()
    {
        e.push(FieldError::new(
            "number",
            "duplicate",
            "This phone number is already registered.",
        ));
    }
    validate::required_text(&mut e, "name", &f.name, 64);
    if let Some(p) = f.prefix.as_deref() {
        if !(1..=8).contains(&p.len())
            || !p
                .chars()
                .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        {
            e.push(FieldError::new(
                "prefix",
                "format",
                "Use 1 to 8 characters of 0-9, * and #.",
            ));
        } else if let Some(other) = numbers::id_by_prefix(conn, p).await? {
            if Some(other) != id {
                e.push(FieldError::new(
                    "prefix",
                    "duplicate",
                    "Another number already uses this prefix.",
                ));
            }
        }
    }
    check_target(conn, &mut e, "route", f.route).await?;
    validate::range(&mut e, "max_channels", f.max_channels, 0, 9999);
    validate::url(&mut e, "incoming_popup_url", &f.incoming_popup_url);
    validate::url(&mut e, "answer_popup_url", &f.answer_popup_url);
    validate::text(&mut e, "incoming_message", &f.incoming_message, 200);
    validate::text(&mut e, "outgoing_message", &f.outgoing_message, 200);
    for a in &f.agent_ids {
        if agents::get(conn, *a).await?.is_none() {
            e.push(FieldError::new(
                "agent_ids",
                "unknown",
                format!("There is no agent {a}."),
            ));
        }
    }
    if let Some(id) = id {
        for a in agents::ids_with_caller_number(conn, id).await? {
            if !f.agent_ids.contains(&a) {
                e.push(FieldError::new(
                    "agent_ids",
                    "in_use",
                    format!("Agent {a} uses this number as caller ID; change that first."),
                ));
            }
        }
    }
    ApiError::validation(e)
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<NumberQuery>,
) -> ApiResult<Json<List<Number>>> {
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let f = NumberFilter {
        number: q.number,
        name: q.name,
        prefix: q.prefix,
        route_kind: q.route_kind,
    };
    let mut c = s.store.conn().await?;
    let (items, total) = numbers::list(&mut c, &f, p).await?;
    Ok(Json(List { items, total }))
}

pub async fn create(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(input): ApiJson<NumberInput>,
) -> ApiResult<(StatusCode, Json<Number>)> {
    let mut f = NumberFields::default();
    apply(&mut f, input);
    let mut tx = s.store.begin().await?;
    validate(&mut tx, None, None, &f).await?;
    let now = now_ms();
    let id = numbers::insert(&mut tx, &f, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field(
            "number",
            "This phone number or prefix is already registered.",
        ))?;
    let item = numbers::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("phone number"))?;
    record_change(
        &mut tx,
        "number",
        &id.to_string(),
        Some(me.login_id()),
        "create",
        &item,
        &item,
        &[],
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(item)))
}

pub async fn update(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<NumberInput>,
) -> ApiResult<Json<Number>> {
    let mut tx = s.store.begin().await?;
    let before = numbers::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("phone number"))?;
    let mut f = before.fields.clone();
    apply(&mut f, input);
    validate(&mut tx, Some(id), Some(&before.fields), &f).await?;
    let now = now_ms();
    numbers::update(&mut tx, id, &f, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field(
            "prefix",
            "Another number already uses this prefix.",
        ))?;
    let after = numbers::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("phone number"))?;
    record_change(
        &mut tx,
        "number",
        &id.to_string(),
        Some(me.login_id()),
        "update",
        &before,
        &after,
        &[],
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

super::get_and_delete!(
    numbers,
    Number,
    "phone number",
    "number",
    refs = store::numbers::references
);
