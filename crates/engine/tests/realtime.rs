//! The realtime projection (RT) driven by a real ACD on a virtual clock: exact columns after
//! every step, the chart buckets, the day roll, and (property) a recount from the event log and
//! a rebuild from the serialized log giving the same output.

use engine::acd::{Acd, CallId, Command, GroupConfig, QueueEvent};
use engine::agent_state::{AgentStatus, ChangedBy, GroupId, Pause, Readiness};
use engine::realtime::{AgentRow, Bucket, GroupRow, Input, Projection, StatusCount, WaitingCall};
use engine::RingStrategy;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const SEC: u64 = 1_000;
const MIN: u64 = 60_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 86_400_000;
/// 2023-11-14 00:00 JST (15:00 UTC the day before), in epoch milliseconds.
const D0: u64 = 1_699_887_600_000;

/// An ACD and the projection fed from it, with the input log a restart would replay.
struct H {
    acd: Acd,
    proj: Projection,
    log: Vec<Input>,
    day_start: u64,
    now: u64,
    groups: BTreeSet<GroupId>,
    /// Who rings for which call, as the SIP edge knows it from the commands.
    ringing: HashMap<i64, CallId>,
}

impl H {
    fn new(day_start: u64) -> H {
        H {
            acd: Acd::new(42),
            proj: Projection::new(day_start),
            log: Vec::new(),
            day_start,
            now: day_start,
            groups: BTreeSet::new(),
            ringing: HashMap::new(),
        }
    }

    fn feed(&mut self, i: Input) {
        self.proj.apply(&i);
        self.log.push(i);
    }

    /// Feeds every queued event and checks that the projection mirrors the ACD exactly.
    fn pump(&mut self) {
        while let Some(cmd) = self.acd.poll_command() {
            match cmd {
                Command::Ring { call, agent } => {
                    self.ringing.insert(agent, call);
                }
                Command::StopRinging { call, agent } | Command::Connect { call, agent } => {
                    if self.ringing.get(&agent) == Some(&call) {
                        self.ringing.remove(&agent);
                    }
                }
                Command::Divert { .. } | Command::StartWaiting { .. } => {}
            }
        }
        while let Some(e) = self.acd.poll_event() {
            self.feed(Input::Queue(e));
        }
        self.check_mirror();
    }

    fn check_mirror(&self) {
        for g in &self.groups {
            let d = self.proj.group(*g).expect("configured group");
            for a in &d.agents {
                assert_eq!(
                    a.status,
                    self.acd.status(a.agent, *g),
                    "agent {} group {g}",
                    a.agent
                );
            }
            let waiting: Vec<(CallId, u64)> = d.waiting.iter().map(|w| (w.call, w.since)).collect();
            let mut acd_waiting = self.acd.waiting(*g);
            acd_waiting.sort_unstable_by_key(|(c, t)| (*t, *c));
            assert_eq!(waiting, acd_waiting, "waiting calls of group {g}");
            let r = &d.row;
            assert_eq!(r.agents_online, r.on_call + r.available + r.paused);
            assert!(r.answered + r.abandoned + r.overflow + r.timeout <= r.incoming);
        }
    }

    fn configure(&mut self, cfg: GroupConfig) {
        self.groups.insert(cfg.id);
        self.acd.configure_group(self.now, cfg.clone());
        self.feed(Input::GroupSet {
            group: cfg.id,
            members: cfg.members,
        });
        self.pump();
    }

    fn online(&mut self, agent: i64, online: bool) {
        self.acd.handle_agent_online(self.now, agent, online);
        self.feed(Input::Online {
            agent,
            online,
            at: self.now,
        });
        self.pump();
    }

    fn at(&mut self, t: u64) -> &mut H {
        self.advance(t);
        self
    }

    /// Advances the clock to `t`, firing every timer due on the way.
    fn advance(&mut self, t: u64) {
        while let Some(due) = self.acd.poll_timeout() {
            if due > t {
                break;
            }
            self.now = due.max(self.now);
            self.acd.handle_timeout(self.now);
            self.pump();
        }
        self.now = self.now.max(t);
    }

    fn arrive(&mut self, call: CallId, group: GroupId) {
        self.acd.handle_call_arrived(self.now, call, group);
        self.pump();
    }

    fn answer(&mut self, call: CallId, agent: i64) {
        self.acd.handle_agent_answered(self.now, call, agent);
        self.pump();
    }

    fn fail(&mut self, call: CallId, agent: i64) {
        self.acd.handle_agent_failed(self.now, call, agent);
        self.pump();
    }

    fn hangup(&mut self, call: CallId) {
        self.acd.handle_caller_hangup(self.now, call);
        self.pump();
    }

