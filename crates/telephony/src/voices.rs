//! The voice files calls play (GROUP-24…27, voice-file destinations), read from the voice
//! directory once and kept while the file on disk is unchanged: a file replaced in the app is
//! heard by the next call.

use engine::session::{Audio, GroupAudio};
use engine::voicemail::Prompt as VmPrompt;
use media::player::{Program, Prompt};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

/// How often the in-queue announcement (呼中音声) interrupts the music.
const ANNOUNCE_EVERY_FRAMES: u32 = 30 * 50;

pub struct Voices {
    dir: PathBuf,
    cache: Mutex<HashMap<i64, (SystemTime, Arc<Prompt>)>>,
}

impl Voices {
    pub fn new(dir: PathBuf) -> Voices {
        Voices {
            dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The voice file `id`, or None (with a warning) when it cannot be played.
    pub async fn get(&self, id: i64) -> Option<Arc<Prompt>> {
        let path = self.dir.join(format!("{id}.wav"));
        let modified = match tokio::fs::metadata(&path).await.and_then(|m| m.modified()) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(voice_file = id, path = %path.display(), error = %e, "voice file missing");
                return None;
            }
        };
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .filter(|(t, _)| *t == modified)
            .map(|(_, p)| Arc::clone(p));
        if cached.is_some() {
            return cached;
        }
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(voice_file = id, error = %e, "cannot read voice file");
                return None;
            }
        };
        match Prompt::from_wav(&bytes) {
            Ok(p) => {
                let p = Arc::new(p);
                self.cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id, (modified, Arc::clone(&p)));
                Some(p)
            }
            Err(e) => {
                tracing::warn!(voice_file = id, error = %e, "voice file cannot be played");
                None
            }
        }
    }

    async fn get_opt(&self, id: Option<i64>) -> Option<(i64, Arc<Prompt>)> {
        let id = id?;
        self.get(id).await.map(|p| (id, p))
    }

    /// What a group plays, for the session: only the files that can be played.
    pub async fn group_audio(&self, g: &store::groups::GroupFields) -> GroupAudio {
        let hold = self.get_opt(g.hold_voice_id).await.map(|(id, _)| id);
        GroupAudio {
            greeting: self
                .get_opt(g.greeting_voice_id)
                .await
                .map(|(id, p)| (id, p.duration_ms())),
            announcement: self.get_opt(g.queue_voice_id).await.map(|(id, _)| id),
            // GROUP-26's music is what a waiting caller hears between announcements too.
            music: hold,
            hold,
            answer: self.get_opt(g.answer_voice_id).await.map(|(id, _)| id),
        }
    }

    /// The player's program for what the session wants heard.
    pub async fn program(&self, audio: &Audio) -> Option<Program> {
        Some(match audio {
            Audio::Queue {
                greeting,
                announcement,
                music,
            } => Program::Queue {
                greeting: self.get_opt(*greeting).await.map(|(_, p)| p),
                announcement: self.get_opt(*announcement).await.map(|(_, p)| p),
                music: self.get_opt(*music).await.map(|(_, p)| p),
                every_frames: ANNOUNCE_EVERY_FRAMES,
            },
            Audio::Once(id) => Program::Once(self.get(*id).await?),
            Audio::Loop(id) => Program::Loop(self.get(*id).await?),
            Audio::Ringback => Program::Loop(ringback()),
            Audio::Silence => Program::Silence,
            Audio::Voicemail(p) => Program::Once(voicemail_prompt(*p)?),
        })
    }
}

/// Voicemail's fixed prompts, built in (`prompts/`, made by `scripts/make-prompts.sh`).
fn voicemail_prompt(p: VmPrompt) -> Option<Arc<Prompt>> {
    static PROMPTS: OnceLock<Option<[Arc<Prompt>; 3]>> = OnceLock::new();
    let all = PROMPTS.get_or_init(|| {
        let load = |bytes: &[u8]| Prompt::from_wav(bytes).ok().map(Arc::new);
        Some([
            load(include_bytes!("../prompts/ja/vm_instructions.wav"))?,
            load(include_bytes!("../prompts/beep.wav"))?,
            load(include_bytes!("../prompts/ja/vm_thanks.wav"))?,
        ])
    });
    let Some(all) = all else {
        tracing::error!("the built-in voicemail prompts cannot be played");
        return None;
    };
    Some(Arc::clone(match p {
        VmPrompt::Instructions => &all[0],
        VmPrompt::Beep => &all[1],
        VmPrompt::Thanks => &all[2],
    }))
}

fn ringback() -> Arc<Prompt> {
    static TONE: OnceLock<Arc<Prompt>> = OnceLock::new();
    TONE.get_or_init(|| Arc::new(Prompt::ringback())).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_prompts_play() {
        for p in [VmPrompt::Instructions, VmPrompt::Beep, VmPrompt::Thanks] {
            let prompt = voicemail_prompt(p).expect("a built-in prompt");
            assert!(prompt.duration_ms() >= 400, "{p:?}");
        }
    }
}
