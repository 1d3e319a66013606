//! Bridges between "phones" made of plain UDP sockets on 127.0.0.1, each sending a tone, and
//! their recordings.

use media::g711::Law;
use media::{
    spawn_bridge, BridgeConfig, BridgeEvent, BridgeHandle, Channel, LegMedia, MediaLeg, MemberId,
    Mode, PortRange, RecorderOutput, RtpPool,
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

/// Power of `freq` in `samples`, relative to their total power: the mean over 20 ms frames.
/// Measured over a whole window at once, the few samples the playout skips or repeats to follow
/// a sender's clock would break the tone's phase and hide most of it.
fn share_of(samples: &[i16], freq: f64) -> f64 {
    if samples.len() < 320 {
        return frame_share(samples, freq);
    }
    let frames: Vec<f64> = samples
        .chunks_exact(160)
        .map(|f| frame_share(f, freq))
        .collect();
    frames.iter().sum::<f64>() / frames.len() as f64
}

/// Power of `freq` in `samples` (Goertzel), relative to the signal's total power.
fn frame_share(samples: &[i16], freq: f64) -> f64 {
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

/// How many 20 ms frames carry `freq`. The test tones are whole cycles in a frame, so a frame
/// without the tone measures near 0; one where the playout skips or repeats a few samples to
/// follow the sender's clock measures less than 1 (0.2 with a second tone mixed in).
fn frames_carrying(audio: &[i16], freq: f64) -> usize {
    audio
        .chunks_exact(160)
        .filter(|f| frame_share(f, freq) > 0.1)
        .count()
}

struct Phone {
    socket: UdpSocket,
    law: Law,
    freq: f64,
    ssrc: u32,
    /// (every, at): frame `n` is silent when `n % every == at`, a mark to find in a recording.
    marks: Option<(u64, u64)>,
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
                            let silent = phone.marks.is_some_and(|(every, at)| n % every == at);
                            let level = if silent { 0.0 } else { 1.0 };
                            let payload: Vec<u8> = tone(phone.freq, n)
                                .iter()
                                .map(|&s| phone.law.encode((f64::from(s) * level) as i16))
                                .collect();
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
    join_in(bridge, pool, id, law, freq, Mode::Talk, None).await
}

/// A μ-law phone sending `freq` joins in `mode`, its leg recorded on `channel` if given.
async fn join(
    bridge: &BridgeHandle,
    pool: &RtpPool,
    id: u64,
    freq: f64,
    mode: Mode,
    channel: Option<Channel>,
) -> (Phone, SocketAddr) {
    join_in(bridge, pool, id, Law::Ulaw, freq, mode, channel).await
}

async fn join_in(
    bridge: &BridgeHandle,
    pool: &RtpPool,
    id: u64,
    law: Law,
    freq: f64,
    mode: Mode,
    channel: Option<Channel>,
) -> (Phone, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let endpoint = pool.allocate().await.unwrap();
    let ours = endpoint.rtp_addr();
    let mut leg = MediaLeg::new(LegMedia {
        endpoint,
        remote: Some(socket.local_addr().unwrap()),
        telephone_event_pt: Some(101),
        srtp: None,
    });
    if let Some(channel) = channel {
        leg.set_recording_channel(channel);
    }
    bridge.add(MemberId(id), leg, law, mode).await.unwrap();
    let phone = Phone {
        socket,
        law,
        freq,
        ssrc: 1000 + id as u32,
        marks: None,
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
        srtp: None,
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
        srtp: None,
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
                marks: None,
            },
            to_a,
        ),
        (
            Phone {
                socket: b,
                law: Law::Ulaw,
                freq: fb,
                ssrc: 22,
                marks: None,
            },
            to_b,
        ),
    ];
    let two = tokio::spawn(talk(phones, 100));

    // Half a second relayed, then C joins: the call moves to a bridge.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ([la, lb], recording) = relay.into_legs().await.unwrap();
    assert!(recording.is_none(), "the call was not recorded");
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
    let _relay = spawn_relay_legs(la, lb, RelayConfig::default(), tx, None);
    let heard = two.await.unwrap();

    for ((name, h), (other, f)) in ["A", "B"].iter().zip(&heard).zip([("B", fb), ("A", fa)]) {
        assert!(
            h.headers.len() >= 95,
            "{name} got {} packets",
            h.headers.len()
        );
        one_continuous_stream(h);
        let frames = h.audio.len() / 160;
        let with_other = frames_carrying(&h.audio, f);
        assert!(
            with_other * 10 >= frames * 9,
            "{name} heard {other} in {with_other} of {frames} frames"
        );
        let with_c = frames_carrying(&h.audio, fc);
        assert!(
            (15..=40).contains(&with_c),
            "{name} heard C (30 frames) in {with_c} frames"
        );
    }
    let both = &heard_c.audio[2000..4000];
    assert!(
        share_of(both, fa) > 0.3 && share_of(both, fb) > 0.3,
        "C hears A and B"
    );
}

