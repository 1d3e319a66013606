//! A recording in progress as the relay and the bridges carry it: the recorder's [`Timeline`],
//! the moment it started, and where its finished audio goes.
//!
//! It is a value the core holds only while a call moves: [`crate::RelayHandle::into_legs`]
//! gives it out with the legs, [`crate::BridgeHandle::continue_recording`] or
//! [`crate::relay::spawn_relay_legs`] take it, so the next owner places the same phones' packets
//! on the same timeline and writes into the same output, without a gap or a repeat. The core
//! never sees inside. Dropping it ends the recording: the rest of the timeline and
//! [`RecorderOutput::End`] are sent.

use crate::mixer::Audio;
use crate::recorder::{Source, Timeline};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

/// How often a recording's finished part is handed to the writer.
pub(crate) const DRAIN_EVERY: Duration = Duration::from_millis(500);

/// Where a relay's recording goes: the relay sends the finished parts of the stereo timeline
/// here as they become final, then [`RecorderOutput::End`].
#[derive(Debug)]
pub struct RecordTap {
    /// The leg of the external party (left channel); the other leg is the agent (right).
    pub left_leg: usize,
    pub output: UnboundedSender<RecorderOutput>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecorderOutput {
    /// Interleaved left/right 16-bit samples at 8 kHz, continuing the previous ones.
    Audio(Vec<i16>),
    /// The recording is over: no more audio follows.
    End {
        paused: Duration,
        /// Packets that came too late (or too far ahead) to be placed: heard as silence.
        late_packets: u64,
    },
}

/// A recording being made, moved between the relay and bridges with the call's legs.
#[derive(Debug)]
pub struct Recording {
    timeline: Timeline,
    started: Instant,
    last_drain: Instant,
    output: UnboundedSender<RecorderOutput>,
}

impl Recording {
    pub(crate) fn start(output: UnboundedSender<RecorderOutput>, now: Instant) -> Recording {
        Recording {
            timeline: Timeline::new(),
            started: now,
            last_drain: now,
            output,
        }
    }

    pub(crate) fn push(&mut self, source: Source, audio: Audio<'_>, now: Instant) {
        self.timeline.push(source, audio, now - self.started);
    }

    /// Hands out what became final, if it is time to.
    pub(crate) fn drain_due(&mut self, now: Instant) {
        if now - self.last_drain >= DRAIN_EVERY {
            self.drain(now);
        }
    }

    pub(crate) fn drain(&mut self, now: Instant) {
        self.last_drain = now;
        let mut out = Vec::new();
        self.timeline.drain(now - self.started, &mut out);
        self.send(out);
    }

    /// Resumes (true) or pauses (false) the recording.
    pub(crate) fn set_paused(&mut self, paused: bool, now: Instant) {
        let at = now - self.started;
        if paused {
            self.timeline.pause(at);
        } else {
            self.timeline.resume(at);
        }
    }

    /// Whether the recording is paused: a pause asked for in the relay holds in the bridge.
    pub fn is_paused(&self) -> bool {
        self.timeline.is_paused()
    }

    fn send(&self, audio: Vec<i16>) {
        if !audio.is_empty() {
            // A writer that has gone (its file failed) only means nobody keeps the audio.
            let _ = self.output.send(RecorderOutput::Audio(audio));
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let mut out = Vec::new();
        self.timeline
            .finish(Instant::now() - self.started, &mut out);
        self.send(out);
        let _ = self.output.send(RecorderOutput::End {
            paused: self.timeline.paused(),
            late_packets: self.timeline.late_packets(),
        });
    }
}
