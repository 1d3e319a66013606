//! Drives the ACD (`engine::acd::Acd`): one task owns it, feeds it what calls and phones do,
//! hands its commands to the calls, and writes every queue step to the event log.

use crate::b2bua::CallEvent;
use engine::acd::{Acd, CallId, Command, GroupConfig, QueueEvent};
use engine::agent_state::{AgentId, AgentStatus, ChangedBy, GroupId, Readiness};
use engine::realtime::Projection;
use engine::RouteTarget;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use store::{Page, Store};
use tokio::sync::{broadcast, mpsc, oneshot};

/// The business day starts at midnight Japan time (UTC+9), when the realtime counters restart.
const DAY_OFFSET_MS: u64 = 9 * 3_600_000;
const DAY_MS: u64 = 86_400_000;

fn day_start(now: u64) -> u64 {
    (now + DAY_OFFSET_MS) / DAY_MS * DAY_MS - DAY_OFFSET_MS
}

/// What the ACD asks of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcdCommand {
    Ring(AgentId),
    Stop(AgentId),
    Connect(AgentId),
    /// Leave the group: to a destination, or busy when `None`.
    Divert(Option<RouteTarget>),
}

pub(crate) enum QueueInput {
    Arrived {
        call: CallId,
        sip_call_id: String,
        group: GroupId,
        events: mpsc::UnboundedSender<CallEvent>,
        /// Shown on the screen of each agent rung (caller, number, pop-up URL).
        popup: Option<Value>,
        /// Agents are rung only this much later: the caller hears the greeting first.
        hold_ms: u64,
    },
    Answered {
        call: CallId,
        agent: AgentId,
    },
    Failed {
        call: CallId,
        agent: AgentId,
    },
    CallerHangup {
        call: CallId,
    },
    Ended {
        call: CallId,
    },
    /// A call the ACD let go of (a divert) has ended: nothing more will be said about it.
    Forget {
        call: CallId,
    },
    Online {
        agent: AgentId,
        online: bool,
    },
    /// The agent started or ended a call that is not a queue call.
    DirectCall {
        agent: AgentId,
        active: bool,
    },
    SetReadiness {
        agent: AgentId,
        group: Option<GroupId>,
        readiness: Readiness,
        by: ChangedBy,
    },
    Status {
        agent: AgentId,
        reply: oneshot::Sender<Vec<(GroupId, AgentStatus)>>,
    },
    /// The realtime screen's data: every group row, and one group's detail with its chart.
    Realtime {
        group: Option<GroupId>,
        hours: u32,
        reply: oneshot::Sender<Value>,
    },
}

/// A cheap handle to the ACD task.
#[derive(Clone)]
pub struct QueueHandle {
    tx: mpsc::UnboundedSender<QueueInput>,
    changes: broadcast::Sender<Value>,
}

impl QueueHandle {
    pub(crate) fn send(&self, input: QueueInput) {
        self.tx.send(input).ok();
    }

    /// The agent's status in each of their groups.
    pub async fn agent_status(&self, agent: AgentId) -> Vec<(GroupId, AgentStatus)> {
        let (reply, rx) = oneshot::channel();
        self.send(QueueInput::Status { agent, reply });
        rx.await.unwrap_or_default()
    }

    /// The realtime rows of every group (and the All row); with `group`, that group's detail and
    /// its answered/abandoned chart over `hours`.
    pub async fn realtime(&self, group: Option<GroupId>, hours: u32) -> Value {
        let (reply, rx) = oneshot::channel();
        self.send(QueueInput::Realtime {
            group,
            hours,
            reply,
        });
        rx.await.unwrap_or(Value::Null)
    }

    /// Pushed after every change: `{"type": "agent_status", …}` per agent whose status moved and
    /// `{"type": "realtime"}` when the counters did.
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.changes.subscribe()
    }

    /// Changes an agent's readiness in one group or all (`group = None`, the white tag).
    pub fn set_readiness(
        &self,
        agent: AgentId,
        group: Option<GroupId>,
        readiness: Readiness,
        by: ChangedBy,
    ) {
        self.send(QueueInput::SetReadiness {
            agent,
            group,
            readiness,
            by,
        });
    }
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn ms(secs: i64) -> u64 {
    u64::try_from(secs).unwrap_or(0) * 1000
}

