//! The daily recording archive (REC-01…05): a background job packs each day's recordings into
//! `<archives>/YYYYMMDD.zip` once the business day has ended, copies it to S3 when the
//! integration is on, and deletes recordings past their retention once they are archived; and
//! the routes of the archive screen. When a day is due is `engine::archive_schedule`'s call.
//!
//! A ZIP is written as `YYYYMMDD.zip.partial` and renamed when whole, and the recordings are
//! marked archived only after that, so a crash or restart in the middle leaves the day to be
//! packed again at the next start.

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiQuery, KeyPath};
use crate::resources::{page, List, Paging};
use crate::{now_ms, s3, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::{Extension, Json};
use engine::archive_schedule::{day_name, parse_day_name, Schedule};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::archives::{Archive, ArchiveState, S3Outcome, S3State};
use store::Store;
use tokio::sync::Notify;
use tower::ServiceExt;
use utoipa::ToSchema;

/// How often the job looks for work when nothing wakes it.
const PASS_EVERY: Duration = Duration::from_secs(60);
/// A day whose packing failed (disk full) is tried again after this long.
const RETRY_FAILED_AFTER_MS: i64 = 10 * 60_000;
/// Files purged per query, so that a year's backlog does not load at once.
const PURGE_BATCH: i64 = 500;

/// The day being packed, for the progress bar.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ArchiveProgress {
    pub done: u64,
    pub total: u64,
}

struct Packing {
    day: String,
    done: Arc<AtomicU64>,
    total: u64,
}

/// The archive job and what the screen asks of it.
pub struct Archiver {
    store: Store,
    recordings_dir: PathBuf,
    archives_dir: PathBuf,
    packing: Mutex<Option<Packing>>,
    wake: Notify,
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    /// Days packed, `YYYYMMDD`.
    pub packed: Vec<String>,
    pub uploaded: Vec<String>,
    pub upload_failed: Vec<String>,
    pub purged: usize,
}

impl Archiver {
    pub fn new(store: Store, recordings_dir: PathBuf, archives_dir: PathBuf) -> Arc<Archiver> {
        Arc::new(Archiver {
            store,
            recordings_dir,
            archives_dir,
            packing: Mutex::new(None),
            wake: Notify::new(),
        })
    }

    pub fn archives_dir(&self) -> &Path {
        &self.archives_dir
    }

