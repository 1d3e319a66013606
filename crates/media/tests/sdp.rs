//! SDP offers as real phones and test tools send them, parsed and rewritten for the relay.

use media::{Direction, Sdp};
use std::net::SocketAddr;

const SIPP_OFFER: &str = include_str!("fixtures/sipp_offer.sdp");
const BARESIP_OFFER: &str = include_str!("fixtures/baresip_offer.sdp");

fn ours() -> SocketAddr {
    "198.51.100.7:16384".parse().unwrap()
}

#[test]
fn sipp_offer() {
    let sdp = Sdp::parse(SIPP_OFFER).unwrap();
    assert_eq!(sdp.audio_addr(), Some("192.168.1.20:6000".parse().unwrap()));
    assert_eq!(sdp.audio_payload_types(), vec![8, 101]);
    assert_eq!(sdp.telephone_event_pt(), Some(101));
    assert_eq!(sdp.direction(), Direction::SendRecv);
    // Untouched, it renders back byte for byte.
    assert_eq!(sdp.to_string(), SIPP_OFFER);
}

#[test]
fn sipp_offer_rewritten() {
    let mut sdp = Sdp::parse(SIPP_OFFER).unwrap();
    sdp.rewrite_audio(ours());
    assert_eq!(
        sdp.to_string(),
        "v=0\r\n\
         o=user1 53655765 2353687637 IN IP4 198.51.100.7\r\n\
         s=-\r\n\
         c=IN IP4 198.51.100.7\r\n\
         t=0 0\r\n\
         m=audio 16384 RTP/AVP 8 101\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-11,16\r\n"
    );
    assert_eq!(sdp.audio_addr(), Some(ours()));
}

#[test]
fn baresip_offer() {
    let sdp = Sdp::parse(BARESIP_OFFER).unwrap();
    assert_eq!(sdp.audio_addr(), Some("10.0.0.15:12432".parse().unwrap()));
    assert_eq!(sdp.audio_payload_types(), vec![96, 9, 0, 8, 101]);
    assert_eq!(sdp.telephone_event_pt(), Some(101));
    assert_eq!(sdp.direction(), Direction::SendRecv);
    assert_eq!(sdp.to_string(), BARESIP_OFFER);
}

#[test]
fn baresip_offer_rewritten_keeps_everything_but_addresses() {
    let mut sdp = Sdp::parse(BARESIP_OFFER).unwrap();
    sdp.rewrite_audio(ours());
    let expected = BARESIP_OFFER
        .replace("10.0.0.15", "198.51.100.7")
        .replace("m=audio 12432", "m=audio 16384");
    assert_eq!(sdp.to_string(), expected);
    assert_eq!(Sdp::parse(&sdp.to_string()).unwrap(), sdp);
}

#[test]
fn bare_line_feeds_are_accepted_and_crlf_produced() {
    let lf = SIPP_OFFER.replace("\r\n", "\n");
    let sdp = Sdp::parse(&lf).unwrap();
    assert_eq!(sdp.to_string(), SIPP_OFFER);
}

#[test]
fn malformed_line_in_a_real_offer_is_named() {
    let broken = BARESIP_OFFER.replace("m=audio 12432 RTP/AVP", "m=audio twelve RTP/AVP");
    let err = Sdp::parse(&broken).unwrap_err().to_string();
    assert!(err.contains("line 7"), "{err}");
    assert!(err.contains("m=audio twelve"), "{err}");
}

#[test]
fn restricted_offer_keeps_one_law_and_events() {
    let mut sdp = Sdp::parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 8 0 18 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\na=sendrecv\r\n",
    )
    .unwrap();
    assert_eq!(sdp.g711_law(), Some(media::g711::Law::Alaw));
    sdp.restrict_audio(&[8, 101]);
    assert_eq!(sdp.audio_payload_types(), vec![8, 101]);
    let text = sdp.to_string();
    assert!(
        !text.contains("G729") && !text.contains("annexb") && !text.contains("PCMU"),
        "{text}"
    );
    assert!(
        text.contains("a=fmtp:101 0-16") && text.contains("a=sendrecv"),
        "{text}"
    );
}

#[test]
fn our_answer_is_valid_and_names_our_address() {
    let addr: SocketAddr = "192.0.2.5:30000".parse().unwrap();
    let a = Sdp::g711_answer(addr, media::g711::Law::Ulaw, Some(96));
    assert_eq!(a.audio_addr(), Some(addr));
    assert_eq!(a.audio_payload_types(), vec![0, 96]);
    assert_eq!(a.telephone_event_pt(), Some(96));
    let none = Sdp::g711_answer(addr, media::g711::Law::Alaw, None);
    assert_eq!(none.audio_payload_types(), vec![8]);
}
