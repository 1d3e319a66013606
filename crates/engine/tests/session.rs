//! The call session's rules, one table of steps per rule, on a virtual clock: what goes in
//! (`handle_*` at a time) and exactly which commands come out.

use engine::session::{
    AcdOrder, AcdRequest, Audio, Command, Direction, Divert, EndCause, GroupAudio, LegFailure,
    Reinvite, Reject, Route, Session, Side, Start, DIVERT_RING_MS, FORWARD_RING_MS, MAX_DIVERTS,
};
use engine::voicemail::{self, Prompt as VmPrompt};
use proptest::prelude::*;

fn drain(s: &mut Session) -> Vec<Command> {
    std::iter::from_fn(|| s.poll_command()).collect()
}

fn ring(direction: Direction, agents: &[Option<i64>], ring_ms: u64) -> Start {
    Start {
        direction,
        route: Route::Ring {
            contacts: agents.to_vec(),
            ring_ms,
        },
        calling_agent: None,
        caller_g711: true,
        caller_up: false,
    }
}

fn queue(group: i64, audio: GroupAudio, g711: bool) -> Start {
    Start {
        direction: Direction::Inbound,
        route: Route::Queue { group, audio },
        calling_agent: None,
        caller_g711: g711,
        caller_up: false,
    }
}

fn with_prompts() -> GroupAudio {
    GroupAudio {
        greeting: Some((10, 4_000)),
        announcement: Some(11),
        music: Some(12),
        hold: Some(12),
        answer: None,
    }
}

use Command::*;

#[test]
fn ring_all_the_first_answer_wins_and_the_others_stop() {
    let mut s = Session::new(
        0,
        ring(Direction::Inbound, &[Some(1), Some(2), Some(3)], 20_000),
    );
    assert_eq!(
        drain(&mut s),
        vec![Ring { leg: 0 }, Ring { leg: 1 }, Ring { leg: 2 }]
    );
    s.handle_leg_ringing(100, 0);
    s.handle_leg_ringing(120, 1);
    assert_eq!(drain(&mut s), vec![CallerRinging], "one 180 to the caller");
    s.handle_leg_answered(3_000, 1, true);
    assert_eq!(
        drain(&mut s),
        vec![
            Answered {
                owner: Some(2),
                peer: None
            },
            Connect { leg: 1 },
            Cancel { leg: 0 },
            Cancel { leg: 2 },
            AgentBusy {
                agent: 2,
                busy: true
            },
        ],
        "history first, then the caller hears the agent; the agent is busy for the queues"
    );
    assert_eq!(s.poll_timeout(), None);
    // A 200 that crossed our CANCEL is hung up.
    s.handle_leg_answered(3_010, 0, true);
    assert_eq!(drain(&mut s), vec![Hangup { leg: 0 }]);
    s.handle_caller_hangup(63_000);
    assert_eq!(
        drain(&mut s),
        vec![
            Hangup { leg: 1 },
            AgentBusy {
                agent: 2,
                busy: false
            },
            Ended {
                cause: EndCause::CallerHangup
            },
        ]
    );
    assert!(s.is_ended());
}

#[test]
fn two_answers_at_once_the_second_is_hung_up() {
    let mut s = Session::new(0, ring(Direction::Inbound, &[Some(1), Some(2)], 20_000));
    drain(&mut s);
    s.handle_leg_answered(1_000, 0, true);
    s.handle_leg_answered(1_000, 1, true);
    let cmds = drain(&mut s);
    assert!(cmds.contains(&Connect { leg: 0 }));
    assert!(cmds.contains(&Cancel { leg: 1 }));
    assert!(cmds.ends_with(&[Hangup { leg: 1 }]), "{cmds:?}");
    assert_eq!(s.connected_leg(), Some(0));
}

#[test]
fn a_ring_timeout_on_the_virtual_clock_is_no_answer() {
    let mut s = Session::new(
        10_000,
        ring(Direction::Inbound, &[Some(1), Some(2)], 20_000),
    );
    drain(&mut s);
    assert_eq!(s.poll_timeout(), Some(30_000));
    s.handle_timeout(29_999);
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(30_000);
    assert_eq!(
        drain(&mut s),
        vec![
            Cancel { leg: 0 },
            Cancel { leg: 1 },
            RejectCaller(Reject::NoAnswer),
            Ended {
                cause: EndCause::NoAnswer
            },
        ]
    );
}

#[test]
fn busy_only_when_every_leg_was_busy() {
    for (failures, reject, cause) in [
        (
            vec![LegFailure::Busy, LegFailure::Busy],
            Reject::Busy,
            EndCause::Busy,
        ),
        (
            vec![LegFailure::Busy, LegFailure::NoAnswer],
            Reject::NoAnswer,
            EndCause::NoAnswer,
        ),
        (
            vec![LegFailure::Unreachable, LegFailure::Declined],
            Reject::Unavailable,
            EndCause::Unavailable,
        ),
    ] {
        let mut s = Session::new(0, ring(Direction::Inbound, &[Some(1), Some(2)], 20_000));
        drain(&mut s);
        for (leg, f) in failures.iter().enumerate() {
            s.handle_leg_failed(10, leg, *f);
        }
        assert_eq!(
            drain(&mut s),
            vec![RejectCaller(reject), Ended { cause }],
            "{failures:?}"
        );
    }
    let mut s = Session::new(0, ring(Direction::Inbound, &[], 20_000));
    assert_eq!(
        drain(&mut s),
        vec![
            RejectCaller(Reject::Unavailable),
            Ended {
                cause: EndCause::Unavailable
            }
        ],
        "nobody to ring"
    );
}

