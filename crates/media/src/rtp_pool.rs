//! UDP port pairs for the RTP and RTCP of each leg.

use crate::{MediaError, PortRange};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::net::UdpSocket;

/// Hands out RTP/RTCP socket pairs from a [`PortRange`]. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct RtpPool {
    ip: IpAddr,
    range: PortRange,
    /// Even ports not handed out, oldest-freed first. Reusing the least recently freed port
    /// keeps stray packets of a finished call from landing in a new one, and rotating a port
    /// that failed to bind to the back is what "skip and wrap around" means here.
    free: Arc<Mutex<VecDeque<u16>>>,
}

impl RtpPool {
    pub fn new(ip: IpAddr, range: PortRange) -> RtpPool {
        let free = (0..range.pairs())
            .map(|i| range.lo() + 2 * i as u16)
            .collect::<VecDeque<u16>>();
        RtpPool {
            ip,
            range,
            free: Arc::new(Mutex::new(free)),
        }
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    pub fn range(&self) -> PortRange {
        self.range
    }

    /// How many pairs are currently not handed out (some may still be taken by other programs).
    pub fn available(&self) -> usize {
        self.lock().len()
    }

    /// Binds the next free even port for RTP and the odd port above it for RTCP. Ports another
    /// program holds are skipped; every free port is tried at most once per call.
    ///
    /// Must be called inside a tokio runtime, which the sockets are registered with.
    pub async fn allocate(&self) -> Result<RtpEndpoint, MediaError> {
        let attempts = self.available();
        for _ in 0..attempts {
            let Some(port) = self.lock().pop_front() else {
                break;
            };
            match self.bind_pair(port) {
                Ok((rtp, rtcp)) => {
                    return Ok(RtpEndpoint {
                        rtp,
                        rtcp,
                        port,
                        rtp_addr: SocketAddr::new(self.ip, port),
                        free: Arc::clone(&self.free),
                    })
                }
                Err(e) => {
                    tracing::debug!(port, error = %e, "RTP port pair busy, skipping");
                    self.lock().push_back(port);
                }
            }
        }
        Err(MediaError::PortsExhausted)
    }

    fn bind_pair(&self, port: u16) -> std::io::Result<(UdpSocket, UdpSocket)> {
        // std's bind is a plain syscall; tokio's would go through address resolution for
        // nothing. Registration with the reactor happens in from_std.
        let bind = |port| -> std::io::Result<UdpSocket> {
            let s = std::net::UdpSocket::bind(SocketAddr::new(self.ip, port))?;
            s.set_nonblocking(true)?;
            UdpSocket::from_std(s)
        };
        let rtp = bind(port)?;
        let rtcp = bind(port + 1)?;
        Ok((rtp, rtcp))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<u16>> {
        // The list is consistent after any panic (only push/pop), so poisoning is harmless.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A leg's RTP and RTCP sockets. Dropping it closes them and returns the ports to the pool.
#[derive(Debug)]
pub struct RtpEndpoint {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    port: u16,
    rtp_addr: SocketAddr,
    free: Arc<Mutex<VecDeque<u16>>>,
}

impl RtpEndpoint {
    /// Our local RTP address, as written into SDP (RTCP is on the port above).
    pub fn rtp_addr(&self) -> SocketAddr {
        self.rtp_addr
    }

    pub fn rtcp_addr(&self) -> SocketAddr {
        SocketAddr::new(self.rtp_addr.ip(), self.port + 1)
    }

    pub fn rtp_socket(&self) -> &UdpSocket {
        &self.rtp
    }

    pub fn rtcp_socket(&self) -> &UdpSocket {
        &self.rtcp
    }
}

impl Drop for RtpEndpoint {
    fn drop(&mut self) {
        // The sockets are fields, closed only after this body runs; a concurrent allocate
        // that picks the port before that just fails to bind and moves on to the next one.
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(self.port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Instant;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    // Ranges below the kernel's ephemeral range (32768+) so no other test's socket lands in
    // them, and distinct per test because tests run in parallel.

    #[tokio::test]
    async fn allocates_even_odd_pairs_until_exhausted() {
        let pool = RtpPool::new(LOCALHOST, PortRange::new(21000, 21003).unwrap());
        let a = pool.allocate().await.unwrap();
        let b = pool.allocate().await.unwrap();
        assert_eq!(a.rtp_addr(), "127.0.0.1:21000".parse().unwrap());
        assert_eq!(a.rtp_socket().local_addr().unwrap().port(), 21000);
        assert_eq!(a.rtcp_socket().local_addr().unwrap().port(), 21001);
        assert_eq!(b.rtp_addr().port(), 21002);
        let err = pool.allocate().await.unwrap_err();
        assert_eq!(err.to_string(), "RTP port range exhausted");

        drop(a);
        let c = pool.allocate().await.unwrap();
        assert_eq!(c.rtp_addr().port(), 21000);
        assert_eq!(pool.available(), 0);
        drop((b, c));
        assert_eq!(pool.available(), 2);
    }

    #[tokio::test]
    async fn skips_ports_in_use_and_wraps_around() {
        let squatter = std::net::UdpSocket::bind("127.0.0.1:21103").unwrap();
        let pool = RtpPool::new(LOCALHOST, PortRange::new(21100, 21105).unwrap());
        let a = pool.allocate().await.unwrap();
        let b = pool.allocate().await.unwrap();
        // 21102 is skipped because its RTCP port 21103 is taken.
        assert_eq!((a.rtp_addr().port(), b.rtp_addr().port()), (21100, 21104));
        assert!(pool.allocate().await.is_err());

        drop(squatter);
        drop(a);
        // The skipped pair went to the back, behind nothing; 21100 behind it.
        assert_eq!(pool.allocate().await.unwrap().rtp_addr().port(), 21102);
    }

    #[tokio::test]
    async fn a_thousand_endpoints_in_well_under_a_second() {
        let pool = RtpPool::new(LOCALHOST, PortRange::new(22000, 24100).unwrap());
        let start = Instant::now();
        let mut endpoints = Vec::new();
        for _ in 0..1000 {
            endpoints.push(pool.allocate().await.unwrap());
        }
        let took = start.elapsed();
        assert!(took.as_millis() < 1000, "took {took:?}");
        let mut ports: Vec<u16> = endpoints.iter().map(|e| e.rtp_addr().port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 1000);
        drop(endpoints);
        assert_eq!(pool.available(), 1050);
    }
}
