//! Bridges between "phones" made of plain UDP sockets on 127.0.0.1, each sending a tone.

use media::g711::Law;
use media::{
    spawn_bridge, BridgeConfig, BridgeEvent, BridgeHandle, LegMedia, MediaLeg, MemberId, Mode,
    PortRange, RtpPool,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::time::{timeout, Instant};

const WAIT: Duration = Duration::from_secs(2);

fn pool(lo: u16) -> RtpPool {
    RtpPool::new(
        Ipv4Addr::LOCALHOST.into(),
        PortRange::new(lo, lo + 19).unwrap(),
    )
}

fn tone(freq: f64, n: u64) -> [i16; 160] {
    let mut f = [0i16; 160];
    for (i, s) in f.iter_mut().enumerate() {
        let t = (n * 160 + i as u64) as f64 / 8000.0;
        *s = (6000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16;
    }
    f
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend(seq.to_be_bytes());
    p.extend(ts.to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.extend(payload);
    p
}

/// The (PT, seq, ts, SSRC) of a packet.
fn header(p: &[u8]) -> (u8, u16, u32, u32) {
    (
        p[1] & 0x7f,
        u16::from_be_bytes([p[2], p[3]]),
        u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
    )
}

/// Power of `freq` in `samples` (Goertzel), relative to the signal's total power.
fn share_of(samples: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let total: f64 = samples.iter().map(|&x| f64::from(x).powi(2)).sum();
    2.0 * power / (samples.len() as f64 * total.max(1.0))
}

struct Phone {
    socket: UdpSocket,
    law: Law,
    freq: f64,
    ssrc: u32,
}

/// What a phone received: headers and decoded audio.
#[derive(Default)]
struct Heard {
    headers: Vec<(u8, u16, u32, u32)>,
    audio: Vec<i16>,
}

/// Each phone sends its tone for `frames` × 20 ms to its bridge address and keeps what it
/// hears.
async fn talk(phones: Vec<(Phone, SocketAddr)>, frames: u64) -> Vec<Heard> {
    let tasks: Vec<_> = phones
        .into_iter()
        .map(|(phone, to)| {
            tokio::spawn(async move {
                let mut heard = Heard::default();
                let mut ticks = tokio::time::interval(Duration::from_millis(20));
                let end = Instant::now() + Duration::from_millis(20 * frames + 200);
                let mut n = 0u64;
                let mut buf = [0u8; 2048];
                loop {
                    tokio::select! {
                        _ = ticks.tick(), if n < frames => {
                            let payload: Vec<u8> =
                                tone(phone.freq, n).iter().map(|&s| phone.law.encode(s)).collect();
                            let p = rtp(phone.law.payload_type(), n as u16, (n * 160) as u32, phone.ssrc, &payload);
                            phone.socket.send_to(&p, to).await.unwrap();
                            n += 1;
                        }
                        r = phone.socket.recv_from(&mut buf) => {
                            let (len, _) = r.unwrap();
                            let h = header(&buf[..len]);
                            let law = Law::from_payload_type(h.0).unwrap();
                            heard.headers.push(h);
                            heard.audio.extend(buf[12..len].iter().map(|&b| law.decode(b)));
                        }
                        _ = tokio::time::sleep_until(end) => break,
                    }
                }
                heard
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn member(
    bridge: &BridgeHandle,
    pool: &RtpPool,
    id: u64,
    law: Law,
    freq: f64,
) -> (Phone, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let endpoint = pool.allocate().await.unwrap();
    let ours = endpoint.rtp_addr();
    let leg = MediaLeg::new(LegMedia {
        endpoint,
        remote: Some(socket.local_addr().unwrap()),
        telephone_event_pt: Some(101),
    });
    bridge
        .add(MemberId(id), leg, law, Mode::Talk)
        .await
        .unwrap();
    let phone = Phone {
        socket,
        law,
        freq,
        ssrc: 1000 + id as u32,
    };
    (phone, ours)
}

fn bridge() -> (BridgeHandle, UnboundedReceiver<BridgeEvent>) {
    let (tx, rx) = unbounded_channel();
    (spawn_bridge(BridgeConfig::default(), tx), rx)
}

/// One stream: a single SSRC, sequence numbers one apart, timestamps 160 apart.
#[track_caller]
fn one_continuous_stream(h: &Heard) {
    let ssrcs: std::collections::BTreeSet<u32> = h.headers.iter().map(|h| h.3).collect();
    assert_eq!(ssrcs.len(), 1, "{ssrcs:?}");
    for w in h.headers.windows(2) {
        assert_eq!(w[1].1, w[0].1.wrapping_add(1), "sequence {w:?}");
        let step = w[1].2.wrapping_sub(w[0].2);
        assert!(
            (160..=480).contains(&step),
            "timestamp step {step} in {w:?}"
        );
    }
}

#[tokio::test]
async fn three_members_each_hear_the_other_two_and_not_themselves() {
    let pool = pool(26600);
    let (bridge, _events) = bridge();
    let freqs = [400.0, 1000.0, 1800.0];
    let mut phones = Vec::new();
    for (i, (law, freq)) in [
        (Law::Ulaw, freqs[0]),
        (Law::Alaw, freqs[1]),
        (Law::Ulaw, freqs[2]),
    ]
    .into_iter()
    .enumerate()
    {
        phones.push(member(&bridge, &pool, i as u64, law, freq).await);
    }
    let heard = talk(phones, 75).await;
    for (i, h) in heard.iter().enumerate() {
        assert!(
            h.headers.len() >= 70,
            "member {i} got {} frames",
            h.headers.len()
        );
        let want_pt = if i == 1 { 8 } else { 0 };
        assert!(
            h.headers.iter().all(|h| h.0 == want_pt),
            "member {i} in its own law"
        );
        one_continuous_stream(h);
        // A second from 0.5 s on, past the start of the buffers.
        let audio = &h.audio[4000..12000];
        for (j, &f) in freqs.iter().enumerate() {
            let share = share_of(audio, f);
            if i == j {
                assert!(
                    share < 0.01,
                    "member {i} hears itself: {share:.3} at {f} Hz"
                );
            } else {
                assert!(
                    share > 0.3,
                    "member {i} hears member {j} at {share:.3} of its power"
                );
            }
        }
    }
    assert!(bridge.stats().sent >= 210);
}

#[tokio::test]
async fn a_listener_hears_both_and_is_heard_by_nobody() {
    let pool = pool(26620);
    let (bridge, _events) = bridge();
    let a = member(&bridge, &pool, 1, Law::Ulaw, 400.0).await;
    let b = member(&bridge, &pool, 2, Law::Ulaw, 1000.0).await;
    let l = member(&bridge, &pool, 3, Law::Ulaw, 1800.0).await;
    bridge.set_mode(MemberId(3), Mode::Listen).await.unwrap();
    let heard = talk(vec![a, b, l], 60).await;
    assert!(share_of(&heard[0].audio[4000..8000], 1800.0) < 0.01);
    assert!(share_of(&heard[1].audio[4000..8000], 1800.0) < 0.01);
    assert!(share_of(&heard[2].audio[4000..8000], 400.0) > 0.3);
    assert!(share_of(&heard[2].audio[4000..8000], 1000.0) > 0.3);
}

#[tokio::test]
async fn dtmf_from_a_member_is_reported_once_with_its_id() {
    let pool = pool(26640);
    let (bridge, mut events) = bridge();
    let (phone, to) = member(&bridge, &pool, 7, Law::Ulaw, 400.0).await;
    for (i, end) in [false, false, true, true, true].into_iter().enumerate() {
        let flags = if end { 0x80 | 10 } else { 10 };
        let p = rtp(101, i as u16, 4000, 5, &[5, flags, 0, 160]);
        phone.socket.send_to(&p, to).await.unwrap();
    }
    let ev = timeout(WAIT, events.recv()).await.unwrap();
    assert_eq!(
        ev,
        Some(BridgeEvent::Dtmf {
            member: MemberId(7),
            digit: '5'
        })
    );
    let more = timeout(Duration::from_millis(200), events.recv()).await;
    assert!(more.is_err(), "reported once: {more:?}");
}

async fn next_headers(socket: &UdpSocket, n: usize) -> Vec<(u8, u16, u32, u32)> {
    let mut buf = [0u8; 2048];
    let mut headers = Vec::new();
    for _ in 0..n {
        let (len, _) = timeout(WAIT, socket.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        headers.push(header(&buf[..len]));
    }
    headers
}

#[tokio::test]
async fn a_leg_moved_to_another_bridge_keeps_its_stream() {
    let pool = pool(26660);
    let (first, _e1) = bridge();
    let (second, _e2) = bridge();
    let (phone, _) = member(&first, &pool, 1, Law::Ulaw, 400.0).await;
    let mut headers = next_headers(&phone.socket, 5).await;
    let leg = first.take(MemberId(1)).await.unwrap();
    assert!(first.take(MemberId(1)).await.is_none());
    second
        .add(MemberId(1), leg, Law::Ulaw, Mode::Talk)
        .await
        .unwrap();
    headers.extend(next_headers(&phone.socket, 5).await);
    one_continuous_stream(&Heard {
        headers,
        audio: Vec::new(),
    });
}

#[tokio::test]
async fn a_duplicate_member_is_refused_and_its_leg_given_back() {
    let pool = pool(26680);
    let (bridge, _events) = bridge();
    let _a = member(&bridge, &pool, 1, Law::Ulaw, 400.0).await;
    let endpoint = pool.allocate().await.unwrap();
    let addr = endpoint.rtp_addr();
    let leg = MediaLeg::new(LegMedia {
        endpoint,
        remote: None,
        telephone_event_pt: None,
    });
    match bridge.add(MemberId(1), leg, Law::Ulaw, Mode::Talk).await {
        Err(media::BridgeError::Refused { leg, .. }) => assert_eq!(leg.rtp_addr(), addr),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_third_party_joins_a_relayed_call_and_leaves_without_a_gap_in_either_stream() {
    use media::relay::spawn_relay_legs;
    use media::{spawn_relay, RelayConfig};
    let pool = pool(26700);
    let (a, b) = (
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
    );
    let (ea, eb) = (
        pool.allocate().await.unwrap(),
        pool.allocate().await.unwrap(),
    );
    let (to_a, to_b) = (ea.rtp_addr(), eb.rtp_addr());
    let leg = |endpoint, phone: &UdpSocket| LegMedia {
        endpoint,
        remote: Some(phone.local_addr().unwrap()),
        telephone_event_pt: Some(101),
    };
    let (tx, _relay_events) = unbounded_channel();
    let relay = spawn_relay(leg(ea, &a), leg(eb, &b), RelayConfig::default(), tx.clone());
    let (fa, fb, fc) = (400.0, 1000.0, 1800.0);
    let phones = vec![
        (
            Phone {
                socket: a,
                law: Law::Ulaw,
                freq: fa,
                ssrc: 11,
            },
            to_a,
        ),
        (
            Phone {
                socket: b,
                law: Law::Ulaw,
                freq: fb,
                ssrc: 22,
            },
            to_b,
        ),
    ];
    let two = tokio::spawn(talk(phones, 100));

    // Half a second relayed, then C joins: the call moves to a bridge.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let [la, lb] = relay.into_legs().await.unwrap();
    let (bridge, _events) = bridge();
    bridge
        .add(MemberId(1), la, Law::Ulaw, Mode::Talk)
        .await
        .unwrap();
    bridge
        .add(MemberId(2), lb, Law::Ulaw, Mode::Talk)
        .await
        .unwrap();
    let c = member(&bridge, &pool, 3, Law::Ulaw, fc).await;
    let heard_c = talk(vec![c], 30).await.pop().unwrap();

    // C leaves: the two are relayed again.
    drop(bridge.take(MemberId(3)).await.unwrap());
    let la = bridge.take(MemberId(1)).await.unwrap();
    let lb = bridge.take(MemberId(2)).await.unwrap();
    let _relay = spawn_relay_legs(la, lb, RelayConfig::default(), tx);
    let heard = two.await.unwrap();

    for (name, h) in ["A", "B"].iter().zip(&heard) {
        assert!(
            h.headers.len() >= 95,
            "{name} got {} packets",
            h.headers.len()
        );
        one_continuous_stream(h);
        let share = share_of(&h.audio, fc);
        assert!(
            share > 0.02,
            "{name} heard C only at {share:.3} of its power"
        );
    }
    assert!(share_of(&heard[0].audio, fb) > 0.5, "A hears B");
    assert!(share_of(&heard[1].audio, fa) > 0.5, "B hears A");
    let both = &heard_c.audio[2000..4000];
    assert!(
        share_of(both, fa) > 0.3 && share_of(both, fb) > 0.3,
        "C hears A and B"
    );
}
