//! The ACD: calls queued in groups, offered to agents by the group's ring strategy and skill
//! levels, with every GROUP limit and timer (GROUP-04…23) and the agent states they drive.
//!
//! Sans-IO like `call::Call`: the driver reports what happened (`handle_*`) with the current
//! time, carries out `poll_command`, records `poll_event` in the event log and wakes the engine
//! at `poll_timeout`. Everything is deterministic for a given seed, so a queue can be tested
//! to the millisecond and a day of traffic simulated in seconds. How the ambiguous parts of the
//! manual were read is written down in `docs/acd.md`.

use crate::agent_state::{
    Activity, AgentId, AgentState, AgentStatus, ChangedBy, GroupId, Pause, Readiness, StatusId,
};
use crate::clock::Millis;
use crate::rng::Rng;
use crate::{RingStrategy, RouteTarget};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

pub type CallId = u64;

/// The settings of one group the ACD needs (GROUP-04…23).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    pub id: GroupId,
    pub strategy: RingStrategy,
    /// Members with their skill level (lower rings first).
    pub members: Vec<(AgentId, i64)>,
    pub max_answering: usize,
    pub max_waiting: usize,
    /// Where calls go when the queue is full; `None` = busy.
    pub overflow: Option<RouteTarget>,
    /// From arrival; `None` = no limit.
    pub timeout_ms: Option<Millis>,
    pub timeout_target: Option<RouteTarget>,
    pub ring_ms: Millis,
    pub queue_start_delay_ms: Millis,
    pub no_answer_pause: bool,
    /// 0 = the pause is never released automatically.
    pub no_answer_pause_ms: Millis,
    /// ACW status and its duration (0 = never released automatically).
    pub acw: Option<(StatusId, Millis)>,
}

