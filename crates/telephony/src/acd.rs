//! Drives the ACD (`engine::acd::Acd`): one task owns it, feeds it what calls and phones do,
//! hands its decisions to the calls, keeps the realtime projection, pushes the live feed, and
//! records every queue step through the journal.

use engine::acd::{Acd, CallId, Command, GroupConfig, QueueEvent};
use engine::agent_state::{AgentId, AgentStatus, ChangedBy, GroupId, Readiness};
use engine::live::{self, Live, Popup};
use engine::realtime::Projection;
use engine::{Clock, RouteTarget};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use store::journal::{Event, Journal};
use store::Store;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

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

pub(crate) enum AcdInput {
    Arrived {
        call: CallId,
        group: GroupId,
        orders: mpsc::UnboundedSender<AcdCommand>,
        /// Shown on the screen of each agent rung (caller, number, pop-up URL).
        popup: Option<Popup>,
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
    Realtime {
        group: Option<GroupId>,
        hours: u32,
        reply: oneshot::Sender<live::Realtime>,
    },
}

/// A cheap handle to the ACD task.
#[derive(Clone)]
pub struct AcdHandle {
    tx: mpsc::UnboundedSender<AcdInput>,
    live: broadcast::Sender<Live>,
}

impl AcdHandle {
    pub(crate) fn send(&self, input: AcdInput) {
        self.tx.send(input).ok();
    }

    /// The agent's status in each of their groups.
    pub async fn agent_status(&self, agent: AgentId) -> Vec<(GroupId, AgentStatus)> {
        let (reply, rx) = oneshot::channel();
        self.send(AcdInput::Status { agent, reply });
        rx.await.unwrap_or_default()
    }

    /// The realtime rows of every group (and the All row); with `group`, that group's detail
    /// and its answered/abandoned chart over `hours`.
    pub async fn realtime(&self, group: Option<GroupId>, hours: u32) -> Option<live::Realtime> {
        let (reply, rx) = oneshot::channel();
        self.send(AcdInput::Realtime {
            group,
            hours,
            reply,
        });
        rx.await.ok()
    }

    /// The live feed: every status change, realtime change and screen pop.
    pub fn subscribe(&self) -> broadcast::Receiver<Live> {
        self.live.subscribe()
    }

    pub(crate) fn publish(&self, l: Live) {
        self.live.send(l).ok();
    }