    fn end(&mut self, call: CallId) {
        self.acd.handle_call_ended(self.now, call);
        self.pump();
    }

    fn readiness(&mut self, agent: i64, group: Option<GroupId>, r: Readiness, by: ChangedBy) {
        self.acd.handle_set_readiness(self.now, agent, group, r, by);
        self.pump();
    }

    fn roll(&mut self, day_start: u64) {
        self.day_start = day_start;
        self.feed(Input::DayRolled {
            day_start_ms: day_start,
        });
    }

    fn row(&self, g: GroupId) -> GroupRow {
        let row = self.proj.group(g).unwrap().row;
        assert!(self.proj.groups().contains(&row));
        row
    }

    fn statuses(&self, g: GroupId) -> Vec<AgentStatus> {
        self.proj
            .group(g)
            .unwrap()
            .agents
            .iter()
            .map(|a| a.status)
            .collect()
    }
}

/// A row from `[incoming, answered, abandoned, overflow, timeout]` and
/// `[online, total, on_call, available, paused, waiting]`.
fn row(g: Option<GroupId>, c: [u64; 5], rate: Option<f64>, a: [usize; 6]) -> GroupRow {
    GroupRow {
        group: g,
        incoming: c[0],
        answered: c[1],
        abandoned: c[2],
        overflow: c[3],
        timeout: c[4],
        answer_rate_pct: rate,
        agents_online: a[0],
        agents_total: a[1],
        on_call: a[2],
        available: a[3],
        paused: a[4],
        waiting: a[5],
    }
}

fn group(id: GroupId, strategy: RingStrategy, members: &[(i64, i64)]) -> GroupConfig {
    let mut g = GroupConfig::new(id, members.to_vec());
    g.strategy = strategy;
    g
}

fn agent(agent: i64, status: AgentStatus, level: i64, last: Option<u64>, today: u64) -> AgentRow {
    AgentRow {
        agent,
        status,
        skill_level: level,
        last_call_ms: last,
        calls_today: today,
    }
}

#[test]
fn answered_and_abandoned_calls_and_the_agent_list() {
    use AgentStatus::*;
    let mut h = H::new(D0);
    h.configure(group(1, RingStrategy::RingAll, &[(1, 0), (2, 0), (3, 1)]));
    h.online(1, true);
    h.online(2, true);
    assert_eq!(h.row(1), row(Some(1), [0; 5], None, [2, 3, 0, 2, 0, 0]));

    // Ringing counts as on call; a call still waiting counts as incoming.
    h.arrive(100, 1);
    assert_eq!(h.statuses(1), vec![Ringing, Ringing, Offline]);
    assert_eq!(
        h.row(1),
        row(Some(1), [1, 0, 0, 0, 0], Some(0.0), [2, 3, 2, 0, 0, 1])
    );
    assert_eq!(
        h.proj.group(1).unwrap().waiting,
        vec![WaitingCall {
            call: 100,
            since: D0
        }]
    );

    h.at(D0 + 3 * SEC).answer(100, 2);
    assert_eq!(h.statuses(1), vec![Available, OnCall, Offline]);
    assert_eq!(
        h.row(1),
        row(Some(1), [1, 1, 0, 0, 0], Some(100.0), [2, 3, 1, 1, 0, 0])
    );

    h.at(D0 + 5 * SEC).arrive(101, 1);
    assert_eq!(h.statuses(1), vec![Ringing, OnCall, Offline]);
    assert_eq!(
        h.row(1),
        row(Some(1), [2, 1, 0, 0, 0], Some(50.0), [2, 3, 2, 0, 0, 1])
    );

    h.at(D0 + 9 * SEC).hangup(101);
    assert_eq!(
        h.row(1),
        row(Some(1), [2, 1, 1, 0, 0], Some(50.0), [2, 3, 1, 1, 0, 0])
    );

    h.at(D0 + 63 * SEC).end(100);
    let d = h.proj.group(1).unwrap();
    assert_eq!(
        d.row,
        row(Some(1), [2, 1, 1, 0, 0], Some(50.0), [2, 3, 0, 2, 0, 0])
    );
    assert_eq!(
        d.agents,
        vec![
            agent(1, Available, 0, None, 0),
            agent(2, Available, 0, Some(60 * SEC), 1),
            agent(3, Offline, 1, None, 0),
        ]
    );
    assert_eq!(
        d.status_counts,
        vec![
            StatusCount {
                status: Available,
                count: 2
            },
            StatusCount {
                status: Offline,
                count: 1
            }
        ]
    );
    // One group: the "All" row is the same numbers.
    assert_eq!(
        h.proj.all_row(),
        row(None, [2, 1, 1, 0, 0], Some(50.0), [2, 3, 0, 2, 0, 0])
    );

    // Skill levels are edited live (RT-11).
    h.configure(group(1, RingStrategy::RingAll, &[(1, 2), (2, 0)]));
    let d = h.proj.group(1).unwrap();
    assert_eq!(d.agents[0].skill_level, 2);
    assert_eq!(
        d.row,
        row(Some(1), [2, 1, 1, 0, 0], Some(50.0), [2, 2, 0, 2, 0, 0])
    );
}

