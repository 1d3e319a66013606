//! Call history (HIST-*): read-only; rows are written by the telephony edge through
//! `store::calls`.

use super::{int_filter, page, List, Paging};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, IdPath};
use crate::telephony::RecordingControl;
use crate::{now_ms, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::calls::{self, CallFilter, CallFilterChoices, CallKind, CallRecord};
use store::recordings::RecordingState;
use tower::ServiceExt;
use utoipa::ToSchema;

/// Query of GET /calls; every value is text so that a bad one gets a 400 naming it.
#[derive(Debug, Deserialize)]
pub struct CallQuery {
    /// Calls started at or after this time (epoch ms).
    pub from: Option<String>,
    /// Calls started before this time (epoch ms, exclusive).
    pub to: Option<String>,
    pub party: Option<String>,
    pub number: Option<String>,
    pub kind: Option<String>,
    pub agent_id: Option<String>,
    pub group_id: Option<String>,
    pub min_duration: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

/// Supervisors see every call; a user without the SV tab sees only the calls they made or
/// answered (an agent's "own call history").
fn sees_all(me: &CurrentUser) -> bool {
    me.can("tab.sv")
}

pub async fn list(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiQuery(q): ApiQuery<CallQuery>,
) -> ApiResult<Json<List<CallRecord>>> {
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(k.parse::<CallKind>().map_err(|_| {
            ApiError::BadRequest(FieldError::new(
                "kind",
                "type",
                "`kind` must be one of incoming, incoming_missed, outgoing, outgoing_unanswered.",
            ))
        })?),
    };
    let min_duration = int_filter("min_duration", q.min_duration.as_deref())?;
    if min_duration.is_some_and(|d| d < 0) {
        return Err(ApiError::BadRequest(FieldError::new(
            "min_duration",
            "range",
            "`min_duration` must not be negative.",
        )));
    }
    let mut f = CallFilter {
        from: int_filter("from", q.from.as_deref())?,
        to: int_filter("to", q.to.as_deref())?,
        party: q.party,
        number: q.number,
        kind,
        agent_id: int_filter("agent_id", q.agent_id.as_deref())?,
        group_id: int_filter("group_id", q.group_id.as_deref())?,
        min_duration,
    };
    if !sees_all(&me) {
        if f.agent_id.is_some_and(|a| a != me.id()) {
            return Ok(Json(List {
                items: vec![],
                total: 0,
            }));
        }
        f.agent_id = Some(me.id());
    }
    let mut c = s.store.conn().await?;
    let (items, total) = calls::list(&mut c, &f, p).await?;
    Ok(Json(List { items, total }))
}

pub async fn get(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    IdPath(id): IdPath,
) -> ApiResult<Json<CallRecord>> {
    let mut c = s.store.conn().await?;
    calls::get_by_id(&mut c, id)
        .await?
        .filter(|r| {
            sees_all(&me) || r.agent_id == Some(me.id()) || r.peer_agent_id == Some(me.id())
        })
        .map(Json)
        .ok_or_else(|| ApiError::not_found("call"))
}

/// The agents and groups offered by the search form.
pub async fn choices(State(s): State<AppState>) -> ApiResult<Json<CallFilterChoices>> {
    let mut c = s.store.conn().await?;
    Ok(Json(calls::filter_choices(&mut c).await?))
}

/// Query of GET /calls/{id}/recording.
#[derive(Debug, Deserialize)]
pub struct RecordingQuery {
    /// `true`: as an attachment (download) instead of inline (the play button).
    pub download: Option<String>,
}

/// HIST-04, HIST-07, PERM-26: the call's recording, for users with the call-history voice
/// permission who may see the call. Ranges are served, so the audio element can seek; the
/// first request of a play or a download is an event naming who listened.
pub async fn recording(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<RecordingQuery>,
    req: Request,
) -> ApiResult<Response> {
    let download = match q.download.as_deref() {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::BadRequest(FieldError::new(
                "download",
                "type",
                "`download` must be true or false.",
            )))
        }
    };
    visible_call(&s, &me, id).await?;
    let rec = s
        .store
        .recording(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("This call was not recorded.".into()))?;
    if rec.purged_at.is_some() {
        return Err(ApiError::NotFound(
            "The recording was deleted after its retention period; it is in the daily archive."
                .into(),
        ));
    }
    if rec.state == RecordingState::Recording {
        return Err(ApiError::Conflict(vec![FieldError::new(
            "state",
            "in_progress",
            "The call is still being recorded.",
        )]));
    }
    let path = recording_path(&s.config.recordings_dir, &rec.file)
        .ok_or_else(|| ApiError::Internal(format!("bad recording path {:?}", rec.file)))?;
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        tracing::warn!(id, path = %path.display(), "recording missing on disk");
        return Err(ApiError::NotFound(
            "The recording file is missing on the server.".into(),
        ));
    }
    let first = req
        .headers()
        .get(header::RANGE)
        .and_then(|r| r.to_str().ok())
        .is_none_or(|r| r.trim() == "bytes=0-");
    let res = tower_http::services::ServeFile::new(&path)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if first && res.status().is_success() {
        let kind = if download {
            "recording.downloaded"
        } else {
            "recording.played"
        };
        let mut c = s.store.conn().await?;
        let e =
            store::journal::Event::new(now_ms(), kind, serde_json::json!({ "by": me.login_id() }))
                .call(id)
                .agent(Some(me.id()));
        store::journal::append_in(&mut c, &e).await?;
    }
    let mut res = res.map(Body::new);
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let disposition = if download {
        format!("attachment; filename=\"call-{id}.wav\"")
    } else {
        format!("inline; filename=\"call-{id}.wav\"")
    };
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// The call `id` if `me` may see it (their own, or everyone's with the SV tab), else 404.
async fn visible_call(s: &AppState, me: &CurrentUser, id: i64) -> ApiResult<CallRecord> {
    let mut c = s.store.conn().await?;
    calls::get_by_id(&mut c, id)
        .await?
        .filter(|r| sees_all(me) || r.agent_id == Some(me.id()) || r.peer_agent_id == Some(me.id()))
        .ok_or_else(|| ApiError::not_found("call"))
}

/// A recording's file below the recordings folder; `None` for a path that would leave it.
pub(crate) fn recording_path(dir: &Path, file: &str) -> Option<PathBuf> {
    let rel = Path::new(file);
    rel.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
        .then(|| dir.join(rel))
}

/// Body of PUT /calls/{id}/recording/pause.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecordingPause {
    /// True pauses the recording (silence in the file), false resumes it.
    pub paused: bool,
}

/// REC: the agent on the call pauses the recording while something private is said (a card
/// number) and resumes it; a supervisor who sees the call may too.
pub async fn pause_recording(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<RecordingPause>,
) -> ApiResult<StatusCode> {
    let call = visible_call(&s, &me, id).await?;
    if !call.in_progress {
        return Err(ApiError::Conflict(vec![FieldError::new(
            "id",
            "ended",
            "The call has ended.",
        )]));
    }
    let t = s
        .telephony
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("Telephony is not running.".into()))?;
    match t.pause_recording(id, body.paused, me.id()).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(RecordingControl::NoSuchCall) => Err(ApiError::Conflict(vec![FieldError::new(
            "id",
            "not_here",
            "The call is not in progress on this server.",
        )])),
        Err(RecordingControl::NotRecording) => Err(ApiError::Conflict(vec![FieldError::new(
            "id",
            "not_recorded",
            "The call is not being recorded.",
        )])),
    }
}