#[test]
fn a_caller_who_cancels_while_ringing() {
    let mut s = Session::new(0, ring(Direction::Inbound, &[Some(1), Some(2)], 20_000));
    drain(&mut s);
    s.handle_leg_failed(500, 1, LegFailure::Busy);
    s.handle_caller_hangup(4_000);
    assert_eq!(
        drain(&mut s),
        vec![
            Cancel { leg: 0 },
            Ended {
                cause: EndCause::CallerCancelled
            }
        ]
    );
    s.handle_leg_answered(4_010, 0, true);
    assert_eq!(
        drain(&mut s),
        vec![Hangup { leg: 0 }],
        "the crossing 200 is hung up"
    );
    s.handle_leg_answered(4_020, 0, true);
    assert!(drain(&mut s).is_empty());
}

#[test]
fn a_queue_caller_with_something_to_hear_is_answered_and_agents_wait_for_the_greeting() {
    let mut s = Session::new(0, queue(7, with_prompts(), true));
    assert!(s.answered_by_us());
    assert_eq!(
        drain(&mut s),
        vec![
            AnswerCaller,
            Play {
                side: Side::Caller,
                audio: Audio::Queue {
                    greeting: Some(10),
                    announcement: Some(11),
                    music: Some(12)
                }
            },
            Acd(AcdRequest::Enter {
                group: 7,
                hold_ms: 4_000
            }),
        ]
    );
    // Without G.711 nothing can be played: ringback and no wait for a greeting.
    let mut s = Session::new(0, queue(7, with_prompts(), false));
    assert_eq!(
        drain(&mut s),
        vec![
            CallerRinging,
            Acd(AcdRequest::Enter {
                group: 7,
                hold_ms: 0
            })
        ]
    );
    assert!(!s.answered_by_us());
    // Nothing to play: ringback.
    let mut s = Session::new(0, queue(7, GroupAudio::default(), true));
    assert_eq!(
        drain(&mut s),
        vec![
            CallerRinging,
            Acd(AcdRequest::Enter {
                group: 7,
                hold_ms: 0
            })
        ]
    );
}

#[test]
fn the_acd_decides_whose_answer_wins_and_an_agent_fails_only_with_all_their_phones() {
    let mut s = Session::new(0, queue(7, GroupAudio::default(), true));
    drain(&mut s);
    s.handle_acd(10, AcdOrder::Ring(5));
    assert_eq!(drain(&mut s), vec![RingAgent { agent: 5 }]);
    assert_eq!(
        s.ring_contacts(10, 5, 2),
        0..2,
        "desk phone and browser phone"
    );
    assert_eq!(drain(&mut s), vec![Ring { leg: 0 }, Ring { leg: 1 }]);
    assert_eq!(
        s.poll_timeout(),
        None,
        "the ACD times the ring, not the session"
    );
    s.handle_leg_failed(20, 0, LegFailure::Busy);
    assert!(drain(&mut s).is_empty(), "one phone of the agent is left");
    s.handle_leg_answered(30, 1, true);
    assert_eq!(drain(&mut s), vec![Acd(AcdRequest::Answered { agent: 5 })]);
    s.handle_acd(31, AcdOrder::Connect(5));
    assert_eq!(
        drain(&mut s),
        vec![
            Answered {
                owner: Some(5),
                peer: None
            },
            Connect { leg: 1 }
        ],
        "a queue call does not make the agent busy outside the queue: the ACD knows"
    );
    s.handle_leg_hangup(90_000, 1);
    assert_eq!(
        drain(&mut s),
        vec![
            HangupCaller,
            Acd(AcdRequest::Ended),
            Ended {
                cause: EndCause::CalleeHangup
            }
        ]
    );

    let mut s = Session::new(0, queue(7, GroupAudio::default(), true));
    drain(&mut s);
    s.handle_acd(10, AcdOrder::Ring(5));
    drain(&mut s);
    s.ring_contacts(10, 5, 2);
    drain(&mut s);
    s.handle_leg_failed(20, 0, LegFailure::Busy);
    s.handle_leg_failed(21, 1, LegFailure::NoAnswer);
    assert_eq!(drain(&mut s), vec![Acd(AcdRequest::Failed { agent: 5 })]);
    assert!(!s.is_ended(), "the ACD decides what happens next");
    s.handle_acd(30, AcdOrder::Ring(6));
    drain(&mut s);
    assert_eq!(s.ring_contacts(30, 6, 0), 2..2);
    assert_eq!(
        drain(&mut s),
        vec![Acd(AcdRequest::Failed { agent: 6 })],
        "an agent without a registered phone fails at once"
    );
    // The ACD moved on while the agent's phone answered: that phone is hung up.
    s.handle_acd(40, AcdOrder::Ring(7));
    drain(&mut s);
    s.ring_contacts(40, 7, 1);
    drain(&mut s);
    s.handle_leg_answered(41, 2, true);
    drain(&mut s);
    s.handle_acd(41, AcdOrder::Stop(7));
    assert_eq!(drain(&mut s), vec![Hangup { leg: 2 }]);
}

