//! The voice files a call plays (GROUP-24…27 and diverts to a voice file), read from the voice
//! directory once and kept while the file on disk is unchanged: a file replaced in the app is
//! heard by the next call.

use crate::server::Shared;
use media::player::{Program, Prompt};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// How often the in-queue announcement (呼中音声) interrupts the music.
const ANNOUNCE_EVERY_FRAMES: u32 = 30 * 50;

pub(crate) struct Prompts {
    dir: PathBuf,
    cache: Mutex<HashMap<i64, (SystemTime, Arc<Prompt>)>>,
}

impl Prompts {
    pub fn new(dir: PathBuf) -> Prompts {
        Prompts {
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
}

/// What a group plays, loaded when a call enters it.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupAudio {
    pub greeting: Option<Arc<Prompt>>,
    pub announcement: Option<Arc<Prompt>>,
    pub music: Option<Arc<Prompt>>,
    /// Music on hold while an agent holds the call; the waiting music when unset.
    pub hold: Option<Arc<Prompt>>,
    /// Played to the agent alone on answer (着信判別音声).
    pub answer: Option<Arc<Prompt>>,
}

impl GroupAudio {
    pub async fn load(shared: &Shared, group: i64) -> GroupAudio {
        let fields = match shared.store.conn().await {
            Ok(mut conn) => match store::groups::get(&mut conn, group).await {
                Ok(Some(g)) => g.fields,
                _ => return GroupAudio::default(),
            },
            Err(_) => return GroupAudio::default(),
        };
        let get = |id: Option<i64>| async move {
            match id {
                Some(id) => shared.prompts.get(id).await,
                None => None,
            }
        };
        let hold = get(fields.hold_voice_id).await;
        GroupAudio {
            greeting: get(fields.greeting_voice_id).await,
            announcement: get(fields.queue_voice_id).await,
            // GROUP-26's music is what a waiting caller hears between announcements too.
            music: hold.clone(),
            hold,
            answer: get(fields.answer_voice_id).await,
        }
    }

    /// Whether a waiting caller has anything to hear (and so is answered to hear it).
    pub fn plays_while_waiting(&self) -> bool {
        self.greeting.is_some() || self.announcement.is_some() || self.music.is_some()
    }

    pub fn queue_program(&self) -> Program {
        Program::Queue {
            greeting: self.greeting.clone(),
            announcement: self.announcement.clone(),
            music: self.music.clone(),
            every_frames: ANNOUNCE_EVERY_FRAMES,
        }
    }
}
