//! CPU per call of the two-party relay against a 3-party mixing bridge, at 100 and 500
//! concurrent calls, with packet loss: generator "phones" on 127.0.0.1 send 20 ms G.711
//! packets and drop `LOSS` % of them before sending (as a lossy network would).
//!
//! `cargo run --release -p media --example bridge_bench -- [SECONDS=5] [LOSS=2] [record]`
//!
//! With `record`, a third row per size has every bridge recorded (the recorder tap decodes
//! each member's packets onto the stereo timeline); the audio is counted by tasks on the
//! generators' runtime, so the row shows the bridge's own cost of its tap.
//!
//! Relays and bridges run on one runtime, the phones on another, each with named threads, so
//! only the media threads' CPU time is counted.

use media::g711::Law;
use media::{
    spawn_bridge, spawn_relay, BridgeConfig, Channel, LegMedia, MediaLeg, MemberId, Mode,
    PortRange, RecorderOutput, RelayConfig, RtpPool,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

#[path = "support/phone.rs"]
mod phone;
#[path = "support/proc_stats.rs"]
mod proc_stats;
use phone::{phone, Totals};
use proc_stats::{runtime, thread_cpu_seconds};

const PTIME: Duration = Duration::from_millis(20);
const MEDIA_THREAD: &str = "media-worker";
const GEN_THREAD: &str = "gen-worker";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Relay,
    Mix3,
    /// The 3-party mix with its recorder tap on.
    Mix3Recorded,
}

impl Scenario {
    fn legs(self) -> usize {
        match self {
            Scenario::Relay => 2,
            Scenario::Mix3 | Scenario::Mix3Recorded => 3,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Relay => "relay (2 legs, no decoding)",
            Scenario::Mix3 => "3-party mix",
            Scenario::Mix3Recorded => "3-party mix, recorded",
        }
    }
}

struct Outcome {
    cpu: f64,
    sent: u64,
    received: u64,
    /// Samples the recordings handed out (both channels).
    recorded: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let loss: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2);
    let record = args.next().as_deref() == Some("record");
    let mut scenarios = vec![Scenario::Relay, Scenario::Mix3];
    if record {
        scenarios.push(Scenario::Mix3Recorded);
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let media_rt = runtime(MEDIA_THREAD, threads)?;
    let gen_rt = runtime(GEN_THREAD, threads)?;
    println!("bridge_bench: {seconds} s per run, {loss} % of packets dropped by the phones, {threads} media threads + {threads} generator threads on 127.0.0.1");
    println!();
    println!("| calls | path | legs | media CPU s | % of one core | CPU ms per call-second | × relay | phones' packets received / sent |");
    println!("|------:|------|-----:|------------:|--------------:|-----------------------:|--------:|--------------------------------:|");
    let mut notes = Vec::new();
    for calls in [100usize, 500] {
        let mut relay_cost = None;
        for &scenario in &scenarios {
            let o = run(&media_rt, &gen_rt, scenario, calls, seconds, loss)?;
            if scenario == Scenario::Mix3Recorded {
                // Two bytes a sample; the last 300 ms of each recording are still pending.
                let mb = 2.0 * o.recorded as f64 / 1e6;
                let minutes = calls as f64 * seconds as f64 / 60.0;
                notes.push(format!(
                    "{calls} recorded mixes: {mb:.1} MB handed out, {:.2} MB per call-minute",
                    mb / minutes
                ));
            }
            let per_call = 1000.0 * o.cpu / (calls as f64 * seconds as f64);
            let ratio = match relay_cost {
                None => {
                    relay_cost = Some(per_call);
                    "1.00".to_string()
                }
                Some(r) if r > 0.0 => format!("{:.2}", per_call / r),
                Some(_) => "-".to_string(),
            };
            println!(
                "| {calls} | {} | {} | {:.2} | {:.1} | {per_call:.3} | {ratio} | {} / {} |",
                scenario.name(),
                scenario.legs(),
                o.cpu,
                100.0 * o.cpu / seconds as f64,
                o.received,
                o.sent,
            );
        }
    }
    for note in notes {
        println!("{note}");
    }
    Ok(())
}

