//! The relay between two "phones" made of plain UDP sockets on 127.0.0.1.

use media::{
    spawn_relay, LegMedia, PortRange, RelayConfig, RelayEvent, RelayHandle, RelayStats,
    RtpEndpoint, RtpPool,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::time::{sleep, timeout, Instant};

const WAIT: Duration = Duration::from_secs(2);

/// Each test gets its own ports, below the kernel's ephemeral range the phones bind in.
fn pool(lo: u16) -> RtpPool {
    RtpPool::new(
        Ipv4Addr::LOCALHOST.into(),
        PortRange::new(lo, lo + 19).unwrap(),
    )
}

async fn phone() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

fn addr(s: &UdpSocket) -> SocketAddr {
    s.local_addr().unwrap()
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend(seq.to_be_bytes());
    p.extend(ts.to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.extend(payload);
    p
}

/// One RFC 4733 event as phones send it: three updates while the key is down, then the
/// end packet three times, all with the timestamp of the event's start.
fn dtmf_event(pt: u8, event: u8, seq: &mut u16, ts: u32, ssrc: u32) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    for (i, duration) in [160u16, 320, 480].into_iter().enumerate() {
        let d = duration.to_be_bytes();
        packets.push(rtp(pt, i == 0, *seq, ts, ssrc, &[event, 10, d[0], d[1]]));
        *seq += 1;
    }
    for _ in 0..3 {
        let d = 640u16.to_be_bytes();
        packets.push(rtp(
            pt,
            false,
            *seq,
            ts,
            ssrc,
            &[event, 0x80 | 10, d[0], d[1]],
        ));
        *seq += 1;
    }
    packets
}

async fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = timeout(WAIT, s.recv_from(&mut buf))
        .await
        .expect("datagram expected")
        .unwrap();
    (buf[..n].to_vec(), from)
}

