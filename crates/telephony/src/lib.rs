//! The call-control core: between the SIP edge (legs, registrations) and the media edge
//! (relays, players) on one side and the API on the other. One task per call runs an engine
//! session and carries out its commands; the ACD driver runs the queues; the configuration is
//! held in memory; presence follows registrations; everything that happened is written through
//! the journal. Applications never name SIP: they use calls, legs and originate.
//!
//! ```text
//!   sip::SipEdge ──EdgeEvent──▶ Core (event loop) ──▶ CallTask (engine::session) ──▶ legs, relay
//!                                  │                        │
//!                                  └──▶ AcdHandle (engine::acd, realtime, live feed) ◀─┘
//!                                                 journal ──▶ store
//! ```

mod acd;
mod call;
mod callback;
mod caller_srtp;
mod directory;
mod recording;
mod routing;
mod voicemail;
mod voices;

pub use acd::AcdHandle;
pub use call::RecordingControlError;
pub use callback::CallbackError;
pub use directory::Directory;

use engine::agent_state::{AgentStatus, ChangedBy, Readiness};
use engine::live::{Live, Realtime};
use engine::Clock;
use media::{PortRange, RtpPool};
use sip::{EdgeEvent, SipConfig, SipEdge, SipServer, StoredBinding};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::journal::{Event, Journal};
use store::Store;
use tokio::sync::{broadcast, mpsc};

#[derive(Debug, Clone)]
pub struct TelephonyConfig {
    pub sip: SipConfig,
    pub rtp_ports: PortRange,
    /// A call with no RTP from either side for this long is hung up.
    pub rtp_idle_timeout: Duration,
    /// Where voice files are stored (`<id>.wav`), to play them.
    pub voice_dir: PathBuf,
    /// Where call recordings are written (`<day>/<call>.wav`).
    pub recordings_dir: PathBuf,
    /// Where voicemail messages are written (`<day>/<call>.wav`).
    pub voicemail_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TelephonyError {
    #[error("SIP: {0}")]
    Sip(#[from] sip::SipError),
    #[error("loading the configuration: {0}")]
    Store(#[from] store::StoreError),
}

/// What every call shares.
pub(crate) struct Core {
    pub edge: SipEdge,
    pub directory: Arc<Directory>,
    pub voices: voices::Voices,
    pub acd: AcdHandle,
    pub journal: Journal,
    pub clock: Arc<dyn Clock>,
    pub rtp: RtpPool,
    pub rtp_idle_timeout: Duration,
    pub channels: Arc<routing::Channels>,
    pub store: Store,
    pub recordings_dir: PathBuf,
    pub voicemail_dir: PathBuf,
    /// The call whose message was just stored, for the notifier (VOICE-06).
    pub voicemail_saved: broadcast::Sender<i64>,
    /// Calls in progress on this node, by call id: how the API reaches a call's task.
    calls: std::sync::Mutex<HashMap<i64, mpsc::UnboundedSender<call::Internal>>>,
}

impl Core {
    fn register_call(&self, id: i64, tx: mpsc::UnboundedSender<call::Internal>) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.insert(id, tx);
        }
    }

    fn unregister_call(&self, id: i64) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.remove(&id);
        }
    }

    fn call(&self, id: i64) -> Option<mpsc::UnboundedSender<call::Internal>> {
        self.calls.lock().ok()?.get(&id).cloned()
    }
}

/// The running telephony.
pub struct Telephony {
    handle: TelephonyHandle,
    sip: SipServer,
}

/// What the API and the binary use; cheap to clone.
#[derive(Clone)]
pub struct TelephonyHandle {
    core: Arc<Core>,
}

