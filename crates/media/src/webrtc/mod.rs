//! The WebRTC gateway of the browser phone.
//!
//! A browser's call is bridged by a gateway that makes the WebRTC peer look like an ordinary
//! plain-RTP phone: ICE-lite, DTLS-SRTP and str0m on one side, one plain RTP socket with G.711
//! and RFC 4733 on the other. The B2BUA, ring strategies, routing and the relay treat that
//! socket as the phone's media address and never learn that a browser is behind it; the codecs
//! are the same on both sides, so nothing is transcoded.
//!
//! - [`WebRtcCert`]: the DTLS certificate, made once and shared by every gateway.
//! - [`WebRtcGateway`]: the sans-IO core around one `str0m::Rtc`.
//! - [`spawn_webrtc_gateway`]: the tokio task that owns the two sockets and drives a core.

mod driver;
mod gateway;
pub(crate) mod rtp;

pub use driver::{spawn_webrtc_gateway, WebRtcHandle};
pub use gateway::{GatewayOutput, Negotiated, WebRtcGateway, G711};

use crate::{MediaError, PortRange};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use str0m::config::{CryptoProvider, DtlsCert};

/// The DTLS certificate (and crypto provider) every gateway presents. Making a certificate
/// takes tens of milliseconds, up to a second when many calls start at once, and str0m would
/// make one per connection; so the process makes one and shares it. Browsers check the
/// certificate only against the fingerprint in our answer, which is per call anyway.
/// Cloning is cheap.
#[derive(Clone)]
pub struct WebRtcCert {
    inner: Arc<CertInner>,
}

struct CertInner {
    cert: DtlsCert,
    provider: Arc<CryptoProvider>,
}

impl WebRtcCert {
    /// Makes a new self-signed certificate with the built-in crypto provider (aws-lc-rs).
    pub fn generate() -> Result<WebRtcCert, WebRtcError> {
        let provider = str0m::crypto::from_feature_flags();
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .ok_or(WebRtcError::Certificate)?;
        Ok(WebRtcCert {
            inner: Arc::new(CertInner {
                cert,
                provider: Arc::new(provider),
            }),
        })
    }

    pub(crate) fn cert(&self) -> &DtlsCert {
        &self.inner.cert
    }

    pub(crate) fn provider(&self) -> &Arc<CryptoProvider> {
        &self.inner.provider
    }
}

impl std::fmt::Debug for WebRtcCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcCert").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct WebRtcConfig {
    /// Address the browser-facing socket binds to.
    pub bind_ip: IpAddr,
    /// Address written into our ICE candidate when browsers reach us on another one than
    /// `bind_ip` (a server behind 1:1 NAT). Browsers must be able to reach it: Chrome accepts
    /// loopback, Firefox does not.
    pub advertised_ip: Option<IpAddr>,
    /// Ports for the browser-facing sockets; `None` lets the kernel pick one.
    pub ports: Option<PortRange>,
    /// RFC 4733 payload type on the plain side; the browser's own one is mapped to it.
    pub telephone_event_pt: u8,
    /// A browser that has not connected this long after the answer is given up.
    pub connect_timeout: Duration,
    /// A connected browser that sends nothing at all (no RTP, no RTCP, no STUN consent check)
    /// this long is gone. Chrome sends no DTLS close when a tab closes, and str0m's ICE-lite
    /// agent only gives up after 15 s without binding requests; Chrome checks consent every
    /// 2.5 s and sends RTP every 20 ms, so a few seconds of silence already means the tab is
    /// gone. Zero disables the check.
    pub silence_timeout: Duration,
}

impl Default for WebRtcConfig {
    fn default() -> Self {
        WebRtcConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            advertised_ip: None,
            ports: None,
            telephone_event_pt: 101,
            connect_timeout: Duration::from_secs(15),
            silence_timeout: Duration::from_secs(8),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebRtcError {
    #[error("cannot make a DTLS certificate")]
    Certificate,
    #[error("the browser's offer is too large ({0} bytes)")]
    OfferTooLarge(usize),
    #[error("the browser's offer is not valid SDP: {0}")]
    BadOffer(String),
    #[error("the browser's offer was refused: {0}")]
    OfferRefused(String),
    #[error("the browser's offer has no audio")]
    NoAudio,
    #[error("the browser's offer has no codec in common with the gateway (PCMU or PCMA)")]
    NoCommonCodec,
    #[error("this gateway has already answered an offer")]
    AlreadyAnswered,
    #[error("cannot use {0} as an ICE candidate: {1}")]
    BadCandidate(SocketAddr, String),
    #[error("no free port for the browser's socket in {0}")]
    PortsExhausted(PortRange),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("WebRTC socket: {0}")]
    Io(#[from] std::io::Error),
}

/// What a gateway reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebRtcEvent {
    /// ICE and DTLS are up: media flows from now on.
    Connected,
    /// A key the browser sent as RFC 4733, reported once per key press.
    Dtmf(char),
    /// The session is over; the last event of a gateway.
    Closed { reason: CloseReason },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The browser did not connect within [`WebRtcConfig::connect_timeout`].
    ConnectTimeout,
    /// Nothing from the browser for [`WebRtcConfig::silence_timeout`].
    BrowserSilent,
    /// The ICE agent lost the browser (no consent checks for 15 s).
    IceDisconnected,
    /// The browser closed DTLS (Firefox does when a tab closes; Chrome does not).
    BrowserClosed,
    /// DTLS or another part of WebRTC failed, e.g. a certificate not matching the offer.
    Failed(String),
    /// Our side ended it: [`WebRtcGateway::close`], or the handle was stopped or dropped.
    Stopped,
}

/// Packets and bytes of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebRtcStats {
    /// Audio and RFC 4733 packets from the browser sent on as plain RTP (bytes of the RTP
    /// packets sent).
    pub to_plain: FlowStats,
    /// Plain RTP written to the browser (payload bytes; SRTP adds its own overhead).
    pub to_browser: FlowStats,
    /// Plain RTP received before the browser connected, dropped (str0m would drop it too).
    pub dropped_before_connect: u64,
    /// Browser media dropped because the plain side has no address yet.
    pub plain_unsent: u64,
    /// Browser-side datagrams that are neither STUN, DTLS nor (S)RTP, or are oversized.
    pub browser_garbage: u64,
    /// Browser-side datagrams from a source that is not our browser, or that str0m refused.
    pub browser_rejected: u64,
    /// Plain-side datagrams that are not RTP, are oversized, or carry a bad RFC 4733 payload.
    pub plain_garbage: u64,
    /// Plain RTP from another source than the latched one.
    pub plain_foreign: u64,
    /// Plain RTP whose payload type the browser did not negotiate (e.g. PCMA when the
    /// browser took only PCMU, comfort noise), dropped: the gateway does not transcode.
    pub plain_unsupported: u64,
    /// Writes str0m refused and datagrams the sockets would not send.
    pub errors: u64,
}
