//! `tsunagu`: the call-center server.

mod config;

use anyhow::{Context, Result};
use api::seed::{self, FirstStart};
use api::telephony::{BoxFuture, Telephony};
use api::{ApiConfig, AppState};
use clap::{Parser, Subcommand};
use config::{Config, ServeArgs};
use engine::agent_state::{AgentStatus, ChangedBy, Readiness};
use engine::live::{Live as LiveMessage, Realtime};
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "tsunagu", version, about = "Tsunagu cloud call-center server")]
struct Cli {
    /// Log format: `text` or `json`.
    #[arg(
        long,
        env = "TSUNAGU_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// Administration from the console, on the same database as `serve` (same flags).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Unlock a web account and clear its failed logins (recovers a locked-out administrator).
    Unlock {
        /// The account's login ID, e.g. `admin`.
        login_id: String,
        #[command(flatten)]
        args: Box<ServeArgs>,
    },
}

fn init_logging(format: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info,rsipstack=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    match cli.command {
        Command::Serve(args) => serve(Config::resolve(*args)?).await,
        Command::Admin(AdminCommand::Unlock { login_id, args }) => {
            let config = Config::resolve(*args)?;
            let store = open_store(&config).await?;
            let result = api::auth::unlock_from_console(&store, &login_id).await;
            store.close().await;
            match result.map_err(|e| anyhow::anyhow!("unlocking `{login_id}`: {e}"))? {
                Some(true) => println!("unlocked `{login_id}`"),
                Some(false) => {
                    println!("`{login_id}` was not locked; its failed logins are cleared")
                }
                None => anyhow::bail!("no account with login ID `{login_id}`"),
            }
            Ok(())
        }
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&api::openapi::document())?
            );
            Ok(())
        }
    }
}

async fn open_store(config: &Config) -> Result<Store> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    match &config.database_url {
        Some(url) => Store::open(url).await,
        None => Store::open_data_dir(&config.data_dir).await,
    }
    .context("opening the database")
}