    /// Changes an agent's readiness in one group or all (`group = None`, the white tag).
    pub fn set_readiness(
        &self,
        agent: AgentId,
        group: Option<GroupId>,
        readiness: Readiness,
        by: ChangedBy,
    ) {
        self.send(AcdInput::SetReadiness {
            agent,
            group,
            readiness,
            by,
        });
    }
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

pub(crate) struct Spawned {
    pub handle: AcdHandle,
}

pub(crate) fn spawn(
    store: Store,
    journal: Journal,
    clock: Arc<dyn Clock>,
    directory: Arc<crate::directory::Directory>,
    reloaded: watch::Receiver<u64>,
) -> Spawned {
    let (tx, rx) = mpsc::unbounded_channel();
    let (live, _) = broadcast::channel(256);
    let handle = AcdHandle { tx, live };
    let driver = Driver {
        acd: Acd::new(clock.now()),
        store,
        journal,
        clock: clock.clone(),
        directory,
        calls: HashMap::new(),
        finished: Vec::new(),
        popups: HashMap::new(),
        configs: HashMap::new(),
        projection: Projection::new(day_start(clock.now())),
        live: handle.clone(),
        questions: Vec::new(),
    };
    tokio::spawn(driver.run(rx, reloaded));
    Spawned { handle }
}

struct Driver {
    acd: Acd,
    store: Store,
    journal: Journal,
    clock: Arc<dyn Clock>,
    directory: Arc<crate::directory::Directory>,
    calls: HashMap<CallId, mpsc::UnboundedSender<AcdCommand>>,
    /// Calls that ended: forgotten once their last events are written.
    finished: Vec<CallId>,
    /// Screen-pop data of queued calls.
    popups: HashMap<CallId, Popup>,
    configs: HashMap<GroupId, GroupConfig>,
    projection: Projection,
    live: AcdHandle,
    /// Questions waiting for the events before them to be committed.
    questions: Vec<AcdInput>,
}

impl Driver {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<AcdInput>,
        mut reloaded: watch::Receiver<u64>,
    ) {
        self.reload();
        self.replay_today().await;
        loop {
            let due = self.acd.poll_timeout();
            let now = self.clock.now();
            let sleep = async {
                match due {
                    Some(at) => {
                        tokio::time::sleep(Duration::from_millis(at.saturating_sub(now))).await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                input = rx.recv() => match input {
                    Some(i) => {
                        self.handle(i);
                        // What else is waiting goes into the same batch of events.
                        for _ in 0..256 {
                            match rx.try_recv() {
                                Ok(i) => self.handle(i),
                                Err(_) => break,
                            }
                        }
                    }
                    None => break,
                },
                _ = sleep => self.acd.handle_timeout(self.clock.now()),
                // Group settings are edited in the web app: the ACD takes them at once.
                changed = reloaded.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    self.reload();
                }
            }
            self.flush().await;
        }
    }

    fn reload(&mut self) {
        let config = self.directory.get();
        let now = self.clock.now();
        let mut changed = false;
        for g in config.groups() {
            let cfg = config_of(g);
            if self.configs.get(&cfg.id) != Some(&cfg) {
                self.projection.set_group(cfg.id, cfg.members.clone());
                self.configs.insert(cfg.id, cfg.clone());
                self.acd.configure_group(now, cfg);
                changed = true;
            }
        }
        if changed {
            self.live.publish(Live::Realtime);
        }
    }

    fn handle(&mut self, input: AcdInput) {
        let now = self.clock.now();
        match input {
            AcdInput::Arrived {
                call,
                group,
                orders,
                popup,
                hold_ms,
            } => {
                self.calls.insert(call, orders);
                if let Some(mut p) = popup {
                    p.group = group;
                    self.popups.insert(call, p);
                }
                self.acd
                    .handle_call_arrived_after(now, call, group, hold_ms);
            }
            AcdInput::Answered { call, agent } => self.acd.handle_agent_answered(now, call, agent),
            AcdInput::Failed { call, agent } => self.acd.handle_agent_failed(now, call, agent),
            AcdInput::CallerHangup { call } => {
                self.acd.handle_caller_hangup(now, call);
                self.finished.push(call);
            }
            AcdInput::Ended { call } => {
                self.acd.handle_call_ended(now, call);
                self.finished.push(call);
            }
            AcdInput::Forget { call } => self.finished.push(call),
            AcdInput::Online { agent, online } => {
                self.acd.handle_agent_online(now, agent, online);
                self.projection.set_agent_online(agent, online, now);
                self.announce_agent(agent);
                self.live.publish(Live::Realtime);
            }
            AcdInput::DirectCall { agent, active } => {
                self.acd.handle_direct_call(now, agent, active)
            }
            AcdInput::SetReadiness {
                agent,
                group,
                readiness,
                by,
            } => self
                .acd
                .handle_set_readiness(now, agent, group, readiness, by),
            // Answered once the events before them are committed (`flush`): what the API reads
            // back has been recorded.
            AcdInput::Status { .. } | AcdInput::Realtime { .. } => self.questions.push(input),
        }
    }

    /// Answers a question about the ACD's state.
    fn answer(&mut self, question: AcdInput) {
        let now = self.clock.now();
        match question {
            AcdInput::Status { agent, reply } => {
                reply.send(self.statuses(agent)).ok();
            }
            AcdInput::Realtime {
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
                let (detail, buckets) = match group {
                    Some(g) => (
                        self.projection.group(g),
                        Some(self.projection.buckets(g, now, hours)),
                    ),
                    None => (None, None),
                };
                reply
                    .send(live::Realtime {
                        groups: self.projection.groups(),
                        all: self.projection.all_row(),
                        now,
                        detail,
                        buckets,
                    })
                    .ok();
            }
            _ => {}
        }
    }

    fn statuses(&self, agent: AgentId) -> Vec<(GroupId, AgentStatus)> {
        let mut v: Vec<(GroupId, AgentStatus)> = self
            .configs
            .values()
            .filter(|c| c.members.iter().any(|(a, _)| *a == agent))
            .map(|c| (c.id, self.acd.status(agent, c.id)))
            .collect();
        v.sort_by_key(|(g, _)| *g);
        v
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
                            .restore_readiness(self.clock.now(), agent, group, readiness, at);
                    }
                }
            }
        }
        self.projection.calls_ended_by_restart();
    }

    /// Pushes an agent's status in each of their groups to the subscribers.
    fn announce_agent(&self, agent: AgentId) {
        self.live.publish(Live::AgentStatus {
            agent,
            statuses: self
                .statuses(agent)
                .into_iter()
                .map(|(group, status)| live::GroupStatus { group, status })
                .collect(),
        });
    }

    /// Hands commands to their calls and records the events. The events are committed before
    /// the ACD answers anything else: a status an agent or a supervisor set is durable once the
    /// API has it confirmed.
    async fn flush(&mut self) {
        while let Some(cmd) = self.acd.poll_command() {
            let (call, what) = match cmd {
                Command::Ring { call, agent } => (call, AcdCommand::Ring(agent)),
                Command::StopRinging { call, agent } => (call, AcdCommand::Stop(agent)),
                Command::Connect { call, agent } => (call, AcdCommand::Connect(agent)),
                Command::Divert { call, target } => (call, AcdCommand::Divert(target)),
                // The session plays what the caller hears from the start.
                Command::StartWaiting { .. } => continue,
            };
            // The call reports its end in every case (also after a divert); the entry stays
            // until then so that late events still reach it.
            if let Some(orders) = self.calls.get(&call) {
                orders.send(what).ok();
            }
            // The ringing agent's screen shows who calls (the incoming-call pop-up), and the
            // answering agent's opens the answer pop-up (NUM-08, AGENT-16).
            if let Some(p) = self.popups.get(&call) {
                let popup = p.clone();
                match what {
                    AcdCommand::Ring(agent) => {
                        self.live.publish(Live::IncomingCall { agent, call, popup })
                    }
                    AcdCommand::Connect(agent) => {
                        self.live.publish(Live::CallAnswered { agent, call, popup })
                    }
                    _ => {}
                }
            }
        }
        let mut batch = Vec::new();
        while let Some(e) = self.acd.poll_event() {
            batch.push(e);
        }
        let mut writes = Vec::with_capacity(batch.len());
        if !batch.is_empty() {
            self.roll_day(self.clock.now());
            let mut agents = Vec::new();
            for e in &batch {
                self.projection.apply_queue_event(e);
                let (kind, call, agent, group, at) = describe(e);
                if let Some(agent) = agent {
                    if !agents.contains(&agent) {
                        agents.push(agent);
                    }
                }
                let mut ev = Event::new(
                    i64::try_from(at).unwrap_or(i64::MAX),
                    kind,
                    serde_json::to_value(e).unwrap_or_default(),
                )
                .agent(agent)
                .group(group);
                if let Some(c) = call.and_then(|c| i64::try_from(c).ok()) {
                    ev = ev.call(c);
                }
                writes.push(store::journal::Write::Event(ev));
            }
            for agent in agents {
                self.announce_agent(agent);
            }
            self.live.publish(Live::Realtime);
            self.gauges();
        }
        if !writes.is_empty() {
            if let Err(e) = self.journal.commit(writes).await {
                tracing::error!(error = %e, "could not record queue events");
            }
        }
        for call in self.finished.drain(..) {
            self.calls.remove(&call);
            self.popups.remove(&call);
        }
        for q in std::mem::take(&mut self.questions) {
            self.answer(q);
        }
    }

    /// Queue and agent gauges per group, for `/metrics`.
    fn gauges(&self) {
        for row in self.projection.groups() {
            let Some(id) = row.group else { continue };
            let group = id.to_string();
            metrics::gauge!("tsunagu_queue_waiting", "group" => group.clone())
                .set(row.waiting as f64);
            for (state, n) in [
                ("available", row.available),
                ("on_call", row.on_call),
                ("paused", row.paused),
                (
                    "offline",
                    row.agents_total.saturating_sub(row.agents_online),
                ),
            ] {
                metrics::gauge!("tsunagu_agents", "group" => group.clone(), "state" => state)
                    .set(n as f64);
            }
        }
    }
}

