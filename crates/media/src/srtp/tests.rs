use super::keys::tests::{b3_master, hex};
use super::*;

fn key(suite: Suite) -> SrtpKey {
    SrtpKey {
        suite,
        master: b3_master(),
        mki: None,
    }
}

/// An RTP packet of PCMA with `payload` bytes.
fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 8];
    p.extend(seq.to_be_bytes());
    p.extend(160u32.wrapping_mul(u32::from(seq)).to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.extend(payload);
    p
}

fn protect(ctx: &mut SrtpContext, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = packet.to_vec();
    buf.resize(packet.len() + MAX_OVERHEAD, 0);
    let len = ctx.protect_rtp(&mut buf, packet.len())?;
    buf.truncate(len);
    Ok(buf)
}

fn unprotect(ctx: &mut SrtpContext, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = packet.to_vec();
    let len = ctx.unprotect_rtp(&mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

fn protect_rtcp(ctx: &mut SrtpContext, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = packet.to_vec();
    buf.resize(packet.len() + MAX_OVERHEAD, 0);
    let len = ctx.protect_rtcp(&mut buf, packet.len())?;
    buf.truncate(len);
    Ok(buf)
}

fn unprotect_rtcp(ctx: &mut SrtpContext, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = packet.to_vec();
    let len = ctx.unprotect_rtcp(&mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

// The packets of libsrtp's own self-test (srtp_validate), as libsrtp 2 protects them with
// RFC 3711 §B.3's master key: pylibsrtp 1.0.0 gave these bytes.
const PLAIN_RTP: &str = "800f1234decafbadcafebabe abababababababababababababababab";
const PLAIN_RTCP: &str = "81c8000bcafebabe abababababababababababababababab";
const LIBSRTP_RTCP: &str =
    "81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798";

#[test]
fn protects_rtp_exactly_as_libsrtp() {
    let mut tx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    assert_eq!(
        protect(&mut tx, &hex(PLAIN_RTP)).unwrap(),
        hex("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb")
    );
    let mut tx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_32));
    assert_eq!(
        protect(&mut tx, &hex(PLAIN_RTP)).unwrap(),
        hex("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc")
    );
}

#[test]
fn protects_rtcp_exactly_as_libsrtp_in_both_suites() {
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
        let mut tx = SrtpContext::new(&key(suite));
        assert_eq!(
            protect_rtcp(&mut tx, &hex(PLAIN_RTCP)).unwrap(),
            hex(LIBSRTP_RTCP),
            "{suite:?}"
        );
        let mut rx = SrtpContext::new(&key(suite));
        assert_eq!(
            unprotect_rtcp(&mut rx, &hex(LIBSRTP_RTCP)).unwrap(),
            hex(PLAIN_RTCP)
        );
    }
}

#[test]
fn round_trip_with_csrc_and_extension_in_the_clear() {
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
        let mut tx = SrtpContext::new(&key(suite));
        let mut rx = SrtpContext::new(&key(suite));
        // One CSRC and a one-word header extension.
        let mut plain = vec![0x91, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 9, 1, 2, 3, 4];
        plain.extend([0xbe, 0xde, 0, 1, 5, 6, 7, 8]);
        plain.extend([0x55; 160]);
        let sealed = protect(&mut tx, &plain).unwrap();
        assert_eq!(sealed.len(), plain.len() + suite.rtp_tag_len());
        assert_eq!(sealed[..24], plain[..24], "header stays in the clear");
        assert_ne!(sealed[24..184], plain[24..]);
        assert_eq!(unprotect(&mut rx, &sealed).unwrap(), plain);
    }
}