impl Telephony {
    pub async fn start(
        cfg: TelephonyConfig,
        store: Store,
        journal: Journal,
        clock: Arc<dyn Clock>,
    ) -> Result<Telephony, TelephonyError> {
        let directory = Directory::load(&store).await?;
        let media_ip: IpAddr = cfg.sip.public_ip.unwrap_or(cfg.sip.listen.ip());
        let rtp = RtpPool::new(media_ip, cfg.rtp_ports);
        let (edge, events, sip) = SipEdge::start(
            cfg.sip.clone(),
            directory.clone() as Arc<dyn sip::Directory>,
            rtp.clone(),
        )
        .await?;
        let (reloaded_tx, reloaded) = tokio::sync::watch::channel(0);
        tokio::spawn(directory.clone().run(store.clone(), reloaded_tx));
        let acd = acd::spawn(
            store.clone(),
            journal.clone(),
            clock.clone(),
            directory.clone(),
            reloaded,
        )
        .handle;
        let core = Arc::new(Core {
            edge,
            directory,
            voices: voices::Voices::new(cfg.voice_dir),
            acd,
            journal,
            clock,
            rtp,
            rtp_idle_timeout: cfg.rtp_idle_timeout,
            channels: Arc::default(),
            store,
            recordings_dir: cfg.recordings_dir,
            voicemail_dir: cfg.voicemail_dir,
            voicemail_saved: broadcast::channel(64).0,
            calls: Default::default(),
        });
        restore_registrations(&core).await;
        let (bindings_tx, bindings_rx) = mpsc::unbounded_channel();
        tokio::spawn(keep_bindings(core.store.clone(), bindings_rx));
        tokio::spawn(run(core.clone(), events, bindings_tx));
        Ok(Telephony {
            handle: TelephonyHandle { core },
            sip,
        })
    }

    pub fn handle(&self) -> TelephonyHandle {
        self.handle.clone()
    }

    /// Whether SIP still serves, for readiness checks.
    pub fn sip_probe(&self) -> sip::SipProbe {
        self.sip.probe()
    }

    pub async fn shutdown(self) {
        self.sip.shutdown().await;
    }
}

impl TelephonyHandle {
    /// The calls whose voicemail message has just been stored (VOICE-06's notifier listens).
    pub fn voicemails_saved(&self) -> broadcast::Receiver<i64> {
        self.core.voicemail_saved.subscribe()
    }

    /// The address SIP listens on.
    pub fn sip_addr(&self) -> SocketAddr {
        self.core.edge.local_addr()
    }

    /// The agent's status in each of their groups.
    pub async fn agent_status(&self, agent: i64) -> Vec<(i64, AgentStatus)> {
        self.core.acd.agent_status(agent).await
    }

    pub fn set_readiness(
        &self,
        agent: i64,
        group: Option<i64>,
        readiness: Readiness,
        by: ChangedBy,
    ) {
        self.core.acd.set_readiness(agent, group, readiness, by);
    }

