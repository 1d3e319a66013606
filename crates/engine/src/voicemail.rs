//! Taking a message (VOICE-04): once the voice file has played, the caller hears the fixed
//! instructions and a beep, then everything they say is kept until they hang up, press `#`,
//! stay silent for [`SILENCE_MS`] or reach [`MAX_MS`]. Except after a hang-up they hear
//! "ありがとうございます。" and the call ends.
//!
//! Sans-IO like the rest of the engine: the edge reports prompts that ended, keys, whether the
//! caller is speaking (edges of a voice-activity detector, not every frame) and the time.

use crate::clock::Millis;
use crate::ivr::Key;

/// Silence that ends a message.
pub const SILENCE_MS: Millis = 10_000;
/// The longest message.
pub const MAX_MS: Millis = 180_000;
/// Kept after the last speech of a message ended by silence: the recording is not cut in the
/// middle of a breath, nor left with ten seconds of nothing.
pub const SILENCE_TAIL_MS: Millis = 1_000;

/// The fixed prompts of voicemail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prompt {
    /// 発信音の後にメッセージをお話し下さい。終わりましたら電話をきるかシャープを押してください。
    Instructions,
    /// The tone after which the caller speaks.
    Beep,
    /// ありがとうございます。
    Thanks,
}

/// Why a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Hangup,
    Pound,
    Silence,
    MaxLength,
}

impl Stop {
    pub fn as_str(self) -> &'static str {
        match self {
            Stop::Hangup => "hangup",
            Stop::Pound => "pound",
            Stop::Silence => "silence",
            Stop::MaxLength => "max_length",
        }
    }
}

