//! The SIP server: transports, the request dispatcher, the registrar and in-dialog routing.
//! Calls themselves live in `b2bua`.

use crate::auth_limiter::AuthLimiter;
use crate::b2bua::{self, CallEvent};
use crate::digest::{DigestAuth, Verdict};
use crate::location::{ContactParam, Location, RegisterRequest, Transport as BindTransport};
use crate::msg;
use media::{PortRange, RtpPool};
use rsipstack::sip::{Method, Request, SipMessage};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::transaction::{Transaction, TransactionEvent};
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::TransportLayer;
use rsipstack::EndpointBuilder;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct SipConfig {
    /// UDP and TCP listen address.
    pub listen: SocketAddr,
    /// Digest realm.
    pub realm: String,
    /// Address put into SDP and Contact headers; the listen address unless set.
    pub public_ip: Option<IpAddr>,
    pub rtp_ports: PortRange,
    /// A call with no RTP from either side for this long is hung up.
    pub rtp_idle_timeout: Duration,
    /// Where voice files are stored (`<id>.wav`), to play them.
    pub voice_dir: std::path::PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum SipError {
    #[error("SIP transport on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: rsipstack::Error,
    },
    #[error("SIP endpoint: {0}")]
    Endpoint(String),
}

/// Where an in-dialog request for a Call-ID goes.
#[derive(Clone)]
pub(crate) struct DialogRoute {
    pub call: mpsc::UnboundedSender<CallEvent>,
    pub leg: b2bua::LegRef,
}

/// What every browser phone's media gateway shares: one DTLS certificate (making one costs
/// tens of milliseconds) and the gateway settings.
pub(crate) struct WebRtc {
    pub cert: media::webrtc::WebRtcCert,
    pub config: media::webrtc::WebRtcConfig,
}

pub(crate) struct Shared {
    pub cfg: SipConfig,
    pub store: Store,
    pub endpoint: EndpointInnerRef,
    /// Our address as peers should reach it.
    pub contact_addr: SocketAddr,
    pub digest: Mutex<DigestAuth>,
    pub location: Mutex<Location>,
    pub limiter: Mutex<AuthLimiter>,
    pub dialogs: Mutex<HashMap<String, DialogRoute>>,
    /// Calls in progress per phone number, for its channel limit.
    pub channels: Mutex<HashMap<i64, i64>>,
    pub rtp: RtpPool,
    /// TCP connections phones registered over, by their address: requests to such a phone
    /// must go down the same connection (it cannot accept one from us).
    pub flows: Mutex<HashMap<SocketAddr, rsipstack::transport::SipConnection>>,
    pub queue: crate::queue::QueueHandle,
    pub prompts: crate::prompts::Prompts,
    pub browser_phones: Mutex<crate::browser_phone::BrowserPhones>,
    pub webrtc: WebRtc,
    next_call: std::sync::atomic::AtomicU64,
    started: Instant,
}