impl GroupConfig {
    /// A group with the manual's defaults.
    pub fn new(id: GroupId, members: Vec<(AgentId, i64)>) -> GroupConfig {
        GroupConfig {
            id,
            strategy: RingStrategy::RingAll,
            members,
            max_answering: 99,
            max_waiting: 99,
            overflow: None,
            timeout_ms: Some(300_000),
            timeout_target: None,
            ring_ms: 20_000,
            queue_start_delay_ms: 0,
            no_answer_pause: false,
            no_answer_pause_ms: 0,
            acw: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Ring this agent's phones for this call.
    Ring { call: CallId, agent: AgentId },
    /// Stop ringing this agent for this call.
    StopRinging { call: CallId, agent: AgentId },
    /// The agent answered: connect them to the caller.
    Connect { call: CallId, agent: AgentId },
    /// The call leaves the group: to another destination, or busy when `None`.
    Divert {
        call: CallId,
        target: Option<RouteTarget>,
    },
    /// The queue-start delay is over: the caller now waits (announcements, music).
    StartWaiting { call: CallId },
}

/// Every queue step, for the event log and the realtime projection (RT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueueEvent {
    Entered {
        call: CallId,
        group: GroupId,
        at: Millis,
    },
    Rang {
        call: CallId,
        group: GroupId,
        agent: AgentId,
        at: Millis,
    },
    NoAnswer {
        call: CallId,
        group: GroupId,
        agent: AgentId,
        at: Millis,
    },
    Answered {
        call: CallId,
        group: GroupId,
        agent: AgentId,
        wait_ms: Millis,
        at: Millis,
    },
    Abandoned {
        call: CallId,
        group: GroupId,
        wait_ms: Millis,
        at: Millis,
    },
    Overflowed {
        call: CallId,
        group: GroupId,
        at: Millis,
    },
    TimedOut {
        call: CallId,
        group: GroupId,
        wait_ms: Millis,
        at: Millis,
    },
    Completed {
        call: CallId,
        group: GroupId,
        agent: AgentId,
        talk_ms: Millis,
        at: Millis,
    },
    AgentStatus {
        agent: AgentId,
        /// `None` = every group (the white tag, STATUS-05).
        group: Option<GroupId>,
        readiness: Readiness,
        by: ChangedBy,
        at: Millis,
    },
    /// A call outside the queues (direct to the agent, internal, outbound) started or ended
    /// for the agent: while one lasts, queue calls pass them by.
    DirectCall {
        agent: AgentId,
        active: bool,
        at: Millis,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Ringing only, not yet counted as waiting (queue-start delay, GROUP-19).
    Presenting,
    Waiting,
    Connected(AgentId),
}

#[derive(Debug, Clone)]
struct QueuedCall {
    group: GroupId,
    arrived: Millis,
    phase: Phase,
    /// Agents being rung, with the time their ring ends.
    ringing: Vec<(AgentId, Millis)>,
    /// Agents who missed this call in the current round.
    tried: HashSet<AgentId>,
    /// For ring-all: the skill level being rung.
    level: Option<i64>,
    answered_at: Millis,
    /// Not offered to agents before this time (the caller hears the greeting first).
    held_until: Option<Millis>,
}

#[derive(Debug, Default, Clone)]
struct GroupRuntime {
    /// Round-robin position: the member index to try first next time.
    rr_next: usize,
    /// Smooth weighted round robin state for level-ratio distribution.
    swrr: HashMap<AgentId, i64>,
    connected: usize,
}

#[derive(Debug)]
pub struct Acd {
    groups: BTreeMap<GroupId, (GroupConfig, GroupRuntime)>,
    agents: HashMap<AgentId, AgentState>,
    calls: BTreeMap<CallId, QueuedCall>,
    rng: Rng,
    commands: VecDeque<Command>,
    events: VecDeque<QueueEvent>,
}

impl Acd {
    pub fn new(seed: u64) -> Acd {
        Acd {
            groups: BTreeMap::new(),
            agents: HashMap::new(),
            calls: BTreeMap::new(),
            rng: Rng::seeded(seed),
            commands: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<QueueEvent> {
        self.events.pop_front()
    }

    /// The earliest time something is due: a ring ending, a timeout, a delay, a release.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let calls = self.calls.values().flat_map(|c| {
            let g = self.groups.get(&c.group).map(|(cfg, _)| cfg);
            let timeout = match c.phase {
                Phase::Connected(_) => None,
                _ => g.and_then(|g| g.timeout_ms).map(|t| c.arrived + t),
            };
            let delay = match c.phase {
                Phase::Presenting => g.map(|g| c.arrived + g.queue_start_delay_ms),
                _ => None,
            };
            c.ringing
                .iter()
                .map(|(_, d)| *d)
                .chain(timeout)
                .chain(delay)
                .chain(c.held_until)
        });
        let releases = self
            .agents
            .values()
            .flat_map(|a| a.readiness.iter().filter_map(|(_, _, at)| *at));
        calls.chain(releases).min()
    }

    /// Adds or changes a group live (members and skill levels are edited on the RT screen).
    pub fn configure_group(&mut self, now: Millis, cfg: GroupConfig) {
        for (a, _) in &cfg.members {
            self.agents.entry(*a).or_insert_with(AgentState::new);
        }
        let rt = self
            .groups
            .remove(&cfg.id)
            .map(|(_, rt)| rt)
            .unwrap_or_default();
        self.groups.insert(cfg.id, (cfg, rt));
        self.dispatch(now);
    }

    pub fn status(&self, agent: AgentId, group: GroupId) -> AgentStatus {
        self.agents
            .get(&agent)
            .map(|a| a.status(group))
            .unwrap_or(AgentStatus::Offline)
    }

    /// Calls waiting in a group (not yet answered), oldest first, with their arrival time.
    pub fn waiting(&self, group: GroupId) -> Vec<(CallId, Millis)> {
        self.calls
            .iter()
            .filter(|(_, c)| c.group == group && !matches!(c.phase, Phase::Connected(_)))
            .map(|(id, c)| (*id, c.arrived))
            .collect()
    }

    /// The agent's phone registered or unregistered (STATUS-02).
    pub fn handle_agent_online(&mut self, now: Millis, agent: AgentId, online: bool) {
        let a = self.agents.entry(agent).or_insert_with(AgentState::new);
        if a.online == online {
            return;
        }
        a.online = online;
        if online {
            self.dispatch(now);
        } else {
            // Whatever was ringing there stops; the call looks for someone else.
            let ringing: Vec<CallId> = self
                .calls
                .iter()
                .filter(|(_, c)| c.ringing.iter().any(|(r, _)| *r == agent))
                .map(|(id, _)| *id)
                .collect();
            for call in ringing {
                self.stop_ringing(call, agent, false);
            }
            self.dispatch(now);
        }
    }

    /// An agent or a supervisor sets readiness for one group, or all (`group = None`).
    pub fn handle_set_readiness(
        &mut self,
        now: Millis,
        agent: AgentId,
        group: Option<GroupId>,
        r: Readiness,
        by: ChangedBy,
    ) {
        let groups: Vec<GroupId> = match group {
            Some(g) => vec![g],
            None => self.groups_of(agent),
        };
        let a = self.agents.entry(agent).or_insert_with(AgentState::new);
        for g in &groups {
            a.set_readiness(*g, r, None);
        }
        self.events.push_back(QueueEvent::AgentStatus {
            agent,
            group,
            readiness: r,
            by,
            at: now,
        });
        self.dispatch(now);
    }

    /// Restores a status change read back from the event log after a restart: silently (it is
    /// not a new change), and with the automatic release it would have had. A pause whose
    /// release time has passed meanwhile is not restored.
    pub fn restore_readiness(
        &mut self,
        now: Millis,
        agent: AgentId,
        group: Option<GroupId>,
        r: Readiness,
        at: Millis,
    ) {
        let groups: Vec<GroupId> = match group {
            Some(g) => vec![g],
            None => self.groups_of(agent),
        };
        for g in groups {
            let release_ms = match r {
                Readiness::Paused(Pause::NoAnswer) => self
                    .groups
                    .get(&g)
                    .map_or(0, |(cfg, _)| cfg.no_answer_pause_ms),
                // ACW is set in every group from the config of the group whose call ended;
                // the log does not say which, so the longest ACW of that status applies.
                Readiness::Paused(Pause::Acw(status)) => self
                    .groups
                    .values()
                    .filter_map(|(cfg, _)| cfg.acw.filter(|(s, _)| *s == status).map(|(_, ms)| ms))
                    .max()
                    .unwrap_or(0),
                _ => 0,
            };
            let release = (release_ms > 0).then_some(at + release_ms);
            if release.is_some_and(|t| t <= now) {
                continue;
            }
            let a = self.agents.entry(agent).or_insert_with(AgentState::new);
            a.set_readiness(g, r, release);
        }
    }

    /// The agent is on (or no longer on) a call that did not come through a queue: an agent
    /// is never offered a queue call while on another call.
    pub fn handle_direct_call(&mut self, now: Millis, agent: AgentId, active: bool) {
        self.agents
            .entry(agent)
            .or_insert_with(AgentState::new)
            .direct_call(active);
        self.events.push_back(QueueEvent::DirectCall {
            agent,
            active,
            at: now,
        });
        if !active {
            self.dispatch(now);
        }
    }

    fn groups_of(&self, agent: AgentId) -> Vec<GroupId> {
        self.groups
            .values()
            .filter(|(cfg, _)| cfg.members.iter().any(|(a, _)| *a == agent))
            .map(|(cfg, _)| cfg.id)
            .collect()
    }

    /// A call enters a group's queue.
    pub fn handle_call_arrived(&mut self, now: Millis, call: CallId, group: GroupId) {
        self.handle_call_arrived_after(now, call, group, 0);
    }

    /// A call enters a group's queue but is offered to agents only `hold_ms` later: the caller
    /// hears the group's greeting first (GROUP-24). It counts as waiting from now (its timeout
    /// and wait time run), and the queue limits apply now.
    pub fn handle_call_arrived_after(
        &mut self,
        now: Millis,
        call: CallId,
        group: GroupId,
        hold_ms: Millis,
    ) {
        let Some((cfg, _)) = self.groups.get(&group) else {
            self.commands
                .push_back(Command::Divert { call, target: None });
            return;
        };
        let (max_waiting, overflow, delay) =
            (cfg.max_waiting, cfg.overflow, cfg.queue_start_delay_ms);
        let queued = self.waiting(group).len();
        let free_agent = self.candidates(group, &HashSet::new()).next().is_some();
        // GROUP-13/14: with nobody free and the queue full, the call overflows.
        if !free_agent && queued >= max_waiting {
            self.events.push_back(QueueEvent::Overflowed {
                call,
                group,
                at: now,
            });
            self.commands.push_back(Command::Divert {
                call,
                target: overflow,
            });
            return;
        }
        self.events.push_back(QueueEvent::Entered {
            call,
            group,
            at: now,
        });
        let phase = if delay == 0 {
            self.commands.push_back(Command::StartWaiting { call });
            Phase::Waiting
        } else {
            Phase::Presenting
        };
        self.calls.insert(
            call,
            QueuedCall {
                group,
                arrived: now,
                phase,
                ringing: Vec::new(),
                tried: HashSet::new(),
                level: None,
                answered_at: 0,
                held_until: (hold_ms > 0).then_some(now + hold_ms),
            },
        );
        self.dispatch(now);
    }

    /// An agent answered their ringing phone.
    pub fn handle_agent_answered(&mut self, now: Millis, call: CallId, agent: AgentId) {
        let Some(c) = self.calls.get_mut(&call) else {
            // The call is gone (abandoned, answered elsewhere): that leg must be dropped.
            self.commands
                .push_back(Command::StopRinging { call, agent });
            return;
        };
        if !c.ringing.iter().any(|(a, _)| *a == agent) || matches!(c.phase, Phase::Connected(_)) {
            self.commands
                .push_back(Command::StopRinging { call, agent });
            return;
        }
        let others: Vec<AgentId> = c
            .ringing
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| *a != agent)
            .collect();
        c.ringing.clear();
        c.phase = Phase::Connected(agent);
        c.answered_at = now;
        let (group, wait_ms) = (c.group, now - c.arrived);
        for other in others {
            self.set_activity(other, Activity::Idle);
            self.commands
                .push_back(Command::StopRinging { call, agent: other });
        }
        self.set_activity(agent, Activity::OnCall(call));
        if let Some((_, rt)) = self.groups.get_mut(&group) {
            rt.connected += 1;
        }
        self.commands.push_back(Command::Connect { call, agent });
        self.events.push_back(QueueEvent::Answered {
            call,
            group,
            agent,
            wait_ms,
            at: now,
        });
        self.dispatch(now);
    }

