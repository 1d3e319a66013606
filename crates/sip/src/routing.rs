//! Where a new call goes: inbound from a carrier trunk to one of our numbers (block list,
//! channel limit, the number's routing target), or from a registered phone to an extension or
//! out through a trunk (caller ID, 184, prefix routing, outbound restrictions).

use crate::msg;
use crate::server::Shared;
use engine::{RouteTarget, TargetKind};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use store::calls::Direction;
use store::trunks::CallerIdHeader;
use store::{Conn, Page};

/// One INVITE we will send.
#[derive(Clone)]
pub(crate) struct Target {
    /// Request-URI and To.
    pub uri: String,
    /// Where the INVITE goes.
    pub dest: SocketAddr,
    /// Over TCP (the phone registered over TCP).
    pub tcp: bool,
    /// From header value, without tag.
    pub from: String,
    /// Extra headers (P-Asserted-Identity, Privacy).
    pub headers: Vec<(&'static str, String)>,
    pub agent_id: Option<i64>,
    /// User name and password for a carrier that challenges our INVITE (401/407).
    pub auth: Option<(String, String)>,
}

/// A routed call, ready to ring.
pub(crate) struct Routed {
    pub targets: Vec<Target>,
    pub ring_ms: u64,
    pub direction: Direction,
    pub remote_party: String,
    pub number_id: Option<i64>,
    pub number: Option<String>,
    pub group_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub channel: Option<ChannelGuard>,
    /// The group whose queue (the ACD) chooses who rings; `targets` is then empty.
    pub queue: Option<i64>,
    /// What the agent's screen shows when their phone rings for this call (NUM-07/09).
    pub popup: Option<serde_json::Value>,
    /// The number plays this voice file to the caller and hangs up (NUM-05).
    pub voice_file: Option<i64>,
}

/// A call refused before ringing anyone.
pub(crate) struct Refusal {
    pub status: u16,
    pub reason: String,
    /// Recorded in call history with this cause (blocked, restricted); `None` = not recorded
    /// (channel-limit refusals never are).
    pub record: Option<RefusedCall>,
}

pub(crate) struct RefusedCall {
    pub cause: &'static str,
    pub direction: Direction,
    pub remote_party: String,
    pub number_id: Option<i64>,
    pub number: Option<String>,
    pub agent_id: Option<i64>,
}

fn refuse(status: u16, reason: impl Into<String>) -> Refusal {
    Refusal {
        status,
        reason: reason.into(),
        record: None,
    }
}

fn internal_error() -> Refusal {
    refuse(500, "Server Internal Error")
}

/// Releases a phone number's channel when the call ends, however it ends.
pub(crate) struct ChannelGuard {
    shared: Arc<Shared>,
    number_id: i64,
}

impl Drop for ChannelGuard {
    fn drop(&mut self) {
        if let Ok(mut c) = self.shared.channels.lock() {
            if let Some(n) = c.get_mut(&self.number_id) {
                *n -= 1;
            }
        }
    }
}

/// Takes a channel of a number, or `None` when its limit is reached (0 = no limit).
fn take_channel(shared: &Arc<Shared>, number_id: i64, max: i64) -> Option<ChannelGuard> {
    let mut ch = shared.channels.lock().ok()?;
    let used = ch.entry(number_id).or_insert(0);
    if max > 0 && *used >= max {
        return None;
    }
    *used += 1;
    Some(ChannelGuard {
        shared: shared.clone(),
        number_id,
    })
}

/// Is `source` one of a trunk's allowed addresses?
pub(crate) async fn is_trunk_source(shared: &Shared, source: IpAddr) -> Result<bool, ()> {
    let mut conn = shared.store.conn().await.map_err(|_| ())?;
    let (trunks, _) = store::trunks::list(
        &mut conn,
        &Default::default(),
        Page {
            offset: 0,
            limit: 500,
        },
    )
    .await
    .map_err(|_| ())?;
    Ok(trunks.iter().filter(|t| t.fields.enabled).any(|t| {
        t.fields
            .allowed_sources
            .iter()
            .any(|s| source_matches(s, source))
    }))
}

pub(crate) fn source_matches(rule: &str, ip: IpAddr) -> bool {
    let (addr, bits) = match rule.split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok()),
        None => (rule, None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            (u32::from(n) & mask) == (u32::from(i) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            (u128::from(n) & mask) == (u128::from(i) & mask)
        }
        _ => false,
    }
}

