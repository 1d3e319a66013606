//! A generator "phone" for the media benchmarks: one 20 ms G.711 packet per period to a
//! media address, counting what comes back. Shared by the benchmarks (`#[path]`).

use media::g711::Law;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

const PTIME: Duration = Duration::from_millis(20);
/// Time after the last packet sent for stragglers to arrive before counting losses.
const GRACE: Duration = Duration::from_millis(300);

#[derive(Default)]
pub struct Totals {
    pub sent: AtomicU64,
    pub received: AtomicU64,
}

/// Sends one packet per 20 ms from `first_at` until `stop_at`, dropping `loss` % of them
/// (numbered all the same), and counts what comes back.
pub async fn phone(
    sock: UdpSocket,
    to: SocketAddr,
    ssrc: u32,
    loss: u32,
    first_at: tokio::time::Instant,
    stop_at: tokio::time::Instant,
    totals: Arc<Totals>,
) {
    let mut packet = [0u8; 12 + 160];
    packet[0] = 0x80;
    packet[1] = 0; // PCMU
    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
    // A tone-like payload, so the mixer decodes and sums something other than silence.
    for (i, b) in packet[12..].iter_mut().enumerate() {
        *b = Law::Ulaw.encode(((i as f64 * 0.3).sin() * 4000.0) as i16);
    }
    let mut rx = [0u8; 2048];
    let mut ticks = tokio::time::interval_at(first_at, PTIME);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut seq, mut ts) = (0u16, 0u32);
    let (mut sent, mut received) = (0u64, 0u64);
    let mut rng = ssrc.wrapping_mul(2_654_435_761) | 1;
    let end = tokio::time::sleep_until(stop_at + GRACE);
    tokio::pin!(end);
    loop {
        tokio::select! {
            now = ticks.tick(), if tokio::time::Instant::now() < stop_at => {
                if now >= stop_at {
                    continue;
                }
                rng ^= rng << 13;
                rng ^= rng >> 17;
                rng ^= rng << 5;
                packet[2..4].copy_from_slice(&seq.to_be_bytes());
                packet[4..8].copy_from_slice(&ts.to_be_bytes());
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(160);
                if rng % 100 < loss {
                    continue;
                }
                if sock.send_to(&packet, to).await.is_ok() {
                    sent += 1;
                }
            }
            r = sock.recv_from(&mut rx) => if r.is_ok() { received += 1 },
            () = &mut end => break,
        }
    }
    totals.sent.fetch_add(sent, Relaxed);
    totals.received.fetch_add(received, Relaxed);
}
