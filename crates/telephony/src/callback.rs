//! Callback (PRES-06): Tsunagu first rings the user's own desk phones; once one answers, that
//! leg is handed to a new call as its caller — the user's terminal calling the colleague's
//! extension, with every rule of a call dialled on that phone (history, busy state, the
//! colleague's phones). The user hears ringback meanwhile.

use crate::call::{CallTask, CallerSide};
use crate::Core;
use engine::originate::{Command, Originate};
use media::sdp::Sdp;
use sip::{Identity, LegEventKind};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the user's own phones ring.
const RING_MS: u64 = 30_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("no such agent")]
    UnknownAgent,
    #[error("the colleague has no extension to call")]
    NoExtension,
    #[error("none of your desk phones is registered: a callback rings your own phone first")]
    NoPhone,
}

pub(crate) fn start(core: &Arc<Core>, agent: i64, colleague: i64) -> Result<(), CallbackError> {
    let config = core.directory.get();
    config.agent(agent).ok_or(CallbackError::UnknownAgent)?;
    let other = config.agent(colleague).ok_or(CallbackError::UnknownAgent)?;
    let extension = other
        .extension
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or(CallbackError::NoExtension)?;
    // Desk phones and softphones only: the browser phone calls colleagues itself (PRES-05).
    let phones: Vec<(String, sip::Target)> = config
        .terminals_of(agent)
        .into_iter()
        .flat_map(|u| {
            core.edge
                .contacts(std::slice::from_ref(&u))
                .into_iter()
                .map(move |t| (u.clone(), t))
        })
        .collect();
    if phones.is_empty() {
        return Err(CallbackError::NoPhone);
    }
    let shown = Identity {
        display: Some(other.nickname.replace(['"', '\\'], "")).filter(|n| !n.is_empty()),
        user: extension.clone(),
    };
    tokio::spawn(run(core.clone(), phones, extension, shown));
    Ok(())
}

async fn run(
    core: Arc<Core>,
    phones: Vec<(String, sip::Target)>,
    extension: String,
    shown: Identity,
) {
    let Ok(endpoint) = core.rtp.allocate().await else {
        tracing::warn!("RTP ports exhausted; no callback");
        return;
    };
    let offer = Sdp::g711_offer(endpoint.rtp_addr()).to_string();
    let mut o = Originate::new(core.clock.now(), phones.len(), RING_MS);
    let (sink, mut events) = mpsc::unbounded_channel();
    let mut legs: Vec<Option<sip::Leg>> = vec![None; phones.len()];
    let mut answers: Vec<Option<String>> = vec![None; phones.len()];
    let mut endpoint = Some(endpoint);
    loop {
        while let Some(cmd) = o.poll_command() {
            match cmd {
                Command::Ring { leg } => {
                    let Some((_, target)) = phones.get(leg) else {
                        continue;
                    };
                    let placed = core.edge.originate(sip::Originate {
                        target: target.clone(),
                        from: shown.clone(),
                        asserted: None,
                        privacy: false,
                        auth: None,
                        offer: offer.clone(),
                    });
                    placed.attach(sink.clone());
                    legs[leg] = Some(placed);
                }
                Command::Cancel { leg } => {
                    if let Some(Some(l)) = legs.get(leg) {
                        l.cancel();
                    }
                }
                Command::Hangup { leg } => {
                    if let Some(Some(l)) = legs.get(leg) {
                        l.hangup();
                    }
                }
                Command::Answered { leg } => {
                    let (Some(Some(l)), Some(Some(answer)), Some((username, _))) =
                        (legs.get(leg), answers.get(leg), phones.get(leg))
                    else {
                        continue;
                    };
                    let Ok(sdp) = Sdp::parse(answer) else {
                        l.hangup();
                        continue;
                    };
                    let caller = CallerSide {
                        leg: l.clone(),
                        sdp,
                        media: endpoint.take(),
                        up: true,
                        srtp: None,
                    };
                    let (core, username, extension) =
                        (core.clone(), username.clone(), extension.clone());
                    tokio::spawn(async move {
                        match crate::routing::from_terminal(&core, &username, &extension).await {
                            Ok(plan) => {
                                let uuid =
                                    format!("callback-{:016x}@tsunagu", rand::random::<u64>());
                                CallTask::start(core, caller, uuid, plan).await;
                            }
                            Err(refused) => {
                                tracing::info!(reason = %refused.refuse.reason(), "callback refused");
                                caller.leg.hangup();
                            }
                        }
                    });
                }
                Command::Failed { failure } => {
                    tracing::info!(?failure, "callback: the user's phone did not answer");
                }
            }
        }
        if o.is_done() {
            break;
        }
        let now = core.clock.now();
        let sleep = async {
            match o.poll_timeout() {
                Some(at) => tokio::time::sleep(Duration::from_millis(at.saturating_sub(now))).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(ev) = events.recv() => {
                let Some(leg) = legs.iter().position(|l| l.as_ref().is_some_and(|l| l.id() == ev.leg)) else {
                    continue;
                };
                let now = core.clock.now();
                match ev.kind {
                    LegEventKind::Answered { sdp } => {
                        answers[leg] = sdp;
                        o.handle_leg_answered(now, leg);
                    }
                    LegEventKind::Failed { failure, .. } => o.handle_leg_failed(now, leg, match failure {
                        sip::Failure::Busy => engine::session::LegFailure::Busy,
                        sip::Failure::NoAnswer => engine::session::LegFailure::NoAnswer,
                        sip::Failure::Declined => engine::session::LegFailure::Declined,
                        sip::Failure::Unreachable => engine::session::LegFailure::Unreachable,
                    }),
                    LegEventKind::Reinvite(r) => r.refuse("not yet"),
                    _ => {}
                }
            }
            _ = sleep => o.handle_timeout(core.clock.now()),
        }
    }
}
