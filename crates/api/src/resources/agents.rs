use super::{nullable, page, record_change, refuse_if_referenced, unique_to_field, List, Paging};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, IdPath};
use crate::{now_ms, password, validate, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use std::sync::Arc;
use store::agents::{
    self, Agent, AgentFields, AgentFilter, FreeDesk, Language, PopupMode, SortOrder,
};
use store::{numbers, roles, sessions, Conn};
use utoipa::ToSchema;

/// Body of POST and PATCH /agents. On create `login_id`, `name`, `nickname` and `password`
/// are required; on update only the fields sent change.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    pub login_id: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub extension: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub caller_number_id: Option<Option<i64>>,
    pub number_ids: Option<Vec<i64>>,
    pub role: Option<String>,
    pub locked: Option<bool>,
    pub language: Option<Language>,
    pub crm_auto_search: Option<bool>,
    pub incoming_popup: Option<bool>,
    pub answer_popup: Option<bool>,
    pub popup_mode: Option<PopupMode>,
    pub free_desk: Option<FreeDesk>,
    pub history_order: Option<SortOrder>,
    /// Write-only. Empty means unchanged.
    pub password: Option<String>,
    /// Write-only, 4 digits; null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub pin: Option<Option<String>>,
}

#[derive(Debug, Deserialize)]
pub struct AgentQuery {
    pub login_id: Option<String>,
    pub name: Option<String>,
    pub extension: Option<String>,
    pub role: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

fn apply(f: &mut AgentFields, i: AgentInput) -> Option<String> {
    if let Some(v) = i.login_id {
        f.login_id = v.trim().to_owned();
    }
    if let Some(v) = i.name {
        f.name = v.trim().to_owned();
    }
    if let Some(v) = i.nickname {
        f.nickname = v.trim().to_owned();
    }
    if let Some(v) = i.extension {
        f.extension = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    }
    if let Some(v) = i.caller_number_id {
        f.caller_number_id = v;
    }
    if let Some(v) = i.number_ids {
        f.number_ids = v;
    }
    if let Some(v) = i.role {
        f.role = v;
    }
    if let Some(v) = i.locked {
        f.locked = v;
    }
    if let Some(v) = i.language {
        f.language = v;
    }
    if let Some(v) = i.crm_auto_search {
        f.crm_auto_search = v;
    }
    if let Some(v) = i.incoming_popup {
        f.incoming_popup = v;
    }
    if let Some(v) = i.answer_popup {
        f.answer_popup = v;
    }
    if let Some(v) = i.popup_mode {
        f.popup_mode = v;
    }
    if let Some(v) = i.free_desk {
        f.free_desk = v;
    }
    if let Some(v) = i.history_order {
        f.history_order = v;
    }
    if let Some(v) = i.pin {
        f.pin = v.filter(|p| !p.is_empty());
    }
    i.password.filter(|p| !p.is_empty())
}

async fn validate(
    conn: &mut Conn,
    id: Option<i64>,
    f: &AgentFields,
    password: Option<&str>,
) -> ApiResult<()> {
    let mut e = Vec::new();
    validate::login_id(&mut e, "login_id", &f.login_id);
    if e.is_empty() {
        if let Some(other) = agents::id_by_login(conn, &f.login_id).await? {
            if Some(other) != id {
                e.push(FieldError::new(
                    "login_id",
                    "duplicate",
                    "This login ID is already in use.",
                ));
            }
        }
    }
    validate::required_text(&mut e, "name", &f.name, 64);
    validate::required_text(&mut e, "nickname", &f.nickname, 32);
    validate::extension(
        conn,
        &mut e,
        "extension",
        f.extension.as_deref(),
        ("agent", id),
    )
    .await?;
    match password {
        Some(p) => e.extend(password::check_policy("password", p)),
        None if id.is_none() => e.push(FieldError::new(
            "password",
            "required",
            "This field is required.",
        )),
        None => {}
    }
    if let Some(p) = f.pin.as_deref() {
        e.extend(validate::pin("pin", p));
    }
    if roles::get(conn, &f.role).await?.is_none() {
        e.push(FieldError::new(
            "role",
            "unknown",
            format!("There is no role `{}`.", f.role),
        ));
    }
    if let Some(n) = f.caller_number_id {
        if !f.number_ids.contains(&n) {
            e.push(FieldError::new(
                "caller_number_id",
                "not_offered",
                "The caller number must be one of the numbers offered to this agent.",
            ));
        } else if numbers::get(conn, n).await?.is_none() {
            e.push(FieldError::new(
                "caller_number_id",
                "unknown",
                format!("There is no phone number {n}."),
            ));
        }
    }
    for n in &f.number_ids {
        if numbers::get(conn, *n).await?.is_none() {
            e.push(FieldError::new(
                "number_ids",
                "unknown",
                format!("There is no phone number {n}."),
            ));
        }
    }
    let mut sorted = f.number_ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != f.number_ids.len() {
        e.push(FieldError::new(
            "number_ids",
            "duplicate",
            "A number is listed twice.",
        ));
    }
    ApiError::validation(e)
}

/// An installation must keep at least one administrator who can log in.
async fn keep_an_admin(
    conn: &mut Conn,
    id: i64,
    before: &AgentFields,
    after: Option<&AgentFields>,
) -> ApiResult<()> {
    let was_admin = before.role == "admin" && !before.locked;
    let stays_admin = after.is_some_and(|a| a.role == "admin" && !a.locked);
    if was_admin && !stays_admin && agents::count_active_with_role(conn, "admin", id).await? == 0 {
        return Err(ApiError::Conflict(vec![FieldError::general(
            "last_admin",
            "This is the last unlocked system administrator; create or unlock another one first.",
        )]));
    }
    Ok(())
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<AgentQuery>,
) -> ApiResult<Json<List<Agent>>> {
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let f = AgentFilter {
        login_id: q.login_id,
        name: q.name,
        extension: q.extension,
        role: q.role,
    };
    let mut c = s.store.conn().await?;
    let (items, total) = agents::list(&mut c, &f, p).await?;
    Ok(Json(List { items, total }))
}

pub async fn get(State(s): State<AppState>, IdPath(id): IdPath) -> ApiResult<Json<Agent>> {
    let mut c = s.store.conn().await?;
    agents::get(&mut c, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("agent"))
}

pub async fn create(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(input): ApiJson<AgentInput>,
) -> ApiResult<(StatusCode, Json<Agent>)> {
    let mut f = AgentFields {
        role: "agent".into(),
        ..Default::default()
    };
    let pw = apply(&mut f, input);
    let mut tx = s.store.begin().await?;
    validate(&mut tx, None, &f, pw.as_deref()).await?;
    let hash = password::hash(pw.unwrap_or_default()).await?;
    let now = now_ms();
    let id = agents::insert(&mut tx, &f, &hash, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field(
            "login_id",
            "This login ID or extension is already in use.",
        ))?;
    let item = agents::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    record_change(
        &mut tx,
        "agent",
        &id.to_string(),
        Some(me.login_id()),
        "create",
        &item,
        &item,
        &["password"],
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
    ApiJson(input): ApiJson<AgentInput>,
) -> ApiResult<Json<Agent>> {
    let mut tx = s.store.begin().await?;
    let before = agents::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let mut f = before.fields.clone();
    let pin_sent = input.pin.is_some();
    let pw = apply(&mut f, input);
    validate(&mut tx, Some(id), &f, pw.as_deref()).await?;
    keep_an_admin(&mut tx, id, &before.fields, Some(&f)).await?;
    let now = now_ms();
    agents::update(&mut tx, id, &f, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field(
            "login_id",
            "This login ID or extension is already in use.",
        ))?;
    let mut secrets = Vec::new();
    if let Some(p) = pw {
        agents::set_password(&mut tx, id, &password::hash(p).await?, now).await?;
        secrets.push("password");
    }
    if pin_sent && f.pin != before.fields.pin {
        secrets.push("pin");
    }
    // A locked account or a new password ends the agent's other sessions.
    if (f.locked && !before.fields.locked) || (secrets.contains(&"password") && id != me.id()) {
        sessions::delete_for_agent(&mut tx, id).await?;
    }
    if f.locked != before.fields.locked {
        let kind = if f.locked {
            crate::events::ACCOUNT_LOCKED
        } else {
            crate::events::ACCOUNT_UNLOCKED
        };
        crate::events::record(
            &mut tx,
            now,
            kind,
            Some(id),
            serde_json::json!({
                "login_id": f.login_id,
                "reason": "administrator",
                "by": me.login_id(),
            }),
        )
        .await?;
    }
    let after = agents::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    record_change(
        &mut tx,
        "agent",
        &id.to_string(),
        Some(me.login_id()),
        "update",
        &before,
        &after,
        &secrets,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

pub async fn delete(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    if id == me.id() {
        return Err(ApiError::Conflict(vec![FieldError::general(
            "self",
            "You cannot delete your own account.",
        )]));
    }
    let mut tx = s.store.begin().await?;
    let before = agents::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    refuse_if_referenced("agent", agents::references(&mut tx, id).await?)?;
    keep_an_admin(&mut tx, id, &before.fields, None).await?;
    agents::delete(&mut tx, id).await?;
    record_change(
        &mut tx,
        "agent",
        &id.to_string(),
        Some(me.login_id()),
        "delete",
        &before,
        &before,
        &[],
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