    pub async fn realtime(&self, group: Option<i64>, hours: u32) -> Option<Realtime> {
        self.core.acd.realtime(group, hours).await
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Live> {
        self.core.acd.subscribe()
    }

    /// A setting was written: calls and queues use it from now on.
    pub fn config_changed(&self) {
        self.core.directory.changed();
    }

    /// Turns the agent's browser phone ON; `events` gets its `phone_*` messages.
    pub async fn phone_on(
        &self,
        agent: i64,
        events: mpsc::UnboundedSender<sip::browser_phone::PhoneEvent>,
    ) -> Result<sip::browser_phone::PhoneLine, String> {
        self.core.edge.turn_on_phone(agent, events).await
    }

    /// PRES-06: rings `agent`'s own desk phones and, once one answers, calls `colleague`.
    pub fn callback(&self, agent: i64, colleague: i64) -> Result<(), CallbackError> {
        callback::start(&self.core, agent, colleague)
    }

    /// Pauses (or resumes) the recording of call `call`, on behalf of agent `by`.
    pub async fn pause_recording(
        &self,
        call: i64,
        paused: bool,
        by: Option<i64>,
    ) -> Result<(), RecordingControlError> {
        let task = self
            .core
            .call(call)
            .ok_or(RecordingControlError::NoSuchCall)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        task.send(call::Internal::PauseRecording { paused, by, reply })
            .map_err(|_| RecordingControlError::NoSuchCall)?;
        answer
            .await
            .unwrap_or(Err(RecordingControlError::NoSuchCall))
    }

    /// Calls in progress on the SIP edge (dialogs), for health and metrics.
    pub fn active_dialogs(&self) -> usize {
        self.core.edge.active_dialogs()
    }
}

/// The core's event loop: what the SIP edge reports.
async fn run(
    core: Arc<Core>,
    mut events: mpsc::UnboundedReceiver<EdgeEvent>,
    bindings: mpsc::UnboundedSender<Kept>,
) {
    while let Some(e) = events.recv().await {
        match e {
            EdgeEvent::Call(call) => {
                tokio::spawn(incoming(core.clone(), call));
            }
            EdgeEvent::Registration { username, online } => {
                registration_changed(&core, &username, online);
            }
            EdgeEvent::Bindings {
                username,
                bindings: b,
                kept,
            } => {
                bindings.send((username, b, kept)).ok();
            }
            EdgeEvent::BrowserPhone { agent } => presence(&core, agent),
        }
    }
}

/// A new call from the SIP edge: route it, then run it.
async fn incoming(core: Arc<Core>, call: sip::IncomingCall) {
    match routing::route(&core, &call).await {
        Ok(plan) => {
            let Ok(mut sdp) = media::sdp::Sdp::parse(&call.offer) else {
                call.leg.reject(sip::Refuse::ServerError);
                return;
            };
            // The edge let an SRTP offer through only over TLS; it is checked again here
            // because this is where the caller's leg is made SRTP.
            let srtp = match caller_srtp::CallerSrtp::take_offer(&mut sdp, call.wire.allows_sdes())
            {
                Ok(srtp) => srtp,
                Err(why) => {
                    tracing::warn!(error = %why, "an offer the edge let through is refused");
                    call.leg.reject(sip::Refuse::ServerError);
                    return;
                }
            };
            let caller = call::CallerSide {
                leg: call.leg,
                sdp,
                media: None,
                up: false,
                srtp,
            };
            call::CallTask::start(core, caller, call.call_id, plan).await;
        }
        Err(refused) => {
            if let Some(r) = &refused.record {
                record_refused(&core, &call.call_id, r).await;
            }
            call.leg.reject(refused.refuse);
        }
    }
}

/// A call refused before it rang (blocked, restricted): in history with its cause.
async fn record_refused(core: &Core, call_uuid: &str, r: &routing::RefusedCall) {
    let Ok(id) = core.journal.new_call_id().await else {
        return;
    };
    let now = call::ms(core.clock.now());
    let writes = vec![
        store::journal::Write::CallStarted(store::journal::CallStart {
            id,
            call_uuid: call_uuid.to_owned(),
            direction: r.direction,
            started_at: now,
            remote_party: r.remote_party.clone(),
            number_id: r.number_id,
            number: r.number.clone(),
            agent_id: r.agent_id,
            peer_agent_id: None,
            group_id: None,
        }),
        store::journal::Write::CallEnded {
            call: id,
            at: now,
            cause: r.cause.to_owned(),
        },
    ];
    if let Err(e) = core.journal.commit(writes).await {
        tracing::error!(error = %e, "could not write call history");
    }
}

/// A terminal came online or went offline: an event, and the agent's presence (STATUS-02).
fn registration_changed(core: &Core, username: &str, online: bool) {
    let config = core.directory.get();
    let Some(terminal) = config.terminal(username) else {
        return;
    };
    let kind = if online {
        "terminal.online"
    } else {
        "terminal.offline"
    };
    if let Some(agent) = terminal.agent_id {
        // The ACD first: a phone that has just been told 200 OK may get a call at once.
        presence(core, agent);
    }
    core.journal.record(
        Event::new(
            call::ms(core.clock.now()),
            kind,
            serde_json::json!({"terminal": username, "terminal_id": terminal.id}),
        )
        .agent(terminal.agent_id),
    );
    metrics::gauge!("tsunagu_registrations_active").increment(if online { 1.0 } else { -1.0 });
}

/// The agent is online while any of their phones is registered or their browser phone is ON
/// (STATUS-02).
fn presence(core: &Core, agent: i64) {
    let config = core.directory.get();
    let online = core.edge.browser_phone(agent).is_some()
        || config
            .terminals_of(agent)
            .iter()
            .any(|u| core.edge.is_registered(u));
    core.acd.send(acd::AcdInput::Online { agent, online });
}

/// Puts back the registrations kept from before a restart.
async fn restore_registrations(core: &Core) {
    let now = call::ms(core.clock.now());
    let rows = match core.store.conn().await {
        Ok(mut conn) => store::registrations::live(&mut conn, now).await,
        Err(e) => Err(e),
    };
    let rows = match rows {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the kept registrations");
            return;
        }
    };
    let mut by_user: HashMap<String, Vec<StoredBinding>> = HashMap::new();
    for r in rows {
        let (Ok(received), Some(transport)) = (
            r.received.parse::<SocketAddr>(),
            sip::Wire::parse(&r.transport),
        ) else {
            continue;
        };
        by_user.entry(r.username).or_default().push(StoredBinding {
            contact: r.contact,
            received,
            transport,
            expires_at_ms: r.expires_at,
            call_id: r.call_id,
            cseq: u32::try_from(r.cseq).unwrap_or(0),
            user_agent: r.user_agent,
        });
    }
    let online = core.edge.restore_bindings(by_user.into_iter().collect());
    if !online.is_empty() {
        tracing::info!(terminals = online.len(), "registrations restored");
    }
    let config = core.directory.get();
    for username in online {
        if let Some(agent) = config.terminal(&username).and_then(|t| t.agent_id) {
            presence(core, agent);
        }
        metrics::gauge!("tsunagu_registrations_active").increment(1.0);
    }
}

