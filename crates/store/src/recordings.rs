//! Call recordings (REC-*, HIST-04): where each recorded call's WAV is and whether it is whole.
//! The journal writes the rows as recordings start and end; the archive and retention jobs read
//! them and mark files purged.

use crate::{text_enum, Result, Store};
use serde::Serialize;
use utoipa::ToSchema;

text_enum!(
    /// A recording being written, finished, or cut short by a write failure (disk full).
    RecordingState {
        Recording = "recording",
        Complete = "complete",
        Incomplete = "incomplete",
    } default Recording
);

/// One recorded call.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Recording {
    pub call_id: i64,
    /// Relative to the data directory's `recordings` folder.
    pub file: String,
    /// When the agent or far party answered, epoch ms.
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub bytes: i64,
    pub duration_ms: i64,
    pub state: RecordingState,
    /// Time the agent paused the recording for (silence in the file).
    pub paused_ms: i64,
    /// The retention job deleted the file at this time.
    pub purged_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    call_id: i64,
    file: String,
    started_at: i64,
    ended_at: Option<i64>,
    bytes: i64,
    duration_ms: i64,
    state: String,
    paused_ms: i64,
    purged_at: Option<i64>,
}

impl Row {
    fn into_recording(self) -> Result<Recording> {
        Ok(Recording {
            call_id: self.call_id,
            file: self.file,
            started_at: self.started_at,
            ended_at: self.ended_at,
            bytes: self.bytes,
            duration_ms: self.duration_ms,
            state: RecordingState::from_db(&self.state)?,
            paused_ms: self.paused_ms,
            purged_at: self.purged_at,
        })
    }
}

const COLS: &str =
    "call_id, file, started_at, ended_at, bytes, duration_ms, state, paused_ms, purged_at";

/// What the journal writes when a recording starts.
pub(crate) async fn insert(
    conn: &mut crate::Conn,
    call: i64,
    file: &str,
    started_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO recordings (call_id, file, started_at, state) VALUES ($1, $2, $3, $4)",
    )
    .bind(call)
    .bind(file)
    .bind(started_at)
    .bind(RecordingState::Recording.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How a recording ended, as the journal writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingEnd {
    pub call: i64,
    pub at: i64,
    pub bytes: i64,
    pub duration_ms: i64,
    pub paused_ms: i64,
    /// False when a write failed: the file holds only what was written before.
    pub complete: bool,
}

pub(crate) async fn finish(conn: &mut crate::Conn, end: &RecordingEnd) -> Result<()> {
    let state = if end.complete {
        RecordingState::Complete
    } else {
        RecordingState::Incomplete
    };
    sqlx::query(
        "UPDATE recordings SET ended_at = $1, bytes = $2, duration_ms = $3, paused_ms = $4,
            state = $5 WHERE call_id = $6",
    )
    .bind(end.at)
    .bind(end.bytes)
    .bind(end.duration_ms)
    .bind(end.paused_ms)
    .bind(state.as_str())
    .bind(end.call)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// The recording of call `call`, if it was recorded.
    pub async fn recording(&self, call: i64) -> Result<Option<Recording>> {
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLS} FROM recordings WHERE call_id = $1"))
                .bind(call)
                .fetch_optional(self.pool())
                .await?;
        row.map(Row::into_recording).transpose()
    }

    /// Finished recordings (complete or incomplete, files not purged) that started in
    /// `[from, to)` (epoch ms), oldest first: what one day's archive holds.
    pub async fn finished_recordings_between(&self, from: i64, to: i64) -> Result<Vec<Recording>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLS} FROM recordings
             WHERE started_at >= $1 AND started_at < $2 AND state <> $3 AND purged_at IS NULL
             ORDER BY started_at, call_id"
        ))
        .bind(from)
        .bind(to)
        .bind(RecordingState::Recording.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Row::into_recording).collect()
    }

    /// The retention job deleted the file of `call`'s recording.
    pub async fn mark_recording_purged(&self, call: i64, at: i64) -> Result<()> {
        sqlx::query("UPDATE recordings SET purged_at = $1 WHERE call_id = $2")
            .bind(at)
            .bind(call)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_match_serde() {
        for s in RecordingState::ALL {
            let json = serde_json::to_value(s).unwrap_or_default();
            assert_eq!(json.as_str(), Some(s.as_str()));
        }
    }
}
