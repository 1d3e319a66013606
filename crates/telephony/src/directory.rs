//! The configuration calls need, held in memory: numbers, trunks, terminals, agents, groups,
//! the incoming block list and the outbound restrictions. A call reads none of it from the
//! database. It is loaded at start, again as soon as the API says a setting changed, and every
//! `SAFETY_RELOAD` in case something changed behind the API's back (another node, a script).

use engine::dial_plan::{self, Extension};
use engine::trunk_source::SourceRule;
use engine::{RouteTarget, TargetKind};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use store::{Page, Record, Store};
use tokio::sync::Notify;

const SAFETY_RELOAD: Duration = Duration::from_secs(30);
const ALL: Page = Page {
    offset: 0,
    limit: i64::MAX,
};

/// One of our numbers with what its calls show and open (NUM-07…09).
#[derive(Debug, Clone, PartialEq)]
pub struct NumberInfo {
    pub plan: dial_plan::Number,
    pub name: String,
    pub incoming_message: String,
    pub incoming_popup_url: String,
    pub answer_popup_url: String,
    pub recording: store::numbers::NumberRecording,
}

#[derive(Debug, Clone)]
pub struct Trunk {
    pub id: i64,
    sources: Vec<SourceRule>,
    /// `host[:port]` outbound calls go to.
    pub outbound_host: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub caller_id_header: store::trunks::CallerIdHeader,
}

#[derive(Debug, Clone)]
pub struct Terminal {
    pub id: i64,
    pub username: String,
    pub agent_id: Option<i64>,
    password: String,
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub id: i64,
    pub nickname: String,
    pub extension: Option<String>,
    pub caller: dial_plan::Caller,
}

/// A snapshot of the configuration.
#[derive(Debug, Default)]
pub struct Config {
    numbers: Vec<dial_plan::Number>,
    number_info: HashMap<i64, NumberInfo>,
    by_did: HashMap<String, i64>,
    /// Enabled trunks only.
    trunks: Vec<Trunk>,
    terminals: HashMap<String, Terminal>,
    agents: HashMap<i64, Agent>,
    extensions: HashMap<String, Extension>,
    groups: HashMap<i64, store::groups::Group>,
    /// Stored spellings of blocked callers.
    blocked: HashSet<String>,
    /// Restricted destination → the caller numbers it applies to (`""` = every one).
    restrictions: HashMap<String, Vec<String>>,
    /// Full-call recording, system-wide (REC-*).
    recording: bool,
    /// IVRs as the engine runs them; one that does not translate (never saved so) is absent.
    ivrs: HashMap<i64, engine::ivr::Ivr>,
    /// External forwardings (外線転送, FWD).
    forwardings: HashMap<i64, dial_plan::Forward>,
    /// The center's time zone (the system setting), for IVR schedules; `None` before the
    /// first load.
    time_zone: Option<jiff::tz::TimeZone>,
}

/// Where a walk through IVRs ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrOutcome {
    /// A destination that is not an IVR.
    Target(RouteTarget),
    /// An IVR's button menu.
    Menu(engine::ivr::MenuRun),
}

