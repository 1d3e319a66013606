//! A caller's leg that is SDES-SRTP (issue 10 item 22): a phone that called over TLS and
//! offered only RTP/SAVP. Only that leg is encrypted; the other side of the call (agent
//! phone, trunk) is offered and answered plain RTP/AVP, and the relay translates.

use media::sdp::Sdp;
use media::srtp::SrtpKeys;
use media::{Crypto, OfferedAudio};

/// Our key for the caller's leg and the leg's keys for the relay. Kept for the whole call:
/// a re-INVITE must bring the same key (we do not re-key).
#[derive(Clone)]
pub(crate) struct CallerSrtp {
    theirs: Crypto,
    ours: Crypto,
    keys: SrtpKeys,
}

impl CallerSrtp {
    /// Takes the caller's offer over a wire where SDES is allowed (or not): `Ok(None)` for
    /// plain RTP, `Ok(Some)` for SRTP with a fresh key of ours. The offer is turned into
    /// plain RTP/AVP without the caller's key, since it is what the other side is offered.
    pub(crate) fn take_offer(
        offer: &mut Sdp,
        allow_srtp: bool,
    ) -> Result<Option<CallerSrtp>, media::OfferRefusal> {
        match offer.accept_offer(allow_srtp)? {
            OfferedAudio::Rtp => Ok(None),
            OfferedAudio::Srtp(theirs) => {
                let (ours, keys) = theirs.answer(&mut rand::rngs::OsRng);
                offer.to_plain_rtp();
                Ok(Some(CallerSrtp { theirs, ours, keys }))
            }
        }
    }

    pub(crate) fn keys(&self) -> SrtpKeys {
        self.keys.clone()
    }

    /// An SDP going to the caller (our answer, early media, a re-INVITE): RTP/SAVP with our key.
    pub(crate) fn to_caller(&self, sdp: &mut Sdp) {
        sdp.to_srtp(&self.ours);
    }

    /// A re-INVITE from the caller: it must stay SRTP with the key the leg has. The offer
    /// is then made plain for the other side.
    pub(crate) fn take_reoffer(&self, offer: &mut Sdp) -> Result<(), &'static str> {
        match offer.accept_offer(true) {
            Ok(OfferedAudio::Srtp(c)) if c.key == self.theirs.key => {
                offer.to_plain_rtp();
                Ok(())
            }
            Ok(OfferedAudio::Srtp(_)) => Err("re-keying SRTP is not supported"),
            Ok(OfferedAudio::Rtp) => Err("the call is SRTP; RTP/SAVP is required"),
            Err(_) => Err("an SRTP audio stream is required"),
        }
    }
}

/// A re-INVITE on a plain leg must stay plain: an SRTP leg cannot be started mid-call.
pub(crate) fn is_plain_reoffer(offer: &Sdp) -> bool {
    matches!(offer.accept_offer(false), Ok(OfferedAudio::Rtp))
}