impl Shared {
    /// Milliseconds on the engine's clock.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A fresh id for a call entering the ACD.
    pub fn next_queue_call(&self) -> u64 {
        self.next_call
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub fn wall_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    pub fn route_dialog(&self, call_id: &str, route: DialogRoute) {
        if let Ok(mut d) = self.dialogs.lock() {
            d.insert(call_id.to_owned(), route);
        }
    }

    /// The connection to reach `addr` on when it registered over TCP.
    pub fn flow(&self, addr: SocketAddr) -> Option<rsipstack::transport::SipConnection> {
        self.flows.lock().ok()?.get(&addr).cloned()
    }

    pub fn forget_dialog(&self, call_id: &str) {
        if let Ok(mut d) = self.dialogs.lock() {
            d.remove(call_id);
        }
    }

    fn dialog(&self, call_id: &str) -> Option<DialogRoute> {
        self.dialogs.lock().ok()?.get(call_id).cloned()
    }

    pub fn active_dialogs(&self) -> usize {
        self.dialogs.lock().map(|d| d.len()).unwrap_or(0)
    }

    /// Sends a response through a transaction that another task is driving.
    pub fn respond(
        tu: &rsipstack::transaction::transaction::TransactionEventSender,
        resp: Option<rsipstack::sip::Response>,
    ) {
        if let Some(r) = resp {
            tu.send(TransactionEvent::Respond(r)).ok();
        }
    }
}

/// Turns agents' browser phones ON; cheap to clone.
#[derive(Clone)]
pub struct Phones {
    shared: Arc<Shared>,
}

impl Phones {
    /// Turns the agent's browser phone ON (PHONE-01); dropping the line turns it OFF.
    pub async fn turn_on(
        &self,
        agent: i64,
        events: tokio::sync::mpsc::UnboundedSender<serde_json::Value>,
    ) -> Result<crate::browser_phone::PhoneLine, String> {
        crate::browser_phone::turn_on(&self.shared, agent, events).await
    }
}

pub struct SipServer {
    cancel: CancellationToken,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SipServer {
    pub async fn start(cfg: SipConfig, store: Store) -> Result<SipServer, SipError> {
        let cancel = CancellationToken::new();
        let layer = TransportLayer::new(cancel.child_token());
        let udp = UdpConnection::create_connection(cfg.listen, None, Some(cancel.child_token()))
            .await
            .map_err(|source| SipError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let bound = udp.get_addr().get_socketaddr().unwrap_or(cfg.listen);
        layer.add_transport(udp.into());
        // TCP on the same port as UDP, so that a port-0 test server gets one port for both.
        let tcp = TcpListenerConnection::new(bound, None)
            .await
            .map_err(|source| SipError::Bind {
                addr: bound,
                source,
            })?;
        layer.add_transport(tcp.into());
        let endpoint = EndpointBuilder::new()
            .with_user_agent("Tsunagu")
            .with_transport_layer(layer)
            .with_cancel_token(cancel.child_token())
            .build();
        let mut incoming = endpoint
            .incoming_transactions()
            .map_err(|e| SipError::Endpoint(e.to_string()))?;
        let inner = endpoint.inner.clone();
        let contact_ip = cfg.public_ip.unwrap_or(bound.ip());
        let contact_addr = SocketAddr::new(contact_ip, bound.port());
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        let media_ip = contact_ip;
        let shared = Arc::new(Shared {
            digest: Mutex::new(DigestAuth::new(
                &cfg.realm,
                secret,
                Duration::from_secs(300),
            )),
            location: Mutex::new(Location::new(8, 30, 3600)),
            limiter: Mutex::new(AuthLimiter::new(
                10,
                Duration::from_secs(60),
                Duration::from_secs(300),
            )),
            dialogs: Mutex::new(HashMap::new()),
            channels: Mutex::new(HashMap::new()),
            rtp: RtpPool::new(media_ip, cfg.rtp_ports),
            queue: crate::queue::spawn(store.clone()),
            prompts: crate::prompts::Prompts::new(cfg.voice_dir.clone()),
            browser_phones: Mutex::new(Default::default()),
            webrtc: WebRtc {
                cert: media::webrtc::WebRtcCert::generate()
                    .map_err(|e| SipError::Endpoint(format!("WebRTC certificate: {e}")))?,
                config: media::webrtc::WebRtcConfig {
                    bind_ip: media_ip,
                    ports: Some(cfg.rtp_ports),
                    ..Default::default()
                },
            },
            flows: Mutex::new(HashMap::new()),
            next_call: std::sync::atomic::AtomicU64::new(1),
            cfg,
            store,
            endpoint: inner.clone(),
            contact_addr,
            started: Instant::now(),
        });
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = inner.serve().await {
                tracing::error!(error = %e, "SIP endpoint stopped");
            }
        }));
        let s = shared.clone();
        let stop = cancel.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    tx = incoming.recv() => match tx {
                        Some(tx) => { tokio::spawn(dispatch(s.clone(), tx)); }
                        None => break,
                    },
                }
            }
        }));
        let s = shared.clone();
        let stop = cancel.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => expire_bindings(&s).await,
                }
            }
        }));
        tracing::info!(addr = %contact_addr, "SIP listening on UDP and TCP");
        Ok(SipServer {
            cancel,
            shared,
            tasks,
        })
    }

    /// The address SIP listens on (useful when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.contact_addr
    }

    /// Whether SIP still serves (for /readyz): the endpoint and dispatch loops are alive.
    pub fn probe(&self) -> crate::SipProbe {
        let loops = self
            .tasks
            .iter()
            .take(2)
            .map(|t| t.abort_handle())
            .collect();
        crate::SipProbe::new(loops, self.cancel.clone(), self.shared.contact_addr)
    }

    /// The ACD, for the API's live routes.
    pub fn queue(&self) -> crate::queue::QueueHandle {
        self.shared.queue.clone()
    }

    /// The browser phones, for the API's WebSocket.
    pub fn phones(&self) -> Phones {
        Phones {
            shared: self.shared.clone(),
        }
    }

    /// Calls and registrations in flight, for metrics.
    pub fn active_dialogs(&self) -> usize {
        self.shared.active_dialogs()
    }

    pub async fn shutdown(self) {
        self.cancel.cancel();
        for t in self.tasks {
            t.abort();
        }
    }
}

