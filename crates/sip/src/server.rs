//! The SIP edge: transports, the request dispatcher, admission of new calls, the registrar and
//! in-dialog routing. Calls themselves belong to the call-control core, which hears of them as
//! [`EdgeEvent`]s and drives their legs (`leg`).

use crate::admission::{CallerNumber, Directory, Origin};
use crate::auth_limiter::{AuthLimiter, Limit};
use crate::browser_phone::Phones;
use crate::conformance;
use crate::dialog::Dialogs;
use crate::digest::DigestAuth;
use crate::events::EdgeEvent;
use crate::leg::{self, IncomingCall, Leg, Legs, Originate, Target};
use crate::location::{Binding, Location, StoredBinding};
use crate::msg;
use crate::registrar::{self, Auth, Registrar};
use crate::transport::{self, respond, Transport};
use crate::wire::Wire;
use media::RtpPool;
use rsipstack::sip::Method;
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::TransportLayer;
use rsipstack::EndpointBuilder;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct SipConfig {
    /// UDP and TCP listen address.
    pub listen: SocketAddr,
    /// Digest realm.
    pub realm: String,
    /// Digest algorithms challenged with (at least one).
    pub digest_algorithms: Vec<crate::digest::Algorithm>,
    /// Address put into SDP and Contact headers; the listen address unless set.
    pub public_ip: Option<IpAddr>,
    /// SIP over TLS as well, when set.
    pub tls: Option<crate::tls::SipTls>,
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

/// The edge's parts.
pub(crate) struct Shared {
    pub transport: Arc<Transport>,
    pub registrar: Arc<Registrar>,
    pub legs: Arc<Legs>,
    pub phones: Arc<Phones>,
    pub directory: Arc<dyn Directory>,
    pub events: mpsc::UnboundedSender<EdgeEvent>,
}

impl Shared {
    pub fn emit(&self, e: EdgeEvent) {
        self.events.send(e).ok();
    }
}

/// A cheap handle to the SIP edge, for the call-control core.
#[derive(Clone)]
pub struct SipEdge {
    shared: Arc<Shared>,
}

impl SipEdge {
    pub async fn start(
        cfg: SipConfig,
        directory: Arc<dyn Directory>,
        rtp: RtpPool,
    ) -> Result<(SipEdge, mpsc::UnboundedReceiver<EdgeEvent>, SipServer), SipError> {
        let cancel = CancellationToken::new();
        let layer = TransportLayer::new(cancel.child_token());
        // Our own socket under the stack's UDP transport: every datagram is read whole and
        // screened first (crate::intake).
        let sock = tokio::net::UdpSocket::bind(cfg.listen)
            .await
            .map_err(|e| SipError::Bind {
                addr: cfg.listen,
                source: e.into(),
            })?;
        let sock: Arc<dyn rsipstack::platform::net::UdpSocket> =
            Arc::new(crate::intake::Intake::new(sock));
        let udp = UdpConnection::from_socket(sock, None, Some(cancel.child_token()))
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
        let tls = match &cfg.tls {
            Some(t) => {
                let tcp =
                    tokio::net::TcpListener::bind(t.listen)
                        .await
                        .map_err(|e| SipError::Bind {
                            addr: t.listen,
                            source: e.into(),
                        })?;
                let acceptor = crate::tls::acceptor(t.certificate.clone())
                    .map_err(|e| SipError::Endpoint(format!("TLS: {e}")))?;
                let bound = tcp.local_addr().map_err(|e| SipError::Bind {
                    addr: t.listen,
                    source: e.into(),
                })?;
                Some((tcp, acceptor, bound))
            }
            None => None,
        };
        let endpoint = EndpointBuilder::new()
            .with_user_agent("Tsunagu")
            .with_transport_layer(layer)
            .with_cancel_token(cancel.child_token())
            .build();
        let mut incoming = endpoint
            .incoming_transactions()
            .map_err(|e| SipError::Endpoint(e.to_string()))?;
        let inner = endpoint.inner.clone();
        let inner_for_tls = inner.clone();
        let contact_ip = cfg.public_ip.unwrap_or(bound.ip());
        let contact_addr = SocketAddr::new(contact_ip, bound.port());
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        let (events, events_rx) = mpsc::unbounded_channel();
        let tls_contact = tls
            .as_ref()
            .map(|(_, _, bound)| SocketAddr::new(contact_ip, bound.port()));
        let transport = Arc::new(Transport::new(inner.clone(), contact_addr, tls_contact));
        let phones = Arc::new(Phones {
            registry: Mutex::new(Default::default()),
            cert: media::webrtc::WebRtcCert::generate()
                .map_err(|e| SipError::Endpoint(format!("WebRTC certificate: {e}")))?,
            config: media::webrtc::WebRtcConfig {
                bind_ip: contact_ip,
                ports: Some(rtp.range()),
                ..Default::default()
            },
            rtp,
            listen: cfg.listen,
            sip_port: contact_addr.port(),
            events: events.clone(),
            next_session: std::sync::atomic::AtomicU64::new(1),
        });
        let registrar = Arc::new(Registrar {
            digest: Mutex::new(
                DigestAuth::new(&cfg.realm, secret, Duration::from_secs(300))
                    .with_algorithms(&cfg.digest_algorithms),
            ),
            location: Mutex::new(Location::new(8, 30, 3600)),
            limiter: Mutex::new(AuthLimiter::new(
                // One address: 10 wrong in a minute, blocked 5 minutes.
                Limit::new(10, Duration::from_secs(60), Duration::from_secs(300)),
                // One account from all addresses: 20 wrong in 10 minutes, blocked 10 minutes.
                Limit::new(20, Duration::from_secs(600), Duration::from_secs(600)),
                // A phone that authenticated is let through both for a day after.
                Duration::from_secs(86_400),
            )),
            directory: directory.clone(),
            transport: transport.clone(),
            events: events.clone(),
        });
        let legs = Arc::new(Legs {
            transport: transport.clone(),
            dialogs: Dialogs::default(),
            directory: directory.clone(),
        });
        let shared = Arc::new(Shared {
            transport,
            registrar,
            legs,
            phones,
            directory,
            events,
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
                    _ = tick.tick() => registrar::expire_bindings(&s.registrar),
                }
            }
        }));
        if let Some((tcp, acceptor, bound)) = tls {
            let (accepted, handed) = mpsc::channel(64);
            tasks.push(tokio::spawn(crate::tls::accept_loop(
                tcp,
                acceptor,
                crate::tls::Limits::default(),
                cancel.child_token(),
                accepted,
            )));
            tasks.push(tokio::spawn(crate::tls::hand_to_stack(
                inner_for_tls,
                bound,
                handed,
                cancel.child_token(),
            )));
            tracing::info!(addr = ?tls_contact, "SIP listening on TLS");
        }
        tracing::info!(addr = %contact_addr, "SIP listening on UDP and TCP");
        Ok((
            SipEdge {
                shared: shared.clone(),
            },
            events_rx,
            SipServer {
                cancel,
                tasks,
                addr: contact_addr,
            },
        ))
    }

    /// The address SIP listens on (useful when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.transport.contact_addr
    }

    /// Every live registration of these terminals, newest first.
    pub fn contacts(&self, usernames: &[String]) -> Vec<Target> {
        let now = Instant::now();
        let location = self
            .shared
            .registrar
            .location
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        usernames
            .iter()
            .flat_map(|u| location.lookup(now, u))
            .map(|b| Target {
                dest: msg::request_target(&b.contact, b.received),
                wire: b.transport,
                uri: b.contact,
            })
            .collect()
    }

    /// Whether the terminal has a live registration.
    pub fn is_registered(&self, username: &str) -> bool {
        self.shared
            .registrar
            .location
            .lock()
            .map(|l| l.is_online(Instant::now(), username))
            .unwrap_or(false)
    }

    /// Where the agent's browser phone listens, if it is ON.
    pub fn browser_phone(&self, agent: i64) -> Option<Target> {
        let addr = self.shared.phones.contact(agent)?;
        Some(Target {
            uri: format!("sip:browser-{agent}@{addr}"),
            dest: addr,
            wire: Wire::Udp,
        })
    }

    /// Places a leg.
    pub fn originate(&self, o: Originate) -> Leg {
        leg::originate(&self.shared.legs, o)
    }

    /// Puts back the bindings kept from before a restart. Returns the terminals that are
    /// online again.
    pub fn restore_bindings(&self, kept: Vec<(String, Vec<StoredBinding>)>) -> Vec<String> {
        let now = Instant::now();
        let wall = crate::location::wall_ms();
        let mut location = self
            .shared
            .registrar
            .location
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        kept.into_iter()
            .filter_map(|(username, stored)| {
                let bindings: Vec<Binding> = stored
                    .into_iter()
                    .filter_map(|b| b.into_binding(now, wall))
                    .collect();
                location
                    .restore(now, &username, bindings)
                    .then_some(username)
            })
            .collect()
    }

    /// Turns the agent's browser phone ON (PHONE-01); dropping the line turns it OFF.
    pub async fn turn_on_phone(
        &self,
        agent: i64,
        events: tokio::sync::mpsc::UnboundedSender<crate::browser_phone::PhoneEvent>,
    ) -> Result<crate::browser_phone::PhoneLine, String> {
        crate::browser_phone::turn_on(&self.shared.phones, agent, events).await
    }

    /// Dialogs in flight, for metrics.
    pub fn active_dialogs(&self) -> usize {
        self.shared.legs.dialogs.len()
    }
}

