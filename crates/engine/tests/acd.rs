//! ACD scenarios with a virtual clock: every ring strategy and every group setting.

use engine::acd::{Acd, CallId, Command, GroupConfig, QueueEvent};
use engine::agent_state::{AgentStatus, ChangedBy, Pause, Readiness};
use engine::{RingStrategy, RouteTarget, TargetKind};

struct H {
    acd: Acd,
    now: u64,
}

impl H {
    fn new(cfg: GroupConfig, online: &[i64]) -> H {
        let mut acd = Acd::new(42);
        acd.configure_group(0, cfg);
        for a in online {
            acd.handle_agent_online(0, *a, true);
        }
        let mut h = H { acd, now: 0 };
        h.cmds();
        h.events();
        h
    }

    fn cmds(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.acd.poll_command()).collect()
    }

    fn events(&mut self) -> Vec<QueueEvent> {
        std::iter::from_fn(|| self.acd.poll_event()).collect()
    }

    fn rings(&mut self) -> Vec<(CallId, i64)> {
        self.cmds()
            .into_iter()
            .filter_map(|c| match c {
                Command::Ring { call, agent } => Some((call, agent)),
                _ => None,
            })
            .collect()
    }

    /// Advances the clock to `t`, firing every timer due on the way.
    fn advance(&mut self, t: u64) {
        while let Some(due) = self.acd.poll_timeout() {
            if due > t {
                break;
            }
            self.now = due.max(self.now);
            self.acd.handle_timeout(self.now);
        }
        self.now = t;
    }

    fn arrive(&mut self, call: CallId) {
        self.acd.handle_call_arrived(self.now, call, 1);
    }

    fn answer(&mut self, call: CallId, agent: i64) {
        self.acd.handle_agent_answered(self.now, call, agent);
    }

    fn end(&mut self, call: CallId) {
        self.acd.handle_call_ended(self.now, call);
    }
}

fn group(strategy: RingStrategy, members: &[(i64, i64)]) -> GroupConfig {
    let mut g = GroupConfig::new(1, members.to_vec());
    g.strategy = strategy;
    g
}

fn target(id: i64) -> Option<RouteTarget> {
    Some(RouteTarget {
        kind: TargetKind::Group,
        id,
    })
}

#[test]
fn ring_all_rings_every_free_member_and_stops_the_others_on_answer() {
    let mut h = H::new(
        group(RingStrategy::RingAll, &[(1, 0), (2, 0), (3, 0)]),
        &[1, 2, 3],
    );
    h.arrive(100);
    assert_eq!(h.rings(), vec![(100, 1), (100, 2), (100, 3)]);
    assert_eq!(h.acd.status(2, 1), AgentStatus::Ringing);
    h.now = 3_000;
    h.answer(100, 2);
    assert_eq!(
        h.cmds(),
        vec![
            Command::StopRinging {
                call: 100,
                agent: 1
            },
            Command::StopRinging {
                call: 100,
                agent: 3
            },
            Command::Connect {
                call: 100,
                agent: 2
            }
        ]
    );
    assert!(h.events().contains(&QueueEvent::Answered {
        call: 100,
        group: 1,
        agent: 2,
        wait_ms: 3_000,
        at: 3_000
    }));
    assert_eq!(
        (h.acd.status(1, 1), h.acd.status(2, 1)),
        (AgentStatus::Available, AgentStatus::OnCall)
    );
}

#[test]
fn ring_all_goes_up_the_levels_in_turn_and_back() {
    let mut h = H::new(
        group(RingStrategy::RingAll, &[(1, 0), (2, 1), (3, 1), (4, 2)]),
        &[1, 2, 3, 4],
    );
    h.arrive(1);
    assert_eq!(h.rings(), vec![(1, 1)], "lowest level first");
    h.advance(20_000);
    assert_eq!(h.rings(), vec![(1, 2), (1, 3)], "then level 1");
    h.advance(40_000);
    assert_eq!(h.rings(), vec![(1, 4)]);
    h.advance(60_000);
    assert_eq!(h.rings(), vec![(1, 1)], "and round again");
}

