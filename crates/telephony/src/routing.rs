//! Turns an admitted call into a plan for its session: the dial plan's decision (engine) made
//! concrete with the configuration in memory — whom to ring and how to reach them, what the
//! group plays, the caller ID a trunk gets, what history records — or a refusal.

use crate::call::ms;
use crate::directory::{Config, IvrOutcome};
use crate::Core;
use engine::dial_plan::{self, CallerChoice, Dialed, Refusal};
use engine::live::Popup;
use engine::session::{self, Route};
use engine::TargetKind;
use sip::{CallerNumber, Identity, IncomingCall, Origin, Refuse};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use store::calls::Direction;
use store::trunks::CallerIdHeader;

/// How long a call to an agent rings (no queue): inbound, internal, external.
const RING_INBOUND_MS: u64 = 20_000;
const RING_INTERNAL_MS: u64 = 30_000;
const RING_EXTERNAL_MS: u64 = 120_000;
/// How long a forwarding's external number rings (as after a divert to it).
const RING_FORWARD_MS: u64 = session::FORWARD_RING_MS;

/// One leg the session may place: how to reach it, and whose it is.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub originate: Option<sip::Originate>,
}

impl Spec {
    pub fn none() -> Spec {
        Spec { originate: None }
    }
}

/// What a call's session starts with.
pub(crate) struct Plan {
    pub direction: Direction,
    pub route: Route,
    pub calling_agent: Option<i64>,
    pub remote_party: String,
    pub number_id: Option<i64>,
    pub number: Option<String>,
    /// Who owns the call in history until an answer says otherwise.
    pub agent_id: Option<i64>,
    /// The agent an internal call is for: they see it as incoming.
    pub peer_agent: Option<i64>,
    pub group_id: Option<i64>,
    /// The legs of `Route::Ring`, in its order.
    pub specs: Vec<Spec>,
    pub popup: Option<Popup>,
    /// Who the agents' phones see calling.
    pub ring_from: Identity,
    pub channel: Option<ChannelGuard>,
    /// A call forwarded out (外線転送): what history records of its second leg.
    pub forwarded: Option<Forwarded>,
    /// The channel the forwarded leg takes of the number it shows.
    pub forward_channel: Option<ChannelGuard>,
}

/// The second leg of a forwarded call, as history records it.
#[derive(Debug, Clone)]
pub(crate) struct Forwarded {
    pub forwarding: i64,
    /// The external number called.
    pub to: String,
    /// The caller ID shown.
    pub from: String,
}

/// A forwarded call's outbound leg, ready to place.
pub(crate) struct ForwardLeg {
    pub spec: Spec,
    pub channel: Option<ChannelGuard>,
    pub forwarded: Forwarded,
}

/// Why a forwarding's leg cannot be placed.
pub(crate) struct ForwardRefused {
    pub refuse: Refuse,
    /// The destination is on the outbound restriction list (recorded in history).
    pub restricted: bool,
}

impl Plan {
    pub fn session_direction(&self) -> session::Direction {
        match self.direction {
            Direction::Inbound => session::Direction::Inbound,
            Direction::Outbound => session::Direction::Outbound,
            Direction::Internal => session::Direction::Internal,
        }
    }
}

/// A call refused before it rang anyone.
pub(crate) struct Refused {
    pub refuse: Refuse,
    /// Recorded in history (blocked, restricted); channel-limit refusals never are (glossary).
    pub record: Option<Box<RefusedCall>>,
}

/// What history records of a refused call.
pub(crate) struct RefusedCall {
    pub cause: &'static str,
    pub direction: Direction,
    pub remote_party: String,
    pub number_id: Option<i64>,
    pub number: Option<String>,
    pub agent_id: Option<i64>,
}

fn refuse(r: Refuse) -> Refused {
    Refused {
        refuse: r,
        record: None,
    }
}

/// Calls in progress per phone number, for its channel limit.
#[derive(Default)]
pub(crate) struct Channels(Mutex<HashMap<i64, i64>>);

impl Channels {
    fn used(&self, number: i64) -> i64 {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&number)
            .copied()
            .unwrap_or(0)
    }

    /// Takes a channel of a number, or `None` when its limit is reached (0 = no limit).
    fn take(self: &Arc<Self>, number: i64, max: i64) -> Option<ChannelGuard> {
        let mut ch = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let used = ch.entry(number).or_insert(0);
        if max > 0 && *used >= max {
            return None;
        }
        *used += 1;
        Some(ChannelGuard {
            channels: self.clone(),
            number,
        })
    }
}

