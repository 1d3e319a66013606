use super::{page, record_change, List, Paging};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery};
use crate::{now_ms, validate, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::permissions;
use store::roles::{self, Role, RoleFields, RoleFilter};
use utoipa::ToSchema;

/// Body of POST and PATCH /roles. The id of a new role is generated.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub name: Option<String>,
    /// The complete set of granted permission keys.
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub struct RoleQuery {
    pub name: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

/// One cell of the permission matrix with its labels.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionInfo {
    pub key: String,
    pub row: String,
    pub verb: String,
    pub row_ja: String,
    pub row_en: String,
    pub verb_ja: String,
    pub verb_en: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionCatalog {
    pub items: Vec<PermissionInfo>,
}

pub async fn catalog() -> Json<PermissionCatalog> {
    let items = permissions::MATRIX
        .iter()
        .flat_map(|r| {
            r.verbs.iter().map(move |v| {
                let (verb_ja, verb_en) = permissions::verb_labels(v);
                PermissionInfo {
                    key: format!("{}.{}", r.row, v),
                    row: r.row.into(),
                    verb: (*v).into(),
                    row_ja: r.ja.into(),
                    row_en: r.en.into(),
                    verb_ja: verb_ja.into(),
                    verb_en: verb_en.into(),
                }
            })
        })
        .collect();
    Json(PermissionCatalog { items })
}

fn apply(f: &mut RoleFields, i: RoleInput) {
    if let Some(v) = i.name {
        f.name = v.trim().to_owned();
    }
    if let Some(mut v) = i.permissions {
        v.sort();
        v.dedup();
        f.permissions = v;
    }
}

fn validate(f: &RoleFields) -> ApiResult<()> {
    let mut e = Vec::new();
    validate::required_text(&mut e, "name", &f.name, 64);
    let unknown: Vec<&str> = f
        .permissions
        .iter()
        .filter(|p| !permissions::is_known(p))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        e.push(FieldError::new(
            "permissions",
            "unknown",
            format!("Unknown permissions: {}.", unknown.join(", ")),
        ));
    }
    ApiError::validation(e)
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<RoleQuery>,
) -> ApiResult<Json<List<Role>>> {
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let mut c = s.store.conn().await?;
    let (items, total) = roles::list(&mut c, &RoleFilter { name: q.name }, p).await?;
    Ok(Json(List { items, total }))
}

pub async fn get(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Role>> {
    let mut c = s.store.conn().await?;
    roles::get(&mut c, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("role"))
}

pub async fn create(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(input): ApiJson<RoleInput>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    let mut f = RoleFields::default();
    apply(&mut f, input);
    validate(&f)?;
    let mut tx = s.store.begin().await?;
    let id = roles::next_custom_id(&mut tx).await?;
    let now = now_ms();
    roles::insert(&mut tx, &id, &f, false, Some(me.login_id()), now).await?;
    let item = roles::get(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("role"))?;
    record_change(
        &mut tx,
        "role",
        &id,
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
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RoleInput>,
) -> ApiResult<Json<Role>> {
    let mut tx = s.store.begin().await?;
    let before = roles::get(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("role"))?;
    let mut f = before.fields();
    apply(&mut f, input);
    validate(&f)?;
    // Without these the administrators could lock themselves out of the matrix for good.
    if id == "admin" {
        for p in ["tab.admin", "role.view", "role.update"] {
            if !f.permissions.iter().any(|k| k == p) {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "permissions",
                    "required",
                    format!("The system administrator role must keep `{p}`."),
                )]));
            }
        }
    }
    let now = now_ms();
    roles::update(&mut tx, &id, &f, Some(me.login_id()), now).await?;
    let after = roles::get(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("role"))?;
    record_change(
        &mut tx,
        "role",
        &id,
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

pub async fn delete(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut tx = s.store.begin().await?;
    let before = roles::get(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("role"))?;
    if before.builtin {
        return Err(ApiError::Conflict(vec![FieldError::general(
            "builtin",
            "Built-in roles cannot be deleted.",
        )]));
    }
    let n = roles::holders(&mut tx, &id).await?;
    super::refuse_if_referenced(
        "role",
        if n > 0 {
            vec![format!("held by {n} agent(s)")]
        } else {
            vec![]
        },
    )?;
    roles::delete(&mut tx, &id).await?;
    record_change(
        &mut tx,
        "role",
        &id,
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