#[test]
fn other_strategies_stay_on_the_lowest_level_with_someone_free() {
    // GROUP-11: nobody at level 0 answers, yet the call never flows to level 1.
    let mut h = H::new(group(RingStrategy::RoundRobin, &[(1, 0), (2, 1)]), &[1, 2]);
    h.arrive(1);
    assert_eq!(h.rings(), vec![(1, 1)]);
    for t in 1..=5 {
        h.advance(t * 20_000);
        assert_eq!(h.rings(), vec![(1, 1)], "round {t}");
    }
    // When level 0 is busy, level 1 is the lowest level with someone free.
    h.answer(1, 1);
    h.cmds();
    h.arrive(2);
    assert_eq!(h.rings(), vec![(2, 2)]);
}

#[test]
fn longest_idle_and_shortest_talk() {
    for (strategy, expected) in [
        (RingStrategy::LongestIdle, 3),
        (RingStrategy::ShortestTalk, 2),
    ] {
        let mut h = H::new(group(strategy, &[(1, 0), (2, 0), (3, 0)]), &[1, 2, 3]);
        // Agent 3 talks 10 s first; agent 1 10 s; agent 2 only 1 s but last.
        for (call, agent, talk) in [(1, 3, 10_000), (2, 1, 10_000), (3, 2, 1_000)] {
            h.acd.handle_set_readiness(
                h.now,
                1,
                None,
                Readiness::Paused(Pause::Manual),
                ChangedBy::Agent,
            );
            h.acd.handle_set_readiness(
                h.now,
                2,
                None,
                Readiness::Paused(Pause::Manual),
                ChangedBy::Agent,
            );
            h.acd.handle_set_readiness(
                h.now,
                3,
                None,
                Readiness::Paused(Pause::Manual),
                ChangedBy::Agent,
            );
            h.acd
                .handle_set_readiness(h.now, agent, None, Readiness::Available, ChangedBy::Agent);
            h.arrive(call);
            h.answer(call, agent);
            h.now += talk;
            h.end(call);
            h.now += 1_000;
        }
        for a in 1..=3 {
            h.acd
                .handle_set_readiness(h.now, a, None, Readiness::Available, ChangedBy::Agent);
        }
        h.cmds();
        h.arrive(10);
        assert_eq!(h.rings(), vec![(10, expected)], "{strategy}");
    }
}

#[test]
fn round_robin_takes_turns_and_skips_busy_members() {
    let mut h = H::new(
        group(RingStrategy::RoundRobin, &[(1, 0), (2, 0), (3, 0)]),
        &[1, 2, 3],
    );
    let mut order = Vec::new();
    for call in 1..=6 {
        h.arrive(call);
        let r = h.rings();
        order.push(r[0].1);
        h.answer(call, r[0].1);
        h.end(call);
        h.cmds();
    }
    assert_eq!(order, vec![1, 2, 3, 1, 2, 3]);
    h.acd.handle_set_readiness(
        h.now,
        2,
        Some(1),
        Readiness::Paused(Pause::Custom(5)),
        ChangedBy::Agent,
    );
    h.arrive(7);
    assert_eq!(h.rings(), vec![(7, 1)]);
    h.answer(7, 1);
    h.end(7);
    h.cmds();
    h.arrive(8);
    assert_eq!(h.rings(), vec![(8, 3)], "2 is paused");
}

#[test]
fn random_is_seeded_and_fair() {
    let mut counts = [0; 4];
    let mut h = H::new(
        group(RingStrategy::Random, &[(1, 0), (2, 0), (3, 0), (9, 1)]),
        &[1, 2, 3, 9],
    );
    for call in 0..300 {
        h.arrive(call);
        let (_, agent) = h.rings()[0];
        assert_ne!(agent, 9, "only the lowest level");
        counts[agent as usize] += 1;
        h.answer(call, agent);
        h.end(call);
        h.cmds();
    }
    assert!(
        counts[1..].iter().all(|n| (70..=130).contains(n)),
        "{counts:?}"
    );
}