fn config_of(g: &store::groups::Group) -> GroupConfig {
    let f = &g.fields;
    GroupConfig {
        id: g.id,
        strategy: f.strategy,
        members: f
            .members
            .iter()
            .map(|m| (m.agent_id, m.skill_level))
            .collect(),
        max_answering: usize::try_from(f.max_answering).unwrap_or(0),
        max_waiting: usize::try_from(f.max_waiting).unwrap_or(0),
        overflow: f.overflow,
        timeout_ms: f.timeout.map(ms),
        timeout_target: f.timeout_target,
        ring_ms: ms(f.ring_time).max(1000),
        queue_start_delay_ms: ms(f.queue_start_delay),
        no_answer_pause: f.no_answer_pause,
        no_answer_pause_ms: ms(f.no_answer_pause_time),
        acw: f.acw_status_id.map(|s| (s, ms(f.acw_time))),
    }
}

async fn load_groups(store: &Store) -> Option<Vec<GroupConfig>> {
    let mut conn = store.conn().await.ok()?;
    let (groups, _) = store::groups::list(
        &mut conn,
        &Default::default(),
        Page {
            offset: 0,
            limit: 10_000,
        },
    )
    .await
    .ok()?;
    Some(groups.iter().map(config_of).collect())
}

pub(crate) fn spawn(store: Store) -> QueueHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let (changes, _) = broadcast::channel(256);
    tokio::spawn(run(store, rx, changes.clone()));
    QueueHandle { tx, changes }
}

struct Driver {
    acd: Acd,
    store: Store,
    calls: HashMap<CallId, (String, mpsc::UnboundedSender<CallEvent>)>,
    /// Calls that ended: forgotten once their last events are written.
    finished: Vec<CallId>,
    /// Screen-pop data of queued calls.
    popups: HashMap<CallId, Value>,
    configs: HashMap<GroupId, GroupConfig>,
    projection: Projection,
    changes: broadcast::Sender<Value>,
}

