//! The realtime projection (RT-01…12): the supervisor's live view of every group, built only
//! from the ACD's `QueueEvent`s plus the two inputs the event log does not carry (group
//! membership and phone registration).
//!
//! Sans-IO like the rest of the engine: no clock, time comes in with the inputs (`at`,
//! milliseconds on the driver's clock). The projection is a pure function of its input
//! sequence, so after a restart it is rebuilt by replaying the log (`Projection::replay`) and
//! gives the same numbers.
//!
//! # Definitions (FEATURES §2 glossary, RT-02)
//!
//! - **Incoming** = calls that arrived in the group: every `Entered` plus every `Overflowed`
//!   (an overflowed call did reach the group; it is counted as overflow). A call still waiting
//!   counts as incoming from the moment it arrives, so the answer rate can drop while calls
//!   wait and rise again when they are answered.
//! - **Answered / Abandoned / Timeout / Overflow** = `Answered` / `Abandoned` / `TimedOut` /
//!   `Overflowed` events. Every outcome is counted in the day (and the chart bucket) in which
//!   *the call arrived* (`at - wait_ms`), so answered + abandoned + overflow + timeout ≤
//!   incoming always holds and the rate never exceeds 100 %, also across midnight.
//! - **Answer rate** = answered ÷ incoming × 100; `None` when nothing came in (`-` on screen).
//! - Calls refused by channel limits never reach the ACD and so produce no event: they are
//!   counted nowhere (glossary "Channel-limit rejection", RT-12).
//! - **Agents** = online members / all members; **on call** counts ringing, on-call and on-hold
//!   members; available and paused are the idle online members by their readiness in the
//!   group. online = on call + available + paused.
//!
//! Agent status is derived exactly as `agent_state::AgentState::status` does in the ACD:
//! activity from `Rang` / `NoAnswer` / `Answered` / `Abandoned` / `TimedOut` / `Completed`
//! (hold is not evented yet), readiness from `AgentStatus` (group `None` = every group the agent
//! is a member of *at that moment*), Offline while the phone is unregistered.
//!
//! # The day and the chart
//!
//! Counters and per-agent "calls today" cover the business day starting at `day_start_ms`.
//! The driver calls `roll_day` when the next day starts, *before* feeding any input of the new
//! day; then the counters equal a recount of the calls that arrived at or after the day start,
//! and `Projection::new(today_start)` fed the whole log (including yesterday's inputs) gives the
//! same numbers as a projection that ran through midnight. The chart keeps 5-minute buckets on
//! the clock's 5-minute boundaries for the last 24 hours (pruned as time advances) and sums them
//! into hour windows aligned like the day start (a business day starting at :30 gives :30
//! windows).

use crate::acd::{CallId, QueueEvent};
use crate::agent_state::{Activity, AgentId, AgentState, AgentStatus, GroupId, Pause};
use crate::clock::Millis;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub const FIVE_MINUTES_MS: Millis = 300_000;
pub const HOUR_MS: Millis = 3_600_000;
pub const DAY_MS: Millis = 86_400_000;

/// One input of the projection: what the event log must hold to rebuild it exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "input", content = "data", rename_all = "snake_case")]
pub enum Input {
    Queue(QueueEvent),
    /// A group was added or its members / skill levels changed.
    GroupSet {
        group: GroupId,
        members: Vec<(AgentId, i64)>,
    },
    GroupRemoved {
        group: GroupId,
    },
    /// The agent's phone registered or unregistered.
    Online {
        agent: AgentId,
        online: bool,
        at: Millis,
    },
    DayRolled {
        day_start_ms: Millis,
    },
}

/// Call counts of a group over some period (a day or a chart bucket).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Counts {
    /// Every call that arrived: entered the queue or overflowed.
    pub incoming: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub overflow: u64,
    pub timeout: u64,
}

impl Counts {
    /// answered ÷ incoming × 100; `None` when nothing came in.
    pub fn answer_rate_pct(&self) -> Option<f64> {
        (self.incoming > 0).then(|| self.answered as f64 * 100.0 / self.incoming as f64)
    }

    fn add(&mut self, o: &Counts) {
        self.incoming += o.incoming;
        self.answered += o.answered;
        self.abandoned += o.abandoned;
        self.overflow += o.overflow;
        self.timeout += o.timeout;
    }
}

