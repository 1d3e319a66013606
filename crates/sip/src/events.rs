//! What the SIP edge tells the call-control core.

use crate::leg::IncomingCall;
use crate::location::StoredBinding;

#[derive(Debug)]
pub enum EdgeEvent {
    /// A new call, admitted (a trunk, an authenticated phone, a browser phone).
    Call(IncomingCall),
    /// A terminal came online (its first binding) or went offline (its last one ended).
    Registration { username: String, online: bool },
    /// A terminal's bindings changed: kept by the core so that they survive a restart. The
    /// registrar answers the REGISTER once `kept` is told (or after a short wait).
    Bindings {
        username: String,
        bindings: Vec<StoredBinding>,
        kept: Option<tokio::sync::oneshot::Sender<()>>,
    },
    /// An agent's browser phone was turned ON or OFF.
    BrowserPhone { agent: i64 },
}