    /// Look for work now (settings changed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn progress(&self, day: &str) -> Option<ArchiveProgress> {
        let p = self.packing.lock().ok()?;
        let p = p.as_ref().filter(|p| p.day == day)?;
        Some(ArchiveProgress {
            done: p.done.load(Ordering::Relaxed),
            total: p.total,
        })
    }

    /// The job: a pass at start (what a restart left undone) and every minute after.
    pub async fn run(self: Arc<Self>) {
        self.remove_partial_files().await;
        loop {
            match self.pass(now_ms()).await {
                Ok(r) if r != PassReport::default() => tracing::info!(
                    packed = ?r.packed,
                    uploaded = ?r.uploaded,
                    upload_failed = ?r.upload_failed,
                    purged = r.purged,
                    "recording archive"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "recording archive pass failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(PASS_EVERY) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// What a crash left half written.
    async fn remove_partial_files(&self) {
        let Ok(mut dir) = tokio::fs::read_dir(&self.archives_dir).await else {
            return;
        };
        while let Ok(Some(e)) = dir.next_entry().await {
            if e.file_name().to_string_lossy().ends_with(".zip.partial") {
                if let Err(err) = tokio::fs::remove_file(e.path()).await {
                    tracing::warn!(file = %e.path().display(), error = %err, "cannot remove a partial archive");
                }
            }
        }
    }

    /// One pass at time `now`: pack the due days, upload what waits, purge what is past
    /// retention.
    pub async fn pass(&self, now: i64) -> Result<PassReport, String> {
        let settings = self
            .store
            .system_settings()
            .await
            .map_err(|e| e.to_string())?;
        let schedule = settings
            .schedule()
            .map_err(|(field, e)| format!("system setting {field}: {e}"))?;
        let s3 = s3::load(&self.store).await.map_err(|e| e.to_string())?;
        let mut report = PassReport::default();
        self.pack_due(&schedule, s3.enabled, now, &mut report)
            .await?;
        if s3.enabled {
            self.upload_due(&s3, now, &mut report).await?;
        }
        if let Some(before) = schedule.purge_before(now) {
            report.purged = self.purge(before, now).await?;
        }
        Ok(report)
    }

    async fn pack_due(
        &self,
        schedule: &Schedule,
        upload: bool,
        now: i64,
        report: &mut PassReport,
    ) -> Result<(), String> {
        let before = schedule.archivable_before(now);
        let mut from = i64::MIN;
        while let Some(t) = self
            .store
            .first_unarchived_recording(from, before)
            .await
            .map_err(|e| e.to_string())?
        {
            let day = schedule.day_of(t);
            let (start, end) = schedule.bounds(day);
            let name = day_name(day);
            let existing = self.store.archive(&name).await.map_err(|e| e.to_string())?;
            let built = existing
                .as_ref()
                .is_some_and(|a| a.state == ArchiveState::Ready);
            let failed_lately = existing.as_ref().is_some_and(|a| {
                a.state == ArchiveState::Failed && now - a.built_at < RETRY_FAILED_AFTER_MS
            });
            if schedule.due(day, built, now) && !failed_lately {
                match self.pack(&name, start, end, upload, now).await {
                    Ok(()) => report.packed.push(name),
                    Err(e) => {
                        tracing::warn!(day = %name, error = %e, "packing the recording archive failed");
                        self.store
                            .fail_archive(&name, &e)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            // Next day with work; `end` is past every recording of this one.
            from = end.max(t.saturating_add(1));
        }
        Ok(())
    }

    /// Packs the finished recordings that started in `[start, end)` into `<name>.zip`.
    async fn pack(
        &self,
        name: &str,
        start: i64,
        end: i64,
        upload: bool,
        now: i64,
    ) -> Result<(), String> {
        self.store
            .start_archive(name, now)
            .await
            .map_err(|e| e.to_string())?;
        let recordings = self
            .store
            .finished_recordings_between(start, end)
            .await
            .map_err(|e| e.to_string())?;
        let done = Arc::new(AtomicU64::new(0));
        if let Ok(mut p) = self.packing.lock() {
            *p = Some(Packing {
                day: name.to_string(),
                done: done.clone(),
                total: recordings.len() as u64,
            });
        }
        let files: Vec<(i64, PathBuf)> = recordings
            .iter()
            .filter_map(|r| {
                let path = crate::resources::calls::recording_path(&self.recordings_dir, &r.file);
                if path.is_none() {
                    tracing::warn!(call = r.call_id, file = %r.file, "bad recording path");
                }
                Some((r.call_id, path?))
            })
            .collect();
        let dir = self.archives_dir.clone();
        let zip_name = format!("{name}.zip");
        let written =
            tokio::task::spawn_blocking(move || write_zip(&dir, &zip_name, &files, &done))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
        if let Ok(mut p) = self.packing.lock() {
            *p = None;
        }
        let (bytes, calls) = written?;
        self.store
            .finish_archive(
                name,
                i64::try_from(bytes).unwrap_or(i64::MAX),
                &calls,
                upload,
                now,
            )
            .await
            .map_err(|e| e.to_string())
    }

    async fn upload_due(
        &self,
        cfg: &s3::S3Settings,
        now: i64,
        report: &mut PassReport,
    ) -> Result<(), String> {
        let due = self
            .store
            .uploads_due(now)
            .await
            .map_err(|e| e.to_string())?;
        for a in due {
            let key = cfg.key(&format!("{}.zip", a.day));
            let file = self.archives_dir.join(format!("{}.zip", a.day));
            let outcome = match s3::upload(cfg, &file, &key).await {
                Ok(()) => {
                    report.uploaded.push(a.day.clone());
                    S3Outcome {
                        state: S3State::Uploaded,
                        key: Some(key),
                        error: None,
                        attempts: a.s3_attempts + 1,
                        next_at: None,
                    }
                }
                Err(e) => {
                    tracing::warn!(day = %a.day, error = %e, "uploading the recording archive to S3 failed");
                    report.upload_failed.push(a.day.clone());
                    S3Outcome {
                        state: S3State::Failed,
                        key: Some(key),
                        error: Some(e),
                        attempts: a.s3_attempts + 1,
                        next_at: Some(now + retry_after_ms(a.s3_attempts + 1)),
                    }
                }
            };
            self.store
                .set_archive_upload(&a.day, &outcome)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Deletes the files of archived recordings that started before `before`.
    async fn purge(&self, before: i64, now: i64) -> Result<usize, String> {
        let mut n = 0;
        loop {
            let batch = self
                .store
                .archived_recordings_before(before, PURGE_BATCH)
                .await
                .map_err(|e| e.to_string())?;
            if batch.is_empty() {
                return Ok(n);
            }
            for (call, file) in batch {
                if let Some(path) =
                    crate::resources::calls::recording_path(&self.recordings_dir, &file)
                {
                    match tokio::fs::remove_file(&path).await {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            // Left for the next pass; the row stays unpurged.
                            tracing::warn!(call, file = %path.display(), error = %e, "cannot delete an expired recording");
                            return Ok(n);
                        }
                    }
                }
                self.store
                    .mark_recording_purged(call, now)
                    .await
                    .map_err(|e| e.to_string())?;
                n += 1;
            }
        }
    }
}

/// Back-off of a failed upload: 1, 2, 4 … minutes, at most an hour.
fn retry_after_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 6)).unwrap_or(6);
    (60_000i64 << exp).min(3_600_000)
}

/// Writes `<dir>/<zip_name>` holding `files` (stored, not compressed: PCM barely shrinks and
/// the job must not eat the CPU the calls need). Missing files are left out with a warning.
/// Returns the ZIP's size and the calls it holds.
fn write_zip(
    dir: &Path,
    zip_name: &str,
    files: &[(i64, PathBuf)],
    done: &AtomicU64,
) -> Result<(u64, Vec<i64>), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let partial = dir.join(format!("{zip_name}.partial"));
    let result = (|| {
        let out =
            std::fs::File::create(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::with_capacity(1 << 20, out));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        let mut calls = Vec::with_capacity(files.len());
        for (call, path) in files {
            let mut src = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(call, file = %path.display(), error = %e, "recording left out of the archive");
                    done.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            let entry = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("{call}.wav"));
            zip.start_file(entry, options).map_err(|e| e.to_string())?;
            std::io::copy(&mut src, &mut zip).map_err(|e| format!("{}: {e}", path.display()))?;
            calls.push(*call);
            done.fetch_add(1, Ordering::Relaxed);
        }
        let mut w = zip.finish().map_err(|e| e.to_string())?;
        w.flush().map_err(|e| e.to_string())?;
        let f = w.into_inner().map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
        Ok(calls)
    })();
    let calls = match result {
        Ok(c) => c,
        Err(e) => {
            std::fs::remove_file(&partial).ok();
            return Err(e);
        }
    };
    let target = dir.join(zip_name);
    std::fs::rename(&partial, &target).map_err(|e| format!("{}: {e}", target.display()))?;
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().ok();
    }
    let bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    Ok((bytes, calls))
}

/// One day's archive as the screen shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingArchive {
    /// `YYYYMMDD`; the id in the download paths.
    pub day: String,
    pub file_name: String,
    pub bytes: i64,
    pub recordings: i64,
    pub state: ArchiveState,
    /// Why packing failed.
    pub error: Option<String>,
    pub built_at: i64,
    /// While the day is being packed.
    pub progress: Option<ArchiveProgress>,
    pub s3_state: S3State,
    /// Why the last upload failed (it is tried again).
    pub s3_error: Option<String>,
}

