//! SRTP legs (SDES, issue 10 item 22): a relay whose leg A is SRTP and leg B plain, a prompt
//! and a bridge sending to an SRTP leg, and the same relay against libsrtp (pylibsrtp in
//! .venv, which scripts/install-deps.sh installs), the SRTP library of Asterisk and
//! FreeSWITCH, with the keys taken from the SDP offer and our answer.

use base64::Engine;
use media::g711::Law;
use media::player::{Program, Prompt};
use media::srtp::{SrtpContext, SrtpKey, SrtpKeys, Suite, MAX_OVERHEAD};
use media::{
    spawn_bridge, spawn_relay, BridgeConfig, LegMedia, MediaLeg, MemberId, Mode, OfferedAudio,
    PortRange, RelayConfig, RelayHandle, RelayStats, RtpPool, Sdp,
};
use rand::SeedableRng;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::unbounded_channel;
use tokio::time::{sleep, timeout, Instant};

const WAIT: Duration = Duration::from_secs(5);
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn pool(lo: u16) -> RtpPool {
    RtpPool::new(
        Ipv4Addr::LOCALHOST.into(),
        PortRange::new(lo, lo + 19).unwrap(),
    )
}

async fn socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

/// An RTP socket and its RTCP socket on the next port, as a phone has them: RTCP sent before
/// any arrives from the phone goes there.
async fn pair() -> (UdpSocket, UdpSocket) {
    loop {
        let rtp = socket().await;
        let port = addr(&rtp).port();
        if port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(("127.0.0.1", port + 1)).await {
            return (rtp, rtcp);
        }
    }
}

fn addr(s: &UdpSocket) -> SocketAddr {
    s.local_addr().unwrap()
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 8];
    p.extend(seq.to_be_bytes());
    p.extend((u32::from(seq) * 160).to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.extend(payload);
    p
}

/// A sender report without report blocks.
fn rtcp(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend(ssrc.to_be_bytes());
    p.extend([7; 20]);
    p
}

async fn recv(s: &UdpSocket) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    let (n, _) = timeout(WAIT, s.recv_from(&mut buf))
        .await
        .expect("datagram expected")
        .unwrap();
    buf[..n].to_vec()
}

async fn stats_when(handle: &RelayHandle, done: impl Fn(&RelayStats) -> bool) -> RelayStats {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = handle.stats();
        if done(&s) || Instant::now() > deadline {
            return s;
        }
        sleep(Duration::from_millis(5)).await;
    }
}

/// The SDES exchange as the SIP edge will do it over TLS: the phone offers RTP/SAVP with its
/// key, we answer with ours. The phone's key, ours as the phone reads it from our answer, and
/// the keys of the leg.
fn sdes(suite: Suite, seed: u64) -> (SrtpKey, SrtpKey, SrtpKeys) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let phone = media::srtp::MasterKey::random(&mut rng);
    let offer = Sdp::parse(&format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/SAVP 8\r\na=crypto:1 {} inline:{}|2^31\r\n",
        suite.name(),
        B64.encode(phone.to_bytes())
    ))
    .unwrap();
    let Ok(OfferedAudio::Srtp(theirs)) = offer.accept_offer(true) else {
        panic!("SRTP offer not taken");
    };
    let (our_line, keys) = theirs.answer(&mut rng);
    let mut answer = Sdp::g711_answer_to(&offer, "127.0.0.1:30000".parse().unwrap(), Law::Alaw);
    answer.to_srtp(&our_line);
    let text = answer.to_string();
    assert!(text.contains("RTP/SAVP"), "{text}");
    let from_answer = Sdp::parse(&text).unwrap().audio_crypto();
    assert_eq!(from_answer.len(), 1, "{text}");
    assert_eq!(keys.remote.master, phone);
    (keys.remote.clone(), from_answer[0].key.clone(), keys)
}

fn seal(ctx: &mut SrtpContext, packet: &[u8], rtcp: bool) -> Vec<u8> {
    let mut buf = packet.to_vec();
    buf.resize(packet.len() + MAX_OVERHEAD, 0);
    let len = if rtcp {
        ctx.protect_rtcp(&mut buf, packet.len())
    } else {
        ctx.protect_rtp(&mut buf, packet.len())
    }
    .unwrap();
    buf.truncate(len);
    buf
}

fn open(ctx: &mut SrtpContext, packet: &[u8], rtcp: bool) -> Vec<u8> {
    let mut buf = packet.to_vec();
    let len = if rtcp {
        ctx.unprotect_rtcp(&mut buf)
    } else {
        ctx.unprotect_rtp(&mut buf)
    }
    .unwrap_or_else(|e| panic!("{e}: {packet:02x?}"));
    buf.truncate(len);
    buf
}