/// One line of the group table (RT-02). `group` is `None` for the "All" row (RT-03).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = RealtimeRow))]
pub struct GroupRow {
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub group: Option<GroupId>,
    /// The answer rate's denominator (not a column of its own).
    pub incoming: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub overflow: u64,
    pub timeout: u64,
    /// `None` when no call came in today.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub answer_rate_pct: Option<f64>,
    pub agents_online: usize,
    pub agents_total: usize,
    /// Ringing + on call + on hold.
    pub on_call: usize,
    pub available: usize,
    pub paused: usize,
    pub waiting: usize,
}

/// A call in the waiting-call list (RT-08): waiting time = now − `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = RealtimeWaiting))]
pub struct WaitingCall {
    pub call: CallId,
    pub since: Millis,
}

/// A line of the agent list (RT-09).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = RealtimeAgent))]
pub struct AgentRow {
    pub agent: AgentId,
    pub status: AgentStatus,
    pub skill_level: i64,
    /// Talk time of the agent's most recent completed call (any group, any day); `None` =
    /// `--:--:--`.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub last_call_ms: Option<Millis>,
    /// Calls the agent answered today (any group), counted at the answer.
    pub calls_today: u64,
}

/// A slice of the pie chart (RT-07).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = RealtimeStatusCount))]
pub struct StatusCount {
    pub status: AgentStatus,
    pub count: usize,
}

/// A group's detail view (RT-05…09).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = RealtimeDetail))]
pub struct GroupDetail {
    pub row: GroupRow,
    /// Oldest first.
    pub waiting: Vec<WaitingCall>,
    /// In member order.
    pub agents: Vec<AgentRow>,
    /// Non-zero statuses only, in a fixed order (available, ringing, on call, on hold, the
    /// pause kinds, offline).
    pub status_counts: Vec<StatusCount>,
}

/// A bar of the chart (RT-06): calls that arrived in `[start, start + width)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = RealtimeBucket))]
pub struct Bucket {
    pub start: Millis,
    pub incoming: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// Percent, answered ÷ incoming; `None` when nothing came in.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub answer_rate: Option<f64>,
}

#[derive(Debug, Clone, Default)]
struct Group {
    members: Vec<(AgentId, i64)>,
    today: Counts,
    /// Call → arrival.
    waiting: HashMap<CallId, Millis>,
    /// 5-minute bucket start → counts of the calls that arrived in it.
    buckets: BTreeMap<Millis, Counts>,
}

#[derive(Debug, Clone)]
struct Agent {
    state: AgentState,
    last_call_ms: Option<Millis>,
    calls_today: u64,
}

