//! Load test for the WebRTC gateway: N simulated browsers (str0m peers doing real ICE, DTLS
//! and SRTP), each bridged through its own gateway to a plain RTP socket that echoes, with
//! 20 ms PCMU frames (50 packets/s) each way, on 127.0.0.1.
//!
//! `cargo run --release -p media --example webrtc_bench -- [--quick] [--seconds S]
//!  [--gateway-threads T] [--peer-threads T] [N ...]` (default N: 10 50 100 200)
//!
//! Gateways and the simulated browsers/echo phones run on separate runtimes with named threads,
//! so the gateways' CPU time can be told apart from the rest in /proc/self/task.
//!
//! Latency: the browser writes its send time into each frame; the echo phone reads it when the
//! plain packet arrives (browser → plain), then writes its own send time into the packet it
//! echoes, which the browser reads when the datagram arrives (plain → browser). Both include the
//! loopback hops, the runtimes' scheduling and the simulated browser's own SRTP work, so they
//! bound what the gateway adds. The baseline columns measure the same round with a plain UDP
//! forwarder in place of the gateway (10 flows on the same runtimes, during the same window):
//! the difference is what the gateway itself adds.

#[path = "../tests/support/browser.rs"]
mod browser;

use browser::{Browser, BrowserEvent, Generator};
use media::{spawn_webrtc_gateway, PortRange, RtpPool, WebRtcCert, WebRtcConfig, WebRtcEvent};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::runtime::Runtime;

#[path = "support/proc_stats.rs"]
mod proc_stats;
use proc_stats::{process_cpu_seconds, rss_kib, runtime, thread_cpu_seconds};

const PTIME: Duration = Duration::from_millis(20);
const FRAME: usize = 160;
/// Time after the measuring window for packets in flight to arrive.
const GRACE: Duration = Duration::from_millis(300);
const GATEWAY_THREAD: &str = "gw-worker";
const PEER_THREAD: &str = "peer-worker";

/// The bench's clock: send times travel in payloads as microseconds since this.
static EPOCH: OnceLock<Instant> = OnceLock::new();
/// Frames sent while this is set carry a mark, and only marked frames are counted.
static MEASURING: AtomicBool = AtomicBool::new(false);
/// Frames the simulated browsers sent while measuring (counted in `make_frame`, a plain fn).
static SENT_TO_PLAIN: AtomicU64 = AtomicU64::new(0);
/// Flows through a plain UDP forwarder on the gateway runtime, for a baseline of what the
/// runtimes and loopback alone cost under the same load.
const BASELINE_FLOWS: usize = 10;

fn micros_now() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// A browser frame: send time, measuring mark, then filler.
fn make_frame(_n: u64) -> Vec<u8> {
    let mut frame = vec![0xffu8; FRAME];
    let measuring = MEASURING.load(Relaxed);
    if measuring {
        SENT_TO_PLAIN.fetch_add(1, Relaxed);
    }
    frame[..8].copy_from_slice(&micros_now().to_be_bytes());
    frame[8] = u8::from(measuring);
    frame
}

/// Counters and samples of one path: towards the plain side ("b→p") and back ("p→b").
#[derive(Default)]
struct Path {
    received_by_plain: AtomicU64,
    echoed: AtomicU64,
    received_back: AtomicU64,
    to_plain_us: Mutex<Vec<u64>>,
    back_us: Mutex<Vec<u64>>,
}

impl Path {
    fn sample(samples: &Mutex<Vec<u64>>, us: u64) {
        samples.lock().unwrap_or_else(|e| e.into_inner()).push(us);
    }

