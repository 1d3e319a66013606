//! System-wide settings: the time zone, business day and recording policy
//! (`/api/v1/settings/system`) and the AWS S3 integration (`/api/v1/settings/s3`, S3-01…03).

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::ApiJson;
use crate::s3::{self, S3Settings};
use crate::{now_ms, AppState};
use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::system::{SystemSettings, MAX_RETENTION_DAYS};
use utoipa::ToSchema;

pub async fn get_system(State(s): State<AppState>) -> ApiResult<Json<SystemSettings>> {
    Ok(Json(s.store.system_settings().await?))
}

pub async fn put_system(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(input): ApiJson<SystemSettings>,
) -> ApiResult<Json<SystemSettings>> {
    let mut errors = Vec::new();
    if let Err((field, e)) = input.schedule() {
        errors.push(FieldError::new(field, "format", e.to_string()));
    }
    if input.recording_retention_days > MAX_RETENTION_DAYS {
        errors.push(FieldError::new(
            "recording_retention_days",
            "range",
            format!("Keep recordings from 0 (for ever) to {MAX_RETENTION_DAYS} days."),
        ));
    }
    ApiError::validation(errors)?;
    s.store.set_system_settings(&input).await?;
    // The guard tells telephony (recording, time zone apply to the next call).
    changed(&s, &me, "system").await?;
    s.archive.wake();
    Ok(Json(input))
}

/// An audit event: who changed which settings.
pub(crate) async fn changed(s: &AppState, me: &CurrentUser, which: &str) -> ApiResult<()> {
    let mut c = s.store.conn().await?;
    let e = store::journal::Event::new(
        now_ms(),
        "settings.changed",
        serde_json::json!({ "settings": which, "by": me.login_id() }),
    )
    .agent(Some(me.id()));
    store::journal::append_in(&mut c, &e).await?;
    Ok(())
}

/// The S3 settings as the API shows them: everything but the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct S3SettingsView {
    pub enabled: bool,
    pub bucket: String,
    pub region: String,
    /// For S3-compatible stores; empty: AWS.
    pub endpoint: String,
    pub access_key_id: String,
    /// Prefix of the object keys, e.g. `recordings/`.
    pub prefix: String,
    /// Whether a secret access key is stored (it is never returned).
    pub secret_set: bool,
}

impl From<&S3Settings> for S3SettingsView {
    fn from(v: &S3Settings) -> Self {
        S3SettingsView {
            enabled: v.enabled,
            bucket: v.bucket.clone(),
            region: v.region.clone(),
            endpoint: v.endpoint.clone(),
            access_key_id: v.access_key_id.clone(),
            prefix: v.prefix.clone(),
            secret_set: !v.secret_access_key.is_empty(),
        }
    }
}

/// Body of PUT /settings/s3 and POST /settings/s3/test.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct S3SettingsInput {
    pub enabled: bool,
    pub bucket: String,
    pub region: String,
    #[serde(default)]
    pub endpoint: String,
    pub access_key_id: String,
    /// The secret access key; leave it out (or null) to keep the stored one.
    #[serde(default)]
    pub secret_access_key: Option<String>,
    #[serde(default)]
    pub prefix: String,
}

/// The settings `input` makes of the stored ones, or what is wrong with them.
fn merge(old: &S3Settings, input: S3SettingsInput) -> ApiResult<S3Settings> {
    let new = S3Settings {
        enabled: input.enabled,
        bucket: input.bucket.trim().to_string(),
        region: input.region.trim().to_string(),
        endpoint: input.endpoint.trim().trim_end_matches('/').to_string(),
        access_key_id: input.access_key_id.trim().to_string(),
        secret_access_key: input
            .secret_access_key
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| old.secret_access_key.clone()),
        prefix: input.prefix.trim().trim_start_matches('/').to_string(),
    };
    ApiError::validation(new.problems())?;
    Ok(new)
}

pub async fn get_s3(State(s): State<AppState>) -> ApiResult<Json<S3SettingsView>> {
    Ok(Json((&s3::load(&s.store).await?).into()))
}

pub async fn put_s3(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(input): ApiJson<S3SettingsInput>,
) -> ApiResult<Json<S3SettingsView>> {
    let new = merge(&s3::load(&s.store).await?, input)?;
    s3::save(&s.store, &new).await?;
    changed(&s, &me, "s3").await?;
    s.archive.wake();
    Ok(Json((&new).into()))
}

/// What a connection test found.
#[derive(Debug, Serialize, ToSchema)]
pub struct S3TestResult {
    pub ok: bool,
    /// The store's own error when the test failed.
    pub error: Option<String>,
}

/// Writes and deletes a small object with the given settings (the stored secret when none is
/// given), so that the admin sees the real error before saving.
pub async fn test_s3(
    State(s): State<AppState>,
    ApiJson(input): ApiJson<S3SettingsInput>,
) -> ApiResult<Json<S3TestResult>> {
    let mut cfg = merge(&s3::load(&s.store).await?, input)?;
    // Testing does not need the switch on.
    cfg.enabled = true;
    ApiError::validation(cfg.problems())?;
    Ok(Json(match s3::test(&cfg).await {
        Ok(()) => S3TestResult {
            ok: true,
            error: None,
        },
        Err(e) => S3TestResult {
            ok: false,
            error: Some(e),
        },
    }))
}
