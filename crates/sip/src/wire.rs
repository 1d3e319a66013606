//! Which wire a peer is reached on: UDP, TCP or TLS. A phone that registered over a
//! connection (TCP, TLS) is reached down that same connection, so the wire is remembered with
//! its binding, its dialogs and the targets we call.

use rsipstack::transport::{SipAddr, SipConnection};
use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Wire {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl Wire {
    /// The wire a request arrived on.
    pub fn of(conn: Option<&SipConnection>) -> Wire {
        match conn.map(SipConnection::transport) {
            Some(rsipstack::sip::Transport::Tls) => Wire::Tls,
            Some(rsipstack::sip::Transport::Udp) | None => Wire::Udp,
            Some(_) => Wire::Tcp,
        }
    }

    /// Whether SDES-SRTP may be taken on this wire: its keys travel in the clear in the SDP
    /// (RFC 4568 §8.3), so only over TLS.
    pub fn allows_sdes(self) -> bool {
        self == Wire::Tls
    }

    /// Over a connection we keep (TCP, TLS), not datagrams.
    pub fn is_stream(self) -> bool {
        self != Wire::Udp
    }

    /// As stored with a kept registration.
    pub fn as_str(self) -> &'static str {
        match self {
            Wire::Udp => "udp",
            Wire::Tcp => "tcp",
            Wire::Tls => "tls",
        }
    }

    pub fn parse(s: &str) -> Option<Wire> {
        match s {
            "udp" => Some(Wire::Udp),
            "tcp" => Some(Wire::Tcp),
            "tls" => Some(Wire::Tls),
            _ => None,
        }
    }

    /// The transport of a Via header (RFC 3261 §18.2.1).
    pub fn via(self) -> &'static str {
        match self {
            Wire::Udp => "UDP",
            Wire::Tcp => "TCP",
            Wire::Tls => "TLS",
        }
    }

    /// Our Contact URI on this wire at `local`: a TLS peer must come back over TLS, so it is
    /// told so (RFC 3261 §19.1.1; not `sips:`, which would also demand TLS beyond us).
    pub(crate) fn contact_uri(self, local: SocketAddr) -> String {
        match self {
            Wire::Tls => format!("sip:tsunagu@{local};transport=tls"),
            Wire::Udp | Wire::Tcp => format!("sip:tsunagu@{local}"),
        }
    }

    pub(crate) fn sip_addr(self, addr: SocketAddr) -> SipAddr {
        let transport = match self {
            Wire::Udp => rsipstack::sip::Transport::Udp,
            Wire::Tcp => rsipstack::sip::Transport::Tcp,
            Wire::Tls => rsipstack::sip::Transport::Tls,
        };
        SipAddr::new(transport, addr.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for w in [Wire::Udp, Wire::Tcp, Wire::Tls] {
            assert_eq!(Wire::parse(w.as_str()), Some(w));
        }
        assert_eq!(Wire::parse("sctp"), None);
    }

    #[test]
    fn sdes_keys_are_taken_over_tls_only() {
        assert!(Wire::Tls.allows_sdes());
        assert!(!Wire::Udp.allows_sdes());
        assert!(!Wire::Tcp.allows_sdes());
    }
}
