//! Load test for the two-party relay: N relays, each between two generator "phones" that send
//! 20 ms G.711 packets (160-byte payload) both ways, on 127.0.0.1.
//!
//! `cargo run --release -p media --example relay_bench -- [RELAYS=500] [SECONDS=10] [record]`
//!
//! With `record`, every relay also records its call (the recorder tap decodes both legs onto
//! the stereo timeline); the audio it hands out is counted, not written, so the figure is the
//! relay's own cost of recording and the bytes a recording writes per minute.
//!
//! Relays and generators run on separate runtimes with named threads, so the CPU time of the
//! relay threads can be told apart from the generators' in /proc/self/task.

use media::{
    spawn_relay, LegMedia, PortRange, RecordTap, RecorderOutput, RelayConfig, RelayHandle, RtpPool,
};
use std::net::Ipv4Addr;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

#[path = "support/phone.rs"]
mod phone;
#[path = "support/proc_stats.rs"]
mod proc_stats;
use phone::{phone, Totals};
use proc_stats::{process_cpu_seconds, rss_kib, runtime, thread_cpu_seconds};

const PTIME: Duration = Duration::from_millis(20);
const RELAY_THREAD: &str = "relay-worker";
const GEN_THREAD: &str = "gen-worker";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let relays: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10);
    let record = args.next().as_deref() == Some("record");
    let recorded_samples = Arc::new(AtomicU64::new(0));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());

    let relay_rt = runtime(RELAY_THREAD, threads)?;
    let gen_rt = runtime(GEN_THREAD, threads)?;

    let rss_start = rss_kib()?;
    let phones: Vec<[UdpSocket; 2]> = gen_rt.block_on(async {
        let mut phones = Vec::with_capacity(relays);
        for _ in 0..relays {
            phones.push([
                UdpSocket::bind("127.0.0.1:0").await?,
                UdpSocket::bind("127.0.0.1:0").await?,
            ]);
        }
        Ok::<_, std::io::Error>(phones)
    })?;

    let rss_before_relays = rss_kib()?;
    let hi = u16::try_from(20000 + 4 * relays + 100)?;
    let pool = RtpPool::new(Ipv4Addr::LOCALHOST.into(), PortRange::new(20000, hi)?);
    let setup = Instant::now();
    let (handles, relay_addrs, _events) = relay_rt.block_on(async {
        let mut handles: Vec<RelayHandle> = Vec::with_capacity(relays);
        let mut addrs = Vec::with_capacity(relays);
        let mut events = Vec::with_capacity(relays);
        for [pa, pb] in &phones {
            let (a, b) = (pool.allocate().await?, pool.allocate().await?);
            addrs.push([a.rtp_addr(), b.rtp_addr()]);
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            events.push(rx);
            handles.push(spawn_relay(
                LegMedia {
                    endpoint: a,
                    remote: Some(pa.local_addr()?),
                    telephone_event_pt: Some(101),
                    srtp: None,
                },
                LegMedia {
                    endpoint: b,
                    remote: Some(pb.local_addr()?),
                    telephone_event_pt: Some(101),
                    srtp: None,
                },
                RelayConfig {
                    idle_timeout: Duration::from_secs(30),
                },
                tx,
            ));
            if record {
                let (output, mut audio) = tokio::sync::mpsc::unbounded_channel();
                let counted = Arc::clone(&recorded_samples);
                tokio::spawn(async move {
                    while let Some(RecorderOutput::Audio(samples)) = audio.recv().await {
                        counted.fetch_add(samples.len() as u64, Relaxed);
                    }
                });
                if let Some(h) = handles.last() {
                    h.record(RecordTap {
                        left_leg: 0,
                        output,
                    });
                }
            }
        }
        Ok::<_, Box<dyn std::error::Error>>((handles, addrs, events))
    })?;
    let setup_took = setup.elapsed();
    let rss_with_relays = rss_kib()?;

    let totals = Arc::new(Totals::default());
    let duration = Duration::from_secs(seconds);
    let cpu_before = (process_cpu_seconds()?, thread_cpu_seconds(RELAY_THREAD)?);
    let started = Instant::now();
    gen_rt.block_on(async {
        let stop_at = tokio::time::Instant::now() + Duration::from_millis(100) + duration;
        let mut tasks = Vec::with_capacity(relays * 2);
        for (i, ([pa, pb], addrs)) in phones.into_iter().zip(&relay_addrs).enumerate() {
            // Spread the phones over the 20 ms period as real calls are.
            let offset = PTIME * u32::try_from(i)? / u32::try_from(relays)?;
            for (leg, (sock, to)) in [(pa, addrs[0]), (pb, addrs[1])].into_iter().enumerate() {
                let ssrc = u32::try_from(i * 2 + leg)?;
                tasks.push(tokio::spawn(phone(
                    sock,
                    to,
                    ssrc,
                    0,
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
    let wall = started.elapsed();
    let cpu_after = (process_cpu_seconds()?, thread_cpu_seconds(RELAY_THREAD)?);
    let rss_end = rss_kib()?;

    let forwarded: u64 = handles
        .iter()
        .map(|h| {
            let s = h.stats();
            s.forwarded[0].rtp_packets + s.forwarded[1].rtp_packets
        })
        .sum();
    let sent = totals.sent.load(Relaxed);
    let received = totals.received.load(Relaxed);
    let loss = if sent == 0 {
        0.0
    } else {
        100.0 * (sent - received.min(sent)) as f64 / sent as f64
    };
    let cpu_total = cpu_after.0 - cpu_before.0;
    let cpu_relay = cpu_after.1 - cpu_before.1;
    let secs = duration.as_secs_f64();
    let per_relay_kib = (rss_with_relays - rss_before_relays) as f64 / relays as f64;

    let mode = if record { "recorded" } else { "plain" };
    println!("relay_bench: {relays} {mode} relays, {seconds} s of 20 ms G.711 both ways, {threads} relay threads + {threads} generator threads on 127.0.0.1");
    println!("setup: {} endpoints allocated and {relays} relays spawned in {setup_took:.2?}; traffic phase wall time {wall:.2?}", 2 * relays);
    println!();
    println!("| relays | packets/s forwarded | loss % | CPU s (process) | CPU s (relay threads) | CPU % of one core (relay) | RSS MiB (end) | RSS KiB per relay |");
    println!("|-------:|--------------------:|-------:|----------------:|----------------------:|--------------------------:|--------------:|------------------:|");
    println!(
        "| {relays} | {:.0} | {loss:.3} | {cpu_total:.2} | {cpu_relay:.2} | {:.1} | {:.1} | {per_relay_kib:.1} |",
        forwarded as f64 / secs,
        100.0 * cpu_relay / secs,
        rss_end as f64 / 1024.0,
    );
    println!();
    println!(
        "packets sent {sent}, received {received}, forwarded by relays {forwarded}; RSS KiB: start {rss_start}, phones bound {rss_before_relays}, relays up {rss_with_relays}, end {rss_end}"
    );
    if record {
        // Two bytes a sample; the tap hands out what is 300 ms old, so the last part is missing.
        let bytes = 2.0 * recorded_samples.load(Relaxed) as f64;
        println!(
            "recorded {:.1} MB in all: {:.2} MB per call-minute",
            bytes / 1e6,
            bytes / 1e6 / relays as f64 / (secs / 60.0)
        );
    }
    drop(handles);
    Ok(())
}
