//! Notification mail (VOICE-06): the SMTP settings (`/api/v1/settings/mail`), a test mail, and
//! the [`Mailer`], a background job that sends the persistent outbox (`store::mail`) with
//! `lettre`, retrying failures with back-off; the outbox screen (`/api/v1/mail/outbox`) is how
//! an administrator sees a mail that could not be sent.
//!
//! Other parts of the server send mail with [`Mailer::enqueue`] through `AppState.mail`:
//!
//! ```ignore
//! let id = state.mail.enqueue(OutgoingMail {
//!     to: "sales@example.com".into(),
//!     subject: "留守番電話 / Voicemail".into(),
//!     body: "…".into(),
//!     attachment: Some(Attachment::wav(recordings_dir.join(&file), "voicemail-17.wav")),
//!     reference: Some(MailRef::new("voicemail", 17)),
//! }).await?;
//! ```
//!
//! The call returns once the mail is stored; it is sent in the background (at once when SMTP
//! is on, later when it is turned on), and survives a restart.

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, KeyPath};
use crate::resources::{page, List, Paging};
use crate::{now_ms, AppState};
use axum::extract::State;
use axum::{Extension, Json};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::mail::{
    MailAttachment, MailSecurity, MailSettings, MailState, NewMail, OutboxFilter, OutboxMail, Retry,
};
use store::Store;
use tokio::sync::Notify;
use utoipa::ToSchema;

/// How often the job looks at the outbox when nothing wakes it.
const PASS_EVERY: Duration = Duration::from_secs(60);
/// Mails taken per query.
const BATCH: i64 = 20;
/// Largest attachment sent (most mail servers refuse more than 20–25 MB).
pub const MAX_ATTACHMENT: u64 = 20 << 20;

/// Retries and timeouts of the mail job (the defaults are for production; tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailPolicy {
    /// Wait after the first failed attempt; it doubles with each further failure…
    pub retry_first: Duration,
    /// …up to this.
    pub retry_max: Duration,
    /// Attempts before a mail is marked failed.
    pub max_attempts: u32,
    /// Connecting to the server; a whole attempt (connect, commands, data) gets four times
    /// as long.
    pub timeout: Duration,
}

impl Default for MailPolicy {
    fn default() -> Self {
        MailPolicy {
            retry_first: Duration::from_secs(60),
            retry_max: Duration::from_secs(3600),
            max_attempts: 10,
            timeout: Duration::from_secs(30),
        }
    }
}

impl MailPolicy {
    /// Wait after the `attempts`-th failed attempt: 1, 2, 4 … minutes, at most an hour.
    pub fn retry_after(&self, attempts: i64) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.retry_first
            .checked_mul(1u32 << exp)
            .unwrap_or(self.retry_max)
            .min(self.retry_max)
    }

    /// Longest a whole attempt may take (lettre bounds only the connect, and a server that
    /// stops answering must not hold the job).
    fn attempt_timeout(&self) -> Duration {
        self.timeout * 4
    }

    /// How long an attempt holds its mail: longer than any attempt takes.
    fn lease(&self) -> Duration {
        self.timeout * 10
    }
}

/// A mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The recipient: `addr@example.com` or `Name <addr@example.com>`.
    pub to: String,
    /// One line (line breaks become spaces).
    pub subject: String,
    /// Plain text (UTF-8).
    pub body: String,
    pub attachment: Option<Attachment>,
    /// What the mail is about, to find it again in the outbox (`?ref_kind=&ref_id=`).
    pub reference: Option<MailRef>,
}

/// A file attached to a mail. It is read when the mail is sent, so it must stay where it is
/// until then; a file that is gone by then fails the mail for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Absolute path (e.g. below the data directory).
    pub path: PathBuf,
    /// The name the recipient sees.
    pub file_name: String,
    /// MIME type, e.g. `audio/wav`.
    pub content_type: String,
}

