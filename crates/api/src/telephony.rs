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
use engine::live::{GroupStatus, Live, Realtime};
use phone_signal::PhoneEvent;
use serde::{Deserialize, Serialize};
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
    /// Realtime rows, and with `group` that group's detail and chart; `None` when the ACD
    /// cannot answer (it is stopping).
    fn realtime(&self, group: Option<i64>, hours: u32) -> BoxFuture<'_, Option<Realtime>>;
    /// Changes as they happen (`agent_status`, `realtime`, the pop-ups).
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Live>;
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
        _events: tokio::sync::mpsc::UnboundedSender<PhoneEvent>,
    ) -> BoxFuture<'_, Result<Box<dyn crate::phone::PhoneLine>, String>> {
        Box::pin(async { Err("The browser phone is not available on this server.".to_owned()) })
    }
    /// Pauses (`paused`) or resumes the recording of call `call` on behalf of agent `by`.
    fn pause_recording(
        &self,
        _call: i64,
        _paused: bool,
        _by: i64,
    ) -> BoxFuture<'_, Result<(), RecordingControl>> {
        Box::pin(async { Err(RecordingControl::NoSuchCall) })
    }
}

/// Why a recording could not be paused or resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingControl {
    /// The call is not in progress on this server.
    NoSuchCall,
    /// The call is in progress but not recorded.
    NotRecording,
}

fn telephony(s: &AppState) -> ApiResult<&Arc<dyn Telephony>> {
    s.telephony
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("Telephony is not running.".into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupState {
    pub group: i64,
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
) -> ApiResult<Json<Realtime>> {
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
    t.realtime(group, u32::try_from(hours).unwrap_or(24))
        .await
        .map(Json)
        .ok_or_else(|| ApiError::Unavailable("The ACD is not answering; try again.".into()))
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

/// A message of `/api/v1/ws` from the server: the live feed, the browser phone's events, or
/// `resync` (the client missed messages and refetches what it shows).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum WsMessage {
    Live(Live),
    Phone(PhoneEvent),
    Control(WsControl),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WsControl {
    /// Messages were missed: refetch.
    Resync,
}

/// Statuses cut down to the groups in `mine`; `None` when none is left.
fn shared_statuses(statuses: &[GroupStatus], mine: &[i64]) -> Option<Vec<GroupStatus>> {
    let shared: Vec<GroupStatus> = statuses
        .iter()
        .filter(|s| mine.contains(&s.group))
        .copied()
        .collect();
    (!shared.is_empty()).then_some(shared)
}

async fn send(socket: &mut WebSocket, m: &WsMessage) -> bool {
    match serde_json::to_string(m) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        // Our own types always serialise; a failure would be a bug, not the client's doing.
        Err(e) => {
            tracing::error!(error = %e, "a WebSocket message did not serialise");
            true
        }
    }
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
    let (phone_tx, mut phone_rx) = tokio::sync::mpsc::unbounded_channel::<PhoneEvent>();
    let mut my_groups = MyGroups {
        groups: Vec::new(),
        at: None,
    };
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let live = match msg {
                    Ok(live) => live,
                    // A slow client missed messages: tell it to refetch.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if !send(&mut socket, &WsMessage::Control(WsControl::Resync)).await {
                            break;
                        }
                        continue;
                    }
                    Err(_) => break,
                };
                let out = match live {
                    Live::AgentStatus { agent, statuses } => {
                        if agent == me.id() || crate::presence::sees_every_group(&me) {
                            Some(Live::AgentStatus { agent, statuses })
                        } else {
                            // A colleague: only their status in the groups we share.
                            shared_statuses(&statuses, my_groups.get(&t, me.id()).await)
                                .map(|statuses| Live::AgentStatus { agent, statuses })
                        }
                    }
                    // Who is calling is for the agent whose phone rings.
                    Live::IncomingCall { agent, .. } | Live::CallAnswered { agent, .. } => {
                        (agent == me.id()).then_some(live)
                    }
                    Live::Realtime => me.can("realtime.view").then_some(live),
                };
                if let Some(out) = out {
                    if !send(&mut socket, &WsMessage::Live(out)).await {
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
            Some(event) = phone_rx.recv() => {
                if !send(&mut socket, &WsMessage::Phone(event)).await {
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
                        if !send(&mut socket, &WsMessage::Phone(reply)).await {
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
    use super::*;
    use engine::agent_state::AgentStatus;

    #[test]
    fn a_colleague_status_is_cut_to_the_shared_groups() {
        let statuses = [
            GroupStatus {
                group: 1,
                status: AgentStatus::Available,
            },
            GroupStatus {
                group: 2,
                status: AgentStatus::Offline,
            },
        ];
        assert_eq!(shared_statuses(&statuses, &[2, 3]), Some(vec![statuses[1]]));
        assert_eq!(shared_statuses(&statuses, &[3]), None);
        assert_eq!(shared_statuses(&[], &[1]), None);
    }

    #[test]
    fn messages_keep_their_wire_shape() {
        let wire = |m: WsMessage| serde_json::to_value(m).unwrap_or_default();
        assert_eq!(
            wire(WsMessage::Control(WsControl::Resync)),
            serde_json::json!({"type": "resync"})
        );
        assert_eq!(
            wire(WsMessage::Live(Live::Realtime)),
            serde_json::json!({"type": "realtime"})
        );
        assert_eq!(
            wire(WsMessage::Phone(PhoneEvent::PhoneRinging {
                call: "c".into()
            })),
            serde_json::json!({"type": "phone_ringing", "call": "c"})
        );
    }
}