#[test]
fn overflow_and_timeout_while_everyone_is_paused() {
    use AgentStatus::*;
    let mut h = H::new(D0);
    let mut g = group(1, RingStrategy::LongestIdle, &[(1, 0), (2, 0)]);
    g.max_waiting = 1;
    g.timeout_ms = Some(30 * SEC);
    h.configure(g);
    h.online(1, true);
    h.online(2, true);
    h.readiness(
        1,
        Some(1),
        Readiness::Paused(Pause::Manual),
        ChangedBy::Agent,
    );
    h.readiness(
        2,
        None,
        Readiness::Paused(Pause::Custom(5)),
        ChangedBy::Supervisor(9),
    );
    assert_eq!(
        h.statuses(1),
        vec![Paused(Pause::Manual), Paused(Pause::Custom(5))]
    );
    assert_eq!(h.row(1), row(Some(1), [0; 5], None, [2, 2, 0, 0, 2, 0]));

    h.at(D0 + HOUR).arrive(1, 1);
    assert_eq!(
        h.row(1),
        row(Some(1), [1, 0, 0, 0, 0], Some(0.0), [2, 2, 0, 0, 2, 1])
    );
    // The queue is full and nobody is free: overflow, counted as incoming.
    h.at(D0 + HOUR + 10 * SEC).arrive(2, 1);
    assert_eq!(
        h.row(1),
        row(Some(1), [2, 0, 0, 1, 0], Some(0.0), [2, 2, 0, 0, 2, 1])
    );
    h.advance(D0 + HOUR + 30 * SEC);
    assert_eq!(
        h.row(1),
        row(Some(1), [2, 0, 0, 1, 1], Some(0.0), [2, 2, 0, 0, 2, 0])
    );

    // The supervisor releases agent 1; the next call is answered.
    h.readiness(1, None, Readiness::Available, ChangedBy::Supervisor(9));
    h.at(D0 + HOUR + MIN).arrive(3, 1);
    h.at(D0 + HOUR + MIN + 4 * SEC).answer(3, 1);
    assert_eq!(
        h.row(1),
        row(
            Some(1),
            [3, 1, 0, 1, 1],
            Some(100.0 / 3.0),
            [2, 2, 1, 0, 1, 0]
        )
    );
    let counts = h.proj.group(1).unwrap().status_counts;
    assert_eq!(
        counts,
        vec![
            StatusCount {
                status: OnCall,
                count: 1
            },
            StatusCount {
                status: Paused(Pause::Custom(5)),
                count: 1
            }
        ]
    );
    // The outcomes land in the arrival hour.
    let b = h.proj.buckets(1, h.now, 3);
    assert_eq!(
        b.iter().map(|b| b.start).collect::<Vec<_>>(),
        vec![D0 - HOUR, D0, D0 + HOUR]
    );
    assert_eq!(
        b[2],
        Bucket {
            start: D0 + HOUR,
            incoming: 3,
            answered: 1,
            abandoned: 0,
            answer_rate: Some(100.0 / 3.0)
        }
    );
}