#[test]
fn the_agent_hears_the_answer_announcement_first() {
    let audio = GroupAudio {
        answer: Some(20),
        ..GroupAudio::default()
    };
    let mut s = Session::new(0, queue(7, audio, true));
    drain(&mut s);
    s.handle_acd(10, AcdOrder::Ring(5));
    drain(&mut s);
    s.ring_contacts(10, 5, 1);
    drain(&mut s);
    s.handle_leg_answered(20, 0, true);
    s.handle_acd(21, AcdOrder::Connect(5));
    assert_eq!(
        drain(&mut s),
        vec![
            Acd(AcdRequest::Answered { agent: 5 }),
            Answered {
                owner: Some(5),
                peer: None
            },
            Connect { leg: 0 },
            Play {
                side: Side::Caller,
                audio: Audio::Silence
            },
            Play {
                side: Side::Callee,
                audio: Audio::Once(20)
            },
        ]
    );
    s.handle_play_done(2_000, Side::Callee);
    assert_eq!(
        drain(&mut s),
        vec![StopPlaying { side: Side::Caller }],
        "now they talk"
    );
    // A caller already hearing the queue keeps hearing it during the announcement.
    let audio = GroupAudio {
        answer: Some(20),
        ..with_prompts()
    };
    let mut s = Session::new(0, queue(7, audio, true));
    drain(&mut s);
    s.handle_acd(10, AcdOrder::Ring(5));
    s.ring_contacts(10, 5, 1);
    drain(&mut s);
    s.handle_leg_answered(20, 0, true);
    s.handle_acd(21, AcdOrder::Connect(5));
    let cmds = drain(&mut s);
    assert!(
        !cmds.contains(&Play {
            side: Side::Caller,
            audio: Audio::Silence
        }),
        "{cmds:?}"
    );
    assert!(cmds.ends_with(&[Play {
        side: Side::Callee,
        audio: Audio::Once(20)
    }]));
}

#[test]
fn an_agent_hold_plays_hold_music_to_the_caller() {
    let mut s = Session::new(0, queue(7, with_prompts(), true));
    drain(&mut s);
    assert_eq!(
        s.handle_reinvite(5, Side::Caller, true),
        Reinvite::AnswerHere,
        "before the answer nobody is asked"
    );
    s.handle_acd(10, AcdOrder::Ring(5));
    s.ring_contacts(10, 5, 1);
    s.handle_leg_answered(20, 0, true);
    s.handle_acd(21, AcdOrder::Connect(5));
    drain(&mut s);
    assert_eq!(
        s.handle_reinvite(30, Side::Callee, true),
        Reinvite::AnswerHere
    );
    assert_eq!(
        drain(&mut s),
        vec![Play {
            side: Side::Caller,
            audio: Audio::Loop(12)
        }]
    );
    assert_eq!(
        s.handle_reinvite(40, Side::Callee, false),
        Reinvite::AnswerHere
    );
    assert_eq!(drain(&mut s), vec![StopPlaying { side: Side::Caller }]);
    assert_eq!(
        s.handle_reinvite(50, Side::Caller, true),
        Reinvite::Pass,
        "the caller's own hold goes to the agent"
    );
    // Without hold music the agent's hold goes to the caller.
    let mut s = Session::new(0, ring(Direction::Inbound, &[Some(1)], 20_000));
    s.handle_leg_answered(10, 0, true);
    drain(&mut s);
    assert_eq!(s.handle_reinvite(30, Side::Callee, true), Reinvite::Pass);
}

#[test]
fn diverts_to_groups_stop_after_max_diverts() {
    let mut s = Session::new(0, queue(1, with_prompts(), true));
    drain(&mut s);
    for i in 0..MAX_DIVERTS {
        let group = 2 + i64::from(i);
        s.handle_acd(
            100,
            AcdOrder::Divert(Divert::Group {
                group,
                audio: with_prompts(),
            }),
        );
        assert_eq!(
            drain(&mut s),
            vec![
                Play {
                    side: Side::Caller,
                    audio: Audio::Queue {
                        greeting: None,
                        announcement: Some(11),
                        music: Some(12)
                    }
                },
                GroupChanged { group },
                Acd(AcdRequest::Enter { group, hold_ms: 0 }),
            ],
            "no second greeting"
        );
    }
    s.handle_acd(
        200,
        AcdOrder::Divert(Divert::Group {
            group: 99,
            audio: GroupAudio::default(),
        }),
    );
    assert_eq!(
        drain(&mut s),
        vec![
            HangupCaller,
            Acd(AcdRequest::Forget),
            Ended {
                cause: EndCause::Unavailable
            }
        ]
    );
}