    /// The agent's phone refused or could not be reached (busy, declined, error): the same as
    /// not answering.
    pub fn handle_agent_failed(&mut self, now: Millis, call: CallId, agent: AgentId) {
        if self
            .calls
            .get(&call)
            .is_some_and(|c| c.ringing.iter().any(|(a, _)| *a == agent))
        {
            self.no_answer(now, call, agent);
            self.dispatch(now);
        }
    }

    pub fn handle_hold(&mut self, call: CallId, held: bool) {
        if let Some(Phase::Connected(agent)) = self.calls.get(&call).map(|c| c.phase) {
            self.set_activity(
                agent,
                if held {
                    Activity::OnHold(call)
                } else {
                    Activity::OnCall(call)
                },
            );
        }
    }

    /// The caller hung up: before the answer an abandon, after it the end of the call.
    pub fn handle_caller_hangup(&mut self, now: Millis, call: CallId) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        match c.phase {
            Phase::Connected(_) => self.handle_call_ended(now, call),
            _ => {
                let (group, wait_ms) = (c.group, now - c.arrived);
                self.remove_waiting(call);
                self.events.push_back(QueueEvent::Abandoned {
                    call,
                    group,
                    wait_ms,
                    at: now,
                });
                self.dispatch(now);
            }
        }
    }

    /// An answered call ended (either side hung up): talk time, then ACW if the group says so.
    pub fn handle_call_ended(&mut self, now: Millis, call: CallId) {
        let Some(c) = self.calls.remove(&call) else {
            return;
        };
        let Phase::Connected(agent) = c.phase else {
            self.calls.insert(call, c);
            return self.handle_caller_hangup(now, call);
        };
        let talk_ms = now - c.answered_at;
        let acw = match self.groups.get_mut(&c.group) {
            Some((cfg, rt)) => {
                rt.connected = rt.connected.saturating_sub(1);
                cfg.acw
            }
            None => None,
        };
        if let Some(a) = self.agents.get_mut(&agent) {
            a.activity = Activity::Idle;
            a.last_call_end = now;
            a.talk_ms += talk_ms;
            a.calls += 1;
        }
        self.events.push_back(QueueEvent::Completed {
            call,
            group: c.group,
            agent,
            talk_ms,
            at: now,
        });
        // ACW is after-call work: the agent is busy for every group they are available in,
        // not just this one. A pause they chose in another group stays as it is (and is not
        // turned into Available when the ACW ends).
        if let Some((status, ms)) = acw {
            let release = (ms > 0).then_some(now + ms);
            let r = Readiness::Paused(Pause::Acw(status));
            for g in self.groups_of(agent) {
                let Some(a) = self.agents.get_mut(&agent) else {
                    continue;
                };
                if a.readiness(g) != Readiness::Available {
                    continue;
                }
                a.set_readiness(g, r, release);
                self.events.push_back(QueueEvent::AgentStatus {
                    agent,
                    group: Some(g),
                    readiness: r,
                    by: ChangedBy::System,
                    at: now,
                });
            }
        }
        self.dispatch(now);
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        // Automatic releases (no-answer pause, ACW).
        let mut released = Vec::new();
        for (id, a) in self.agents.iter_mut() {
            for (g, r, at) in a.readiness.iter_mut() {
                if at.is_some_and(|t| t <= now) {
                    *r = Readiness::Available;
                    *at = None;
                    released.push((*id, *g));
                }
            }
        }
        released.sort_unstable();
        for (agent, group) in released {
            self.events.push_back(QueueEvent::AgentStatus {
                agent,
                group: Some(group),
                readiness: Readiness::Available,
                by: ChangedBy::System,
                at: now,
            });
        }
        for c in self.calls.values_mut() {
            if c.held_until.is_some_and(|t| t <= now) {
                c.held_until = None;
            }
        }
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for call in ids {
            let Some(c) = self.calls.get(&call) else {
                continue;
            };
            let Some((cfg, _)) = self.groups.get(&c.group) else {
                continue;
            };
            if matches!(c.phase, Phase::Connected(_)) {
                continue;
            }
            let (group, arrived) = (c.group, c.arrived);
            // GROUP-15/16: too long without an agent.
            if let Some(t) = cfg.timeout_ms {
                if now >= arrived + t {
                    let target = cfg.timeout_target;
                    self.remove_waiting(call);
                    self.events.push_back(QueueEvent::TimedOut {
                        call,
                        group,
                        wait_ms: now - arrived,
                        at: now,
                    });
                    self.commands.push_back(Command::Divert { call, target });
                    continue;
                }
            }
            if c.phase == Phase::Presenting && now >= arrived + cfg.queue_start_delay_ms {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.phase = Phase::Waiting;
                }
                self.commands.push_back(Command::StartWaiting { call });
            }
            let expired: Vec<AgentId> = self
                .calls
                .get(&call)
                .map(|c| {
                    c.ringing
                        .iter()
                        .filter(|(_, d)| *d <= now)
                        .map(|(a, _)| *a)
                        .collect()
                })
                .unwrap_or_default();
            for agent in expired {
                self.no_answer(now, call, agent);
            }
        }
        self.dispatch(now);
    }

    /// An agent let the call ring out (or refused it).
    fn no_answer(&mut self, now: Millis, call: CallId, agent: AgentId) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let group = c.group;
        self.stop_ringing(call, agent, true);
        self.events.push_back(QueueEvent::NoAnswer {
            call,
            group,
            agent,
            at: now,
        });
        let Some((cfg, _)) = self.groups.get(&group) else {
            return;
        };
        if cfg.no_answer_pause {
            let release = (cfg.no_answer_pause_ms > 0).then_some(now + cfg.no_answer_pause_ms);
            let r = Readiness::Paused(Pause::NoAnswer);
            if let Some(a) = self.agents.get_mut(&agent) {
                a.set_readiness(group, r, release);
            }
            self.events.push_back(QueueEvent::AgentStatus {
                agent,
                group: Some(group),
                readiness: r,
                by: ChangedBy::System,
                at: now,
            });
        }
    }

    fn stop_ringing(&mut self, call: CallId, agent: AgentId, missed: bool) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.ringing.retain(|(a, _)| *a != agent);
            if missed {
                c.tried.insert(agent);
            }
        }
        self.set_activity(agent, Activity::Idle);
        self.commands
            .push_back(Command::StopRinging { call, agent });
    }

    fn remove_waiting(&mut self, call: CallId) {
        if let Some(c) = self.calls.remove(&call) {
            for (agent, _) in c.ringing {
                self.set_activity(agent, Activity::Idle);
                self.commands
                    .push_back(Command::StopRinging { call, agent });
            }
        }
    }

    fn set_activity(&mut self, agent: AgentId, act: Activity) {
        if let Some(a) = self.agents.get_mut(&agent) {
            a.activity = act;
        }
    }

    /// Members who could be rung for a call of `group` right now, excluding `skip`, with
    /// their skill level.
    fn candidates<'a>(
        &'a self,
        group: GroupId,
        skip: &'a HashSet<AgentId>,
    ) -> impl Iterator<Item = (AgentId, i64)> + 'a {
        self.groups
            .get(&group)
            .into_iter()
            .flat_map(move |(cfg, _)| {
                cfg.members.iter().copied().filter(move |(a, _)| {
                    !skip.contains(a) && self.agents.get(a).is_some_and(|s| s.can_take(group))
                })
            })
    }

    /// Offers waiting calls to free agents, oldest call first.
    fn dispatch(&mut self, now: Millis) {
        let mut order: Vec<(Millis, CallId)> = self
            .calls
            .iter()
            .filter(|(_, c)| !matches!(c.phase, Phase::Connected(_)))
            .map(|(id, c)| (c.arrived, *id))
            .collect();
        order.sort_unstable();
        for (_, call) in order {
            self.offer(now, call);
        }
    }

    fn offer(&mut self, now: Millis, call: CallId) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.held_until.is_some() {
            return;
        }
        let group = c.group;
        let Some((cfg, rt)) = self.groups.get(&group) else {
            return;
        };
        if rt.connected >= cfg.max_answering {
            return;
        }
        let strategy = cfg.strategy;
        let ring_ms = cfg.ring_ms;
        if strategy == RingStrategy::RingAll {
            self.offer_ring_all(now, call, group, ring_ms);
            return;
        }
        if !c.ringing.is_empty() {
            return;
        }
        let tried = c.tried.clone();
        let mut pool: Vec<(AgentId, i64)> = self.candidates(group, &HashSet::new()).collect();
        if pool.is_empty() {
            return;
        }
        // GROUP-11: only the lowest level that has someone free is considered, and a call never
        // moves up a level because nobody there answered (see docs/acd.md). Level ratio is the
        // exception: levels are its weights.
        if strategy != RingStrategy::LevelRatio {
            let lowest = pool.iter().map(|(_, l)| *l).min().unwrap_or(0);
            pool.retain(|(_, l)| *l == lowest);
        }
        let untried: Vec<(AgentId, i64)> = pool
            .iter()
            .copied()
            .filter(|(a, _)| !tried.contains(a))
            .collect();
        let pool = if untried.is_empty() {
            // Everyone there has missed this call once: a new round.
            if let Some(c) = self.calls.get_mut(&call) {
                c.tried.clear();
            }
            pool
        } else {
            untried
        };
        let Some(agent) = self.choose(group, strategy, &pool) else {
            return;
        };
        self.ring(now, call, group, agent, ring_ms);
    }

    /// Ring all: every free agent of one level at once, levels in ascending order; after a
    /// ring time with no answer the next level is rung, then the first again.
    fn offer_ring_all(&mut self, now: Millis, call: CallId, group: GroupId, ring_ms: Millis) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let level = c.level;
        let ringing_now = !c.ringing.is_empty();
        let pool: Vec<(AgentId, i64)> = self.candidates(group, &HashSet::new()).collect();
        let mut levels: Vec<i64> = pool.iter().map(|(_, l)| *l).collect();
        levels.sort_unstable();
        levels.dedup();
        let Some(first) = levels.first().copied() else {
            return;
        };
        let current = match level {
            None => first,
            Some(l) if ringing_now => l,
            // The level's ring ended unanswered: the next level up, or back to the lowest.
            Some(l) => levels.iter().copied().find(|x| *x > l).unwrap_or(first),
        };
        if let Some(c) = self.calls.get_mut(&call) {
            c.level = Some(current);
        }
        for (agent, _) in pool.into_iter().filter(|(_, l)| *l == current) {
            self.ring(now, call, group, agent, ring_ms);
        }
    }

    fn ring(&mut self, now: Millis, call: CallId, group: GroupId, agent: AgentId, ring_ms: Millis) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.ringing.push((agent, now + ring_ms));
        }
        self.set_activity(agent, Activity::Ringing(call));
        self.commands.push_back(Command::Ring { call, agent });
        self.events.push_back(QueueEvent::Rang {
            call,
            group,
            agent,
            at: now,
        });
    }

    /// One agent from `pool` (non-empty, one level unless level ratio) per the strategy.
    fn choose(
        &mut self,
        group: GroupId,
        strategy: RingStrategy,
        pool: &[(AgentId, i64)],
    ) -> Option<AgentId> {
        match strategy {
            RingStrategy::RingAll => pool.first().map(|(a, _)| *a),
            RingStrategy::LongestIdle => pool
                .iter()
                .min_by_key(|(a, _)| (self.agents.get(a).map(|s| s.last_call_end).unwrap_or(0), *a))
                .map(|(a, _)| *a),
            RingStrategy::ShortestTalk => pool
                .iter()
                .min_by_key(|(a, _)| (self.agents.get(a).map(|s| s.talk_ms).unwrap_or(0), *a))
                .map(|(a, _)| *a),
            RingStrategy::Random => {
                let i = self.rng.below(pool.len());
                pool.get(i).map(|(a, _)| *a)
            }
            RingStrategy::RoundRobin => {
                let (cfg, rt) = self.groups.get_mut(&group)?;
                let n = cfg.members.len();
                // The first member from the turn position on, in member order, who is in the pool.
                let pick = (0..n).map(|k| (rt.rr_next + k) % n).find(|i| {
                    pool.iter()
                        .any(|(a, _)| Some(*a) == cfg.members.get(*i).map(|m| m.0))
                })?;
                rt.rr_next = (pick + 1) % n;
                cfg.members.get(pick).map(|m| m.0)
            }
            RingStrategy::LevelRatio => {
                // Smooth weighted round robin: over time each agent gets calls in proportion to
                // their level (a level below 1 counts as 1).
                let (_, rt) = self.groups.get_mut(&group)?;
                let total: i64 = pool.iter().map(|(_, l)| (*l).max(1)).sum();
                for (a, l) in pool {
                    *rt.swrr.entry(*a).or_insert(0) += (*l).max(1);
                }
                let best = pool
                    .iter()
                    .map(|(a, _)| *a)
                    .max_by_key(|a| (rt.swrr.get(a).copied().unwrap_or(0), -*a))?;
                if let Some(w) = rt.swrr.get_mut(&best) {
                    *w -= total;
                }
                Some(best)
            }
        }
    }
}
