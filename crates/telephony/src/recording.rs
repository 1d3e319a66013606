//! Writes a call's recording (REC-*, HIST-04) to `<data>/recordings/<day>/<call>.wav` from what
//! the relay's tap hands out, and journals its start and end. A write that fails (disk full)
//! leaves the call alone: the failure is an event and a warning, and the row says incomplete.

use crate::call::ms;
use crate::Core;
use media::recorder::wav_header;
use media::{RecordTap, RecorderOutput};
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use store::journal::{Event, Write};
use store::recordings::RecordingEnd;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// The header is rewritten this often, so that a file cut short by a crash still plays.
const HEADER_EVERY: u64 = 5 * 32_000;

/// Starts recording call `call` into a new file; the tap to give the relay.
pub(crate) fn start(core: &Arc<Core>, call: i64, left_leg: usize) -> RecordTap {
    let now = core.clock.now();
    let file = relative_path(call, now);
    let path = core.recordings_dir.join(&file);
    core.journal.record(Write::RecordingStarted {
        call,
        at: ms(now),
        file,
    });
    let (output, rx) = mpsc::unbounded_channel();
    tokio::spawn(write(core.clone(), call, path, rx));
    RecordTap { left_leg, output }
}

/// `YYYY-MM-DD/<call>.wav`, by the UTC day the recording started: folders of a bounded size.
fn relative_path(call: i64, now_ms: u64) -> String {
    let folder = engine::archive_schedule::recording_folder(i64::try_from(now_ms).unwrap_or(0));
    format!("{folder}/{call}.wav")
}

struct Sink {
    file: Option<tokio::fs::File>,
    data_bytes: u64,
    header_at: u64,
    failed: bool,
}

impl Sink {
    async fn open(path: &Path) -> std::io::Result<tokio::fs::File> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let mut f = tokio::fs::File::create(path).await?;
        f.write_all(&wav_header(0)).await?;
        Ok(f)
    }

    async fn append(&mut self, samples: &[i16]) -> std::io::Result<()> {
        let Some(f) = &mut self.file else {
            return Ok(());
        };
        let mut bytes = Vec::with_capacity(samples.len() * 2);
        for s in samples {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        f.write_all(&bytes).await?;
        self.data_bytes += bytes.len() as u64;
        if self.data_bytes - self.header_at >= HEADER_EVERY {
            self.header_at = self.data_bytes;
            self.rewrite_header().await?;
        }
        Ok(())
    }

    async fn rewrite_header(&mut self) -> std::io::Result<()> {
        let Some(f) = &mut self.file else {
            return Ok(());
        };
        let size = u32::try_from(self.data_bytes).unwrap_or(u32::MAX);
        f.seek(SeekFrom::Start(0)).await?;
        f.write_all(&wav_header(size)).await?;
        f.seek(SeekFrom::End(0)).await?;
        Ok(())
    }

    async fn close(&mut self) -> std::io::Result<()> {
        self.rewrite_header().await?;
        if let Some(f) = &mut self.file {
            f.flush().await?;
            f.sync_data().await?;
        }
        Ok(())
    }
}

async fn write(
    core: Arc<Core>,
    call: i64,
    path: PathBuf,
    mut rx: mpsc::UnboundedReceiver<RecorderOutput>,
) {
    let mut sink = Sink {
        file: None,
        data_bytes: 0,
        header_at: 0,
        failed: false,
    };
    match Sink::open(&path).await {
        Ok(f) => sink.file = Some(f),
        Err(e) => failed(&core, call, &mut sink, &path, &e),
    }
    let mut paused = Duration::ZERO;
    let mut late = 0;
    while let Some(out) = rx.recv().await {
        match out {
            RecorderOutput::Audio(samples) => {
                if let Err(e) = sink.append(&samples).await {
                    failed(&core, call, &mut sink, &path, &e);
                }
            }
            RecorderOutput::End {
                paused: p,
                late_packets,
            } => {
                paused = p;
                late = late_packets;
                break;
            }
        }
    }
    if let Err(e) = sink.close().await {
        failed(&core, call, &mut sink, &path, &e);
    }
    if late > 0 {
        tracing::debug!(call, late, "recording: packets too late to place");
    }
    let now = core.clock.now();
    let bytes = if sink.failed {
        tokio::fs::metadata(&path).await.map_or(0, |m| m.len())
    } else {
        sink.data_bytes + 44
    };
    core.journal.record(Write::RecordingEnded(RecordingEnd {
        call,
        at: ms(now),
        bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
        // Four bytes a sample pair, 8000 pairs a second.
        duration_ms: i64::try_from(sink.data_bytes / 32).unwrap_or(i64::MAX),
        paused_ms: i64::try_from(paused.as_millis()).unwrap_or(i64::MAX),
        complete: !sink.failed,
    }));
    metrics::counter!("tsunagu_recordings_total", "outcome" => if sink.failed { "incomplete" } else { "complete" })
        .increment(1);
}

/// The file cannot be written any more: the call goes on without it.
fn failed(core: &Core, call: i64, sink: &mut Sink, path: &Path, e: &std::io::Error) {
    if sink.failed {
        return;
    }
    sink.failed = true;
    sink.file = None;
    tracing::warn!(call, path = %path.display(), error = %e, "recording failed; the call goes on without it");
    core.journal.record(
        Event::new(
            ms(core.clock.now()),
            "recording.failed",
            serde_json::json!({ "error": e.to_string() }),
        )
        .call(call),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_go_in_a_folder_per_utc_day() {
        assert_eq!(relative_path(7, 0), "1970-01-01/7.wav");
        // 2026-12-02T06:00:00Z
        assert_eq!(
            relative_path(1234, 1_796_191_200_000),
            "2026-12-02/1234.wav"
        );
        // 2024-02-29T23:59:59.999Z, a leap day
        assert_eq!(relative_path(1, 1_709_251_199_999), "2024-02-29/1.wav");
        assert_eq!(relative_path(1, 1_709_251_200_000), "2024-03-01/1.wav");
    }
}
