//! Whether someone is speaking, frame by frame: an energy detector with hysteresis, enough to
//! end a voicemail message on silence (VOICE-04). It reports only changes, so its user hears
//! of speech starting and stopping, not of every 20 ms.

/// Mean absolute amplitude above which a frame counts as sound (about -40 dBFS): line noise
/// and comfort noise stay below, quiet speech is above.
const LOUD: u32 = 300;
/// Loud frames in a row that make speech (60 ms): a click is not speech.
const START_FRAMES: u32 = 3;
/// Quiet frames in a row that end it (400 ms): the pauses between words are not silence.
const STOP_FRAMES: u32 = 20;

#[derive(Debug, Clone, Default)]
pub struct VoiceDetector {
    speaking: bool,
    run: u32,
}

impl VoiceDetector {
    pub fn new() -> VoiceDetector {
        VoiceDetector::default()
    }

    pub fn is_speaking(&self) -> bool {
        self.speaking
    }

    /// One frame of 8 kHz samples; `Some(speaking)` when that changed.
    pub fn push(&mut self, frame: &[i16]) -> Option<bool> {
        if frame.is_empty() {
            return None;
        }
        let sum: u64 = frame.iter().map(|&x| u64::from(x.unsigned_abs())).sum();
        let loud = sum / frame.len() as u64 > u64::from(LOUD);
        if loud == self.speaking {
            self.run = 0;
            return None;
        }
        self.run += 1;
        let needed = if loud { START_FRAMES } else { STOP_FRAMES };
        if self.run < needed {
            return None;
        }
        self.run = 0;
        self.speaking = loud;
        Some(loud)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(level: f64) -> Vec<i16> {
        (0..160)
            .map(|i| {
                (level * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 8000.0).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn speech_starts_after_three_loud_frames_and_stops_after_twenty_quiet_ones() {
        let mut v = VoiceDetector::new();
        let (loud, quiet) = (tone(3000.0), tone(50.0));
        assert_eq!(v.push(&quiet), None);
        assert_eq!(v.push(&loud), None);
        assert_eq!(v.push(&loud), None);
        assert_eq!(v.push(&loud), Some(true));
        assert_eq!(v.push(&loud), None);
        for _ in 0..19 {
            assert_eq!(v.push(&quiet), None);
        }
        assert_eq!(v.push(&quiet), Some(false));
        assert!(!v.is_speaking());
    }

    #[test]
    fn a_click_or_a_short_pause_changes_nothing() {
        let mut v = VoiceDetector::new();
        let (loud, quiet) = (tone(3000.0), vec![0i16; 160]);
        assert_eq!(v.push(&loud), None);
        assert_eq!(v.push(&quiet), None);
        assert_eq!(v.push(&loud), None);
        assert_eq!(v.push(&loud), None);
        assert_eq!(v.push(&loud), Some(true));
        for _ in 0..10 {
            v.push(&quiet);
        }
        assert_eq!(v.push(&loud), None);
        assert!(v.is_speaking());
    }
}