/// Releases a phone number's channel when the call ends, however it ends.
pub(crate) struct ChannelGuard {
    channels: Arc<Channels>,
    number: i64,
}

impl Drop for ChannelGuard {
    fn drop(&mut self) {
        let mut ch = self
            .channels
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = ch.get_mut(&self.number) {
            *n -= 1;
        }
    }
}

/// Every phone of `agent` (desk phones' registrations, the browser phone) as legs to place,
/// with `from` as the caller they show.
pub(crate) fn agent_specs(core: &Core, agent: i64, from: &Identity) -> Vec<Spec> {
    let config = core.directory.get();
    let mut targets = core.edge.contacts(&config.terminals_of(agent));
    // The browser phone rings like any other phone of the agent.
    targets.extend(core.edge.browser_phone(agent));
    targets
        .into_iter()
        .map(|target| Spec {
            originate: Some(sip::Originate {
                target,
                from: from.clone(),
                asserted: None,
                privacy: false,
                auth: None,
                offer: String::new(),
            }),
        })
        .collect()
}

fn ring(specs: Vec<Spec>, agent: i64, ring_ms: u64) -> (Route, Vec<Spec>) {
    (
        Route::Ring {
            contacts: specs.iter().map(|_| Some(agent)).collect(),
            ring_ms,
        },
        specs,
    )
}

/// Where an admitted call goes.
pub(crate) async fn route(core: &Arc<Core>, call: &IncomingCall) -> Result<Plan, Refused> {
    match &call.origin {
        Origin::Trunk { .. } => inbound(core, &call.caller, &call.dialed).await,
        Origin::Terminal { username, .. } => from_terminal(core, username, &call.dialed).await,
        Origin::BrowserPhone {
            agent,
            caller_number,
        } => {
            let choice = match caller_number {
                CallerNumber::Default => CallerChoice::Default,
                CallerNumber::Prohibited => CallerChoice::Prohibited,
                CallerNumber::Number(n) => CallerChoice::Number(*n),
            };
            from_phone(
                core,
                Some(*agent),
                &format!("browser-{agent}"),
                choice,
                &call.dialed,
            )
            .await
        }
    }
}

/// A call dialled on the terminal `username` (a leg Tsunagu placed to it and handed over).
pub(crate) async fn from_terminal(
    core: &Arc<Core>,
    username: &str,
    dialed: &str,
) -> Result<Plan, Refused> {
    let agent = core
        .directory
        .get()
        .terminal(username)
        .and_then(|t| t.agent_id);
    from_phone(core, agent, username, CallerChoice::Default, dialed).await
}

