//! The tokio task that owns a gateway's two sockets and drives its core.

use super::gateway::{Counters, GatewayOutput, Negotiated, WebRtcGateway};
use super::{CloseReason, WebRtcCert, WebRtcConfig, WebRtcError, WebRtcEvent, WebRtcStats};
use crate::rtp_pool::{RtpEndpoint, RtpPool};
use crate::PortRange;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

/// Larger than any datagram either side sends; one that fills it was probably truncated.
const BUF_LEN: usize = 2048;
/// Datagrams taken from one socket per wake-up before the other socket and the timer get a
/// turn.
const BATCH: usize = 32;

/// Controls a running gateway. Dropping it stops the gateway, like [`WebRtcHandle::stop`].
#[derive(Debug)]
pub struct WebRtcHandle {
    answer_sdp: String,
    browser_addr: SocketAddr,
    plain_rtp_addr: SocketAddr,
    negotiated: Negotiated,
    counters: Arc<Counters>,
    commands: UnboundedSender<Command>,
}

#[derive(Debug)]
enum Command {
    SetPlainRemote(SocketAddr),
}

impl WebRtcHandle {
    /// Our SDP answer, for the browser.
    pub fn answer_sdp(&self) -> &str {
        &self.answer_sdp
    }

    /// The ICE candidate in the answer: where the browser sends to.
    pub fn browser_addr(&self) -> SocketAddr {
        self.browser_addr
    }

    /// The gateway's plain RTP address: the "phone's" media address for the SIP side's SDP.
    pub fn plain_rtp_addr(&self) -> SocketAddr {
        self.plain_rtp_addr
    }

    /// The codecs (and whether RFC 4733) the browser agreed to, for the SIP side's SDP.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Where to send plain RTP, from the SIP side's SDP. The first packet the SIP side sends
    /// replaces it (symmetric RTP); the same address again does not undo that.
    pub fn set_plain_remote(&self, addr: SocketAddr) {
        // The task ending first only means nobody needs the address any more.
        let _ = self.commands.send(Command::SetPlainRemote(addr));
    }

    pub fn stats(&self) -> WebRtcStats {
        self.counters.snapshot()
    }

    /// Ends the session: the browser gets a DTLS close, the events channel
    /// `Closed { reason: Stopped }`, and the ports are freed shortly after, not before this
    /// returns.
    pub fn stop(self) {}
}

/// Answers `offer_sdp` and starts bridging the browser to a plain RTP socket taken from
/// `pool`. Events go to `events`; the last one is always [`WebRtcEvent::Closed`].
///
/// Must be called within a tokio runtime.
pub async fn spawn_webrtc_gateway(
    cert: &WebRtcCert,
    config: &WebRtcConfig,
    pool: &RtpPool,
    offer_sdp: &str,
    events: UnboundedSender<WebRtcEvent>,
) -> Result<WebRtcHandle, WebRtcError> {
    let browser = bind_browser_socket(config.bind_ip, config.ports)?;
    let local = browser.local_addr()?;
    let candidate = SocketAddr::new(config.advertised_ip.unwrap_or(local.ip()), local.port());
    let now = std::time::Instant::now();
    let mut gateway = WebRtcGateway::new(cert, config, candidate, now)?;
    let answer_sdp = gateway.accept_offer(offer_sdp, now)?;
    let negotiated = gateway
        .negotiated()
        .cloned()
        // An accepted offer always has them; should that ever change, it is a refusal.
        .ok_or(WebRtcError::NoCommonCodec)?;
    // Taken only once the offer is known to be good, so bad offers cost no RTP ports.
    let plain = pool.allocate().await?;
    let plain_rtp_addr = plain.rtp_addr();
    let counters = Arc::clone(gateway.counters());
    let (commands, command_rx) = mpsc::unbounded_channel();
    tokio::spawn(run(gateway, browser, plain, command_rx, events));
    Ok(WebRtcHandle {
        answer_sdp,
        browser_addr: candidate,
        plain_rtp_addr,
        negotiated,
        counters,
        commands,
    })
}