/// What a recording wrote until its output closed: interleaved samples, and each `End`.
#[derive(Default)]
struct Written {
    samples: Vec<i16>,
    ends: Vec<(Duration, u64)>,
}

impl Written {
    fn channel(&self, ch: usize) -> Vec<i16> {
        self.samples.iter().skip(ch).step_by(2).copied().collect()
    }

    fn seconds(&self) -> f64 {
        self.samples.len() as f64 / 2.0 / 8000.0
    }
}

/// A writer task like the one telephony runs: everything sent until the output closes.
fn writer() -> (
    tokio::sync::mpsc::UnboundedSender<RecorderOutput>,
    tokio::task::JoinHandle<Written>,
) {
    let (tx, mut rx) = unbounded_channel();
    let task = tokio::spawn(async move {
        let mut w = Written::default();
        while let Some(out) = rx.recv().await {
            match out {
                RecorderOutput::Audio(s) => {
                    assert!(w.ends.is_empty(), "audio after the end");
                    w.samples.extend(s);
                }
                RecorderOutput::End {
                    paused,
                    late_packets,
                } => w.ends.push((paused, late_packets)),
            }
        }
        w
    });
    (tx, task)
}

/// The samples from `from` to `to` seconds into a channel.
fn span(x: &[i16], from: f64, to: f64) -> &[i16] {
    let at = |t: f64| ((t * 8000.0) as usize).min(x.len());
    &x[at(from)..at(to)]
}

/// Start and length of each run of 40 or more near-silent samples between the first and the
/// last loud one.
fn silent_runs(x: &[i16]) -> Vec<(usize, usize)> {
    let loud = |s: &i16| i32::from(*s).abs() > 64;
    let (Some(first), Some(last)) = (x.iter().position(loud), x.iter().rposition(loud)) else {
        return Vec::new();
    };
    let mut runs = Vec::new();
    let mut start = None;
    for (i, s) in x.iter().enumerate().take(last + 1).skip(first) {
        match (loud(s), start) {
            (false, None) => start = Some(i),
            (true, Some(st)) => {
                if i - st >= 40 {
                    runs.push((st, i - st));
                }
                start = None;
            }
            _ => {}
        }
    }
    runs
}

