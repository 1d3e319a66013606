use super::{int_filter, nullable, page, record_change, unique_to_field, List, Paging};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, IdPath};
use crate::{now_ms, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use std::sync::Arc;
use store::terminals::{self, Terminal, TerminalFields, TerminalFilter};
use store::{agents, Conn};
use utoipa::ToSchema;

/// Body of POST and PATCH /terminals. `password` (the SIP digest password) is required on
/// create; `username` is generated when omitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminalInput {
    pub username: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub agent_id: Option<Option<i64>>,
    /// Write-only; empty means unchanged.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TerminalQuery {
    pub username: Option<String>,
    pub name: Option<String>,
    pub agent_id: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

fn apply(f: &mut TerminalFields, i: TerminalInput) -> bool {
    if let Some(v) = i.username {
        f.username = v.trim().to_owned();
    }
    if let Some(v) = i.name {
        f.name = v.trim().to_owned();
    }
    if let Some(v) = i.agent_id {
        f.agent_id = v;
    }
    match i.password.filter(|p| !p.is_empty()) {
        Some(p) => {
            f.sip_password = p;
            true
        }
        None => false,
    }
}

/// TERM-03: system-generated IDs look like `JHJTAT1`.
fn generated_username() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let letters: String = (0..6)
        .map(|_| char::from(rng.gen_range(b'A'..=b'Z')))
        .collect();
    format!("{letters}{}", rng.gen_range(0..10))
}

async fn validate(conn: &mut Conn, id: Option<i64>, f: &TerminalFields) -> ApiResult<()> {
    let mut e = Vec::new();
    let u = &f.username;
    if !(3..=32).contains(&u.len())
        || !u
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        e.push(FieldError::new(
            "username",
            "format",
            "Use 3 to 32 half-width letters, digits, '.', '_' or '-'.",
        ));
    } else if let Some(other) = terminals::by_username(conn, u).await? {
        if Some(other.id) != id {
            e.push(FieldError::new(
                "username",
                "duplicate",
                "This terminal ID is already in use.",
            ));
        }
    }
    crate::validate::required_text(&mut e, "name", &f.name, 64);
    let p = &f.sip_password;
    if p.is_empty() {
        e.push(FieldError::new(
            "password",
            "required",
            "This field is required.",
        ));
    } else if !(6..=64).contains(&p.len()) || !p.chars().all(|c| c.is_ascii_graphic()) {
        e.push(FieldError::new(
            "password",
            "format",
            "Use 6 to 64 half-width characters without spaces.",
        ));
    }
    if let Some(a) = f.agent_id {
        if agents::get(conn, a).await?.is_none() {
            e.push(FieldError::new(
                "agent_id",
                "unknown",
                format!("There is no agent {a}."),
            ));
        }
    }
    ApiError::validation(e)
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<TerminalQuery>,
) -> ApiResult<Json<List<Terminal>>> {
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let f = TerminalFilter {
        username: q.username,
        name: q.name,
        agent_id: int_filter("agent_id", q.agent_id.as_deref())?,
    };
    let mut c = s.store.conn().await?;
    let (items, total) = terminals::list(&mut c, &f, p).await?;
    Ok(Json(List { items, total }))
}

pub async fn create(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(input): ApiJson<TerminalInput>,
) -> ApiResult<(StatusCode, Json<Terminal>)> {
    let mut f = TerminalFields::default();
    apply(&mut f, input);
    let mut tx = s.store.begin().await?;
    if f.username.is_empty() {
        loop {
            let u = generated_username();
            if terminals::by_username(&mut tx, &u).await?.is_none() {
                f.username = u;
                break;
            }
        }
    }
    validate(&mut tx, None, &f).await?;
    let now = now_ms();
    let id = terminals::insert(&mut tx, &f, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field(
            "username",
            "This terminal ID is already in use.",
        ))?;
    let item = terminals::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("terminal"))?;
    record_change(
        &mut tx,
        "terminal",
        &id.to_string(),
        Some(me.login_id()),
        "create",
        &item,
        &item,
        &["password"],
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
    ApiJson(input): ApiJson<TerminalInput>,
) -> ApiResult<Json<Terminal>> {
    let mut tx = s.store.begin().await?;
    let before = terminals::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("terminal"))?;
    let mut f = before.fields.clone();
    let pw_changed = apply(&mut f, input);
    validate(&mut tx, Some(id), &f).await?;
    let now = now_ms();
    terminals::update(&mut tx, id, &f, Some(me.login_id()), now)
        .await
        .map_err(unique_to_field(
            "username",
            "This terminal ID is already in use.",
        ))?;
    let after = terminals::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("terminal"))?;
    let secrets: &[&str] = if pw_changed { &["password"] } else { &[] };
    record_change(
        &mut tx,
        "terminal",
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

super::get_and_delete!(terminals, Terminal, "terminal", "terminal");