/// A call from a carrier to one of our numbers.
async fn inbound(core: &Arc<Core>, caller: &str, dialed: &str) -> Result<Plan, Refused> {
    let config = core.directory.get();
    let number = config.number_by_did(dialed);
    let blocked = number.is_some() && config.is_blocked(caller);
    let used = number.map_or(0, |n| core.channels.used(n.plan.id));
    let target = dial_plan::inbound(number.map(|n| &n.plan), blocked, used);
    let refused = |r: Refuse| Err(refuse(r));
    let target = match target {
        Ok(t) => t,
        Err(Refusal::UnknownNumber) => return refused(Refuse::NotFound("no such number".into())),
        Err(Refusal::Blocked) => {
            let n = number.map(|n| (n.plan.id, n.plan.number.clone()));
            return Err(Refused {
                refuse: Refuse::Decline,
                record: Some(Box::new(RefusedCall {
                    cause: "blocked",
                    direction: Direction::Inbound,
                    remote_party: caller.to_owned(),
                    number_id: n.as_ref().map(|n| n.0),
                    number: n.map(|n| n.1),
                    agent_id: None,
                })),
            });
        }
        Err(Refusal::ChannelLimit) => {
            return refused(Refuse::ServiceUnavailable("channel limit reached".into()))
        }
        Err(Refusal::NotImplemented(kind)) => {
            return refused(Refuse::NotImplemented(format!(
                "routing to a {kind} is not available yet"
            )))
        }
        Err(_) => {
            return refused(Refuse::Unavailable(Some(
                "the number has no routing".into(),
            )))
        }
    };
    let Some(number) = number else {
        return refused(Refuse::NotFound("no such number".into()));
    };
    // Over the channel limit a call is refused and counted nowhere (glossary).
    let channel = core
        .channels
        .take(number.plan.id, number.plan.max_channels)
        .ok_or_else(|| refuse(Refuse::ServiceUnavailable("channel limit reached".into())))?;
    let ring_from = Identity {
        display: None,
        user: caller.to_owned(),
    };
    let mut plan = Plan {
        direction: Direction::Inbound,
        route: Route::Ring {
            contacts: Vec::new(),
            ring_ms: RING_INBOUND_MS,
        },
        calling_agent: None,
        remote_party: caller.to_owned(),
        number_id: Some(number.plan.id),
        number: Some(number.plan.number.clone()),
        agent_id: None,
        peer_agent: None,
        group_id: None,
        specs: Vec::new(),
        popup: None,
        ring_from,
        channel: Some(channel),
        forwarded: None,
        forward_channel: None,
    };
    // An IVR's schedule and defaults lead on to another destination, or to its menu.
    let target = match config.follow_ivrs(target, ms(core.clock.now())) {
        Some(IvrOutcome::Target(t)) => t,
        Some(IvrOutcome::Menu(run)) => {
            plan.route = Route::Menu(run);
            return Ok(plan);
        }
        None => {
            return refused(Refuse::Unavailable(Some(
                "the number's IVR cannot route the call".into(),
            )))
        }
    };
    match target.kind {
        TargetKind::Forward => {
            // Out through the trunk showing the forwarding's number or the one called.
            let n = Some(number.plan.id);
            match forward_leg(core, target.id, n, n).await {
                Ok(leg) => plan.forward(leg, RING_FORWARD_MS),
                Err(ForwardRefused {
                    refuse,
                    restricted: true,
                }) => {
                    return Err(Refused {
                        refuse,
                        record: Some(Box::new(RefusedCall {
                            cause: "restricted",
                            direction: Direction::Inbound,
                            remote_party: caller.to_owned(),
                            number_id: n,
                            number: Some(number.plan.number.clone()),
                            agent_id: None,
                        })),
                    })
                }
                Err(e) => return refused(e.refuse),
            }
        }
        TargetKind::Agent => {
            plan.agent_id = Some(target.id);
            let (route, specs) = ring(
                agent_specs(core, target.id, &plan.ring_from),
                target.id,
                RING_INBOUND_MS,
            );
            plan.route = route;
            plan.specs = specs;
        }
        TargetKind::Group => {
            let Some(g) = config.group(target.id) else {
                return refused(Refuse::NotFound(
                    "the number's group no longer exists".into(),
                ));
            };
            // The group's queue decides who rings, when, and for how long.
            plan.group_id = Some(target.id);
            plan.route = Route::Queue {
                group: target.id,
                audio: core.voices.group_audio(&g.fields).await,
            };
            plan.popup = Some(Popup {
                caller: caller.to_owned(),
                number: number.plan.number.clone(),
                number_name: number.name.clone(),
                message: number.incoming_message.clone(),
                popup_url: number.incoming_popup_url.clone(),
                answer_popup_url: number.answer_popup_url.clone(),
                group: target.id,
            });
        }
        TargetKind::VoiceFile => {
            // A file that cannot be played leaves nothing to connect the caller to.
            if core.voices.get(target.id).await.is_some() {
                plan.route = if crate::voicemail::takes_messages(core, target.id).await {
                    Route::Voicemail(target.id)
                } else {
                    Route::VoiceFile(target.id)
                };
            }
        }
        TargetKind::Ivr => {
            // follow_ivrs never ends on an IVR.
            return refused(Refuse::Unavailable(Some(
                "the number's IVR cannot route the call".into(),
            )));
        }
    }
    Ok(plan)
}

impl Plan {
    /// The call rings the forwarding's leg alone.
    fn forward(&mut self, leg: ForwardLeg, ring_ms: u64) {
        self.specs = vec![leg.spec];
        self.route = Route::Ring {
            contacts: vec![None],
            ring_ms,
        };
        self.forward_channel = leg.channel;
        self.forwarded = Some(leg.forwarded);
    }
}

