//! Where a call goes: the dial plan for numbers dialled on our phones (extensions, emergency
//! numbers, `184`/`186`, number prefixes (発信仕分け), the caller ID an agent may use, the
//! outbound restriction list) and the routing of calls arriving on our numbers (the block list,
//! the number's channel limit and routing target).
//!
//! Pure: the telephony core gives it the configuration it holds in memory.

use crate::agent_state::{AgentId, GroupId};
use crate::{RouteTarget, TargetKind};

pub type NumberId = i64;
/// An external forwarding (外線転送, FWD) by id.
pub type ForwardId = i64;

/// Emergency numbers: police, coast guard, fire and ambulance. They always reach the trunk.
pub const EMERGENCY: [&str; 3] = ["110", "118", "119"];

/// One of our phone numbers (NUM) as routing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    pub id: NumberId,
    pub number: String,
    /// Outbound prefix (発信仕分け): dialled in front, the call goes out on this number.
    pub prefix: Option<String>,
    pub route: Option<RouteTarget>,
    /// Calls at once on this number; 0 = no limit.
    pub max_channels: i64,
}

/// The calling agent as the dial plan needs them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    pub agent: AgentId,
    /// Their caller number; `None` = 外線発信禁止 (extensions only).
    pub caller_number: Option<NumberId>,
    /// The other numbers they are offered (PHONE-03, prefixes).
    pub numbers: Vec<NumberId>,
}

/// What the configuration answers.
pub trait Lookup {
    /// Who owns an extension.
    fn extension(&self, dialed: &str) -> Option<Extension>;
    fn numbers(&self) -> &[Number];
    /// Whether `destination` may not be called from `caller_number` (OUT restrictions).
    fn is_restricted(&self, destination: &str, caller_number: &str) -> bool;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension {
    Agent(AgentId),
    Group(GroupId),
    /// An external forwarding's extension (FWD-02 内線).
    Forward(ForwardId),
}

/// An external forwarding (外線転送, FWD-01…04) as routing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub id: ForwardId,
    /// 外線転送番号: the external number called.
    pub destination: String,
    /// 発信者番号: the number of ours shown, unless `use_called_number`.
    pub caller_number: Option<NumberId>,
    /// 着信番号を発番に利用: show the number the caller dialled instead.
    pub use_called_number: bool,
}

/// Where a forwarded call goes, and the number of ours it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub destination: String,
    pub caller_number: Number,
}

/// The caller ID a phone asked for (the browser phone's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallerChoice {
    /// The agent's own setting.
    #[default]
    Default,
    /// 外線発信禁止: extensions only.
    Prohibited,
    Number(NumberId),
}

/// A number dialled on one of our phones, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialed {
    Agent(AgentId),
    /// A group's extension: the call enters its queue like a call to its number.
    Group(GroupId),
    /// An external forwarding's extension: forwarded as its routing would.
    Forward(ForwardId),
    /// Out through a trunk.
    External {
        destination: String,
        /// The number shown (and charged); for an emergency call without a caller number of
        /// the agent's, any number of ours, so the operator can call back.
        caller_number: Option<NumberId>,
        /// `184`: the number is withheld from the callee.
        withheld: bool,
        emergency: bool,
    },
}

/// Why a call is refused before it rings anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A call from a phone with no agent logged in to it.
    NoAgent,
    /// 外線発信禁止.
    Prohibited,
    /// The caller number chosen is not offered to the agent.
    NotOffered,
    /// The agent's caller number no longer exists.
    NumberGone,
    /// Not a number that can be dialled.
    Incomplete,
    /// On the outbound restriction list: recorded in history.
    Restricted {
        destination: String,
        caller_number: NumberId,
    },
    /// Inbound: not one of our numbers.
    UnknownNumber,
    /// Inbound: the caller is on the block list: recorded in history.
    Blocked,
    /// Inbound: over the number's channel limit: recorded nowhere (glossary).
    ChannelLimit,
    /// Inbound: the number routes nowhere.
    NoRoute,
    /// Inbound: the number routes to something that cannot take calls yet.
    NotImplemented(TargetKind),
    /// The target no longer exists.
    TargetGone,
}

