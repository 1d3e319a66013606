//! The live side of the API: agent states, the realtime screen and the event WebSocket. The
//! data comes from the telephony edge through the `Telephony` trait, which the binary wires to
//! the ACD; the API never talks to the SIP edge directly.

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, IdPath};
use crate::AppState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Json};
use engine::agent_state::{AgentStatus, ChangedBy, Pause, Readiness};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use store::Record;
use utoipa::ToSchema;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the API needs from the running telephony.
pub trait Telephony: Send + Sync + 'static {
    /// The agent's status in each of their groups.
    fn agent_status(&self, agent: i64) -> BoxFuture<'_, Vec<(i64, AgentStatus)>>;
    fn set_readiness(&self, agent: i64, group: Option<i64>, readiness: Readiness, by: ChangedBy);
    /// Realtime rows, and with `group` that group's detail and chart.
    fn realtime(&self, group: Option<i64>, hours: u32) -> BoxFuture<'_, Value>;
    /// Changes as they happen (`agent_status`, `realtime`).
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Value>;
    /// A setting was written (any successful change through the API): the telephony takes
    /// the new configuration.
    fn config_changed(&self) {}
    /// PRES-06 callback: ring `agent`'s own desk phone, then connect them to `colleague`.
    fn callback(&self, _agent: i64, _colleague: i64) -> Result<(), String> {
        Err("Telephony is not running.".to_owned())
    }
    /// Readiness: `Ok` while SIP is listening, otherwise why not.
    fn sip_listening(&self) -> Result<(), String>;
    /// Turns the agent's browser phone ON; `events` gets its `phone_*` messages.
    fn phone_on(
        &self,
        _agent: i64,
        _events: tokio::sync::mpsc::UnboundedSender<Value>,
    ) -> BoxFuture<'_, Result<Box<dyn crate::phone::PhoneLine>, String>> {
        Box::pin(async { Err("The browser phone is not available on this server.".to_owned()) })
    }
}

fn telephony(s: &AppState) -> ApiResult<&Arc<dyn Telephony>> {
    s.telephony
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("Telephony is not running.".into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupState {
    pub group: i64,
    /// `{"status": "available"}`, `{"status": "paused", "pause": {"kind": "custom", "status_id": 3}}` …
    #[schema(value_type = Object)]
    pub status: AgentStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentState {
    pub agent: i64,
    pub groups: Vec<GroupState>,
}

/// Body of PUT /agents/{id}/state.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentStateInput {
    /// `available` or `paused`.
    pub state: String,
    /// With `paused`: the agent status (AST) chosen; absent = plain 停止.
    pub status_id: Option<i64>,
    /// One group (a group tag); absent = every group (the white tag, STATUS-05).
    pub group: Option<i64>,
}

async fn state_of(t: &Arc<dyn Telephony>, agent: i64) -> AgentState {
    let groups = t
        .agent_status(agent)
        .await
        .into_iter()
        .map(|(group, status)| GroupState { group, status })
        .collect();
    AgentState { agent, groups }
}

/// GET /agents/{id}/state: oneself, or anyone with the realtime screen (checked by the guard).
pub async fn get_state(
    State(s): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Json<AgentState>> {
    let t = telephony(&s)?;
    Ok(Json(state_of(t, id).await))
}

/// PUT /agents/{id}/state: an agent changes their own status (STATUS-04/05, permission
/// status.update, and status.group_update for one group); a supervisor changes anyone's
/// (RT-10, realtime.agent_status).
pub async fn put_state(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<AgentStateInput>,
) -> ApiResult<Json<AgentState>> {
    let by = if id == me.id() {
        // STATUS-10: a locked status is changed by supervisors only.
        if me.can("status.lock") {
            return Err(ApiError::Forbidden(
                "Your status is locked: a supervisor changes it (status.lock).".into(),
            ));
        }
        let needed = if input.group.is_some() {
            "status.group_update"
        } else {
            "status.update"
        };
        if !me.can(needed) {
            return Err(ApiError::Forbidden(format!(
                "Your role does not have the permission `{needed}`."
            )));
        }
        ChangedBy::Agent
    } else {
        // The guard let only holders of realtime.agent_status through for someone else.
        ChangedBy::Supervisor(me.id())
    };
    let mut conn = s.store.conn().await?;
    if store::agents::Agent::get(&mut conn, id).await?.is_none() {
        return Err(ApiError::not_found("agent"));
    }
    let readiness = match (input.state.as_str(), input.status_id) {
        ("available", None) => Readiness::Available,
        ("available", Some(_)) => {
            return Err(ApiError::Validation(vec![FieldError::new(
                "status_id",
                "unexpected",
                "Only a pause has a status.",
            )]))
        }
        ("paused", None) => Readiness::Paused(Pause::Manual),
        ("paused", Some(sid)) => {
            if store::agent_statuses::AgentStatus::get(&mut conn, sid)
                .await?
                .is_none()
            {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "status_id",
                    "unknown",
                    format!("There is no agent status {sid}."),
                )]));
            }
            Readiness::Paused(Pause::Custom(sid))
        }
        _ => {
            return Err(ApiError::Validation(vec![FieldError::new(
                "state",
                "format",
                "Use `available` or `paused`.",
            )]))
        }
    };
    if let Some(g) = input.group {
        let group = store::groups::Group::get(&mut conn, g).await?;
        if !group.is_some_and(|g| g.fields.members.iter().any(|m| m.agent_id == id)) {
            return Err(ApiError::Validation(vec![FieldError::new(
                "group",
                "unknown",
                "The agent is not a member of this group.",
            )]));
        }
    }
    drop(conn);
    let t = telephony(&s)?;
    t.set_readiness(id, input.group, readiness, by);
    Ok(Json(state_of(t, id).await))
}