impl Attachment {
    /// A WAV file (`audio/wav`).
    pub fn wav(path: impl Into<PathBuf>, file_name: impl Into<String>) -> Self {
        Attachment {
            path: path.into(),
            file_name: file_name.into(),
            content_type: "audio/wav".into(),
        }
    }
}

/// What a mail is about: a kind of record and its id, e.g. `("voicemail", 17)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRef {
    pub kind: String,
    pub id: i64,
}

impl MailRef {
    pub fn new(kind: impl Into<String>, id: i64) -> Self {
        MailRef {
            kind: kind.into(),
            id,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A field of the mail is unusable (`field`: `to`, `attachment.file_name`, …).
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl From<MailError> for ApiError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::Invalid { field, message } => {
                ApiError::Validation(vec![FieldError::new(field, "format", message)])
            }
            MailError::Store(e) => ApiError::Store(e),
        }
    }
}

/// Parses an address as `addr@example.com` or `Name <addr@example.com>`.
pub fn parse_mailbox(field: &'static str, v: &str) -> Result<Mailbox, MailError> {
    v.trim().parse::<Mailbox>().map_err(|e| MailError::Invalid {
        field,
        message: format!("Not a mail address ({e}): write it as name@example.com."),
    })
}

/// Whether `v` is a usable mail address (for forms that take one, such as a voice file's).
pub fn is_valid_address(v: &str) -> bool {
    parse_mailbox("to", v).is_ok()
}

/// The mail job and the synchronous test mail.
pub struct Mailer {
    store: Store,
    policy: MailPolicy,
    wake: Notify,
}

/// What one pass did (mail ids).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub sent: Vec<i64>,
    /// Failed and to be tried again.
    pub retrying: Vec<i64>,
    /// Failed for good.
    pub failed: Vec<i64>,
}

impl Mailer {
    pub fn new(store: Store, policy: MailPolicy) -> Arc<Mailer> {
        Arc::new(Mailer {
            store,
            policy,
            wake: Notify::new(),
        })
    }

    pub fn policy(&self) -> &MailPolicy {
        &self.policy
    }

    /// Queues a mail and wakes the job; returns the mail's outbox id. Refuses (with the field)
    /// a recipient that is not a mail address and an attachment without a usable name or type;
    /// an attachment is not read now (a missing file shows in the outbox when it is sent).
    pub async fn enqueue(&self, mail: OutgoingMail) -> Result<i64, MailError> {
        let to = parse_mailbox("to", &mail.to)?;
        let attachment = match mail.attachment {
            None => None,
            Some(a) => {
                let name_ok = !a.file_name.trim().is_empty()
                    && a.file_name.len() <= 200
                    && !a
                        .file_name
                        .chars()
                        .any(|c| c.is_control() || c == '/' || c == '\\');
                if !name_ok {
                    return Err(MailError::Invalid {
                        field: "attachment.file_name",
                        message: "A file name of 1 to 200 characters, without / or \\.".into(),
                    });
                }
                if ContentType::parse(&a.content_type).is_err() {
                    return Err(MailError::Invalid {
                        field: "attachment.content_type",
                        message: format!("`{}` is not a MIME type.", a.content_type),
                    });
                }
                Some(MailAttachment {
                    path: a.path.to_string_lossy().into_owned(),
                    file_name: a.file_name.trim().to_string(),
                    content_type: a.content_type,
                })
            }
        };
        let (ref_kind, ref_id) = match mail.reference {
            Some(r) => (r.kind, Some(r.id)),
            None => (String::new(), None),
        };
        let id = self
            .store
            .enqueue_mail(&NewMail {
                to: to.to_string(),
                subject: one_line(&mail.subject),
                body: mail.body,
                attachment,
                ref_kind,
                ref_id,
                created_at: now_ms(),
            })
            .await?;
        self.wake();
        Ok(id)
    }