/// Is `dialed` one of our numbers (a DID)?
pub(crate) async fn is_our_number(shared: &Shared, dialed: &str) -> bool {
    match shared.store.conn().await {
        Ok(mut conn) => matches!(
            store::numbers::id_by_number(&mut conn, dialed).await,
            Ok(Some(_))
        ),
        Err(_) => false,
    }
}

/// A call from a carrier trunk to one of our numbers.
pub(crate) async fn inbound(
    shared: &Arc<Shared>,
    caller: &str,
    dialed: &str,
) -> Result<Routed, Refusal> {
    let mut conn = shared.store.conn().await.map_err(|_| internal_error())?;
    let number = match store::numbers::id_by_number(&mut conn, dialed).await {
        Ok(Some(id)) => store::numbers::get(&mut conn, id).await.ok().flatten(),
        _ => None,
    }
    .ok_or_else(|| refuse(404, "Not Found: no such number"))?;
    if store::incoming_blocks::is_blocked(&mut conn, caller)
        .await
        .unwrap_or(false)
    {
        return Err(Refusal {
            status: 603,
            reason: "Decline".into(),
            record: Some(RefusedCall {
                cause: "blocked",
                direction: Direction::Inbound,
                remote_party: caller.into(),
                number_id: Some(number.id),
                number: Some(number.fields.number.clone()),
                agent_id: None,
            }),
        });
    }
    // Over the channel limit a call is refused and counted nowhere (glossary).
    let channel = take_channel(shared, number.id, number.fields.max_channels)
        .ok_or_else(|| refuse(503, "Service Unavailable: channel limit reached"))?;
    let from = format!("<sip:{caller}@{}>", shared.contact_addr.ip());
    let mut routed = Routed {
        targets: Vec::new(),
        ring_ms: 20_000,
        direction: Direction::Inbound,
        remote_party: caller.into(),
        number_id: Some(number.id),
        number: Some(number.fields.number.clone()),
        group_id: None,
        agent_id: None,
        channel: Some(channel),
        queue: None,
        voice_file: None,
        popup: Some(serde_json::json!({
            "caller": caller,
            "number": number.fields.number,
            "number_name": number.fields.name,
            "message": number.fields.incoming_message,
            "popup_url": number.fields.incoming_popup_url,
            "answer_popup_url": number.fields.answer_popup_url,
        })),
    };
    match number.fields.route {
        Some(RouteTarget {
            kind: TargetKind::Agent,
            id,
        }) => {
            routed.agent_id = Some(id);
            routed.targets = agent_targets(shared, &mut conn, id, &from).await;
        }
        Some(RouteTarget {
            kind: TargetKind::Group,
            id,
        }) => {
            if !matches!(store::groups::get(&mut conn, id).await, Ok(Some(_))) {
                return Err(refuse(
                    404,
                    "Not Found: the number's group no longer exists",
                ));
            }
            // The group's queue decides who rings, when, and for how long.
            routed.group_id = Some(id);
            routed.queue = Some(id);
        }
        Some(RouteTarget {
            kind: TargetKind::VoiceFile,
            id,
        }) => routed.voice_file = Some(id),
        Some(RouteTarget { kind, .. }) => {
            return Err(refuse(
                501,
                format!("Not Implemented: routing to a {kind} is not available yet"),
            ));
        }
        None => {
            return Err(refuse(
                480,
                "Temporarily Unavailable: the number has no routing",
            ))
        }
    }
    Ok(routed)
}

fn ring_ms(secs: i64) -> u64 {
    u64::try_from(secs).unwrap_or(20).max(1) * 1000
}

