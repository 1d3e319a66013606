//! Voice files (VOICE-*). The record is in the database; the WAV itself is a file
//! `<voice_dir>/<id>.wav`, written under a temporary name and renamed into place, and removed
//! when the record is deleted. Uploads are multipart; only 8000 Hz mono 16-bit PCM is accepted
//! (VOICE-03, see `crate::wav`).

use super::collection::{get_or_404, Collection, Perms, Table, Write};
use super::{record_change, set, set_text};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::IdPath;
use crate::routes::Param::{self, *};
use crate::{now_ms, validate, wav, AppState};
use axum::body::Body;
use axum::extract::multipart::{Field, Multipart, MultipartError, MultipartRejection};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::voice_files::{self, VoiceAudio, VoiceFileFields, VoiceFileFilter};
use store::{Conn, Page, Record, Stamps};
use tower::ServiceExt;
use utoipa::ToSchema;

/// Largest WAV file accepted (the request may be a little larger for the form framing).
pub const MAX_UPLOAD: usize = wav::MAX_BYTES;
/// Text fields of the form are short; anything longer is refused unread.
const MAX_TEXT_FIELD: usize = 4096;

/// A voice file as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceFile {
    pub id: i64,
    #[serde(flatten)]
    pub fields: VoiceFileFields,
    #[serde(flatten)]
    pub audio: VoiceAudio,
    #[serde(flatten)]
    pub stamps: Stamps,
    /// Where the WAV file is downloaded (`GET`, needs voice.view).
    pub download_url: String,
}

impl From<voice_files::VoiceFile> for VoiceFile {
    fn from(v: voice_files::VoiceFile) -> Self {
        VoiceFile {
            download_url: format!("/api/v1/voice-files/{}/download", v.id),
            id: v.id,
            fields: v.fields,
            audio: v.audio,
            stamps: v.stamps,
        }
    }
}

/// Body of PATCH /voice-files/{id}; the same names are the text fields of the POST form.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoiceFileInput {
    pub name: Option<String>,
    pub voicemail: Option<bool>,
    pub notify_email: Option<bool>,
    pub email: Option<String>,
}

/// Voice files: created by an upload (`POST`, multipart), edited as JSON (`PATCH`).
pub struct VoiceFiles;

/// A voice file to write: its fields and the description of its audio.
pub struct VoiceDraft {
    fields: VoiceFileFields,
    audio: VoiceAudio,
}

impl Collection for VoiceFiles {
    type Table = VoiceFiles;
    type Input = VoiceFileInput;
    type Query = VoiceFileFilter;
    const PATH: &'static str = "/api/v1/voice-files";
    const TAG: &'static str = "VoiceFiles";
    const PERMS: Perms = Perms {
        view: "voice.view",
        create: "voice.update",
        update: "voice.update",
        delete: "voice.delete",
    };
    const FILTERS: &'static [(&'static str, Param)] = &[("name", Text)];
    const ENTITY: &'static str = "voice_file";
    const LABEL: &'static str = "voice file";
    const JSON_CREATE: bool = false;
    const UPDATE_NOTE: &'static str = " (fields only; replace the audio with PUT …/file)";
    const DELETE_NOTE: &'static str = " and its audio (refused while a group or a number uses it)";

    fn new_draft() -> VoiceDraft {
        VoiceDraft {
            fields: VoiceFileFields::default(),
            audio: VoiceAudio::default(),
        }
    }

    fn apply(d: &mut VoiceDraft, i: VoiceFileInput) -> Vec<&'static str> {
        let f = &mut d.fields;
        set_text(&mut f.name, i.name);
        set(&mut f.voicemail, i.voicemail);
        set(&mut f.notify_email, i.notify_email);
        set_text(&mut f.email, i.email);
        vec![]
    }

    async fn validate(
        _: &mut Conn,
        _: Option<&i64>,
        _: Option<&VoiceFile>,
        d: &mut VoiceDraft,
    ) -> ApiResult<()> {
        let mut e = Vec::new();
        check_fields(&mut e, &d.fields);
        ApiError::validation(e)
    }

    async fn list(
        conn: &mut Conn,
        q: VoiceFileFilter,
        p: Page,
    ) -> ApiResult<(Vec<VoiceFile>, i64)> {
        let (items, total) = voice_files::VoiceFile::list(conn, &q, p).await?;
        Ok((items.into_iter().map(Into::into).collect(), total))
    }

    async fn references(conn: &mut Conn, id: &i64) -> store::Result<Vec<String>> {
        voice_files::references(conn, *id).await
    }

    async fn deleted(state: &AppState, id: &i64) {
        remove_audio(&state.config.voice_dir, *id).await;
    }
}