#[tokio::test]
async fn srtp_leg_to_plain_leg_and_back_with_forgeries_refused() {
    let pool = pool(27000);
    let (phone_key, our_key, keys) = sdes(Suite::AesCm128HmacSha1_80, 1);
    let (phone_rtp, phone_rtcp) = pair().await;
    let (plain, plain_rtcp) = pair().await;
    let a = pool.allocate().await.unwrap();
    let b = pool.allocate().await.unwrap();
    let relay = [a.rtp_addr(), b.rtp_addr()];
    let rtcp_port = |a: SocketAddr| SocketAddr::new(a.ip(), a.port() + 1);
    let (tx, _events) = unbounded_channel();
    let handle = spawn_relay(
        LegMedia {
            endpoint: a,
            remote: None,
            telephone_event_pt: None,
            srtp: Some(keys),
        },
        LegMedia {
            endpoint: b,
            remote: Some(addr(&plain)),
            telephone_event_pt: None,
            srtp: None,
        },
        RelayConfig::default(),
        tx,
    );
    let mut phone_tx = SrtpContext::new(&phone_key);
    let mut phone_rx = SrtpContext::new(&our_key);

    // A stranger without the key: refused before it can latch, so nothing goes its way.
    let stranger = socket().await;
    let mut wrong = phone_key.clone();
    wrong.master.key[0] ^= 0xff;
    let forged = seal(&mut SrtpContext::new(&wrong), &rtp(1, 9, &[1; 160]), false);
    stranger.send_to(&forged, relay[0]).await.unwrap();
    stranger
        .send_to(&rtp(2, 9, &[1; 160]), relay[0])
        .await
        .unwrap();

    // Across the sequence number wrap, so the rollover counter is exercised on both sides.
    let sent: Vec<Vec<u8>> = (0..20u16)
        .map(|i| rtp(65_530u16.wrapping_add(i), 0xabc, &[i as u8; 160]))
        .collect();
    let sealed: Vec<Vec<u8>> = sent.iter().map(|p| seal(&mut phone_tx, p, false)).collect();
    for p in &sealed {
        phone_rtp.send_to(p, relay[0]).await.unwrap();
    }
    // A replayed and a tampered packet.
    phone_rtp.send_to(&sealed[3], relay[0]).await.unwrap();
    let mut tampered = seal(&mut phone_tx, &rtp(20, 0xabc, &[0; 160]), false);
    tampered[20] ^= 1;
    phone_rtp.send_to(&tampered, relay[0]).await.unwrap();
    for want in &sent {
        assert_eq!(
            &recv(&plain).await,
            want,
            "the plain side gets the exact packets"
        );
    }
    let sr = rtcp(0xabc);
    phone_rtcp
        .send_to(&seal(&mut phone_tx, &sr, true), rtcp_port(relay[0]))
        .await
        .unwrap();
    assert_eq!(
        recv(&plain_rtcp).await,
        sr,
        "SRTCP opened for the plain side"
    );
    let stats = stats_when(&handle, |s| {
        s.unauthenticated[0] >= 4 && s.forwarded[0].rtcp_packets == 1
    })
    .await;
    assert_eq!(
        stats.unauthenticated[0], 4,
        "forged, unencrypted, replayed, tampered: {stats:?}"
    );
    assert_eq!(stats.forwarded[0].rtp_packets, 20, "{stats:?}");

    // Back: plain in, SRTP out to the latched phone, which opens it with our answer's key.
    for p in &sent {
        plain.send_to(p, relay[1]).await.unwrap();
    }
    for want in &sent {
        let got = recv(&phone_rtp).await;
        assert_eq!(got.len(), want.len() + 10, "an 80-bit tag");
        assert_eq!(&open(&mut phone_rx, &got, false), want);
    }
    plain_rtcp.send_to(&sr, rtcp_port(relay[1])).await.unwrap();
    let got = recv(&phone_rtcp).await;
    assert_eq!(open(&mut phone_rx, &got, true), sr);
    let stats = handle.stats();
    assert_eq!(stats.forwarded[1].rtp_packets, 20, "{stats:?}");
    assert_eq!(stats.unauthenticated[1], 0);
}