/// A terminal's bindings to keep, and whom to tell once they are.
type Kept = (
    String,
    Vec<StoredBinding>,
    Option<tokio::sync::oneshot::Sender<()>>,
);

/// Writes the registrar's bindings as they change: what is queued goes in one transaction,
/// each terminal's latest state only.
async fn keep_bindings(store: Store, mut rx: mpsc::UnboundedReceiver<Kept>) {
    let mut pending: HashMap<String, Vec<StoredBinding>> = HashMap::new();
    let mut waiting = Vec::new();
    while let Some((user, b, kept)) = rx.recv().await {
        pending.insert(user, b);
        waiting.extend(kept);
        while let Ok((user, b, kept)) = rx.try_recv() {
            pending.insert(user, b);
            waiting.extend(kept);
        }
        let result = async {
            let mut tx = store.begin().await?;
            for (user, bindings) in &pending {
                let rows: Vec<store::registrations::Registration> = bindings
                    .iter()
                    .map(|b| store::registrations::Registration {
                        username: user.clone(),
                        contact: b.contact.clone(),
                        received: b.received.to_string(),
                        transport: b.transport.as_str().to_owned(),
                        call_id: b.call_id.clone(),
                        cseq: i64::from(b.cseq),
                        expires_at: b.expires_at_ms,
                        user_agent: b.user_agent.clone(),
                    })
                    .collect();
                store::registrations::replace(&mut tx, user, &rows).await?;
            }
            tx.commit().await?;
            Ok::<(), store::StoreError>(())
        }
        .await;
        match result {
            Ok(()) => pending.clear(),
            // Kept for the next round; the phones are answered anyway.
            Err(e) => tracing::warn!(error = %e, "cannot keep the registrations"),
        }
        for w in waiting.drain(..) {
            w.send(()).ok();
        }
    }
}