#[test]
fn level_ratio_distributes_by_weight() {
    let mut h = H::new(group(RingStrategy::LevelRatio, &[(1, 3), (2, 1)]), &[1, 2]);
    let mut counts = [0; 3];
    for call in 0..400 {
        h.arrive(call);
        let (_, agent) = h.rings()[0];
        counts[agent as usize] += 1;
        h.answer(call, agent);
        h.end(call);
        h.cmds();
    }
    assert_eq!((counts[1], counts[2]), (300, 100));
}

#[test]
fn an_agent_is_never_offered_two_calls_and_calls_wait_in_order() {
    let mut h = H::new(group(RingStrategy::RingAll, &[(1, 0)]), &[1]);
    h.arrive(1);
    h.now = 10;
    h.arrive(2);
    assert_eq!(h.rings(), vec![(1, 1)]);
    assert_eq!(h.acd.waiting(1).len(), 2);
    h.answer(1, 1);
    h.now = 5_000;
    h.end(1);
    assert_eq!(h.rings(), vec![(2, 1)], "the oldest waiting call next");
}

#[test]
fn max_answering_limits_connected_calls() {
    let mut g = group(RingStrategy::RingAll, &[(1, 0), (2, 0)]);
    g.max_answering = 1;
    let mut h = H::new(g, &[1, 2]);
    h.arrive(1);
    h.rings();
    h.answer(1, 1);
    h.cmds();
    h.arrive(2);
    assert!(
        h.rings().is_empty(),
        "agent 2 is free but the group may answer only one call"
    );
    h.end(1);
    assert_eq!(h.rings(), vec![(2, 1), (2, 2)]);
}

#[test]
fn overflow_when_the_queue_is_full_and_busy_without_a_target() {
    let mut g = group(RingStrategy::RingAll, &[(1, 0)]);
    g.max_waiting = 1;
    g.overflow = target(7);
    let mut h = H::new(g, &[1]);
    h.arrive(1);
    h.rings();
    h.answer(1, 1);
    h.cmds();
    h.arrive(2);
    assert!(
        h.cmds()
            .iter()
            .all(|c| !matches!(c, Command::Divert { .. })),
        "one may wait"
    );
    h.arrive(3);
    assert_eq!(
        h.cmds(),
        vec![Command::Divert {
            call: 3,
            target: target(7)
        }]
    );
    assert!(h
        .events()
        .iter()
        .any(|e| matches!(e, QueueEvent::Overflowed { call: 3, .. })));

    let mut g = group(RingStrategy::RingAll, &[(1, 0)]);
    g.max_waiting = 0;
    let mut h = H::new(g, &[1]);
    h.arrive(1);
    assert_eq!(
        h.rings(),
        vec![(1, 1)],
        "max waiting 0 still takes calls for free agents"
    );
    h.arrive(2);
    assert_eq!(
        h.cmds(),
        vec![Command::Divert {
            call: 2,
            target: None
        }],
        "busy"
    );
}

#[test]
fn timeout_diverts_or_ends_the_call() {
    let mut g = group(RingStrategy::RingAll, &[(1, 0)]);
    g.timeout_ms = Some(60_000);
    g.timeout_target = target(9);
    let mut h = H::new(g, &[1]);
    h.acd.handle_set_readiness(
        0,
        1,
        None,
        Readiness::Paused(Pause::Manual),
        ChangedBy::Agent,
    );
    h.arrive(1);
    h.cmds();
    h.advance(59_999);
    assert!(h.cmds().is_empty());
    h.advance(60_000);
    assert_eq!(
        h.cmds(),
        vec![Command::Divert {
            call: 1,
            target: target(9)
        }]
    );
    assert!(h.events().contains(&QueueEvent::TimedOut {
        call: 1,
        group: 1,
        wait_ms: 60_000,
        at: 60_000
    }));
}