/// Prompts are sent to an SRTP leg encrypted too, and go on in one stream with what the
/// other side says afterwards.
#[tokio::test]
async fn a_prompt_to_an_srtp_leg_is_encrypted() {
    let pool = pool(27020);
    let (_, our_key, keys) = sdes(Suite::AesCm128HmacSha1_32, 2);
    let (phone, _phone_rtcp) = pair().await;
    let (plain, _plain_rtcp) = pair().await;
    let a = pool.allocate().await.unwrap();
    let b = pool.allocate().await.unwrap();
    let relay_b = b.rtp_addr();
    let (tx, _events) = unbounded_channel();
    let handle = spawn_relay(
        LegMedia {
            endpoint: a,
            remote: Some(addr(&phone)),
            telephone_event_pt: None,
            srtp: Some(keys),
        },
        LegMedia {
            endpoint: b,
            remote: Some(addr(&plain)),
            telephone_event_pt: None,
            srtp: None,
        },
        RelayConfig::default(),
        tx,
    );
    let samples: Vec<i16> = (0..480).map(|i| (i * 40) as i16).collect();
    let prompt = Arc::new(Prompt::from_samples(samples.clone()).unwrap());
    handle.play(0, Program::Once(prompt), Law::Ulaw);
    let mut rx = SrtpContext::new(&our_key);
    let mut heard = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let got = recv(&phone).await;
        assert_eq!(got.len(), 12 + 160 + 4, "a 32-bit tag");
        let p = open(&mut rx, &got, false);
        heard.extend(p[12..].iter().map(|&b| media::g711::ulaw_decode(b)));
        last = Some(u16::from_be_bytes([p[2], p[3]]));
    }
    let expected: Vec<i16> = samples
        .iter()
        .map(|&s| media::g711::ulaw_decode(Law::Ulaw.encode(s)))
        .collect();
    assert_eq!(heard, expected);
    // After the prompt, the other side's voice continues the same stream.
    sleep(Duration::from_millis(60)).await;
    plain
        .send_to(&rtp(500, 77, &[0x55; 160]), relay_b)
        .await
        .unwrap();
    let p = open(&mut rx, &recv(&phone).await, false);
    assert_eq!(
        u16::from_be_bytes([p[2], p[3]]),
        last.unwrap().wrapping_add(1)
    );
    assert_eq!(p[12..], [0x55; 160]);
}

/// A bridge member on SRTP hears the mix encrypted with our key and is heard by the others.
#[tokio::test]
async fn a_bridge_member_on_srtp() {
    let pool = pool(27040);
    let (phone_key, our_key, keys) = sdes(Suite::AesCm128HmacSha1_80, 3);
    let (tx, _events) = unbounded_channel();
    let bridge = spawn_bridge(BridgeConfig::default(), tx);
    let (secure, _s_rtcp) = pair().await;
    let (plain, _p_rtcp) = pair().await;
    let mut ours = Vec::new();
    for (id, phone, srtp) in [(1, &secure, Some(keys)), (2, &plain, None)] {
        let endpoint = pool.allocate().await.unwrap();
        ours.push(endpoint.rtp_addr());
        let leg = MediaLeg::new(LegMedia {
            endpoint,
            remote: Some(addr(phone)),
            telephone_event_pt: None,
            srtp,
        });
        assert_eq!(leg.is_srtp(), id == 1);
        bridge
            .add(MemberId(id), leg, Law::Alaw, Mode::Talk)
            .await
            .unwrap();
    }
    let mut phone_tx = SrtpContext::new(&phone_key);
    let mut phone_rx = SrtpContext::new(&our_key);
    // Each sends a constant level for 30 packets, one per 20 ms; each must hear the other.
    let loud = Law::Alaw.encode(8000);
    let quiet = Law::Alaw.encode(-3000);
    let mut heard_secure = Vec::new();
    let mut heard_plain = Vec::new();
    let mut buf = [0u8; 2048];
    for i in 0..30u16 {
        let p = rtp(1000 + i, 0x5ec, &[loud; 160]);
        secure
            .send_to(&seal(&mut phone_tx, &p, false), ours[0])
            .await
            .unwrap();
        plain
            .send_to(&rtp(4000 + i, 0x91a, &[quiet; 160]), ours[1])
            .await
            .unwrap();
        sleep(Duration::from_millis(20)).await;
        while let Ok((n, _)) = secure.try_recv_from(&mut buf) {
            heard_secure.push(open(&mut phone_rx, &buf[..n], false));
        }
        while let Ok((n, _)) = plain.try_recv_from(&mut buf) {
            heard_plain.push(buf[..n].to_vec());
        }
    }
    let level = |packets: &[Vec<u8>]| {
        packets
            .iter()
            .flat_map(|p| p[12..].iter().map(|&b| media::g711::alaw_decode(b)))
            .max()
            .unwrap_or(0)
    };
    assert!(heard_secure.len() >= 10, "{} packets", heard_secure.len());
    assert!(heard_plain.len() >= 10, "{} packets", heard_plain.len());
    assert!(
        level(&heard_plain) > 6000,
        "the plain member hears the SRTP member"
    );
    let secure_hears = heard_secure
        .iter()
        .flat_map(|p| p[12..].iter().map(|&b| media::g711::alaw_decode(b)))
        .min()
        .unwrap_or(0);
    assert!(secure_hears < -2000, "the SRTP member hears the plain one");
    assert_eq!(bridge.stats().unauthenticated, 0);
}