impl Table for VoiceFiles {
    type Item = VoiceFile;
    type Draft = VoiceDraft;
    type Key = i64;

    fn draft(v: &VoiceFile) -> VoiceDraft {
        VoiceDraft {
            fields: v.fields.clone(),
            audio: v.audio.clone(),
        }
    }

    async fn get(conn: &mut Conn, id: &i64) -> store::Result<Option<VoiceFile>> {
        Ok(voice_files::VoiceFile::get(conn, *id)
            .await?
            .map(Into::into))
    }

    async fn insert(conn: &mut Conn, d: &VoiceDraft, w: &Write<'_>) -> ApiResult<i64> {
        let f = (d.fields.clone(), d.audio.clone());
        Ok(voice_files::VoiceFile::insert(conn, &f, w.actor(), w.now).await?)
    }

    async fn update(
        conn: &mut Conn,
        id: &i64,
        _: &VoiceFile,
        d: &VoiceDraft,
        w: &Write<'_>,
    ) -> ApiResult<()> {
        let f = (d.fields.clone(), d.audio.clone());
        Ok(voice_files::VoiceFile::update(conn, *id, &f, w.actor(), w.now).await?)
    }

    async fn delete(conn: &mut Conn, id: &i64) -> store::Result<()> {
        voice_files::VoiceFile::delete(conn, *id).await
    }
}

fn check_fields(e: &mut Vec<FieldError>, f: &VoiceFileFields) {
    validate::required_text(e, "name", &f.name, 64);
    // VOICE-06: the notification (and so the address) applies only with voicemail on; the
    // screen hides both otherwise.
    if f.voicemail && f.notify_email {
        validate::email(e, "email", &f.email);
    } else {
        validate::text(e, "email", &f.email, 254);
    }
}

fn file_error(err: &wav::WavError) -> FieldError {
    FieldError::new("file", err.code(), err.to_string())
}

// ---------------------------------------------------------------------------------------------
// The multipart form

/// What a form carried: the file (bytes and the name the browser gave it) and text fields.
#[derive(Default)]
struct Form {
    file: Option<(Vec<u8>, String)>,
    input: VoiceFileInput,
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest(FieldError::new("file", "multipart", e.body_text()))
    }
}

async fn read_limited(field: &mut Field<'_>, limit: usize) -> ApiResult<Option<Vec<u8>>> {
    let mut data = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if data.len() + chunk.len() > limit {
            return Ok(None);
        }
        data.extend_from_slice(&chunk);
    }
    Ok(Some(data))
}

async fn read_text(field: &mut Field<'_>, name: &str) -> ApiResult<String> {
    let bytes = read_limited(field, MAX_TEXT_FIELD).await?.ok_or_else(|| {
        ApiError::BadRequest(FieldError::new(name, "too_long", "This field is too long."))
    })?;
    String::from_utf8(bytes).map_err(|_| {
        ApiError::BadRequest(FieldError::new(
            name,
            "type",
            "Send this field as UTF-8 text.",
        ))
    })
}

fn parse_bool(name: &str, v: &str) -> ApiResult<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" => Ok(true),
        "false" | "0" | "off" | "" => Ok(false),
        _ => Err(ApiError::BadRequest(FieldError::new(
            name,
            "type",
            format!("`{name}` must be true or false."),
        ))),
    }
}

/// The name of the uploaded file without any directory part a browser may have sent.
fn clean_file_name(raw: Option<&str>) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    base.chars()
        .filter(|c| !c.is_control() && !matches!(c, '<' | '>' | '"'))
        .take(200)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Reads a multipart body: the `file` field and, when `text_fields`, the record's fields.
