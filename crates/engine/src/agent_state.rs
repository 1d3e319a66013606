//! What an agent is doing, per group (STATUS-01…10, AST-*).
//!
//! Two things combine into the status a person sees: whether the agent can take calls in a
//! group at all (their per-group choice: Available or a kind of Paused, STATUS-05) and what
//! their phone is doing right now (ringing, on a call, on hold), which is the same in every
//! group. A phone that is not registered makes the agent Offline everywhere (STATUS-02).

use crate::clock::Millis;
use serde::{Deserialize, Serialize};

pub type AgentId = i64;
pub type GroupId = i64;
/// An agent-status record (AST): ACW, 休憩, 離席 …
pub type StatusId = i64;

/// Why an agent is paused. Every custom status is a kind of Paused (AST-03).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "status_id", rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub enum Pause {
    /// Plain 停止.
    Manual,
    /// A custom agent status chosen by the agent or a supervisor.
    Custom(StatusId),
    /// Set automatically after an unanswered ring (GROUP-20).
    NoAnswer,
    /// After-call work (GROUP-22); the status record named by the group.
    Acw(StatusId),
}

/// The agent's own choice for a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "pause", rename_all = "snake_case")]
pub enum Readiness {
    Available,
    Paused(Pause),
}

/// What the agent's phone is doing; the same for every group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Idle,
    Ringing(u64),
    OnCall(u64),
    OnHold(u64),
}

/// The status shown for an agent in a group (STATUS-02).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "pause", rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = LiveStatus))]
pub enum AgentStatus {
    Offline,
    Available,
    Ringing,
    OnCall,
    OnHold,
    Paused(Pause),
}

/// Who or what changed a status: every change is an event with its reason (STATUS-08/09).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "agent_id", rename_all = "snake_case")]
pub enum ChangedBy {
    /// The agent themselves.
    Agent,
    /// A supervisor (agent id of the supervisor).
    Supervisor(AgentId),
    /// The system: ACW, no-answer pause, automatic release, registration.
    System,
}

#[derive(Debug, Clone)]
pub(crate) struct AgentState {
    pub online: bool,
    pub activity: Activity,
    /// Per group choice; absent = Available.
    pub readiness: Vec<(GroupId, Readiness, Option<Millis>)>,
    pub last_call_end: Millis,
    pub talk_ms: u64,
    pub calls: u64,
    /// Calls in progress that did not come through a queue (direct, internal, outbound).
    pub direct_calls: u32,
}

impl AgentState {
    pub fn new() -> AgentState {
        AgentState {
            online: false,
            activity: Activity::Idle,
            direct_calls: 0,
            readiness: Vec::new(),
            last_call_end: 0,
            talk_ms: 0,
            calls: 0,
        }
    }

    pub fn readiness(&self, group: GroupId) -> Readiness {
        self.readiness
            .iter()
            .find(|(g, _, _)| *g == group)
            .map(|(_, r, _)| *r)
            .unwrap_or(Readiness::Available)
    }

    /// Sets the choice for a group, with an optional automatic release time.
    pub fn set_readiness(&mut self, group: GroupId, r: Readiness, release_at: Option<Millis>) {
        match self.readiness.iter_mut().find(|(g, _, _)| *g == group) {
            Some(entry) => *entry = (group, r, release_at),
            None => self.readiness.push((group, r, release_at)),
        }
    }

    /// A call outside the queues started (`active`) or ended.
    pub fn direct_call(&mut self, active: bool) {
        self.direct_calls = if active {
            self.direct_calls.saturating_add(1)
        } else {
            self.direct_calls.saturating_sub(1)
        };
    }

    pub fn status(&self, group: GroupId) -> AgentStatus {
        if !self.online {
            return AgentStatus::Offline;
        }
        match self.activity {
            Activity::Ringing(_) => AgentStatus::Ringing,
            Activity::OnCall(_) => AgentStatus::OnCall,
            Activity::OnHold(_) => AgentStatus::OnHold,
            Activity::Idle if self.direct_calls > 0 => AgentStatus::OnCall,
            Activity::Idle => match self.readiness(group) {
                Readiness::Available => AgentStatus::Available,
                Readiness::Paused(p) => AgentStatus::Paused(p),
            },
        }
    }

    /// Can be offered a call of `group` now: online, idle, available there.
    pub fn can_take(&self, group: GroupId) -> bool {
        self.online
            && self.activity == Activity::Idle
            && self.direct_calls == 0
            && self.readiness(group) == Readiness::Available
    }
}