fn describe(
    e: &QueueEvent,
) -> (
    &'static str,
    Option<CallId>,
    Option<AgentId>,
    Option<GroupId>,
    u64,
) {
    match *e {
        QueueEvent::Entered { call, group, at } => {
            ("queue.entered", Some(call), None, Some(group), at)
        }
        QueueEvent::Rang {
            call,
            group,
            agent,
            at,
        } => ("queue.rang", Some(call), Some(agent), Some(group), at),
        QueueEvent::NoAnswer {
            call,
            group,
            agent,
            at,
        } => ("queue.no_answer", Some(call), Some(agent), Some(group), at),
        QueueEvent::Answered {
            call,
            group,
            agent,
            at,
            ..
        } => ("queue.answered", Some(call), Some(agent), Some(group), at),
        QueueEvent::Abandoned {
            call, group, at, ..
        } => ("queue.abandoned", Some(call), None, Some(group), at),
        QueueEvent::Overflowed { call, group, at } => {
            ("queue.overflowed", Some(call), None, Some(group), at)
        }
        QueueEvent::TimedOut {
            call, group, at, ..
        } => ("queue.timed_out", Some(call), None, Some(group), at),
        QueueEvent::Completed {
            call,
            group,
            agent,
            at,
            ..
        } => ("queue.completed", Some(call), Some(agent), Some(group), at),
        QueueEvent::AgentStatus {
            agent, group, at, ..
        } => ("agent.status", None, Some(agent), group, at),
        QueueEvent::DirectCall { agent, at, .. } => {
            ("agent.direct_call", None, Some(agent), None, at)
        }
    }
}
