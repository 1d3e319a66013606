//! Notification mail (VOICE-06): the SMTP settings (one JSON value under the settings name
//! `mail`, like the system and S3 settings) and the persistent outbox the mail job sends from.
//!
//! A mail is `queued` until it is `sent`, or `failed` when the job gave up on it. The job claims
//! a due mail by moving its `next_attempt_at` forward with a compare-and-set ([`Store::claim_mail`]),
//! so that servers sharing one database never send the same mail twice, and a mail whose
//! sender crashed is tried again once that lease has passed.

use crate::{query, text_enum, Filter, Page, Result, Store, StoreError};
use serde::{Deserialize, Serialize};

const NAME: &str = "mail";

text_enum!(
    /// How the SMTP connection is protected: not at all (a relay on the same host or network),
    /// upgraded with STARTTLS (usually port 587), or TLS from the first byte (port 465).
    MailSecurity {
        None = "none",
        Starttls = "starttls",
        Tls = "tls",
    } default Starttls
);

text_enum!(
    /// Waiting to be sent (again), sent, or given up on (`last_error` says why).
    MailState {
        Queued = "queued",
        Sent = "sent",
        Failed = "failed",
    } default Queued
);

/// The stored SMTP settings, password included (only the mail job and the settings routes
/// read it; the API never returns it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailSettings {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub security: MailSecurity,
    /// Empty: no authentication.
    pub username: String,
    pub password: String,
    /// The sender, `addr@example.com` or `Name <addr@example.com>`.
    pub from: String,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            enabled: false,
            host: String::new(),
            port: 587,
            security: MailSecurity::Starttls,
            username: String::new(),
            password: String::new(),
            from: String::new(),
        }
    }
}

/// A file attached to a mail, read from disk when the mail is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    pub path: String,
    /// The name the recipient sees, e.g. `voicemail-17.wav`.
    pub file_name: String,
    /// MIME type, e.g. `audio/wav`.
    pub content_type: String,
}

/// A mail to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub attachment: Option<MailAttachment>,
    /// What the mail is about (e.g. `voicemail`); empty for none.
    pub ref_kind: String,
    pub ref_id: Option<i64>,
    pub created_at: i64,
}

/// A mail of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub attachment: Option<MailAttachment>,
    pub ref_kind: String,
    pub ref_id: Option<i64>,
    pub state: MailState,
    /// Attempts made (a claimed attempt counts even if its sender died).
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    to_address: String,
    subject: String,
    body: String,
    attachment_path: Option<String>,
    attachment_name: Option<String>,
    attachment_type: Option<String>,
    ref_kind: String,
    ref_id: Option<i64>,
    state: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
}

impl Row {
    fn into_mail(self) -> Result<OutboxMail> {
        let attachment = match (
            self.attachment_path,
            self.attachment_name,
            self.attachment_type,
        ) {
            (Some(path), Some(file_name), Some(content_type)) => Some(MailAttachment {
                path,
                file_name,
                content_type,
            }),
            _ => None,
        };
        Ok(OutboxMail {
            id: self.id,
            to: self.to_address,
            subject: self.subject,
            body: self.body,
            attachment,
            ref_kind: self.ref_kind,
            ref_id: self.ref_id,
            state: MailState::from_db(&self.state)?,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at,
            last_error: self.last_error,
            created_at: self.created_at,
            sent_at: self.sent_at,
        })
    }
}

const COLS: &str = "id, to_address, subject, body, attachment_path, attachment_name, \
    attachment_type, ref_kind, ref_id, state, attempts, next_attempt_at, last_error, created_at, \
    sent_at";

/// Search of the outbox screen.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub state: Option<MailState>,
    pub ref_kind: Option<String>,
    pub ref_id: Option<i64>,
}

/// What became of a mail retried by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    Queued(Box<OutboxMail>),
    /// It was sent already.
    AlreadySent,
    NotFound,
}

impl Store {
    /// The SMTP settings; the defaults for what was never saved.
    pub async fn mail_settings(&self) -> Result<MailSettings> {
        match self.get_setting(NAME).await? {
            None => Ok(MailSettings::default()),
            Some(v) => serde_json::from_str(&v)
                .map_err(|e| StoreError::Corrupt(format!("settings `{NAME}`: {e}"))),
        }
    }

    pub async fn set_mail_settings(&self, s: &MailSettings) -> Result<()> {
        let v = serde_json::to_string(s)
            .map_err(|e| StoreError::Corrupt(format!("settings `{NAME}`: {e}")))?;
        self.set_setting(NAME, &v).await
    }

