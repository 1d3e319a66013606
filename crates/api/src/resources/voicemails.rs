//! Voicemail history (VM-01…05, VOICE-07): the messages callers left, to search, play and
//! delete in bulk. Rows are written by the telephony edge through the journal.

use super::{int_filter, page, List, Paging};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, IdPath};
use crate::resources::calls::recording_path;
use crate::{now_ms, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::voicemails::{Voicemail, VoicemailQuery};
use tower::ServiceExt;
use utoipa::ToSchema;

#[derive(Debug, Deserialize)]
pub struct VoicemailParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub party: Option<String>,
    pub voice_file_id: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<VoicemailParams>,
) -> ApiResult<Json<List<Voicemail>>> {
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let query = VoicemailQuery {
        from: int_filter("from", q.from.as_deref())?,
        to: int_filter("to", q.to.as_deref())?,
        party: q.party.filter(|p| !p.trim().is_empty()),
        voice_file_id: int_filter("voice_file_id", q.voice_file_id.as_deref())?,
        // One more than the page: whether there is a next one.
        limit: p.offset + p.limit + 1,
    };
    let all = s.store.voicemails(&query).await?;
    let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
    let items = all
        .into_iter()
        .skip(usize::try_from(p.offset).unwrap_or(0))
        .take(usize::try_from(p.limit).unwrap_or(0))
        .collect();
    Ok(Json(List { items, total }))
}

/// The message as a mono WAV (ranges supported).
pub async fn audio(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    IdPath(id): IdPath,
    req: Request,
) -> ApiResult<Response> {
    let vm = s
        .store
        .voicemail(id)
        .await?
        .ok_or_else(|| ApiError::not_found("voicemail"))?;
    let path = recording_path(&s.config.voicemail_dir, &vm.file)
        .ok_or_else(|| ApiError::Internal(format!("bad voicemail path {:?}", vm.file)))?;
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        tracing::warn!(id, path = %path.display(), "voicemail missing on disk");
        return Err(ApiError::NotFound(
            "The message's file is missing on the server.".into(),
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
        let mut c = s.store.conn().await?;
        let e = store::journal::Event::new(
            now_ms(),
            "voicemail.played",
            serde_json::json!({ "voicemail_id": id, "by": me.login_id() }),
        )
        .call(vm.call_id)
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
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"voicemail-{id}.wav\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// Body of POST /voicemails/delete (VM-03).
#[derive(Debug, Deserialize, ToSchema)]
pub struct VoicemailDelete {
    /// The messages to delete (1 to 1000 at once).
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoicemailDeleted {
    /// How many messages were deleted (ids that did not exist are not counted).
    pub deleted: i64,
}

pub async fn delete(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(body): ApiJson<VoicemailDelete>,
) -> ApiResult<Json<VoicemailDeleted>> {
    if let Some(bad) = body.ids.iter().find(|&&id| id < 1) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "ids",
            "range",
            format!("There is no message {bad}: ids start from 1."),
        )]));
    }
    if body.ids.is_empty() || body.ids.len() > 1000 {
        return Err(ApiError::BadRequest(FieldError::new(
            "ids",
            "range",
            "Choose from 1 to 1000 messages to delete.",
        )));
    }
    let gone = s.store.delete_voicemails(&body.ids).await?;
    for vm in &gone {
        if let Some(path) = recording_path(&s.config.voicemail_dir, &vm.file) {
            if let Err(e) = tokio::fs::remove_file(&path).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(id = vm.id, path = %path.display(), error = %e, "voicemail file not deleted");
                }
            }
        }
    }
    let mut c = s.store.conn().await?;
    let e = store::journal::Event::new(
        now_ms(),
        "voicemail.deleted",
        serde_json::json!({
            "ids": gone.iter().map(|v| v.id).collect::<Vec<_>>(),
            "by": me.login_id(),
        }),
    )
    .agent(Some(me.id()));
    store::journal::append_in(&mut c, &e).await?;
    Ok(Json(VoicemailDeleted {
        deleted: i64::try_from(gone.len()).unwrap_or(i64::MAX),
    }))
}