#[derive(Debug, Deserialize)]
pub struct RealtimeQuery {
    pub group: Option<String>,
    pub hours: Option<String>,
}

/// GET /realtime: every group's RT row and the All row; `?group=ID&hours=3|6|9|12|24` adds
/// that group's waiting calls, agents, status counts and chart buckets.
pub async fn realtime(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<RealtimeQuery>,
) -> ApiResult<Json<Value>> {
    let group = crate::resources::int_filter("group", q.group.as_deref())?;
    let hours = crate::resources::int_filter("hours", q.hours.as_deref())?.unwrap_or(24);
    if ![3, 6, 9, 12, 24].contains(&hours) {
        return Err(ApiError::BadRequest(FieldError::new(
            "hours",
            "range",
            "`hours` is 3, 6, 9, 12 or 24.",
        )));
    }
    let t = telephony(&s)?;
    Ok(Json(
        t.realtime(group, u32::try_from(hours).unwrap_or(24)).await,
    ))
}

/// GET /ws: a WebSocket of live changes. Supervisors (realtime.view) get every agent's status
/// and the realtime signal; everyone gets their own status, the statuses of the agents of
/// their own groups (the presence panel, PRES-02) and the incoming-call pop-up of their own
/// ringing phone.
pub async fn ws(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let t = telephony(&s)?.clone();
    Ok(upgrade.on_upgrade(move |socket| forward(socket, t, me, s)))
}

/// How long the socket trusts its copy of the user's group memberships.
const MY_GROUPS_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// How often an open WebSocket checks that its session still exists.
const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(60);

/// The groups the user belongs to, as the ACD knows them (refreshed at most every 2 s, when a
/// colleague's status arrives).
struct MyGroups {
    groups: Vec<i64>,
    at: Option<std::time::Instant>,
}

impl MyGroups {
    async fn get(&mut self, t: &Arc<dyn Telephony>, me: i64) -> &[i64] {
        if self.at.is_none_or(|at| at.elapsed() >= MY_GROUPS_TTL) {
            self.groups = t
                .agent_status(me)
                .await
                .into_iter()
                .map(|(g, _)| g)
                .collect();
            self.at = Some(std::time::Instant::now());
        }
        &self.groups
    }
}