#[test]
fn a_divert_to_an_agent_rings_them_like_a_direct_call() {
    let mut s = Session::new(0, queue(1, GroupAudio::default(), true));
    drain(&mut s);
    s.handle_acd(10, AcdOrder::Ring(5));
    s.ring_contacts(10, 5, 1);
    drain(&mut s);
    s.handle_acd(1_000, AcdOrder::Divert(Divert::Agent(9)));
    assert_eq!(
        drain(&mut s),
        vec![Cancel { leg: 0 }, RingAgent { agent: 9 }]
    );
    assert_eq!(s.ring_contacts(1_000, 9, 1), 1..2);
    assert_eq!(drain(&mut s), vec![Ring { leg: 1 }]);
    assert_eq!(s.poll_timeout(), Some(1_000 + DIVERT_RING_MS));
    s.handle_leg_answered(2_000, 1, true);
    assert_eq!(
        drain(&mut s),
        vec![
            Answered {
                owner: Some(9),
                peer: None
            },
            Connect { leg: 1 },
            AgentBusy {
                agent: 9,
                busy: true
            },
        ],
        "the ACD let go: the agent is busy outside the queue"
    );
    // Nobody registered: unavailable.
    let mut s = Session::new(0, queue(1, GroupAudio::default(), true));
    drain(&mut s);
    s.handle_acd(1_000, AcdOrder::Divert(Divert::Agent(9)));
    drain(&mut s);
    s.ring_contacts(1_000, 9, 0);
    assert_eq!(
        drain(&mut s),
        vec![
            RejectCaller(Reject::Unavailable),
            Acd(AcdRequest::Forget),
            Ended {
                cause: EndCause::Unavailable
            }
        ]
    );
}

#[test]
fn a_divert_to_a_voice_file_plays_it_then_hangs_up() {
    let mut s = Session::new(0, queue(1, GroupAudio::default(), true));
    drain(&mut s);
    s.handle_acd(300_000, AcdOrder::Divert(Divert::VoiceFile(30)));
    assert_eq!(
        drain(&mut s),
        vec![
            AnswerCaller,
            Play {
                side: Side::Caller,
                audio: Audio::Once(30)
            }
        ]
    );
    s.handle_play_done(305_000, Side::Caller);
    assert_eq!(
        drain(&mut s),
        vec![
            HangupCaller,
            Acd(AcdRequest::Forget),
            Ended {
                cause: EndCause::Announcement
            }
        ]
    );
    // Busy, and a voice file that the caller's codec cannot carry.
    let mut s = Session::new(0, queue(1, GroupAudio::default(), true));
    drain(&mut s);
    s.handle_acd(10, AcdOrder::Divert(Divert::Busy));
    assert_eq!(
        drain(&mut s),
        vec![
            RejectCaller(Reject::Busy),
            Acd(AcdRequest::Forget),
            Ended {
                cause: EndCause::Busy
            }
        ]
    );
    let mut s = Session::new(0, queue(1, GroupAudio::default(), false));
    drain(&mut s);
    s.handle_acd(10, AcdOrder::Divert(Divert::VoiceFile(30)));
    assert_eq!(drain(&mut s)[0], RejectCaller(Reject::Unavailable));
}

#[test]
fn a_number_routed_to_a_voice_file() {
    let start = Start {
        direction: Direction::Inbound,
        route: Route::VoiceFile(40),
        calling_agent: None,
        caller_g711: true,
        caller_up: false,
    };
    let mut s = Session::new(0, start.clone());
    assert_eq!(
        drain(&mut s),
        vec![
            AnswerCaller,
            Play {
                side: Side::Caller,
                audio: Audio::Once(40)
            }
        ]
    );
    s.handle_play_done(7_000, Side::Caller);
    assert_eq!(
        drain(&mut s),
        vec![
            HangupCaller,
            Ended {
                cause: EndCause::Announcement
            }
        ]
    );
    let mut s = Session::new(
        0,
        Start {
            caller_g711: false,
            ..start
        },
    );
    assert_eq!(
        drain(&mut s),
        vec![
            RejectCaller(Reject::Unavailable),
            Ended {
                cause: EndCause::Unavailable
            }
        ]
    );
}

#[test]
fn an_agent_placing_a_call_is_busy_for_the_queues_until_it_ends() {
    let start = Start {
        calling_agent: Some(3),
        ..ring(Direction::Outbound, &[None], 120_000)
    };
    let mut s = Session::new(0, start);
    assert_eq!(
        drain(&mut s),
        vec![
            AgentBusy {
                agent: 3,
                busy: true
            },
            Ring { leg: 0 }
        ]
    );
    s.handle_leg_answered(5_000, 0, true);
    assert_eq!(
        drain(&mut s),
        vec![
            Answered {
                owner: None,
                peer: None
            },
            Connect { leg: 0 }
        ],
        "an outbound call stays the caller's in history"
    );
    s.handle_leg_hangup(9_000, 0);
    assert_eq!(
        drain(&mut s),
        vec![
            HangupCaller,
            AgentBusy {
                agent: 3,
                busy: false
            },
            Ended {
                cause: EndCause::CalleeHangup
            }
        ]
    );
}

#[test]
fn an_internal_call_is_the_callers_and_incoming_for_the_agent_who_answers() {
    let start = Start {
        calling_agent: Some(3),
        ..ring(Direction::Internal, &[Some(4)], 30_000)
    };
    let mut s = Session::new(0, start);
    drain(&mut s);
    s.handle_leg_answered(2_000, 0, true);
    assert_eq!(
        drain(&mut s),
        vec![
            Answered {
                owner: None,
                peer: Some(4)
            },
            Connect { leg: 0 },
            AgentBusy {
                agent: 4,
                busy: true
            }
        ]
    );
}