impl Config {
    pub async fn load(store: &Store) -> store::Result<Config> {
        let mut conn = store.conn().await?;
        let (numbers, _) = store::numbers::list(&mut conn, &Default::default(), ALL).await?;
        let (trunks, _) = store::trunks::list(&mut conn, &Default::default(), ALL).await?;
        let (terminals, _) = store::terminals::list(&mut conn, &Default::default(), ALL).await?;
        let (agents, _) = store::agents::list(&mut conn, &Default::default(), ALL).await?;
        let (groups, _) = store::groups::list(&mut conn, &Default::default(), ALL).await?;
        let (blocks, _) = <store::incoming_blocks::IncomingBlock as Record>::list(
            &mut conn,
            &Default::default(),
            ALL,
        )
        .await?;
        let (restrictions, _) =
            <store::outbound_restrictions::OutboundRestriction as Record>::list(
                &mut conn,
                &Default::default(),
                ALL,
            )
            .await?;
        let system = store.system_settings().await?;
        let mut c = Config {
            recording: system.recording_enabled,
            time_zone: engine::archive_schedule::parse_time_zone(&system.time_zone).ok(),
            ..Config::default()
        };
        for r in store::ivrs::list_all(&mut conn).await? {
            match r.fields.to_engine(r.id) {
                Ok(ivr) => {
                    c.ivrs.insert(r.id, ivr);
                }
                Err(e) => tracing::warn!(ivr = r.id, problems = ?e, "IVR cannot be used"),
            }
        }
        for f in store::forwardings::list_all(&mut conn).await? {
            if let Some(ext) = f.fields.extension.clone().filter(|e| !e.is_empty()) {
                // Agents' and groups' extensions win (the API refuses duplicates).
                c.extensions.insert(ext, Extension::Forward(f.id));
            }
            c.forwardings.insert(
                f.id,
                dial_plan::Forward {
                    id: f.id,
                    destination: f.fields.destination,
                    caller_number: f.fields.caller_number_id,
                    use_called_number: f.fields.use_called_number,
                },
            );
        }
        for n in numbers {
            let plan = dial_plan::Number {
                id: n.id,
                number: n.fields.number.clone(),
                prefix: n.fields.prefix.clone().filter(|p| !p.is_empty()),
                route: n.fields.route,
                max_channels: n.fields.max_channels,
            };
            c.by_did.insert(n.fields.number.clone(), n.id);
            c.numbers.push(plan.clone());
            c.number_info.insert(
                n.id,
                NumberInfo {
                    plan,
                    name: n.fields.name,
                    incoming_message: n.fields.incoming_message,
                    incoming_popup_url: n.fields.incoming_popup_url,
                    answer_popup_url: n.fields.answer_popup_url,
                    recording: n.fields.recording,
                },
            );
        }
        c.trunks = trunks
            .into_iter()
            .filter(|t| t.fields.enabled)
            .map(|t| Trunk {
                id: t.id,
                sources: t
                    .fields
                    .allowed_sources
                    .iter()
                    .filter_map(|s| SourceRule::parse(s))
                    .collect(),
                outbound_host: t.fields.outbound_host,
                username: t.fields.username,
                password: t.fields.password,
                caller_id_header: t.fields.caller_id_header,
            })
            .collect();
        for t in terminals {
            c.terminals.insert(
                t.fields.username.clone(),
                Terminal {
                    id: t.id,
                    username: t.fields.username,
                    agent_id: t.fields.agent_id,
                    password: t.fields.sip_password,
                },
            );
        }
        for a in agents {
            if let Some(ext) = a.fields.extension.clone().filter(|e| !e.is_empty()) {
                // An agent's extension wins over anything else's.
                c.extensions.insert(ext, Extension::Agent(a.id));
            }
            c.agents.insert(
                a.id,
                Agent {
                    id: a.id,
                    nickname: a.fields.nickname,
                    extension: a.fields.extension,
                    caller: dial_plan::Caller {
                        agent: a.id,
                        caller_number: a.fields.caller_number_id,
                        numbers: a.fields.number_ids,
                    },
                },
            );
        }
        for g in groups {
            if let Some(ext) = g.fields.extension.clone().filter(|e| !e.is_empty()) {
                // An agent's extension wins, as it always has (the API refuses duplicates).
                match c.extensions.get(&ext) {
                    Some(Extension::Agent(_)) => {}
                    _ => {
                        c.extensions.insert(ext, Extension::Group(g.id));
                    }
                }
            }
            c.groups.insert(g.id, g);
        }
        c.blocked = blocks.into_iter().map(|b| b.fields.number).collect();
        for r in restrictions {
            c.restrictions
                .entry(r.fields.number)
                .or_default()
                .push(r.fields.caller_number);
        }
        Ok(c)
    }

    /// Whether calls to or from our number `number` are recorded: the number's override, or
    /// the system setting.
    pub fn records(&self, number: Option<i64>) -> bool {
        match number.and_then(|n| self.number_info.get(&n)) {
            Some(n) => n.recording.applies(self.recording),
            None => self.recording,
        }
    }

    pub fn number_by_did(&self, did: &str) -> Option<&NumberInfo> {
        self.by_did.get(did).and_then(|id| self.number_info.get(id))
    }

    pub fn number(&self, id: i64) -> Option<&NumberInfo> {
        self.number_info.get(&id)
    }

    pub fn agent(&self, id: i64) -> Option<&Agent> {
        self.agents.get(&id)
    }

    pub fn terminal(&self, username: &str) -> Option<&Terminal> {
        self.terminals.get(username)
    }

    /// The SIP user names of the agent's terminals.
    pub fn terminals_of(&self, agent: i64) -> Vec<String> {
        let mut v: Vec<String> = self
            .terminals
            .values()
            .filter(|t| t.agent_id == Some(agent))
            .map(|t| t.username.clone())
            .collect();
        v.sort();
        v
    }

    pub fn group(&self, id: i64) -> Option<&store::groups::Group> {
        self.groups.get(&id)
    }

    pub fn forwarding(&self, id: i64) -> Option<&dial_plan::Forward> {
        self.forwardings.get(&id)
    }

