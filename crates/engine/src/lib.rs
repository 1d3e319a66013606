//! The call-center core: pure state machines that take events and return commands.
//!
//! This crate holds no sockets, no database and no clock of its own: call sessions, the dial
//! plan, the ACD queues and agent states, the realtime projection, and the domain vocabulary
//! the edges and the store share (see `docs/architecture.md`). The telephony core drives it.

pub mod acd;
pub mod agent_state;
pub mod archive_schedule;
pub mod clock;
pub mod dial_plan;
pub mod ivr;
pub mod jp_holidays;
mod legs;
pub mod live;
pub mod originate;
pub mod phone_number;
pub mod realtime;
pub mod ring_strategy;
mod rng;
pub mod route_target;
pub mod session;
pub mod trunk_source;
pub mod voicemail;

pub use clock::{Clock, Millis};
pub use ring_strategy::RingStrategy;
pub use route_target::{RouteTarget, TargetKind};
