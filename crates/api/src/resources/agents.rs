use super::collection::{Collection, Perms, Table, Write};
use super::{nullable, refuse_if_referenced, set, set_opt_text, set_text};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::Param::{self, *};
use crate::{password, validate};
use serde::Deserialize;
use store::agents::{
    self, Agent, AgentFields, AgentFilter, FreeDesk, Language, PopupMode, SortOrder,
};
use store::{numbers, roles, sessions, Conn, Page, Record};
use utoipa::ToSchema;

/// Agents (AGENT-*): the accounts that log in and take calls.
pub struct Agents;

/// An agent to write: its fields and, when one was given, the new password (stored hashed,
/// never returned).
pub struct AgentDraft {
    fields: AgentFields,
    password: Option<String>,
}

/// Body of POST and PATCH /agents. On create `login_id`, `name`, `nickname` and `password`
/// are required; on update only the fields sent change.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    pub login_id: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub extension: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub caller_number_id: Option<Option<i64>>,
    pub number_ids: Option<Vec<i64>>,
    pub role: Option<String>,
    pub locked: Option<bool>,
    pub language: Option<Language>,
    pub crm_auto_search: Option<bool>,
    pub incoming_popup: Option<bool>,
    pub answer_popup: Option<bool>,
    pub popup_mode: Option<PopupMode>,
    pub free_desk: Option<FreeDesk>,
    pub history_order: Option<SortOrder>,
    /// Write-only. Empty means unchanged.
    pub password: Option<String>,
    /// Write-only, 4 digits; null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub pin: Option<Option<String>>,
}

impl Collection for Agents {
    type Table = Agents;
    type Input = AgentInput;
    type Query = AgentFilter;
    const PATH: &'static str = "/api/v1/agents";
    const TAG: &'static str = "Agents";
    const PERMS: Perms = Perms {
        view: "agent.view",
        create: "agent.update",
        update: "agent.update",
        delete: "agent.delete",
    };
    const FILTERS: &'static [(&'static str, Param)] = &[
        ("login_id", Text),
        ("name", Text),
        ("extension", Text),
        ("role", Text),
    ];
    const ENTITY: &'static str = "agent";
    const LABEL: &'static str = "agent";

    fn new_draft() -> AgentDraft {
        AgentDraft {
            fields: AgentFields {
                role: "agent".into(),
                ..Default::default()
            },
            password: None,
        }
    }

    fn apply(d: &mut AgentDraft, i: AgentInput) -> Vec<&'static str> {
        let f = &mut d.fields;
        set_text(&mut f.login_id, i.login_id);
        set_text(&mut f.name, i.name);
        set_text(&mut f.nickname, i.nickname);
        set_opt_text(&mut f.extension, i.extension);
        set(&mut f.caller_number_id, i.caller_number_id);
        set(&mut f.number_ids, i.number_ids);
        set(&mut f.role, i.role);
        set(&mut f.locked, i.locked);
        set(&mut f.language, i.language);
        set(&mut f.crm_auto_search, i.crm_auto_search);
        set(&mut f.incoming_popup, i.incoming_popup);
        set(&mut f.answer_popup, i.answer_popup);
        set(&mut f.popup_mode, i.popup_mode);
        set(&mut f.free_desk, i.free_desk);
        set(&mut f.history_order, i.history_order);
        let mut secrets = Vec::new();
        d.password = i.password.filter(|p| !p.is_empty());
        if d.password.is_some() {
            secrets.push("password");
        }
        if let Some(v) = i.pin {
            let pin = v.filter(|p| !p.is_empty());
            if pin != f.pin {
                secrets.push("pin");
            }
            f.pin = pin;
        }
        secrets
    }

    /// On update, the last unlocked administrator stays one (409).
    async fn validate(
        conn: &mut Conn,
        id: Option<&i64>,
        before: Option<&Agent>,
        d: &mut AgentDraft,
    ) -> ApiResult<()> {
        let f = &d.fields;
        let mut e = Vec::new();
        validate::login_id(&mut e, "login_id", &f.login_id);
        if e.is_empty() {
            if let Some(other) = Agent::id_where(conn, "login_id", &f.login_id).await? {
                if Some(&other) != id {
                    e.push(FieldError::new(
                        "login_id",
                        "duplicate",
                        "This login ID is already in use.",
                    ));
                }
            }
        }
        validate::required_text(&mut e, "name", &f.name, 64);
        validate::required_text(&mut e, "nickname", &f.nickname, 32);
        validate::extension(
            conn,
            &mut e,
            "extension",
            f.extension.as_deref(),
            ("agent", id.copied()),
        )
        .await?;
        match d.password.as_deref() {
            Some(p) => e.extend(password::check_policy("password", p)),
            None if id.is_none() => e.push(FieldError::new(
                "password",
                "required",
                "This field is required.",
            )),
            None => {}
        }
        if let Some(p) = f.pin.as_deref() {
            e.extend(validate::pin("pin", p));
        }
        if roles::get(conn, &f.role).await?.is_none() {
            e.push(FieldError::new(
                "role",
                "unknown",
                format!("There is no role `{}`.", f.role),
            ));
        }
        if let Some(n) = f.caller_number_id {
            if !f.number_ids.contains(&n) {
                e.push(FieldError::new(
                    "caller_number_id",
                    "not_offered",
                    "The caller number must be one of the numbers offered to this agent.",
                ));
            } else if numbers::get(conn, n).await?.is_none() {
                e.push(FieldError::new(
                    "caller_number_id",
                    "unknown",
                    format!("There is no phone number {n}."),
                ));
            }
        }
        for n in &f.number_ids {
            if numbers::get(conn, *n).await?.is_none() {
                e.push(FieldError::new(
                    "number_ids",
                    "unknown",
                    format!("There is no phone number {n}."),
                ));
            }
        }
        let mut sorted = f.number_ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != f.number_ids.len() {
            e.push(FieldError::new(
                "number_ids",
                "duplicate",
                "A number is listed twice.",
            ));
        }
        ApiError::validation(e)?;
        match before {
            Some(b) => keep_an_admin(conn, b.id, &b.fields, Some(f)).await,
            None => Ok(()),
        }
    }

    fn duplicate(_: bool) -> Option<(&'static str, &'static str)> {
        Some(("login_id", "This login ID or extension is already in use."))
    }

    async fn list(conn: &mut Conn, q: AgentFilter, p: Page) -> ApiResult<(Vec<Agent>, i64)> {
        Ok(Agent::list(conn, &q, p).await?)
    }

    async fn references(conn: &mut Conn, id: &i64) -> store::Result<Vec<String>> {
        agents::references(conn, *id).await
    }

    async fn may_delete(
        conn: &mut Conn,
        me: &CurrentUser,
        agent: &Agent,
        refs: Vec<String>,
    ) -> ApiResult<()> {
        if agent.id == me.id() {
            return Err(ApiError::Conflict(vec![FieldError::general(
                "self",
                "You cannot delete your own account.",
            )]));
        }
        refuse_if_referenced(Self::LABEL, refs)?;
        keep_an_admin(conn, agent.id, &agent.fields, None).await
    }
}