fn venv_python() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

fn unhex(s: &serde_json::Value) -> Vec<u8> {
    let s = s.as_str().unwrap();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// libsrtp (the library of Asterisk and FreeSWITCH) on the phone's side of an SRTP leg: what
/// it protects with the key of its offer reaches the plain side exactly, and what we send it
/// it opens with the key from our answer, RTP and RTCP, across a sequence number wrap.
#[tokio::test]
async fn libsrtp_interop_in_both_suites_and_directions() {
    let pool = pool(27060);
    for (n, suite) in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32]
        .into_iter()
        .enumerate()
    {
        let (phone_key, our_key, keys) = sdes(suite, 10 + n as u64);
        let (plain, plain_rtcp) = pair().await;
        let a = pool.allocate().await.unwrap();
        let b = pool.allocate().await.unwrap();
        let (relay_a, relay_b) = (a.rtp_addr(), b.rtp_addr());
        let (tx, _events) = unbounded_channel();
        let handle = spawn_relay(
            LegMedia {
                endpoint: a,
                remote: None,
                telephone_event_pt: None,
                srtp: Some(keys),
            },
            LegMedia {
                endpoint: b,
                remote: Some(addr(&plain)),
                telephone_event_pt: None,
                srtp: None,
            },
            RelayConfig::default(),
            tx,
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/libsrtp_peer.py");
        let mut child = tokio::process::Command::new(venv_python())
            .arg(script)
            .args(["--relay-rtp", &relay_a.to_string(), "--suite", suite.name()])
            .args(["--send-key", &B64.encode(phone_key.master.to_bytes())])
            .args(["--recv-key", &B64.encode(our_key.master.to_bytes())])
            .args(["--count", "20", "--first-seq", "65530"])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python in .venv with pylibsrtp (scripts/install-deps.sh)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = |l: Option<String>| -> serde_json::Value {
            serde_json::from_str(&l.expect("a line from libsrtp_peer.py")).unwrap()
        };
        let sent = line(timeout(WAIT, lines.next_line()).await.unwrap().unwrap());
        let sent_rtp: Vec<Vec<u8>> = sent["sent"]["rtp"]
            .as_array()
            .unwrap()
            .iter()
            .map(unhex)
            .collect();
        let sent_rtcp = unhex(&sent["sent"]["rtcp"][0]);
        for want in &sent_rtp {
            assert_eq!(
                &recv(&plain).await,
                want,
                "{suite:?}: libsrtp → relay → plain"
            );
        }
        assert_eq!(
            recv(&plain_rtcp).await,
            sent_rtcp,
            "{suite:?}: SRTCP opened"
        );
        let stats = handle.stats();
        assert_eq!(stats.unauthenticated[0], 0, "{stats:?}");

        // The other way: plain packets in, and libsrtp must open what we seal.
        let back: Vec<Vec<u8>> = (0..20u16)
            .map(|i| rtp(65_528u16.wrapping_add(i), 0xb0b, &[(i * 3) as u8; 160]))
            .collect();
        for p in &back {
            plain.send_to(p, relay_b).await.unwrap();
            sleep(Duration::from_millis(2)).await;
        }
        let sr = rtcp(0xb0b);
        plain_rtcp
            .send_to(&sr, SocketAddr::new(relay_b.ip(), relay_b.port() + 1))
            .await
            .unwrap();
        let received = line(timeout(WAIT * 2, lines.next_line()).await.unwrap().unwrap());
        let got_rtp: Vec<Vec<u8>> = received["received"]["rtp"]
            .as_array()
            .unwrap()
            .iter()
            .map(unhex)
            .collect();
        assert_eq!(got_rtp, back, "{suite:?}: plain → relay → libsrtp");
        assert_eq!(unhex(&received["received"]["rtcp"][0]), sr, "{suite:?}");
        let status = timeout(WAIT, child.wait()).await.unwrap().unwrap();
        assert!(
            status.success(),
            "{suite:?}: libsrtp_peer.py failed: {status}"
        );
    }
}