/// Every live registration of every terminal linked to an agent.
pub(crate) async fn agent_targets(
    shared: &Shared,
    conn: &mut Conn,
    agent_id: i64,
    from: &str,
) -> Vec<Target> {
    let filter = store::terminals::TerminalFilter {
        agent_id: Some(agent_id),
        ..Default::default()
    };
    let Ok((terminals, _)) = store::terminals::list(
        conn,
        &filter,
        Page {
            offset: 0,
            limit: 100,
        },
    )
    .await
    else {
        return Vec::new();
    };
    let now = Instant::now();
    let mut targets: Vec<Target> = match shared.location.lock() {
        Ok(location) => terminals
            .iter()
            .flat_map(|t| location.lookup(now, &t.fields.username))
            .map(|b| Target {
                dest: msg::request_target(&b.contact, b.received),
                tcp: b.transport == crate::location::Transport::Tcp,
                uri: b.contact,
                from: from.to_owned(),
                headers: Vec::new(),
                agent_id: Some(agent_id),
                auth: None,
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    // The browser phone rings like any other phone of the agent.
    let browser = shared
        .browser_phones
        .lock()
        .ok()
        .and_then(|b| b.contact(agent_id));
    if let Some(addr) = browser {
        targets.push(Target {
            dest: addr,
            tcp: false,
            uri: format!("sip:browser-{agent_id}@{addr}"),
            from: from.to_owned(),
            headers: Vec::new(),
            agent_id: Some(agent_id),
            auth: None,
        });
    }
    targets
}

/// The caller ID a browser phone asked for (its agent chose it in the phone panel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallerChoice {
    /// The agent's own setting.
    Default,
    /// 外線発信禁止: extensions only.
    Prohibited,
    Number(i64),
}

/// A call from a registered phone: an extension (agent or group), or an external number.
pub(crate) async fn from_terminal(
    shared: &Arc<Shared>,
    terminal: &store::terminals::Terminal,
    dialed: &str,
    caller: CallerChoice,
) -> Result<Routed, Refusal> {
    let mut conn = shared.store.conn().await.map_err(|_| internal_error())?;
    let mut agent = match terminal.fields.agent_id {
        Some(id) => store::agents::get(&mut conn, id)
            .await
            .map_err(|_| internal_error())?,
        None => None,
    };
    if let Some(a) = &mut agent {
        match caller {
            CallerChoice::Default => {}
            CallerChoice::Prohibited => a.fields.caller_number_id = None,
            // Only a number the agent is offered (PHONE-03); anything else keeps their own.
            CallerChoice::Number(id)
                if a.fields.number_ids.contains(&id) || a.fields.caller_number_id == Some(id) =>
            {
                a.fields.caller_number_id = Some(id)
            }
            CallerChoice::Number(_) => {
                return Err(refuse(
                    403,
                    "Forbidden: this caller number is not offered to the agent",
                ))
            }
        }
    }
    let me = agent
        .as_ref()
        .and_then(|a| a.fields.extension.clone())
        .unwrap_or_else(|| terminal.fields.username.clone());
    let display = agent
        .as_ref()
        .map(|a| a.fields.nickname.replace('"', ""))
        .unwrap_or_default();
    let from = format!("\"{display}\" <sip:{me}@{}>", shared.contact_addr.ip());
    let owner = store::agents::extension_owner(&mut conn, dialed)
        .await
        .map_err(|_| internal_error())?;
    let mut routed = Routed {
        targets: Vec::new(),
        ring_ms: 30_000,
        direction: Direction::Internal,
        remote_party: dialed.to_owned(),
        number_id: None,
        number: None,
        group_id: None,
        agent_id: terminal.fields.agent_id,
        channel: None,
        queue: None,
        voice_file: None,
        popup: None,
    };
    match owner {
        Some((kind, id)) if kind == "agent" => {
            routed.targets = agent_targets(shared, &mut conn, id, &from).await;
            Ok(routed)
        }
        Some((_, id)) => {
            routed.group_id = Some(id);
            if let Ok(Some(g)) = store::groups::get(&mut conn, id).await {
                routed.ring_ms = ring_ms(g.fields.ring_time);
                for m in &g.fields.members {
                    let mut t = agent_targets(shared, &mut conn, m.agent_id, &from).await;
                    routed.targets.append(&mut t);
                }
            }
            Ok(routed)
        }
        None => outbound(shared, &mut conn, agent, dialed).await,
    }
}

/// An external call through a trunk, with the caller ID the agent may use.
async fn outbound(
    shared: &Arc<Shared>,
    conn: &mut Conn,
    agent: Option<store::agents::Agent>,
    dialed: &str,
) -> Result<Routed, Refusal> {
    let agent =
        agent.ok_or_else(|| refuse(403, "Forbidden: no agent is logged in to this phone"))?;
    let (numbers, _) = store::numbers::list(
        conn,
        &Default::default(),
        Page {
            offset: 0,
            limit: 1000,
        },
    )
    .await
    .map_err(|_| internal_error())?;
    let plan = dial_plan(dialed, &numbers);
    // Caller ID: the prefix's number (発信仕分け) if one was dialled, else the agent's own.
    let number_id = plan
        .via_number
        .or(agent.fields.caller_number_id)
        .ok_or_else(|| {
            refuse(
                403,
                "Forbidden: external calls are prohibited for this agent (外線発信禁止)",
            )
        })?;
    if plan.via_number.is_some() && !agent.fields.number_ids.contains(&number_id) {
        return Err(refuse(
            403,
            "Forbidden: this number is not offered to the agent",
        ));
    }
    let number = numbers
        .iter()
        .find(|n| n.id == number_id)
        .ok_or_else(|| refuse(403, "Forbidden: the caller number no longer exists"))?;
    let dest = plan.destination;
    if !(2..=20).contains(&dest.len()) || !dest.chars().all(|c| c.is_ascii_digit()) {
        return Err(refuse(484, "Address Incomplete"));
    }
    let caller_number = number.fields.number.clone();
    if store::outbound_restrictions::is_restricted(conn, &dest, Some(&caller_number))
        .await
        .unwrap_or(false)
    {
        return Err(Refusal {
            status: 403,
            reason: "Forbidden: the destination is on the outbound restriction list".into(),
            record: Some(RefusedCall {
                cause: "restricted",
                direction: Direction::Outbound,
                remote_party: dest,
                number_id: Some(number.id),
                number: Some(caller_number),
                agent_id: Some(agent.id),
            }),
        });
    }
    let (trunks, _) = store::trunks::list(
        conn,
        &Default::default(),
        Page {
            offset: 0,
            limit: 500,
        },
    )
    .await
    .map_err(|_| internal_error())?;
    let trunk = trunks
        .into_iter()
        .find(|t| t.fields.enabled && t.fields.outbound_host.is_some())
        .ok_or_else(|| refuse(503, "Service Unavailable: no trunk for outbound calls"))?;
    let host = trunk.fields.outbound_host.clone().unwrap_or_default();
    let addr = resolve(&host).await.ok_or_else(|| {
        refuse(
            503,
            "Service Unavailable: the trunk's host cannot be resolved",
        )
    })?;
    let local = shared.contact_addr.ip();
    let identity = format!("<sip:{caller_number}@{local}>");
    let mut headers = Vec::new();
    let from = if plan.withheld {
        // 184: the number is withheld from the callee; the carrier still learns it from PAI.
        headers.push(("P-Asserted-Identity", identity.clone()));
        headers.push(("Privacy", "id".to_owned()));
        "\"Anonymous\" <sip:anonymous@anonymous.invalid>".to_owned()
    } else {
        match trunk.fields.caller_id_header {
            CallerIdHeader::From => identity.clone(),
            CallerIdHeader::Pai => {
                headers.push(("P-Asserted-Identity", identity.clone()));
                match &trunk.fields.username {
                    Some(u) => format!("<sip:{u}@{local}>"),
                    None => identity.clone(),
                }
            }
            CallerIdHeader::Both => {
                headers.push(("P-Asserted-Identity", identity.clone()));
                identity.clone()
            }
        }
    };
    Ok(Routed {
        targets: vec![Target {
            uri: format!("sip:{dest}@{host}"),
            dest: addr,
            tcp: false,
            from,
            headers,
            agent_id: None,
            auth: trunk
                .fields
                .username
                .clone()
                .zip(trunk.fields.password.clone()),
        }],
        ring_ms: 120_000,
        direction: Direction::Outbound,
        remote_party: dest,
        number_id: Some(number.id),
        number: Some(caller_number),
        group_id: None,
        agent_id: Some(agent.id),
        channel: None,
        queue: None,
        voice_file: None,
        popup: None,
    })
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

#[derive(Debug, PartialEq, Eq)]
struct DialPlan {
    destination: String,
    withheld: bool,
    via_number: Option<i64>,
}

/// Reads prefixes off a dialled string: a number's outbound prefix (発信仕分け, longest match)
/// and `184` (withhold the caller ID), in either order.
fn dial_plan(dialed: &str, numbers: &[store::numbers::Number]) -> DialPlan {
    let mut rest = dialed;
    let mut withheld = false;
    let mut via_number = None;
    for _ in 0..2 {
        if !withheld && rest.len() > 3 && rest.starts_with("184") {
            withheld = true;
            rest = &rest[3..];
            continue;
        }
        if via_number.is_none() {
            let best = numbers
                .iter()
                .filter_map(|n| n.fields.prefix.as_deref().map(|p| (n.id, p)))
                .filter(|(_, p)| rest.len() > p.len() && rest.starts_with(p))
                .max_by_key(|(_, p)| p.len());
            if let Some((id, p)) = best {
                via_number = Some(id);
                rest = &rest[p.len()..];
            }
        }
    }
    DialPlan {
        destination: rest.to_owned(),
        withheld,
        via_number,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_sources_match_ips_and_cidrs() {
        let ip = |s: &str| s.parse().unwrap();
        assert!(source_matches("127.0.0.1", ip("127.0.0.1")));
        assert!(!source_matches("127.0.0.1", ip("127.0.0.2")));
        assert!(source_matches("10.0.0.0/8", ip("10.200.1.1")));
        assert!(!source_matches("10.0.0.0/8", ip("11.0.0.1")));
        assert!(source_matches("0.0.0.0/0", ip("192.0.2.1")));
        assert!(source_matches("2001:db8::/32", ip("2001:db8::5")));
        assert!(!source_matches("garbage", ip("127.0.0.1")));
    }

    fn number(id: i64, prefix: Option<&str>) -> store::numbers::Number {
        store::numbers::Number {
            id,
            fields: store::numbers::NumberFields {
                number: format!("03000000{id:02}"),
                prefix: prefix.map(Into::into),
                ..Default::default()
            },
            stamps: store::Stamps {
                created_at: 0,
                created_by: None,
                updated_at: 0,
                updated_by: None,
            },
        }
    }

    #[test]
    fn dial_plans() {
        let numbers = [number(1, Some("9")), number(2, Some("99")), number(3, None)];
        let plan = |d: &str| dial_plan(d, &numbers);
        assert_eq!(
            plan("0312345678"),
            DialPlan {
                destination: "0312345678".into(),
                withheld: false,
                via_number: None
            }
        );
        assert_eq!(
            plan("1840312345678"),
            DialPlan {
                destination: "0312345678".into(),
                withheld: true,
                via_number: None
            }
        );
        assert_eq!(plan("90312345678").via_number, Some(1));
        assert_eq!(
            plan("990312345678"),
            DialPlan {
                destination: "0312345678".into(),
                withheld: false,
                via_number: Some(2)
            },
            "longest prefix"
        );
        assert_eq!(
            plan("991840312345678"),
            DialPlan {
                destination: "0312345678".into(),
                withheld: true,
                via_number: Some(2)
            }
        );
        assert_eq!(
            plan("184990312345678"),
            DialPlan {
                destination: "0312345678".into(),
                withheld: true,
                via_number: Some(2)
            }
        );
        assert_eq!(plan("184").destination, "184", "184 alone is not a prefix");
    }
}
