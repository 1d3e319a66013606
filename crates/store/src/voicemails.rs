//! Voicemail messages (VOICE-04…07, VM-*): who left which message after which voice file, and
//! where its WAV is. The journal writes a row when a message is kept; the API lists, plays and
//! deletes them; the notifier marks the ones it has handed to the mailer (VOICE-06).

use crate::{Result, Store};
use serde::Serialize;
use utoipa::ToSchema;

/// One message.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Voicemail {
    pub id: i64,
    pub call_id: i64,
    /// The voice file whose voicemail took the message; `None` once it was deleted.
    pub voice_file_id: Option<i64>,
    pub voice_file_name: String,
    /// The caller's number (相手).
    pub caller: String,
    /// When the call started (日付), epoch ms.
    pub call_started_at: i64,
    /// When the message ended, epoch ms.
    pub recorded_at: i64,
    pub duration_ms: i64,
    /// `hangup`, `pound`, `silence` or `max_length`.
    pub stop_reason: String,
    /// Where the message is mailed ('' when its voice file does not notify).
    pub notify_email: String,
    /// When it was handed to the mailer.
    pub notified_at: Option<i64>,
    /// Relative to the data directory's `voicemail` folder.
    #[serde(skip)]
    pub file: String,
}

/// What the journal writes for a kept message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVoicemail {
    pub call_id: i64,
    pub voice_file_id: Option<i64>,
    pub voice_file_name: String,
    pub caller: String,
    pub call_started_at: i64,
    pub recorded_at: i64,
    pub duration_ms: i64,
    pub file: String,
    pub stop_reason: String,
    pub notify_email: String,
}

/// The voicemail history's criteria (VM-01); every one optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoicemailQuery {
    /// Calls started at or after this, epoch ms.
    pub from: Option<i64>,
    /// Calls started before this, epoch ms.
    pub to: Option<i64>,
    /// Part of the caller's number.
    pub party: Option<String>,
    pub voice_file_id: Option<i64>,
    pub limit: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    call_id: i64,
    voice_file_id: Option<i64>,
    voice_file_name: String,
    caller: String,
    call_started_at: i64,
    recorded_at: i64,
    duration_ms: i64,
    file: String,
    stop_reason: String,
    notify_email: String,
    notified_at: Option<i64>,
}

impl From<Row> for Voicemail {
    fn from(r: Row) -> Voicemail {
        Voicemail {
            id: r.id,
            call_id: r.call_id,
            voice_file_id: r.voice_file_id,
            voice_file_name: r.voice_file_name,
            caller: r.caller,
            call_started_at: r.call_started_at,
            recorded_at: r.recorded_at,
            duration_ms: r.duration_ms,
            file: r.file,
            stop_reason: r.stop_reason,
            notify_email: r.notify_email,
            notified_at: r.notified_at,
        }
    }
}

const COLS: &str = "id, call_id, voice_file_id, voice_file_name, caller, call_started_at, \
    recorded_at, duration_ms, file, stop_reason, notify_email, notified_at";

/// The journal's insert; the new message's id.
pub(crate) async fn insert(conn: &mut crate::Conn, v: &NewVoicemail) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO voicemails (call_id, voice_file_id, voice_file_name, caller,
            call_started_at, recorded_at, duration_ms, file, stop_reason, notify_email)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(v.call_id)
    .bind(v.voice_file_id)
    .bind(&v.voice_file_name)
    .bind(&v.caller)
    .bind(v.call_started_at)
    .bind(v.recorded_at)
    .bind(v.duration_ms)
    .bind(&v.file)
    .bind(&v.stop_reason)
    .bind(&v.notify_email)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

impl Store {
    /// Messages matching `q`, newest call first.
    pub async fn voicemails(&self, q: &VoicemailQuery) -> Result<Vec<Voicemail>> {
        let mut sql = format!("SELECT {COLS} FROM voicemails WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if q.from.is_some() {
            sql += &format!(" AND call_started_at >= ${}", next());
        }
        if q.to.is_some() {
            sql += &format!(" AND call_started_at < ${}", next());
        }
        if q.party.is_some() {
            sql += &format!(" AND caller LIKE ${}", next());
        }
        if q.voice_file_id.is_some() {
            sql += &format!(" AND voice_file_id = ${}", next());
        }
        sql += &format!(" ORDER BY call_started_at DESC, id DESC LIMIT ${}", next());
        let mut query = sqlx::query_as::<_, Row>(&sql);
        if let Some(from) = q.from {
            query = query.bind(from);
        }
        if let Some(to) = q.to {
            query = query.bind(to);
        }
        if let Some(party) = &q.party {
            let escaped = party.replace(['%', '_'], "");
            query = query.bind(format!("%{escaped}%"));
        }
        if let Some(v) = q.voice_file_id {
            query = query.bind(v);
        }
        let rows = query.bind(q.limit).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(Voicemail::from).collect())
    }

    pub async fn voicemail(&self, id: i64) -> Result<Option<Voicemail>> {
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLS} FROM voicemails WHERE id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(Voicemail::from))
    }

    /// The message a call left, if any (the call history's marker, HIST-06).
    pub async fn voicemail_of_call(&self, call: i64) -> Result<Option<Voicemail>> {
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLS} FROM voicemails WHERE call_id = $1"))
                .bind(call)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(Voicemail::from))
    }

    /// Deletes these messages (VM-03); the ones that were there, so their files can go too.
    pub async fn delete_voicemails(&self, ids: &[i64]) -> Result<Vec<Voicemail>> {
        let mut tx = self.pool().begin().await?;
        let mut gone = Vec::new();
        for &id in ids {
            let row: Option<Row> =
                sqlx::query_as(&format!("SELECT {COLS} FROM voicemails WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(row) = row {
                sqlx::query("DELETE FROM voicemails WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                gone.push(Voicemail::from(row));
            }
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// Messages to be mailed that have not been handed to the mailer yet, oldest first.
    pub async fn voicemails_to_notify(&self) -> Result<Vec<Voicemail>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLS} FROM voicemails WHERE notify_email <> '' AND notified_at IS NULL
             ORDER BY id"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(Voicemail::from).collect())
    }

    pub async fn mark_voicemail_notified(&self, id: i64, at: i64) -> Result<()> {
        sqlx::query("UPDATE voicemails SET notified_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