#[test]
fn a_waiting_caller_who_hangs_up_after_our_answer_abandoned_the_queue() {
    let mut s = Session::new(0, queue(7, with_prompts(), true));
    drain(&mut s);
    s.handle_caller_hangup(12_000);
    assert_eq!(
        drain(&mut s),
        vec![
            Acd(AcdRequest::CallerLeft),
            Ended {
                cause: EndCause::Abandoned
            }
        ]
    );
    let mut s = Session::new(0, queue(7, GroupAudio::default(), true));
    drain(&mut s);
    s.handle_caller_hangup(12_000);
    assert_eq!(
        drain(&mut s),
        vec![
            Acd(AcdRequest::CallerLeft),
            Ended {
                cause: EndCause::CallerCancelled
            }
        ],
        "a CANCEL before any answer"
    );
}

#[test]
fn silence_ends_answered_calls_and_waiting_callers_we_answered() {
    let mut s = Session::new(0, ring(Direction::Inbound, &[Some(1)], 20_000));
    s.handle_leg_answered(5, 0, true);
    drain(&mut s);
    s.handle_media_timeout(60_000);
    assert_eq!(
        drain(&mut s),
        vec![
            Hangup { leg: 0 },
            HangupCaller,
            AgentBusy {
                agent: 1,
                busy: false
            },
            Ended {
                cause: EndCause::MediaTimeout
            }
        ]
    );
    let mut s = Session::new(0, queue(7, with_prompts(), true));
    drain(&mut s);
    s.handle_media_timeout(60_000);
    assert_eq!(
        drain(&mut s),
        vec![
            HangupCaller,
            Acd(AcdRequest::CallerLeft),
            Ended {
                cause: EndCause::MediaTimeout
            }
        ]
    );
    let mut s = Session::new(0, queue(7, GroupAudio::default(), true));
    drain(&mut s);
    s.handle_media_timeout(60_000);
    assert!(
        drain(&mut s).is_empty(),
        "an unanswered caller sends no media to miss"
    );
}

#[test]
fn early_media_reaches_the_caller_once() {
    let mut s = Session::new(0, ring(Direction::Outbound, &[None, None], 120_000));
    drain(&mut s);
    s.handle_leg_ringing(10, 0);
    s.handle_leg_early_media(10, 0);
    s.handle_leg_early_media(20, 1);
    assert_eq!(drain(&mut s), vec![CallerRinging, EarlyMedia { leg: 0 }]);
}

#[test]
fn a_caller_whose_leg_is_already_up_hears_ringback_and_is_never_refused() {
    let start = Start {
        caller_up: true,
        calling_agent: Some(3),
        ..ring(Direction::Internal, &[Some(4)], 30_000)
    };
    let mut s = Session::new(0, start.clone());
    assert_eq!(
        drain(&mut s),
        vec![
            AgentBusy {
                agent: 3,
                busy: true
            },
            Play {
                side: Side::Caller,
                audio: Audio::Ringback
            },
            Ring { leg: 0 }
        ]
    );
    s.handle_leg_answered(1_000, 0, true);
    assert_eq!(
        drain(&mut s),
        vec![
            Answered {
                owner: None,
                peer: Some(4)
            },
            Connect { leg: 0 },
            AgentBusy {
                agent: 4,
                busy: true
            },
            StopPlaying { side: Side::Caller }
        ]
    );
    let mut s = Session::new(0, start);
    drain(&mut s);
    s.handle_leg_failed(1_000, 0, LegFailure::Busy);
    assert_eq!(
        drain(&mut s),
        vec![
            HangupCaller,
            AgentBusy {
                agent: 3,
                busy: false
            },
            Ended {
                cause: EndCause::Busy
            }
        ]
    );
}

#[derive(Debug, Clone)]
enum Ev {
    Ringing(usize),
    Answered(usize),
    Failed(usize),
    Timeout,
    CallerHangup,
    LegHangup(usize),
    MediaTimeout,
    AcdRing(i64),
    AcdConnect(i64),
    AcdStop(i64),
    Contacts(i64, usize),
    DivertBusy,
    DivertForward,
    ForwardPlaced(bool),
    PlayDone(bool),
    DivertVoicemail,
    Voice(bool),
    Pound,
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        (0..6usize).prop_map(Ev::Ringing),
        (0..6usize).prop_map(Ev::Answered),
        (0..6usize).prop_map(Ev::Failed),
        Just(Ev::Timeout),
        Just(Ev::CallerHangup),
        (0..6usize).prop_map(Ev::LegHangup),
        Just(Ev::MediaTimeout),
        (1..4i64).prop_map(Ev::AcdRing),
        (1..4i64).prop_map(Ev::AcdConnect),
        (1..4i64).prop_map(Ev::AcdStop),
        (1..4i64, 0..3usize).prop_map(|(a, n)| Ev::Contacts(a, n)),
        Just(Ev::DivertBusy),
        Just(Ev::DivertForward),
        any::<bool>().prop_map(Ev::ForwardPlaced),
        any::<bool>().prop_map(Ev::PlayDone),
        Just(Ev::DivertVoicemail),
        any::<bool>().prop_map(Ev::Voice),
        Just(Ev::Pound),
    ]
}

