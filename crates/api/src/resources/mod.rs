//! The administration collections. Every collection follows one pattern: create and update
//! both build a complete `…Fields` value (defaults or the stored record, with the request's
//! fields applied), validate it as a whole, write it, and record the difference in the
//! change history.

pub mod agent_statuses;
pub mod agents;
pub mod calls;
pub mod collection;
pub mod groups;
pub mod incoming_blocks;
pub mod numbers;
pub mod outbound_restrictions;
pub mod roles;
pub mod terminals;
pub mod trunks;
pub mod voice_files;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::AppState;
use axum::Json;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::sync::Arc;
use store::agents::SortOrder;
use store::{changes, Conn, Page};

/// A page of a list (the OpenAPI document spells out one schema per item type).
#[derive(Debug, Serialize)]
pub struct List<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// Paging parameters common to every list; text so that a bad value gets our 400.
#[derive(Debug, Deserialize, Default)]
pub struct Paging {
    pub offset: Option<String>,
    pub limit: Option<String>,
}

pub fn page(offset: Option<&str>, limit: Option<&str>) -> ApiResult<Page> {
    let parse = |field: &str, v: Option<&str>, default: i64, lo: i64, hi: i64| -> ApiResult<i64> {
        match v.filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| {
                    ApiError::BadRequest(FieldError::new(
                        field,
                        "range",
                        format!("`{field}` must be a whole number from {lo} to {hi}."),
                    ))
                }),
        }
    };
    Ok(Page {
        offset: parse("offset", offset, 0, 0, i64::MAX / 2)?,
        limit: parse("limit", limit, 50, 1, 500)?,
    })
}

/// An optional integer filter given as text (`?agent_id=` empty means no filter).
pub fn int_filter(field: &str, v: Option<&str>) -> ApiResult<Option<i64>> {
    match v.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::BadRequest(FieldError::new(
                field,
                "type",
                format!("`{field}` must be a number."),
            ))
        }),
    }
}

/// For PATCH bodies: distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`, which clears a nullable field).
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Records a create/update/delete in the change history. `secrets` names write-only fields
/// that changed; they appear masked.
#[allow(clippy::too_many_arguments)]
pub async fn record_change<T: Serialize>(
    conn: &mut Conn,
    entity: &str,
    id: &str,
    actor: Option<&str>,
    action: &str,
    before: &T,
    after: &T,
    secrets: &[&str],
    now: i64,
) -> ApiResult<()> {
    let to_json = |v: &T| serde_json::to_value(v).map_err(|e| ApiError::Internal(e.to_string()));
    let (b, a) = match action {
        "create" => (Value::Object(Default::default()), to_json(after)?),
        "delete" => (to_json(before)?, Value::Object(Default::default())),
        _ => (to_json(before)?, to_json(after)?),
    };
    let mut diff = changes::diff(&b, &a);
    let old = if action == "create" {
        Value::Null
    } else {
        "***".into()
    };
    for s in secrets {
        diff.insert(
            (*s).to_owned(),
            Value::Array(vec![old.clone(), "***".into()]),
        );
    }
    changes::append(conn, entity, id, actor, action, diff, now).await?;
    Ok(())
}

/// `GET /…/{id}/history` for any collection, in the viewer's preferred order (AGENT-19).
pub async fn history(
    entity: &'static str,
    state: AppState,
    me: Arc<CurrentUser>,
    id: String,
    paging: Paging,
) -> ApiResult<Json<List<changes::Change>>> {
    let p = page(paging.offset.as_deref(), paging.limit.as_deref())?;
    let ascending = me.agent.fields.history_order == SortOrder::Asc;
    let mut conn = state.store.conn().await?;
    let (items, total) = changes::list(&mut conn, entity, &id, ascending, p).await?;
    Ok(Json(List { items, total }))
}

/// `get` and `delete` handlers of a collection: the same for every collection whose store
/// module has `get` and `delete`; `refs = …` names what blocks a delete.
macro_rules! get_and_delete {
    ($store:ident, $item:ty, $label:literal, $entity:literal $(, refs = $refs:path)?) => {
        pub async fn get(
            axum::extract::State(s): axum::extract::State<crate::AppState>,
            crate::extract::IdPath(id): crate::extract::IdPath,
        ) -> crate::error::ApiResult<axum::Json<$item>> {
            let mut c = s.store.conn().await?;
            store::$store::get(&mut c, id)
                .await?
                .map(axum::Json)
                .ok_or_else(|| crate::error::ApiError::not_found($label))
        }

        pub async fn delete(
            axum::extract::State(s): axum::extract::State<crate::AppState>,
            axum::Extension(me): axum::Extension<std::sync::Arc<crate::auth::CurrentUser>>,
            crate::extract::IdPath(id): crate::extract::IdPath,
        ) -> crate::error::ApiResult<axum::http::StatusCode> {
            let mut tx = s.store.begin().await?;
            let before = store::$store::get(&mut tx, id)
                .await?
                .ok_or_else(|| crate::error::ApiError::not_found($label))?;
            $(super::refuse_if_referenced($label, $refs(&mut tx, id).await?)?;)?
            store::$store::delete(&mut tx, id).await?;
            super::record_change(
                &mut tx,
                $entity,
                &id.to_string(),
                Some(me.login_id()),
                "delete",
                &before,
                &before,
                &[],
                crate::now_ms(),
            )
            .await?;
            tx.commit().await?;
            Ok(axum::http::StatusCode::NO_CONTENT)
        }
    };
}
pub(crate) use get_and_delete;

/// Refuses a delete while other records still point at this one.
pub fn refuse_if_referenced(what: &str, reasons: Vec<String>) -> ApiResult<()> {
    if reasons.is_empty() {
        return Ok(());
    }
    Err(ApiError::Conflict(vec![FieldError::general(
        "in_use",
        format!(
            "This {what} cannot be deleted because it is {}.",
            reasons.join(" and ")
        ),
    )]))
}

/// Maps a unique-constraint violation on write to a field error; anything else passes through.
pub fn unique_to_field(
    field: &'static str,
    message: &str,
) -> impl FnOnce(store::StoreError) -> ApiError {
    let message = message.to_owned();
    move |e| {
        if e.is_unique_violation() {
            ApiError::Conflict(vec![FieldError::new(field, "duplicate", message)])
        } else {
            ApiError::Store(e)
        }
    }
}