    /// Queues a mail, due at once; returns its id.
    pub async fn enqueue_mail(&self, m: &NewMail) -> Result<i64> {
        let a = m.attachment.as_ref();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO mail_outbox (to_address, subject, body, attachment_path, attachment_name,
                attachment_type, ref_kind, ref_id, state, attempts, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10) RETURNING id",
        )
        .bind(&m.to)
        .bind(&m.subject)
        .bind(&m.body)
        .bind(a.map(|a| a.path.clone()))
        .bind(a.map(|a| a.file_name.clone()))
        .bind(a.map(|a| a.content_type.clone()))
        .bind(&m.ref_kind)
        .bind(m.ref_id)
        .bind(MailState::Queued.as_str())
        .bind(m.created_at)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    pub async fn outbox_mail(&self, id: i64) -> Result<Option<OutboxMail>> {
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLS} FROM mail_outbox WHERE id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        row.map(Row::into_mail).transpose()
    }

    /// The outbox, newest first, and how many mails match.
    pub async fn outbox(&self, f: &OutboxFilter, page: Page) -> Result<(Vec<OutboxMail>, i64)> {
        let mut filter = Filter::default();
        filter.eq_text("state", f.state.map(MailState::as_str));
        filter.eq_text("ref_kind", f.ref_kind.as_deref());
        filter.eq_int("ref_id", f.ref_id);
        let mut c = self.conn().await?;
        let (rows, total): (Vec<Row>, i64) =
            query::list(&mut c, COLS, "mail_outbox", "id DESC", &filter, page).await?;
        let mails = rows
            .into_iter()
            .map(Row::into_mail)
            .collect::<Result<_>>()?;
        Ok((mails, total))
    }

    /// Queued mails due at `now`, oldest due first.
    pub async fn mails_due(&self, now: i64, limit: i64) -> Result<Vec<OutboxMail>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLS} FROM mail_outbox WHERE state = $1 AND next_attempt_at <= $2
             ORDER BY next_attempt_at, id LIMIT $3"
        ))
        .bind(MailState::Queued.as_str())
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Row::into_mail).collect()
    }

    /// When the next queued mail is due (epoch ms), if any.
    pub async fn next_mail_due(&self) -> Result<Option<i64>> {
        let (t,): (Option<i64>,) =
            sqlx::query_as("SELECT MIN(next_attempt_at) FROM mail_outbox WHERE state = $1")
                .bind(MailState::Queued.as_str())
                .fetch_one(self.pool())
                .await?;
        Ok(t)
    }

    /// Takes mail `m` (as read by [`Store::mails_due`]) for one attempt: counts the attempt and
    /// holds the mail until `lease_until`. False when another sender took it first.
    pub async fn claim_mail(&self, m: &OutboxMail, lease_until: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE mail_outbox SET next_attempt_at = $1, attempts = attempts + 1
             WHERE id = $2 AND state = $3 AND next_attempt_at = $4",
        )
        .bind(lease_until)
        .bind(m.id)
        .bind(MailState::Queued.as_str())
        .bind(m.next_attempt_at)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn mail_sent(&self, id: i64, at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE mail_outbox SET state = $1, sent_at = $2, next_attempt_at = NULL,
                last_error = NULL WHERE id = $3",
        )
        .bind(MailState::Sent.as_str())
        .bind(at)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// An attempt failed with `error`: tried again at `retry_at`, or failed for good (`None`).
    pub async fn mail_attempt_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<()> {
        let state = match retry_at {
            Some(_) => MailState::Queued,
            None => MailState::Failed,
        };
        sqlx::query(
            "UPDATE mail_outbox SET state = $1, next_attempt_at = $2, last_error = $3
             WHERE id = $4",
        )
        .bind(state.as_str())
        .bind(retry_at)
        .bind(error)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Queues a mail again at `now` with a fresh count of attempts (the last error stays until
    /// the next attempt).
    pub async fn retry_mail(&self, id: i64, now: i64) -> Result<Retry> {
        let mut tx = self.begin().await?;
        let row: Option<(String,)> = sqlx::query_as("SELECT state FROM mail_outbox WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        match row {
            None => return Ok(Retry::NotFound),
            Some((s,)) if MailState::from_db(&s)? == MailState::Sent => {
                return Ok(Retry::AlreadySent)
            }
            Some(_) => {}
        }
        sqlx::query(
            "UPDATE mail_outbox SET state = $1, attempts = 0, next_attempt_at = $2 WHERE id = $3",
        )
        .bind(MailState::Queued.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        match self.outbox_mail(id).await? {
            Some(m) => Ok(Retry::Queued(Box::new(m))),
            None => Ok(Retry::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_match_serde() {
        for s in MailState::ALL {
            let json = serde_json::to_value(s).unwrap_or_default();
            assert_eq!(json.as_str(), Some(s.as_str()));
        }
        for s in MailSecurity::ALL {
            let json = serde_json::to_value(s).unwrap_or_default();
            assert_eq!(json.as_str(), Some(s.as_str()));
        }
    }
}