impl Table for Agents {
    type Item = Agent;
    type Draft = AgentDraft;
    type Key = i64;

    fn draft(agent: &Agent) -> AgentDraft {
        AgentDraft {
            fields: agent.fields.clone(),
            password: None,
        }
    }

    async fn get(conn: &mut Conn, id: &i64) -> store::Result<Option<Agent>> {
        <Agent as Record>::get(conn, *id).await
    }

    async fn insert(conn: &mut Conn, d: &AgentDraft, w: &Write<'_>) -> ApiResult<i64> {
        let hash = password::hash(d.password.clone().unwrap_or_default()).await?;
        Ok(agents::insert(conn, &d.fields, &hash, w.actor(), w.now).await?)
    }

    /// A new password or a lock ends the agent's other sessions.
    async fn update(
        conn: &mut Conn,
        id: &i64,
        before: &Agent,
        d: &AgentDraft,
        w: &Write<'_>,
    ) -> ApiResult<()> {
        <Agent as Record>::update(conn, *id, &d.fields, w.actor(), w.now).await?;
        if let Some(p) = &d.password {
            agents::set_password(conn, *id, &password::hash(p.clone()).await?, w.now).await?;
        }
        let locked = d.fields.locked && !before.fields.locked;
        if locked || (d.password.is_some() && *id != w.me.id()) {
            sessions::delete_for_agent(conn, *id).await?;
        }
        // An administrator's lock or unlock is an event, like the automatic ones.
        if d.fields.locked != before.fields.locked {
            let kind = if d.fields.locked {
                crate::events::ACCOUNT_LOCKED
            } else {
                crate::events::ACCOUNT_UNLOCKED
            };
            crate::events::record(
                conn,
                w.now,
                kind,
                Some(*id),
                serde_json::json!({
                    "login_id": d.fields.login_id,
                    "reason": "administrator",
                    "by": w.me.login_id(),
                }),
            )
            .await?;
        }
        Ok(())
    }

    async fn delete(conn: &mut Conn, id: &i64) -> store::Result<()> {
        <Agent as Record>::delete(conn, *id).await
    }
}

/// An installation must keep at least one administrator who can log in.
async fn keep_an_admin(
    conn: &mut Conn,
    id: i64,
    before: &AgentFields,
    after: Option<&AgentFields>,
) -> ApiResult<()> {
    let was_admin = before.role == "admin" && !before.locked;
    let stays_admin = after.is_some_and(|a| a.role == "admin" && !a.locked);
    if was_admin && !stays_admin && agents::count_active_with_role(conn, "admin", id).await? == 0 {
        return Err(ApiError::Conflict(vec![FieldError::general(
            "last_admin",
            "This is the last unlocked system administrator; create or unlock another one first.",
        )]));
    }
    Ok(())
}
