//! Invariants of the ACD under random traffic: an agent is never offered two calls at once,
//! every call ends with exactly one outcome, and the counts of outcomes add up.

use engine::acd::{Acd, Command, GroupConfig, QueueEvent};
use engine::agent_state::{ChangedBy, Pause, Readiness};
use engine::RingStrategy;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone)]
enum Op {
    Arrive(u8),
    Answer(u8),
    Fail(u8),
    CallerHangup(u8),
    EndCall(u8),
    Pause(u8),
    Available(u8),
    Online(u8, bool),
    Wait(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2u8).prop_map(Op::Arrive),
        3 => (0..6u8).prop_map(Op::Answer),
        1 => (0..6u8).prop_map(Op::Fail),
        2 => (0..40u8).prop_map(Op::CallerHangup),
        2 => (0..40u8).prop_map(Op::EndCall),
        1 => (0..6u8).prop_map(Op::Pause),
        1 => (0..6u8).prop_map(Op::Available),
        1 => (0..6u8, any::<bool>()).prop_map(|(a, o)| Op::Online(a, o)),
        3 => (0..30_000u16).prop_map(Op::Wait),
    ]
}

fn strategy() -> impl Strategy<Value = RingStrategy> {
    prop_oneof![
        Just(RingStrategy::RingAll),
        Just(RingStrategy::LongestIdle),
        Just(RingStrategy::ShortestTalk),
        Just(RingStrategy::Random),
        Just(RingStrategy::RoundRobin),
        Just(RingStrategy::LevelRatio),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn invariants(strategy in strategy(), levels in proptest::collection::vec(0..3i64, 6), ops in proptest::collection::vec(op(), 1..120), max_waiting in 0..4usize, delay in 0..2u64, pause in any::<bool>()) {
        let mut acd = Acd::new(1);
        for gid in 0..2i64 {
            let members = (0..6i64).filter(|a| (a + gid) % 3 != 0).map(|a| (a, levels[a as usize])).collect();
            let mut g = GroupConfig::new(gid, members);
            g.strategy = strategy;
            g.max_waiting = max_waiting;
            g.queue_start_delay_ms = delay * 5_000;
            g.no_answer_pause = pause;
            g.no_answer_pause_ms = 40_000;
            g.acw = Some((9, 10_000));
            g.timeout_ms = Some(120_000);
            acd.configure_group(0, g);
        }
        for a in 0..6 { acd.handle_agent_online(0, a, true); }
        let mut now = 0u64;
        let mut next_call = 0u64;
        // What the driver would know from the commands.
        let mut ringing: HashMap<i64, u64> = HashMap::new();
        let mut connected: HashMap<u64, i64> = HashMap::new();
        let mut outcomes: HashMap<u64, Vec<&'static str>> = HashMap::new();
        let mut entered: HashSet<u64> = HashSet::new();
        let mut calls: Vec<u64> = Vec::new();
        for op in ops {
            match op {
                Op::Arrive(g) => { acd.handle_call_arrived(now, next_call, g as i64); calls.push(next_call); next_call += 1; }
                Op::Answer(a) => if let Some(c) = ringing.get(&(a as i64)).copied() { acd.handle_agent_answered(now, c, a as i64) },
                Op::Fail(a) => if let Some(c) = ringing.get(&(a as i64)).copied() { acd.handle_agent_failed(now, c, a as i64) },
                Op::CallerHangup(i) => if let Some(c) = calls.get(i as usize).copied() { acd.handle_caller_hangup(now, c) },
                Op::EndCall(i) => if let Some(c) = calls.get(i as usize).copied() { if connected.contains_key(&c) { acd.handle_call_ended(now, c) } },
                Op::Pause(a) => acd.handle_set_readiness(now, a as i64, None, Readiness::Paused(Pause::Manual), ChangedBy::Agent),
                Op::Available(a) => acd.handle_set_readiness(now, a as i64, None, Readiness::Available, ChangedBy::Agent),
                Op::Online(a, o) => acd.handle_agent_online(now, a as i64, o),
                Op::Wait(ms) => {
                    let until = now + ms as u64;
                    while let Some(t) = acd.poll_timeout() { if t > until { break } now = now.max(t); acd.handle_timeout(now); }
                    now = until;
                }
            }
            while let Some(cmd) = acd.poll_command() {
                match cmd {
                    Command::Ring { call, agent } => {
                        prop_assert!(!ringing.contains_key(&agent), "agent {} offered {} while ringing for {:?}", agent, call, ringing.get(&agent));
                        prop_assert!(!connected.values().any(|a| *a == agent), "agent {} offered {} while on a call", agent, call);
                        ringing.insert(agent, call);
                    }
                    Command::StopRinging { call, agent } => { if ringing.get(&agent) == Some(&call) { ringing.remove(&agent); } }
                    Command::Connect { call, agent } => {
                        prop_assert_eq!(ringing.remove(&agent), Some(call));
                        prop_assert!(connected.insert(call, agent).is_none());
                    }
                    Command::Divert { .. } | Command::StartWaiting { .. } => {}
                }
            }
            while let Some(e) = acd.poll_event() {
                match e {
                    QueueEvent::Entered { call, .. } => { entered.insert(call); }
                    QueueEvent::Answered { call, .. } => outcomes.entry(call).or_default().push("answered"),
                    QueueEvent::Abandoned { call, .. } => outcomes.entry(call).or_default().push("abandoned"),
                    QueueEvent::Overflowed { call, .. } => outcomes.entry(call).or_default().push("overflow"),
                    QueueEvent::TimedOut { call, .. } => outcomes.entry(call).or_default().push("timeout"),
                    QueueEvent::Completed { call, .. } => { connected.remove(&call); }
                    _ => {}
                }
            }
        }
        // Every caller eventually hangs up: then every call has exactly one outcome.
        for c in calls.clone() { acd.handle_caller_hangup(now, c); }
        while let Some(e) = acd.poll_event() {
            match e {
                QueueEvent::Answered { call, .. } => outcomes.entry(call).or_default().push("answered"),
                QueueEvent::Abandoned { call, .. } => outcomes.entry(call).or_default().push("abandoned"),
                QueueEvent::Overflowed { call, .. } => outcomes.entry(call).or_default().push("overflow"),
                QueueEvent::TimedOut { call, .. } => outcomes.entry(call).or_default().push("timeout"),
                _ => {}
            }
        }
        for c in &calls {
            let o = outcomes.get(c).cloned().unwrap_or_default();
            prop_assert_eq!(o.len(), 1, "call {} outcomes {:?}", c, o);
            // Overflowed calls never entered the queue; all others did.
            prop_assert_eq!(o[0] == "overflow", !entered.contains(c));
        }
        let total: usize = outcomes.values().map(Vec::len).sum();
        prop_assert_eq!(total, calls.len());
    }
}