    /// Look at the outbox now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The job: a pass now, then whenever a mail is due, something is queued or the settings
    /// change (and every minute in any case).
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.pass(now_ms()).await {
                Ok(r) if r != PassReport::default() => tracing::info!(
                    sent = ?r.sent,
                    retrying = ?r.retrying,
                    failed = ?r.failed,
                    "notification mail"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail pass failed"),
            }
            let wait = match self.store.next_mail_due().await {
                Ok(Some(at)) => {
                    Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)).min(PASS_EVERY)
                }
                _ => PASS_EVERY,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Sends the mails due at `now`. Nothing is sent while mail is off or has no server: the
    /// mails wait in the outbox.
    pub async fn pass(&self, now: i64) -> store::Result<PassReport> {
        let mut report = PassReport::default();
        let settings = self.store.mail_settings().await?;
        if !settings.enabled || settings.host.is_empty() {
            return Ok(report);
        }
        // One transport per pass: settings changes apply to the next pass.
        let transport = transport(&settings, &self.policy);
        let from = parse_mailbox("from", &settings.from);
        let lease = i64::try_from(self.policy.lease().as_millis()).unwrap_or(i64::MAX);
        loop {
            let due = self.store.mails_due(now, BATCH).await?;
            if due.is_empty() {
                return Ok(report);
            }
            for m in due {
                if !self.store.claim_mail(&m, now_ms() + lease).await? {
                    continue;
                }
                let attempts = m.attempts + 1;
                let result = match (&transport, &from) {
                    (Err(e), _) => Err(Failure::Retry(e.clone())),
                    (_, Err(e)) => Err(Failure::Retry(e.to_string())),
                    (Ok(t), Ok(from)) => {
                        let limit = self.policy.attempt_timeout();
                        tokio::time::timeout(limit, send(t, from.clone(), &m))
                            .await
                            .unwrap_or_else(|_| {
                                Err(Failure::Retry(format!(
                                    "The SMTP server did not finish within {} s.",
                                    limit.as_secs()
                                )))
                            })
                    }
                };
                match result {
                    Ok(()) => {
                        self.store.mail_sent(m.id, now_ms()).await?;
                        report.sent.push(m.id);
                    }
                    Err(f) => {
                        let (error, retry_at) = match f {
                            Failure::Permanent(e) => (e, None),
                            Failure::Retry(e)
                                if attempts >= i64::from(self.policy.max_attempts) =>
                            {
                                (format!("{e} (gave up after {attempts} attempts)"), None)
                            }
                            Failure::Retry(e) => {
                                let wait = self.policy.retry_after(attempts);
                                let wait = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
                                (e, Some(now_ms().saturating_add(wait)))
                            }
                        };
                        tracing::warn!(mail = m.id, to = %m.to, attempts, error = %error, "sending a mail failed");
                        self.store
                            .mail_attempt_failed(m.id, &error, retry_at)
                            .await?;
                        match retry_at {
                            Some(_) => report.retrying.push(m.id),
                            None => report.failed.push(m.id),
                        }
                    }
                }
            }
        }
    }

    /// Sends a test mail to `to` with `settings` now, and says what the server answered.
    pub async fn send_test(&self, settings: &MailSettings, to: Mailbox) -> Result<(), String> {
        let t = transport(settings, &self.policy)?;
        let from = parse_mailbox("from", &settings.from).map_err(|e| e.to_string())?;
        let msg = Message::builder()
            .from(from)
            .to(to)
            .subject("Tsunagu テストメール / test mail")
            .header(ContentType::TEXT_PLAIN)
            .body(
                "Tsunagu からのテストメールです。通知メールは正しく届きます。\n\n\
                 This is a test mail from Tsunagu: notification mail works.\n"
                    .to_string(),
            )
            .map_err(|e| e.to_string())?;
        let limit = self.policy.attempt_timeout();
        match tokio::time::timeout(limit, t.send(msg)).await {
            Ok(r) => r.map(|_| ()).map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "The SMTP server did not finish within {} s.",
                limit.as_secs()
            )),
        }
    }
}