/// Unknown fields are refused like unknown JSON fields.
async fn read_form(
    multipart: Result<Multipart, MultipartRejection>,
    text_fields: bool,
) -> ApiResult<Form> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::BadRequest(FieldError::new(
            "file",
            "multipart",
            format!(
                "Send the WAV file as multipart/form-data in the field `file` ({}).",
                e.body_text()
            ),
        ))
    })?;
    let mut form = Form::default();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                if form.file.is_some() {
                    return Err(ApiError::BadRequest(FieldError::new(
                        "file",
                        "duplicate",
                        "Send one file only.",
                    )));
                }
                let file_name = clean_file_name(field.file_name());
                let data = read_limited(&mut field, MAX_UPLOAD)
                    .await?
                    .ok_or(ApiError::PayloadTooLarge)?;
                form.file = Some((data, file_name));
            }
            "name" if text_fields => form.input.name = Some(read_text(&mut field, &name).await?),
            "email" if text_fields => form.input.email = Some(read_text(&mut field, &name).await?),
            "voicemail" if text_fields => {
                let v = read_text(&mut field, &name).await?;
                form.input.voicemail = Some(parse_bool(&name, &v)?);
            }
            "notify_email" if text_fields => {
                let v = read_text(&mut field, &name).await?;
                form.input.notify_email = Some(parse_bool(&name, &v)?);
            }
            _ => {
                return Err(ApiError::BadRequest(FieldError::new(
                    if name.is_empty() { "file" } else { &name },
                    "unknown",
                    format!("unknown form field `{name}`"),
                )))
            }
        }
    }
    Ok(form)
}

// ---------------------------------------------------------------------------------------------
// The audio on disk