#[test]
fn no_answer_pause_sets_one_group_and_acw_every_group() {
    use AgentStatus::*;
    let mut h = H::new(D0);
    let mut g1 = group(1, RingStrategy::RoundRobin, &[(1, 0), (2, 0)]);
    g1.no_answer_pause = true;
    g1.no_answer_pause_ms = 30 * SEC;
    let mut g2 = group(2, RingStrategy::RingAll, &[(1, 0)]);
    g2.acw = Some((77, 15 * SEC));
    h.configure(g1);
    h.configure(g2);
    h.online(1, true);
    h.online(2, true);

    h.arrive(10, 1);
    assert_eq!(h.statuses(1), vec![Ringing, Available]);
    // The phone rings for every group the agent is in.
    assert_eq!(h.row(2), row(Some(2), [0; 5], None, [1, 1, 1, 0, 0, 0]));

    h.advance(D0 + 20 * SEC);
    assert_eq!(h.statuses(1), vec![Paused(Pause::NoAnswer), Ringing]);
    assert_eq!(h.statuses(2), vec![Available]);
    assert_eq!(
        h.row(1),
        row(Some(1), [1, 0, 0, 0, 0], Some(0.0), [2, 2, 1, 0, 1, 1])
    );

    h.at(D0 + 21 * SEC).arrive(11, 2);
    assert_eq!(h.statuses(2), vec![Ringing]);
    assert_eq!(h.statuses(1), vec![Ringing, Ringing]);
    h.at(D0 + 22 * SEC).answer(11, 1);
    h.answer(10, 2);
    assert_eq!(
        h.row(1),
        row(Some(1), [1, 1, 0, 0, 0], Some(100.0), [2, 2, 2, 0, 0, 0])
    );

    // The no-answer pause is released at 50 s while agent 1 talks.
    h.advance(D0 + 82 * SEC);
    h.end(11);
    assert_eq!(h.statuses(1), vec![Paused(Pause::Acw(77)), OnCall]);
    assert_eq!(h.statuses(2), vec![Paused(Pause::Acw(77))]);
    assert_eq!(
        h.row(2),
        row(Some(2), [1, 1, 0, 0, 0], Some(100.0), [1, 1, 0, 0, 1, 0])
    );
    // All: agent 1 paused in every group, agent 2 on a call; both groups' calls.
    assert_eq!(
        h.proj.all_row(),
        row(None, [2, 2, 0, 0, 0], Some(100.0), [2, 2, 1, 0, 1, 0])
    );

    h.advance(D0 + 97 * SEC);
    assert_eq!(h.statuses(1), vec![Available, OnCall]);
    assert_eq!(h.statuses(2), vec![Available]);
    h.at(D0 + 100 * SEC).end(10);
    assert_eq!(
        h.proj.group(1).unwrap().agents,
        vec![
            agent(1, Available, 0, Some(60 * SEC), 1),
            agent(2, Available, 0, Some(78 * SEC), 1),
        ]
    );
    assert_eq!(
        h.proj.all_row(),
        row(None, [2, 2, 0, 0, 0], Some(100.0), [2, 2, 0, 2, 0, 0])
    );
}

#[test]
fn all_row_counts_an_agent_once_and_available_if_free_in_any_group() {
    use AgentStatus::*;
    let mut h = H::new(D0);
    h.configure(group(1, RingStrategy::RingAll, &[(1, 0), (2, 0)]));
    h.configure(group(2, RingStrategy::RingAll, &[(1, 0), (3, 0)]));
    for a in 1..=3 {
        h.online(a, true);
    }
    h.readiness(
        1,
        Some(1),
        Readiness::Paused(Pause::Manual),
        ChangedBy::Agent,
    );
    h.readiness(
        3,
        None,
        Readiness::Paused(Pause::Custom(4)),
        ChangedBy::Agent,
    );
    assert_eq!(h.statuses(1), vec![Paused(Pause::Manual), Available]);
    assert_eq!(h.statuses(2), vec![Available, Paused(Pause::Custom(4))]);
    assert_eq!(
        h.proj.all_row(),
        row(None, [0; 5], None, [3, 3, 0, 2, 1, 0])
    );

    // Offline while ringing: the ACD stops the ring without an event; the projection follows.
    h.arrive(7, 1);
    assert_eq!(h.statuses(1), vec![Paused(Pause::Manual), Ringing]);
    h.online(2, false);
    assert_eq!(h.statuses(1), vec![Paused(Pause::Manual), Offline]);
    assert_eq!(
        h.row(1),
        row(Some(1), [1, 0, 0, 0, 0], Some(0.0), [1, 2, 0, 0, 1, 1])
    );
    assert_eq!(
        h.proj.all_row(),
        row(None, [1, 0, 0, 0, 0], Some(0.0), [2, 3, 0, 1, 1, 1])
    );
    // Paused while offline: back online, not rung, and not still "ringing".
    h.readiness(
        2,
        Some(1),
        Readiness::Paused(Pause::Manual),
        ChangedBy::Agent,
    );
    h.online(2, true);
    assert_eq!(
        h.statuses(1),
        vec![Paused(Pause::Manual), Paused(Pause::Manual)]
    );
    h.readiness(2, Some(1), Readiness::Available, ChangedBy::Agent);
    assert_eq!(h.statuses(1), vec![Paused(Pause::Manual), Ringing]);
    assert_eq!(
        h.proj.all_row(),
        row(None, [1, 0, 0, 0, 0], Some(0.0), [3, 3, 1, 1, 1, 1])
    );

    h.configure(group(2, RingStrategy::RingAll, &[(3, 0)]));
    h.proj.remove_group(2);
    h.groups.remove(&2);
    assert!(h.proj.group(2).is_none());
    assert_eq!(h.proj.groups().len(), 1);
    assert_eq!(
        h.proj.all_row(),
        row(None, [1, 0, 0, 0, 0], Some(0.0), [2, 2, 1, 0, 1, 1])
    );
}

