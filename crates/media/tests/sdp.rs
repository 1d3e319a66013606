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

/// A 30-byte key and salt, base64: bytes 0, 1, 2, ... 29.
const KEY_0_29: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";

/// `a=crypto` lines (RFC 4568 §9.1) as phones and carriers write them, and the ones we must
/// not use.
#[test]
fn crypto_lines() {
    use media::srtp::Suite::{AesCm128HmacSha1_32 as S32, AesCm128HmacSha1_80 as S80};
    use media::{Crypto, CryptoError as E};
    let ok = |tag, suite, mki: Option<&[u8]>| Ok((tag, suite, mki.map(<[u8]>::to_vec)));
    let cases: Vec<(String, Result<_, E>)> = vec![
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}"),
            ok(1, S80, None),
        ),
        (
            format!("2 AES_CM_128_HMAC_SHA1_32 inline:{KEY_0_29}|2^31"),
            ok(2, S32, None),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}|2^20|1:4"),
            ok(1, S80, Some(&[0, 0, 0, 1])),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}|258:2"),
            ok(1, S80, Some(&[1, 2])),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}|1048576"),
            ok(1, S80, None),
        ),
        (
            format!("3 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29} WSH=64"),
            ok(3, S80, None),
        ),
        (
            format!("1  AES_CM_128_HMAC_SHA1_80\tinline:{KEY_0_29}"),
            ok(1, S80, None),
        ),
        // Not for us: other suites, session parameters, several keys, broken keys.
        (
            format!("1 AES_256_CM_HMAC_SHA1_80 inline:{KEY_0_29}"),
            Err(E::Suite),
        ),
        (
            format!("1 F8_128_HMAC_SHA1_80 inline:{KEY_0_29}"),
            Err(E::Suite),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29} UNENCRYPTED_SRTP"),
            Err(E::Unsupported),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29} KDR=1"),
            Err(E::Unsupported),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}|1:4;inline:{KEY_0_29}|2:4"),
            Err(E::Unsupported),
        ),
        (
            "1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw".into(),
            Err(E::Key),
        ),
        (
            "1 AES_CM_128_HMAC_SHA1_80 inline:not*base64".into(),
            Err(E::Key),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}|1:17"),
            Err(E::KeyParameter),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}|256:1"),
            Err(E::KeyParameter),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}|+1:1"),
            Err(E::KeyParameter),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}|2^x"),
            Err(E::KeyParameter),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}|1:4|2^20"),
            Err(E::KeyParameter),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 key:{KEY_0_29}"),
            Err(E::Syntax),
        ),
        (
            format!("x AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}"),
            Err(E::Syntax),
        ),
        (
            format!("1234567890 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}"),
            Err(E::Syntax),
        ),
        ("1 AES_CM_128_HMAC_SHA1_80".into(), Err(E::Syntax)),
        ("".into(), Err(E::Syntax)),
    ];
    for (line, want) in cases {
        let got = Crypto::parse(&line).map(|c| (c.tag, c.key.suite, c.key.mki.clone()));
        assert_eq!(got, want, "{line}");
        if let Ok(c) = Crypto::parse(&line) {
            let bytes: Vec<u8> = (0..30).collect();
            assert_eq!(c.key.master.to_bytes()[..], bytes[..], "{line}");
            // What we write parses back to the same line.
            let written = c.to_string();
            let back = Crypto::parse(written.strip_prefix("crypto:").unwrap()).unwrap();
            assert_eq!(back, c, "{written}");
            assert!(
                !format!("{c:?}").contains(KEY_0_29),
                "keys stay out of logs"
            );
        }
    }
}