fn view(a: Archive, progress: Option<ArchiveProgress>) -> RecordingArchive {
    RecordingArchive {
        file_name: format!("{}.zip", a.day),
        day: a.day,
        bytes: a.bytes,
        recordings: a.recordings,
        state: a.state,
        error: a.error,
        built_at: a.built_at,
        progress,
        s3_state: a.s3_state,
        s3_error: a.s3_error,
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct ArchiveQuery {
    /// First day, `YYYYMMDD`.
    pub from: Option<String>,
    /// Last day, `YYYYMMDD` (included).
    pub to: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

/// A `YYYYMMDD` bound: not eight digits is a 400 (the document's pattern), eight digits that
/// are no date a 422.
fn day_param(field: &str, v: Option<&str>, default: &str) -> ApiResult<String> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(default.to_string());
    };
    if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest(FieldError::new(
            field,
            "format",
            format!("`{field}` is a date YYYYMMDD."),
        )));
    }
    parse_day_name(v).map(day_name).ok_or_else(|| {
        ApiError::Validation(vec![FieldError::new(
            field,
            "date",
            format!("`{field}` is not a day of the calendar."),
        )])
    })
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ArchiveQuery>,
) -> ApiResult<Json<List<RecordingArchive>>> {
    let from = day_param("from", q.from.as_deref(), "00000000")?;
    let to = day_param("to", q.to.as_deref(), "99999999")?;
    let p = page(q.paging.offset.as_deref(), q.paging.limit.as_deref())?;
    let all = s.store.archives_between(&from, &to).await?;
    let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
    let items = all
        .into_iter()
        .skip(usize::try_from(p.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(p.limit).unwrap_or(0))
        .map(|a| {
            let progress = s.archive.progress(&a.day);
            view(a, progress)
        })
        .collect();
    Ok(Json(List { items, total }))
}

/// A built archive of day `day`, or 404 / 409.
async fn ready(s: &AppState, day: &str) -> ApiResult<Archive> {
    let name = parse_day_name(day)
        .map(day_name)
        .ok_or_else(|| ApiError::not_found("archive"))?;
    let a = s
        .store
        .archive(&name)
        .await?
        .ok_or_else(|| ApiError::not_found("archive"))?;
    if a.state != ArchiveState::Ready {
        return Err(ApiError::Conflict(vec![FieldError::new(
            "state",
            a.state.as_str(),
            "This day's archive is not ready.",
        )]));
    }
    Ok(a)
}

/// The ZIP from this server, streamed from disk (ranges supported).
pub async fn download(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    KeyPath(day): KeyPath<String>,
    req: Request,
) -> ApiResult<Response> {
    let a = ready(&s, &day).await?;
    let file = format!("{}.zip", a.day);
    let path = s.archive.archives_dir().join(&file);
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        tracing::warn!(path = %path.display(), "recording archive missing on disk");
        return Err(ApiError::NotFound(
            "The archive file is missing on the server.".into(),
        ));
    }
    let first = req
        .headers()
        .get(header::RANGE)
        .and_then(|r| r.to_str().ok())
        .is_none_or(|r| r.trim() == "bytes=0-");
    let res = tower_http::services::ServeFile::new(&path)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // Who took a day's recordings away, once per download (not per range request).
    if first && res.status().is_success() {
        let mut c = s.store.conn().await?;
        let e = store::journal::Event::new(
            now_ms(),
            "recording_archive.downloaded",
            serde_json::json!({ "day": a.day, "by": me.login_id() }),
        )
        .agent(Some(me.id()));
        store::journal::append_in(&mut c, &e).await?;
    }
    let mut res = res.map(Body::new);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// A presigned S3 link to the archive.
#[derive(Debug, Serialize, ToSchema)]
pub struct S3Link {
    pub url: String,
    /// Seconds the link works for.
    pub expires_in: u64,
}

pub async fn s3_link(
    State(s): State<AppState>,
    KeyPath(day): KeyPath<String>,
) -> ApiResult<Json<S3Link>> {
    let a = ready(&s, &day).await?;
    let cfg = s3::load(&s.store).await?;
    let key = match (&a.s3_state, a.s3_key) {
        (S3State::Uploaded, Some(key)) if cfg.enabled => key,
        _ => {
            return Err(ApiError::Conflict(vec![FieldError::new(
                "s3_state",
                a.s3_state.as_str(),
                "This archive is not in S3 (or the S3 integration is off).",
            )]))
        }
    };
    let url = s3::link(&cfg, &key)
        .await
        .map_err(|e| ApiError::Unavailable(format!("S3: {e}")))?;
    Ok(Json(S3Link {
        url,
        expires_in: s3::LINK_LIFETIME.as_secs(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_back_off_to_an_hour() {
        let v: Vec<i64> = (1..=9).map(retry_after_ms).collect();
        assert_eq!(&v[..4], &[60_000, 120_000, 240_000, 480_000]);
        assert_eq!(v[8], 3_600_000);
    }

    #[test]
    fn a_zip_holds_the_files_and_no_partial_is_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rec = dir.path().join("rec");
        std::fs::create_dir_all(&rec).expect("mkdir");
        let mut files = Vec::new();
        for call in [1i64, 2] {
            let p = rec.join(format!("{call}.wav"));
            std::fs::write(&p, vec![call as u8; 1000]).expect("write");
            files.push((call, p));
        }
        files.push((3, rec.join("3.wav"))); // missing: left out
        let done = AtomicU64::new(0);
        let out = dir.path().join("archives");
        let (bytes, calls) = write_zip(&out, "20261201.zip", &files, &done).expect("zip");
        assert_eq!(calls, vec![1, 2]);
        assert_eq!(done.load(Ordering::Relaxed), 3);
        let f = std::fs::File::open(out.join("20261201.zip")).expect("open");
        assert_eq!(f.metadata().expect("meta").len(), bytes);
        let mut z = zip::ZipArchive::new(f).expect("zip");
        let names: Vec<String> = (0..z.len())
            .filter_map(|i| z.by_index(i).ok().map(|e| e.name().to_string()))
            .collect();
        assert_eq!(names, ["1.wav", "2.wav"]);
        assert!(!out.join("20261201.zip.partial").exists());
    }
}