#[test]
fn calls_land_in_their_arrival_windows() {
    let mut h = H::new(D0);
    h.configure(group(1, RingStrategy::RingAll, &[(1, 0)]));
    h.online(1, true);
    let t = |h: u64, m: u64, s: u64| D0 + h * HOUR + m * MIN + s * SEC;
    h.at(t(10, 2, 0)).arrive(1, 1);
    h.at(t(10, 2, 30)).answer(1, 1);
    h.at(t(10, 4, 50)).arrive(2, 1);
    // Abandoned in the next 5 minutes, counted where it arrived.
    h.at(t(10, 5, 20)).hangup(2);
    h.at(t(10, 6, 0)).end(1);
    h.at(t(11, 59, 59)).arrive(3, 1);
    h.at(t(12, 0, 10)).answer(3, 1);
    h.at(t(12, 1, 0)).end(3);

    let now = t(12, 30, 0);
    let b = h.proj.buckets(1, now, 3);
    let bucket = |start, i, a, ab, r| Bucket {
        start,
        incoming: i,
        answered: a,
        abandoned: ab,
        answer_rate: r,
    };
    assert_eq!(
        b,
        vec![
            bucket(t(10, 0, 0), 2, 1, 1, Some(50.0)),
            bucket(t(11, 0, 0), 1, 1, 0, Some(100.0)),
            bucket(t(12, 0, 0), 0, 0, 0, None),
        ]
    );
    for hours in [3, 6, 9, 12, 24] {
        let b = h.proj.buckets(1, now, hours);
        assert_eq!(b.len(), hours as usize);
        assert_eq!(b[0].start, t(12, 0, 0) - (u64::from(hours) - 1) * HOUR);
        assert_eq!(b.iter().map(|b| b.incoming).sum::<u64>(), 3);
    }
    let five = h.proj.five_minute_buckets(1, now, 3);
    assert_eq!(five.len(), 36);
    assert_eq!(five[0].start, t(9, 35, 0));
    let nonzero: Vec<Bucket> = five.into_iter().filter(|b| b.incoming > 0).collect();
    assert_eq!(
        nonzero,
        vec![
            bucket(t(10, 0, 0), 2, 1, 1, Some(50.0)),
            bucket(t(11, 55, 0), 1, 1, 0, Some(100.0)),
        ]
    );
    assert_eq!(h.proj.all_buckets(now, 3), h.proj.buckets(1, now, 3));

    // Hour windows follow the business day's start (a zone at +5:30 starts days at :30).
    let mut p = Projection::new(D0 + 30 * MIN);
    p.set_group(1, vec![(1, 0)]);
    p.apply_queue_event(&QueueEvent::Overflowed {
        call: 1,
        group: 1,
        at: t(10, 45, 0),
    });
    let b = p.buckets(1, t(11, 0, 0), 3);
    assert_eq!(
        b.iter().map(|b| (b.start, b.incoming)).collect::<Vec<_>>(),
        vec![(t(8, 30, 0), 0), (t(9, 30, 0), 0), (t(10, 30, 0), 1)]
    );
}

#[test]
fn data_older_than_a_day_is_dropped() {
    let mut h = H::new(D0);
    h.configure(group(1, RingStrategy::RingAll, &[(1, 0)]));
    h.online(1, true);
    h.at(D0 + HOUR + 2 * MIN).arrive(1, 1);
    h.answer(1, 1);
    h.at(D0 + HOUR + 3 * MIN).end(1);
    let seen = |h: &H| {
        h.proj
            .buckets(1, D0 + HOUR + 30 * MIN, 3)
            .iter()
            .map(|b| b.answered)
            .sum::<u64>()
    };
    assert_eq!(seen(&h), 1);
    // Just under 24 h after the bucket ended: still there.
    h.at(D0 + HOUR + 5 * MIN + DAY - 1).arrive(2, 1);
    assert_eq!(seen(&h), 1);
    h.at(D0 + HOUR + 5 * MIN + DAY).hangup(2);
    assert_eq!(seen(&h), 0);
    // The day counters are not the chart: they stay until the day rolls.
    assert_eq!(h.row(1).answered, 1);
    let b = h.proj.buckets(1, h.now, 24);
    assert_eq!(b.iter().map(|b| b.incoming).sum::<u64>(), 1);
    assert_eq!(b.iter().map(|b| b.abandoned).sum::<u64>(), 1);
}