#[test]
fn rollover_counter_follows_a_sequence_wrap() {
    let mut tx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    let mut rx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    let mut sealed = Vec::new();
    for seq in [65_533u16, 65_534, 65_535, 0, 1, 2] {
        sealed.push(protect(&mut tx, &rtp(seq, 7, &[seq as u8; 20])).unwrap());
    }
    // After the wrap the index is 2^16 + seq: sealing seq 0 as if the ROC were still 0 gives
    // another packet, which the receiver refuses.
    let mut fresh = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    assert_ne!(
        protect(&mut fresh, &rtp(0, 7, &[0; 20])).unwrap(),
        sealed[3]
    );
    // Reordered around the wrap: 65535 arrives after 0.
    for i in [0, 1, 3, 2, 4, 5] {
        let plain = unprotect(&mut rx, &sealed[i]).unwrap();
        assert_eq!(plain[12..], [plain[3]; 20], "packet {i}");
    }
    assert_eq!(
        rx.find(7).and_then(|s| s.rtp).map(|w| w.top()),
        Some(65_536 + 2)
    );
}

#[test]
fn replayed_and_too_old_packets_are_refused() {
    let mut tx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    let mut rx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    let sealed: Vec<Vec<u8>> = (100..200u16)
        .map(|seq| protect(&mut tx, &rtp(seq, 1, b"voice")).unwrap())
        .collect();
    assert!(unprotect(&mut rx, &sealed[0]).is_ok());
    assert_eq!(unprotect(&mut rx, &sealed[0]), Err(SrtpError::Replayed));
    assert!(unprotect(&mut rx, &sealed[99]).is_ok());
    // 64 behind the highest is outside the window, 63 behind is not.
    assert_eq!(unprotect(&mut rx, &sealed[35]), Err(SrtpError::Replayed));
    assert!(unprotect(&mut rx, &sealed[36]).is_ok());
    assert_eq!(unprotect(&mut rx, &sealed[36]), Err(SrtpError::Replayed));
    // And a sender never seals the same index twice.
    assert_eq!(
        protect(&mut tx, &rtp(150, 1, b"other")),
        Err(SrtpError::Replayed)
    );
}

#[test]
fn tampered_packets_are_refused_and_move_nothing() {
    let mut tx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    let mut rx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    let sealed = protect(&mut tx, &rtp(10, 1, b"hello")).unwrap();
    for at in [1, 3, 11, 12, sealed.len() - 1] {
        let mut bad = sealed.clone();
        bad[at] ^= 1;
        assert_eq!(
            unprotect(&mut rx, &bad),
            Err(SrtpError::AuthFailed),
            "byte {at}"
        );
    }
    // A forged packet far ahead did not move the window: the real one is still new.
    let mut forged = protect(
        &mut SrtpContext::new(&key(Suite::AesCm128HmacSha1_32)),
        &rtp(30_000, 1, b"x"),
    )
    .unwrap();
    forged.extend([0; 6]);
    assert_eq!(unprotect(&mut rx, &forged), Err(SrtpError::AuthFailed));
    assert_eq!(unprotect(&mut rx, &sealed).unwrap(), rtp(10, 1, b"hello"));
    assert!(rx.find(1).is_some());

    // Another key.
    let mut other = key(Suite::AesCm128HmacSha1_80);
    other.master.key[0] ^= 1;
    let mut rx = SrtpContext::new(&other);
    assert_eq!(unprotect(&mut rx, &sealed), Err(SrtpError::AuthFailed));
    assert!(
        rx.find(1).is_none(),
        "no stream from an unauthenticated packet"
    );
}

#[test]
fn short_packets_and_full_buffers() {
    let mut ctx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    assert_eq!(unprotect(&mut ctx, &[0x80; 21]), Err(SrtpError::TooShort));
    assert_eq!(unprotect(&mut ctx, &[]), Err(SrtpError::TooShort));
    // A CSRC count whose list is not there.
    assert_eq!(unprotect(&mut ctx, &[0x8f; 40]), Err(SrtpError::TooShort));
    assert_eq!(
        unprotect_rtcp(&mut ctx, &[0x81; 21]),
        Err(SrtpError::TooShort)
    );
    let packet = rtp(1, 1, b"abc");
    let mut exact = packet.clone();
    assert_eq!(
        ctx.protect_rtp(&mut exact, packet.len()),
        Err(SrtpError::NoRoom)
    );
    assert_eq!(protect(&mut ctx, &packet[..11]), Err(SrtpError::TooShort));
    assert_eq!(
        protect_rtcp(&mut ctx, &[0x81, 200, 0, 0]),
        Err(SrtpError::TooShort)
    );
}

