//! SIP edge: transports, registrar with our own digest authentication, trunks and the
//! back-to-back user agent, on `rsipstack` (pinned; wrapped here so it can be replaced).

pub mod auth_limiter;
mod b2bua;
pub mod browser_phone;
pub mod digest;
pub mod location;
mod msg;
mod probe;
mod prompts;
mod queue;
mod routing;
mod server;

pub use probe::SipProbe;
pub use queue::QueueHandle;
pub use server::{Phones, SipConfig, SipError, SipServer};