#[test]
fn queue_start_delay_rings_first_and_queues_after() {
    let mut g = group(RingStrategy::RingAll, &[(1, 0)]);
    g.queue_start_delay_ms = 10_000;
    let mut h = H::new(g, &[1]);
    h.arrive(1);
    let c = h.cmds();
    assert!(
        c.contains(&Command::Ring { call: 1, agent: 1 })
            && !c.contains(&Command::StartWaiting { call: 1 })
    );
    h.advance(10_000);
    assert_eq!(h.cmds(), vec![Command::StartWaiting { call: 1 }]);
    // Without a delay the caller waits at once.
    let mut h = H::new(group(RingStrategy::RingAll, &[(1, 0)]), &[1]);
    h.arrive(1);
    assert_eq!(h.cmds()[0], Command::StartWaiting { call: 1 });
}

#[test]
fn no_answer_pauses_the_agent_and_releases_after_the_set_time() {
    let mut g = group(RingStrategy::RoundRobin, &[(1, 0), (2, 0)]);
    g.no_answer_pause = true;
    g.no_answer_pause_ms = 30_000;
    let mut h = H::new(g, &[1, 2]);
    h.arrive(1);
    assert_eq!(h.rings(), vec![(1, 1)]);
    h.advance(20_000);
    assert_eq!(h.acd.status(1, 1), AgentStatus::Paused(Pause::NoAnswer));
    assert_eq!(h.rings(), vec![(1, 2)], "the call moves on");
    h.advance(50_000);
    // Released 30 s after the pause — and at once offered the call that is still waiting.
    assert_eq!(h.acd.status(1, 1), AgentStatus::Ringing);
    let ev = h.events();
    assert!(ev.iter().any(|e| matches!(
        e,
        QueueEvent::AgentStatus {
            agent: 1,
            readiness: Readiness::Paused(Pause::NoAnswer),
            by: ChangedBy::System,
            ..
        }
    )));
    assert!(ev.iter().any(|e| matches!(
        e,
        QueueEvent::AgentStatus {
            agent: 1,
            readiness: Readiness::Available,
            by: ChangedBy::System,
            at: 50_000,
            ..
        }
    )));
    // 0 = never released.
    let mut g = group(RingStrategy::RoundRobin, &[(1, 0)]);
    g.no_answer_pause = true;
    let mut h = H::new(g, &[1]);
    h.arrive(1);
    h.advance(20_000);
    h.advance(10_000_000);
    assert_eq!(h.acd.status(1, 1), AgentStatus::Paused(Pause::NoAnswer));
}

#[test]
fn acw_after_the_call_in_every_group_then_released() {
    let mut g = group(RingStrategy::RingAll, &[(1, 0)]);
    g.acw = Some((77, 15_000));
    let mut h = H::new(g, &[1]);
    let mut other = GroupConfig::new(2, vec![(1, 0)]);
    other.ring_ms = 10_000;
    h.acd.configure_group(0, other);
    h.arrive(1);
    h.rings();
    h.answer(1, 1);
    h.now = 60_000;
    h.end(1);
    assert_eq!(h.acd.status(1, 1), AgentStatus::Paused(Pause::Acw(77)));
    assert_eq!(
        h.acd.status(1, 2),
        AgentStatus::Paused(Pause::Acw(77)),
        "ACW is agent-wide"
    );
    h.acd.handle_call_arrived(h.now, 2, 2);
    assert!(h.rings().is_empty(), "no calls during ACW");
    h.advance(75_000);
    assert_eq!(
        h.rings(),
        vec![(2, 1)],
        "released after 15 s and offered the waiting call"
    );
}