fn run(
    media_rt: &tokio::runtime::Runtime,
    gen_rt: &tokio::runtime::Runtime,
    scenario: Scenario,
    calls: usize,
    seconds: u64,
    loss: u32,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let legs = scenario.legs();
    let phones: Vec<Vec<UdpSocket>> = gen_rt.block_on(async {
        let mut phones = Vec::with_capacity(calls);
        for _ in 0..calls {
            let mut call = Vec::with_capacity(legs);
            for _ in 0..legs {
                call.push(UdpSocket::bind("127.0.0.1:0").await?);
            }
            phones.push(call);
        }
        Ok::<_, std::io::Error>(phones)
    })?;
    let hi = u16::try_from(20000 + 2 * legs * calls + 100)?;
    let pool = RtpPool::new(Ipv4Addr::LOCALHOST.into(), PortRange::new(20000, hi)?);
    let recorded = Arc::new(AtomicU64::new(0));
    let writers = gen_rt.handle().clone();
    // Handles are kept until the traffic is over; dropping them stops the tasks.
    let (handles, addrs) = media_rt.block_on(async {
        let mut relays = Vec::new();
        let mut bridges = Vec::new();
        let mut addrs: Vec<Vec<SocketAddr>> = Vec::with_capacity(calls);
        for call in &phones {
            let mut media = Vec::with_capacity(legs);
            for phone in call {
                media.push(LegMedia {
                    endpoint: pool.allocate().await?,
                    remote: Some(phone.local_addr()?),
                    telephone_event_pt: Some(101),
                    srtp: None,
                });
            }
            addrs.push(media.iter().map(|m| m.endpoint.rtp_addr()).collect());
            // Events are not read; a dropped receiver only makes sends fail quietly.
            match scenario {
                Scenario::Relay => {
                    let (tx, _) = tokio::sync::mpsc::unbounded_channel();
                    let mut media = media.into_iter();
                    let (Some(a), Some(b)) = (media.next(), media.next()) else {
                        unreachable!("two legs");
                    };
                    relays.push(spawn_relay(
                        a,
                        b,
                        RelayConfig {
                            idle_timeout: Duration::from_secs(30),
                        },
                        tx,
                    ));
                }
                Scenario::Mix3 | Scenario::Mix3Recorded => {
                    let (tx, _) = tokio::sync::mpsc::unbounded_channel();
                    let bridge = spawn_bridge(
                        BridgeConfig {
                            idle_timeout: Duration::from_secs(30),
                        },
                        tx,
                    );
                    if scenario == Scenario::Mix3Recorded {
                        let (output, mut audio) = tokio::sync::mpsc::unbounded_channel();
                        let counted = Arc::clone(&recorded);
                        writers.spawn(async move {
                            while let Some(RecorderOutput::Audio(s)) = audio.recv().await {
                                counted.fetch_add(s.len() as u64, Relaxed);
                            }
                        });
                        bridge.record(output);
                    }
                    for (i, m) in media.into_iter().enumerate() {
                        let mut leg = MediaLeg::new(m);
                        if i == 0 {
                            leg.set_recording_channel(Channel::Left);
                        }
                        bridge
                            .add(MemberId(i as u64), leg, Law::Ulaw, Mode::Talk)
                            .await?;
                    }
                    bridges.push(bridge);
                }
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(((relays, bridges), addrs))
    })?;

    let totals = Arc::new(Totals::default());
    let duration = Duration::from_secs(seconds);
    let cpu_before = thread_cpu_seconds(MEDIA_THREAD)?;
    gen_rt.block_on(async {
        let stop_at = tokio::time::Instant::now() + Duration::from_millis(100) + duration;
        let mut tasks = Vec::new();
        for (i, (call, to)) in phones.into_iter().zip(&addrs).enumerate() {
            // Spread the calls over the 20 ms period as real calls are.
            let offset = PTIME * u32::try_from(i)? / u32::try_from(calls)?;
            for (leg, (sock, &to)) in call.into_iter().zip(to).enumerate() {
                let ssrc = u32::try_from(i * 3 + leg + 1)?;
                tasks.push(tokio::spawn(phone(
                    sock,
                    to,
                    ssrc,
                    loss,
                    stop_at - duration + offset,
                    stop_at,
                    Arc::clone(&totals),
                )));
            }
        }
        for t in tasks {
            t.await?;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    let cpu = thread_cpu_seconds(MEDIA_THREAD)? - cpu_before;
    drop(handles);
    // Let the tasks notice their handles are gone and free the ports.
    media_rt.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    Ok(Outcome {
        cpu,
        sent: totals.sent.load(Relaxed),
        received: totals.received.load(Relaxed),
        recorded: recorded.load(Relaxed),
    })
}