#[tokio::test]
async fn a_recorded_bridge_has_the_customer_left_the_agents_right_and_nobody_else() {
    use media::player::{Program, Prompt};
    let pool = pool(26720);
    let (bridge, _events) = bridge();
    let customer = join(&bridge, &pool, 1, 400.0, Mode::Talk, Some(Channel::Left)).await;
    let agent = join(&bridge, &pool, 2, 1000.0, Mode::Talk, None).await;
    let listener = join(&bridge, &pool, 3, 2600.0, Mode::Listen, None).await;
    let coach = join(
        &bridge,
        &pool,
        4,
        3200.0,
        Mode::Whisper { to: MemberId(2) },
        None,
    )
    .await;
    let held = join(&bridge, &pool, 5, 600.0, Mode::Hold, None).await;
    let music: Vec<i16> = (0..50).flat_map(|n| tone(2200.0, n)).collect();
    let music = Prompt::from_samples(music).unwrap();
    bridge.play(MemberId(5), Program::Loop(music.into()), Law::Ulaw);
    let (output, written) = writer();
    let t0 = Instant::now();
    bridge.record(output);
    let five = tokio::spawn(talk(vec![customer, agent, listener, coach, held], 75));

    // A second agent joins after 300 ms, on the right by default, and is taken out 500 ms
    // later while its phone still sends.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = join(&bridge, &pool, 6, 1800.0, Mode::Talk, None).await;
    let added = t0.elapsed().as_secs_f64();
    let second = tokio::spawn(talk(vec![second], 50));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _gone = bridge.take(MemberId(6)).await.unwrap();
    let taken = t0.elapsed().as_secs_f64();
    five.await.unwrap();
    second.await.unwrap();
    bridge.stop_recording();
    let w = timeout(WAIT, written).await.unwrap().unwrap();
    assert_eq!(w.ends.len(), 1);

    let (left, right) = (w.channel(0), w.channel(1));
    let talked = span(&left, 0.3, 1.4);
    assert!(share_of(talked, 400.0) > 0.5, "the customer on the left");
    for f in [1000.0, 1800.0, 2600.0, 3200.0, 600.0, 2200.0] {
        let share = share_of(talked, f);
        assert!(share < 0.01, "{f} Hz on the left at {share:.3}");
    }
    let both = span(&right, added + 0.15, taken - 0.05);
    assert!(both.len() >= 2000, "{added:.3}..{taken:.3}");
    assert!(share_of(both, 1000.0) > 0.2, "the agent on the right");
    assert!(share_of(both, 1800.0) > 0.2, "the second agent too");
    let after = span(&right, taken + 0.15, 1.4);
    assert!(after.len() >= 2000, "{taken:.3}");
    assert!(share_of(after, 1000.0) > 0.5);
    let share = share_of(after, 1800.0);
    assert!(share < 0.01, "the second agent after it left: {share:.3}");
    let talked = span(&right, 0.3, 1.4);
    // Not the listener, the coach, the member on hold nor its music.
    for f in [400.0, 2600.0, 3200.0, 600.0, 2200.0] {
        let share = share_of(talked, f);
        assert!(share < 0.01, "{f} Hz on the right at {share:.3}");
    }
}

#[tokio::test]
async fn a_pause_in_a_recorded_bridge_is_silence() {
    let pool = pool(26740);
    let (bridge, _events) = bridge();
    let customer = join(&bridge, &pool, 1, 400.0, Mode::Talk, Some(Channel::Left)).await;
    let agent = join(&bridge, &pool, 2, 1000.0, Mode::Talk, None).await;
    let (output, written) = writer();
    let t0 = Instant::now();
    bridge.record(output);
    let two = tokio::spawn(talk(vec![customer, agent], 75));
    tokio::time::sleep(Duration::from_millis(500)).await;
    bridge.pause_recording();
    let paused = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let resumed = t0.elapsed().as_secs_f64();
    bridge.resume_recording();
    two.await.unwrap();
    drop(bridge);
    let w = timeout(WAIT, written).await.unwrap().unwrap();

    assert_eq!(w.ends.len(), 1, "ended once, when the bridge stopped");
    let (pause, _) = w.ends[0];
    assert!(
        (pause.as_secs_f64() - 0.5).abs() < 0.06,
        "paused for {pause:?}"
    );
    for (ch, f) in [(0, 400.0), (1, 1000.0)] {
        let x = w.channel(ch);
        let before = span(&x, 0.2, paused - 0.05);
        assert!(share_of(before, f) > 0.5, "channel {ch} before the pause");
        let during = span(&x, paused + 0.05, resumed);
        assert!(during.len() > 3000);
        assert!(during.iter().all(|&s| s == 0), "channel {ch} silent");
        let after = span(&x, resumed + 0.1, resumed + 0.3);
        assert!(share_of(after, f) > 0.5, "channel {ch} after the resume");
    }
}