#[test]
fn the_day_roll_resets_counters_and_a_rebuild_gives_the_same_numbers() {
    use AgentStatus::*;
    let d1 = D0 + DAY;
    let mut h = H::new(D0);
    h.configure(group(1, RingStrategy::RingAll, &[(1, 0), (2, 0)]));
    h.online(1, true);
    h.at(D0 + 9 * HOUR).arrive(1, 1);
    h.at(D0 + 9 * HOUR + 5 * SEC).answer(1, 1);
    h.at(D0 + 9 * HOUR + 65 * SEC).end(1);
    h.at(D0 + 10 * HOUR).arrive(2, 1);
    h.at(D0 + 10 * HOUR + 5 * SEC).hangup(2);
    // A call arriving before midnight, still waiting when the day rolls.
    h.at(d1 - 2 * MIN).arrive(3, 1);
    h.advance(d1 - 1);
    assert_eq!(
        h.row(1),
        row(
            Some(1),
            [3, 1, 1, 0, 0],
            Some(100.0 / 3.0),
            [1, 2, 1, 0, 0, 1]
        )
    );

    h.roll(d1);
    let d = h.proj.group(1).unwrap();
    assert_eq!(d.row, row(Some(1), [0; 5], None, [1, 2, 1, 0, 0, 1]));
    assert_eq!(d.agents[0], agent(1, Ringing, 0, Some(60 * SEC), 0));

    // Answered today but arrived yesterday: the agent's call today, not today's answered call.
    h.at(d1 + 30 * SEC).answer(3, 1);
    assert_eq!(h.row(1), row(Some(1), [0; 5], None, [1, 2, 1, 0, 0, 0]));
    h.at(d1 + MIN).end(3);
    h.online(2, true);
    h.at(d1 + HOUR).arrive(4, 1);
    h.at(d1 + HOUR + 3 * SEC).answer(4, 2);
    h.at(d1 + HOUR + 33 * SEC).end(4);
    let live = h.proj.group(1).unwrap();
    assert_eq!(
        live.row,
        row(Some(1), [1, 1, 0, 0, 0], Some(100.0), [2, 2, 0, 2, 0, 0])
    );
    assert_eq!(
        live.agents,
        vec![
            agent(1, Available, 0, Some(30 * SEC), 1),
            agent(2, Available, 0, Some(30 * SEC), 1),
        ]
    );
    // The chart keeps yesterday's calls for 24 h.
    let chart = h.proj.buckets(1, h.now, 24);
    assert_eq!(chart.iter().map(|b| b.incoming).sum::<u64>(), 4);

    // Restart today: the whole log, yesterday included, into a fresh projection.
    let log: Vec<Input> = h
        .log
        .iter()
        .filter(|i| !matches!(i, Input::DayRolled { .. }))
        .cloned()
        .collect();
    let rebuilt = Projection::replay(d1, &log);
    assert_eq!(rebuilt.group(1), Some(live));
    assert_eq!(rebuilt.groups(), h.proj.groups());
    assert_eq!(rebuilt.all_row(), h.proj.all_row());
    assert_eq!(rebuilt.buckets(1, h.now, 24), chart);
}

#[test]
fn outputs_serialize_in_snake_case() {
    let mut h = H::new(D0);
    h.configure(group(1, RingStrategy::RingAll, &[(1, 3)]));
    h.online(1, true);
    h.arrive(1, 1);
    let v = serde_json::to_value(h.proj.group(1).unwrap()).unwrap();
    assert_eq!(v["row"]["answer_rate_pct"], 0.0);
    assert_eq!(v["row"]["agents_online"], 1);
    assert_eq!(v["row"]["on_call"], 1);
    assert_eq!(v["waiting"][0]["since"], D0);
    assert_eq!(v["agents"][0]["status"]["status"], "ringing");
    assert_eq!(v["agents"][0]["skill_level"], 3);
    assert_eq!(v["agents"][0]["last_call_ms"], serde_json::Value::Null);
    assert_eq!(v["status_counts"][0]["count"], 1);
    let all = serde_json::to_value(h.proj.all_row()).unwrap();
    assert_eq!(all["group"], serde_json::Value::Null);
    let input = serde_json::to_value(&h.log[0]).unwrap();
    assert_eq!(input["input"], "group_set");
}

// ---- Random traffic ------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Arrive(u8),
    Answer(u8),
    Fail(u8),
    CallerHangup(u8),
    EndCall(u8),
    Pause(u8, Option<u8>, u8),
    Available(u8, Option<u8>),
    Online(u8, bool),
    Wait(u16),
    /// Hours pass (the 24 h chart prunes).
    Jump(u8),
    /// The business day starts now.
    Roll,
    /// Members and levels change live.
    Reconfigure(u8, Vec<Option<i64>>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2u8).prop_map(Op::Arrive),
        3 => (0..6u8).prop_map(Op::Answer),
        1 => (0..6u8).prop_map(Op::Fail),
        2 => (0..40u8).prop_map(Op::CallerHangup),
        2 => (0..40u8).prop_map(Op::EndCall),
        1 => (0..6u8, proptest::option::of(0..2u8), 0..3u8).prop_map(|(a, g, k)| Op::Pause(a, g, k)),
        1 => (0..6u8, proptest::option::of(0..2u8)).prop_map(|(a, g)| Op::Available(a, g)),
        1 => (0..6u8, any::<bool>()).prop_map(|(a, o)| Op::Online(a, o)),
        3 => (0..30_000u16).prop_map(Op::Wait),
        1 => (1..15u8).prop_map(Op::Jump),
        1 => Just(Op::Roll),
        1 => (0..2u8, proptest::collection::vec(proptest::option::of(0..3i64), 6))
            .prop_map(|(g, m)| Op::Reconfigure(g, m)),
    ]
}