proptest! {
    /// Whatever happens, in any order: a call is connected at most once, ends exactly once
    /// at most, never connects after it ended, and every agent made busy is released by the
    /// end; a voicemail message, once started, ends exactly once before the call does.
    #[test]
    fn one_outcome_per_call(
        queued in any::<bool>(),
        prompts in any::<bool>(),
        events in proptest::collection::vec((ev(), 0..30_000u64), 0..60),
    ) {
        let start = if queued {
            queue(7, if prompts { with_prompts() } else { GroupAudio::default() }, true)
        } else {
            Start { calling_agent: Some(9), ..ring(Direction::Internal, &[Some(1), Some(2)], 20_000) }
        };
        let mut s = Session::new(0, start);
        let mut now = 0;
        let (mut connects, mut ended) = (0, 0);
        let (mut messages, mut stops) = (0, 0);
        let mut busy: std::collections::HashMap<i64, i32> = Default::default();
        let mut all = Vec::new();
        let mut check = |cmds: Vec<Command>, ended_now: &mut i32, connects: &mut i32| -> Result<(), TestCaseError> {
            for c in cmds {
                match &c {
                    RecordMessage { .. } => { prop_assert_eq!(*ended_now, 0); messages += 1; }
                    StopMessage(_) => { prop_assert_eq!(*ended_now, 0); stops += 1; }
                    Connect { .. } => { prop_assert_eq!(*ended_now, 0); *connects += 1; }
                    Ended { .. } => *ended_now += 1,
                    AgentBusy { agent, busy: b } => *busy.entry(*agent).or_default() += if *b { 1 } else { -1 },
                    _ => {}
                }
                all.push(c);
            }
            Ok(())
        };
        check(drain(&mut s), &mut ended, &mut connects)?;
        for (e, dt) in events {
            now += dt;
            match e {
                Ev::Ringing(l) => s.handle_leg_ringing(now, l),
                Ev::Answered(l) => s.handle_leg_answered(now, l, true),
                Ev::Failed(l) => s.handle_leg_failed(now, l, LegFailure::Busy),
                Ev::Timeout => s.handle_timeout(now),
                Ev::CallerHangup => s.handle_caller_hangup(now),
                Ev::LegHangup(l) => s.handle_leg_hangup(now, l),
                Ev::MediaTimeout => s.handle_media_timeout(now),
                Ev::AcdRing(a) => s.handle_acd(now, AcdOrder::Ring(a)),
                Ev::AcdConnect(a) => s.handle_acd(now, AcdOrder::Connect(a)),
                Ev::AcdStop(a) => s.handle_acd(now, AcdOrder::Stop(a)),
                Ev::Contacts(a, n) => { s.ring_contacts(now, a, n); }
                Ev::DivertBusy => s.handle_acd(now, AcdOrder::Divert(Divert::Busy)),
                Ev::DivertForward => s.handle_acd(now, AcdOrder::Divert(Divert::Forward(4))),
                Ev::ForwardPlaced(placed) => { s.ring_forward(now, placed); }
                Ev::PlayDone(caller) => s.handle_play_done(now, if caller { Side::Caller } else { Side::Callee }),
                Ev::DivertVoicemail => s.handle_acd(now, AcdOrder::Divert(Divert::Voicemail(40))),
                Ev::Voice(speaking) => s.handle_voice(now, speaking),
                Ev::Pound => s.handle_dtmf(now, '#'),
            }
            check(drain(&mut s), &mut ended, &mut connects)?;
        }
        prop_assert!(connects <= 1, "{:?}", all);
        prop_assert!(ended <= 1, "{:?}", all);
        prop_assert_eq!(ended == 1, s.is_ended());
        prop_assert!(messages <= 1 && stops <= messages, "{:?}", all);
        if s.is_ended() {
            prop_assert!(busy.values().all(|n| *n == 0), "{:?} {:?}", busy, all);
            prop_assert_eq!(stops, messages, "{:?}", all);
        }
    }
}

fn ivr_menu() -> engine::ivr::MenuRun {
    use engine::ivr::{Key, Menu};
    use engine::{RouteTarget, TargetKind};
    let menu = Menu {
        prompt: 7,
        buttons: [(
            Key::Digit(2),
            RouteTarget {
                kind: TargetKind::Group,
                id: 1,
            },
        )]
        .into_iter()
        .collect(),
    };
    engine::ivr::MenuRun::new(
        menu,
        RouteTarget {
            kind: TargetKind::VoiceFile,
            id: 99,
        },
    )
}

fn menu_start() -> Start {
    Start {
        direction: Direction::Inbound,
        route: Route::Menu(ivr_menu()),
        calling_agent: None,
        caller_g711: true,
        caller_up: false,
    }
}

