//! Media edge. Today: the RTP port range every leg's ports come from.

pub mod port_range;

pub use port_range::{PortRange, PortRangeError};
