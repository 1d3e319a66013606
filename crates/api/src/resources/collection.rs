//! One way to write a collection. A [`Collection`] says what differs from one collection to
//! the next — its input, defaults, validation, write-only secrets, labels, routes — and its
//! [`Table`] how its records are stored; list, create, get, update, delete and history are
//! written once, here, for all of them.
//!
//! Create and update both build a complete draft (the defaults or the stored record, with the
//! request's fields applied), validate it as a whole, write it, and record the difference in
//! the change history (AGENT-02).

use super::{page, record_change, refuse_if_referenced, List, Paging};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, Key, KeyPath};
use crate::routes::Param;
use crate::{now_ms, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Arc;
use store::agents::SortOrder;
use store::{changes, Conn, Page, Record};
use utoipa::ToSchema;

/// Who writes, and when.
pub struct Write<'a> {
    pub me: &'a CurrentUser,
    pub now: i64,
}

impl Write<'_> {
    pub fn actor(&self) -> Option<&str> {
        Some(self.me.login_id())
    }
}

/// How a collection's records are read and written.
pub trait Table: Send + Sync + 'static {
    /// A record as the API shows it.
    type Item: Serialize + ToSchema + Send + Sync + 'static;
    /// A complete record to write: the defaults or a stored record, with a request applied.
    type Draft: Send + Sync + 'static;
    /// What `{id}` in the item paths is.
    type Key: Key;

    /// The draft a stored record is edited from.
    fn draft(item: &Self::Item) -> Self::Draft;

    fn get(
        conn: &mut Conn,
        key: &Self::Key,
    ) -> impl Future<Output = store::Result<Option<Self::Item>>> + Send;

    fn insert(
        conn: &mut Conn,
        d: &Self::Draft,
        w: &Write<'_>,
    ) -> impl Future<Output = ApiResult<Self::Key>> + Send;

    fn update(
        conn: &mut Conn,
        key: &Self::Key,
        before: &Self::Item,
        d: &Self::Draft,
        w: &Write<'_>,
    ) -> impl Future<Output = ApiResult<()>> + Send;

    fn delete(conn: &mut Conn, key: &Self::Key) -> impl Future<Output = store::Result<()>> + Send;
}

/// Every store record is a table keyed by its id and written from its fields.
impl<R: Record + Serialize + ToSchema> Table for R
where
    R::Fields: 'static,
{
    type Item = R;
    type Draft = R::Fields;
    type Key = i64;

    fn draft(item: &R) -> R::Fields {
        item.to_fields()
    }

    async fn get(conn: &mut Conn, id: &i64) -> store::Result<Option<R>> {
        <R as Record>::get(conn, *id).await
    }

    async fn insert(conn: &mut Conn, f: &R::Fields, w: &Write<'_>) -> ApiResult<i64> {
        Ok(<R as Record>::insert(conn, f, w.actor(), w.now).await?)
    }

    async fn update(
        conn: &mut Conn,
        id: &i64,
        _: &R,
        f: &R::Fields,
        w: &Write<'_>,
    ) -> ApiResult<()> {
        Ok(<R as Record>::update(conn, *id, f, w.actor(), w.now).await?)
    }

    async fn delete(conn: &mut Conn, id: &i64) -> store::Result<()> {
        <R as Record>::delete(conn, *id).await
    }
}

pub type Item<C> = <<C as Collection>::Table as Table>::Item;
pub type Draft<C> = <<C as Collection>::Table as Table>::Draft;
pub type KeyOf<C> = <<C as Collection>::Table as Table>::Key;

/// The permissions a collection's routes require.
pub struct Perms {
    pub view: &'static str,
    pub create: &'static str,
    pub update: &'static str,
    pub delete: &'static str,
}

/// A collection of the API: `GET/POST {PATH}`, `GET/PATCH/DELETE {PATH}/{id}` and the change
/// history `GET {PATH}/{id}/history`.
pub trait Collection: Send + Sync + 'static {
    type Table: Table;
    /// Body of POST and PATCH: every field optional (absent = unchanged), unknown fields
    /// refused (`deny_unknown_fields`).
    type Input: DeserializeOwned + ToSchema + Send + 'static;
    /// The list's filters as text (so that a bad value gets our 400); paging comes beside.
    type Query: DeserializeOwned + Send + 'static;

    /// Base path, e.g. `/api/v1/agents`.
    const PATH: &'static str;
    /// OpenAPI tag, also the plural in summaries (`List Agents`).
    const TAG: &'static str;
    const PERMS: Perms;
    /// The query parameters `Query` reads.
    const FILTERS: &'static [(&'static str, Param)];
    /// The entity named in the change history.
    const ENTITY: &'static str;
    /// The record in messages: "agent not found", "This agent cannot be deleted…".
    const LABEL: &'static str;
    /// Whether records are created by `POST {PATH}` with `Input` as JSON (voice files are
    /// uploaded instead).
    const JSON_CREATE: bool = true;
    /// What the summaries of update and delete add for this collection.
    const UPDATE_NOTE: &'static str = "";
    const DELETE_NOTE: &'static str = "";

    /// What a new record starts from.
    fn new_draft() -> Draft<Self>;

    /// Applies a request to a draft; returns the write-only fields it set, which the change
    /// history shows as `***`.
    fn apply(d: &mut Draft<Self>, input: Self::Input) -> Vec<&'static str>;

    /// Checks a draft as a whole: a 422 with one entry per field. May complete the draft with
    /// generated values. `key` and `before` are the stored record on update.
    fn validate(
        conn: &mut Conn,
        key: Option<&KeyOf<Self>>,
        before: Option<&Item<Self>>,
        d: &mut Draft<Self>,
    ) -> impl Future<Output = ApiResult<()>> + Send;

    /// A unique constraint refused a write that validation let through (a concurrent
    /// request): the field and message of the 409.
    fn duplicate(_creating: bool) -> Option<(&'static str, &'static str)> {
        None
    }

    fn list(
        conn: &mut Conn,
        q: Self::Query,
        page: Page,
    ) -> impl Future<Output = ApiResult<(Vec<Item<Self>>, i64)>> + Send;

    /// What still points at a record, in words; a delete is refused while there is any.
    fn references(
        _conn: &mut Conn,
        _key: &KeyOf<Self>,
    ) -> impl Future<Output = store::Result<Vec<String>>> + Send {
        async { Ok(Vec::new()) }
    }

    /// Whether a delete may go ahead, given the references.
    fn may_delete(
        _conn: &mut Conn,
        _me: &CurrentUser,
        _item: &Item<Self>,
        refs: Vec<String>,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        async move { refuse_if_referenced(Self::LABEL, refs) }
    }

    /// After a delete is committed (files to remove).
    fn deleted(_state: &AppState, _key: &KeyOf<Self>) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// The query of a list: the collection's filters and the paging.
