//! SIP edge: transports, the registrar with our own digest authentication, admission of calls
//! (trunks, phones, browser phones) and legs — the dialogs the call-control core drives. It
//! speaks SIP only: where a call goes and what it plays is the core's decision, and it writes
//! no events or history. On `rsipstack` (pinned; wrapped here so it can be replaced).

pub mod admission;
pub mod auth_limiter;
pub mod browser_phone;
mod conformance;
mod counters;
mod dialog;
pub mod digest;
mod events;
mod intake;
pub mod leg;
pub mod location;
mod msg;
mod probe;
mod registrar;
mod server;
mod tls;
mod transport;
mod wire;

pub use admission::{CallerNumber, Directory, Origin, Terminal};
pub use events::EdgeEvent;
pub use leg::{
    Failure, Identity, IncomingCall, Leg, LegEvent, LegEventKind, LegId, Originate, Refuse,
    ReinviteRequest, Sink, Target,
};
pub use location::StoredBinding;
pub use probe::SipProbe;
pub use server::{SipConfig, SipEdge, SipError, SipServer};
pub use tls::SipTls;
pub use wire::Wire;