#[test]
fn acw_never_replaces_a_pause_the_agent_chose_in_another_group() {
    let mut g = group(RingStrategy::RingAll, &[(1, 0)]);
    g.acw = Some((77, 15_000));
    let mut h = H::new(g, &[1]);
    h.acd.configure_group(0, GroupConfig::new(2, vec![(1, 0)]));
    h.acd.handle_set_readiness(
        0,
        1,
        Some(2),
        Readiness::Paused(Pause::Custom(5)),
        ChangedBy::Agent,
    );
    h.events();
    h.arrive(1);
    h.rings();
    h.answer(1, 1);
    h.now = 60_000;
    h.end(1);
    assert_eq!(h.acd.status(1, 1), AgentStatus::Paused(Pause::Acw(77)));
    assert_eq!(
        h.acd.status(1, 2),
        AgentStatus::Paused(Pause::Custom(5)),
        "the break chosen in group 2 stays"
    );
    let statuses: Vec<(Option<i64>, Readiness)> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            QueueEvent::AgentStatus {
                group, readiness, ..
            } => Some((group, readiness)),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        vec![(Some(1), Readiness::Paused(Pause::Acw(77)))],
        "one status event, for the group whose status changed"
    );
    h.advance(75_000);
    assert_eq!(h.acd.status(1, 1), AgentStatus::Available);
    assert_eq!(
        h.acd.status(1, 2),
        AgentStatus::Paused(Pause::Custom(5)),
        "the end of ACW does not make the agent available where they were on a break"
    );
}

#[test]
fn simultaneous_answers_and_caller_hangup_while_ringing() {
    let mut h = H::new(group(RingStrategy::RingAll, &[(1, 0), (2, 0)]), &[1, 2]);
    h.arrive(1);
    h.rings();
    h.answer(1, 1);
    h.answer(1, 2);
    let c = h.cmds();
    assert!(c.contains(&Command::Connect { call: 1, agent: 1 }));
    assert_eq!(
        c.iter()
            .filter(|x| matches!(x, Command::Connect { .. }))
            .count(),
        1
    );
    assert!(c.contains(&Command::StopRinging { call: 1, agent: 2 }));

    let mut h = H::new(group(RingStrategy::RingAll, &[(1, 0), (2, 0)]), &[1, 2]);
    h.arrive(1);
    h.rings();
    h.now = 7_000;
    h.acd.handle_caller_hangup(h.now, 1);
    assert_eq!(
        h.cmds(),
        vec![
            Command::StopRinging { call: 1, agent: 1 },
            Command::StopRinging { call: 1, agent: 2 }
        ]
    );
    assert!(h.events().contains(&QueueEvent::Abandoned {
        call: 1,
        group: 1,
        wait_ms: 7_000,
        at: 7_000
    }));
    assert_eq!(h.acd.status(1, 1), AgentStatus::Available);
}

#[test]
fn offline_agents_are_not_rung_until_they_register() {
    let mut h = H::new(group(RingStrategy::RingAll, &[(1, 0)]), &[]);
    h.arrive(1);
    assert!(h.rings().is_empty());
    assert_eq!(h.acd.status(1, 1), AgentStatus::Offline);
    h.acd.handle_agent_online(h.now, 1, true);
    assert_eq!(h.rings(), vec![(1, 1)]);
    // Unregistering while ringing stops the ring.
    h.acd.handle_agent_online(h.now, 1, false);
    assert_eq!(h.cmds(), vec![Command::StopRinging { call: 1, agent: 1 }]);
}

#[test]
fn white_tag_changes_every_group_and_group_tags_one() {
    let mut h = H::new(group(RingStrategy::RingAll, &[(1, 0)]), &[1]);
    h.acd.configure_group(0, GroupConfig::new(2, vec![(1, 0)]));
    h.acd.handle_set_readiness(
        0,
        1,
        None,
        Readiness::Paused(Pause::Custom(3)),
        ChangedBy::Supervisor(99),
    );
    assert_eq!(
        (h.acd.status(1, 1), h.acd.status(1, 2)),
        (
            AgentStatus::Paused(Pause::Custom(3)),
            AgentStatus::Paused(Pause::Custom(3))
        )
    );
    h.acd
        .handle_set_readiness(0, 1, Some(2), Readiness::Available, ChangedBy::Agent);
    assert_eq!(
        (h.acd.status(1, 1), h.acd.status(1, 2)),
        (
            AgentStatus::Paused(Pause::Custom(3)),
            AgentStatus::Available
        )
    );
    assert!(h.events().iter().any(|e| matches!(
        e,
        QueueEvent::AgentStatus {
            agent: 1,
            group: None,
            by: ChangedBy::Supervisor(99),
            ..
        }
    )));
}