enum Failure {
    /// Tried again later (the server, the network, a file that could not be read now).
    Retry(String),
    /// Trying again cannot help (the attachment is gone, the address is unusable).
    Permanent(String),
}

fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The SMTP client the settings describe.
fn transport(
    s: &MailSettings,
    policy: &MailPolicy,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
        .port(s.port)
        .timeout(Some(policy.timeout));
    match s.security {
        MailSecurity::None => {}
        MailSecurity::Starttls | MailSecurity::Tls => {
            let params = TlsParameters::new(s.host.clone()).map_err(|e| e.to_string())?;
            b = b.tls(if s.security == MailSecurity::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            });
        }
    }
    if !s.username.is_empty() {
        b = b.credentials(Credentials::new(s.username.clone(), s.password.clone()));
    }
    Ok(b.build())
}

/// One attempt at sending `m`.
async fn send(
    t: &AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    m: &OutboxMail,
) -> Result<(), Failure> {
    let to = parse_mailbox("to", &m.to).map_err(|e| Failure::Permanent(e.to_string()))?;
    let builder = Message::builder().from(from).to(to).subject(&m.subject);
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(m.body.clone());
    let msg = match &m.attachment {
        None => builder.singlepart(text),
        Some(a) => {
            let bytes = read_attachment(a).await?;
            let content_type = ContentType::parse(&a.content_type)
                .map_err(|e| Failure::Permanent(format!("attachment type: {e}")))?;
            let file =
                lettre::message::Attachment::new(a.file_name.clone()).body(bytes, content_type);
            builder.multipart(MultiPart::mixed().singlepart(text).singlepart(file))
        }
    }
    .map_err(|e| Failure::Permanent(e.to_string()))?;
    t.send(msg)
        .await
        .map(|_| ())
        .map_err(|e| Failure::Retry(e.to_string()))
}

async fn read_attachment(a: &MailAttachment) -> Result<Vec<u8>, Failure> {
    let meta = match tokio::fs::metadata(&a.path).await {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Permanent(format!(
                "The attachment {} is missing on the server.",
                a.path
            )))
        }
        Err(e) => return Err(Failure::Retry(format!("{}: {e}", a.path))),
    };
    if meta.len() > MAX_ATTACHMENT {
        return Err(Failure::Permanent(format!(
            "The attachment {} is {} bytes, more than the {MAX_ATTACHMENT} a mail may carry.",
            a.path,
            meta.len()
        )));
    }
    tokio::fs::read(&a.path)
        .await
        .map_err(|e| Failure::Retry(format!("{}: {e}", a.path)))
}

// --- The API --------------------------------------------------------------------------------

/// The SMTP settings as the API shows them: everything but the password.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailSettingsView {
    /// Send notification mail.
    pub enabled: bool,
    /// The SMTP server's host name or address.
    pub host: String,
    pub port: u16,
    pub security: MailSecurity,
    /// Empty: no authentication.
    pub username: String,
    /// Whether a password is stored (it is never returned).
    pub password_set: bool,
    /// The sender: `addr@example.com` or `Name <addr@example.com>`.
    pub from: String,
}

impl From<&MailSettings> for MailSettingsView {
    fn from(s: &MailSettings) -> Self {
        MailSettingsView {
            enabled: s.enabled,
            host: s.host.clone(),
            port: s.port,
            security: s.security,
            username: s.username.clone(),
            password_set: !s.password.is_empty(),
            from: s.from.clone(),
        }
    }
}

/// Body of PUT /settings/mail (and the `settings` of a test mail).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailSettingsInput {
    pub enabled: bool,
    #[serde(default)]
    pub host: String,
    /// 1–65535; usually 587 with STARTTLS, 465 with TLS, 25 without.
    pub port: u16,
    pub security: MailSecurity,
    #[serde(default)]
    pub username: String,
    /// The password; leave it out (or null) to keep the stored one, "" to remove it.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub from: String,
}

