//! What the live feed carries (the WebSocket's messages) and the realtime screen's snapshot:
//! plain data, produced by the telephony core from the projection and the calls.

use crate::acd::CallId;
use crate::agent_state::{AgentId, AgentStatus, GroupId};
use crate::clock::Millis;
use crate::realtime::{Bucket, GroupDetail, GroupRow};
use serde::{Deserialize, Serialize};

/// An agent's status in one of their groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = GroupLiveStatus))]
pub struct GroupStatus {
    pub group: GroupId,
    pub status: AgentStatus,
}

/// What the agent's screen shows of a call that rings them or that they answered (NUM-07…09).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Popup {
    pub caller: String,
    pub number: String,
    pub number_name: String,
    pub message: String,
    pub popup_url: String,
    pub answer_popup_url: String,
    pub group: GroupId,
}

/// One message of the live feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = LiveEvent))]
pub enum Live {
    /// An agent's status moved (in each of their groups).
    AgentStatus {
        agent: AgentId,
        statuses: Vec<GroupStatus>,
    },
    /// The realtime numbers changed: refetch them.
    Realtime,
    /// The agent's phone rings for a queue call: who is calling.
    IncomingCall {
        agent: AgentId,
        call: CallId,
        #[serde(flatten)]
        popup: Popup,
    },
    /// The agent answered a queue call (the answer pop-up).
    CallAnswered {
        agent: AgentId,
        call: CallId,
        #[serde(flatten)]
        popup: Popup,
    },
}

/// The realtime screen's data (RT-02…09).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Realtime {
    pub groups: Vec<GroupRow>,
    pub all: GroupRow,
    pub now: Millis,
    /// With `?group=`: that group's detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<GroupDetail>,
    /// With `?group=`: its chart over the hours asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<Bucket>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_keep_their_wire_shape() {
        let v = serde_json::to_value(Live::AgentStatus {
            agent: 5,
            statuses: vec![GroupStatus {
                group: 1,
                status: AgentStatus::Available,
            }],
        })
        .unwrap();
        assert_eq!(
            v,
            json!({"type": "agent_status", "agent": 5, "statuses": [{"group": 1, "status": {"status": "available"}}]})
        );
        assert_eq!(
            serde_json::to_value(Live::Realtime).unwrap(),
            json!({"type": "realtime"})
        );
        let pop = Live::IncomingCall {
            agent: 7,
            call: 12,
            popup: Popup {
                caller: "0901".into(),
                number: "0312".into(),
                number_name: "Support".into(),
                message: String::new(),
                popup_url: "https://x/@@@@".into(),
                answer_popup_url: String::new(),
                group: 3,
            },
        };
        let v = serde_json::to_value(&pop).unwrap();
        assert_eq!(v["type"], "incoming_call");
        assert_eq!(v["agent"], 7);
        assert_eq!(v["caller"], "0901");
        assert_eq!(v["group"], 3);
        let back: Live = serde_json::from_value(v).unwrap();
        assert_eq!(back, pop);
    }
}
