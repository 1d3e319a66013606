use super::{page, record_change, unique_to_field, List, Paging};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, IdPath};
use crate::{now_ms, validate, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use std::sync::Arc;
use store::agent_statuses::{self, AgentStatus, AgentStatusFields, AgentStatusFilter};
use store::Conn;
use utoipa::ToSchema;

/// Body of POST and PATCH /agent-statuses.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentStatusInput {
    pub name: Option<String>,
    pub icon: Option<String>,
    pub color_fg: Option<String>,
    pub color_bg: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AgentStatusQuery {
    pub name: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

fn apply(f: &mut AgentStatusFields, i: AgentStatusInput) {
    if let Some(v) = i.name {
        f.name = v.trim().to_owned();
    }
    if let Some(v) = i.icon {
        f.icon = v.trim().to_owned();
    }
    if let Some(v) = i.color_fg {
        f.color_fg = v.trim().to_owned();
    }
    if let Some(v) = i.color_bg {
        f.color_bg = v.trim().to_owned();
    }
}

async fn validate(conn: &mut Conn, id: Option<i64>, f: &AgentStatusFields) -> ApiResult<()> {
    let mut e = Vec::new();
    validate::required_text(&mut e, "name", &f.name, 32);
    if let Some(other) = agent_statuses::id_by_name(conn, &f.name).await? {
        if Some(other) != id {
            e.push(FieldError::new(
                "name",
                "duplicate",
                "An agent status with this name exists.",
            ));
        }
    }
    validate::text(&mut e, "icon", &f.icon, 32);
    validate::color(&mut e, "color_fg", &f.color_fg);
    validate::color(&mut e, "color_bg", &f.color_bg);
    ApiError::validation(e)
}

/// Every agent status with its name, icon and colours, for anyone logged in: agents choose
/// them in the header's dropdown and supervisors in the realtime screen (STATUS-03, RT-10),
/// while editing them stays with the administrators.
pub async fn choices(State(s): State<AppState>) -> ApiResult<Json<List<AgentStatus>>> {
    let mut c = s.store.conn().await?;
    let (items, total) = agent_statuses::list(
        &mut c,
        &AgentStatusFilter { name: None },
        store::Page {
            offset: 0,
            limit: 500,
        },
    )
    .await?;
    Ok(Json(List { items, total }))
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<AgentStatusQuery>,
) -> ApiResult<Json<List<AgentStatus>>> {
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let mut c = s.store.conn().await?;
    let (items, total) =
        agent_statuses::list(&mut c, &AgentStatusFilter { name: q.name }, p).await?;
    Ok(Json(List { items, total }))
}

pub async fn create(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(input): ApiJson<AgentStatusInput>,
) -> ApiResult<(StatusCode, Json<AgentStatus>)> {
    // AST-02 example colours.
    let mut f = AgentStatusFields {
        color_fg: "#ffffff".into(),
        color_bg: "#ff0000".into(),
        ..Default::default()
    };
    apply(&mut f, input);
    let mut tx = s.store.begin().await?;
    validate(&mut tx, None, &f).await?;
    let now = now_ms();
    let id = agent_statuses::insert(&mut tx, &f, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field(
            "name",
            "An agent status with this name exists.",
        ))?;
    let item = agent_statuses::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent status"))?;
    record_change(
        &mut tx,
        "agent_status",
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
    ApiJson(input): ApiJson<AgentStatusInput>,
) -> ApiResult<Json<AgentStatus>> {
    let mut tx = s.store.begin().await?;
    let before = agent_statuses::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent status"))?;
    let mut f = before.fields.clone();
    apply(&mut f, input);
    validate(&mut tx, Some(id), &f).await?;
    let now = now_ms();
    agent_statuses::update(&mut tx, id, &f, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field(
            "name",
            "An agent status with this name exists.",
        ))?;
    let after = agent_statuses::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent status"))?;
    record_change(
        &mut tx,
        "agent_status",
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
    agent_statuses,
    AgentStatus,
    "agent status",
    "agent_status",
    refs = store::agent_statuses::references
);
