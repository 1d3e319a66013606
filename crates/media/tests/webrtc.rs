//! The WebRTC gateway against a real WebRTC peer: a str0m client plays the browser (ICE,
//! DTLS and SRTP over 127.0.0.1) and a plain UDP socket plays the SIP side's phone.

#[path = "support/browser.rs"]
mod browser;

use browser::{Browser, BrowserCommand, BrowserEvent, BrowserHandle, BROWSER_EVENT_PT};
use media::webrtc::{Negotiated, G711};
use media::{
    spawn_webrtc_gateway, CloseReason, PortRange, RtpPool, WebRtcCert, WebRtcConfig, WebRtcError,
    WebRtcEvent, WebRtcHandle,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::time::{sleep, timeout, Instant};

const WAIT: Duration = Duration::from_secs(5);

/// One certificate for every test, as in production.
fn cert() -> &'static WebRtcCert {
    static CERT: OnceLock<WebRtcCert> = OnceLock::new();
    CERT.get_or_init(|| WebRtcCert::generate().unwrap())
}

/// Each test gets its own RTP ports, below the kernel's ephemeral range.
fn pool(lo: u16) -> RtpPool {
    RtpPool::new(
        Ipv4Addr::LOCALHOST.into(),
        PortRange::new(lo, lo + 9).unwrap(),
    )
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend(seq.to_be_bytes());
    p.extend(ts.to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.extend(payload);
    p
}

#[derive(Debug, Clone)]
struct Rtp {
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

fn parse(p: &[u8]) -> Rtp {
    assert!(p.len() >= 12 && p[0] == 0x80, "not plain RTP: {p:?}");
    Rtp {
        pt: p[1] & 0x7f,
        marker: p[1] & 0x80 != 0,
        seq: u16::from_be_bytes([p[2], p[3]]),
        ts: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        payload: p[12..].to_vec(),
    }
}

/// A browser connected through a gateway to a plain "phone" socket.
struct Call {
    gateway: WebRtcHandle,
    events: UnboundedReceiver<WebRtcEvent>,
    browser: BrowserHandle,
    phone: UdpSocket,
}

impl Call {
    async fn start(pool: &RtpPool, config: &WebRtcConfig) -> Call {
        let browser = Browser::new(Ipv4Addr::LOCALHOST.into()).await;
        let (tx, events) = unbounded_channel();
        let gateway = spawn_webrtc_gateway(cert(), config, pool, browser.offer(), tx)
            .await
            .unwrap();
        let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        gateway.set_plain_remote(phone.local_addr().unwrap());
        let browser = browser.start(gateway.answer_sdp(), None);
        let mut call = Call {
            gateway,
            events,
            browser,
            phone,
        };
        call.wait_connected().await;
        call
    }

    async fn wait_connected(&mut self) {
        assert_eq!(self.next_event().await, WebRtcEvent::Connected);
        assert_eq!(self.next_browser_event().await, BrowserEvent::Connected);
    }

    async fn next_event(&mut self) -> WebRtcEvent {
        timeout(WAIT, self.events.recv())
            .await
            .expect("gateway event in time")
            .expect("gateway events open")
    }

    async fn next_browser_event(&mut self) -> BrowserEvent {
        timeout(WAIT, self.browser.events.recv())
            .await
            .expect("browser event in time")
            .expect("browser events open")
    }

    fn send(&self, command: BrowserCommand) {
        self.browser.commands.send(command).unwrap();
    }

    async fn phone_send(&self, packet: &[u8]) {
        self.phone
            .send_to(packet, self.gateway.plain_rtp_addr())
            .await
            .unwrap();
    }

    /// Everything the phone receives until `quiet` passes without a packet.
    async fn phone_receive_until_quiet(&self, quiet: Duration) -> Vec<Rtp> {
        let mut packets = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(r) = timeout(quiet, self.phone.recv_from(&mut buf)).await {
            let (n, from) = r.unwrap();
            assert_eq!(from, self.gateway.plain_rtp_addr());
            packets.push(parse(&buf[..n]));
        }
        packets
    }

    /// Browser events until `quiet` passes without one.
    async fn browser_receive_until_quiet(&mut self, quiet: Duration) -> Vec<BrowserEvent> {
        let mut events = Vec::new();
        while let Ok(Some(e)) = timeout(quiet, self.browser.events.recv()).await {
            events.push(e);
        }
        events
    }
}

/// One RFC 4733 event as phones send it: three updates while the key is down, then the
/// end packet three times, all with the timestamp of the event's start.
fn phone_dtmf(event: u8, seq: &mut u16, ts: u32, ssrc: u32) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    for (i, duration) in [160u16, 320, 480].into_iter().enumerate() {
        let d = duration.to_be_bytes();
        packets.push(rtp(101, i == 0, *seq, ts, ssrc, &[event, 10, d[0], d[1]]));
        *seq = seq.wrapping_add(1);
    }
    for _ in 0..3 {
        let d = 640u16.to_be_bytes();
        packets.push(rtp(
            101,
            false,
            *seq,
            ts,
            ssrc,
            &[event, 0x80 | 10, d[0], d[1]],
        ));
        *seq = seq.wrapping_add(1);
    }
    packets
}

#[tokio::test]
async fn browser_audio_and_dtmf_become_plain_rtp_and_back() {
    let pool = pool(26000);
    let browser = Browser::new(Ipv4Addr::LOCALHOST.into()).await;
    let (tx, events) = unbounded_channel();
    let gateway =
        spawn_webrtc_gateway(cert(), &WebRtcConfig::default(), &pool, browser.offer(), tx)
            .await
            .unwrap();
    assert_eq!(
        gateway.negotiated(),
        &Negotiated {
            codecs: vec![G711::Pcmu],
            telephone_event: true
        }
    );
    assert!(gateway.answer_sdp().contains("a=ice-lite"));
    assert!(gateway
        .answer_sdp()
        .contains(&format!("a=rtpmap:{BROWSER_EVENT_PT} telephone-event/8000")));
    assert_eq!(gateway.plain_rtp_addr().port(), 26000);
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();

    // The phone talks before the browser has even connected: counted and dropped, but the
    // gateway latches on the phone's address (nothing was signalled yet).
    phone
        .send_to(
            &rtp(0, true, 1, 160, 0xabc, &[0xff; 160]),
            gateway.plain_rtp_addr(),
        )
        .await
        .unwrap();
    sleep(Duration::from_millis(50)).await;
    assert_eq!(gateway.stats().dropped_before_connect, 1);

    let browser = browser.start(gateway.answer_sdp(), None);
    let mut call = Call {
        gateway,
        events,
        browser,
        phone,
    };
    call.wait_connected().await;

    // Browser → phone: 15 frames of audio, with a key press in the middle.
    for i in 0..15u8 {
        call.send(BrowserCommand::Audio(vec![i; 160]));
        if i == 5 {
            call.send(BrowserCommand::Dtmf {
                event: 5,
                duration: Duration::from_millis(100),
            });
        }
        sleep(Duration::from_millis(20)).await;
    }
    let packets = call
        .phone_receive_until_quiet(Duration::from_millis(500))
        .await;
    let audio: Vec<&Rtp> = packets.iter().filter(|p| p.pt == 0).collect();
    let events: Vec<&Rtp> = packets.iter().filter(|p| p.pt == 101).collect();
    assert_eq!(audio.len(), 15, "{packets:?}");
    assert_eq!(
        audio.len() + events.len(),
        packets.len(),
        "only PT 0 and 101"
    );
    for (i, p) in audio.iter().enumerate() {
        assert_eq!(p.payload, vec![i as u8; 160]);
    }
    for w in audio.windows(2) {
        assert_eq!(w[1].ts.wrapping_sub(w[0].ts), 160, "{:?}", w);
    }
    // One stream of ours: one SSRC, sequence numbers without a hole across audio and events.
    assert!(packets.iter().all(|p| p.ssrc == packets[0].ssrc));
    assert_ne!(packets[0].ssrc, 0xabc);
    for w in packets.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "{:?}", w);
    }
    // libwebrtc's way, mapped: updates then three end packets, all with the event's
    // start timestamp (frame 6's), on PT 101, the first one marked.
    assert!(events.len() >= 5, "{events:?}");
    assert!(events[0].marker && events[1..].iter().all(|p| !p.marker));
    assert!(events.iter().all(|p| p.ts == audio[6].ts));
    assert!(events
        .iter()
        .all(|p| p.payload[0] == 5 && p.payload.len() == 4));
    let ends: Vec<_> = events.iter().filter(|p| p.payload[1] & 0x80 != 0).collect();
    assert_eq!(ends.len(), 3);
    assert!(ends.iter().all(|p| p.payload[2..] == 800u16.to_be_bytes()));
    // The digit, once, although three end packets came.
    assert_eq!(call.next_event().await, WebRtcEvent::Dtmf('5'));
    assert!(call.events.try_recv().is_err());

    // Phone → browser: audio from another SSRC and timeline, then a key press.
    let mut seq = 40_000u16;
    for i in 0..10u32 {
        call.phone_send(&rtp(
            0,
            i == 0,
            seq,
            1_000_000 + 160 * i,
            0x5151,
            &[0x55 + i as u8; 160],
        ))
        .await;
        seq += 1;
        sleep(Duration::from_millis(20)).await;
    }
    for p in phone_dtmf(7, &mut seq, 1_000_000 + 1600, 0x5151) {
        call.phone_send(&p).await;
        sleep(Duration::from_millis(20)).await;
    }
    let received = call
        .browser_receive_until_quiet(Duration::from_millis(500))
        .await;
    let audio: Vec<_> = received
        .iter()
        .filter_map(|e| match e {
            BrowserEvent::Audio {
                pt, payload, time, ..
            } => Some((*pt, payload.clone(), *time)),
            _ => None,
        })
        .collect();
    assert_eq!(audio.len(), 10, "{received:?}");
    for (i, (pt, payload, time)) in audio.iter().enumerate() {
        assert_eq!(*pt, 0);
        assert_eq!(payload, &vec![0x55 + i as u8; 160]);
        assert_eq!(time - audio[0].2, 160 * i as u64);
    }
    let tele: Vec<_> = received
        .iter()
        .filter_map(|e| match e {
            BrowserEvent::Tele {
                pt,
                event,
                end,
                time,
                marker,
                ..
            } => Some((*pt, *event, *end, *time, *marker)),
            _ => None,
        })
        .collect();
    assert_eq!(tele.len(), 6, "{received:?}");
    for (i, &(pt, event, end, time, marker)) in tele.iter().enumerate() {
        // The browser's own payload type, the event's start right after the audio.
        assert_eq!(
            (pt, event, end, marker),
            (BROWSER_EVENT_PT, 7, i >= 3, i == 0)
        );
        assert_eq!(time, audio[0].2 + 1600);
    }

    let stats = call.gateway.stats();
    assert_eq!(stats.to_browser.packets, 16);
    assert_eq!(stats.to_plain.packets, packets.len() as u64);
    assert_eq!(stats.dropped_before_connect, 1);
    assert_eq!(
        (
            stats.plain_garbage,
            stats.plain_foreign,
            stats.plain_unsupported,
            stats.errors
        ),
        (0, 0, 0, 0)
    );

    // Hanging up from our side: the browser hears DTLS close, the owner hears Stopped.
    let Call {
        gateway,
        mut events,
        mut browser,
        ..
    } = call;
    drop(gateway);
    let closed = timeout(WAIT, events.recv()).await.unwrap().unwrap();
    assert_eq!(
        closed,
        WebRtcEvent::Closed {
            reason: CloseReason::Stopped
        }
    );
    loop {
        match timeout(WAIT, browser.events.recv()).await.unwrap() {
            Some(BrowserEvent::Closed) | None => break,
            Some(_) => {}
        }
    }
    assert_eq!(pool.available(), 5);
}

