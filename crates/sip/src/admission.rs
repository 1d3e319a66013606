//! Who may place a call: what the SIP edge asks the call-control core about its configuration
//! (answered from memory, never a database round trip per request), and what it tells the core
//! about a call it admitted.

use std::net::{IpAddr, SocketAddr};

/// A terminal's SIP account (TERM-03).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminal {
    pub id: i64,
    pub username: String,
    pub password: String,
}

/// The configuration the edge needs.
pub trait Directory: Send + Sync + 'static {
    /// A terminal's account by its SIP user name.
    fn terminal(&self, username: &str) -> Option<Terminal>;
    /// The trunk an INVITE from `source` to `dialed` comes from, if any: a trunk source with a
    /// port matches that address and port only, and the request is the carrier's whatever it
    /// dials (a number we do not have gets 404, never a challenge); a source without a port
    /// matches the address, for calls to one of our numbers only (phones may share it).
    fn trunk_at(&self, source: SocketAddr, dialed: &str) -> Option<i64>;
    /// Whether `ip` is one of a trunk's hosts.
    fn is_trunk_host(&self, ip: IpAddr) -> bool;
}

/// The caller ID the browser phone asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerNumber {
    /// The agent's own setting.
    Default,
    /// 外線発信禁止.
    Prohibited,
    Number(i64),
}

/// Where an admitted call comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A carrier trunk, by id.
    Trunk { trunk: i64 },
    /// A terminal that authenticated.
    Terminal { terminal: i64, username: String },
    /// An agent's browser phone (their session is the authentication).
    BrowserPhone {
        agent: i64,
        caller_number: CallerNumber,
    },
}
