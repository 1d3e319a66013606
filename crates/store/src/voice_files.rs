//! Voice files (VOICE-*): announcements played by groups, numbers and IVRs. The row describes
//! the audio; the audio itself lives on disk in the data directory (the API keeps it there).

use crate::record::{Record, Value};
use crate::{Conn, Filter, Result, Stamps};
use serde::{Deserialize, Serialize};
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

/// A row of `voice_files`.
#[derive(sqlx::FromRow)]
pub struct Row {
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

#[derive(Debug, Default, Deserialize)]
pub struct VoiceFileFilter {
    pub name: Option<String>,
}

impl Record for VoiceFile {
    /// The editable fields and the description of the audio.
    type Fields = (VoiceFileFields, VoiceAudio);
    type Filter = VoiceFileFilter;
    type Row = Row;
    const TABLE: &'static str = "voice_files";
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "voicemail",
        "notify_email",
        "email",
        "file_name",
        "size_bytes",
        "duration_ms",
        "sha256",
    ];
    const ORDER: &'static str = "name, id";

    fn values((f, a): &(VoiceFileFields, VoiceAudio)) -> Vec<Value> {
        vec![
            (&f.name).into(),
            f.voicemail.into(),
            f.notify_email.into(),
            (&f.email).into(),
            (&a.file_name).into(),
            a.size_bytes.into(),
            a.duration_ms.into(),
            (&a.sha256).into(),
        ]
    }

    fn filter(f: &VoiceFileFilter, q: &mut Filter) {
        q.contains("name", f.name.as_deref());
    }

    fn from_row(r: Row) -> Result<VoiceFile> {
        Ok(VoiceFile {
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
        })
    }

    fn to_fields(&self) -> (VoiceFileFields, VoiceAudio) {
        (self.fields.clone(), self.audio.clone())
    }
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

impl crate::Store {
    /// Voice file `id`'s settings (whether it takes messages, where they are mailed).
    pub async fn voice_file(&self, id: i64) -> Result<Option<VoiceFile>> {
        let mut conn = self.conn().await?;
        VoiceFile::get(&mut conn, id).await
    }
}
