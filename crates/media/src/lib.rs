//! Media edge: the RTP port pool, SDP rewriting for the B2BUA, the two-party relay that
//! forwards RTP between legs without decoding it, bridges that mix any number of legs (and
//! take a call over from the relay and back without a gap), the call recorder (a tap on the
//! relay and on bridges, whose recording follows the call between them), the player of voice
//! files, SDES-SRTP for legs that ask for it (`srtp`), and the WebRTC gateway that bridges
//! the browser phone to plain RTP. See docs/media.md and docs/recording.md.

pub mod bridge;
pub mod g711;
pub mod mixer;
pub mod player;
pub mod port_range;
pub mod recorder;
pub mod recording;
pub mod relay;
mod rtp_leg;
pub mod rtp_loss;
pub mod rtp_pool;
pub mod sdp;
pub mod srtp;
pub mod vad;
pub mod wav;
pub mod webrtc;

pub use bridge::{spawn_bridge, BridgeConfig, BridgeError, BridgeEvent, BridgeHandle, BridgeStats};
pub use mixer::{MemberId, Mode};
pub use port_range::{PortRange, PortRangeError};
pub use recorder::Channel;
pub use recording::{RecordTap, RecorderOutput, Recording};
pub use relay::{
    spawn_relay, DirectionStats, LegMedia, RelayConfig, RelayEvent, RelayHandle, RelayStats,
};
pub use rtp_leg::MediaLeg;
pub use rtp_pool::{RtpEndpoint, RtpPool};
pub use sdp::{Crypto, CryptoError, Direction, OfferRefusal, OfferedAudio, Sdp, SdpError};
pub use webrtc::{
    spawn_webrtc_gateway, CloseReason, WebRtcCert, WebRtcConfig, WebRtcError, WebRtcEvent,
    WebRtcGateway, WebRtcHandle, WebRtcStats,
};

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("RTP port range exhausted")]
    PortsExhausted,
    #[error("media I/O: {0}")]
    Io(#[from] std::io::Error),
}