fn audio_path(dir: &Path, id: i64) -> PathBuf {
    dir.join(format!("{id}.wav"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `<dir>/<id>.wav` atomically: a temporary file in the same directory, flushed to disk,
/// then renamed over the old one. Readers see the old file or the new one, never a part.
async fn write_audio(dir: &Path, id: i64, bytes: &[u8]) -> ApiResult<()> {
    use tokio::io::AsyncWriteExt;
    let io = |what: &str, e: std::io::Error| {
        ApiError::Internal(format!("{what} voice file {id} in {}: {e}", dir.display()))
    };
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io("creating the directory for", e))?;
    let tmp = dir.join(format!(".{id}.{}.tmp", crate::token(8)));
    let written = async {
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(bytes).await?;
        f.sync_all().await?;
        tokio::fs::rename(&tmp, audio_path(dir, id)).await
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(io("writing", e));
    }
    Ok(())
}

/// Adds a voice file outside a request (the demo loader): validated like an upload.
pub async fn add(
    store: &store::Store,
    dir: &Path,
    name: &str,
    file_name: &str,
    bytes: &[u8],
) -> ApiResult<i64> {
    let mut errors = Vec::new();
    let audio = describe(bytes, file_name.to_owned(), &mut errors);
    if let Some(e) = errors.pop() {
        return Err(ApiError::Internal(format!("{name}: {}", e.message)));
    }
    let fields = VoiceFileFields {
        name: name.to_owned(),
        ..Default::default()
    };
    let mut tx = store.begin().await?;
    let id = voice_files::VoiceFile::insert(&mut tx, &(fields, audio), None, now_ms()).await?;
    write_audio(dir, id, bytes).await?;
    tx.commit().await?;
    Ok(id)
}

async fn remove_audio(dir: &Path, id: i64) {
    match tokio::fs::remove_file(audio_path(dir, id)).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(id, error = %e, "could not remove a deleted voice file"),
    }
}

/// Validates an uploaded file and describes it.
fn describe(bytes: &[u8], file_name: String, errors: &mut Vec<FieldError>) -> VoiceAudio {
    match wav::check(bytes) {
        Ok(info) => VoiceAudio {
            file_name,
            size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            duration_ms: info.duration_ms,
            sha256: sha256_hex(bytes),
        },
        Err(e) => {
            errors.push(file_error(&e));
            VoiceAudio::default()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// `POST /voice-files`: a multipart form with the WAV in `file` and the fields as text.
pub async fn create(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<VoiceFile>)> {
    let form = read_form(multipart, true).await?;
    let mut d = VoiceFiles::new_draft();
    VoiceFiles::apply(&mut d, form.input);
    let mut e = Vec::new();
    check_fields(&mut e, &d.fields);
    let bytes = match form.file {
        Some((bytes, name)) => {
            d.audio = describe(&bytes, name, &mut e);
            bytes
        }
        None => {
            e.push(FieldError::new(
                "file",
                "required",
                "Choose a WAV file (8000 Hz mono 16-bit PCM).",
            ));
            Vec::new()
        }
    };
    ApiError::validation(e)?;
    d.audio.file_name = fallback_name(std::mem::take(&mut d.audio.file_name), &d.fields.name);
    let mut tx = s.store.begin().await?;
    let w = Write {
        me: &me,
        now: now_ms(),
    };
    let id = VoiceFiles::insert(&mut tx, &d, &w).await?;
    let item = get_or_404::<VoiceFiles>(&mut tx, &id).await?;
    let entity = VoiceFiles::ENTITY;
    record_change(
        &mut tx,
        entity,
        &id.to_string(),
        w.actor(),
        "create",
        &item,
        &item,
        &[],
        w.now,
    )
    .await?;
    let dir = &s.config.voice_dir;
    write_audio(dir, id, &bytes).await?;
    if let Err(err) = tx.commit().await {
        remove_audio(dir, id).await;
        return Err(err.into());
    }
    Ok((StatusCode::CREATED, Json(item)))
}

fn fallback_name(file_name: String, name: &str) -> String {
    if file_name.is_empty() {
        format!("{name}.wav")
    } else {
        file_name
    }
}

/// `PUT /voice-files/{id}/file`: replaces the audio (multipart, field `file`).
pub async fn replace_file(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    IdPath(id): IdPath,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<VoiceFile>> {
    let form = read_form(multipart, false).await?;
    let mut e = Vec::new();
    let Some((bytes, file_name)) = form.file else {
        return Err(ApiError::Validation(vec![FieldError::new(
            "file",
            "required",
            "Choose a WAV file (8000 Hz mono 16-bit PCM).",
        )]));
    };
    let audio = describe(&bytes, file_name, &mut e);
    let mut tx = s.store.begin().await?;
    let before = get_or_404::<VoiceFiles>(&mut tx, &id).await?;
    ApiError::validation(e)?;
    let mut d = VoiceFiles::draft(&before);
    d.audio = VoiceAudio {
        file_name: fallback_name(audio.file_name, &before.fields.name),
        ..audio
    };
    let w = Write {
        me: &me,
        now: now_ms(),
    };
    VoiceFiles::update(&mut tx, &id, &before, &d, &w).await?;
    let after = get_or_404::<VoiceFiles>(&mut tx, &id).await?;
    let entity = VoiceFiles::ENTITY;
    record_change(
        &mut tx,
        entity,
        &id.to_string(),
        w.actor(),
        "update",
        &before,
        &after,
        &[],
        w.now,
    )
    .await?;
    write_audio(&s.config.voice_dir, id, &bytes).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// RFC 6266 `Content-Disposition` with an ASCII fallback and the UTF-8 name (RFC 8187).
fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in file_name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// `GET /voice-files/{id}/download`: the stored WAV (ranges supported, for players).
pub async fn download(
    State(s): State<AppState>,
    IdPath(id): IdPath,
    req: Request,
) -> ApiResult<Response> {
    let item = {
        let mut c = s.store.conn().await?;
        get_or_404::<VoiceFiles>(&mut c, &id).await?
    };
    let path = audio_path(&s.config.voice_dir, id);
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        tracing::warn!(id, path = %path.display(), "voice file audio missing on disk");
        return Err(ApiError::NotFound(
            "The audio of this voice file is missing on the server.".into(),
        ));
    }
    let res = tower_http::services::ServeFile::new(&path)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut res = res.map(Body::new);
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let name = fallback_name(item.audio.file_name, &item.fields.name);
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(clean_file_name(Some("C:\\fakepath\\案内.wav")), "案内.wav");
        assert_eq!(clean_file_name(Some("../../etc/x.wav")), "x.wav");
        assert_eq!(clean_file_name(Some("<b>a\u{0}.wav")), "ba.wav");
        assert_eq!(clean_file_name(None), "");
        assert_eq!(
            content_disposition("案内 1.wav"),
            "attachment; filename=\"__ 1.wav\"; filename*=UTF-8''%E6%A1%88%E5%86%85%201.wav"
        );
        assert_eq!(
            content_disposition("a\"b.wav"),
            "attachment; filename=\"a_b.wav\"; filename*=UTF-8''a%22b.wav"
        );
    }

    #[test]
    fn booleans_in_forms() {
        assert!(parse_bool("voicemail", "true").unwrap());
        assert!(parse_bool("voicemail", "ON").unwrap());
        assert!(!parse_bool("voicemail", "0").unwrap());
        assert!(parse_bool("voicemail", "yes please").is_err());
    }
}