#[tokio::test]
async fn garbage_on_either_socket_is_counted_and_the_call_goes_on() {
    let pool = pool(26100);
    let mut call = Call::start(&pool, &WebRtcConfig::default()).await;
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let browser_side = call.gateway.browser_addr();
    let plain_side = call.gateway.plain_rtp_addr();

    // Browser side: not STUN/DTLS/RTP, oversized, RTP-looking from a stranger, and RTP-
    // looking junk from the browser's own address (fails SRTP).
    stranger.send_to(b"hello", browser_side).await.unwrap();
    stranger.send_to(&[0x16; 4000], browser_side).await.unwrap();
    stranger
        .send_to(&rtp(0, false, 1, 1, 1, &[0; 160]), browser_side)
        .await
        .unwrap();
    call.send(BrowserCommand::Raw(rtp(0, false, 1, 1, 1, &[7; 160])));
    call.send(BrowserCommand::Raw(vec![0xff; 3]));

    // Plain side: the phone latches first with a good packet, then junk of every kind.
    call.phone_send(&rtp(0, false, 1, 160, 9, &[0xff; 160]))
        .await;
    call.phone_send(b"junk").await;
    call.phone_send(&[]).await;
    call.phone_send(&[0x80; 4000]).await;
    call.phone_send(&rtp(0, false, 2, 320, 9, &[])).await; // no payload
    call.phone_send(&rtp(101, false, 3, 320, 9, &[1, 2, 3]))
        .await; // bad RFC 4733
    call.phone_send(&rtp(8, false, 4, 480, 9, &[0xd5; 160]))
        .await; // PCMA: not negotiated
    call.phone_send(&rtp(13, false, 5, 640, 9, &[0x40])).await; // comfort noise
    stranger
        .send_to(&rtp(0, false, 1, 1, 1, &[0; 160]), plain_side)
        .await
        .unwrap();
    sleep(Duration::from_millis(200)).await;

    let stats = call.gateway.stats();
    assert_eq!(stats.browser_garbage, 3, "{stats:?}"); // "hello", oversized, 3 bytes
    assert!(stats.browser_rejected >= 1, "{stats:?}"); // the stranger's RTP at least
    assert_eq!(stats.plain_garbage, 5, "{stats:?}");
    assert_eq!(stats.plain_unsupported, 2, "{stats:?}");
    assert_eq!(stats.plain_foreign, 1, "{stats:?}");
    assert_eq!(stats.to_browser.packets, 1, "{stats:?}");

    // Still bridging both ways.
    call.send(BrowserCommand::Audio(vec![1; 160]));
    let packets = call
        .phone_receive_until_quiet(Duration::from_millis(300))
        .await;
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].payload, vec![1; 160]);
    call.phone_send(&rtp(0, false, 6, 800, 9, &[0x11; 160]))
        .await;
    let received = call
        .browser_receive_until_quiet(Duration::from_millis(300))
        .await;
    assert!(received
        .iter()
        .any(|e| matches!(e, BrowserEvent::Audio { payload, .. } if payload == &vec![0x11; 160])));
    assert!(call.events.try_recv().is_err(), "no event, no Closed");
}

