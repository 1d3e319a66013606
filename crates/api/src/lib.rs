//! The HTTP edge: the REST API under `/api/v1`, sessions and the permission guard, health and
//! metrics, and the single-page web app.

pub mod archive;
pub mod auth;
pub mod client_addr;
pub mod csv_text;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod login_throttle;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod password;
pub mod phone;
pub mod presence;
pub mod resources;
pub mod routes;
pub mod s3;
pub mod seed;
pub mod settings;
pub mod telephony;
pub mod tls;
pub mod validate;
pub mod voicemail_notify;
pub mod wav;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use std::path::PathBuf;
use std::sync::Arc;
use store::Store;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

pub use client_addr::{IpNet, PeerAddr};
pub use login_throttle::LoginPolicy;

/// Largest request body accepted (JSON); uploads get their own limits on their routes.
pub const MAX_BODY: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Mark the session cookie `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// Directory of the built web app (`web/dist`).
    pub web_dir: PathBuf,
    /// Where voice files are kept (`<data-dir>/voice`), one `<id>.wav` per record.
    pub voice_dir: PathBuf,
    /// Where call recordings are kept (`<data-dir>/recordings`, a recording's `file` below it).
    pub recordings_dir: PathBuf,
    /// Where the daily recording archives are kept (`<data-dir>/archives`).
    pub archives_dir: PathBuf,
    /// Where voicemail messages are kept (`<data-dir>/voicemail`, a message's `file` below it).
    pub voicemail_dir: PathBuf,
    /// Lock and throttling of failed logins (AUTH-06).
    pub login: LoginPolicy,
    /// Peers whose `X-Forwarded-For` is believed (reverse proxies); empty: none.
    pub trusted_proxies: Vec<IpNet>,
    /// Retries and timeouts of notification mail.
    pub mail: mail::MailPolicy,
}

impl ApiConfig {
    /// The defaults for everything but the directories; recordings beside the voice files.
    pub fn new(web_dir: PathBuf, voice_dir: PathBuf) -> Self {
        ApiConfig {
            secure_cookies: false,
            web_dir,
            recordings_dir: voice_dir.with_file_name("recordings"),
            archives_dir: voice_dir.with_file_name("archives"),
            voicemail_dir: voice_dir.with_file_name("voicemail"),
            voice_dir,
            login: LoginPolicy::default(),
            trusted_proxies: Vec::new(),
            mail: mail::MailPolicy::default(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ApiConfig>,
    /// Failed logins per source address.
    pub login_sources: Arc<login_throttle::SourceThrottle>,
    /// The running telephony (ACD); `None` when the API runs alone (tests).
    pub telephony: Option<Arc<dyn telephony::Telephony>>,
    /// The daily recording archive (its job is started by whoever serves the API).
    pub archive: Arc<archive::Archiver>,
    /// Notification mail: [`mail::Mailer::enqueue`] queues a mail; its job (`run`) is started
    /// by whoever serves the API.
    pub mail: Arc<mail::Mailer>,
}

impl AppState {
    pub fn new(store: Store, config: ApiConfig) -> Self {
        // The recorder must exist before the first request records anything.
        metrics::handle();
        let login_sources = Arc::new(login_throttle::SourceThrottle::new(
            config.login.source,
            config.login.source_window,
        ));
        let archive = archive::Archiver::new(
            store.clone(),
            config.recordings_dir.clone(),
            config.archives_dir.clone(),
        );
        let mail = mail::Mailer::new(store.clone(), config.mail);
        AppState {
            store,
            archive,
            mail,
            config: Arc::new(config),
            login_sources,
            telephony: None,
        }
    }

    pub fn with_telephony(mut self, t: Arc<dyn telephony::Telephony>) -> Self {
        self.telephony = Some(t);
        self
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A random URL-safe token of `bytes` random bytes.
pub fn token(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// The application as a service that knows each connection's peer (for login throttling).
pub fn make_service(
    state: AppState,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, PeerAddr> {
    app(state).into_make_service_with_connect_info::<PeerAddr>()
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let web_dir = state.config.web_dir.clone();
    let index = web_dir.join("index.html");
    // Any path that is not an API route or a file of the web app is a screen of the
    // single-page app: serve index.html and let its router decide.
    let web = ServeDir::new(&web_dir).fallback(ServeFile::new(index));
    routes::router(state.clone())
        .route("/healthz", axum::routing::get(health::healthz))
        .route("/readyz", axum::routing::get(health::readyz))
        .route("/metrics", axum::routing::get(metrics::render))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .fallback_service(web)
        .layer(axum::middleware::from_fn(metrics::count))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn api_not_found() -> error::ApiError {
    error::ApiError::NotFound("No such API endpoint.".into())
}