impl Agent {
    fn new() -> Agent {
        Agent {
            state: AgentState::new(),
            last_call_ms: None,
            calls_today: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Projection {
    day_start: Millis,
    /// The latest time seen in any input.
    now: Millis,
    groups: BTreeMap<GroupId, Group>,
    agents: BTreeMap<AgentId, Agent>,
}

impl Projection {
    pub fn new(day_start_ms: Millis) -> Projection {
        Projection {
            day_start: day_start_ms,
            now: 0,
            groups: BTreeMap::new(),
            agents: BTreeMap::new(),
        }
    }

    /// Rebuilds a projection from a recorded input log (after a restart).
    pub fn replay<'a>(
        day_start_ms: Millis,
        log: impl IntoIterator<Item = &'a Input>,
    ) -> Projection {
        let mut p = Projection::new(day_start_ms);
        for i in log {
            p.apply(i);
        }
        p
    }

    pub fn apply(&mut self, input: &Input) {
        match input {
            Input::Queue(e) => self.apply_queue_event(e),
            Input::GroupSet { group, members } => self.set_group(*group, members.clone()),
            Input::GroupRemoved { group } => self.remove_group(*group),
            Input::Online { agent, online, at } => self.set_agent_online(*agent, *online, *at),
            Input::DayRolled { day_start_ms } => self.roll_day(*day_start_ms),
        }
    }

    pub fn day_start(&self) -> Millis {
        self.day_start
    }

    /// The latest time seen in any input.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Adds a group or replaces its members and skill levels; its counts and waiting calls stay.
    /// Call it before feeding the group's events: events of unknown groups are not counted.
    pub fn set_group(&mut self, group: GroupId, members: Vec<(AgentId, i64)>) {
        for (a, _) in &members {
            self.agents.entry(*a).or_insert_with(Agent::new);
        }
        self.groups.entry(group).or_default().members = members;
    }

    pub fn remove_group(&mut self, group: GroupId) {
        self.groups.remove(&group);
    }

    /// The agent's phone registered or unregistered. Like the ACD, going offline stops any
    /// ringing (the ACD logs no event for it); a call in progress stays in progress.
    pub fn set_agent_online(&mut self, agent: AgentId, online: bool, at: Millis) {
        self.advance(at);
        let a = self.agents.entry(agent).or_insert_with(Agent::new);
        if a.state.online == online {
            return;
        }
        a.state.online = online;
        if !online && matches!(a.state.activity, Activity::Ringing(_)) {
            a.state.activity = Activity::Idle;
        }
    }

    /// A new business day: the day counters and every agent's calls today start again. The
    /// waiting calls, agent states, last call durations and the 24 h chart stay.
    pub fn roll_day(&mut self, day_start_ms: Millis) {
        self.day_start = day_start_ms;
        for g in self.groups.values_mut() {
            g.today = Counts::default();
        }
        for a in self.agents.values_mut() {
            a.calls_today = 0;
        }
    }

    pub fn apply_queue_event(&mut self, e: &QueueEvent) {
        self.advance(event_time(e));
        match *e {
            QueueEvent::Entered { call, group, at } => {
                if let Some(g) = self.groups.get_mut(&group) {
                    g.waiting.insert(call, at);
                }
                self.count(group, at, |c| c.incoming += 1);
            }
            QueueEvent::Overflowed { group, at, .. } => self.count(group, at, |c| {
                c.incoming += 1;
                c.overflow += 1;
            }),
            QueueEvent::Rang { call, agent, .. } => {
                self.agent(agent).state.activity = Activity::Ringing(call);
            }
            QueueEvent::NoAnswer { agent, .. } => self.agent(agent).state.activity = Activity::Idle,
            QueueEvent::Answered {
                call,
                group,
                agent,
                wait_ms,
                at,
            } => {
                self.call_left_queue(call, group);
                let counted = at >= self.day_start;
                let a = self.agent(agent);
                a.state.activity = Activity::OnCall(call);
                if counted {
                    a.calls_today += 1;
                }
                self.count(group, at.saturating_sub(wait_ms), |c| c.answered += 1);
            }
            QueueEvent::Abandoned {
                call,
                group,
                wait_ms,
                at,
            } => {
                self.call_left_queue(call, group);
                self.count(group, at.saturating_sub(wait_ms), |c| c.abandoned += 1);
            }
            QueueEvent::TimedOut {
                call,
                group,
                wait_ms,
                at,
            } => {
                self.call_left_queue(call, group);
                self.count(group, at.saturating_sub(wait_ms), |c| c.timeout += 1);
            }
            QueueEvent::Completed { agent, talk_ms, .. } => {
                let a = self.agent(agent);
                a.state.activity = Activity::Idle;
                a.last_call_ms = Some(talk_ms);
            }
            QueueEvent::AgentStatus {
                agent,
                group,
                readiness,
                ..
            } => {
                let groups: Vec<GroupId> = match group {
                    Some(g) => vec![g],
                    None => self.groups_of(agent),
                };
                let a = self.agent(agent);
                for g in groups {
                    a.state.set_readiness(g, readiness, None);
                }
            }
            QueueEvent::DirectCall { agent, active, .. } => {
                self.agent(agent).state.direct_call(active)
            }
        }
    }

    /// The group table, ordered by group id (the "All" row is `all_row`).
    pub fn groups(&self) -> Vec<GroupRow> {
        self.groups.iter().map(|(id, g)| self.row(*id, g)).collect()
    }

    pub fn group(&self, id: GroupId) -> Option<GroupDetail> {
        let g = self.groups.get(&id)?;
        let mut waiting: Vec<WaitingCall> = g
            .waiting
            .iter()
            .map(|(call, since)| WaitingCall {
                call: *call,
                since: *since,
            })
            .collect();
        waiting.sort_unstable_by_key(|w| (w.since, w.call));
        let agents: Vec<AgentRow> = g
            .members
            .iter()
            .map(|(agent, level)| {
                let a = self.agents.get(agent);
                AgentRow {
                    agent: *agent,
                    status: self.status(*agent, id),
                    skill_level: *level,
                    last_call_ms: a.and_then(|a| a.last_call_ms),
                    calls_today: a.map_or(0, |a| a.calls_today),
                }
            })
            .collect();
        Some(GroupDetail {
            row: self.row(id, g),
            waiting,
            status_counts: status_counts(agents.iter().map(|a| a.status)),
            agents,
        })
    }

    /// The "All" row (RT-03): every group's calls and every agent who is a member of at least
    /// one group, each counted once. Across groups an idle agent is available when available in
    /// at least one of their groups (they can be offered a call), otherwise paused.
    pub fn all_row(&self) -> GroupRow {
        let mut today = Counts::default();
        let mut waiting = 0;
        let mut overall: BTreeMap<AgentId, AgentStatus> = BTreeMap::new();
        for (id, g) in &self.groups {
            today.add(&g.today);
            waiting += g.waiting.len();
            for (agent, _) in &g.members {
                let s = self.status(*agent, *id);
                overall
                    .entry(*agent)
                    .and_modify(|o| {
                        if matches!(o, AgentStatus::Paused(_)) && s == AgentStatus::Available {
                            *o = s;
                        }
                    })
                    .or_insert(s);
            }
        }
        make_row(None, today, waiting, overall.values().copied())
    }

    /// The status the ACD shows for an agent in a group (Offline for an unknown agent).
    pub fn status(&self, agent: AgentId, group: GroupId) -> AgentStatus {
        self.agents
            .get(&agent)
            .map_or(AgentStatus::Offline, |a| a.state.status(group))
    }

    /// The bar chart (RT-06): the last `hours` hours (3, 6, 9, 12 or 24; clamped to 1…24) as
    /// hourly bars ending with the hour containing `now`, oldest first. Bars that would start
    /// before time 0 (a virtual clock) are left out.
    pub fn buckets(&self, group: GroupId, now: Millis, hours: u32) -> Vec<Bucket> {
        self.windows(Some(group), now, hours, HOUR_MS)
    }

    /// Like `buckets` in 5-minute bars (the "answer rate per 5 minutes" of RT-01).
    pub fn five_minute_buckets(&self, group: GroupId, now: Millis, hours: u32) -> Vec<Bucket> {
        self.windows(Some(group), now, hours, FIVE_MINUTES_MS)
    }

    /// `buckets` summed over every group (the "All" row's chart).
    pub fn all_buckets(&self, now: Millis, hours: u32) -> Vec<Bucket> {
        self.windows(None, now, hours, HOUR_MS)
    }

    fn windows(
        &self,
        group: Option<GroupId>,
        now: Millis,
        hours: u32,
        width: Millis,
    ) -> Vec<Bucket> {
        let hours = Millis::from(hours.clamp(1, 24));
        let n = hours * HOUR_MS / width;
        // Hour windows follow the day start's minutes; 5-minute ones the clock's.
        let phase = if width == HOUR_MS {
            self.day_start % HOUR_MS
        } else {
            0
        };
        let last = floor_to(now, width, phase);
        let groups: Vec<&Group> = match group {
            Some(id) => self.groups.get(&id).into_iter().collect(),
            None => self.groups.values().collect(),
        };
        (0..n)
            .rev()
            .filter_map(|k| last.checked_sub(k * width))
            .map(|start| {
                let mut c = Counts::default();
                for g in &groups {
                    for (_, b) in g.buckets.range(start..start + width) {
                        c.add(b);
                    }
                }
                Bucket {
                    start,
                    incoming: c.incoming,
                    answered: c.answered,
                    abandoned: c.abandoned,
                    answer_rate: c.answer_rate_pct(),
                }
            })
            .collect()
    }

    fn row(&self, id: GroupId, g: &Group) -> GroupRow {
        let statuses = g.members.iter().map(|(a, _)| self.status(*a, id));
        make_row(Some(id), g.today, g.waiting.len(), statuses)
    }

    /// No call survives a restart: after replaying the log, nobody is ringing or on a call,
    /// whatever the log says was in progress when the server stopped.
    pub fn calls_ended_by_restart(&mut self) {
        for a in self.agents.values_mut() {
            a.state.activity = Activity::Idle;
            a.state.direct_calls = 0;
        }
        for g in self.groups.values_mut() {
            g.waiting.clear();
        }
    }

    fn agent(&mut self, agent: AgentId) -> &mut Agent {
        self.agents.entry(agent).or_insert_with(Agent::new)
    }

    fn groups_of(&self, agent: AgentId) -> Vec<GroupId> {
        self.groups
            .iter()
            .filter(|(_, g)| g.members.iter().any(|(a, _)| *a == agent))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Answered, abandoned or timed out: the call is no longer waiting and nobody rings for it.
    fn call_left_queue(&mut self, call: CallId, group: GroupId) {
        if let Some(g) = self.groups.get_mut(&group) {
            g.waiting.remove(&call);
        }
        for a in self.agents.values_mut() {
            if a.state.activity == Activity::Ringing(call) {
                a.state.activity = Activity::Idle;
            }
        }
    }

    /// Counts a call that arrived at `arrival` in the day and in its chart bucket.
    fn count(&mut self, group: GroupId, arrival: Millis, f: impl Fn(&mut Counts)) {
        let cutoff = self.now.saturating_sub(DAY_MS);
        let Some(g) = self.groups.get_mut(&group) else {
            return;
        };
        if arrival >= self.day_start {
            f(&mut g.today);
        }
        let start = floor_to(arrival, FIVE_MINUTES_MS, 0);
        if start + FIVE_MINUTES_MS > cutoff {
            f(g.buckets.entry(start).or_default());
        }
    }

    /// Moves the clock forward and drops chart buckets that ended more than 24 h ago.
    fn advance(&mut self, at: Millis) {
        if at <= self.now {
            return;
        }
        let old = self.now.saturating_sub(DAY_MS) / FIVE_MINUTES_MS;
        self.now = at;
        let cutoff = at.saturating_sub(DAY_MS);
        if cutoff / FIVE_MINUTES_MS == old || cutoff < FIVE_MINUTES_MS {
            return;
        }
        // Keep a bucket while its end (start + 5 min) is after the cutoff.
        let keep_from = cutoff - FIVE_MINUTES_MS + 1;
        for g in self.groups.values_mut() {
            g.buckets = g.buckets.split_off(&keep_from);
        }
    }
}

fn event_time(e: &QueueEvent) -> Millis {
    match *e {
        QueueEvent::Entered { at, .. }
        | QueueEvent::Rang { at, .. }
        | QueueEvent::NoAnswer { at, .. }
        | QueueEvent::Answered { at, .. }
        | QueueEvent::Abandoned { at, .. }
        | QueueEvent::Overflowed { at, .. }
        | QueueEvent::TimedOut { at, .. }
        | QueueEvent::Completed { at, .. }
        | QueueEvent::AgentStatus { at, .. }
        | QueueEvent::DirectCall { at, .. } => at,
    }
}

/// The start of the `width` window containing `t`, windows starting at `phase` modulo `width`.
fn floor_to(t: Millis, width: Millis, phase: Millis) -> Millis {
    let phase = phase % width;
    t.saturating_sub((t + width - phase) % width)
}

fn make_row(
    group: Option<GroupId>,
    today: Counts,
    waiting: usize,
    statuses: impl Iterator<Item = AgentStatus>,
) -> GroupRow {
    let mut row = GroupRow {
        group,
        incoming: today.incoming,
        answered: today.answered,
        abandoned: today.abandoned,
        overflow: today.overflow,
        timeout: today.timeout,
        answer_rate_pct: today.answer_rate_pct(),
        agents_online: 0,
        agents_total: 0,
        on_call: 0,
        available: 0,
        paused: 0,
        waiting,
    };
    for s in statuses {
        row.agents_total += 1;
        match s {
            AgentStatus::Offline => continue,
            AgentStatus::Ringing | AgentStatus::OnCall | AgentStatus::OnHold => row.on_call += 1,
            AgentStatus::Available => row.available += 1,
            AgentStatus::Paused(_) => row.paused += 1,
        }
        row.agents_online += 1;
    }
    row
}

/// The pie chart's order: available, ringing, on call, on hold, paused kinds, offline.
fn status_order(s: &AgentStatus) -> (u8, u8, i64) {
    match *s {
        AgentStatus::Available => (0, 0, 0),
        AgentStatus::Ringing => (1, 0, 0),
        AgentStatus::OnCall => (2, 0, 0),
        AgentStatus::OnHold => (3, 0, 0),
        AgentStatus::Paused(p) => match p {
            Pause::Manual => (4, 0, 0),
            Pause::NoAnswer => (4, 1, 0),
            Pause::Acw(id) => (4, 2, id),
            Pause::Custom(id) => (4, 3, id),
        },
        AgentStatus::Offline => (5, 0, 0),
    }
}

fn status_counts(statuses: impl Iterator<Item = AgentStatus>) -> Vec<StatusCount> {
    let mut counts: BTreeMap<(u8, u8, i64), StatusCount> = BTreeMap::new();
    for status in statuses {
        counts
            .entry(status_order(&status))
            .or_insert(StatusCount { status, count: 0 })
            .count += 1;
    }
    counts.into_values().collect()
}