#[tokio::test]
async fn a_recording_goes_on_from_the_relay_to_a_bridge_and_back_without_a_gap_or_a_repeat() {
    use media::relay::spawn_relay_legs;
    use media::{spawn_relay, RecordTap, RelayConfig};
    let pool = pool(26760);
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
        srtp: None,
    };
    let (tx, _relay_events) = unbounded_channel();
    let relay = spawn_relay(leg(ea, &a), leg(eb, &b), RelayConfig::default(), tx.clone());
    let (output, written) = writer();
    let t0 = Instant::now();
    relay.record(RecordTap {
        left_leg: 0,
        output,
    });
    // Every tenth frame of each phone is silent: marks 200 ms apart on each channel, which a
    // gap, a repeat or a shift at a switch would move.
    let phones = vec![
        (
            Phone {
                socket: a,
                law: Law::Ulaw,
                freq: 400.0,
                ssrc: 11,
                marks: Some((10, 5)),
            },
            to_a,
        ),
        (
            Phone {
                socket: b,
                law: Law::Alaw,
                freq: 1000.0,
                ssrc: 22,
                marks: Some((10, 7)),
            },
            to_b,
        ),
    ];
    let two = tokio::spawn(talk(phones, 125));

    // 600 ms relayed, then a third party joins through a bridge, which goes on recording.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let ([la, lb], recording) = relay.into_legs().await.unwrap();
    let recording = recording.expect("the recording comes with the legs");
    let (bridge, _events) = bridge();
    bridge.continue_recording(recording);
    bridge
        .add(MemberId(1), la, Law::Ulaw, Mode::Talk)
        .await
        .unwrap();
    bridge
        .add(MemberId(2), lb, Law::Alaw, Mode::Talk)
        .await
        .unwrap();
    let c = join(&bridge, &pool, 3, 1800.0, Mode::Talk, None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    talk(vec![c], 25).await;

    // Down to two again, at about 1.5 s: the relay takes the legs and the recording back.
    drop(bridge.take(MemberId(3)).await.unwrap());
    let la = bridge.take(MemberId(1)).await.unwrap();
    let lb = bridge.take(MemberId(2)).await.unwrap();
    let recording = bridge.take_recording().await;
    assert!(recording.is_some());
    let relay = spawn_relay_legs(la, lb, RelayConfig::default(), tx, recording);
    two.await.unwrap();
    relay.stop_recording();
    let wall = t0.elapsed().as_secs_f64();
    let w = timeout(WAIT, written).await.unwrap().unwrap();

    assert_eq!(w.ends.len(), 1, "one recording, ended once");
    assert!(
        (w.seconds() - wall).abs() < 0.1,
        "{:.3} s recorded in {wall:.3} s",
        w.seconds()
    );
    assert_eq!(w.ends[0].1, 0, "no packet too late to place");
    let (left, right) = (w.channel(0), w.channel(1));
    // The left channel is A alone: its 12 marks, 20 ms each and exactly 200 ms apart, and no
    // other silence from its first packet to its last.
    let marks = silent_runs(&left);
    assert_eq!(marks.len(), 12, "A's marks: {marks:?}");
    for m in &marks {
        assert!(
            (156..=164).contains(&m.1),
            "a mark of {} samples: {marks:?}",
            m.1
        );
    }
    for w in marks.windows(2) {
        assert_eq!(w[1].0 - w[0].0, 1600, "marks {w:?}");
    }
    // On the right, B's marks are hidden while C talks; the others keep B's 200 ms grid.
    let marks = silent_runs(&right);
    assert!(marks.len() >= 8, "B's marks: {marks:?}");
    for m in &marks {
        assert!(
            (156..=164).contains(&m.1),
            "a mark of {} samples: {marks:?}",
            m.1
        );
    }
    for w in marks.windows(2) {
        assert_eq!((w[1].0 - w[0].0) % 1600, 0, "marks {w:?}");
    }
    assert!(share_of(&right, 1800.0) > 0.02, "C recorded with B");
    assert!(share_of(&left, 1800.0) < 0.01, "and not with A");
}