async fn dispatch(shared: Arc<Shared>, mut tx: Transaction) {
    let method = tx.original.method;
    let result = match method {
        Method::Options => {
            let resp = msg::response(
                &tx.original,
                200,
                "OK",
                Some(&msg::token()),
                &[
                    ("Allow", msg::ALLOW.into()),
                    ("Accept", "application/sdp".into()),
                ],
                None,
            );
            respond(&mut tx, resp).await
        }
        Method::Register => register(&shared, &mut tx).await,
        Method::Invite if msg::to_tag(&tx.original).is_none() => {
            b2bua::handle_invite(shared, tx).await;
            Ok(())
        }
        Method::Invite | Method::Bye => in_dialog(&shared, tx).await,
        Method::Ack | Method::Cancel => Ok(()),
        _ => {
            let resp = msg::response(
                &tx.original,
                405,
                "Method Not Allowed",
                Some(&msg::token()),
                &[("Allow", msg::ALLOW.into())],
                None,
            );
            respond(&mut tx, resp).await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, ?method, "SIP request handling failed");
    }
}

pub(crate) async fn respond(
    tx: &mut Transaction,
    resp: Option<rsipstack::sip::Response>,
) -> Result<(), rsipstack::Error> {
    match resp {
        Some(r) => tx.respond(r).await,
        // A request we cannot even answer (no Call-ID, no CSeq): drop it.
        None => Ok(()),
    }
}

/// BYE and re-INVITE go to the call that owns the dialog.
async fn in_dialog(shared: &Arc<Shared>, mut tx: Transaction) -> Result<(), rsipstack::Error> {
    let route = msg::call_id(&tx.original).and_then(|c| shared.dialog(&c));
    match route {
        Some(r) => {
            let ev = CallEvent::InDialog {
                leg: r.leg,
                tx: Box::new(tx),
            };
            if let Err(mpsc::error::SendError(CallEvent::InDialog { mut tx, .. })) = r.call.send(ev)
            {
                let resp = msg::response(
                    &tx.original,
                    481,
                    "Call/Transaction Does Not Exist",
                    None,
                    &[],
                    None,
                );
                respond(&mut tx, resp).await?;
            }
            Ok(())
        }
        None => {
            let resp = msg::response(
                &tx.original,
                481,
                "Call/Transaction Does Not Exist",
                None,
                &[],
                None,
            );
            respond(&mut tx, resp).await
        }
    }
}

/// Outcome of checking a request's digest credentials.
pub(crate) enum Auth {
    /// The terminal with this username authenticated.
    Ok(store::terminals::Terminal),
    /// A response was sent (challenge or refusal); stop here.
    Answered,
}