/// The outbound leg of the forwarding `forwarding` (FWD-02): through the trunk to its number,
/// showing its caller number or, with 着信番号を発番に利用, `called`; refused by the outbound
/// restriction list; taking a channel of the number shown unless the call already holds one
/// of it (`holding`: the number the call came in on).
pub(crate) async fn forward_leg(
    core: &Arc<Core>,
    forwarding: i64,
    called: Option<i64>,
    holding: Option<i64>,
) -> Result<ForwardLeg, ForwardRefused> {
    let config = core.directory.get();
    let plain = |refuse| ForwardRefused {
        refuse,
        restricted: false,
    };
    let fwd = config
        .forwarding(forwarding)
        .ok_or_else(|| plain(Refuse::NotFound("the forwarding no longer exists".into())))?;
    let out = match dial_plan::forward(&*config, fwd, called) {
        Ok(out) => out,
        Err(Refusal::Restricted { .. }) => {
            return Err(ForwardRefused {
                refuse: Refuse::Forbidden(
                    "the forwarding's number is on the outbound restriction list".into(),
                ),
                restricted: true,
            })
        }
        Err(Refusal::NumberGone) => {
            return Err(plain(Refuse::Unavailable(Some(
                "the forwarding has no caller number".into(),
            ))))
        }
        Err(_) => {
            return Err(plain(Refuse::Unavailable(Some(
                "the forwarding's number cannot be dialled".into(),
            ))))
        }
    };
    let shown = out.caller_number;
    let channel = if holding == Some(shown.id) {
        None
    } else {
        Some(
            core.channels
                .take(shown.id, shown.max_channels)
                .ok_or_else(|| plain(Refuse::ServiceUnavailable("channel limit reached".into())))?,
        )
    };
    let spec = trunk_spec(&config, &out.destination, &shown.number, false)
        .await
        .map_err(plain)?;
    Ok(ForwardLeg {
        spec,
        channel,
        forwarded: Forwarded {
            forwarding,
            to: out.destination,
            from: shown.number,
        },
    })
}

/// A leg out through the trunk to `destination` showing `shown` (withheld from the callee
/// with 184), the caller ID in the headers the trunk wants.
async fn trunk_spec(
    config: &Config,
    destination: &str,
    shown: &str,
    withheld: bool,
) -> Result<Spec, Refuse> {
    let trunk = config
        .outbound_trunk()
        .ok_or_else(|| Refuse::ServiceUnavailable("no trunk for outbound calls".into()))?;
    let host = trunk.outbound_host.clone().unwrap_or_default();
    let addr = resolve(&host)
        .await
        .ok_or_else(|| Refuse::ServiceUnavailable("the trunk's host cannot be resolved".into()))?;
    let shown = shown.to_owned();
    let (from_user, asserted) = if withheld {
        // 184: the number is withheld from the callee; the carrier still learns it.
        (shown.clone(), Some(shown.clone()))
    } else {
        match trunk.caller_id_header {
            CallerIdHeader::From => (shown.clone(), None),
            CallerIdHeader::Pai => (
                trunk.username.clone().unwrap_or_else(|| shown.clone()),
                Some(shown.clone()),
            ),
            CallerIdHeader::Both => (shown.clone(), Some(shown.clone())),
        }
    };
    Ok(Spec {
        originate: Some(sip::Originate {
            target: sip::Target::at_host(destination, &host, addr),
            from: Identity {
                display: None,
                user: from_user,
            },
            asserted,
            privacy: withheld,
            auth: trunk.username.clone().zip(trunk.password.clone()),
            offer: String::new(),
        }),
    })
}