    fn take(samples: &Mutex<Vec<u64>>) -> Vec<u64> {
        std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

struct Options {
    sizes: Vec<usize>,
    seconds: f64,
    warmup: Duration,
    gateway_threads: usize,
    peer_threads: usize,
}

fn options() -> Result<Options, Box<dyn std::error::Error>> {
    let mut o = Options {
        sizes: Vec::new(),
        seconds: 10.0,
        warmup: Duration::from_secs(1),
        gateway_threads: 1,
        peer_threads: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => {
                o.seconds = 3.0;
                o.warmup = Duration::from_millis(500);
            }
            "--seconds" => o.seconds = args.next().ok_or("--seconds S")?.parse()?,
            "--gateway-threads" => {
                o.gateway_threads = args.next().ok_or("--gateway-threads T")?.parse()?
            }
            "--peer-threads" => o.peer_threads = args.next().ok_or("--peer-threads T")?.parse()?,
            n => o
                .sizes
                .push(n.parse().map_err(|_| format!("unknown argument {n}"))?),
        }
    }
    if o.sizes.is_empty() {
        o.sizes = vec![10, 50, 100, 200];
    }
    Ok(o)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    EPOCH.get_or_init(Instant::now);
    let gw_rt = runtime(GATEWAY_THREAD, o.gateway_threads)?;
    let peer_rt = runtime(PEER_THREAD, o.peer_threads)?;
    let cert_started = Instant::now();
    let cert = WebRtcCert::generate()?;
    let cert_took = cert_started.elapsed();

    println!(
        "webrtc_bench: {:.0} s per row (after {:.1} s warm-up), 20 ms PCMU both ways, {} gateway thread(s) + {} peer thread(s), 127.0.0.1; shared DTLS certificate made once in {cert_took:.1?}",
        o.seconds,
        o.warmup.as_secs_f64(),
        o.gateway_threads,
        o.peer_threads
    );
    println!();
    println!("| calls | connected | pkt/s through gateways | loss % b→p / p→b | CPU % of one core (gateways) | CPU % (whole process) | b→p p50 / p99 ms | p→b p50 / p99 ms | baseline b→p p50 / p99 ms | baseline p→b p50 / p99 ms | connect p50 / p99 ms | RSS MiB |");
    println!("|------:|----------:|-----------------------:|-----------------:|-----------------------------:|----------------------:|-----------------:|-----------------:|--------------------------:|--------------------------:|---------------------:|--------:|");
    for &n in &o.sizes {
        row(n, &o, &cert, &gw_rt, &peer_rt)?;
    }
    Ok(())
}

fn row(
    n: usize,
    o: &Options,
    cert: &WebRtcCert,
    gw_rt: &Runtime,
    peer_rt: &Runtime,
) -> Result<(), Box<dyn std::error::Error>> {
    let path = Arc::new(Path::default());
    let baseline = Arc::new(Path::default());
    let connect_us = Arc::new(Mutex::new(Vec::new()));
    let hi = u16::try_from(30000 + 2 * n + 20)?;
    let pool = RtpPool::new(Ipv4Addr::LOCALHOST.into(), PortRange::new(30000, hi)?);
    let config = WebRtcConfig::default();
    let (connected_tx, mut connected_rx) = tokio::sync::mpsc::unbounded_channel::<()>();

    let mut gateways = Vec::with_capacity(n);
    let mut tasks = Vec::with_capacity(3 * n + 3 * BASELINE_FLOWS);
    for _ in 0..n {
        let browser = peer_rt.block_on(Browser::new(Ipv4Addr::LOCALHOST.into()));
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        // From the offer reaching the gateway to the gateway's Connected.
        let started = Instant::now();
        let gateway = gw_rt.block_on(spawn_webrtc_gateway(
            cert,
            &config,
            &pool,
            browser.offer(),
            tx,
        ))?;
        let echo = peer_rt.block_on(UdpSocket::bind("127.0.0.1:0"))?;
        gateway.set_plain_remote(echo.local_addr()?);
        let _guard = peer_rt.enter();
        let mut handle = browser.start(
            gateway.answer_sdp(),
            Some(Generator {
                every: PTIME,
                make: make_frame,
            }),
        );
        tasks.push(peer_rt.spawn(echo_phone(echo, Arc::clone(&path))));
        let connect_us = Arc::clone(&connect_us);
        let connected = connected_tx.clone();
        tasks.push(peer_rt.spawn(async move {
            while let Some(e) = events.recv().await {
                if e == WebRtcEvent::Connected {
                    Path::sample(&connect_us, started.elapsed().as_micros() as u64);
                    let _ = connected.send(());
                }
            }
        }));
        let p = Arc::clone(&path);
        tasks.push(peer_rt.spawn(async move {
            // The browser runs as long as its command sender lives: here, until aborted.
            let _commands = handle.commands;
            while let Some(e) = handle.events.recv().await {
                if let BrowserEvent::Audio {
                    payload,
                    received_at,
                    ..
                } = e
                {
                    let at = received_at.duration_since(*EPOCH.get_or_init(Instant::now));
                    if let Some(us) = measured_delay(&payload, at.as_micros() as u64) {
                        p.received_back.fetch_add(1, Relaxed);
                        Path::sample(&p.back_us, us);
                    }
                }
            }
        }));
        gateways.push(gateway);
    }
    drop(connected_tx);
    let mut connected = 0;
    peer_rt.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while connected < n {
            match tokio::time::timeout_at(deadline, connected_rx.recv()).await {
                Ok(Some(())) => connected += 1,
                _ => break,
            }
        }
    });
    for _ in 0..BASELINE_FLOWS.min(n) {
        let phone = peer_rt.block_on(UdpSocket::bind("127.0.0.1:0"))?;
        let echo = peer_rt.block_on(UdpSocket::bind("127.0.0.1:0"))?;
        let forwarder = gw_rt.block_on(UdpSocket::bind("127.0.0.1:0"))?;
        let (fwd_addr, echo_addr) = (forwarder.local_addr()?, echo.local_addr()?);
        tasks.push(gw_rt.spawn(forward(forwarder, echo_addr)));
        tasks.push(peer_rt.spawn(echo_phone(echo, Arc::clone(&baseline))));
        tasks.push(peer_rt.spawn(baseline_browser(phone, fwd_addr, Arc::clone(&baseline))));
    }

    std::thread::sleep(o.warmup);
    let cpu_before = cpu_seconds()?;
    let started = Instant::now();
    MEASURING.store(true, Relaxed);
    std::thread::sleep(Duration::from_secs_f64(o.seconds));
    MEASURING.store(false, Relaxed);
    let window = started.elapsed().as_secs_f64();
    let cpu_after = cpu_seconds()?;
    std::thread::sleep(GRACE);
    let rss = rss_kib()? as f64 / 1024.0;

    let sent = SENT_TO_PLAIN.swap(0, Relaxed);
    let received_by_plain = path.received_by_plain.load(Relaxed);
    let echoed = path.echoed.load(Relaxed);
    let received_back = path.received_back.load(Relaxed);
    let loss = |sent: u64, received: u64| {
        if sent == 0 {
            0.0
        } else {
            100.0 * sent.saturating_sub(received) as f64 / sent as f64
        }
    };
    println!(
        "| {n} | {connected} | {:.0} | {:.3} / {:.3} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {rss:.0} |",
        (received_by_plain + received_back) as f64 / window,
        loss(sent, received_by_plain),
        loss(echoed, received_back),
        100.0 * (cpu_after.gateway - cpu_before.gateway) / window,
        100.0 * (cpu_after.total - cpu_before.total) / window,
        percentiles(&mut Path::take(&path.to_plain_us)),
        percentiles(&mut Path::take(&path.back_us)),
        percentiles(&mut Path::take(&baseline.to_plain_us)),
        percentiles(&mut Path::take(&baseline.back_us)),
        percentiles(&mut Path::take(&connect_us)),
    );

    drop(gateways);
    // The browsers' handles live in their collector tasks: aborting those ends the browsers.
    for t in &tasks {
        t.abort();
    }
    // Let the gateways close and free their ports before the next row.
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}