/// What is wrong with settings, field by field; `host` and `from` are required when mail is on.
fn problems(s: &MailSettings) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if s.enabled && s.host.is_empty() {
        errors.push(FieldError::new(
            "host",
            "required",
            "Required when mail is on.",
        ));
    }
    let host_ok = s.host.len() <= 253
        && s.host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
    if !host_ok {
        errors.push(FieldError::new(
            "host",
            "format",
            "A host name (smtp.example.com) or an IP address.",
        ));
    }
    if s.port == 0 {
        errors.push(FieldError::new("port", "range", "A port from 1 to 65535."));
    }
    if s.enabled && s.from.is_empty() {
        errors.push(FieldError::new(
            "from",
            "required",
            "Required when mail is on.",
        ));
    }
    if !s.from.is_empty() {
        if let Err(MailError::Invalid { message, .. }) = parse_mailbox("from", &s.from) {
            errors.push(FieldError::new("from", "format", message));
        }
    }
    if s.username.len() > 256 || s.username.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "username",
            "format",
            "At most 256 characters, no control characters.",
        ));
    }
    if s.password.len() > 256 {
        errors.push(FieldError::new(
            "password",
            "length",
            "At most 256 characters.",
        ));
    }
    errors
}

/// The settings `input` makes of the stored ones, or what is wrong with them.
fn merge(old: &MailSettings, input: MailSettingsInput) -> ApiResult<MailSettings> {
    let new = MailSettings {
        enabled: input.enabled,
        host: input.host.trim().to_string(),
        port: input.port,
        security: input.security,
        username: input.username.trim().to_string(),
        // A password may begin or end with a space: taken as typed.
        password: input.password.unwrap_or_else(|| old.password.clone()),
        from: input.from.trim().to_string(),
    };
    ApiError::validation(problems(&new))?;
    Ok(new)
}

pub async fn get_settings(State(s): State<AppState>) -> ApiResult<Json<MailSettingsView>> {
    Ok(Json((&s.store.mail_settings().await?).into()))
}

pub async fn put_settings(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    ApiJson(input): ApiJson<MailSettingsInput>,
) -> ApiResult<Json<MailSettingsView>> {
    let new = merge(&s.store.mail_settings().await?, input)?;
    s.store.set_mail_settings(&new).await?;
    crate::settings::changed(&s, &me, "mail").await?;
    // Mails waiting for mail to be turned on go now.
    s.mail.wake();
    Ok(Json((&new).into()))
}

/// Body of POST /settings/mail/test.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailTestInput {
    /// Where the test mail goes.
    pub to: String,
    /// Settings to test instead of the stored ones (the stored password when none is given),
    /// so that the form can be tried before it is saved.
    #[serde(default)]
    pub settings: Option<MailSettingsInput>,
}

/// A test mail that the server accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailTestResult {
    pub ok: bool,
    /// What the SMTP server said last.
    pub message: String,
}

/// Sends a test mail now; a 422 carries the SMTP error (`code` `smtp`).
pub async fn test(
    State(s): State<AppState>,
    ApiJson(input): ApiJson<MailTestInput>,
) -> ApiResult<Json<MailTestResult>> {
    let stored = s.store.mail_settings().await?;
    let mut cfg = match input.settings {
        Some(i) => merge(&stored, i)?,
        None => stored,
    };
    // Testing does not need the switch on, but a server and a sender.
    cfg.enabled = true;
    let mut errors = problems(&cfg);
    let to = parse_mailbox("to", &input.to);
    if let Err(MailError::Invalid { field, message }) = &to {
        errors.push(FieldError::new(field, "format", message.clone()));
    }
    ApiError::validation(errors)?;
    let to = to?;
    match s.mail.send_test(&cfg, to).await {
        Ok(()) => Ok(Json(MailTestResult {
            ok: true,
            message: "The SMTP server accepted the test mail.".into(),
        })),
        Err(e) => Err(ApiError::Validation(vec![FieldError::general("smtp", e)])),
    }
}

