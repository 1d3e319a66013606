//! What a leg hears from Tsunagu itself: voice files as 20 ms frames of 8 kHz samples.
//!
//! Sans-IO: the relay asks for one frame per packet time and sends it; nothing here knows
//! about sockets or clocks, so the order of greeting, music and announcements and the absence
//! of clicks at loop points are tested frame by frame.

use crate::wav::{self, WavError};
use std::sync::Arc;

/// Samples in one 20 ms packet at 8 kHz.
pub const FRAME: usize = 160;
pub type Frame = [i16; FRAME];
/// Length of the fade at the ends of a looped file and around an interrupted one (10 ms): a
/// jump from the last sample to the first would be heard as a click.
const FADE: usize = 80;

/// A voice file ready to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    samples: Vec<i16>,
}

impl Prompt {
    pub fn from_wav(bytes: &[u8]) -> Result<Prompt, WavError> {
        // `wav::pcm` refuses files without a sample.
        Ok(Prompt {
            samples: wav::pcm(bytes)?,
        })
    }

    /// None for no samples: a prompt always has something to play.
    pub fn from_samples(samples: Vec<i16>) -> Option<Prompt> {
        (!samples.is_empty()).then_some(Prompt { samples })
    }

    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / 8000
    }

    /// The Japanese ringback tone (呼出音): 400 Hz modulated at 16 Hz, one second on and two
    /// off, for a caller whose leg is already up while the other party rings. Loop it.
    pub fn ringback() -> Prompt {
        let mut samples = vec![0i16; 3 * 8000];
        for (i, s) in samples.iter_mut().take(8000).enumerate() {
            let t = i as f64 / 8000.0;
            let tone = (2.0 * std::f64::consts::PI * 400.0 * t).sin();
            let envelope = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 16.0 * t).sin();
            *s = (tone * envelope * 6000.0) as i16;
        }
        Prompt { samples }
    }
}