async fn nothing_arrives(s: &UdpSocket) {
    let mut buf = [0u8; 2048];
    let got = timeout(Duration::from_millis(150), s.recv_from(&mut buf)).await;
    assert!(got.is_err(), "unexpected datagram: {got:?}");
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

struct Call {
    handle: RelayHandle,
    events: UnboundedReceiver<RelayEvent>,
    relay: [SocketAddr; 2],
}

async fn call(
    pool: &RtpPool,
    remotes: [Option<SocketAddr>; 2],
    te: [Option<u8>; 2],
    idle_timeout: Duration,
) -> Call {
    let a: RtpEndpoint = pool.allocate().await.unwrap();
    let b = pool.allocate().await.unwrap();
    let relay = [a.rtp_addr(), b.rtp_addr()];
    let (tx, events) = unbounded_channel();
    let handle = spawn_relay(
        LegMedia {
            endpoint: a,
            remote: remotes[0],
            telephone_event_pt: te[0],
            srtp: None,
        },
        LegMedia {
            endpoint: b,
            remote: remotes[1],
            telephone_event_pt: te[1],
            srtp: None,
        },
        RelayConfig { idle_timeout },
        tx,
    );
    Call {
        handle,
        events,
        relay,
    }
}

#[tokio::test]
async fn hundred_packets_each_way_arrive_unchanged() {
    let pool = pool(25000);
    let (pa, pb) = (phone().await, phone().await);
    let c = call(
        &pool,
        [Some(addr(&pa)), Some(addr(&pb))],
        [None, None],
        Duration::from_secs(30),
    )
    .await;

    let payload_a = [0xd5u8; 160];
    let payload_b = [0x55u8; 160];
    for i in 0..100u16 {
        let ts = 1000 + u32::from(i) * 160;
        pa.send_to(
            &rtp(8, i == 0, 7000 + i, ts, 0xAAAA_0001, &payload_a),
            c.relay[0],
        )
        .await
        .unwrap();
        pb.send_to(
            &rtp(0, i == 0, 300 + i, ts, 0xBBBB_0002, &payload_b),
            c.relay[1],
        )
        .await
        .unwrap();
    }
    for i in 0..100u16 {
        let ts = 1000 + u32::from(i) * 160;
        let (got, from) = recv(&pb).await;
        assert_eq!(
            from, c.relay[1],
            "B hears us from the port in our SDP to it"
        );
        assert_eq!(got, rtp(8, i == 0, 7000 + i, ts, 0xAAAA_0001, &payload_a));
        let (got, from) = recv(&pa).await;
        assert_eq!(from, c.relay[0]);
        assert_eq!(got, rtp(0, i == 0, 300 + i, ts, 0xBBBB_0002, &payload_b));
    }
    let s = stats_when(&c.handle, |s| s.forwarded[1].rtp_packets == 100).await;
    for dir in s.forwarded {
        assert_eq!((dir.rtp_packets, dir.rtp_bytes), (100, 100 * 172));
        assert_eq!(dir.rtcp_packets, 0);
    }
    assert_eq!((s.garbage, s.foreign, s.unsent), ([0, 0], [0, 0], [0, 0]));
    assert_eq!(s.lost, [0, 0]);
}

/// Issue 10 item 18: loss is counted from the sequence numbers of what each leg sends us
/// (RFC 3550 A.3), for /metrics and the call's media event.
#[tokio::test]
async fn gaps_in_a_legs_sequence_numbers_are_counted_as_lost() {
    let pool = pool(25740);
    let (pa, pb) = (phone().await, phone().await);
    let c = call(
        &pool,
        [Some(addr(&pa)), Some(addr(&pb))],
        [None, None],
        Duration::from_secs(30),
    )
    .await;
    // A sends 1..=20 without 5, 6 and 7, and 12 late (after 13); B loses nothing.
    let mut order: Vec<u16> = (1..=20).filter(|s| ![5, 6, 7, 12].contains(s)).collect();
    let at = order.iter().position(|&s| s == 13).unwrap() + 1;
    order.insert(at, 12);
    for (i, seq) in order.iter().enumerate() {
        pa.send_to(&rtp(0, false, *seq, 0, 0xA, &[0xff; 160]), c.relay[0])
            .await
            .unwrap();
        let in_order = 100 + i as u16;
        pb.send_to(&rtp(0, false, in_order, 0, 0xB, &[0xff; 160]), c.relay[1])
            .await
            .unwrap();
    }
    let n = order.len() as u64;
    let s = stats_when(&c.handle, |s| {
        s.forwarded[0].rtp_packets == n && s.forwarded[1].rtp_packets == n
    })
    .await;
    assert_eq!(s.forwarded[0].rtp_packets, n);
    assert_eq!(s.lost, [3, 0]);
}

#[tokio::test]
async fn latches_to_the_real_source_instead_of_the_sdp_address() {
    let pool = pool(25100);
    // What A's SDP said (a private address behind NAT, say) and where A really sends from.
    let (sdp_a, pa, pb) = (phone().await, phone().await, phone().await);
    let c = call(
        &pool,
        [Some(addr(&sdp_a)), Some(addr(&pb))],
        [None, None],
        Duration::from_secs(30),
    )
    .await;

    // Before A has sent anything, the SDP address is all we know.
    pb.send_to(&rtp(0, false, 1, 0, 2, &[1; 160]), c.relay[1])
        .await
        .unwrap();
    assert_eq!(recv(&sdp_a).await.0, rtp(0, false, 1, 0, 2, &[1; 160]));

    pa.send_to(&rtp(0, false, 1, 0, 1, &[2; 160]), c.relay[0])
        .await
        .unwrap();
    recv(&pb).await;
    pb.send_to(&rtp(0, false, 2, 160, 2, &[3; 160]), c.relay[1])
        .await
        .unwrap();
    assert_eq!(recv(&pa).await.0, rtp(0, false, 2, 160, 2, &[3; 160]));
    nothing_arrives(&sdp_a).await;

    // A stranger cannot take over the latched stream.
    let stranger = phone().await;
    stranger
        .send_to(&rtp(0, false, 9, 0, 9, &[9; 160]), c.relay[0])
        .await
        .unwrap();
    nothing_arrives(&pb).await;
    let s = stats_when(&c.handle, |s| s.foreign[0] == 1).await;
    assert_eq!(s.foreign, [1, 0]);

    // A re-INVITE repeating A's SDP address (session refresh, hold) keeps the latched one.
    c.handle.set_remote(0, Some(addr(&sdp_a)));
    sleep(Duration::from_millis(20)).await;
    pb.send_to(&rtp(0, false, 3, 320, 2, &[5; 160]), c.relay[1])
        .await
        .unwrap();
    assert_eq!(recv(&pa).await.0, rtp(0, false, 3, 320, 2, &[5; 160]));

    // After a re-INVITE with a new address the B2BUA points a leg elsewhere.
    let pb2 = phone().await;
    c.handle.set_remote(1, Some(addr(&pb2)));
    sleep(Duration::from_millis(20)).await;
    pa.send_to(&rtp(0, false, 2, 160, 1, &[4; 160]), c.relay[0])
        .await
        .unwrap();
    assert_eq!(recv(&pb2).await.0, rtp(0, false, 2, 160, 1, &[4; 160]));
}

#[tokio::test]
async fn rtcp_goes_to_the_learned_source_or_rtp_port_plus_one() {
    let pool = pool(25200);
    let (pa, pa_rtcp, pb_rtcp) = (phone().await, phone().await, phone().await);
    // B's SDP names a port whose +1 is B's RTCP socket.
    let mut b_rtp = addr(&pb_rtcp);
    b_rtp.set_port(b_rtp.port() - 1);
    let c = call(
        &pool,
        [Some(addr(&pa)), Some(b_rtp)],
        [None, None],
        Duration::from_secs(30),
    )
    .await;
    let rtcp_of = |relay: SocketAddr| SocketAddr::new(relay.ip(), relay.port() + 1);
    let sr = [
        0x80, 200, 0, 6, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
        19, 20, 21, 22, 23, 24,
    ];

    pa_rtcp.send_to(&sr, rtcp_of(c.relay[0])).await.unwrap();
    let (got, from) = recv(&pb_rtcp).await;
    assert_eq!((got.as_slice(), from), (&sr[..], rtcp_of(c.relay[1])));

    pb_rtcp.send_to(&sr, rtcp_of(c.relay[1])).await.unwrap();
    assert_eq!(recv(&pa_rtcp).await.0, sr, "latched A's RTCP source");
    let s = stats_when(&c.handle, |s| s.forwarded[1].rtcp_packets == 1).await;
    assert_eq!(s.forwarded[0].rtcp_bytes, sr.len() as u64);
    assert_eq!(s.forwarded[0].rtp_packets, 0);
}

#[tokio::test]
async fn dtmf_reported_once_per_digit() {
    let pool = pool(25300);
    let (pa, pb) = (phone().await, phone().await);
    let mut c = call(
        &pool,
        [Some(addr(&pa)), Some(addr(&pb))],
        [Some(101), Some(96)],
        Duration::from_secs(30),
    )
    .await;

    let mut seq = 100;
    let mut sent = Vec::new();
    sent.push(rtp(0, false, seq, 8000, 1, &[0xff; 160]));
    seq += 1;
    // "5", "#", "5" again (a repeated digit is a new event with a new timestamp), then "D".
    for (event, ts) in [(5, 8160), (11, 9600), (5, 11200), (15, 12800)] {
        sent.extend(dtmf_event(101, event, &mut seq, ts, 1));
    }
    for p in &sent {
        pa.send_to(p, c.relay[0]).await.unwrap();
    }
    // PT 101 from B is just audio to us: B negotiated 96.
    let mut seq_b = 1;
    let mut sent_b = dtmf_event(101, 1, &mut seq_b, 500, 2);
    sent_b.extend(dtmf_event(96, 10, &mut seq_b, 2000, 2));
    for p in &sent_b {
        pb.send_to(p, c.relay[1]).await.unwrap();
    }

    for p in &sent {
        assert_eq!(&recv(&pb).await.0, p, "DTMF is forwarded untouched");
    }
    for p in &sent_b {
        assert_eq!(&recv(&pa).await.0, p);
    }
    let mut got = Vec::new();
    while let Ok(Some(e)) = timeout(Duration::from_millis(150), c.events.recv()).await {
        got.push(e);
    }
    // The legs are independent sockets, so only the order within a leg is defined.
    let digits = |leg: usize| -> String {
        got.iter()
            .filter_map(|e| match e {
                RelayEvent::Dtmf { leg: l, digit } if *l == leg => Some(*digit),
                _ => None,
            })
            .collect()
    };
    assert_eq!(digits(0), "5#5D");
    assert_eq!(digits(1), "*");
    assert_eq!(got.len(), 5, "{got:?}");
}

#[tokio::test]
async fn idle_reported_once_after_the_timeout() {
    let pool = pool(25400);
    let (pa, pb) = (phone().await, phone().await);
    let idle = Duration::from_millis(200);
    let mut c = call(
        &pool,
        [Some(addr(&pa)), Some(addr(&pb))],
        [None, None],
        idle,
    )
    .await;

    // Audio from one side alone keeps the call alive.
    let start = Instant::now();
    for i in 0..10u16 {
        pa.send_to(&rtp(0, false, i, 0, 1, &[0; 160]), c.relay[0])
            .await
            .unwrap();
        sleep(Duration::from_millis(50)).await;
    }
    assert!(c.events.try_recv().is_err(), "idle while audio flowed");
    let silent_since = Instant::now();
    let e = timeout(WAIT, c.events.recv()).await.unwrap();
    assert_eq!(e, Some(RelayEvent::Idle));
    let after = silent_since.elapsed();
    assert!(
        after >= Duration::from_millis(140) && after < Duration::from_millis(1000),
        "idle after {after:?} of silence ({:?} since start)",
        start.elapsed()
    );
    // Once per silent period.
    assert!(timeout(Duration::from_millis(500), c.events.recv())
        .await
        .is_err());

    // Garbage is not audio and does not wake the call up.
    pa.send_to(b"keep-alive", c.relay[0]).await.unwrap();
    assert!(timeout(Duration::from_millis(400), c.events.recv())
        .await
        .is_err());
    // Real audio re-arms the timer.
    pa.send_to(&rtp(0, false, 11, 0, 1, &[0; 160]), c.relay[0])
        .await
        .unwrap();
    let e = timeout(WAIT, c.events.recv()).await.unwrap();
    assert_eq!(e, Some(RelayEvent::Idle));
}

#[tokio::test]
async fn garbage_is_dropped_counted_and_never_latched() {
    let pool = pool(25500);
    let (pa, pb, junk) = (phone().await, phone().await, phone().await);
    let c = call(
        &pool,
        [Some(addr(&pa)), Some(addr(&pb))],
        [None, None],
        Duration::from_secs(30),
    )
    .await;

    junk.send_to(b"\r\n\r\n", c.relay[0]).await.unwrap(); // SIP keep-alive sent to the wrong port
    junk.send_to(&[0u8; 40], c.relay[0]).await.unwrap(); // version 0
    let mut truncated = rtp(0, false, 1, 0, 1, &[]);
    truncated[0] |= 0x03; // claims three CSRCs it does not carry
    junk.send_to(&truncated, c.relay[0]).await.unwrap();
    junk.send_to(
        b"not rtcp",
        SocketAddr::new(c.relay[0].ip(), c.relay[0].port() + 1),
    )
    .await
    .unwrap();
    nothing_arrives(&pb).await;

    // The real phone still latches, since garbage did not.
    pa.send_to(&rtp(0, false, 1, 0, 1, &[7; 160]), c.relay[0])
        .await
        .unwrap();
    assert_eq!(recv(&pb).await.0, rtp(0, false, 1, 0, 1, &[7; 160]));
    pb.send_to(&rtp(0, false, 1, 0, 2, &[8; 160]), c.relay[1])
        .await
        .unwrap();
    assert_eq!(recv(&pa).await.0, rtp(0, false, 1, 0, 2, &[8; 160]));
    nothing_arrives(&junk).await;

    let s = stats_when(&c.handle, |s| s.forwarded[1].rtp_packets == 1).await;
    assert_eq!(s.garbage, [4, 0]);
    assert_eq!(s.foreign, [0, 0]);
    assert_eq!(s.forwarded[0].rtp_packets, 1);
}

#[tokio::test]
async fn stopping_frees_the_ports() {
    let pool = pool(25600);
    let pairs = pool.available();
    let (pa, pb) = (phone().await, phone().await);
    let mut c = call(
        &pool,
        [Some(addr(&pa)), Some(addr(&pb))],
        [None, None],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(pool.available(), pairs - 2);
    c.handle.stop();
    assert_eq!(
        timeout(WAIT, c.events.recv()).await.unwrap(),
        Some(RelayEvent::Stopped)
    );
    assert_eq!(pool.available(), pairs);
    // The ports really are closed: they can be bound again.
    let again = pool.allocate().await.unwrap();
    assert!(again.rtp_addr().port() >= 25000);
    std::net::UdpSocket::bind(c.relay[0]).expect("port released");
}

fn header(p: &[u8]) -> (u8, bool, u16, u32, u32) {
    (
        p[1] & 0x7f,
        p[1] & 0x80 != 0,
        u16::from_be_bytes([p[2], p[3]]),
        u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
    )
}

#[tokio::test]
async fn a_prompt_is_played_then_the_other_side_continues_the_same_stream() {
    use media::g711::{self, Law};
    use media::player::{Program, Prompt};
    use std::sync::Arc;
    let pool = pool(25700);
    let (caller, agent) = (phone().await, phone().await);
    let mut c = call(
        &pool,
        [Some(addr(&caller)), None],
        [None, None],
        Duration::ZERO,
    )
    .await;
    // 400 samples of a ramp: three packets, the last padded with silence.
    let samples: Vec<i16> = (0..400).map(|i| (i * 50) as i16).collect();
    let prompt = Arc::new(Prompt::from_samples(samples.clone()).unwrap());
    let started = Instant::now();
    c.handle.play(0, Program::Once(prompt), Law::Ulaw);
    let mut heard = Vec::new();
    let mut headers = Vec::new();
    for _ in 0..3 {
        let (p, from) = recv(&caller).await;
        assert_eq!(from, c.relay[0]);
        assert_eq!(p.len(), 12 + 160);
        headers.push(header(&p));
        heard.extend(p[12..].iter().map(|&b| g711::ulaw_decode(b)));
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(35),
        "packets are paced at 20 ms, not sent at once ({elapsed:?})"
    );
    let (pt, marker, seq, ts, ssrc) = headers[0];
    assert_eq!((pt, marker), (0, true), "PCMU, marker on the first");
    for (i, h) in headers.iter().enumerate().skip(1) {
        assert!(!h.1, "marker only on the first");
        assert_eq!(h.2, seq.wrapping_add(i as u16));
        assert_eq!(h.3, ts.wrapping_add(160 * i as u32));
        assert_eq!(h.4, ssrc);
    }
    for (got, want) in heard.iter().zip(&samples) {
        let err = (i32::from(*got) - i32::from(*want)).abs();
        assert!(err <= i32::from(*want).abs() / 16 + 32, "{got} vs {want}");
    }
    assert!(heard[400..].iter().all(|&s| s == 0));
    let ev = timeout(WAIT, c.events.recv()).await.unwrap();
    assert_eq!(ev, Some(RelayEvent::PlayDone { leg: 0 }));
    nothing_arrives(&caller).await;

    // The agent's voice now reaches the caller as the same stream, numbered on from the prompt.
    c.handle.set_leg(1, Some(addr(&agent)), None);
    for i in 0..3u16 {
        agent
            .send_to(
                &rtp(
                    0,
                    false,
                    7000 + i,
                    99_000 + 160 * u32::from(i),
                    42,
                    &[0xff; 160],
                ),
                c.relay[1],
            )
            .await
            .unwrap();
        let (p, _) = recv(&caller).await;
        let (_, m, s, t, src) = header(&p);
        assert_eq!(src, ssrc, "the player's SSRC is kept");
        assert_eq!(s, seq.wrapping_add(3 + i), "sequence continues");
        assert_eq!(m, i == 0, "a new talkspurt is marked");
        assert!(
            t.wrapping_sub(ts) >= 160 * (3 + u32::from(i)),
            "timestamps move forward"
        );
    }
    assert_eq!(c.handle.stats().played, [3, 0]);
}

#[tokio::test]
async fn while_a_leg_hears_music_the_other_side_is_not_passed_on() {
    use media::g711::Law;
    use media::player::{Program, Prompt};
    use std::sync::Arc;
    let pool = pool(25720);
    let (caller, agent) = (phone().await, phone().await);
    let c = call(
        &pool,
        [Some(addr(&caller)), Some(addr(&agent))],
        [None, None],
        Duration::ZERO,
    )
    .await;
    let music = Arc::new(Prompt::from_samples(vec![1000; 800]).unwrap());
    c.handle.play(0, Program::Loop(music), Law::Alaw);
    let mut n = 0;
    while n < 10 {
        agent
            .send_to(&rtp(8, false, n, 0, 9, &[0xd5; 160]), c.relay[1])
            .await
            .unwrap();
        let (p, _) = recv(&caller).await;
        assert_eq!(p[1] & 0x7f, 8, "PCMA music");
        assert_ne!(&p[8..12], &9u32.to_be_bytes(), "never the agent's packet");
        n += 1;
    }
    c.handle.stop_playing(0);
    sleep(Duration::from_millis(50)).await;
    while timeout(
        Duration::from_millis(30),
        caller.recv_from(&mut [0u8; 2048]),
    )
    .await
    .is_ok()
    {}
    agent
        .send_to(&rtp(8, false, 100, 0, 9, &[0xd5; 160]), c.relay[1])
        .await
        .unwrap();
    let (p, _) = recv(&caller).await;
    assert_eq!(&p[12..], &[0xd5; 160], "the agent is heard again");
}