/// A message that ended: whether to keep it and how much of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub stop: Stop,
    /// The caller said something: a recording of nothing but silence is not a message.
    pub keep: bool,
    /// Keep only this much from the start (a silence that ended it is cut off); `None`: all.
    pub length_ms: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmCmd {
    Play(Prompt),
    /// Start keeping what the caller says.
    StartRecording,
    StopRecording(Ended),
    /// The thanks have been said: end the call.
    Hangup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Instructions,
    Beep,
    Recording {
        started: Millis,
        /// Since when the caller has been silent (from the start: silence counts at once).
        silent_since: Option<Millis>,
        spoke: bool,
    },
    Thanks,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voicemail {
    phase: Phase,
}

impl Voicemail {
    /// The voice file has played: the instructions follow.
    pub fn begin() -> (Voicemail, Vec<VmCmd>) {
        (
            Voicemail {
                phase: Phase::Instructions,
            },
            vec![VmCmd::Play(Prompt::Instructions)],
        )
    }

    pub fn is_recording(&self) -> bool {
        matches!(self.phase, Phase::Recording { .. })
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// When [`Voicemail::on_timeout`] is due.
    pub fn deadline(&self) -> Option<Millis> {
        match self.phase {
            Phase::Recording {
                started,
                silent_since,
                ..
            } => {
                let max = started.saturating_add(MAX_MS);
                Some(silent_since.map_or(max, |s| max.min(s.saturating_add(SILENCE_MS))))
            }
            _ => None,
        }
    }

    pub fn on_prompt_done(&mut self, now: Millis) -> Vec<VmCmd> {
        match self.phase {
            Phase::Instructions => {
                self.phase = Phase::Beep;
                vec![VmCmd::Play(Prompt::Beep)]
            }
            Phase::Beep => {
                self.phase = Phase::Recording {
                    started: now,
                    silent_since: Some(now),
                    spoke: false,
                };
                vec![VmCmd::StartRecording]
            }
            Phase::Thanks => {
                self.phase = Phase::Done;
                vec![VmCmd::Hangup]
            }
            Phase::Recording { .. } | Phase::Done => Vec::new(),
        }
    }

    /// A key: `#` ends the message. Keys before the beep do nothing: the instructions say
    /// what `#` is for, and a caller who presses it early still gets to speak.
    pub fn on_key(&mut self, now: Millis, key: Key) -> Vec<VmCmd> {
        match (self.phase, key) {
            (Phase::Recording { .. }, Key::Hash) => self.stop(now, Stop::Pound),
            _ => Vec::new(),
        }
    }

    /// The caller started (`true`) or stopped speaking.
    pub fn on_voice(&mut self, now: Millis, speaking: bool) {
        if let Phase::Recording {
            silent_since,
            spoke,
            ..
        } = &mut self.phase
        {
            if speaking {
                *spoke = true;
                *silent_since = None;
            } else if silent_since.is_none() {
                *silent_since = Some(now);
            }
        }
    }

    pub fn on_timeout(&mut self, now: Millis) -> Vec<VmCmd> {
        let Phase::Recording {
            started,
            silent_since,
            ..
        } = self.phase
        else {
            return Vec::new();
        };
        if now >= started.saturating_add(MAX_MS) {
            self.stop(now, Stop::MaxLength)
        } else if silent_since.is_some_and(|s| now >= s.saturating_add(SILENCE_MS)) {
            self.stop(now, Stop::Silence)
        } else {
            Vec::new()
        }
    }

    /// The caller hung up: a message being recorded ends with what was said.
    pub fn on_hangup(&mut self, now: Millis) -> Vec<VmCmd> {
        let cmds = if self.is_recording() {
            self.stop(now, Stop::Hangup)
        } else {
            Vec::new()
        };
        self.phase = Phase::Done;
        cmds
    }

    fn stop(&mut self, now: Millis, stop: Stop) -> Vec<VmCmd> {
        let Phase::Recording {
            started,
            silent_since,
            spoke,
        } = self.phase
        else {
            return Vec::new();
        };
        let length_ms = match stop {
            Stop::MaxLength => Some(MAX_MS),
            Stop::Silence => silent_since.map(|s| {
                s.saturating_sub(started)
                    .saturating_add(SILENCE_TAIL_MS)
                    .min(now.saturating_sub(started))
            }),
            Stop::Hangup | Stop::Pound => None,
        };
        let ended = VmCmd::StopRecording(Ended {
            stop,
            keep: spoke,
            length_ms,
        });
        if stop == Stop::Hangup {
            self.phase = Phase::Done;
            return vec![ended];
        }
        self.phase = Phase::Thanks;
        vec![ended, VmCmd::Play(Prompt::Thanks)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Through the instructions and the beep: recording from `at`.
    fn recording(at: Millis) -> Voicemail {
        let (mut vm, cmds) = Voicemail::begin();
        assert_eq!(cmds, vec![VmCmd::Play(Prompt::Instructions)]);
        assert_eq!(vm.on_prompt_done(at - 500), vec![VmCmd::Play(Prompt::Beep)]);
        assert_eq!(vm.on_prompt_done(at), vec![VmCmd::StartRecording]);
        vm
    }

    fn ended(stop: Stop, keep: bool, length_ms: Option<Millis>) -> VmCmd {
        VmCmd::StopRecording(Ended {
            stop,
            keep,
            length_ms,
        })
    }

    #[test]
    fn pound_ends_the_message_with_thanks_then_the_call() {
        let mut vm = recording(1_000);
        vm.on_voice(1_200, true);
        assert_eq!(vm.on_key(5_000, Key::Digit(1)), vec![]);
        assert_eq!(
            vm.on_key(5_000, Key::Hash),
            vec![ended(Stop::Pound, true, None), VmCmd::Play(Prompt::Thanks)]
        );
        assert_eq!(vm.deadline(), None);
        assert_eq!(vm.on_prompt_done(6_000), vec![VmCmd::Hangup]);
        assert!(vm.is_done());
    }

    #[test]
    fn keys_before_the_beep_do_nothing() {
        let (mut vm, _) = Voicemail::begin();
        assert_eq!(vm.on_key(100, Key::Hash), vec![]);
        assert_eq!(vm.on_prompt_done(3_000), vec![VmCmd::Play(Prompt::Beep)]);
        assert_eq!(vm.on_key(3_100, Key::Hash), vec![]);
        assert!(!vm.is_recording());
    }

    #[test]
    fn ten_seconds_of_silence_end_it_keeping_a_second_after_the_speech() {
        let mut vm = recording(1_000);
        vm.on_voice(1_500, true);
        vm.on_voice(4_000, false);
        assert_eq!(vm.deadline(), Some(14_000));
        assert_eq!(vm.on_timeout(13_999), vec![]);
        assert_eq!(
            vm.on_timeout(14_000),
            vec![
                ended(Stop::Silence, true, Some(4_000)),
                VmCmd::Play(Prompt::Thanks)
            ]
        );
    }

    #[test]
    fn speech_again_restarts_the_silence() {
        let mut vm = recording(1_000);
        vm.on_voice(1_100, true);
        vm.on_voice(2_000, false);
        vm.on_voice(11_000, true);
        assert_eq!(vm.on_timeout(12_000), vec![]);
        assert_eq!(vm.deadline(), Some(1_000 + MAX_MS));
        vm.on_voice(20_000, false);
        vm.on_voice(20_500, false);
        assert_eq!(vm.deadline(), Some(30_000));
    }

    #[test]
    fn a_caller_who_never_speaks_leaves_no_message() {
        let mut vm = recording(1_000);
        assert_eq!(vm.deadline(), Some(11_000));
        assert_eq!(
            vm.on_timeout(11_000),
            vec![
                ended(Stop::Silence, false, Some(1_000)),
                VmCmd::Play(Prompt::Thanks)
            ]
        );
    }

    #[test]
    fn three_minutes_is_the_longest_message() {
        let mut vm = recording(1_000);
        vm.on_voice(1_100, true);
        assert_eq!(vm.deadline(), Some(181_000));
        assert_eq!(vm.on_timeout(180_999), vec![]);
        assert_eq!(
            vm.on_timeout(181_000),
            vec![
                ended(Stop::MaxLength, true, Some(MAX_MS)),
                VmCmd::Play(Prompt::Thanks)
            ]
        );
    }

    #[test]
    fn a_hang_up_keeps_what_was_said_and_plays_nothing() {
        let mut vm = recording(1_000);
        vm.on_voice(1_100, true);
        assert_eq!(vm.on_hangup(8_000), vec![ended(Stop::Hangup, true, None)]);
        assert!(vm.is_done());
        assert_eq!(vm.on_prompt_done(9_000), vec![]);
    }

    #[test]
    fn a_hang_up_during_the_instructions_records_nothing() {
        let (mut vm, _) = Voicemail::begin();
        assert_eq!(vm.on_hangup(2_000), vec![]);
        assert!(vm.is_done());
    }
}
