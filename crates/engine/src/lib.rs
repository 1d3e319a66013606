//! The call-center core: pure state machines that take events and return commands.
//!
//! This crate holds no sockets, no database and no clock of its own. For now it defines the
//! domain vocabulary the edges and the store share; the queue and call state machines build on
//! it (see `docs/architecture.md`).

pub mod acd;
pub mod agent_state;
pub mod call;
pub mod realtime;
pub mod ring_strategy;
mod rng;
pub mod route_target;

pub use ring_strategy::RingStrategy;
pub use route_target::{RouteTarget, TargetKind};