/// Binds the browser-facing socket on `ip`, on a port from `ports` if given. Ports are tried
/// from a random one on, so concurrent calls do not all race for the same first port.
fn bind_browser_socket(ip: IpAddr, ports: Option<PortRange>) -> Result<UdpSocket, WebRtcError> {
    let bind = |port| -> std::io::Result<UdpSocket> {
        let s = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
        s.set_nonblocking(true)?;
        UdpSocket::from_std(s)
    };
    let Some(range) = ports else {
        return Ok(bind(0)?);
    };
    let count = u32::from(range.hi() - range.lo()) + 1;
    let start = rand::random::<u32>() % count;
    for i in 0..count {
        let port = range.lo() + ((start + i) % count) as u16;
        match bind(port) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(WebRtcError::PortsExhausted(range))
}

async fn run(
    mut gateway: WebRtcGateway,
    browser: UdpSocket,
    plain: RtpEndpoint,
    mut commands: UnboundedReceiver<Command>,
    events: UnboundedSender<WebRtcEvent>,
) {
    let counters = Arc::clone(gateway.counters());
    let mut buf = vec![0u8; BUF_LEN];
    let mut reason = None;
    let timer = tokio::time::sleep(std::time::Duration::ZERO);
    tokio::pin!(timer);
    loop {
        let deadline = loop {
            match gateway.poll_output() {
                GatewayOutput::ToBrowser {
                    destination,
                    contents,
                } => {
                    if browser.try_send_to(&contents, destination).is_err() {
                        Counters::add(&counters.errors, 1);
                    }
                }
                GatewayOutput::ToPlain {
                    destination,
                    contents,
                } => {
                    if plain
                        .rtp_socket()
                        .try_send_to(&contents, destination)
                        .is_err()
                    {
                        Counters::add(&counters.errors, 1);
                    }
                }
                GatewayOutput::Event(WebRtcEvent::Closed { reason: r }) => reason = Some(r),
                GatewayOutput::Event(e) => {
                    let _ = events.send(e);
                }
                GatewayOutput::Timeout(t) => break t,
            }
        };
        if gateway.is_closed() {
            break;
        }
        timer
            .as_mut()
            .reset(tokio::time::Instant::from_std(deadline));
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::SetPlainRemote(addr)) => gateway.set_plain_remote(addr),
                None => gateway.close(std::time::Instant::now()),
            },
            r = browser.readable() => {
                if r.is_ok() {
                    drain(&browser, &mut buf, |now, src, data, oversized| {
                        gateway.handle_browser_datagram(now, src, data, oversized)
                    });
                }
            }
            r = plain.rtp_socket().readable() => {
                if r.is_ok() {
                    drain(plain.rtp_socket(), &mut buf, |now, src, data, oversized| {
                        gateway.handle_plain_datagram(now, src, data, oversized)
                    });
                }
            }
            () = &mut timer => gateway.handle_timeout(std::time::Instant::now()),
        }
    }
    // Ports back to the pool before anyone hears the gateway is gone.
    drop((browser, plain));
    let _ = events.send(WebRtcEvent::Closed {
        reason: reason.unwrap_or(CloseReason::Stopped),
    });
}

/// Feeds up to [`BATCH`] datagrams waiting on `socket` to `handle`.
fn drain(
    socket: &UdpSocket,
    buf: &mut [u8],
    mut handle: impl FnMut(std::time::Instant, SocketAddr, &[u8], bool),
) {
    for _ in 0..BATCH {
        match socket.try_recv_from(buf) {
            Ok((len, src)) => handle(
                std::time::Instant::now(),
                src,
                &buf[..len],
                len == buf.len(),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            // Errors on an unconnected UDP socket (a queued ICMP error, say) concern one
            // earlier datagram, not the socket, so carry on with the next one.
            Err(_) => continue,
        }
    }
}