/// The one-way delay of a measured frame (send time in its first 8 bytes, mark in the 9th)
/// that arrived at `arrived` µs; `None` for frames sent outside the measuring window.
fn measured_delay(frame: &[u8], arrived: u64) -> Option<u64> {
    if frame.len() != FRAME || frame[8] != 1 {
        return None;
    }
    let sent = u64::from_be_bytes(frame[..8].try_into().ok()?);
    Some(arrived.saturating_sub(sent))
}

/// Echoes every packet back to where it came from with a fresh send time, as the SIP side.
async fn echo_phone(socket: UdpSocket, path: Arc<Path>) {
    let mut buf = [0u8; 2048];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let arrived = micros_now();
        if len != 12 + FRAME {
            continue;
        }
        let payload = &mut buf[12..len];
        let measured = measured_delay(payload, arrived).inspect(|&us| {
            path.received_by_plain.fetch_add(1, Relaxed);
            Path::sample(&path.to_plain_us, us);
        });
        payload[..8].copy_from_slice(&micros_now().to_be_bytes());
        if socket.send_to(&buf[..len], from).await.is_ok() && measured.is_some() {
            path.echoed.fetch_add(1, Relaxed);
        }
    }
}

/// The baseline's "gateway": forwards datagrams between the first sender and `echo`, as
/// they are, on the gateway runtime.
async fn forward(socket: UdpSocket, echo: SocketAddr) {
    let mut buf = [0u8; 2048];
    let mut browser = None;
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let to = if from == echo {
            browser
        } else {
            browser = Some(from);
            Some(echo)
        };
        if let Some(to) = to {
            let _ = socket.send_to(&buf[..len], to).await;
        }
    }
}

/// The baseline's "browser": a plain RTP sender at 50 packets/s on the peer runtime.
async fn baseline_browser(socket: UdpSocket, to: SocketAddr, path: Arc<Path>) {
    let mut ticks = tokio::time::interval(PTIME);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut buf = [0u8; 2048];
    let mut packet = vec![0x80, 0];
    packet.resize(12 + FRAME, 0xff);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let measuring = MEASURING.load(Relaxed);
                packet[12..20].copy_from_slice(&micros_now().to_be_bytes());
                packet[20] = u8::from(measuring);
                let _ = socket.send_to(&packet, to).await;
            }
            r = socket.recv_from(&mut buf) => {
                let Ok((len, _)) = r else { continue };
                let arrived = micros_now();
                if let Some(us) = buf.get(12..len).and_then(|p| measured_delay(p, arrived)) {
                    path.received_back.fetch_add(1, Relaxed);
                    Path::sample(&path.back_us, us);
                }
            }
        }
    }
}

/// "p50 / p99" in milliseconds.
fn percentiles(samples: &mut [u64]) -> String {
    if samples.is_empty() {
        return "-".to_owned();
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    format!("{:.2} / {:.2}", at(0.50), at(0.99))
}

/// utime + stime of the process and of the gateway runtime's threads, in seconds.
fn cpu_seconds() -> std::io::Result<Cpu> {
    Ok(Cpu {
        total: process_cpu_seconds()?,
        gateway: thread_cpu_seconds(GATEWAY_THREAD)?,
    })
}

struct Cpu {
    total: f64,
    gateway: f64,
}