    /// Follows IVRs from `target` at `now_ms` (epoch ms, read in the center's time zone):
    /// schedules and defaults that lead to other IVRs are taken, a menu stops the walk.
    /// `None` when an IVR is missing or the walk does not end (a loop saved before checks).
    pub fn follow_ivrs(&self, target: RouteTarget, now_ms: i64) -> Option<IvrOutcome> {
        const MAX_HOPS: usize = 16;
        let local = jiff::Timestamp::from_millisecond(now_ms)
            .ok()?
            .to_zoned(self.time_zone.clone().unwrap_or(jiff::tz::TimeZone::UTC))
            .datetime();
        let mut t = target;
        for _ in 0..MAX_HOPS {
            if t.kind != TargetKind::Ivr {
                return Some(IvrOutcome::Target(t));
            }
            match self.ivrs.get(&t.id)?.start(local) {
                engine::ivr::Start::Route(next) => t = next,
                engine::ivr::Start::Menu(run) => return Some(IvrOutcome::Menu(run)),
            }
        }
        None
    }

    pub fn groups(&self) -> impl Iterator<Item = &store::groups::Group> {
        self.groups.values()
    }

    /// The trunk outbound calls leave on: the first enabled one with an outbound host.
    pub fn outbound_trunk(&self) -> Option<&Trunk> {
        self.trunks.iter().find(|t| t.outbound_host.is_some())
    }

    /// Whether `caller` is on the incoming block list (BLOCK).
    pub fn is_blocked(&self, caller: &str) -> bool {
        engine::phone_number::variants(caller)
            .is_some_and(|(a, b)| self.blocked.contains(&a) || self.blocked.contains(&b))
    }
}

impl dial_plan::Lookup for Config {
    fn extension(&self, dialed: &str) -> Option<Extension> {
        self.extensions.get(dialed).copied()
    }

    fn numbers(&self) -> &[dial_plan::Number] {
        &self.numbers
    }

    fn is_restricted(&self, destination: &str, caller_number: &str) -> bool {
        let Some((d1, d2)) = engine::phone_number::variants(destination) else {
            return false;
        };
        // An unknown caller number matches only the restrictions that apply to everyone.
        let (c1, c2) = engine::phone_number::variants(caller_number).unwrap_or_default();
        [d1, d2].iter().any(|d| {
            self.restrictions
                .get(d)
                .is_some_and(|callers| callers.iter().any(|c| c.is_empty() || *c == c1 || *c == c2))
        })
    }
}

/// The live configuration, shared by every call and the SIP edge.
pub struct Directory {
    current: RwLock<Arc<Config>>,
    changed: Notify,
}

impl Directory {
    /// Loads the configuration; fails when the database cannot be read.
    pub async fn load(store: &Store) -> store::Result<Arc<Directory>> {
        let config = Config::load(store).await?;
        Ok(Arc::new(Directory {
            current: RwLock::new(Arc::new(config)),
            changed: Notify::new(),
        }))
    }

    /// The configuration now; a call keeps the snapshot it started with.
    pub fn get(&self) -> Arc<Config> {
        match self.current.read() {
            Ok(c) => Arc::clone(&c),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Something was written: reload soon.
    pub fn changed(&self) {
        self.changed.notify_one();
    }

    /// Reloads after each change (several changes in a row are read once) and every
    /// `SAFETY_RELOAD`. `reloaded` hears of every new snapshot.
    pub async fn run(self: Arc<Self>, store: Store, reloaded: tokio::sync::watch::Sender<u64>) {
        let mut generation = 0;
        loop {
            tokio::select! {
                () = self.changed.notified() => {}
                () = tokio::time::sleep(SAFETY_RELOAD) => {}
            }
            match Config::load(&store).await {
                Ok(c) => {
                    match self.current.write() {
                        Ok(mut cur) => *cur = Arc::new(c),
                        Err(p) => *p.into_inner() = Arc::new(c),
                    }
                    generation += 1;
                    reloaded.send_replace(generation);
                }
                Err(e) => tracing::warn!(error = %e, "cannot reload the configuration"),
            }
        }
    }
}

impl sip::Directory for Directory {
    fn terminal(&self, username: &str) -> Option<sip::Terminal> {
        let c = self.get();
        c.terminal(username).map(|t| sip::Terminal {
            id: t.id,
            username: t.username.clone(),
            password: t.password.clone(),
        })
    }

    fn trunk_at(&self, source: SocketAddr, dialed: &str) -> Option<i64> {
        let c = self.get();
        let exact = c
            .trunks
            .iter()
            .find(|t| t.sources.iter().any(|s| s.has_port() && s.matches(source)));
        if let Some(t) = exact {
            return Some(t.id);
        }
        // An address without a port may be shared with phones: only calls to our numbers are
        // the carrier's.
        if !c.by_did.contains_key(dialed) {
            return None;
        }
        c.trunks
            .iter()
            .find(|t| t.sources.iter().any(|s| !s.has_port() && s.matches(source)))
            .map(|t| t.id)
    }

    fn is_trunk_host(&self, ip: IpAddr) -> bool {
        self.get()
            .trunks
            .iter()
            .any(|t| t.sources.iter().any(|s| s.matches_host(ip)))
    }
}