/// The running transports; stopping it stops SIP.
pub struct SipServer {
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    addr: SocketAddr,
}

impl SipServer {
    /// Whether SIP still serves (for /readyz): the endpoint and dispatch loops are alive.
    pub fn probe(&self) -> crate::SipProbe {
        let loops = self
            .tasks
            .iter()
            .take(2)
            .map(|t| t.abort_handle())
            .collect();
        crate::SipProbe::new(loops, self.cancel.clone(), self.addr)
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
    crate::counters::request_received(&method.to_string());
    if let Some(refusal) = conformance::check(&tx.original) {
        let resp = refusal.response(&tx.original);
        respond(&mut tx, resp).await.ok();
        return;
    }
    let result = match method {
        Method::Options if msg::to_tag(&tx.original).is_none() => {
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
        Method::Register => registrar::register(&shared.registrar, &mut tx).await,
        Method::Invite if msg::to_tag(&tx.original).is_none() => {
            new_call(shared, tx).await;
            Ok(())
        }
        Method::Ack | Method::Cancel => Ok(()),
        _ if msg::to_tag(&tx.original).is_some() => in_dialog(&shared, tx).await,
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

/// A request inside a dialog goes to its leg: matched on Call-ID and our tag here, on the
/// other side's tag by the leg.
async fn in_dialog(shared: &Arc<Shared>, tx: Transaction) -> Result<(), rsipstack::Error> {
    if let Err(mut tx) = shared.legs.dialogs.deliver(tx) {
        transport::no_dialog(&mut tx).await;
    }
    Ok(())
}

/// A new INVITE: who may place it (a trunk, a browser phone, an authenticated terminal), then
/// the core decides where it goes.
async fn new_call(shared: Arc<Shared>, mut tx: Transaction) {
    let req = tx.original.clone();
    if tx.send_trying().await.is_err() {
        return;
    }
    crate::counters::response_sent(100);
    let (Some(source), Some(call_id)) = (msg::source_addr(&req), msg::call_id(&req)) else {
        let resp = msg::response(&req, 400, "Bad Request", Some(&msg::token()), &[], None);
        respond(&mut tx, resp).await.ok();
        return;
    };
    let offer = String::from_utf8_lossy(req.body()).into_owned();
    let wire = Wire::of(tx.connection.as_ref());
    // Offerless INVITEs, non-audio sessions and multicast offers are not supported by the
    // relay (RFC 3264 §6: 488); neither are secure-only ones, except SDES-SRTP over TLS:
    // its keys are in the SDP, so they must not cross an unencrypted transport.
    let refusal = match media::sdp::Sdp::parse(&offer) {
        Ok(sdp) => sdp.accept_offer(wire.allows_sdes()).err().or_else(|| {
            sdp.audio_addr()
                .is_none()
                .then_some(media::OfferRefusal::NoAudio)
        }),
        Err(_) => Some(media::OfferRefusal::NoAudio),
    };
    if let Some(refusal) = refusal {
        let resp = msg::not_acceptable(&req, refusal, Some(&msg::token()));
        respond(&mut tx, resp).await.ok();
        return;
    }
    let caller = msg::from_user(&req).unwrap_or_else(|| "anonymous".into());
    let dialed = msg::uri_user(&req.uri.to_string()).unwrap_or_default();
    let token = msg::header(&req, crate::browser_phone::PHONE_TOKEN_HEADER);
    let browser_agent = shared.phones.agent_at(source, token.as_deref());
    let origin = if let Some(agent) = browser_agent {
        // Our own browser phone: its agent logged in to the web app; no digest needed.
        let caller_number = match msg::header(&req, crate::browser_phone::CALLER_NUMBER_HEADER) {
            None => CallerNumber::Default,
            Some(v) if v.trim() == "none" => CallerNumber::Prohibited,
            Some(v) => match v.trim().parse() {
                Ok(id) => CallerNumber::Number(id),
                Err(_) => CallerNumber::Prohibited,
            },
        };
        Origin::BrowserPhone {
            agent,
            caller_number,
        }
    } else if let Some(trunk) = shared.directory.trunk_at(source, &dialed) {
        Origin::Trunk { trunk }
    } else {
        match registrar::authenticate(&shared.registrar, &mut tx, true).await {
            Ok(Auth::Ok(t)) => Origin::Terminal {
                terminal: t.id,
                username: t.username,
            },
            _ => return,
        }
    };
    let Some((leg, _)) = leg::incoming(&shared.legs, tx) else {
        return;
    };
    shared.emit(EdgeEvent::Call(IncomingCall {
        leg,
        call_id,
        origin,
        caller,
        dialed,
        source,
        wire,
        offer,
    }));
}
