//! ACD benchmark: routing decision latency per strategy for a 1,000-agent group, and a
//! simulation of 100,000 calls through 100 groups (Poisson arrivals, exponential handle
//! times and patience). Prints tables; run with
//! `cargo run --release -p engine --example acd_bench [calls]`.

use engine::acd::{Acd, Command, GroupConfig, QueueEvent};
use engine::RingStrategy;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

/// Deterministic uniform (0,1) without external crates.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * self.next().ln()
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn decision_latency() {
    println!("Routing decision latency, one group of 1,000 available agents (levels 0-2), 20,000 decisions each");
    println!(
        "{:<15} {:>10} {:>10} {:>10} {:>14}",
        "strategy", "p50 µs", "p99 µs", "max µs", "agents rung"
    );
    for strategy in RingStrategy::ALL {
        let members: Vec<(i64, i64)> = (0..1000).map(|a| (a, a % 3)).collect();
        let mut g = GroupConfig::new(1, members);
        g.strategy = strategy;
        let mut acd = Acd::new(7);
        acd.configure_group(0, g);
        for a in 0..1000 {
            acd.handle_agent_online(0, a, true);
        }
        while acd.poll_command().is_some() {}
        let mut samples = Vec::with_capacity(20_000);
        let mut rung = 0;
        for call in 0..20_000u64 {
            let t = Instant::now();
            acd.handle_call_arrived(call, call, 1);
            let dt = t.elapsed().as_secs_f64() * 1e6;
            samples.push(dt);
            let mut first = None;
            while let Some(c) = acd.poll_command() {
                if let Command::Ring { agent, .. } = c {
                    rung += 1;
                    first.get_or_insert(agent);
                }
            }
            if let Some(agent) = first {
                acd.handle_agent_answered(call, call, agent);
                acd.handle_call_ended(call, call);
            }
            while acd.poll_command().is_some() {}
            while acd.poll_event().is_some() {}
        }
        let max = samples.iter().cloned().fold(0.0, f64::max);
        let p50 = percentile(&mut samples, 0.50);
        let p99 = percentile(&mut samples, 0.99);
        println!(
            "{:<15} {:>10.1} {:>10.1} {:>10.1} {:>14.1}",
            strategy.as_str(),
            p50,
            p99,
            max,
            rung as f64 / 20_000.0
        );
    }
    println!();
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Arrive { call: u64, group: i64 },
    Answer { call: u64, agent: i64 },
    Patience { call: u64 },
    End { call: u64 },
}

fn simulate(total_calls: u64) {
    let groups = 100i64;
    let per_group = 10i64;
    let aht_s = 180.0;
    let patience_s = 120.0;
    // ~85 % occupancy: arrivals per group per second.
    let rate = 0.85 * per_group as f64 / aht_s;
    let mut rnd = Lcg(12345);
    let mut acd = Acd::new(99);
    for g in 0..groups {
        let members = (0..per_group).map(|i| (g * per_group + i, i % 2)).collect();
        let mut cfg = GroupConfig::new(g, members);
        cfg.strategy = RingStrategy::ALL[(g as usize) % 6];
        cfg.ring_ms = 15_000;
        cfg.max_waiting = 20;
        cfg.timeout_ms = Some(600_000);
        acd.configure_group(0, cfg);
    }
    for a in 0..groups * per_group {
        acd.handle_agent_online(0, a, true);
    }
    let mut queue: BinaryHeap<Reverse<(u64, Action)>> = BinaryHeap::new();
    let mut t = 0.0f64;
    for call in 0..total_calls {
        t += rnd.exp(1.0 / (rate * groups as f64));
        let group = (rnd.next() * groups as f64) as i64 % groups;
        queue.push(Reverse((
            (t * 1000.0) as u64,
            Action::Arrive { call, group },
        )));
    }
    let mut counts: HashMap<&'static str, u64> = HashMap::new();
    let mut wait_total = 0u64;
    let mut live: HashMap<u64, bool> = HashMap::new();
    let start = Instant::now();
    let mut now = 0u64;
    loop {
        let next_action = queue.peek().map(|Reverse((at, _))| *at);
        let next_timer = acd.poll_timeout();
        let at = match (next_action, next_timer) {
            (None, None) => break,
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
        };
        now = now.max(at);
        if next_timer == Some(at) && next_action.is_none_or(|a| a > at) {
            acd.handle_timeout(now);
        } else if let Some(Reverse((_, action))) = queue.pop() {
            match action {
                Action::Arrive { call, group } => {
                    live.insert(call, false);
                    acd.handle_call_arrived(now, call, group);
                    queue.push(Reverse((
                        now + (rnd.exp(patience_s) * 1000.0) as u64,
                        Action::Patience { call },
                    )));
                }
                Action::Answer { call, agent } => acd.handle_agent_answered(now, call, agent),
                Action::Patience { call } => {
                    if live.get(&call) == Some(&false) {
                        acd.handle_caller_hangup(now, call);
                    }
                }
                Action::End { call } => acd.handle_call_ended(now, call),
            }
        }
        while let Some(c) = acd.poll_command() {
            match c {
                // 95 % of phones are answered after 1-6 s; the rest ring out.
                Command::Ring { call, agent } if rnd.next() < 0.95 => {
                    let delay = 1_000 + (rnd.next() * 5_000.0) as u64;
                    queue.push(Reverse((now + delay, Action::Answer { call, agent })));
                }
                Command::Connect { call, .. } => {
                    live.insert(call, true);
                    queue.push(Reverse((
                        now + (rnd.exp(aht_s) * 1000.0) as u64,
                        Action::End { call },
                    )));
                }
                Command::Divert { call, .. } => {
                    live.remove(&call);
                }
                _ => {}
            }
        }
        while let Some(e) = acd.poll_event() {
            let k = match e {
                QueueEvent::Answered { wait_ms, .. } => {
                    wait_total += wait_ms;
                    "answered"
                }
                QueueEvent::Abandoned { .. } => "abandoned",
                QueueEvent::Overflowed { .. } => "overflowed",
                QueueEvent::TimedOut { .. } => "timed out",
                QueueEvent::NoAnswer { .. } => "agent no-answer rings",
                QueueEvent::Completed { .. } => "completed",
                _ => continue,
            };
            *counts.entry(k).or_default() += 1;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    println!("Simulation: {total_calls} calls, {groups} groups x {per_group} agents (all six strategies), AHT {aht_s} s, patience {patience_s} s, ~85 % load");
    println!("{:<24} {:>10}", "outcome", "count");
    for k in [
        "answered",
        "completed",
        "abandoned",
        "overflowed",
        "timed out",
        "agent no-answer rings",
    ] {
        println!("{:<24} {:>10}", k, counts.get(k).copied().unwrap_or(0));
    }
    let answered = counts.get("answered").copied().unwrap_or(0);
    let outcomes = answered
        + ["abandoned", "overflowed", "timed out"]
            .iter()
            .map(|k| counts.get(k).copied().unwrap_or(0))
            .sum::<u64>();
    println!("{:<24} {:>10}", "outcomes (must = calls)", outcomes);
    println!(
        "{:<24} {:>10.1}",
        "answer rate %",
        100.0 * answered as f64 / total_calls as f64
    );
    println!(
        "{:<24} {:>10.1}",
        "mean wait of answered s",
        wait_total as f64 / answered.max(1) as f64 / 1000.0
    );
    println!(
        "{:<24} {:>10.1}",
        "simulated hours",
        now as f64 / 3_600_000.0
    );
    println!("{:<24} {:>10.2}", "wall time s", wall);
}

fn main() {
    let calls = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    decision_latency();
    simulate(calls);
}