/// A mail of the outbox as the screen shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxItem {
    pub id: i64,
    pub to: String,
    pub subject: String,
    /// The attached file's name.
    pub attachment: Option<String>,
    /// What the mail is about (e.g. `voicemail`); empty for none.
    pub ref_kind: String,
    pub ref_id: Option<i64>,
    pub state: MailState,
    pub attempts: i64,
    /// When a queued mail is tried (again), epoch ms.
    pub next_attempt_at: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

impl From<OutboxMail> for OutboxItem {
    fn from(m: OutboxMail) -> Self {
        OutboxItem {
            id: m.id,
            to: m.to,
            subject: m.subject,
            attachment: m.attachment.map(|a| a.file_name),
            ref_kind: m.ref_kind,
            ref_id: m.ref_id,
            state: m.state,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct OutboxQuery {
    pub state: Option<String>,
    pub ref_kind: Option<String>,
    pub ref_id: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

pub async fn outbox(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> ApiResult<Json<List<OutboxItem>>> {
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let state = match q.state.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse::<MailState>().map_err(|()| {
            ApiError::BadRequest(FieldError::new(
                "state",
                "format",
                "`state` is queued, sent or failed.",
            ))
        })?),
    };
    let ref_id = match q.ref_id.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| {
            ApiError::BadRequest(FieldError::new(
                "ref_id",
                "format",
                "`ref_id` is a whole number.",
            ))
        })?),
    };
    let filter = OutboxFilter {
        state,
        ref_kind: q.ref_kind.filter(|v| !v.is_empty()),
        ref_id,
    };
    let (mails, total) = s.store.outbox(&filter, p).await?;
    Ok(Json(List {
        items: mails.into_iter().map(OutboxItem::from).collect(),
        total,
    }))
}

/// Sends a queued or failed mail again now, with a fresh count of attempts.
pub async fn retry(
    State(s): State<AppState>,
    KeyPath(id): KeyPath<i64>,
) -> ApiResult<Json<OutboxItem>> {
    match s.store.retry_mail(id, now_ms()).await? {
        Retry::Queued(m) => {
            s.mail.wake();
            Ok(Json((*m).into()))
        }
        Retry::AlreadySent => Err(ApiError::Conflict(vec![FieldError::new(
            "state",
            "sent",
            "This mail has been sent.",
        )])),
        Retry::NotFound => Err(ApiError::not_found("mail")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        let p = MailPolicy::default();
        let v: Vec<u64> = (1..=9).map(|n| p.retry_after(n).as_secs()).collect();
        assert_eq!(&v[..4], &[60, 120, 240, 480]);
        assert_eq!(v[6], 3600);
        assert_eq!(p.retry_after(1_000).as_secs(), 3600);
    }

    #[test]
    fn settings_name_the_wrong_fields() {
        let s = MailSettings {
            enabled: true,
            host: "smtp example".into(),
            port: 0,
            from: "not an address".into(),
            ..Default::default()
        };
        let fields: Vec<_> = problems(&s).into_iter().filter_map(|e| e.field).collect();
        assert_eq!(fields, ["host", "port", "from"]);
        let off = MailSettings::default();
        assert!(problems(&off).is_empty());
        let on = MailSettings {
            enabled: true,
            ..Default::default()
        };
        let fields: Vec<_> = problems(&on).into_iter().filter_map(|e| e.field).collect();
        assert_eq!(fields, ["host", "from"]);
        let ok = MailSettings {
            enabled: true,
            host: "127.0.0.1".into(),
            from: "Tsunagu <noreply@example.com>".into(),
            ..Default::default()
        };
        assert!(problems(&ok).is_empty());
    }

    #[test]
    fn subjects_are_one_line() {
        assert_eq!(one_line("a\r\nBcc: x@y\n b"), "a Bcc: x@y b");
    }
}