/// Digest authentication of a REGISTER (401/WWW-) or an INVITE (407/Proxy-).
pub(crate) async fn authenticate(
    shared: &Arc<Shared>,
    tx: &mut Transaction,
    proxy: bool,
) -> Result<Auth, rsipstack::Error> {
    let req = tx.original.clone();
    let Some(source) = msg::source_addr(&req) else {
        let resp = msg::response(&req, 400, "Bad Request", Some(&msg::token()), &[], None);
        respond(tx, resp).await?;
        return Ok(Auth::Answered);
    };
    let now = Instant::now();
    let blocked = shared
        .limiter
        .lock()
        .map(|mut l| l.is_blocked(now, source.ip()))
        .unwrap_or(false);
    if blocked {
        let resp = msg::response(&req, 403, "Forbidden", Some(&msg::token()), &[], None);
        respond(tx, resp).await?;
        return Ok(Auth::Answered);
    }
    let (auth_header, challenge_header, challenge_code, challenge_reason) = if proxy {
        (
            "Proxy-Authorization",
            "Proxy-Authenticate",
            407,
            "Proxy Authentication Required",
        )
    } else {
        ("Authorization", "WWW-Authenticate", 401, "Unauthorized")
    };
    let challenge = |stale: bool| -> Vec<(&str, String)> {
        let mut values = shared
            .digest
            .lock()
            .map(|mut d| d.challenges(now, stale))
            .unwrap_or_default();
        // MD5 goes first: many phones (and SIPp) answer only the first challenge and know no
        // other algorithm; clients that support SHA-256 still find it in the second.
        values.reverse();
        values.into_iter().map(|v| (challenge_header, v)).collect()
    };
    let Some(value) = msg::header(&req, auth_header) else {
        let resp = msg::response(
            &req,
            challenge_code,
            challenge_reason,
            Some(&msg::token()),
            &challenge(false),
            None,
        );
        respond(tx, resp).await?;
        return Ok(Auth::Answered);
    };
    let creds = match DigestAuth::parse_credentials(&value) {
        Ok(c) => c,
        Err(e) => {
            let resp = msg::response(
                &req,
                400,
                &format!("Bad {auth_header}: {e}"),
                Some(&msg::token()),
                &[],
                None,
            );
            respond(tx, resp).await?;
            return Ok(Auth::Answered);
        }
    };
    let terminal = {
        let mut conn = match shared.store.conn().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "store unavailable during SIP auth");
                let resp = msg::response(
                    &req,
                    500,
                    "Server Internal Error",
                    Some(&msg::token()),
                    &[],
                    None,
                );
                respond(tx, resp).await?;
                return Ok(Auth::Answered);
            }
        };
        store::terminals::by_username(&mut conn, &creds.username)
            .await
            .ok()
            .flatten()
    };
    // An unknown user is checked against a throwaway password so that it costs the same and
    // answers the same as a wrong password.
    let password = terminal
        .as_ref()
        .map(|t| t.fields.sip_password.clone())
        .unwrap_or_else(msg::token);
    let verdict = shared
        .digest
        .lock()
        .map(|mut d| d.verify(now, method_name(&req), &creds, &password))
        .unwrap_or(Verdict::Wrong);
    match (verdict, terminal) {
        (Verdict::Ok, Some(t)) => {
            if let Ok(mut l) = shared.limiter.lock() {
                l.record_success(now, source.ip());
            }
            Ok(Auth::Ok(t))
        }
        (Verdict::Stale, _) => {
            let resp = msg::response(
                &req,
                challenge_code,
                challenge_reason,
                Some(&msg::token()),
                &challenge(true),
                None,
            );
            respond(tx, resp).await?;
            Ok(Auth::Answered)
        }
        _ => {
            let now_blocked = shared
                .limiter
                .lock()
                .map(|mut l| l.record_failure(now, source.ip()))
                .unwrap_or(false);
            if now_blocked {
                tracing::warn!(source = %source.ip(), "blocking a source after repeated SIP authentication failures");
            }
            let resp = msg::response(&req, 403, "Forbidden", Some(&msg::token()), &[], None);
            respond(tx, resp).await?;
            Ok(Auth::Answered)
        }
    }
}

fn method_name(req: &Request) -> &'static str {
    match req.method {
        Method::Register => "REGISTER",
        Method::Invite => "INVITE",
        Method::Bye => "BYE",
        Method::Options => "OPTIONS",
        _ => "INVITE",
    }
}

