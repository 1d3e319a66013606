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
use std::time::{Duration, Instant};
use store::agents::{self, Agent};
use store::{roles, sessions, Record};
use utoipa::ToSchema;

pub const COOKIE: &str = "tsunagu_session";
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

/// A locked account; `release_in` when the lock lifts by itself.
fn locked(release_in: Option<Duration>) -> ApiError {
    match release_in {
        Some(d) => ApiError::Locked(format!(
            "This account is locked after repeated wrong passwords. It unlocks by itself in \
             {} minutes, or an administrator can unlock it now.",
            d.as_secs().div_ceil(60).max(1)
        )),
        None => ApiError::Locked(
            "This account is locked after repeated wrong passwords or by an administrator. \
             Ask an administrator to unlock it."
                .into(),
        ),
    }
}

fn throttled(wait: Duration, whose: &str) -> ApiError {
    ApiError::TooManyRequests {
        retry_after: wait,
        message: {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let unit = if secs == 1 { "second" } else { "seconds" };
            format!("Too many failed logins {whose}. Try again in {secs} {unit}.")
        },
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The administrator role whose last unlocked holder is never locked by failures.
const ADMIN_ROLE: &str = "admin";

/// Lifts an automatic lock whose time is up. Returns the account as it is now.
async fn release_if_due(
    state: &AppState,
    conn: &mut store::Conn,
    creds: agents::Credentials,
    now: i64,
) -> ApiResult<agents::Credentials> {
    let (Some(locked_at), Some(after)) = (creds.auto_locked_at, state.config.login.release_after)
    else {
        return Ok(creds);
    };
    if !creds.locked || now < locked_at.saturating_add(millis(after)) {
        return Ok(creds);
    }
    release(conn, &creds, now).await?;
    Ok(agents::Credentials {
        locked: false,
        failed_logins: 0,
        last_failed_login_at: None,
        auto_locked_at: None,
        ..creds
    })
}

async fn release(conn: &mut store::Conn, creds: &agents::Credentials, now: i64) -> ApiResult<()> {
    if agents::unlock(conn, creds.id).await? {
        tracing::info!(login_id = %creds.login_id, "automatic account lock expired");
        crate::events::record(
            conn,
            now,
            crate::events::ACCOUNT_UNLOCKED,
            Some(creds.id),
            serde_json::json!({"login_id": creds.login_id, "reason": "expired"}),
        )
        .await?;
    }
    Ok(())
}

/// Lifts every automatic lock whose time is up (run every minute, so that the lists show the
/// accounts unlocked and the event is written on time even if nobody tries to log in).
pub async fn release_expired_locks(state: &AppState) -> ApiResult<usize> {
    let Some(after) = state.config.login.release_after else {
        return Ok(0);
    };
    let now = now_ms();
    let mut conn = state.store.conn().await?;
    let due = agents::auto_locked_before(&mut conn, now.saturating_sub(millis(after))).await?;
    for creds in &due {
        release(&mut conn, creds, now).await?;
    }
    Ok(due.len())
}

/// The console's `tsunagu admin unlock`: unlocks the account and clears its failures, so that
/// an installation whose administrators are all locked out can be recovered. Returns whether
/// it was locked; `None` when there is no such account.
pub async fn unlock_from_console(store: &store::Store, login_id: &str) -> ApiResult<Option<bool>> {
    let mut tx = store.begin().await?;
    let Some(creds) = agents::credentials_by_login(&mut tx, login_id).await? else {
        return Ok(None);
    };
    let was_locked = agents::unlock(&mut tx, creds.id).await?;
    if was_locked {
        crate::events::record(
            &mut tx,
            now_ms(),
            crate::events::ACCOUNT_UNLOCKED,
            Some(creds.id),
            serde_json::json!({"login_id": creds.login_id, "reason": "console"}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Some(was_locked))
}

/// AUTH-03/06: log in. Failures are throttled per source address and per account with
/// growing delays (429 + Retry-After) before the lock; an automatic lock lifts after
/// `release_after`; the last unlocked administrator gets the delays but never the lock.
pub async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<axum::extract::ConnectInfo<crate::PeerAddr>>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let policy = state.config.login;
    let source = peer.map(
        |Extension(axum::extract::ConnectInfo(crate::PeerAddr(a)))| {
            crate::client_addr::client_ip(a.ip(), &headers, &state.config.trusted_proxies)
        },
    );
    let clock = Instant::now();
    if let Some(wait) = source.and_then(|ip| state.login_sources.wait(ip, clock)) {
        return Err(throttled(wait, "from your address"));
    }
    let source_failed = || {
        crate::metrics::login_failed();
        if let Some(ip) = source {
            state.login_sources.failed(ip, clock);
        }
    };
    let now = now_ms();
    let mut conn = state.store.conn().await?;
    let creds = agents::credentials_by_login(&mut conn, req.login_id.trim()).await?;
    let Some(creds) = creds else {
        // Spend the same time as a real check so that login IDs cannot be probed.
        password::verify(req.password, password::dummy_hash().to_owned()).await;
        source_failed();
        return Err(bad_credentials());
    };
    let creds = release_if_due(&state, &mut conn, creds, now).await?;
    if creds.locked {
        source_failed();
        let release_in = match (creds.auto_locked_at, policy.release_after) {
            (Some(at), Some(after)) => Some(Duration::from_millis(
                u64::try_from(at.saturating_add(millis(after)) - now).unwrap_or(0),
            )),
            _ => None,
        };
        return Err(locked(release_in));
    }
    if let Some(wait) = crate::login_throttle::account_wait(
        &policy.account,
        creds.failed_logins,
        creds.last_failed_login_at,
        now,
    ) {
        return Err(throttled(wait, "for this account"));
    }
    if !password::verify(req.password, creds.password_hash.clone()).await {
        source_failed();
        let last_admin = creds.role == ADMIN_ROLE
            && agents::count_active_with_role(&mut conn, ADMIN_ROLE, creds.id).await? == 0;
        let lock_after = (!last_admin).then_some(i64::from(policy.lock_after));
        let after = agents::record_failed_login(&mut conn, creds.id, now, lock_after).await?;
        if after.locked {
            tracing::warn!(login_id = %creds.login_id, failures = after.failed_logins, "account locked after repeated failures");
            crate::events::record(
                &mut conn,
                now,
                crate::events::ACCOUNT_LOCKED,
                Some(creds.id),
                serde_json::json!({
                    "login_id": creds.login_id,
                    "reason": "failed_logins",
                    "failed_logins": after.failed_logins,
                    "source": source.map(|ip| ip.to_string()),
                }),
            )
            .await?;
            return Err(locked(policy.release_after));
        }
        if last_admin && after.failed_logins >= i64::from(policy.lock_after) {
            tracing::warn!(login_id = %creds.login_id, failures = after.failed_logins,
                "repeated failed logins on the last unlocked administrator: delayed, not locked");
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
