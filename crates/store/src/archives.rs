//! The daily recording archive (REC-01): a row per day's ZIP, its S3 upload, and which
//! recordings are in an archive. Written by the archive job only.

use crate::{text_enum, Result, Store};
use serde::Serialize;
use utoipa::ToSchema;

text_enum!(
    /// A day's ZIP being built, built, or not built (the error says why).
    ArchiveState {
        Packing = "packing",
        Ready = "ready",
        Failed = "failed",
    } default Packing
);

text_enum!(
    /// The ZIP's copy in S3: not wanted (S3 off when it was built), waiting, stored, or
    /// failed (retried later).
    S3State {
        Off = "off",
        Pending = "pending",
        Uploaded = "uploaded",
        Failed = "failed",
    } default Off
);

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Archive {
    /// The local day, `YYYYMMDD`.
    pub day: String,
    pub state: ArchiveState,
    pub bytes: i64,
    /// Recordings in the ZIP.
    pub recordings: i64,
    pub error: Option<String>,
    /// When the ZIP was (last) built, epoch ms.
    pub built_at: i64,
    pub s3_state: S3State,
    /// The object's key in the bucket.
    pub s3_key: Option<String>,
    pub s3_error: Option<String>,
    pub s3_attempts: i64,
    /// When a failed upload is tried again, epoch ms.
    pub s3_next_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    day: String,
    state: String,
    bytes: i64,
    recordings: i64,
    error: Option<String>,
    built_at: i64,
    s3_state: String,
    s3_key: Option<String>,
    s3_error: Option<String>,
    s3_attempts: i64,
    s3_next_at: Option<i64>,
}

impl Row {
    fn into_archive(self) -> Result<Archive> {
        Ok(Archive {
            day: self.day,
            state: ArchiveState::from_db(&self.state)?,
            bytes: self.bytes,
            recordings: self.recordings,
            error: self.error,
            built_at: self.built_at,
            s3_state: S3State::from_db(&self.s3_state)?,
            s3_key: self.s3_key,
            s3_error: self.s3_error,
            s3_attempts: self.s3_attempts,
            s3_next_at: self.s3_next_at,
        })
    }
}

const COLS: &str = "day, state, bytes, recordings, error, built_at, s3_state, s3_key, s3_error, \
    s3_attempts, s3_next_at";

/// What an upload attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Outcome {
    pub state: S3State,
    pub key: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
    pub next_at: Option<i64>,
}

impl Store {
    pub async fn archive(&self, day: &str) -> Result<Option<Archive>> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLS} FROM recording_archives WHERE day = $1"
        ))
        .bind(day)
        .fetch_optional(self.pool())
        .await?;
        row.map(Row::into_archive).transpose()
    }

    /// Archives of the days `from..=to` (`YYYYMMDD`), newest first.
    pub async fn archives_between(&self, from: &str, to: &str) -> Result<Vec<Archive>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLS} FROM recording_archives WHERE day >= $1 AND day <= $2 ORDER BY day DESC"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Row::into_archive).collect()
    }

    /// A day's ZIP is being built (again).
    pub async fn start_archive(&self, day: &str, at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO recording_archives (day, state, built_at) VALUES ($1, $2, $3)
             ON CONFLICT (day) DO UPDATE SET state = $2, error = NULL, built_at = $3",
        )
        .bind(day)
        .bind(ArchiveState::Packing.as_str())
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The ZIP is built and holds the recordings of `calls`; `s3` says whether it is to be
    /// uploaded.
    pub async fn finish_archive(
        &self,
        day: &str,
        bytes: i64,
        calls: &[i64],
        upload: bool,
        at: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let s3 = if upload {
            S3State::Pending
        } else {
            S3State::Off
        };
        sqlx::query(
            "UPDATE recording_archives SET state = $1, bytes = $2, recordings = $3, error = NULL,
                built_at = $4, s3_state = $5, s3_error = NULL, s3_attempts = 0, s3_next_at = NULL
             WHERE day = $6",
        )
        .bind(ArchiveState::Ready.as_str())
        .bind(bytes)
        .bind(i64::try_from(calls.len()).unwrap_or(i64::MAX))
        .bind(at)
        .bind(s3.as_str())
        .bind(day)
        .execute(&mut *tx)
        .await?;
        for call in calls {
            sqlx::query("UPDATE recordings SET archived_at = $1 WHERE call_id = $2")
                .bind(at)
                .bind(call)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn fail_archive(&self, day: &str, error: &str) -> Result<()> {
        sqlx::query("UPDATE recording_archives SET state = $1, error = $2 WHERE day = $3")
            .bind(ArchiveState::Failed.as_str())
            .bind(error)
            .bind(day)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_archive_upload(&self, day: &str, o: &S3Outcome) -> Result<()> {
        sqlx::query(
            "UPDATE recording_archives SET s3_state = $1, s3_key = $2, s3_error = $3,
                s3_attempts = $4, s3_next_at = $5 WHERE day = $6",
        )
        .bind(o.state.as_str())
        .bind(&o.key)
        .bind(&o.error)
        .bind(o.attempts)
        .bind(o.next_at)
        .bind(day)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Built archives whose upload is waiting or due to be tried again at `now`.
    pub async fn uploads_due(&self, now: i64) -> Result<Vec<Archive>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLS} FROM recording_archives
             WHERE state = $1 AND (s3_state = $2 OR (s3_state = $3 AND s3_next_at <= $4))
             ORDER BY day"
        ))
        .bind(ArchiveState::Ready.as_str())
        .bind(S3State::Pending.as_str())
        .bind(S3State::Failed.as_str())
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Row::into_archive).collect()
    }

    /// The start (epoch ms) of the oldest finished recording in `[from, before)` that no
    /// archive holds yet: where the archive job's next day is.
    pub async fn first_unarchived_recording(&self, from: i64, before: i64) -> Result<Option<i64>> {
        let (t,): (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(started_at) FROM recordings WHERE archived_at IS NULL
                AND purged_at IS NULL AND state <> $1 AND started_at >= $2 AND started_at < $3",
        )
        .bind(crate::recordings::RecordingState::Recording.as_str())
        .bind(from)
        .bind(before)
        .fetch_one(self.pool())
        .await?;
        Ok(t)
    }

    /// Archived recordings whose files are still on disk and that started before `before`:
    /// what retention deletes.
    pub async fn archived_recordings_before(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT call_id, file FROM recordings WHERE archived_at IS NOT NULL
                AND purged_at IS NULL AND started_at < $1 ORDER BY started_at LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_match_serde() {
        for s in ArchiveState::ALL {
            let json = serde_json::to_value(s).unwrap_or_default();
            assert_eq!(json.as_str(), Some(s.as_str()));
        }
        for s in S3State::ALL {
            let json = serde_json::to_value(s).unwrap_or_default();
            assert_eq!(json.as_str(), Some(s.as_str()));
        }
    }
}