async fn serve(config: Config) -> Result<()> {
    // Certificate problems stop the start before anything else is opened.
    // One certificate, reloaded on change, for HTTPS and SIP over TLS.
    let certificate = match &config.tls {
        Some(files) => Some(api::tls::certificate(files.clone())?),
        None => None,
    };
    let tls = match &certificate {
        Some(c) => Some(api::tls::acceptor(c.clone())?),
        None => None,
    };
    let store = open_store(&config).await?;
    tracing::info!(backend = ?store.backend(), "database ready");

    let admin_password = std::env::var("TSUNAGU_ADMIN_PASSWORD").ok();
    let first = seed::first_start(&store, admin_password, config.demo).await?;
    let seed_recordings =
        first == FirstStart::Demo && std::env::var("TSUNAGU_DEMO_RECORDINGS").as_deref() == Ok("1");
    match first {
        FirstStart::Existing if config.demo => {
            tracing::warn!("--demo ignored: the database already holds data");
        }
        FirstStart::Existing => {}
        FirstStart::Demo => {
            tracing::warn!(
                "demo data loaded: admin/{} and agents 201-203, sv01 with password {} — not for production",
                seed::DEMO_ADMIN_PASSWORD,
                seed::DEMO_PASSWORD
            );
            // Tests that count queue outcomes turn the greeting off: a greeted caller is
            // answered at once.
            if std::env::var("TSUNAGU_DEMO_AUDIO").as_deref() != Ok("0") {
                let added = seed::demo_audio(&store, &config.data_dir.join("voice")).await?;
                if !added.is_empty() {
                    tracing::info!(?added, "demo audio given to the Support group");
                }
            }
        }
        FirstStart::AdminCreated {
            generated_password: Some(p),
        } => {
            // Printed once: it is not stored anywhere in clear.
            tracing::warn!("created administrator `admin` with generated password: {p}");
        }
        FirstStart::AdminCreated {
            generated_password: None,
        } => {
            tracing::info!(
                "created administrator `admin` with the password from TSUNAGU_ADMIN_PASSWORD"
            );
        }
    }
    // One clock for the calls, the ACD and the journal.
    let clock: Arc<dyn engine::Clock> = Arc::new(store::clock::SystemClock::default());
    // A restart closes the calls that were in flight at their last known moment: nothing
    // vanishes from history, and an outage is not counted as talk time.
    let (journal, recovered) =
        store::journal::Journal::start(store.clone(), &config.node, clock.clone())
            .await
            .context("starting the journal")?;
    if seed_recordings {
        // Yesterday in the center's time zone: its archive is built at once.
        let schedule = store
            .system_settings()
            .await?
            .schedule()
            .map_err(|(f, e)| anyhow::anyhow!("system setting {f}: {e}"))?;
        let yesterday = schedule
            .day_of(api::now_ms())
            .yesterday()
            .context("yesterday")?;
        let calls = seed::demo_recordings(
            &store,
            &journal,
            &config.data_dir.join("recordings"),
            schedule.bounds(yesterday).0,
        )
        .await?;
        tracing::info!(?calls, "demo recordings added");
        let call = seed::demo_voicemail(
            &journal,
            &config.data_dir.join("voicemail"),
            schedule.bounds(yesterday).0,
        )
        .await?;
        tracing::info!(call, "demo voicemail added");
    }
    if recovered.closed > 0 {
        tracing::warn!(
            calls = recovered.closed,
            last_alive = ?recovered.last_alive,
            "closed calls interrupted by the previous shutdown"
        );
    }
    let telephony = telephony::Telephony::start(
        telephony::TelephonyConfig {
            sip: sip::SipConfig {
                listen: config.sip_addr,
                realm: config.sip_realm.clone(),
                digest_algorithms: if config.sip_md5_only {
                    vec![sip::digest::Algorithm::Md5]
                } else {
                    vec![sip::digest::Algorithm::Sha256, sip::digest::Algorithm::Md5]
                },
                public_ip: config.public_ip,
                tls: config
                    .sip_tls_addr
                    .zip(certificate)
                    .map(|(listen, certificate)| sip::SipTls {
                        listen,
                        certificate,
                    }),
            },
            rtp_ports: config.rtp_ports,
            rtp_idle_timeout: Duration::from_secs(60),
            voice_dir: config.data_dir.join("voice"),
            recordings_dir: config.data_dir.join("recordings"),
            voicemail_dir: config.data_dir.join("voicemail"),
        },
        store.clone(),
        journal.clone(),
        clock,
    )
    .await
    .context("starting telephony")?;
    if !config.web_dir.join("index.html").exists() {
        tracing::warn!(dir = %config.web_dir.display(), "web app not built: run `npm --prefix web run build`");
    }

    let live: Arc<dyn Telephony> = Arc::new(Live(telephony.handle(), telephony.sip_probe()));
    let state = AppState::new(
        store.clone(),
        ApiConfig {
            // Over HTTPS the cookie is Secure whatever the flag says.
            secure_cookies: config.secure_cookies || tls.is_some(),
            login: api::LoginPolicy {
                release_after: config.lock_release,
                ..Default::default()
            },
            trusted_proxies: config.trusted_proxies.clone(),
            recordings_dir: config.data_dir.join("recordings"),
            archives_dir: config.data_dir.join("archives"),
            voicemail_dir: config.data_dir.join("voicemail"),
            ..ApiConfig::new(config.web_dir.clone(), config.data_dir.join("voice"))
        },
    )
    .with_telephony(live);
    tokio::spawn(purge_sessions(store.clone()));
    tokio::spawn(release_locks(state.clone()));
    tokio::spawn(state.archive.clone().run());
    tokio::spawn(state.mail.clone().run());
    tokio::spawn(api::voicemail_notify::run(
        state.clone(),
        telephony.handle().voicemails_saved(),
    ));
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding HTTP on {}", config.http_addr))?;
    tracing::info!(
        http = %listener.local_addr()?,
        tls = tls.is_some(),
        sip = %config.sip_addr,
        sip_tls = ?config.sip_tls_addr,
        rtp = %config.rtp_ports,
        "Tsunagu listening"
    );
    let app = api::make_service(state);
    match tls {
        Some(acceptor) => axum::serve(api::tls::TlsListener::new(listener, acceptor)?, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("HTTPS server")?,
        None => axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("HTTP server")?,
    }
    telephony.shutdown().await;
    journal.stop().await.ok();
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The API's view of the telephony.
struct Live(telephony::TelephonyHandle, sip::SipProbe);

/// A browser phone that is ON, as the API holds it.
struct Line(sip::browser_phone::PhoneLine);

impl api::phone::PhoneLine for Line {
    fn command(&self, cmd: api::phone::PhoneCommand) {
        self.0.command(cmd);
    }
}

impl Telephony for Live {
    fn agent_status(&self, agent: i64) -> BoxFuture<'_, Vec<(i64, AgentStatus)>> {
        Box::pin(self.0.agent_status(agent))
    }

    fn set_readiness(&self, agent: i64, group: Option<i64>, readiness: Readiness, by: ChangedBy) {
        self.0.set_readiness(agent, group, readiness, by);
    }

    fn realtime(&self, group: Option<i64>, hours: u32) -> BoxFuture<'_, Option<Realtime>> {
        Box::pin(self.0.realtime(group, hours))
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<LiveMessage> {
        self.0.subscribe()
    }

    fn config_changed(&self) {
        self.0.config_changed();
    }

    fn sip_listening(&self) -> Result<(), String> {
        self.1.check()
    }

    fn callback(&self, agent: i64, colleague: i64) -> Result<(), String> {
        self.0.callback(agent, colleague).map_err(|e| e.to_string())
    }

    fn phone_on(
        &self,
        agent: i64,
        events: tokio::sync::mpsc::UnboundedSender<api::phone::PhoneEvent>,
    ) -> BoxFuture<'_, Result<Box<dyn api::phone::PhoneLine>, String>> {
        Box::pin(async move {
            let line = self.0.phone_on(agent, events).await?;
            Ok(Box::new(Line(line)) as Box<dyn api::phone::PhoneLine>)
        })
    }

    fn pause_recording(
        &self,
        call: i64,
        paused: bool,
        by: i64,
    ) -> BoxFuture<'_, Result<(), api::telephony::RecordingControl>> {
        Box::pin(async move {
            use api::telephony::RecordingControl as C;
            self.0
                .pause_recording(call, paused, Some(by))
                .await
                .map_err(|e| match e {
                    telephony::RecordingControlError::NoSuchCall => C::NoSuchCall,
                    telephony::RecordingControlError::NotRecording => C::NotRecording,
                })
        })
    }
}

async fn purge_sessions(store: Store) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        let res = match store.conn().await {
            Ok(mut c) => store::sessions::purge_expired(&mut c, api::now_ms()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            tracing::warn!(error = %e, "purging expired sessions failed");
        }
    }
}

/// Lifts automatic account locks whose time is up (AUTH-06).
async fn release_locks(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match api::auth::release_expired_locks(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(accounts = n, "automatic account locks lifted"),
            Err(e) => tracing::warn!(error = %e, "lifting expired account locks failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