#[test]
fn an_ivr_menu_answers_plays_and_routes_on_the_key() {
    use engine::{RouteTarget, TargetKind};
    let mut s = Session::new(0, menu_start());
    assert_eq!(
        drain(&mut s),
        vec![
            AnswerCaller,
            Play {
                side: Side::Caller,
                audio: Audio::Once(7)
            }
        ]
    );
    assert_eq!(s.poll_timeout(), None, "no timer while the prompt plays");
    s.handle_play_done(3_000, Side::Caller);
    assert_eq!(s.poll_timeout(), Some(8_000));
    s.handle_dtmf(4_000, '2');
    assert_eq!(
        drain(&mut s),
        vec![Route(RouteTarget {
            kind: TargetKind::Group,
            id: 1
        })]
    );
    // The group takes it: the caller queues there.
    s.handle_route(
        4_000,
        Divert::Group {
            group: 1,
            audio: with_prompts(),
        },
    );
    let cmds = drain(&mut s);
    assert!(cmds.contains(&Acd(AcdRequest::Enter {
        group: 1,
        hold_ms: 0
    })));
    assert!(cmds.contains(&GroupChanged { group: 1 }));
    // A later key changes nothing.
    s.handle_dtmf(5_000, '2');
    assert!(drain(&mut s).is_empty());
}

#[test]
fn a_key_during_the_prompt_stops_it_and_silence_three_times_takes_the_default() {
    use engine::{RouteTarget, TargetKind};
    let mut s = Session::new(0, menu_start());
    drain(&mut s);
    s.handle_dtmf(500, '2');
    assert_eq!(
        drain(&mut s),
        vec![
            StopPlaying { side: Side::Caller },
            Route(RouteTarget {
                kind: TargetKind::Group,
                id: 1
            })
        ]
    );

    let mut s = Session::new(0, menu_start());
    drain(&mut s);
    let mut t = 0;
    for _ in 0..2 {
        t += 3_000;
        s.handle_play_done(t, Side::Caller);
        t += 5_000;
        assert_eq!(s.poll_timeout(), Some(t));
        s.handle_timeout(t);
        assert_eq!(
            drain(&mut s),
            vec![Play {
                side: Side::Caller,
                audio: Audio::Once(7)
            }]
        );
    }
    s.handle_play_done(t + 3_000, Side::Caller);
    s.handle_timeout(t + 8_000);
    assert_eq!(
        drain(&mut s),
        vec![Route(RouteTarget {
            kind: TargetKind::VoiceFile,
            id: 99
        })]
    );
}

#[test]
fn a_menu_for_a_caller_without_g711_is_refused() {
    let mut start = menu_start();
    start.caller_g711 = false;
    let mut s = Session::new(0, start);
    let cmds = drain(&mut s);
    assert!(
        cmds.iter().any(|c| matches!(c, RejectCaller(_))),
        "{cmds:?}"
    );
}

#[test]
fn a_divert_to_a_forwarding_rings_its_leg_and_connects_without_an_owner() {
    let mut s = Session::new(0, queue(1, GroupAudio::default(), true));
    drain(&mut s);
    s.handle_acd(10, AcdOrder::Ring(5));
    s.ring_contacts(10, 5, 1);
    drain(&mut s);
    s.handle_acd(1_000, AcdOrder::Divert(Divert::Forward(4)));
    assert_eq!(
        drain(&mut s),
        vec![Cancel { leg: 0 }, RingForward { forward: 4 }],
        "the ACD lets go; the core places the trunk leg"
    );
    assert_eq!(s.ring_forward(1_000, true), 1..2);
    assert_eq!(drain(&mut s), vec![Ring { leg: 1 }]);
    assert_eq!(s.poll_timeout(), Some(1_000 + FORWARD_RING_MS));
    s.handle_leg_ringing(1_200, 1);
    assert_eq!(
        drain(&mut s),
        vec![],
        "the caller heard the queue's 180 already"
    );
    s.handle_leg_answered(2_000, 1, true);
    assert_eq!(
        drain(&mut s),
        vec![
            Answered {
                owner: None,
                peer: None
            },
            Connect { leg: 1 },
        ],
        "nobody of ours is busy with a forwarded call"
    );
    s.handle_leg_hangup(60_000, 1);
    assert_eq!(
        drain(&mut s),
        vec![
            HangupCaller,
            Acd(AcdRequest::Forget),
            Ended {
                cause: EndCause::CalleeHangup
            }
        ]
    );
}

#[test]
fn a_forwarding_that_cannot_be_placed_or_is_not_answered_fails_the_call() {
    // No trunk, restricted, over the channel limit: the core places nothing.
    let mut s = Session::new(0, queue(1, GroupAudio::default(), true));
    drain(&mut s);
    s.handle_acd(1_000, AcdOrder::Divert(Divert::Forward(4)));
    drain(&mut s);
    assert_eq!(s.ring_forward(1_000, false), 0..0);
    assert_eq!(
        drain(&mut s),
        vec![
            RejectCaller(Reject::Unavailable),
            Acd(AcdRequest::Forget),
            Ended {
                cause: EndCause::Unavailable
            }
        ]
    );
    // The far end does not answer in time.
    let mut s = Session::new(0, queue(1, GroupAudio::default(), true));
    drain(&mut s);
    s.handle_acd(1_000, AcdOrder::Divert(Divert::Forward(4)));
    drain(&mut s);
    s.ring_forward(1_000, true);
    drain(&mut s);
    s.handle_timeout(1_000 + FORWARD_RING_MS);
    assert_eq!(
        drain(&mut s),
        vec![
            Cancel { leg: 0 },
            RejectCaller(Reject::NoAnswer),
            Acd(AcdRequest::Forget),
            Ended {
                cause: EndCause::NoAnswer
            }
        ]
    );
}