async fn register(shared: &Arc<Shared>, tx: &mut Transaction) -> Result<(), rsipstack::Error> {
    let terminal = match authenticate(shared, tx, false).await? {
        Auth::Ok(t) => t,
        Auth::Answered => return Ok(()),
    };
    let req = tx.original.clone();
    let aor_user = msg::header(&req, "To").and_then(|t| msg::uri_user(&msg::addr_uri(&t)));
    if aor_user.as_deref() != Some(terminal.fields.username.as_str()) {
        let resp = msg::response(
            &req,
            403,
            "Forbidden: the To user must be the authenticated terminal",
            Some(&msg::token()),
            &[],
            None,
        );
        return respond(tx, resp).await;
    }
    let (Some(call_id), Some((cseq, _)), Some(source)) =
        (msg::call_id(&req), msg::cseq(&req), msg::source_addr(&req))
    else {
        let resp = msg::response(&req, 400, "Bad Request", Some(&msg::token()), &[], None);
        return respond(tx, resp).await;
    };
    let contacts = contact_params(&req);
    let transport = match tx.connection.as_ref().filter(|c| c.is_reliable()) {
        Some(conn) => {
            if let Ok(mut f) = shared.flows.lock() {
                f.insert(source, conn.clone());
            }
            BindTransport::Tcp
        }
        None => BindTransport::Udp,
    };
    let request = RegisterRequest {
        call_id,
        cseq,
        contacts,
        expires_header: msg::header(&req, "Expires").and_then(|e| e.trim().parse().ok()),
        received: source,
        transport,
        user_agent: msg::header(&req, "User-Agent"),
    };
    let now = Instant::now();
    let outcome = shared
        .location
        .lock()
        .map_err(|_| ())
        .map(|mut l| l.register(now, &terminal.fields.username, request));
    let outcome = match outcome {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            let (code, reason, extra) = match e.min_expires() {
                Some(min) => (
                    423,
                    "Interval Too Brief".to_owned(),
                    vec![("Min-Expires", min.to_string())],
                ),
                None => (400, format!("Bad Request: {e}"), vec![]),
            };
            let resp = msg::response(&req, code, &reason, Some(&msg::token()), &extra, None);
            return respond(tx, resp).await;
        }
        Err(()) => return Ok(()),
    };
    let crate::location::RegisterOutcome::Updated {
        bindings,
        came_online,
        went_offline,
    } = outcome;
    let extra: Vec<(&str, String)> = bindings
        .iter()
        .map(|b| {
            let secs = b.expires_at.saturating_duration_since(now).as_secs();
            ("Contact", format!("<{}>;expires={secs}", b.contact))
        })
        .collect();
    if came_online || went_offline {
        // The ACD first: a phone that has just been told 200 OK may get a call at once.
        notify_queue(shared, &terminal, came_online).await;
    }
    let resp = msg::response(&req, 200, "OK", Some(&msg::token()), &extra, None);
    respond(tx, resp).await?;
    if came_online || went_offline {
        terminal_event(shared, &terminal, came_online).await;
    }
    Ok(())
}

fn contact_params(req: &Request) -> Vec<ContactParam> {
    req.headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("Contact") || h.name() == "m")
        .flat_map(|h| split_contacts(h.value()))
        .map(|c| {
            let c = c.trim();
            if c == "*" {
                return ContactParam::wildcard();
            }
            ContactParam::new(
                msg::addr_uri(c),
                msg::param(c, "expires").and_then(|e| e.parse().ok()),
            )
        })
        .collect()
}