fn strategy() -> impl Strategy<Value = RingStrategy> {
    prop_oneof![
        Just(RingStrategy::RingAll),
        Just(RingStrategy::LongestIdle),
        Just(RingStrategy::RoundRobin),
        Just(RingStrategy::LevelRatio),
    ]
}

/// What the rows must say, recounted from the event list by the definitions.
/// Per group `[incoming, answered, abandoned, overflow, timeout]`; per agent (calls today, last
/// call).
type Recount = (
    BTreeMap<GroupId, [u64; 5]>,
    HashMap<i64, (u64, Option<u64>)>,
);

fn recount(events: &[QueueEvent], day_start: u64) -> Recount {
    let mut groups: BTreeMap<GroupId, [u64; 5]> = BTreeMap::new();
    let mut agents: HashMap<i64, (u64, Option<u64>)> = HashMap::new();
    for e in events {
        let (group, arrival, i) = match *e {
            QueueEvent::Entered { group, at, .. } => (group, at, 0),
            QueueEvent::Overflowed { group, at, .. } => {
                if at >= day_start {
                    groups.entry(group).or_default()[0] += 1;
                }
                (group, at, 3)
            }
            QueueEvent::Answered {
                group,
                agent,
                wait_ms,
                at,
                ..
            } => {
                if at >= day_start {
                    agents.entry(agent).or_default().0 += 1;
                }
                (group, at - wait_ms, 1)
            }
            QueueEvent::Abandoned {
                group, wait_ms, at, ..
            } => (group, at - wait_ms, 2),
            QueueEvent::TimedOut {
                group, wait_ms, at, ..
            } => (group, at - wait_ms, 4),
            QueueEvent::Completed { agent, talk_ms, .. } => {
                agents.entry(agent).or_default().1 = Some(talk_ms);
                continue;
            }
            _ => continue,
        };
        if arrival >= day_start {
            groups.entry(group).or_default()[i] += 1;
        }
    }
    (groups, agents)
}