/// What a leg is to hear, in order.
#[derive(Debug, Clone)]
pub enum Program {
    /// One file, then the player is done.
    Once(Arc<Prompt>),
    /// One file over and over (music on hold).
    Loop(Arc<Prompt>),
    /// Silence until stopped: the leg hears nothing from the other side meanwhile.
    Silence,
    /// A caller waiting in a queue: the greeting once, then music (or silence), interrupted
    /// every `every_frames` by the announcement. The music resumes where it stopped.
    Queue {
        greeting: Option<Arc<Prompt>>,
        announcement: Option<Arc<Prompt>>,
        music: Option<Arc<Prompt>>,
        every_frames: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Playing a file once from `pos`.
    Greeting {
        pos: usize,
    },
    Announcement {
        pos: usize,
    },
    /// Music (or silence), `frames` played since it last started.
    Music {
        frames: u32,
    },
    Done,
}

#[derive(Debug, Clone)]
pub struct Player {
    program: Program,
    step: Step,
    /// Position in the music, kept across announcements.
    music_pos: usize,
    /// The next music frame fades in (it resumes mid-file).
    fade_in: bool,
}

impl Player {
    pub fn new(program: Program) -> Player {
        let step = match &program {
            Program::Once(_) => Step::Greeting { pos: 0 },
            Program::Loop(_) | Program::Silence => Step::Music { frames: 0 },
            Program::Queue { greeting, .. } => match greeting {
                Some(_) => Step::Greeting { pos: 0 },
                None => Step::Music { frames: 0 },
            },
        };
        Player {
            program,
            step,
            music_pos: 0,
            fade_in: false,
        }
    }

    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// The next 20 ms, or None once a program that ends has ended.
    pub fn next_frame(&mut self) -> Option<Frame> {
        let mut out = [0i16; FRAME];
        match self.step {
            Step::Done => return None,
            Step::Greeting { pos } => {
                let file = match &self.program {
                    Program::Once(p) => Some(p),
                    Program::Queue { greeting, .. } => greeting.as_ref(),
                    _ => None,
                };
                let Some(file) = file else {
                    self.step = Step::Done;
                    return None;
                };
                let end = copy_once(&file.samples, pos, &mut out);
                self.step = match (end, &self.program) {
                    (Some(pos), _) => Step::Greeting { pos },
                    (None, Program::Queue { .. }) => Step::Music { frames: 0 },
                    (None, _) => Step::Done,
                };
            }
            Step::Announcement { pos } => {
                let file = match &self.program {
                    Program::Queue { announcement, .. } => announcement.as_ref(),
                    _ => None,
                };
                let Some(file) = file else {
                    self.step = Step::Music { frames: 0 };
                    return Some(out);
                };
                let end = copy_once(&file.samples, pos, &mut out);
                self.step = match end {
                    Some(pos) => Step::Announcement { pos },
                    None => {
                        self.fade_in = true;
                        Step::Music { frames: 0 }
                    }
                };
            }
            Step::Music { frames } => {
                let (music, announcement, every) = match &self.program {
                    Program::Loop(m) => (Some(m), None, 0),
                    Program::Queue {
                        music,
                        announcement,
                        every_frames,
                        ..
                    } => (music.as_ref(), announcement.as_ref(), *every_frames),
                    _ => (None, None, 0),
                };
                let last = announcement.is_some() && every > 0 && frames + 1 >= every;
                if let Some(m) = music {
                    self.music_pos = copy_looped(&m.samples, self.music_pos, &mut out);
                    if self.fade_in {
                        ramp(&mut out, true);
                    }
                    if last {
                        ramp(&mut out, false);
                    }
                }
                self.fade_in = false;
                self.step = if last {
                    Step::Announcement { pos: 0 }
                } else {
                    Step::Music {
                        frames: frames.saturating_add(1),
                    }
                };
            }
        }
        Some(out)
    }
}

/// Copies from `pos`, padding the last frame with silence; the next position, or None at the
/// end of the file.
fn copy_once(samples: &[i16], pos: usize, out: &mut Frame) -> Option<usize> {
    let rest = samples.get(pos..).unwrap_or_default();
    let n = rest.len().min(FRAME);
    out[..n].copy_from_slice(&rest[..n]);
    (pos + n < samples.len()).then_some(pos + n)
}

/// Copies a frame of a file played in a loop, wrapping without a gap; the ends of the file are
/// faded so the wrap is not heard as a click. Returns the next position.
fn copy_looped(samples: &[i16], mut pos: usize, out: &mut Frame) -> usize {
    let len = samples.len();
    for o in out.iter_mut() {
        if pos >= len {
            pos = 0;
        }
        let edge = pos.min(len - 1 - pos);
        let s = i32::from(samples[pos]);
        *o = if edge < FADE && len > 2 * FADE {
            (s * edge as i32 / FADE as i32) as i16
        } else {
            s as i16
        };
        pos += 1;
    }
    pos % len
}

/// A linear fade over the frame: in (from silence) or out (to silence).
fn ramp(frame: &mut Frame, fade_in: bool) {
    for (i, s) in frame.iter_mut().enumerate() {
        let g = if fade_in { i } else { FRAME - 1 - i } as i32;
        *s = (i32::from(*s) * g / (FRAME as i32 - 1)) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(len: usize, amplitude: f64) -> Arc<Prompt> {
        let samples = (0..len)
            .map(|i| {
                (amplitude * (i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin()) as i16
            })
            .collect();
        Arc::new(Prompt::from_samples(samples).unwrap())
    }

    fn constant(len: usize, value: i16) -> Arc<Prompt> {
        Arc::new(Prompt::from_samples(vec![value; len]).unwrap())
    }

    #[test]
    fn once_plays_every_sample_then_ends() {
        let p = Prompt::from_samples((0..400).map(|i| i as i16).collect()).unwrap();
        let mut player = Player::new(Program::Once(Arc::new(p)));
        let mut got = Vec::new();
        while let Some(f) = player.next_frame() {
            got.extend_from_slice(&f);
        }
        assert_eq!(got.len(), 480, "three frames, the last padded");
        assert_eq!(
            &got[..400],
            &(0..400).map(|i| i as i16).collect::<Vec<_>>()[..]
        );
        assert!(got[400..].iter().all(|&s| s == 0));
        assert!(player.is_done());
        assert_eq!(player.next_frame(), None);
    }

    #[test]
    fn a_loop_has_no_gap_and_no_click_at_the_wrap() {
        // 1000 samples: the wrap falls in the middle of a frame.
        let music = tone(1000, 12000.0);
        let mut player = Player::new(Program::Loop(music));
        let mut got = Vec::new();
        for _ in 0..50 {
            got.extend_from_slice(&player.next_frame().unwrap());
        }
        assert_eq!(got.len(), 50 * FRAME, "never ends, never skips a frame");
        // A 440 Hz tone at 12000 moves at most ~4200 per sample; the fade keeps every jump,
        // the wrap included, within that.
        let max_jump = got
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max();
        assert!(max_jump.unwrap() <= 4200, "jump {max_jump:?}");
        // Without the fade, a file of constant level would jump at the wrap; with it, the
        // level only ramps.
        let mut flat = Player::new(Program::Loop(constant(1000, 10000)));
        let mut got = Vec::new();
        for _ in 0..20 {
            got.extend_from_slice(&flat.next_frame().unwrap());
        }
        let max_jump = got
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max();
        assert!(
            max_jump.unwrap() <= 10000 / FADE as i32 + 1,
            "jump {max_jump:?}"
        );
    }

    #[test]
    fn queue_plays_greeting_then_music_with_periodic_announcements() {
        let greeting = constant(320, 1000); // 2 frames
        let announcement = constant(160, 2000); // 1 frame
        let music = constant(16_000, 3000);
        let mut player = Player::new(Program::Queue {
            greeting: Some(greeting),
            announcement: Some(announcement),
            music: Some(music),
            every_frames: 5,
        });
        let mid: Vec<i16> = (0..14)
            .map(|_| player.next_frame().unwrap()[FRAME / 2])
            .collect();
        // greeting ×2, music ×5 (the first fades in from the file's start? no: mid-frame is
        // past the 10 ms fade), announcement, music ×5, announcement…
        let music_mid = |v: i16| v > 0 && v <= 3000 && v != 1000 && v != 2000;
        assert_eq!(&mid[..2], &[1000, 1000]);
        assert!(mid[2..7].iter().all(|&v| music_mid(v)), "{mid:?}");
        assert_eq!(mid[7], 2000);
        assert!(mid[8..13].iter().all(|&v| music_mid(v)), "{mid:?}");
        assert_eq!(mid[13], 2000);
        assert!(!player.is_done(), "a queue program never ends by itself");
    }

    #[test]
    fn music_resumes_where_the_announcement_interrupted_it() {
        let music = Arc::new(
            Prompt::from_samples((0..8000).map(|i| (i % 3000) as i16 + 100).collect()).unwrap(),
        );
        let mut player = Player::new(Program::Queue {
            greeting: None,
            announcement: Some(constant(160, -5)),
            music: Some(music),
            every_frames: 3,
        });
        let frames: Vec<Frame> = (0..5).map(|_| player.next_frame().unwrap()).collect();
        assert_eq!(frames[3], [-5; FRAME]);
        // Sample 480 of the music is the first of the resumed frame (faded in from zero).
        assert_eq!(frames[4][0], 0);
        assert_eq!(frames[4][FRAME - 1], (480 + FRAME - 1) as i16 % 3000 + 100);
    }

    #[test]
    fn silence_and_queue_without_files_play_silence() {
        let mut s = Player::new(Program::Silence);
        assert_eq!(s.next_frame(), Some([0; FRAME]));
        let mut q = Player::new(Program::Queue {
            greeting: None,
            announcement: None,
            music: None,
            every_frames: 0,
        });
        for _ in 0..3 {
            assert_eq!(q.next_frame(), Some([0; FRAME]));
        }
    }
}