/// An `agent_status` message cut down to the groups in `mine`; `None` when none is left.
fn shared_statuses(v: &Value, mine: &[i64]) -> Option<Value> {
    let statuses: Vec<Value> = v["statuses"]
        .as_array()?
        .iter()
        .filter(|s| s["group"].as_i64().is_some_and(|g| mine.contains(&g)))
        .cloned()
        .collect();
    if statuses.is_empty() {
        return None;
    }
    let mut out = v.clone();
    out["statuses"] = Value::Array(statuses);
    Some(out)
}

async fn forward(
    mut socket: WebSocket,
    t: Arc<dyn Telephony>,
    mut me: Arc<CurrentUser>,
    s: AppState,
) {
    let mut rx = t.subscribe();
    // The socket outlives the request that opened it: the session is checked again now and
    // then and before every phone command, and the socket closes when it has ended.
    let mut recheck = tokio::time::interval(SESSION_RECHECK);
    recheck.tick().await;
    // The browser phone of this connection: the tab closing turns it OFF (STATUS-02).
    let mut phone = crate::phone::WsPhone::default();
    let (phone_tx, mut phone_rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let mut my_groups = MyGroups {
        groups: Vec::new(),
        at: None,
    };
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let v = match msg {
                    Ok(v) => v,
                    // A slow client missed messages: tell it to refetch.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => serde_json::json!({"type": "resync"}),
                    Err(_) => break,
                };
                let mine = v["agent"].as_i64() == Some(me.id());
                let sees_all = me.can("realtime.view");
                let sees_every_status = crate::presence::sees_every_group(&me);
                let out = match v["type"].as_str() {
                    Some("agent_status") if sees_every_status || mine => Some(v),
                    // A colleague: only their status in the groups we share.
                    Some("agent_status") => shared_statuses(&v, my_groups.get(&t, me.id()).await),
                    // Who is calling is for the agent whose phone rings.
                    Some("incoming_call" | "call_answered") => mine.then_some(v),
                    _ => sees_all.then_some(v),
                };
                if let Some(out) = out {
                    if socket.send(Message::Text(out.to_string().into())).await.is_err() {
                        break;
                    }
                }
            }
            _ = recheck.tick() => match me.reload(&s).await {
                Ok(Some(fresh)) => me = Arc::new(fresh),
                Ok(None) => break,
                // The store is briefly unavailable: keep going, check again later.
                Err(_) => {}
            },
            Some(v) = phone_rx.recv() => {
                if socket.send(Message::Text(v.to_string().into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(Message::Text(text))) => {
                    if text.as_str().contains("\"phone_") {
                        match me.reload(&s).await {
                            Ok(Some(fresh)) => me = Arc::new(fresh),
                            Ok(None) => break,
                            Err(_) => {}
                        }
                    }
                    if let Some(reply) = phone.handle(&s, &me, text.as_str(), &phone_tx).await {
                        if socket.send(Message::Text(reply.to_string().into())).await.is_err() {
                            break;
                        }
                    }
                }
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shared_statuses;
    use serde_json::json;

    #[test]
    fn a_colleague_status_is_cut_to_the_shared_groups() {
        let v = json!({"type": "agent_status", "agent": 5, "statuses": [
            {"group": 1, "status": {"status": "available"}},
            {"group": 2, "status": {"status": "offline"}},
        ]});
        assert_eq!(
            shared_statuses(&v, &[2, 3]),
            Some(json!({"type": "agent_status", "agent": 5, "statuses": [
                {"group": 2, "status": {"status": "offline"}},
            ]}))
        );
        assert_eq!(shared_statuses(&v, &[3]), None);
        assert_eq!(
            shared_statuses(&json!({"type": "agent_status"}), &[1]),
            None
        );
    }
}
