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

/// RFC 3264 §6 for the answers we write ourselves (a group's greeting, a queue): one m= line per
/// offered one and in order, the streams we do not take rejected with port 0, the direction
/// mirrored. Issue 10 item 9.
#[test]
fn our_answer_mirrors_the_offer_line_by_line() {
    let offer = Sdp::parse(
        "v=0\r\no=c 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n\
         m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
         m=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:xyz\r\n\
         m=audio 40002 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n",
    )
    .unwrap();
    assert_eq!(offer.check_offer(), Ok(()), "plain RTP is offered too");
    assert_eq!(
        offer.audio_addr(),
        Some("203.0.113.9:40002".parse().unwrap()),
        "the plain-RTP line is the one we take"
    );
    let addr: SocketAddr = "192.0.2.5:30000".parse().unwrap();
    let a = Sdp::g711_answer_to(&offer, addr, media::g711::Law::Alaw);
    let text = a.to_string();
    let m: Vec<&str> = text.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(
        m,
        vec![
            "m=video 0 RTP/AVP 96",
            "m=audio 0 RTP/SAVP 0",
            "m=audio 30000 RTP/AVP 8 101"
        ],
        "{text}"
    );
    assert_eq!(a.direction(), Direction::RecvOnly, "sendonly → recvonly");
    assert_eq!(a.audio_addr(), Some(addr));
    assert_eq!(a.telephone_event_pt(), Some(101));

    for (offered, answered) in [
        ("sendonly", Direction::RecvOnly),
        ("recvonly", Direction::SendOnly),
        ("inactive", Direction::Inactive),
        ("sendrecv", Direction::SendRecv),
    ] {
        let o = Sdp::parse(&format!(
            "v=0\r\no=c 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na={offered}\r\n"
        ))
        .unwrap();
        let a = Sdp::g711_answer_to(&o, addr, media::g711::Law::Ulaw);
        assert_eq!(a.direction(), answered, "{offered}");
    }
}

/// Offers the relay cannot take, each with its reason (the SIP edge answers 488).
#[test]
fn offers_we_refuse() {
    use media::OfferRefusal;
    let offer = |m: &str, c: &str| {
        Sdp::parse(&format!(
            "v=0\r\no=c 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 {c}\r\nt=0 0\r\n{m}"
        ))
        .unwrap()
    };
    assert_eq!(
        offer("m=audio 4000 RTP/SAVP 0\r\n", "203.0.113.9").check_offer(),
        Err(OfferRefusal::SecureOnly)
    );
    assert_eq!(
        offer("m=audio 4000 UDP/TLS/RTP/SAVPF 111\r\n", "203.0.113.9").check_offer(),
        Err(OfferRefusal::SecureOnly)
    );
    assert_eq!(
        offer("m=audio 4000 RTP/AVP 0\r\n", "224.2.1.1/127").check_offer(),
        Err(OfferRefusal::Multicast)
    );
    assert_eq!(
        offer("m=audio 4000 RTP/AVP 0\r\n", "ff0e::1").check_offer(),
        Err(OfferRefusal::Multicast)
    );
    assert_eq!(
        offer("m=video 4000 RTP/AVP 96\r\n", "203.0.113.9").check_offer(),
        Err(OfferRefusal::NoAudio)
    );
    // Hold (c=0.0.0.0) and a disabled stream are offers we take.
    assert_eq!(
        offer("m=audio 4000 RTP/AVP 0\r\n", "0.0.0.0").check_offer(),
        Ok(())
    );
    assert_eq!(
        offer("m=audio 0 RTP/AVP 0\r\n", "203.0.113.9").check_offer(),
        Ok(())
    );
}

/// What the relay passes on keeps every m= line, but only the relayed audio keeps a port:
/// nothing else can flow past the relay, and the answer still lines up with the offer.
#[test]
fn rewriting_disables_the_streams_we_do_not_relay() {
    let mut sdp = Sdp::parse(
        "v=0\r\no=c 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 0\r\nm=video 5000 RTP/AVP 96\r\n",
    )
    .unwrap();
    sdp.rewrite_audio(ours());
    let text = sdp.to_string();
    assert!(text.contains("m=audio 16384 RTP/AVP 0\r\n"), "{text}");
    assert!(text.contains("m=video 0 RTP/AVP 96\r\n"), "{text}");
}