/// Which offers are taken, as what, with SRTP allowed (the SIP edge over TLS) or not.
#[test]
fn secure_offers_with_and_without_srtp_allowed() {
    use media::srtp::Suite;
    use media::{OfferRefusal as R, OfferedAudio};
    let offer = |m: &str| {
        Sdp::parse(&format!(
            "v=0\r\no=c 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n{m}"
        ))
        .unwrap()
    };
    let c80 = format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}\r\n");
    let c32 = format!("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY_0_29}\r\n");
    let c256 = format!("a=crypto:3 AES_256_CM_HMAC_SHA1_80 inline:{KEY_0_29}{KEY_0_29}\r\n");
    let savp = "m=audio 4000 RTP/SAVP 0 101\r\n";
    // What an offer is taken as: the tag and suite of SRTP, None for plain RTP, or the refusal.
    type Taken = Result<Option<(u32, Suite)>, R>;
    // (media sections, allow_srtp, expected)
    let cases: Vec<(String, bool, Taken)> = vec![
        (
            format!("{savp}{c80}{c32}"),
            true,
            Ok(Some((1, Suite::AesCm128HmacSha1_80))),
        ),
        (
            format!("{savp}{c32}{c80}"),
            true,
            Ok(Some((2, Suite::AesCm128HmacSha1_32))),
        ),
        (
            format!("{savp}{c256}{c32}"),
            true,
            Ok(Some((2, Suite::AesCm128HmacSha1_32))),
        ),
        (
            format!("m=audio 4000 RTP/SAVPF 0\r\n{c80}"),
            true,
            Ok(Some((1, Suite::AesCm128HmacSha1_80))),
        ),
        (format!("{savp}{c80}"), false, Err(R::SecureOnly)),
        (format!("{savp}{c256}"), true, Err(R::NoSupportedCrypto)),
        (savp.to_string(), true, Err(R::NoSupportedCrypto)),
        (
            "m=audio 4000 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 AB\r\n".into(),
            true,
            Err(R::NoSupportedCrypto),
        ),
        (
            "m=audio 4000 UDP/TLS/RTP/SAVPF 111\r\n".into(),
            false,
            Err(R::SecureOnly),
        ),
        // A plain alternative is what we take, SRTP allowed or not.
        (
            format!("{savp}{c80}m=audio 4002 RTP/AVP 0\r\n"),
            true,
            Ok(None),
        ),
        ("m=audio 4000 RTP/AVP 0\r\n".into(), true, Ok(None)),
        // a=crypto on RTP/AVP ("best effort") is not SRTP.
        (format!("m=audio 4000 RTP/AVP 0\r\n{c80}"), true, Ok(None)),
        ("m=video 4000 RTP/SAVP 96\r\n".into(), true, Err(R::NoAudio)),
    ];
    for (m, allow, want) in cases {
        let got = offer(&m).accept_offer(allow).map(|o| match o {
            OfferedAudio::Rtp => None,
            OfferedAudio::Srtp(c) => Some((c.tag, c.key.suite)),
        });
        assert_eq!(got, want, "{m} (SRTP allowed: {allow})");
        assert_eq!(
            offer(&m).check_offer(),
            offer(&m).accept_offer(false).map(|_| ()),
            "check_offer is the plain-only case"
        );
    }
    // Multicast is refused whatever the profile.
    let multicast = Sdp::parse(&format!(
        "v=0\r\no=c 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 224.2.1.1/127\r\nt=0 0\r\n{savp}{c80}"
    ))
    .unwrap();
    assert_eq!(multicast.accept_offer(true), Err(R::Multicast));
}

/// The SRTP side of a call: the caller's secure offer goes on as plain RTP without its key, and
/// the caller gets RTP/SAVP with a key of ours under the tag it offered, whether the answer is
/// the callee's or our own.
#[test]
fn srtp_offer_answered_with_our_key_and_passed_on_plain() {
    use media::OfferedAudio;
    use rand::SeedableRng;
    let text = format!(
        "v=0\r\no=phone 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n\
         m=audio 4000 RTP/SAVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:{KEY_0_29}|2^31\r\n\
         a=crypto:6 AES_CM_128_HMAC_SHA1_80 inline:{KEY_0_29}\r\na=sendrecv\r\n"
    );
    let offer = Sdp::parse(&text).unwrap();
    let Ok(OfferedAudio::Srtp(theirs)) = offer.accept_offer(true) else {
        panic!("not taken as SRTP");
    };
    assert_eq!(
        offer.audio_addr(),
        Some("203.0.113.9:4000".parse().unwrap())
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (our_line, keys) = theirs.answer(&mut rng);
    assert_eq!((our_line.tag, our_line.key.suite), (5, theirs.key.suite));
    assert_eq!(
        (keys.remote.clone(), keys.local.clone()),
        (theirs.key.clone(), our_line.key.clone())
    );
    assert_ne!(our_line.key.master, theirs.key.master, "a key of our own");
    let (again, _) = theirs.answer(&mut rand::rngs::StdRng::seed_from_u64(8));
    assert_ne!(again.key.master, our_line.key.master, "fresh per answer");

    // Toward the callee: plain, and the caller's key stays with us.
    let mut onward = offer.clone();
    onward.rewrite_audio(ours());
    onward.to_plain_rtp();
    let t = onward.to_string();
    assert!(t.contains("m=audio 16384 RTP/AVP 8 101\r\n"), "{t}");
    assert!(!t.contains("crypto") && !t.contains(KEY_0_29), "{t}");
    assert_eq!(onward.check_offer(), Ok(()));

    // The callee's plain answer, back toward the caller.
    let mut answer = Sdp::parse(
        "v=0\r\no=agent 2 2 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
         m=audio 5000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
    )
    .unwrap();
    answer.rewrite_audio(ours());
    answer.to_srtp(&our_line);
    let t = answer.to_string();
    assert!(t.contains("m=audio 16384 RTP/SAVP 8 101\r\n"), "{t}");
    let lines: Vec<&str> = t.lines().filter(|l| l.starts_with("a=crypto:")).collect();
    assert_eq!(lines.len(), 1, "{t}");
    assert!(
        lines[0].starts_with("a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:"),
        "{t}"
    );
    assert_eq!(answer.audio_crypto(), vec![our_line.clone()]);

    // Our own answer (a greeting): the same, on G.711.
    let mut own = Sdp::g711_answer_to(&offer, ours(), media::g711::Law::Alaw);
    own.to_srtp(&our_line);
    let t = own.to_string();
    assert!(t.contains("m=audio 16384 RTP/SAVP 8 101\r\n"), "{t}");
    assert_eq!(own.audio_crypto(), vec![our_line]);
    assert_eq!(own.telephone_event_pt(), Some(101));
}
