//! The presence panel (PRES-01…03) and the group names every screen needs: which groups a user
//! may look at, and the agents of one with their live status. Ordinary agents lack
//! `group.view` and `agent.view`, so these routes are open to every logged-in user and scoped
//! here: one's own groups, or every group for those who supervise (`realtime.view`) or
//! administer groups (`group.view`).

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::IdPath;
use crate::resources::List;
use crate::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use engine::agent_state::AgentStatus;
use serde::Serialize;
use std::sync::Arc;
use store::groups::{self, Group, GroupFilter};
use store::{Page, Record};
use utoipa::ToSchema;

/// May look at every group's members and their statuses, not only one's own groups.
pub fn sees_every_group(me: &CurrentUser) -> bool {
    me.can("realtime.view") || me.can("group.view")
}

/// A group as the presence selector, the header tags and the realtime table show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceGroup {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub extension: Option<String>,
    pub color_fg: String,
    pub color_bg: String,
    /// The caller is a member of this group.
    pub member: bool,
}

/// An agent of a group in the presence panel: `extension(nickname)` and the live status.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceAgent {
    pub id: i64,
    pub extension: Option<String>,
    pub nickname: String,
    /// Full name, shown when the nickname is empty.
    pub name: String,
    /// The agent's status in this group, as in the `agent_status` WebSocket message; null
    /// while the telephony does not know the agent yet (or is not running).
    pub status: Option<AgentStatus>,
}

const ALL: Page = Page {
    offset: 0,
    limit: 10_000,
};

/// GET /presence/groups: one's own groups, or every group for supervisors and administrators.
pub async fn groups(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
) -> ApiResult<Json<List<PresenceGroup>>> {
    let mut conn = s.store.conn().await?;
    let filter = GroupFilter {
        agent_id: (!sees_every_group(&me)).then_some(me.id()),
        ..Default::default()
    };
    let (list, _) = Group::list(&mut conn, &filter, ALL).await?;
    let items: Vec<PresenceGroup> = list
        .into_iter()
        .map(|g| PresenceGroup {
            id: g.id,
            member: g.fields.members.iter().any(|m| m.agent_id == me.id()),
            name: g.fields.name,
            display_name: g.fields.display_name,
            extension: g.fields.extension,
            color_fg: g.fields.color_fg,
            color_bg: g.fields.color_bg,
        })
        .collect();
    let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
    Ok(Json(List { items, total }))
}

/// GET /presence/groups/{id}: the group's agents with their status in it.
pub async fn agents(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    IdPath(id): IdPath,
) -> ApiResult<Json<List<PresenceAgent>>> {
    let mut conn = s.store.conn().await?;
    if Group::get(&mut conn, id).await?.is_none() {
        return Err(ApiError::not_found("group"));
    }
    let members = groups::member_directory(&mut conn, id).await?;
    drop(conn);
    if !sees_every_group(&me) && !members.iter().any(|m| m.agent_id == me.id()) {
        return Err(ApiError::Forbidden(
            "You can see the agents of your own groups only.".into(),
        ));
    }
    let mut items = Vec::with_capacity(members.len());
    for m in members {
        let status = match &s.telephony {
            Some(t) => t
                .agent_status(m.agent_id)
                .await
                .into_iter()
                .find(|(g, _)| *g == id)
                .map(|(_, st)| st),
            None => None,
        };
        items.push(PresenceAgent {
            id: m.agent_id,
            extension: m.extension,
            nickname: m.nickname,
            name: m.name,
            status,
        });
    }
    let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
    Ok(Json(List { items, total }))
}

/// Body of POST /presence/callback.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackInput {
    /// The colleague to call.
    pub agent: i64,
}

/// POST /presence/callback (PRES-06): rings the user's own desk phone and, when it answers,
/// calls the colleague. 202 once the user's phone rings.
pub async fn callback(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    crate::extract::ApiJson(input): crate::extract::ApiJson<CallbackInput>,
) -> ApiResult<axum::http::StatusCode> {
    let t = s
        .telephony
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("Telephony is not running.".into()))?;
    if input.agent == me.id() {
        return Err(ApiError::Validation(vec![crate::error::FieldError::new(
            "agent",
            "self",
            "Choose a colleague, not yourself.",
        )]));
    }
    let mut conn = s.store.conn().await?;
    if store::agents::get(&mut conn, input.agent).await?.is_none() {
        return Err(ApiError::not_found("agent"));
    }
    t.callback(me.id(), input.agent).map_err(|e| {
        ApiError::Validation(vec![crate::error::FieldError::new(
            "agent",
            "unreachable",
            e,
        )])
    })?;
    Ok(axum::http::StatusCode::ACCEPTED)
}
