//! The browser phone's signalling (PHONE-*): what the web app asks of its phone and what the
//! phone tells it, as they travel over the session's WebSocket (`/api/v1/ws`). Both edges use
//! these types — the SIP edge, which runs the phone, and the API, which carries the messages
//! and describes them in its OpenAPI document — so the wire shape is written once.
//! See docs/browser-phone.md.

use serde::{Deserialize, Deserializer, Serialize};

/// What the browser asks of its phone (besides `phone_on` / `phone_off`, which the API
/// handles itself).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub enum PhoneCommand {
    /// Answer the ringing call `call` with the browser's WebRTC offer.
    PhoneAnswer { call: String, sdp: String },
    /// Refuse the ringing call.
    PhoneReject { call: String },
    /// Call `number` (an extension or an external number) with the browser's WebRTC offer.
    /// `caller_number` is the chosen caller ID: a number id, `null` for 外線発信禁止, absent for
    /// the agent's own setting. The API has checked the agent may choose it.
    PhoneDial {
        number: String,
        sdp: String,
        #[serde(default, deserialize_with = "present")]
        #[cfg_attr(feature = "schema", schema(value_type = Option<i64>))]
        caller_number: Option<Option<i64>>,
    },
    /// Hang up (or cancel, or refuse) the call.
    PhoneHangup { call: String },
    /// Put the other party on hold, or take them back.
    PhoneHold { call: String, hold: bool },
}

/// Distinguishes an absent field (None) from an explicit null (Some(None)).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

/// Why the phone went OFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub enum OffReason {
    /// The agent turned it off (or the tab closed).
    Off,
    /// The agent turned the browser phone on in another tab (one phone per agent).
    TakenOver,
}

/// How a call of the browser phone ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub enum EndReason {
    /// The caller gave up while it rang.
    Cancelled,
    /// The other party hung up.
    RemoteHangup,
    /// The agent hung up.
    LocalHangup,
    /// The agent refused the ringing call.
    Rejected,
    /// The call could not be placed: `status` and `message` say why.
    Failed,
    /// The browser's audio stopped.
    MediaLost,
}

/// What the phone tells the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub enum PhoneEvent {
    /// The phone is ON or OFF.
    PhoneState {
        on: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<OffReason>,
    },
    /// A call rings the phone.
    PhoneIncoming { call: String, caller: String },
    /// The WebRTC answer to the browser's offer.
    PhoneAnswerSdp { call: String, sdp: String },
    /// An outgoing call was placed.
    PhoneDialing { call: String, number: String },
    /// The called party's phone rings.
    PhoneRinging { call: String },
    /// The call is connected.
    PhoneConnected { call: String },
    /// The browser's audio is flowing.
    PhoneMedia { call: String, connected: bool },
    /// The other party is on hold, or back.
    PhoneHold { call: String, hold: bool },
    /// The call ended.
    PhoneEnded {
        call: String,
        reason: EndReason,
        /// With `failed`: the SIP status the call was refused with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// With `failed`: the reason phrase.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A command could not be carried out; `message` is for the agent.
    PhoneError {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<String>,
        message: String,
    },
}

impl PhoneEvent {
    /// An error not tied to a call.
    pub fn error(message: impl Into<String>) -> Self {
        PhoneEvent::PhoneError {
            call: None,
            message: message.into(),
        }
    }

    /// An error about the call `call`.
    pub fn call_error(call: impl Into<String>, message: impl Into<String>) -> Self {
        PhoneEvent::PhoneError {
            call: Some(call.into()),
            message: message.into(),
        }
    }

    /// The call ended for `reason` (not a failure with a status).
    pub fn ended(call: impl Into<String>, reason: EndReason) -> Self {
        PhoneEvent::PhoneEnded {
            call: call.into(),
            reason,
            status: None,
            message: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_keep_their_wire_shape() {
        let wire = |e: PhoneEvent| serde_json::to_value(e).unwrap_or_default();
        assert_eq!(
            wire(PhoneEvent::PhoneState {
                on: false,
                reason: Some(OffReason::TakenOver)
            }),
            json!({"type": "phone_state", "on": false, "reason": "taken_over"})
        );
        assert_eq!(
            wire(PhoneEvent::PhoneState {
                on: true,
                reason: None
            }),
            json!({"type": "phone_state", "on": true})
        );
        assert_eq!(
            wire(PhoneEvent::PhoneEnded {
                call: "c1".into(),
                reason: EndReason::Failed,
                status: Some(486),
                message: Some("Busy Here".into())
            }),
            json!({"type": "phone_ended", "call": "c1", "reason": "failed", "status": 486, "message": "Busy Here"})
        );
        assert_eq!(
            wire(PhoneEvent::ended("c2", EndReason::RemoteHangup)),
            json!({"type": "phone_ended", "call": "c2", "reason": "remote_hangup"})
        );
        assert_eq!(
            wire(PhoneEvent::error("Hang up the current call first.")),
            json!({"type": "phone_error", "message": "Hang up the current call first."})
        );
    }

    #[test]
    fn dial_tells_an_absent_caller_id_from_null() {
        let dial = |v: serde_json::Value| serde_json::from_value::<PhoneCommand>(v).ok();
        let caller = |c: Option<PhoneCommand>| match c {
            Some(PhoneCommand::PhoneDial { caller_number, .. }) => Some(caller_number),
            _ => None,
        };
        assert_eq!(
            caller(dial(
                json!({"type": "phone_dial", "number": "201", "sdp": "v=0"})
            )),
            Some(None)
        );
        assert_eq!(
            caller(dial(
                json!({"type": "phone_dial", "number": "201", "sdp": "v=0", "caller_number": null})
            )),
            Some(Some(None))
        );
        assert_eq!(
            caller(dial(
                json!({"type": "phone_dial", "number": "201", "sdp": "v=0", "caller_number": 3})
            )),
            Some(Some(Some(3)))
        );
        assert!(dial(json!({"type": "phone_dial", "number": "201"})).is_none());
        assert!(dial(json!({"type": "phone_hangup", "call": "x", "extra": 1})).is_none());
    }
}