#[tokio::test]
async fn bad_offers_are_clear_errors_and_cost_no_ports() {
    let pool = pool(26200);
    let config = WebRtcConfig::default();
    let spawn = |offer: String| {
        let pool = pool.clone();
        let config = config.clone();
        async move {
            let (tx, _rx) = unbounded_channel();
            spawn_webrtc_gateway(cert(), &config, &pool, &offer, tx).await
        }
    };
    let err = spawn(String::new()).await.unwrap_err();
    assert!(matches!(err, WebRtcError::BadOffer(_)), "{err}");
    let err = spawn("v=0\r\nthis is not SDP\r\n".into())
        .await
        .unwrap_err();
    assert!(matches!(err, WebRtcError::BadOffer(_)), "{err}");
    let err = spawn("x".repeat(100_000)).await.unwrap_err();
    assert!(matches!(err, WebRtcError::OfferTooLarge(100_000)), "{err}");

    // Valid SDP, but only Opus: nothing in common with G.711.
    let opus_only = Browser::new(Ipv4Addr::LOCALHOST.into())
        .await
        .offer()
        .to_owned();
    let opus_only = opus_only
        .replace("RTP/SAVPF 0 126", "RTP/SAVPF 111")
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:111 opus/48000/2")
        .replace(
            &format!("a=rtpmap:{BROWSER_EVENT_PT} telephone-event/8000\r\n"),
            "",
        )
        .replace(&format!("a=fmtp:{BROWSER_EVENT_PT} 0-15\r\n"), "");
    assert!(opus_only.contains("opus"), "{opus_only}");
    let err = spawn(opus_only).await.unwrap_err();
    assert!(matches!(err, WebRtcError::NoCommonCodec), "{err}");
    assert_eq!(
        err.to_string(),
        "the browser's offer has no codec in common with the gateway (PCMU or PCMA)"
    );

    // Valid SDP without audio.
    let mut rtc = str0m::Rtc::new(std::time::Instant::now());
    let mut change = rtc.sdp_api();
    change.add_media(
        str0m::media::MediaKind::Video,
        str0m::media::Direction::SendRecv,
        None,
        None,
        None,
    );
    let (video_only, _) = change.apply().unwrap();
    let err = spawn(video_only.to_sdp_string()).await.unwrap_err();
    assert!(matches!(err, WebRtcError::NoAudio), "{err}");

    assert_eq!(pool.available(), 5);
}

