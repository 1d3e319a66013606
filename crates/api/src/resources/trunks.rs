use super::{nullable, page, record_change, unique_to_field, List, Paging};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, IdPath};
use crate::{now_ms, validate, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use std::sync::Arc;
use store::trunks::{self, CallerIdHeader, Trunk, TrunkFields, TrunkFilter};
use utoipa::ToSchema;

/// Body of POST and PATCH /trunks.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkInput {
    pub name: Option<String>,
    pub allowed_sources: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub outbound_host: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub username: Option<Option<String>>,
    /// Write-only; empty means unchanged, null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub password: Option<Option<String>>,
    pub register: Option<bool>,
    pub caller_id_header: Option<CallerIdHeader>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct TrunkQuery {
    pub name: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

fn apply(f: &mut TrunkFields, i: TrunkInput) -> bool {
    let blank = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if let Some(v) = i.name {
        f.name = v.trim().to_owned();
    }
    if let Some(v) = i.allowed_sources {
        f.allowed_sources = v.into_iter().map(|s| s.trim().to_owned()).collect();
    }
    if let Some(v) = i.outbound_host {
        f.outbound_host = blank(v);
    }
    if let Some(v) = i.username {
        f.username = blank(v);
    }
    if let Some(v) = i.register {
        f.register = v;
    }
    if let Some(v) = i.caller_id_header {
        f.caller_id_header = v;
    }
    if let Some(v) = i.enabled {
        f.enabled = v;
    }
    match i.password {
        Some(None) => {
            let changed = f.password.is_some();
            f.password = None;
            changed
        }
        Some(Some(p)) if !p.is_empty() => {
            f.password = Some(p);
            true
        }
        _ => false,
    }
}

fn validate(f: &TrunkFields) -> ApiResult<()> {
    let mut e = Vec::new();
    validate::required_text(&mut e, "name", &f.name, 64);
    for s in &f.allowed_sources {
        if !validate::ip_or_cidr(s) {
            e.push(FieldError::new(
                "allowed_sources",
                "format",
                format!("`{s}` is not an IP address, an address with a port (a.b.c.d:port) or a CIDR block."),
            ));
        }
    }
    if let Some(h) = f.outbound_host.as_deref() {
        if !validate::host_port(h) {
            e.push(FieldError::new(
                "outbound_host",
                "format",
                "Use host or host:port.",
            ));
        }
    }
    if let Some(u) = f.username.as_deref() {
        validate::text(&mut e, "username", u, 64);
    }
    if f.register {
        if f.username.is_none() {
            e.push(FieldError::new(
                "username",
                "required",
                "Registration needs a user name.",
            ));
        }
        if f.password.is_none() {
            e.push(FieldError::new(
                "password",
                "required",
                "Registration needs a password.",
            ));
        }
        if f.outbound_host.is_none() {
            e.push(FieldError::new(
                "outbound_host",
                "required",
                "Registration needs the carrier's host.",
            ));
        }
    }
    if f.allowed_sources.is_empty() && !f.register {
        e.push(FieldError::new(
            "allowed_sources",
            "required",
            "Give the carrier's source addresses, or register to the carrier.",
        ));
    }
    ApiError::validation(e)
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<TrunkQuery>,
) -> ApiResult<Json<List<Trunk>>> {
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let mut c = s.store.conn().await?;
    let (items, total) = trunks::list(&mut c, &TrunkFilter { name: q.name }, p).await?;
    Ok(Json(List { items, total }))
}

pub async fn create(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(input): ApiJson<TrunkInput>,
) -> ApiResult<(StatusCode, Json<Trunk>)> {
    let mut f = TrunkFields {
        enabled: true,
        ..Default::default()
    };
    let pw = apply(&mut f, input);
    validate(&f)?;
    let mut tx = s.store.begin().await?;
    let now = now_ms();
    let id = trunks::insert(&mut tx, &f, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field("name", "A trunk with this name exists."))?;
    let item = trunks::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("trunk"))?;
    let secrets: &[&str] = if pw { &["password"] } else { &[] };
    record_change(
        &mut tx,
        "trunk",
        &id.to_string(),
        Some(me.login_id()),
        "create",
        &item,
        &item,
        secrets,
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
    ApiJson(input): ApiJson<TrunkInput>,
) -> ApiResult<Json<Trunk>> {
    let mut tx = s.store.begin().await?;
    let before = trunks::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("trunk"))?;
    let mut f = before.fields.clone();
    let pw = apply(&mut f, input);
    validate(&f)?;
    let now = now_ms();
    trunks::update(&mut tx, id, &f, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field("name", "A trunk with this name exists."))?;
    let after = trunks::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("trunk"))?;
    let secrets: &[&str] = if pw { &["password"] } else { &[] };
    record_change(
        &mut tx,
        "trunk",
        &id.to_string(),
        Some(me.login_id()),
        "update",
        &before,
        &after,
        secrets,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

super::get_and_delete!(trunks, Trunk, "trunk", "trunk");
