//! Sessions, CSRF and the permission guard every route passes through (PERM-45).

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::ApiJson;
use crate::resources::set;
use crate::{now_ms, password, AppState};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;
use store::agents::{self, Agent};
use store::{roles, sessions, Record};
use utoipa::ToSchema;

pub const COOKIE: &str = "tsunagu_session";
/// AUTH-06: consecutive failures that lock an account.
pub const LOCK_AFTER: i64 = 5;
const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;

/// What a route requires of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No session needed (login, health).
    Public,
    /// Any logged-in user (their own profile, logout).
    LoggedIn,
    /// A logged-in user whose role grants this permission key.
    Perm(&'static str),
    /// The user named by the path's `{id}` themselves, or anyone with this permission.
    SelfOr(&'static str),
}

/// The logged-in user, put into request extensions by the guard.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub agent: Agent,
    pub role_name: String,
    pub permissions: BTreeSet<String>,
    pub csrf_token: String,
    token_hash: String,
}

impl CurrentUser {
    pub fn id(&self) -> i64 {
        self.agent.id
    }

    pub fn login_id(&self) -> &str {
        &self.agent.fields.login_id
    }

    pub fn can(&self, perm: &str) -> bool {
        self.permissions.contains(perm)
    }
}

fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

async fn load_user(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<CurrentUser>> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    load_session(state, hash_token(&token)).await
}

impl CurrentUser {
    /// The same session read again, for connections that outlive a request (the WebSocket):
    /// `None` once it has ended (logout, expiry, a locked account); permissions as they are now.
    pub async fn reload(&self, state: &AppState) -> ApiResult<Option<CurrentUser>> {
        load_session(state, self.token_hash.clone()).await
    }
}

async fn load_session(state: &AppState, token_hash: String) -> ApiResult<Option<CurrentUser>> {
    let now = now_ms();
    let mut conn = state.store.conn().await?;
    let Some(session) = sessions::get(&mut conn, &token_hash, now).await? else {
        return Ok(None);
    };
    let Some(agent) = Agent::get(&mut conn, session.agent_id).await? else {
        return Ok(None);
    };
    if agent.fields.locked {
        return Ok(None);
    }
    let role = roles::get(&mut conn, &agent.fields.role).await?;
    // Slide the expiry only when a good part of it is used, to spare a write per request.
    if session.expires_at - now < SESSION_TTL_MS / 2 {
        sessions::touch(&mut conn, &token_hash, now + SESSION_TTL_MS).await?;
    }
    let (role_name, permissions) = role
        .map(|r| (r.name, r.permissions.into_iter().collect()))
        .unwrap_or_default();
    Ok(Some(CurrentUser {
        agent,
        role_name,
        permissions,
        csrf_token: session.csrf_token,
        token_hash,
    }))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The numeric id in a path such as `/api/v1/agents/12/state`.
fn path_id(path: &str) -> Option<i64> {
    path.split('/').find_map(|seg| seg.parse().ok())
}

/// The guard wrapped around every route: authentication (401), CSRF on state-changing
/// methods (403), then the route's permission (403).
pub async fn guard(
    State((state, access)): State<(AppState, Access)>,
    mut req: Request,
    next: Next,
) -> Response {
    if access == Access::Public {
        return next.run(req).await;
    }
    let user = match load_user(&state, req.headers()).await {
        Ok(Some(u)) => u,
        Ok(None) => return ApiError::Unauthorized("Please log in.".into()).into_response(),
        Err(e) => return e.into_response(),
    };
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !constant_time_eq(sent.as_bytes(), user.csrf_token.as_bytes()) {
            return ApiError::Forbidden("Missing or invalid X-CSRF-Token header.".into())
                .into_response();
        }
    }
    let allowed = match access {
        Access::Perm(p) => user.can(p).then_some(()).ok_or(p),
        Access::SelfOr(p) => (path_id(req.uri().path()) == Some(user.id()) || user.can(p))
            .then_some(())
            .ok_or(p),
        Access::Public | Access::LoggedIn => Ok(()),
    };
    if let Err(p) = allowed {
        return ApiError::Forbidden(format!("Your role does not have the permission `{p}`."))
            .into_response();
    }
    req.extensions_mut().insert(Arc::new(user));
    let resp = next.run(req).await;
    // Calls read the configuration from memory: every successful change is reported, so the
    // next call sees it.
    if !safe && resp.status().is_success() {
        if let Some(t) = &state.telephony {
            t.config_changed();
        }
    }
    resp
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub login_id: String,
    pub password: String,
}

/// The logged-in user as the web app needs it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: Agent,
    pub role: RoleRef,
    /// Granted permission keys.
    pub permissions: Vec<String>,
    pub csrf_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleRef {
    pub id: String,
    pub name: String,
}

pub fn me_of(user: &CurrentUser) -> Me {
    Me {
        user: user.agent.clone(),
        role: RoleRef {
            id: user.agent.fields.role.clone(),
            name: user.role_name.clone(),
        },
        permissions: user.permissions.iter().cloned().collect(),
        csrf_token: user.csrf_token.clone(),
    }
}

fn bad_credentials() -> ApiError {
    ApiError::Unauthorized("The login ID or password is incorrect.".into())
}

fn locked() -> ApiError {
    ApiError::Locked(
        "This account is locked after repeated wrong passwords or by an administrator. \
         Ask an administrator to unlock it."
            .into(),
    )
}

pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let mut conn = state.store.conn().await?;
    let creds = agents::credentials_by_login(&mut conn, req.login_id.trim()).await?;
    let Some(creds) = creds else {
        // Spend the same time as a real check so that login IDs cannot be probed.
        password::verify(req.password, password::dummy_hash().to_owned()).await;
        state.metrics.login_failures.inc();
        return Err(bad_credentials());
    };
    if creds.locked {
        state.metrics.login_failures.inc();
        return Err(locked());
    }
    if !password::verify(req.password, creds.password_hash).await {
        state.metrics.login_failures.inc();
        let now_locked = agents::record_failed_login(&mut conn, creds.id, LOCK_AFTER).await?;
        if now_locked {
            tracing::warn!(login_id = %req.login_id, "account locked after repeated failures");
            return Err(locked());
        }
        return Err(bad_credentials());
    }
    agents::record_successful_login(&mut conn, creds.id).await?;
    let token = crate::token(32);
    let csrf = crate::token(32);
    let now = now_ms();
    sessions::insert(
        &mut conn,
        &hash_token(&token),
        creds.id,
        &csrf,
        now,
        now + SESSION_TTL_MS,
    )
    .await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        cookie(&state, &token, SESSION_TTL_MS / 1000)?,
    );
    let mut h = HeaderMap::new();
    h.insert(
        header::COOKIE,
        HeaderValue::from_str(&format!("{COOKIE}={token}"))
            .map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    let user = load_user(&state, &h)
        .await?
        .ok_or_else(|| ApiError::Internal("session vanished after login".into()))?;
    tracing::info!(login_id = %user.login_id(), "logged in");
    Ok((StatusCode::OK, headers, Json(me_of(&user))).into_response())
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> ApiResult<HeaderValue> {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .map_err(|e| ApiError::Internal(e.to_string()))
}

pub async fn logout(
    State(state): State<AppState>,
    Extension(user): Extension<Arc<CurrentUser>>,
) -> ApiResult<Response> {
    let mut conn = state.store.conn().await?;
    sessions::delete(&mut conn, &user.token_hash).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookie(&state, "", 0)?);
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

pub async fn me(Extension(user): Extension<Arc<CurrentUser>>) -> Json<Me> {
    Json(me_of(&user))
}

/// Personal settings the user may change about themselves (PREF-04…12).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    pub language: Option<agents::Language>,
    pub crm_auto_search: Option<bool>,
    pub incoming_popup: Option<bool>,
    pub answer_popup: Option<bool>,
    pub popup_mode: Option<agents::PopupMode>,
    pub free_desk: Option<agents::FreeDesk>,
    pub history_order: Option<agents::SortOrder>,
}

pub async fn patch_me(
    State(state): State<AppState>,
    Extension(user): Extension<Arc<CurrentUser>>,
    ApiJson(p): ApiJson<MePatch>,
) -> ApiResult<Json<Me>> {
    if !user.can("preference.update") {
        return Err(ApiError::Forbidden(
            "Your role does not have the permission `preference.update`.".into(),
        ));
    }
    let mut f = user.agent.fields.clone();
    set(&mut f.language, p.language);
    set(&mut f.crm_auto_search, p.crm_auto_search);
    set(&mut f.incoming_popup, p.incoming_popup);
    set(&mut f.answer_popup, p.answer_popup);
    set(&mut f.popup_mode, p.popup_mode);
    set(&mut f.free_desk, p.free_desk);
    set(&mut f.history_order, p.history_order);
    let mut tx = state.store.begin().await?;
    let now = now_ms();
    Agent::update(&mut tx, user.id(), &f, Some(user.login_id()), now).await?;
    let after = Agent::get(&mut tx, user.id())
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    crate::resources::record_change(
        &mut tx,
        "agent",
        &user.id().to_string(),
        Some(user.login_id()),
        "update",
        &user.agent,
        &after,
        &[],
        now,
    )
    .await?;
    tx.commit().await?;
    let mut me = me_of(&user);
    me.user = after;
    Ok(Json(me))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// Empty or absent: unchanged.
    pub new_password: Option<String>,
    /// Four digits; empty or absent: unchanged.
    pub pin: Option<String>,
}

/// PREF-02: change one's own password and/or PIN; the current password is required.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(user): Extension<Arc<CurrentUser>>,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let mut conn = state.store.conn().await?;
    let stored = agents::password_hash(&mut conn, user.id())
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    drop(conn);
    let new_password = req.new_password.filter(|p| !p.is_empty());
    let pin = req.pin.filter(|p| !p.is_empty());
    let mut errors = Vec::new();
    if let Some(e) = new_password
        .as_deref()
        .and_then(|p| password::check_policy("new_password", p))
    {
        errors.push(e);
    }
    if let Some(p) = pin.as_deref() {
        errors.extend(crate::validate::pin("pin", p));
    }
    if new_password.is_none() && pin.is_none() {
        errors.push(FieldError::new(
            "new_password",
            "required",
            "Enter a new password or a new PIN.",
        ));
    }
    ApiError::validation(errors)?;
    if !password::verify(req.current_password, stored).await {
        return Err(ApiError::Validation(vec![FieldError::new(
            "current_password",
            "wrong_password",
            "The current password is incorrect.",
        )]));
    }
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let mut secrets = Vec::new();
    if let Some(p) = new_password {
        let h = password::hash(p).await?;
        agents::set_password(&mut tx, user.id(), &h, now).await?;
        secrets.push("password");
    }
    if let Some(p) = pin {
        let mut f = user.agent.fields.clone();
        f.pin = Some(p);
        Agent::update(&mut tx, user.id(), &f, Some(user.login_id()), now).await?;
        secrets.push("pin");
    }
    let after = Agent::get(&mut tx, user.id())
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    crate::resources::record_change(
        &mut tx,
        "agent",
        &user.id().to_string(),
        Some(user.login_id()),
        "update",
        &user.agent,
        &after,
        &secrets,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