#[test]
fn srtcp_index_counts_up_and_replays_are_refused() {
    let mut tx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    let mut rx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    let plain = hex(PLAIN_RTCP);
    let first = protect_rtcp(&mut tx, &plain).unwrap();
    let second = protect_rtcp(&mut tx, &plain).unwrap();
    let index = |p: &[u8]| u32::from_be_bytes(p[p.len() - 14..p.len() - 10].try_into().unwrap());
    assert_eq!((index(&first), index(&second)), (0x8000_0001, 0x8000_0002));
    assert_ne!(first[8..24], second[8..24], "each index its own keystream");
    assert_eq!(unprotect_rtcp(&mut rx, &second).unwrap(), plain);
    assert_eq!(unprotect_rtcp(&mut rx, &first).unwrap(), plain);
    assert_eq!(unprotect_rtcp(&mut rx, &first), Err(SrtpError::Replayed));
    let third = protect_rtcp(&mut tx, &plain).unwrap();
    let mut bad = third.clone();
    bad[9] ^= 0x10;
    assert_eq!(unprotect_rtcp(&mut rx, &bad), Err(SrtpError::AuthFailed));
    assert_eq!(unprotect_rtcp(&mut rx, &third).unwrap(), plain);

    // The E bit clear: authenticated but sent in the clear (RFC 3711 §3.4).
    let mut clear = plain.clone();
    clear.extend(4u32.to_be_bytes());
    let mut mac = rx.rtcp.auth.clone();
    mac.update(&clear);
    clear.extend(&mac.finalize().into_bytes()[..10]);
    assert_eq!(unprotect_rtcp(&mut rx, &clear).unwrap(), plain);
}

#[test]
fn mki_is_carried_and_checked() {
    let mut with_mki = key(Suite::AesCm128HmacSha1_80);
    with_mki.mki = Some(vec![0, 0, 0, 1]);
    let mut tx = SrtpContext::new(&with_mki);
    let mut rx = SrtpContext::new(&with_mki);
    let plain = rtp(5, 3, b"mki");
    let sealed = protect(&mut tx, &plain).unwrap();
    assert_eq!(sealed.len(), plain.len() + 4 + 10);
    assert_eq!(sealed[plain.len()..plain.len() + 4], [0, 0, 0, 1]);
    assert_eq!(unprotect(&mut rx, &sealed).unwrap(), plain);
    let mut other_mki = protect(&mut tx, &rtp(6, 3, b"mki")).unwrap();
    other_mki[plain.len() + 3] = 2;
    assert_eq!(unprotect(&mut rx, &other_mki), Err(SrtpError::AuthFailed));
    let rtcp = protect_rtcp(&mut tx, &hex(PLAIN_RTCP)).unwrap();
    assert_eq!(unprotect_rtcp(&mut rx, &rtcp).unwrap(), hex(PLAIN_RTCP));
}

#[test]
fn each_ssrc_has_its_own_index_and_few_are_kept() {
    let mut tx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    let mut rx = SrtpContext::new(&key(Suite::AesCm128HmacSha1_80));
    // The same sequence number on two SSRCs is two packets, not a replay.
    let a = protect(&mut tx, &rtp(1, 100, b"a")).unwrap();
    let b = protect(&mut tx, &rtp(1, 200, b"b")).unwrap();
    assert!(unprotect(&mut rx, &a).is_ok() && unprotect(&mut rx, &b).is_ok());
    for ssrc in 0..20 {
        let p = protect(&mut tx, &rtp(1, 1000 + ssrc, b"x")).unwrap();
        assert!(unprotect(&mut rx, &p).is_ok());
    }
    assert_eq!(rx.streams.len(), MAX_STREAMS);
    assert_eq!(tx.streams.len(), MAX_STREAMS);
    assert!(rx.find(1019).is_some() && rx.find(100).is_none());
}