#[test]
fn an_ivr_button_to_a_forwarding_plays_ringback_until_the_far_end_answers() {
    let mut s = Session::new(0, menu_start());
    drain(&mut s);
    s.handle_dtmf(500, '2');
    drain(&mut s);
    s.handle_route(500, Divert::Forward(4));
    assert_eq!(
        drain(&mut s),
        vec![
            Play {
                side: Side::Caller,
                audio: Audio::Ringback
            },
            RingForward { forward: 4 }
        ]
    );
    assert_eq!(s.ring_forward(500, true), 0..1);
    assert_eq!(drain(&mut s), vec![Ring { leg: 0 }]);
    s.handle_leg_answered(3_000, 0, true);
    assert_eq!(
        drain(&mut s),
        vec![
            Answered {
                owner: None,
                peer: None
            },
            Connect { leg: 0 },
            StopPlaying { side: Side::Caller },
        ],
        "the ringback stops when the two sides are connected"
    );
}

fn voicemail_call() -> Session {
    let mut s = Session::new(
        0,
        Start {
            direction: Direction::Inbound,
            route: Route::Voicemail(40),
            calling_agent: None,
            caller_g711: true,
            caller_up: false,
        },
    );
    assert_eq!(
        drain(&mut s),
        vec![
            AnswerCaller,
            Play {
                side: Side::Caller,
                audio: Audio::Once(40)
            }
        ]
    );
    s
}

/// Through the voice file, the instructions and the beep: the message is recorded from `at`.
fn recording_from(s: &mut Session, at: u64) {
    s.handle_play_done(at - 4_000, Side::Caller);
    assert_eq!(
        drain(s),
        vec![Play {
            side: Side::Caller,
            audio: Audio::Voicemail(VmPrompt::Instructions)
        }]
    );
    s.handle_play_done(at - 500, Side::Caller);
    assert_eq!(
        drain(s),
        vec![Play {
            side: Side::Caller,
            audio: Audio::Voicemail(VmPrompt::Beep)
        }]
    );
    s.handle_play_done(at, Side::Caller);
    assert_eq!(drain(s), vec![RecordMessage { voice: 40 }]);
}

#[test]
fn voicemail_plays_the_file_the_instructions_and_a_beep_then_pound_ends_with_thanks() {
    let mut s = voicemail_call();
    // Keys during the voice file do nothing.
    s.handle_dtmf(1_000, '#');
    assert_eq!(drain(&mut s), vec![]);
    recording_from(&mut s, 10_000);
    s.handle_voice(10_300, true);
    assert_eq!(s.poll_timeout(), Some(10_000 + voicemail::MAX_MS));
    s.handle_dtmf(25_000, '#');
    assert_eq!(
        drain(&mut s),
        vec![
            StopMessage(voicemail::Ended {
                stop: voicemail::Stop::Pound,
                keep: true,
                length_ms: None
            }),
            Play {
                side: Side::Caller,
                audio: Audio::Voicemail(VmPrompt::Thanks)
            }
        ]
    );
    s.handle_play_done(26_500, Side::Caller);
    assert_eq!(
        drain(&mut s),
        vec![
            HangupCaller,
            Ended {
                cause: EndCause::Voicemail
            }
        ]
    );
}

#[test]
fn voicemail_silence_on_the_virtual_clock_ends_the_message() {
    let mut s = voicemail_call();
    recording_from(&mut s, 10_000);
    s.handle_voice(10_500, true);
    s.handle_voice(13_000, false);
    assert_eq!(s.poll_timeout(), Some(23_000));
    s.handle_timeout(23_000);
    assert_eq!(
        drain(&mut s)[0],
        StopMessage(voicemail::Ended {
            stop: voicemail::Stop::Silence,
            keep: true,
            length_ms: Some(4_000)
        })
    );
}

#[test]
fn a_caller_hanging_up_during_the_message_keeps_it() {
    let mut s = voicemail_call();
    recording_from(&mut s, 10_000);
    s.handle_voice(10_200, true);
    s.handle_caller_hangup(20_000);
    assert_eq!(
        drain(&mut s),
        vec![
            StopMessage(voicemail::Ended {
                stop: voicemail::Stop::Hangup,
                keep: true,
                length_ms: None
            }),
            Ended {
                cause: EndCause::CallerHangup
            }
        ]
    );
}

#[test]
fn a_caller_hanging_up_during_the_voice_file_leaves_no_message() {
    let mut s = voicemail_call();
    s.handle_caller_hangup(2_000);
    assert_eq!(
        drain(&mut s),
        vec![Ended {
            cause: EndCause::CallerHangup
        }]
    );
}

#[test]
fn a_divert_to_voicemail_lets_the_queue_go_and_takes_a_message() {
    let mut s = Session::new(0, queue(1, with_prompts(), true));
    drain(&mut s);
    s.handle_acd(5_000, AcdOrder::Divert(Divert::Voicemail(40)));
    let cmds = drain(&mut s);
    assert!(
        cmds.contains(&Play {
            side: Side::Caller,
            audio: Audio::Once(40)
        }),
        "{cmds:?}"
    );
    assert!(!cmds.iter().any(|c| matches!(c, Ended { .. })), "{cmds:?}");
    recording_from(&mut s, 20_000);
}
