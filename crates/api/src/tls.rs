//! HTTPS and secure WebSocket built in (issue 10 item 21): rustls on the HTTP listener, with
//! the certificate and key read from PEM files and read again when they change on disk (a
//! renewed certificate is served without a restart). Browsers allow the microphone only in a
//! secure context, so remote agents' browser phones need this or a TLS reverse proxy.
//!
//! The same certificate serves SIP over TLS (issue 10 item 22): [`certificate`] is handed to
//! the SIP edge as well, so that one renewal reaches both listeners.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How often the files are looked at for a change.
const WATCH_EVERY: Duration = Duration::from_secs(2);
/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;

/// Why the certificate files cannot be used; the message names the file and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

type Result<T> = std::result::Result<T, TlsError>;

fn err(what: String) -> impl FnOnce(&dyn std::fmt::Display) -> TlsError {
    move |e| TlsError(format!("{what}: {e}"))
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(tokio_rustls::rustls::crypto::ring::default_provider())
}

/// Reads the certificate chain and key, and checks that they belong together.
fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey> {
    let cert_name = files.cert.display().to_string();
    let key_name = files.key.display().to_string();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| err(format!("reading TLS certificate {cert_name}"))(&e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| err(format!("parsing TLS certificate {cert_name}"))(&e))?;
    if chain.is_empty() {
        return Err(TlsError(format!(
            "TLS certificate {cert_name}: no CERTIFICATE in the file"
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| err(format!("reading TLS key {key_name}"))(&e))?;
    let key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| err(format!("TLS key {key_name}"))(&e))?;
    let certified = CertifiedKey::new(chain, key);
    certified.keys_match().map_err(|e| {
        err(format!(
            "TLS key {key_name} does not belong to certificate {cert_name}"
        ))(&e)
    })?;
    Ok(certified)
}

/// What identifies a version of the files: their modification times and sizes.
fn stamp(files: &TlsFiles) -> Option<[(SystemTime, u64); 2]> {
    let one = |p: &Path| {
        let m = std::fs::metadata(p).ok()?;
        Some((m.modified().ok()?, m.len()))
    };
    Some([one(&files.cert)?, one(&files.key)?])
}

/// Serves whichever certificate was loaded last.
#[derive(Debug)]
struct Reloading {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A poisoned lock still holds a complete certificate.
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// Loads the files (failing at start if they are unusable) and watches them: the
/// certificate to serve, always the one loaded last. Needs a tokio runtime.
pub fn certificate(files: TlsFiles) -> Result<Arc<dyn ResolvesServerCert>> {
    let provider = provider();
    let first = load(&files, &provider)?;
    let resolver = Arc::new(Reloading {
        current: RwLock::new(Arc::new(first)),
    });
    tokio::spawn(watch(files, provider, resolver.clone()));
    Ok(resolver)
}

/// The HTTPS handshake with `certificate`.
pub fn acceptor(certificate: Arc<dyn ResolvesServerCert>) -> Result<TlsAcceptor> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| err("TLS protocol versions".into())(&e))?
        .with_no_client_auth()
        .with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn watch(files: TlsFiles, provider: Arc<CryptoProvider>, resolver: Arc<Reloading>) {
    let mut seen = stamp(&files);
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tick.tick().await;
        let now = stamp(&files);
        if now.is_none() || now == seen {
            continue;
        }
        seen = now;
        // A certificate and key are often replaced one after the other: a pair that does not
        // match yet is tried again when the other file changes.
        match load(&files, &provider) {
            Ok(key) => {
                *resolver.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => tracing::error!(
                error = %e,
                "TLS certificate not reloaded; the previous one is still served"
            ),
        }
    }
}

/// The HTTP listener with TLS: handshakes run concurrently, and only completed connections
/// are handed to the server.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(accept_loop(tcp, acceptor, tx));
        Ok(TlsListener { ready, local })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "HTTPS accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop ended (it never does while the listener lives): no more peers.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for crate::PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        crate::PeerAddr(*stream.remote_addr())
    }
}