#[derive(Debug, Deserialize)]
pub struct ListQuery<Q> {
    #[serde(flatten)]
    filter: Q,
    #[serde(flatten)]
    paging: Paging,
}

pub async fn get_or_404<C: Collection>(conn: &mut Conn, key: &KeyOf<C>) -> ApiResult<Item<C>> {
    C::Table::get(conn, key)
        .await?
        .ok_or_else(|| ApiError::not_found(C::LABEL))
}

fn on_duplicate<C: Collection>(creating: bool) -> impl FnOnce(ApiError) -> ApiError {
    move |e| match (e, C::duplicate(creating)) {
        (ApiError::Store(e), Some((field, message))) if e.is_unique_violation() => {
            ApiError::Conflict(vec![FieldError::new(field, "duplicate", message)])
        }
        (e, _) => e,
    }
}

pub async fn list<C: Collection>(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery<C::Query>>,
) -> ApiResult<Json<List<Item<C>>>> {
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let mut c = s.store.conn().await?;
    let (items, total) = C::list(&mut c, q.filter, p).await?;
    Ok(Json(List { items, total }))
}

pub async fn get<C: Collection>(
    State(s): State<AppState>,
    KeyPath(key): KeyPath<KeyOf<C>>,
) -> ApiResult<Json<Item<C>>> {
    let mut c = s.store.conn().await?;
    get_or_404::<C>(&mut c, &key).await.map(Json)
}

pub async fn create<C: Collection>(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(input): ApiJson<C::Input>,
) -> ApiResult<(StatusCode, Json<Item<C>>)> {
    let mut d = C::new_draft();
    let secrets = C::apply(&mut d, input);
    let mut tx = s.store.begin().await?;
    C::validate(&mut tx, None, None, &mut d).await?;
    let w = Write {
        me: &me,
        now: now_ms(),
    };
    let key = C::Table::insert(&mut tx, &d, &w)
        .await
        .map_err(on_duplicate::<C>(true))?;
    let item = get_or_404::<C>(&mut tx, &key).await?;
    let id = key.to_string();
    record_change(
        &mut tx,
        C::ENTITY,
        &id,
        w.actor(),
        "create",
        &item,
        &item,
        &secrets,
        w.now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(item)))
}

pub async fn update<C: Collection>(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    KeyPath(key): KeyPath<KeyOf<C>>,
    ApiJson(input): ApiJson<C::Input>,
) -> ApiResult<Json<Item<C>>> {
    let mut tx = s.store.begin().await?;
    let before = get_or_404::<C>(&mut tx, &key).await?;
    let mut d = C::Table::draft(&before);
    let secrets = C::apply(&mut d, input);
    C::validate(&mut tx, Some(&key), Some(&before), &mut d).await?;
    let w = Write {
        me: &me,
        now: now_ms(),
    };
    C::Table::update(&mut tx, &key, &before, &d, &w)
        .await
        .map_err(on_duplicate::<C>(false))?;
    let after = get_or_404::<C>(&mut tx, &key).await?;
    let id = key.to_string();
    record_change(
        &mut tx,
        C::ENTITY,
        &id,
        w.actor(),
        "update",
        &before,
        &after,
        &secrets,
        w.now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

pub async fn delete<C: Collection>(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    KeyPath(key): KeyPath<KeyOf<C>>,
) -> ApiResult<StatusCode> {
    let mut tx = s.store.begin().await?;
    let before = get_or_404::<C>(&mut tx, &key).await?;
    let refs = C::references(&mut tx, &key).await?;
    C::may_delete(&mut tx, &me, &before, refs).await?;
    C::Table::delete(&mut tx, &key).await?;
    let id = key.to_string();
    let now = now_ms();
    let actor = Some(me.login_id());
    record_change(
        &mut tx,
        C::ENTITY,
        &id,
        actor,
        "delete",
        &before,
        &before,
        &[],
        now,
    )
    .await?;
    tx.commit().await?;
    C::deleted(&s, &key).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET {PATH}/{id}/history`, in the viewer's preferred order (AGENT-19).
pub async fn history<C: Collection>(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    KeyPath(id): KeyPath<KeyOf<C>>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<List<changes::Change>>> {
    let p = page(paging.offset.as_deref(), paging.limit.as_deref())?;
    let ascending = me.agent.fields.history_order == SortOrder::Asc;
    let mut conn = s.store.conn().await?;
    let (items, total) = changes::list(&mut conn, C::ENTITY, &id.to_string(), ascending, p).await?;
    Ok(Json(List { items, total }))
}
