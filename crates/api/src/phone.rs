//! The browser phone's side of the API (PHONE-*): what the phone panel shows (the caller IDs
//! the agent may choose), and the signalling between the browser and the telephony edge, which
//! runs over the session's WebSocket (`/api/v1/ws`) so that the session and the permission
//! matrix apply to it like to every route. See docs/browser-phone.md.

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::State;
use axum::{Extension, Json};
pub use phone_signal::{PhoneCommand, PhoneEvent};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::numbers::NumberDisplay;
use store::{Page, Record};
use tokio::sync::mpsc::UnboundedSender;
use utoipa::ToSchema;

/// A browser phone that is ON. Dropping it turns the phone OFF.
pub trait PhoneLine: Send + Sync {
    /// A command from the browser, already checked against the permissions.
    fn command(&self, cmd: PhoneCommand);
}

/// Turning the browser phone ON and OFF: the API's part of the phone's signalling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PhoneSwitch {
    PhoneOn,
    PhoneOff,
}

/// What the browser may send over `/api/v1/ws`: a `phone_*` message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum WsCommand {
    Switch(PhoneSwitch),
    Phone(PhoneCommand),
}

/// A caller ID the agent may choose (PHONE-03).
#[derive(Debug, Serialize, ToSchema)]
pub struct CallerNumber {
    pub id: i64,
    pub number: String,
    /// As the number's display setting asks (`0312345678(サポート)`, the name, or the number).
    pub label: String,
}

/// GET /phone: what the browser phone panel needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneInfo {
    pub extension: Option<String>,
    /// The agent's own caller ID; null = 外線発信禁止.
    pub caller_number_id: Option<i64>,
    /// The numbers the agent may choose from.
    pub numbers: Vec<CallerNumber>,
    /// PHONE-04: may choose another caller ID than their own.
    pub can_change_caller_id: bool,
}

pub async fn info(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
) -> ApiResult<Json<PhoneInfo>> {
    let mut conn = s.store.conn().await?;
    let agent = store::agents::Agent::get(&mut conn, me.id())
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let (all, _) = store::numbers::Number::list(
        &mut conn,
        &Default::default(),
        Page {
            offset: 0,
            limit: 1000,
        },
    )
    .await?;
    let numbers = all
        .into_iter()
        .filter(|n| {
            agent.fields.number_ids.contains(&n.id) || agent.fields.caller_number_id == Some(n.id)
        })
        .map(|n| CallerNumber {
            id: n.id,
            label: match n.fields.display {
                NumberDisplay::NumberName => format!("{}({})", n.fields.number, n.fields.name),
                NumberDisplay::Name => n.fields.name.clone(),
                NumberDisplay::Number => n.fields.number.clone(),
            },
            number: n.fields.number,
        })
        .collect();
    Ok(Json(PhoneInfo {
        extension: agent.fields.extension,
        caller_number_id: agent.fields.caller_number_id,
        numbers,
        can_change_caller_id: me.can("phone.change_caller_id"),
    }))
}

/// The phone of one WebSocket connection: OFF until the browser asks for ON.
#[derive(Default)]
pub(crate) struct WsPhone {
    line: Option<Box<dyn PhoneLine>>,
}

impl WsPhone {
    /// Handles a message from the browser; what to answer it right away, if anything.
    /// Messages that are not `phone_*` are not the phone's and get no answer.
    pub async fn handle(
        &mut self,
        s: &AppState,
        me: &CurrentUser,
        msg: &str,
        events: &UnboundedSender<PhoneEvent>,
    ) -> Option<PhoneEvent> {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(msg) else {
            return Some(PhoneEvent::error("The message is not JSON."));
        };
        if !v["type"].as_str().is_some_and(|t| t.starts_with("phone_")) {
            return None;
        }
        let cmd = match serde_json::from_value::<WsCommand>(v) {
            Ok(cmd) => cmd,
            Err(_) => {
                return Some(PhoneEvent::error(
                    "Not a phone command (see WsCommand in the API document).",
                ))
            }
        };
        if !me.can("phone.browser_phone") {
            return Some(PhoneEvent::error(
                "You do not have the permission to use the browser phone.",
            ));
        }
        match cmd {
            WsCommand::Switch(PhoneSwitch::PhoneOn) => {
                if self.line.is_some() {
                    return Some(PhoneEvent::PhoneState {
                        on: true,
                        reason: None,
                    });
                }
                let Some(t) = s.telephony.as_ref() else {
                    return Some(PhoneEvent::error("Telephony is not running."));
                };
                match t.phone_on(me.id(), events.clone()).await {
                    Ok(line) => {
                        self.line = Some(line);
                        None
                    }
                    Err(e) => Some(PhoneEvent::error(e)),
                }
            }
            WsCommand::Switch(PhoneSwitch::PhoneOff) => {
                self.line = None;
                Some(PhoneEvent::PhoneState {
                    on: false,
                    reason: Some(phone_signal::OffReason::Off),
                })
            }
            WsCommand::Phone(cmd) => {
                let Some(line) = &self.line else {
                    return Some(PhoneEvent::error("Turn the browser phone on first."));
                };
                if let PhoneCommand::PhoneDial {
                    caller_number: Some(chosen),
                    ..
                } = &cmd
                {
                    if let Some(refusal) = check_caller_id(s, me, *chosen).await {
                        return Some(PhoneEvent::error(refusal));
                    }
                }
                line.command(cmd);
                None
            }
        }
    }
}

/// PHONE-04: another caller ID than one's own needs `phone.change_caller_id`, and must be one
/// of the agent's numbers (or 外線発信禁止).
async fn check_caller_id(s: &AppState, me: &CurrentUser, chosen: Option<i64>) -> Option<String> {
    // When the agent's numbers cannot be read, the call is refused rather than trusted.
    const UNCHECKED: &str = "The caller ID cannot be checked just now; try again.";
    let Ok(mut conn) = s.store.conn().await else {
        return Some(UNCHECKED.into());
    };
    let Ok(Some(agent)) = store::agents::Agent::get(&mut conn, me.id()).await else {
        return Some(UNCHECKED.into());
    };
    if chosen == agent.fields.caller_number_id {
        return None;
    }
    if !me.can("phone.change_caller_id") {
        return Some("You do not have the permission to change the caller ID.".into());
    }
    match chosen {
        Some(id) if !agent.fields.number_ids.contains(&id) => {
            Some("This caller number is not offered to you.".into())
        }
        _ => None,
    }
}
