//! Sending on the wire: our address, the TCP and TLS connections phones registered over, and the
//! client transactions of requests we send (BYE, re-INVITE, INVITE).

use crate::msg;
use crate::wire::Wire;
use rsipstack::sip::{Request, SipMessage};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::transaction::{Transaction, TransactionEvent, TransactionEventSender};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub(crate) struct Transport {
    pub endpoint: EndpointInnerRef,
    /// Our address as peers should reach it (UDP and TCP).
    pub contact_addr: SocketAddr,
    /// The same for TLS, when SIP over TLS is on.
    tls_addr: Option<SocketAddr>,
    /// TCP and TLS connections phones registered over, by their address: requests to such a
    /// phone must go down the same connection (it cannot accept one from us).
    flows: Mutex<HashMap<SocketAddr, rsipstack::transport::SipConnection>>,
}

impl Transport {
    pub fn new(
        endpoint: EndpointInnerRef,
        contact_addr: SocketAddr,
        tls_addr: Option<SocketAddr>,
    ) -> Transport {
        Transport {
            endpoint,
            contact_addr,
            tls_addr,
            flows: Mutex::new(HashMap::new()),
        }
    }

    /// Our address on `wire`, for Via and Contact.
    pub fn local(&self, wire: Wire) -> SocketAddr {
        match (wire, self.tls_addr) {
            (Wire::Tls, Some(tls)) => tls,
            _ => self.contact_addr,
        }
    }

    /// Our Contact header value on `wire`.
    pub fn contact_header(&self, wire: Wire) -> String {
        format!("<{}>", wire.contact_uri(self.local(wire)))
    }

    /// The connection to reach `addr` on when it registered over TCP or TLS.
    pub fn flow(&self, addr: SocketAddr) -> Option<rsipstack::transport::SipConnection> {
        self.flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&addr)
            .cloned()
    }

    pub fn keep_flow(&self, addr: SocketAddr, conn: rsipstack::transport::SipConnection) {
        self.flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(addr, conn);
    }

    /// Sends `req` in a new client transaction towards `dest`.
    pub async fn start_client(
        &self,
        req: &Request,
        dest: SocketAddr,
        wire: Wire,
    ) -> Option<Transaction> {
        let key = rsipstack::transaction::key::TransactionKey::from_request(
            req,
            rsipstack::transaction::key::TransactionRole::Client,
        )
        .ok()?;
        let flow = self.flow(dest);
        // The connection the phone registered over says best which wire it is on.
        let wire = match &flow {
            Some(conn) => Wire::of(Some(conn)),
            None => wire,
        };
        let mut tx = Transaction::new_client(key, req.clone(), self.endpoint.clone(), flow);
        tx.destination = Some(wire.sip_addr(dest));
        tx.send().await.ok()?;
        Some(tx)
    }

    /// Sends a request (BYE) and waits for its final response in the background.
    pub fn send_request(self: &Arc<Self>, req: Request, dest: SocketAddr, wire: Wire) {
        let me = self.clone();
        tokio::spawn(async move {
            let Some(mut tx) = me.start_client(&req, dest, wire).await else {
                tracing::debug!(%dest, "could not send a request");
                return;
            };
            while let Some(m) = tx.receive().await {
                if let SipMessage::Response(r) = m {
                    crate::counters::response_received(r.status_code.code());
                    if r.status_code.code() >= 200 {
                        break;
                    }
                }
            }
        });
    }

    /// Sends an INVITE inside a dialog (a re-INVITE) and waits for its final response; a 2xx
    /// is ACKed. Its SDP answer, or `None` when the peer refused or never answered.
    pub async fn reinvite(&self, req: Request, dest: SocketAddr, wire: Wire) -> Option<String> {
        let mut tx = self.start_client(&req, dest, wire).await?;
        let wait = async {
            while let Some(m) = tx.receive().await {
                if let SipMessage::Response(r) = m {
                    let code = r.status_code.code();
                    crate::counters::response_received(code);
                    if code >= 200 {
                        if code < 300 {
                            tx.send_ack(None).await.ok();
                            return Some(String::from_utf8_lossy(r.body()).into_owned());
                        }
                        return None;
                    }
                }
            }
            None
        };
        tokio::time::timeout(Duration::from_secs(32), wait)
            .await
            .ok()
            .flatten()
    }
}

/// Answers a request through its transaction.
pub(crate) async fn respond(
    tx: &mut Transaction,
    resp: Option<rsipstack::sip::Response>,
) -> Result<(), rsipstack::Error> {
    match resp {
        Some(r) => {
            crate::counters::response_sent(r.status_code.code());
            tx.respond(r).await
        }
        // A request we cannot even answer (no Call-ID, no CSeq): drop it.
        None => Ok(()),
    }
}

/// Sends a response through a transaction that another task is driving.
pub(crate) fn respond_via(tu: &TransactionEventSender, resp: Option<rsipstack::sip::Response>) {
    if let Some(r) = resp {
        crate::counters::response_sent(r.status_code.code());
        tu.send(TransactionEvent::Respond(r)).ok();
    }
}

/// 481 for a request of a dialog we do not have.
pub(crate) async fn no_dialog(tx: &mut Transaction) {
    let resp = msg::response(
        &tx.original,
        481,
        "Call/Transaction Does Not Exist",
        None,
        &[],
        None,
    );
    respond(tx, resp).await.ok();
}