/// Reads the dialled string of a call from one of our phones.
pub fn from_phone(
    lookup: &impl Lookup,
    caller: Option<&Caller>,
    choice: CallerChoice,
    dialed: &str,
) -> Result<Dialed, Refusal> {
    if let Some(owner) = lookup.extension(dialed) {
        return Ok(match owner {
            Extension::Agent(a) => Dialed::Agent(a),
            Extension::Group(g) => Dialed::Group(g),
            Extension::Forward(f) => Dialed::Forward(f),
        });
    }
    let caller = caller.ok_or(Refusal::NoAgent)?;
    let own = match choice {
        CallerChoice::Default => caller.caller_number,
        CallerChoice::Prohibited => None,
        // Only a number the agent is offered (PHONE-03).
        CallerChoice::Number(id)
            if caller.numbers.contains(&id) || caller.caller_number == Some(id) =>
        {
            Some(id)
        }
        CallerChoice::Number(_) => return Err(Refusal::NotOffered),
    };
    let plan = prefixes(dialed, lookup.numbers());
    let destination = plan.destination;
    if EMERGENCY.contains(&destination.as_str()) {
        // Whatever the caller-ID choice or the restriction list says.
        let caller_number = plan
            .via_number
            .filter(|n| caller.numbers.contains(n))
            .or(own)
            .or(caller.caller_number)
            .or_else(|| caller.numbers.first().copied())
            .or_else(|| lookup.numbers().first().map(|n| n.id));
        return Ok(Dialed::External {
            destination,
            caller_number,
            withheld: plan.withheld,
            emergency: true,
        });
    }
    // Caller ID: the prefix's number (発信仕分け) if one was dialled, else the agent's own.
    let number = plan.via_number.or(own).ok_or(Refusal::Prohibited)?;
    if plan.via_number.is_some() && !caller.numbers.contains(&number) {
        return Err(Refusal::NotOffered);
    }
    let caller_number = lookup
        .numbers()
        .iter()
        .find(|n| n.id == number)
        .ok_or(Refusal::NumberGone)?;
    if !(2..=20).contains(&destination.len()) || !destination.chars().all(|c| c.is_ascii_digit()) {
        return Err(Refusal::Incomplete);
    }
    if lookup.is_restricted(&destination, &caller_number.number) {
        return Err(Refusal::Restricted {
            destination,
            caller_number: number,
        });
    }
    Ok(Dialed::External {
        destination,
        caller_number: Some(number),
        withheld: plan.withheld,
        emergency: false,
    })
}

/// Where a call from a carrier to one of our numbers goes, once the number is known.
pub fn inbound(
    number: Option<&Number>,
    blocked: bool,
    channels_in_use: i64,
) -> Result<RouteTarget, Refusal> {
    let number = number.ok_or(Refusal::UnknownNumber)?;
    if blocked {
        return Err(Refusal::Blocked);
    }
    if number.max_channels > 0 && channels_in_use >= number.max_channels {
        return Err(Refusal::ChannelLimit);
    }
    match number.route {
        Some(t) => match t.kind {
            TargetKind::Agent
            | TargetKind::Group
            | TargetKind::VoiceFile
            | TargetKind::Ivr
            | TargetKind::Forward => Ok(t),
        },
        None => Err(Refusal::NoRoute),
    }
}

/// A call forwarded out (FWD-02): the number it shows is the forwarding's caller number, or
/// with 着信番号を発番に利用 the number that was called (`called`: the number the carrier
/// called, or for a forwarding's extension dialled on a phone the agent's own caller
/// number). The outbound restriction list applies as to any call out.
pub fn forward(
    lookup: &impl Lookup,
    fwd: &Forward,
    called: Option<NumberId>,
) -> Result<Forwarded, Refusal> {
    let shown = if fwd.use_called_number {
        called
    } else {
        fwd.caller_number
    };
    let caller_number = shown
        .and_then(|id| lookup.numbers().iter().find(|n| n.id == id))
        .ok_or(Refusal::NumberGone)?;
    let destination = fwd.destination.clone();
    if !(2..=20).contains(&destination.len()) || !destination.chars().all(|c| c.is_ascii_digit()) {
        return Err(Refusal::Incomplete);
    }
    if lookup.is_restricted(&destination, &caller_number.number) {
        return Err(Refusal::Restricted {
            destination,
            caller_number: caller_number.id,
        });
    }
    Ok(Forwarded {
        destination,
        caller_number: caller_number.clone(),
    })
}

#[derive(Debug, PartialEq, Eq)]
struct Prefixes {
    destination: String,
    withheld: bool,
    via_number: Option<NumberId>,
}