/// Splits a Contact header value on commas outside quotes and angle brackets.
fn split_contacts(v: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut angle) = (Vec::new(), String::new(), false, false);
    for ch in v.chars() {
        match ch {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// A terminal came online or went offline: an event for the agent-state projection (STATUS-02).
/// Records a terminal's registration change in the event log.
async fn terminal_event(shared: &Shared, terminal: &store::terminals::Terminal, online: bool) {
    let kind = if online {
        "terminal.online"
    } else {
        "terminal.offline"
    };
    tracing::info!(terminal = %terminal.fields.username, kind, "terminal registration changed");
    let Ok(mut conn) = shared.store.conn().await else {
        return;
    };
    let e = store::events::NewEvent {
        at: shared.wall_ms(),
        kind,
        call_id: None,
        agent_id: terminal.fields.agent_id,
        group_id: None,
        data: serde_json::json!({"terminal": terminal.fields.username, "terminal_id": terminal.id}),
    };
    if let Err(e) = store::events::append(&mut conn, &e).await {
        tracing::warn!(error = %e, "could not record a terminal event");
    }
}

/// The browser phone of `agent` was turned ON or OFF.
pub(crate) async fn agent_phone_changed(shared: &Shared, agent: i64) {
    let desk = agent_online(shared, agent).await;
    // Decided and sent under the lock that turning a phone ON also sends under: a phone turned
    // ON meanwhile (a reload) is seen here, or its Online comes after ours.
    let phones = shared
        .browser_phones
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let online = desk || phones.contact(agent).is_some();
    shared
        .queue
        .send(crate::queue::QueueInput::Online { agent, online });
    drop(phones);
}

/// The agent is online while any of their phones is registered or their browser phone is ON
/// (STATUS-02).
async fn agent_online(shared: &Shared, agent: i64) -> bool {
    let browser = shared
        .browser_phones
        .lock()
        .map(|b| b.contact(agent).is_some())
        .unwrap_or(false);
    browser || {
        let filter = store::terminals::TerminalFilter {
            agent_id: Some(agent),
            ..Default::default()
        };
        let phones = match shared.store.conn().await {
            Ok(mut conn) => store::terminals::list(
                &mut conn,
                &filter,
                store::Page {
                    offset: 0,
                    limit: 100,
                },
            )
            .await
            .map(|(t, _)| t)
            .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let now = Instant::now();
        shared
            .location
            .lock()
            .map(|l| phones.iter().any(|t| l.is_online(now, &t.fields.username)))
            .unwrap_or(false)
    }
}

async fn notify_queue(shared: &Shared, terminal: &store::terminals::Terminal, online: bool) {
    let Some(agent) = terminal.fields.agent_id else {
        return;
    };
    let online = online || agent_online(shared, agent).await;
    shared
        .queue
        .send(crate::queue::QueueInput::Online { agent, online });
}

async fn expire_bindings(shared: &Arc<Shared>) {
    let gone = shared
        .location
        .lock()
        .map(|mut l| l.expire(Instant::now()))
        .unwrap_or_default();
    for username in gone {
        let Ok(mut conn) = shared.store.conn().await else {
            return;
        };
        if let Ok(Some(t)) = store::terminals::by_username(&mut conn, &username).await {
            drop(conn);
            notify_queue(shared, &t, false).await;
            terminal_event(shared, &t, false).await;
        }
    }
}

/// Sends an out-of-dialog-transaction request (BYE) and waits for its final response in the
/// background. `dest` is where the peer is reachable.
pub(crate) fn send_request(shared: &Arc<Shared>, req: Request, dest: SocketAddr, tcp: bool) {
    let endpoint = shared.endpoint.clone();
    let flow = shared.flow(dest);
    tokio::spawn(async move {
        let key = match rsipstack::transaction::key::TransactionKey::from_request(
            &req,
            rsipstack::transaction::key::TransactionRole::Client,
        ) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "cannot key an outgoing request");
                return;
            }
        };
        let tcp = tcp || flow.is_some();
        let mut tx = Transaction::new_client(key, req, endpoint, flow);
        tx.destination = Some(sip_addr(dest, tcp));
        if tx.send().await.is_err() {
            return;
        }
        while let Some(m) = tx.receive().await {
            if let SipMessage::Response(r) = m {
                if r.status_code.code() >= 200 {
                    break;
                }
            }
        }
    });
}

/// Sends an INVITE inside an existing dialog (a re-INVITE) and waits for its final response;
/// a 2xx is ACKed. `None` when the peer never answered.
pub(crate) async fn reinvite(
    shared: &Arc<Shared>,
    req: Request,
    dest: SocketAddr,
    tcp: bool,
) -> Option<rsipstack::sip::Response> {
    let key = rsipstack::transaction::key::TransactionKey::from_request(
        &req,
        rsipstack::transaction::key::TransactionRole::Client,
    )
    .ok()?;
    let flow = shared.flow(dest);
    let tcp = tcp || flow.is_some();
    let mut tx = Transaction::new_client(key, req, shared.endpoint.clone(), flow);
    tx.destination = Some(sip_addr(dest, tcp));
    tx.send().await.ok()?;
    while let Some(m) = tx.receive().await {
        if let SipMessage::Response(r) = m {
            let code = r.status_code.code();
            if code >= 200 {
                if code < 300 {
                    tx.send_ack(None).await.ok();
                }
                return Some(r);
            }
        }
    }
    None
}

pub(crate) fn sip_addr(addr: SocketAddr, tcp: bool) -> rsipstack::transport::SipAddr {
    let transport = if tcp {
        rsipstack::sip::Transport::Tcp
    } else {
        rsipstack::sip::Transport::Udp
    };
    rsipstack::transport::SipAddr::new(transport, addr.into())
}
