//! The registrar (REGISTER with digest authentication, TERM-03) and the digest check of
//! INVITEs from phones: the account, the scanner limiter, and the bindings of the location
//! service, whose changes the core hears of.

use crate::admission::Directory;
use crate::auth_limiter::AuthLimiter;
use crate::digest::{DigestAuth, Verdict};
use crate::events::EdgeEvent;
use crate::location::{ContactParam, Location, RegisterRequest, StoredBinding};
use crate::msg;
use crate::transport::{respond, Transport};
use crate::wire::Wire;
use rsipstack::sip::{Method, Request};
use rsipstack::transaction::transaction::Transaction;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

/// How long a REGISTER waits for its bindings to be kept.
const KEEP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

pub(crate) struct Registrar {
    pub digest: Mutex<DigestAuth>,
    pub limiter: Mutex<AuthLimiter>,
    pub location: Mutex<Location>,
    pub directory: Arc<dyn Directory>,
    pub transport: Arc<Transport>,
    pub events: UnboundedSender<EdgeEvent>,
}

impl Registrar {
    fn emit(&self, e: EdgeEvent) {
        self.events.send(e).ok();
    }
}

/// Outcome of checking a request's digest credentials.
pub(crate) enum Auth {
    /// The terminal with this username authenticated.
    Ok(crate::admission::Terminal),
    /// A response was sent (challenge or refusal); stop here.
    Answered,
}

/// Digest authentication of a REGISTER (401/WWW-) or an INVITE (407/Proxy-).
pub(crate) async fn authenticate(
    shared: &Registrar,
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
            .map(|mut d| d.challenges(now, stale, source.ip()))
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
    // A blocked source or account is refused without its credentials being checked, unless
    // this source authenticated as this account before (a phone behind a guesser's address).
    let admitted = shared
        .limiter
        .lock()
        .map(|mut l| l.admit(now, source.ip(), &creds.username))
        .unwrap_or(true);
    if !admitted {
        let resp = msg::response(&req, 403, "Forbidden", Some(&msg::token()), &[], None);
        respond(tx, resp).await?;
        return Ok(Auth::Answered);
    }
    let terminal = shared.directory.terminal(&creds.username);
    // An unknown user is checked against a throwaway password so that it costs the same and
    // answers the same as a wrong password.
    let password = terminal
        .as_ref()
        .map(|t| t.password.clone())
        .unwrap_or_else(msg::token);
    let verdict = shared
        .digest
        .lock()
        .map(|mut d| d.verify(now, method_name(&req), &creds, &password, source.ip()))
        .unwrap_or(Verdict::Wrong);
    match (verdict, terminal) {
        (Verdict::Ok, Some(t)) => {
            if let Ok(mut l) = shared.limiter.lock() {
                l.record_success(now, source.ip(), &creds.username);
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
            let blocked = shared
                .limiter
                .lock()
                .map(|mut l| l.record_failure(now, source.ip(), &creds.username))
                .unwrap_or_default();
            if blocked.source {
                tracing::warn!(source = %source.ip(), "blocking a source after repeated SIP authentication failures");
            }
            if blocked.account {
                tracing::warn!(username = ?creds.username, "throttling an account after repeated SIP authentication failures from any address");
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

pub(crate) async fn register(
    shared: &Registrar,
    tx: &mut Transaction,
) -> Result<(), rsipstack::Error> {
    let terminal = match authenticate(shared, tx, false).await? {
        Auth::Ok(t) => t,
        Auth::Answered => return Ok(()),
    };
    let req = tx.original.clone();
    let aor_user = msg::header(&req, "To").and_then(|t| msg::uri_user(&msg::addr_uri(&t)));
    if aor_user.as_deref() != Some(terminal.username.as_str()) {
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
    let transport = Wire::of(tx.connection.as_ref());
    if let Some(conn) = tx.connection.as_ref().filter(|_| transport.is_stream()) {
        shared.transport.keep_flow(source, conn.clone());
    }
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
        .map(|mut l| l.register(now, &terminal.username, request));
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
    // The core first: a phone that has just been told 200 OK may get a call at once.
    if came_online || went_offline {
        tracing::info!(terminal = %terminal.username, online = came_online, "terminal registration changed");
        shared.emit(EdgeEvent::Registration {
            username: terminal.username.clone(),
            online: came_online,
        });
    }
    let wall = crate::location::wall_ms();
    let (kept, stored) = tokio::sync::oneshot::channel();
    shared.emit(EdgeEvent::Bindings {
        username: terminal.username.clone(),
        bindings: bindings
            .iter()
            .map(|b| StoredBinding::of(b, now, wall))
            .collect(),
        kept: Some(kept),
    });
    // The binding is kept before the phone is told it is registered, so that a restart right
    // after still reaches it; a store that does not answer soon does not hold the phone up.
    if tokio::time::timeout(KEEP_WAIT, stored).await.is_err() {
        tracing::warn!(terminal = %terminal.username, "registration answered before it was kept");
    }
    let resp = msg::response(&req, 200, "OK", Some(&msg::token()), &extra, None);
    respond(tx, resp).await
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

/// Drops expired bindings; the terminals that went offline are reported.
pub(crate) fn expire_bindings(shared: &Registrar) {
    let gone = shared
        .location
        .lock()
        .map(|mut l| l.expire(Instant::now()))
        .unwrap_or_default();
    for username in gone {
        tracing::info!(terminal = %username, "terminal registration expired");
        shared.emit(EdgeEvent::Bindings {
            username: username.clone(),
            bindings: Vec::new(),
            kept: None,
        });
        shared.emit(EdgeEvent::Registration {
            username,
            online: false,
        });
    }
}