/// A call from one of our phones: an extension (agent or group), or out through a trunk.
async fn from_phone(
    core: &Arc<Core>,
    agent: Option<i64>,
    username: &str,
    choice: CallerChoice,
    dialed: &str,
) -> Result<Plan, Refused> {
    let config = core.directory.get();
    let me = agent.and_then(|a| config.agent(a));
    let user = me
        .and_then(|a| a.extension.clone())
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| username.to_owned());
    let display = me
        .map(|a| a.nickname.replace(['"', '\\'], ""))
        .filter(|n| !n.is_empty());
    let ring_from = Identity { display, user };
    let caller = me.map(|a| a.caller.clone());
    let mut plan = Plan {
        direction: Direction::Internal,
        route: Route::Ring {
            contacts: Vec::new(),
            ring_ms: RING_INTERNAL_MS,
        },
        calling_agent: agent,
        remote_party: dialed.to_owned(),
        number_id: None,
        number: None,
        agent_id: agent,
        peer_agent: None,
        group_id: None,
        specs: Vec::new(),
        popup: None,
        ring_from,
        channel: None,
        forwarded: None,
        forward_channel: None,
    };
    let forbidden = |why: &str| Err(refuse(Refuse::Forbidden(why.into())));
    match dial_plan::from_phone(&*config, caller.as_ref(), choice, dialed) {
        Ok(Dialed::Agent(a)) => {
            plan.peer_agent = Some(a);
            let (route, specs) = ring(agent_specs(core, a, &plan.ring_from), a, RING_INTERNAL_MS);
            plan.route = route;
            plan.specs = specs;
        }
        Ok(Dialed::Group(g)) => {
            // A group's extension enters its queue like a call to its number.
            let Some(group) = config.group(g) else {
                return Err(refuse(Refuse::NotFound("no such group".into())));
            };
            plan.group_id = Some(g);
            plan.route = Route::Queue {
                group: g,
                audio: core.voices.group_audio(&group.fields).await,
            };
        }
        Ok(Dialed::External {
            destination,
            caller_number,
            withheld,
            emergency,
        }) => {
            let number = caller_number.and_then(|id| config.number(id));
            let shown = number
                .map(|n| n.plan.number.clone())
                .unwrap_or_else(|| plan.ring_from.user.clone());
            if emergency {
                tracing::warn!(agent = ?agent, destination, "emergency call");
            }
            let spec = trunk_spec(&config, &destination, &shown, withheld)
                .await
                .map_err(refuse)?;
            plan.direction = Direction::Outbound;
            plan.remote_party = destination.clone();
            plan.number_id = number.map(|n| n.plan.id);
            plan.number = number.map(|n| n.plan.number.clone());
            plan.specs = vec![spec];
            plan.route = Route::Ring {
                contacts: vec![None],
                ring_ms: RING_EXTERNAL_MS,
            };
        }
        Ok(Dialed::Forward(f)) => {
            // A forwarding's extension: out through the trunk like its routing; the number
            // "called" is the agent's own caller number.
            let called = caller.as_ref().and_then(|c| c.caller_number);
            let leg = match forward_leg(core, f, called, None).await {
                Ok(leg) => leg,
                Err(e) => return Err(refuse(e.refuse)),
            };
            let shown = config.number_by_did(&leg.forwarded.from);
            plan.direction = Direction::Outbound;
            plan.remote_party = leg.forwarded.to.clone();
            plan.number_id = shown.map(|n| n.plan.id);
            plan.number = Some(leg.forwarded.from.clone());
            plan.forward(leg, RING_EXTERNAL_MS);
        }
        Err(Refusal::NoAgent) => return forbidden("no agent is logged in to this phone"),
        Err(Refusal::Prohibited) => {
            return forbidden("external calls are prohibited for this agent (外線発信禁止)")
        }
        Err(Refusal::NotOffered) => {
            return forbidden("this caller number is not offered to the agent")
        }
        Err(Refusal::NumberGone) => return forbidden("the caller number no longer exists"),
        Err(Refusal::Incomplete) => return Err(refuse(Refuse::AddressIncomplete)),
        Err(Refusal::Restricted {
            destination,
            caller_number,
        }) => {
            let number = config.number(caller_number).map(|n| n.plan.number.clone());
            return Err(Refused {
                refuse: Refuse::Forbidden(
                    "the destination is on the outbound restriction list".into(),
                ),
                record: Some(Box::new(RefusedCall {
                    cause: "restricted",
                    direction: Direction::Outbound,
                    remote_party: destination,
                    number_id: Some(caller_number),
                    number,
                    agent_id: agent,
                })),
            });
        }
        Err(_) => return Err(refuse(Refuse::ServerError)),
    }
    Ok(plan)
}

async fn resolve(host_port: &str) -> Option<SocketAddr> {
    let with_port = if host_port
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
    {
        host_port.to_owned()
    } else {
        format!("{host_port}:5060")
    };
    tokio::net::lookup_host(with_port).await.ok()?.next()
}