/// Reads prefixes off a dialled string: a number's outbound prefix (発信仕分け, longest match)
/// and `184` (withhold the caller ID) or `186` (show it), in either order.
fn prefixes(dialed: &str, numbers: &[Number]) -> Prefixes {
    let mut rest = dialed;
    let mut privacy = None;
    let mut via_number = None;
    for _ in 0..2 {
        if privacy.is_none() && rest.len() > 3 {
            if let Some(r) = rest.strip_prefix("184") {
                privacy = Some(true);
                rest = r;
                continue;
            }
            if let Some(r) = rest.strip_prefix("186") {
                privacy = Some(false);
                rest = r;
                continue;
            }
        }
        if via_number.is_none() {
            let best = numbers
                .iter()
                .filter_map(|n| n.prefix.as_deref().map(|p| (n.id, p)))
                .filter(|(_, p)| !p.is_empty() && rest.len() > p.len() && rest.starts_with(p))
                .max_by_key(|(_, p)| p.len());
            if let Some((id, p)) = best {
                via_number = Some(id);
                rest = &rest[p.len()..];
            }
        }
    }
    Prefixes {
        destination: rest.to_owned(),
        withheld: privacy.unwrap_or(false),
        via_number,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(id: i64, prefix: Option<&str>) -> Number {
        Number {
            id,
            number: format!("03000000{id:02}"),
            prefix: prefix.map(Into::into),
            route: None,
            max_channels: 0,
        }
    }

    #[test]
    fn prefixes_in_either_order() {
        let numbers = [number(1, Some("9")), number(2, Some("99")), number(3, None)];
        let plan = |d: &str| prefixes(d, &numbers);
        assert_eq!(
            plan("0312345678"),
            Prefixes {
                destination: "0312345678".into(),
                withheld: false,
                via_number: None
            }
        );
        assert_eq!(
            plan("1840312345678"),
            Prefixes {
                destination: "0312345678".into(),
                withheld: true,
                via_number: None
            }
        );
        assert_eq!(plan("90312345678").via_number, Some(1));
        assert_eq!(plan("990312345678").via_number, Some(2), "longest prefix");
        assert_eq!(
            plan("991840312345678"),
            Prefixes {
                destination: "0312345678".into(),
                withheld: true,
                via_number: Some(2)
            }
        );
        assert_eq!(
            plan("184990312345678"),
            Prefixes {
                destination: "0312345678".into(),
                withheld: true,
                via_number: Some(2)
            }
        );
        assert_eq!(plan("184").destination, "184", "184 alone is not a prefix");
        assert_eq!(
            plan("1860312345678"),
            Prefixes {
                destination: "0312345678".into(),
                withheld: false,
                via_number: None
            },
            "186 shows the number"
        );
    }

    struct Plan {
        numbers: Vec<Number>,
        /// (destination, caller number; "" = every caller number).
        restricted: Vec<(&'static str, &'static str)>,
    }

    impl Lookup for Plan {
        fn extension(&self, dialed: &str) -> Option<Extension> {
            (dialed == "701").then_some(Extension::Forward(7))
        }
        fn numbers(&self) -> &[Number] {
            &self.numbers
        }
        fn is_restricted(&self, destination: &str, caller_number: &str) -> bool {
            self.restricted
                .iter()
                .any(|(d, c)| *d == destination && (c.is_empty() || *c == caller_number))
        }
    }

    #[test]
    fn forwarding_shows_its_caller_number_or_the_called_one() {
        let plan = Plan {
            numbers: vec![number(1, None), number(2, None)],
            restricted: vec![("0120999999", "0300000002")],
        };
        let fwd = |caller_number, use_called_number, destination: &str| Forward {
            id: 7,
            destination: destination.into(),
            caller_number,
            use_called_number,
        };
        // (forwarding, the number called) → the number shown, or the refusal.
        let cases: Vec<(Forward, Option<NumberId>, Result<NumberId, Refusal>)> = vec![
            (fwd(Some(1), false, "09011112222"), Some(2), Ok(1)),
            (fwd(Some(1), true, "09011112222"), Some(2), Ok(2)),
            // ON ignores the configured number (FWD-02).
            (fwd(None, true, "09011112222"), Some(1), Ok(1)),
            (
                fwd(Some(9), false, "09011112222"),
                Some(1),
                Err(Refusal::NumberGone),
            ),
            (
                fwd(Some(1), true, "09011112222"),
                None,
                Err(Refusal::NumberGone),
            ),
            (
                fwd(Some(1), false, "09-1111"),
                Some(1),
                Err(Refusal::Incomplete),
            ),
            // The restriction list applies to the number shown.
            (fwd(Some(1), false, "0120999999"), Some(2), Ok(1)),
            (
                fwd(Some(1), true, "0120999999"),
                Some(2),
                Err(Refusal::Restricted {
                    destination: "0120999999".into(),
                    caller_number: 2,
                }),
            ),
        ];
        for (f, called, want) in cases {
            let got = forward(&plan, &f, called).map(|r| {
                assert_eq!(r.destination, f.destination);
                r.caller_number.id
            });
            assert_eq!(got, want, "{f:?} called {called:?}");
        }
    }

    #[test]
    fn a_forwardings_extension_is_dialled_like_any_other() {
        let plan = Plan {
            numbers: vec![number(1, None)],
            restricted: vec![],
        };
        assert_eq!(
            from_phone(&plan, None, CallerChoice::Default, "701"),
            Ok(Dialed::Forward(7))
        );
    }
}