#[tokio::test]
async fn a_certificate_not_matching_the_offer_fails_the_call() {
    let pool = pool(26300);
    let browser = Browser::new(Ipv4Addr::LOCALHOST.into()).await;
    // The fingerprint in the offer no longer matches the browser's DTLS certificate.
    let offer = browser.offer().to_owned();
    let start = offer.find("a=fingerprint:sha-256 ").unwrap() + "a=fingerprint:sha-256 ".len();
    let mut tampered = offer.clone();
    let first = &offer[start..start + 2];
    tampered.replace_range(start..start + 2, if first == "00" { "11" } else { "00" });
    let (tx, mut events) = unbounded_channel();
    let gateway = spawn_webrtc_gateway(cert(), &WebRtcConfig::default(), &pool, &tampered, tx)
        .await
        .unwrap();
    let _browser = browser.start(gateway.answer_sdp(), None);
    let event = timeout(WAIT, events.recv()).await.unwrap().unwrap();
    assert!(
        matches!(&event, WebRtcEvent::Closed { reason: CloseReason::Failed(m) } if m.contains("fingerprint")),
        "{event:?}"
    );
}

#[tokio::test]
async fn a_browser_that_goes_silent_is_closed() {
    let pool = pool(26400);
    let config = WebRtcConfig {
        silence_timeout: Duration::from_millis(600),
        ..WebRtcConfig::default()
    };
    let mut call = Call::start(&pool, &config).await;
    // The tab closes: no DTLS close, nothing more on the wire.
    let Call {
        ref mut events,
        browser,
        ..
    } = call;
    drop(browser);
    let started = Instant::now();
    let event = timeout(WAIT, events.recv()).await.unwrap().unwrap();
    assert_eq!(
        event,
        WebRtcEvent::Closed {
            reason: CloseReason::BrowserSilent
        }
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // The handle outlives the task harmlessly.
    call.gateway
        .set_plain_remote("127.0.0.1:9".parse::<SocketAddr>().unwrap());
}

#[tokio::test]
async fn a_browser_that_never_connects_is_given_up() {
    let pool = pool(26500);
    let config = WebRtcConfig {
        connect_timeout: Duration::from_millis(300),
        ..WebRtcConfig::default()
    };
    let browser = Browser::new(Ipv4Addr::LOCALHOST.into()).await;
    let (tx, mut events) = unbounded_channel();
    let _gateway = spawn_webrtc_gateway(cert(), &config, &pool, browser.offer(), tx)
        .await
        .unwrap();
    let event = timeout(WAIT, events.recv()).await.unwrap().unwrap();
    assert_eq!(
        event,
        WebRtcEvent::Closed {
            reason: CloseReason::ConnectTimeout
        }
    );
    assert_eq!(pool.available(), 5);
}