/// STATUS-08: after a restart, statuses read back from the log come back with their releases;
/// a pause whose release passed while the server was down does not.
#[test]
fn restored_pauses_keep_their_release_and_expired_ones_are_dropped() {
    let mut g = group(RingStrategy::RingAll, &[(10, 0), (11, 0), (12, 0)]);
    g.acw = Some((7, 60_000));
    let mut h = H::new(g, &[10, 11, 12]);
    h.now = 100_000;
    // 10 chose 休憩 (custom 3) long ago: no release, restored.
    h.acd
        .restore_readiness(h.now, 10, None, Readiness::Paused(Pause::Custom(3)), 1_000);
    // 11 went into ACW 50 s ago (60 s ACW): restored, released 10 s from now.
    h.acd
        .restore_readiness(h.now, 11, None, Readiness::Paused(Pause::Acw(7)), 50_000);
    // 12's ACW started 70 s ago: already over.
    h.acd
        .restore_readiness(h.now, 12, None, Readiness::Paused(Pause::Acw(7)), 30_000);
    assert!(h.events().is_empty(), "restoring is not a new change");
    assert_eq!(h.acd.status(10, 1), AgentStatus::Paused(Pause::Custom(3)));
    assert_eq!(h.acd.status(11, 1), AgentStatus::Paused(Pause::Acw(7)));
    assert_eq!(h.acd.status(12, 1), AgentStatus::Available);
    h.arrive(1);
    assert_eq!(h.rings(), vec![(1, 12)], "only the available agent rings");
    h.advance(110_000);
    assert_eq!(
        h.acd.status(11, 1),
        AgentStatus::Ringing,
        "ACW released on time, and the waiting call rings 11 too"
    );
}

/// GROUP-24: a caller who hears the greeting is offered to agents only when it has played, but
/// waits (and times out) from arrival.
#[test]
fn a_greeted_call_is_offered_after_the_greeting() {
    let mut g = group(RingStrategy::RingAll, &[(10, 0)]);
    g.timeout_ms = Some(20_000);
    let mut h = H::new(g, &[10]);
    h.acd.handle_call_arrived_after(0, 1, 1, 5_000);
    assert!(h.rings().is_empty(), "nobody rings during the greeting");
    assert_eq!(h.acd.waiting(1), vec![(1, 0)], "but the call is waiting");
    assert_eq!(h.acd.poll_timeout(), Some(5_000));
    h.advance(5_000);
    assert_eq!(
        h.rings(),
        vec![(1, 10)],
        "the agent rings when the greeting ends"
    );
    // Held calls do not spin the clock once released.
    assert_ne!(h.acd.poll_timeout(), Some(5_000));
}

/// An agent on a call outside the queues (direct, internal, outbound) is not offered a queue
/// call until it ends.
#[test]
fn an_agent_on_a_direct_call_is_passed_by() {
    let mut h = H::new(group(RingStrategy::RingAll, &[(10, 0), (11, 0)]), &[10, 11]);
    h.acd.handle_direct_call(0, 10, true);
    assert_eq!(h.acd.status(10, 1), AgentStatus::OnCall);
    h.arrive(1);
    assert_eq!(h.rings(), vec![(1, 11)], "10 is on another call");
    h.answer(1, 11);
    h.arrive(2);
    assert!(h.rings().is_empty(), "nobody free");
    h.acd.handle_direct_call(100, 10, false);
    assert_eq!(
        h.rings(),
        vec![(2, 10)],
        "10 takes the waiting call once free"
    );
}
