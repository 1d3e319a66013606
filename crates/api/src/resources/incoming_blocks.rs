//! Incoming-call blocks (BLOCK-*).

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
use store::incoming_blocks::{self, IncomingBlock, IncomingBlockFields, IncomingBlockFilter};
use store::Conn;
use utoipa::ToSchema;

const DUPLICATE: &str = "This number is already blocked.";

/// Body of POST and PATCH /incoming-blocks.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncomingBlockInput {
    /// Half-width digits only.
    pub number: Option<String>,
    pub remarks: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct IncomingBlockQuery {
    pub number: Option<String>,
    pub remarks: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

fn apply(f: &mut IncomingBlockFields, i: IncomingBlockInput) {
    if let Some(v) = i.number {
        f.number = v.trim().to_owned();
    }
    if let Some(v) = i.remarks {
        f.remarks = v.trim().to_owned();
    }
}

async fn validate(conn: &mut Conn, id: Option<i64>, f: &IncomingBlockFields) -> ApiResult<()> {
    let mut e = Vec::new();
    if validate::digits(&mut e, "number", &f.number, 2, 20) {
        if let Some(other) = incoming_blocks::id_by_number(conn, &f.number).await? {
            if Some(other) != id {
                e.push(FieldError::new("number", "duplicate", DUPLICATE));
            }
        }
    }
    validate::text(&mut e, "remarks", &f.remarks, 200);
    ApiError::validation(e)
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<IncomingBlockQuery>,
) -> ApiResult<Json<List<IncomingBlock>>> {
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let f = IncomingBlockFilter {
        number: q.number,
        remarks: q.remarks,
    };
    let mut c = s.store.conn().await?;
    let (items, total) = incoming_blocks::list(&mut c, &f, p).await?;
    Ok(Json(List { items, total }))
}

pub async fn create(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(input): ApiJson<IncomingBlockInput>,
) -> ApiResult<(StatusCode, Json<IncomingBlock>)> {
    let mut f = IncomingBlockFields::default();
    apply(&mut f, input);
    let mut tx = s.store.begin().await?;
    validate(&mut tx, None, &f).await?;
    let now = now_ms();
    let id = incoming_blocks::insert(&mut tx, &f, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field("number", DUPLICATE))?;
    let item = incoming_blocks::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incoming block"))?;
    record_change(
        &mut tx,
        "incoming_block",
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
    ApiJson(input): ApiJson<IncomingBlockInput>,
) -> ApiResult<Json<IncomingBlock>> {
    let mut tx = s.store.begin().await?;
    let before = incoming_blocks::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incoming block"))?;
    let mut f = before.fields.clone();
    apply(&mut f, input);
    validate(&mut tx, Some(id), &f).await?;
    let now = now_ms();
    incoming_blocks::update(&mut tx, id, &f, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field("number", DUPLICATE))?;
    let after = incoming_blocks::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incoming block"))?;
    record_change(
        &mut tx,
        "incoming_block",
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
    incoming_blocks,
    IncomingBlock,
    "incoming block",
    "incoming_block"
);
