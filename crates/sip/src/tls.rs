//! SIP over TLS (issue 10 item 22; RFC 3261 §26.3.1, port 5061): our own accept loop, so that
//! a peer that opens a connection and never finishes its handshake is dropped after a while
//! and cannot hold the listener up, and so that the number of connections is bounded. A
//! completed handshake becomes the stack's TLS stream connection; requests and responses then
//! flow over it like over TCP. The certificate is the HTTPS one, reloaded on change.

use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::tls::TlsConnection;
use rsipstack::transport::{SipAddr, SipConnection};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::rustls::server::ResolvesServerCert;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// SIP over TLS: where it listens and with which certificate.
#[derive(Debug, Clone)]
pub struct SipTls {
    pub listen: SocketAddr,
    /// The certificate served, the one loaded last (see `api::tls::certificate`).
    pub certificate: Arc<dyn ResolvesServerCert>,
}

/// How long a handshake may take and how many connections may be open at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub handshake_timeout: Duration,
    /// Handshakes in progress and connections open, together: a phone keeps its connection
    /// for as long as it is registered. More wait in the kernel's backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake_timeout: Duration::from_secs(10),
            max_connections: 256,
        }
    }
}

pub(crate) fn acceptor(
    certificate: Arc<dyn ResolvesServerCert>,
) -> Result<TlsAcceptor, tokio_rustls::rustls::Error> {
    let config = ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_cert_resolver(certificate);
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A connection whose handshake is done, with its place among the `max_connections`: drop the
/// permit when the connection closes.
pub(crate) struct Accepted {
    pub stream: TlsStream<TcpStream>,
    pub peer: SocketAddr,
    pub permit: OwnedSemaphorePermit,
}

/// Accepts on `tcp` until `cancel`, running every handshake in a task of its own, and sends
/// each completed one to `accepted`.
pub(crate) async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    limits: Limits,
    cancel: CancellationToken,
    accepted: mpsc::Sender<Accepted>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => return,
            a = tcp.accept() => match a {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "SIP TLS accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let accepted = accepted.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let conn = Accepted {
                        stream,
                        peer,
                        permit,
                    };
                    accepted.send(conn).await.ok();
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "SIP TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "SIP TLS handshake timed out"),
            }
        });
    }
}

/// Gives each accepted connection to the stack: it reads requests from it and sends responses
/// down it; the registrar keeps it to reach the phone. A connection's slot is freed when the
/// stack retires it (closed by the peer, idle, or at shutdown).
pub(crate) async fn hand_to_stack(
    endpoint: EndpointInnerRef,
    local: SocketAddr,
    mut accepted: mpsc::Receiver<Accepted>,
    cancel: CancellationToken,
) {
    let local = SipAddr::new(rsipstack::sip::Transport::Tls, local.into());
    while let Some(conn) = accepted.recv().await {
        let token = cancel.child_token();
        let remote = SipAddr::new(rsipstack::sip::Transport::Tls, conn.peer.into());
        match TlsConnection::from_server_stream(
            conn.stream,
            local.clone(),
            remote,
            Some(token.clone()),
        )
        .await
        {
            Ok(tls) => {
                endpoint
                    .transport_layer
                    .add_connection(SipConnection::Tls(tls));
                let permit = conn.permit;
                tokio::spawn(async move {
                    token.cancelled().await;
                    drop(permit);
                });
            }
            Err(e) => tracing::warn!(peer = %conn.peer, error = %e, "SIP TLS connection"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// A self-signed certificate for 127.0.0.1: what the server serves, and the client's
    /// only root.
    fn certificate() -> (Arc<dyn ResolvesServerCert>, CertificateDer<'static>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().clone();
        let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let certified =
            rustls::sign::CertifiedKey::from_der(vec![der.clone()], key, &provider()).unwrap();
        (
            Arc::new(rustls::sign::SingleCertAndKey::from(certified)),
            der,
        )
    }

    async fn handshake(addr: SocketAddr, root: &CertificateDer<'static>) -> std::io::Result<()> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root.clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("127.0.0.1").unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map(drop)
    }

    #[tokio::test]
    async fn a_silent_client_is_dropped_after_the_handshake_timeout_and_blocks_nobody() {
        let (cert, root) = certificate();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let limits = Limits {
            handshake_timeout: Duration::from_millis(500),
            // The silent client and one phone: a third must wait for a free slot.
            max_connections: 2,
        };
        let cancel = CancellationToken::new();
        let (accepted, mut handed) = mpsc::channel(4);
        tokio::spawn(accept_loop(
            tcp,
            acceptor(cert).unwrap(),
            limits,
            cancel.clone(),
            accepted,
        ));

        // Opens a connection and never says a word.
        let started = std::time::Instant::now();
        let mut silent = TcpStream::connect(addr).await.unwrap();

        // A phone that connects after it is served at once, while the silent one waits.
        handshake(addr, &root).await.unwrap();
        let phone = tokio::time::timeout(Duration::from_secs(5), handed.recv())
            .await
            .expect("the phone's handshake was held up")
            .unwrap();
        assert!(started.elapsed() < limits.handshake_timeout);

        // The silent client is cut off at the timeout (end of stream, or a reset).
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf))
            .await
            .expect("the silent client was never dropped");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        assert!(started.elapsed() >= limits.handshake_timeout);

        // Its slot is free again: a second phone gets in while the first stays connected.
        handshake(addr, &root).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), handed.recv())
            .await
            .expect("the freed slot was not reused")
            .unwrap();
        drop(phone);
        cancel.cancel();
    }
}