/// The chart recounted: calls whose arrival's 5-minute slot starts in each window.
fn recount_window(events: &[QueueEvent], group: GroupId, start: u64, width: u64) -> [u64; 3] {
    let mut c = [0u64; 3];
    let inside = |arrival: u64| {
        let slot = arrival - arrival % 300_000;
        slot >= start && slot < start + width
    };
    for e in events {
        match *e {
            QueueEvent::Entered { group: g, at, .. }
            | QueueEvent::Overflowed { group: g, at, .. }
                if g == group && inside(at) =>
            {
                c[0] += 1
            }
            QueueEvent::Answered {
                group: g,
                wait_ms,
                at,
                ..
            } if g == group && inside(at - wait_ms) => c[1] += 1,
            QueueEvent::Abandoned {
                group: g,
                wait_ms,
                at,
                ..
            } if g == group && inside(at - wait_ms) => c[2] += 1,
            _ => {}
        }
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn projection_matches_a_recount_and_a_replay(
        strategy in strategy(),
        levels in proptest::collection::vec(0..3i64, 6),
        ops in proptest::collection::vec(op(), 1..150),
        max_waiting in 0..4usize,
        delay in 0..2u64,
        pause in any::<bool>(),
    ) {
        let config = |gid: GroupId, members: Vec<(i64, i64)>| {
            let mut g = GroupConfig::new(gid, members);
            g.strategy = strategy;
            g.max_waiting = max_waiting;
            g.queue_start_delay_ms = delay * 5_000;
            g.no_answer_pause = pause;
            g.no_answer_pause_ms = 40_000;
            g.acw = (gid == 1).then_some((9, 10_000));
            g.timeout_ms = Some(120_000);
            g
        };
        let start = D0 + 8 * HOUR;
        let mut h = H::new(start);
        for gid in 0..2 {
            let m = (0..6i64).filter(|a| (a + gid) % 3 != 0).map(|a| (a, levels[a as usize])).collect();
            h.configure(config(gid, m));
        }
        for a in 0..6 { h.online(a, true); }
        let mut calls: Vec<u64> = Vec::new();
        for op in ops {
            match op {
                Op::Arrive(g) => {
                    let c = calls.len() as u64;
                    calls.push(c);
                    h.arrive(c, g as i64);
                }
                Op::Answer(a) => if let Some(c) = h.ringing.get(&(a as i64)).copied() { h.answer(c, a as i64) },
                Op::Fail(a) => if let Some(c) = h.ringing.get(&(a as i64)).copied() { h.fail(c, a as i64) },
                Op::CallerHangup(i) => if let Some(c) = calls.get(i as usize).copied() { h.hangup(c) },
                Op::EndCall(i) => if let Some(c) = calls.get(i as usize).copied() { h.end(c) },
                Op::Pause(a, g, k) => {
                    let p = [Pause::Manual, Pause::Custom(3), Pause::Acw(9)][k as usize];
                    h.readiness(a as i64, g.map(i64::from), Readiness::Paused(p), ChangedBy::Agent);
                }
                Op::Available(a, g) => h.readiness(a as i64, g.map(i64::from), Readiness::Available, ChangedBy::Supervisor(99)),
                Op::Online(a, o) => h.online(a as i64, o),
                Op::Wait(ms) => { let t = h.now + ms as u64; h.advance(t) }
                Op::Jump(hours) => { let t = h.now + hours as u64 * HOUR; h.advance(t) }
                // On time: nothing of the new day has been fed yet.
                Op::Roll => { let d = h.now + 1; h.roll(d) }
                Op::Reconfigure(g, levels) => {
                    let m = (0..6i64).filter_map(|a| levels[a as usize].map(|l| (a, l))).collect();
                    h.configure(config(g as i64, m));
                }
            }
        }

        // The counters are a recount of the event list.
        let events: Vec<QueueEvent> = h.log.iter().filter_map(|i| match i { Input::Queue(e) => Some(e.clone()), _ => None }).collect();
        let (counts, agents) = recount(&events, h.day_start);
        let mut total = [0u64; 5];
        for r in h.proj.groups() {
            let g = r.group.unwrap();
            let c = counts.get(&g).copied().unwrap_or_default();
            prop_assert_eq!([r.incoming, r.answered, r.abandoned, r.overflow, r.timeout], c, "group {}", g);
            let rate = (c[0] > 0).then(|| c[1] as f64 * 100.0 / c[0] as f64);
            prop_assert_eq!(r.answer_rate_pct, rate);
            for (t, x) in total.iter_mut().zip(c) { *t += x; }
            let d = h.proj.group(g).unwrap();
            for a in &d.agents {
                let (today, last) = agents.get(&a.agent).copied().unwrap_or_default();
                prop_assert_eq!((a.calls_today, a.last_call_ms), (today, last), "agent {}", a.agent);
            }
            prop_assert_eq!(d.status_counts.iter().map(|s| s.count).sum::<usize>(), r.agents_total);
            // The chart is a recount too, per hour and per 5 minutes.
            for (b, width) in h.proj.buckets(g, h.now, 24).into_iter().map(|b| (b, HOUR))
                .chain(h.proj.five_minute_buckets(g, h.now, 24).into_iter().map(|b| (b, 300_000)))
            {
                prop_assert!(b.start + DAY > h.now);
                prop_assert_eq!([b.incoming, b.answered, b.abandoned], recount_window(&events, g, b.start, width));
            }
        }
        let all = h.proj.all_row();
        prop_assert_eq!([all.incoming, all.answered, all.abandoned, all.overflow, all.timeout], total);

        // A restart: the log as JSON lines, read back into a fresh projection.
        let jsonl: String = h.log.iter().map(|i| serde_json::to_string(i).unwrap() + "\n").collect();
        let log: Vec<Input> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        prop_assert_eq!(&log, &h.log);
        let rebuilt = Projection::replay(start, &log);
        prop_assert_eq!(rebuilt.groups(), h.proj.groups());
        prop_assert_eq!(rebuilt.all_row(), h.proj.all_row());
        for g in 0..2 {
            prop_assert_eq!(rebuilt.group(g), h.proj.group(g));
            for hours in [3, 24] {
                prop_assert_eq!(rebuilt.buckets(g, h.now, hours), h.proj.buckets(g, h.now, hours));
                prop_assert_eq!(rebuilt.five_minute_buckets(g, h.now, hours), h.proj.five_minute_buckets(g, h.now, hours));
            }
            for a in 0..6 {
                prop_assert_eq!(rebuilt.status(a, g), h.proj.status(a, g));
            }
        }
        prop_assert_eq!(rebuilt.all_buckets(h.now, 24), h.proj.all_buckets(h.now, 24));
    }
}