async fn run(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<QueueInput>,
    changes: broadcast::Sender<Value>,
) {
    let mut d = Driver {
        acd: Acd::new(wall_ms()),
        store,
        calls: HashMap::new(),
        finished: Vec::new(),
        popups: HashMap::new(),
        configs: HashMap::new(),
        projection: Projection::new(day_start(wall_ms())),
        changes,
    };
    d.reload().await;
    d.replay_today().await;
    // Group settings are edited in the web app; the ACD picks changes up within seconds.
    let mut reload = tokio::time::interval(Duration::from_secs(2));
    loop {
        let due = d.acd.poll_timeout();
        let sleep = async {
            match due {
                Some(at) => {
                    tokio::time::sleep(Duration::from_millis(at.saturating_sub(wall_ms()))).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            input = rx.recv() => match input {
                Some(i) => d.handle(i),
                None => break,
            },
            _ = sleep => d.acd.handle_timeout(wall_ms()),
            _ = reload.tick() => d.reload().await,
        }
        d.flush().await;
    }
}

impl Driver {
    async fn reload(&mut self) {
        let Some(configs) = load_groups(&self.store).await else {
            return;
        };
        for cfg in configs {
            if self.configs.get(&cfg.id) != Some(&cfg) {
                self.projection.set_group(cfg.id, cfg.members.clone());
                self.configs.insert(cfg.id, cfg.clone());
                self.acd.configure_group(wall_ms(), cfg);
                self.changes.send(json!({"type": "realtime"})).ok();
            }
        }
    }

    fn handle(&mut self, input: QueueInput) {
        let now = wall_ms();
        match input {
            QueueInput::Arrived {
                call,
                sip_call_id,
                group,
                events,
                popup,
                hold_ms,
            } => {
                self.calls.insert(call, (sip_call_id, events));
                if let Some(mut p) = popup {
                    p["group"] = json!(group);
                    self.popups.insert(call, p);
                }
                self.acd
                    .handle_call_arrived_after(now, call, group, hold_ms);
            }
            QueueInput::Answered { call, agent } => {
                self.acd.handle_agent_answered(now, call, agent)
            }
            QueueInput::Failed { call, agent } => self.acd.handle_agent_failed(now, call, agent),
            QueueInput::CallerHangup { call } => {
                self.acd.handle_caller_hangup(now, call);
                self.finished.push(call);
            }
            QueueInput::Ended { call } => {
                self.acd.handle_call_ended(now, call);
                self.finished.push(call);
            }
            QueueInput::Forget { call } => self.finished.push(call),
            QueueInput::Online { agent, online } => {
                self.acd.handle_agent_online(now, agent, online);
                self.projection.set_agent_online(agent, online, now);
                self.announce_agent(agent);
                self.changes.send(json!({"type": "realtime"})).ok();
            }
            QueueInput::DirectCall { agent, active } => {
                self.acd.handle_direct_call(now, agent, active)
            }
            QueueInput::SetReadiness {
                agent,
                group,
                readiness,
                by,
            } => self
                .acd
                .handle_set_readiness(now, agent, group, readiness, by),
            QueueInput::Status { agent, reply } => {
                let statuses = self
                    .configs
                    .values()
                    .filter(|c| c.members.iter().any(|(a, _)| *a == agent))
                    .map(|c| (c.id, self.acd.status(agent, c.id)))
                    .collect();
                reply.send(statuses).ok();
            }
            QueueInput::Realtime {
                group,
                hours,
                reply,
            } => {
                self.roll_day(now);
                let hours = if [3, 6, 9, 12, 24].contains(&hours) {
                    hours
                } else {
                    24
                };
                let mut v = json!({
                    "groups": self.projection.groups(),
                    "all": self.projection.all_row(),
                    "now": now,
                });
                if let Some(g) = group {
                    v["detail"] = json!(self.projection.group(g));
                    v["buckets"] = json!(self.projection.buckets(g, now, hours));
                }
                reply.send(v).ok();
            }
        }
    }

    fn roll_day(&mut self, now: u64) {
        let today = day_start(now);
        if today > self.projection.day_start() {
            self.projection.roll_day(today);
        }
    }

    /// Rebuilds today's realtime numbers from the event log after a restart.
    async fn replay_today(&mut self) {
        let Ok(mut conn) = self.store.conn().await else {
            return;
        };
        let start = i64::try_from(self.projection.day_start()).unwrap_or(0);
        let mut after = 0;
        loop {
            let Ok(batch) = store::events::read_after(&mut conn, after, 5_000).await else {
                return;
            };
            let Some(last) = batch.last() else { break };
            after = last.id;
            for e in batch.iter().filter(|e| {
                e.at >= start && (e.kind.starts_with("queue.") || e.kind == "agent.status")
            }) {
                if let Ok(q) = serde_json::from_value::<QueueEvent>(e.data.clone()) {
                    self.projection.apply_queue_event(&q);
                    // Agents keep the status they had (休憩, ACW…) across a restart.
                    if let QueueEvent::AgentStatus {
                        agent,
                        group,
                        readiness,
                        at,
                        ..
                    } = q
                    {
                        self.acd
                            .restore_readiness(wall_ms(), agent, group, readiness, at);
                    }
                }
            }
        }
        self.projection.calls_ended_by_restart();
    }

    /// Pushes an agent's status in each of their groups to the subscribers.
    fn announce_agent(&self, agent: AgentId) {
        let statuses: Vec<Value> = self
            .configs
            .values()
            .filter(|c| c.members.iter().any(|(a, _)| *a == agent))
            .map(|c| json!({"group": c.id, "status": self.acd.status(agent, c.id)}))
            .collect();
        self.changes
            .send(json!({"type": "agent_status", "agent": agent, "statuses": statuses}))
            .ok();
    }

    /// Hands commands to their calls and writes the events.
    async fn flush(&mut self) {
        while let Some(cmd) = self.acd.poll_command() {
            let (call, what) = match cmd {
                Command::Ring { call, agent } => (call, AcdCommand::Ring(agent)),
                Command::StopRinging { call, agent } => (call, AcdCommand::Stop(agent)),
                Command::Connect { call, agent } => (call, AcdCommand::Connect(agent)),
                Command::Divert { call, target } => (call, AcdCommand::Divert(target)),
                // Announcements and music on hold come with the media player.
                Command::StartWaiting { .. } => continue,
            };
            // The call task reports its end in every case (also after a divert); the entry
            // stays until then so that late events still name the call.
            if let Some((_, events)) = self.calls.get(&call) {
                events.send(CallEvent::Acd(what)).ok();
            }
            // The ringing agent's screen shows who calls (the incoming-call pop-up), and the
            // answering agent's opens the answer pop-up (NUM-08, AGENT-16).
            let kind = match what {
                AcdCommand::Ring(agent) => Some((agent, "incoming_call")),
                AcdCommand::Connect(agent) => Some((agent, "call_answered")),
                _ => None,
            };
            if let (Some((agent, kind)), Some(p)) = (kind, self.popups.get(&call)) {
                let mut msg = p.clone();
                msg["type"] = json!(kind);
                msg["agent"] = json!(agent);
                msg["call"] = json!(call);
                self.changes.send(msg).ok();
            }
        }
        let mut batch = Vec::new();
        while let Some(e) = self.acd.poll_event() {
            batch.push(e);
        }
        if !batch.is_empty() {
            self.roll_day(wall_ms());
            let mut agents = Vec::new();
            for e in &batch {
                self.projection.apply_queue_event(e);
                if let (_, _, Some(agent), _) = describe(e) {
                    if !agents.contains(&agent) {
                        agents.push(agent);
                    }
                }
            }
            for agent in agents {
                self.announce_agent(agent);
            }
            self.changes.send(json!({"type": "realtime"})).ok();
            if let Err(e) = self.write(&batch).await {
                tracing::error!(error = %e, "could not record queue events");
            }
        }
        for call in self.finished.drain(..) {
            self.calls.remove(&call);
            self.popups.remove(&call);
        }
    }

    async fn write(&self, batch: &[QueueEvent]) -> Result<(), store::StoreError> {
        let mut tx = self.store.begin().await?;
        for e in batch {
            let (kind, call, agent, group) = describe(e);
            let call_id = call.and_then(|c| self.calls.get(&c).map(|(id, _)| id.clone()));
            let data = serde_json::to_value(e).unwrap_or_default();
            let row = store::events::NewEvent {
                at: i64::try_from(wall_ms()).unwrap_or(i64::MAX),
                kind,
                call_id: call_id.as_deref(),
                agent_id: agent,
                group_id: group,
                data,
            };
            store::events::append(&mut tx, &row).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn describe(
    e: &QueueEvent,
) -> (
    &'static str,
    Option<CallId>,
    Option<AgentId>,
    Option<GroupId>,
) {
    match e {
        QueueEvent::Entered { call, group, .. } => {
            ("queue.entered", Some(*call), None, Some(*group))
        }
        QueueEvent::Rang {
            call, group, agent, ..
        } => ("queue.rang", Some(*call), Some(*agent), Some(*group)),
        QueueEvent::NoAnswer {
            call, group, agent, ..
        } => ("queue.no_answer", Some(*call), Some(*agent), Some(*group)),
        QueueEvent::Answered {
            call, group, agent, ..
        } => ("queue.answered", Some(*call), Some(*agent), Some(*group)),
        QueueEvent::Abandoned { call, group, .. } => {
            ("queue.abandoned", Some(*call), None, Some(*group))
        }
        QueueEvent::Overflowed { call, group, .. } => {
            ("queue.overflowed", Some(*call), None, Some(*group))
        }
        QueueEvent::TimedOut { call, group, .. } => {
            ("queue.timed_out", Some(*call), None, Some(*group))
        }
        QueueEvent::Completed {
            call, group, agent, ..
        } => ("queue.completed", Some(*call), Some(*agent), Some(*group)),
        QueueEvent::AgentStatus { agent, group, .. } => {
            ("agent.status", None, Some(*agent), *group)
        }
        QueueEvent::DirectCall { agent, .. } => ("agent.direct_call", None, Some(*agent), None),
    }
}
