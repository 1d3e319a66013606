//! Voice files (VOICE-*): announcements played by groups, numbers and IVRs. The row describes
//! the audio; the audio itself lives on disk in the data directory (the API keeps it there).

use crate::query::{self, Filter};
use crate::{flag, Conn, Page, Result, Stamps};
use serde::Serialize;
use utoipa::ToSchema;

/// What an administrator edits (VOICE-02, VOICE-06).
#[derive(Debug, Clone, Serialize, ToSchema, Default, PartialEq, Eq)]
pub struct VoiceFileFields {
    pub name: String,
    /// VOICE-04: after the file plays the caller can leave a message.
    pub voicemail: bool,
    /// VOICE-06: send recorded messages by email (only meaningful with voicemail on).
    pub notify_email: bool,
    /// Where recorded messages are sent when `notify_email` is on.
    pub email: String,
}

/// What describes the stored audio; set by uploads only.
#[derive(Debug, Clone, Serialize, ToSchema, Default, PartialEq, Eq)]
pub struct VoiceAudio {
    /// The name of the uploaded file, as the browser sent it.
    pub file_name: String,
    pub size_bytes: i64,
    pub duration_ms: i64,
    /// Hex SHA-256 of the stored WAV file.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VoiceFile {
    pub id: i64,
    #[serde(flatten)]
    pub fields: VoiceFileFields,
    #[serde(flatten)]
    pub audio: VoiceAudio,
    #[serde(flatten)]
    pub stamps: Stamps,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    voicemail: i64,
    notify_email: i64,
    email: String,
    file_name: String,
    size_bytes: i64,
    duration_ms: i64,
    sha256: String,
    #[sqlx(flatten)]
    stamps: Stamps,
}

impl From<Row> for VoiceFile {
    fn from(r: Row) -> Self {
        VoiceFile {
            id: r.id,
            fields: VoiceFileFields {
                name: r.name,
                voicemail: r.voicemail != 0,
                notify_email: r.notify_email != 0,
                email: r.email,
            },
            audio: VoiceAudio {
                file_name: r.file_name,
                size_bytes: r.size_bytes,
                duration_ms: r.duration_ms,
                sha256: r.sha256,
            },
            stamps: r.stamps,
        }
    }
}

const COLS: &str = "id, name, voicemail, notify_email, email, file_name, size_bytes, \
    duration_ms, sha256, created_at, created_by, updated_at, updated_by";

#[derive(Debug, Default)]
pub struct VoiceFileFilter {
    pub name: Option<String>,
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<VoiceFile>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLS} FROM voice_files WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(Into::into))
}

pub async fn list(
    conn: &mut Conn,
    f: &VoiceFileFilter,
    page: Page,
) -> Result<(Vec<VoiceFile>, i64)> {
    let mut filter = Filter::default();
    filter.contains("name", f.name.as_deref());
    let (rows, total): (Vec<Row>, i64) =
        query::list(conn, COLS, "voice_files", "name, id", &filter, page).await?;
    Ok((rows.into_iter().map(Into::into).collect(), total))
}

pub async fn insert(
    conn: &mut Conn,
    f: &VoiceFileFields,
    a: &VoiceAudio,
    actor: Option<&str>,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO voice_files (name, voicemail, notify_email, email, file_name, size_bytes,
            duration_ms, sha256, created_at, created_by, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $10) RETURNING id",
    )
    .bind(&f.name)
    .bind(flag(f.voicemail))
    .bind(flag(f.notify_email))
    .bind(&f.email)
    .bind(&a.file_name)
    .bind(a.size_bytes)
    .bind(a.duration_ms)
    .bind(&a.sha256)
    .bind(now)
    .bind(actor)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Writes the editable fields and the audio description.
pub async fn update(
    conn: &mut Conn,
    id: i64,
    f: &VoiceFileFields,
    a: &VoiceAudio,
    actor: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE voice_files SET name = $1, voicemail = $2, notify_email = $3, email = $4,
            file_name = $5, size_bytes = $6, duration_ms = $7, sha256 = $8, updated_at = $9,
            updated_by = $10
         WHERE id = $11",
    )
    .bind(&f.name)
    .bind(flag(f.voicemail))
    .bind(flag(f.notify_email))
    .bind(&f.email)
    .bind(&a.file_name)
    .bind(a.size_bytes)
    .bind(a.duration_ms)
    .bind(&a.sha256)
    .bind(now)
    .bind(actor)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM voice_files WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What still uses a voice file, in words, for the 409 of a refused delete.
pub async fn references(conn: &mut Conn, id: i64) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM queue_groups WHERE greeting_voice_id = $1 OR queue_voice_id = $1
            OR hold_voice_id = $1 OR answer_voice_id = $1
            OR (overflow_kind = 'voice_file' AND overflow_id = $1)
            OR (timeout_kind = 'voice_file' AND timeout_id = $1)
         ORDER BY name, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    if !names.is_empty() {
        out.push(format!(
            "used by {} group(s) ({})",
            names.len(),
            quoted(names.into_iter().map(|(n,)| n))
        ));
    }
    let numbers: Vec<(String,)> = sqlx::query_as(
        "SELECT number FROM numbers WHERE route_kind = 'voice_file' AND route_id = $1
         ORDER BY number",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    if !numbers.is_empty() {
        out.push(format!(
            "the routing target of {} phone number(s) ({})",
            numbers.len(),
            quoted(numbers.into_iter().map(|(n,)| n))
        ));
    }
    Ok(out)
}

/// `"a", "b", "c"` — at most five, then "…".
fn quoted(names: impl Iterator<Item = String>) -> String {
    let names: Vec<String> = names.collect();
    let mut shown: Vec<String> = names.iter().take(5).map(|n| format!("\"{n}\"")).collect();
    if names.len() > 5 {
        shown.push("…".into());
    }
    shown.join(", ")
}
