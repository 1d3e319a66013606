use super::collection::{Collection, Perms};
use super::{set_text, List};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::Param::{self, *};
use crate::{validate, AppState};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use store::agent_statuses::{self, AgentStatus, AgentStatusFields, AgentStatusFilter};
use store::{Conn, Page, Record};
use utoipa::ToSchema;

/// Agent statuses (AST-*).
pub struct AgentStatuses;

/// Body of POST and PATCH /agent-statuses.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentStatusInput {
    pub name: Option<String>,
    pub icon: Option<String>,
    pub color_fg: Option<String>,
    pub color_bg: Option<String>,
}

const DUPLICATE: &str = "An agent status with this name exists.";

impl Collection for AgentStatuses {
    type Table = AgentStatus;
    type Input = AgentStatusInput;
    type Query = AgentStatusFilter;
    const PATH: &'static str = "/api/v1/agent-statuses";
    const TAG: &'static str = "AgentStatuses";
    const PERMS: Perms = Perms {
        view: "agent_status.view",
        create: "agent_status.update",
        update: "agent_status.update",
        delete: "agent_status.delete",
    };
    const FILTERS: &'static [(&'static str, Param)] = &[("name", Text)];
    const ENTITY: &'static str = "agent_status";
    const LABEL: &'static str = "agent status";

    fn new_draft() -> AgentStatusFields {
        // AST-02 example colours.
        AgentStatusFields {
            color_fg: "#ffffff".into(),
            color_bg: "#ff0000".into(),
            ..Default::default()
        }
    }

    fn apply(f: &mut AgentStatusFields, i: AgentStatusInput) -> Vec<&'static str> {
        set_text(&mut f.name, i.name);
        set_text(&mut f.icon, i.icon);
        set_text(&mut f.color_fg, i.color_fg);
        set_text(&mut f.color_bg, i.color_bg);
        vec![]
    }

    async fn validate(
        conn: &mut Conn,
        id: Option<&i64>,
        _: Option<&AgentStatus>,
        f: &mut AgentStatusFields,
    ) -> ApiResult<()> {
        let mut e = Vec::new();
        validate::required_text(&mut e, "name", &f.name, 32);
        if let Some(other) = AgentStatus::id_where(conn, "name", &f.name).await? {
            if Some(&other) != id {
                e.push(FieldError::new("name", "duplicate", DUPLICATE));
            }
        }
        validate::text(&mut e, "icon", &f.icon, 32);
        validate::color(&mut e, "color_fg", &f.color_fg);
        validate::color(&mut e, "color_bg", &f.color_bg);
        ApiError::validation(e)
    }

    fn duplicate(_: bool) -> Option<(&'static str, &'static str)> {
        Some(("name", DUPLICATE))
    }

    async fn list(
        conn: &mut Conn,
        q: AgentStatusFilter,
        p: Page,
    ) -> ApiResult<(Vec<AgentStatus>, i64)> {
        Ok(AgentStatus::list(conn, &q, p).await?)
    }

    async fn references(conn: &mut Conn, id: &i64) -> store::Result<Vec<String>> {
        agent_statuses::references(conn, *id).await
    }
}

/// Every agent status with its name, icon and colours, for anyone logged in: agents choose
/// them in the header's dropdown and supervisors in the realtime screen (STATUS-03, RT-10),
/// while editing them stays with the administrators.
pub async fn choices(State(s): State<AppState>) -> ApiResult<Json<List<AgentStatus>>> {
    let mut c = s.store.conn().await?;
    let (items, total) = AgentStatus::list(
        &mut c,
        &AgentStatusFilter { name: None },
        store::Page {
            offset: 0,
            limit: 500,
        },
    )
    .await?;
    Ok(Json(List { items, total }))
}
