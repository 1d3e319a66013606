//! Call history (HIST-*): read-only; rows are written by the telephony edge through
//! `store::calls`.

use super::{int_filter, page, List, Paging};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiQuery, IdPath};
use crate::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use std::sync::Arc;
use store::calls::{self, CallFilter, CallFilterChoices, CallKind, CallRecord};

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
        .filter(|r| sees_all(&me) || r.agent_id == Some(me.id()))
        .map(Json)
        .ok_or_else(|| ApiError::not_found("call"))
}

/// The agents and groups offered by the search form.
pub async fn choices(State(s): State<AppState>) -> ApiResult<Json<CallFilterChoices>> {
    let mut c = s.store.conn().await?;
    Ok(Json(calls::filter_choices(&mut c).await?))
}
