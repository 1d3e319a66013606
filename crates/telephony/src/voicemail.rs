//! Keeps a caller's message (VOICE-04…07): the relay's recorder tap hands out the caller's audio
//! while the session says a message is being taken; this tells the call when the caller speaks
//! or falls silent (the session times the silence), and once the session has decided how the
//! message ended, writes it as a mono WAV under `<data>/voicemail/<day>/<call>.wav` and has the
//! journal store its row. The mail (VOICE-06) is the notifier's, from that row.

use crate::call::{ms, Internal};
use crate::Core;
use engine::voicemail::Ended;
use media::vad::VoiceDetector;
use media::{RecordTap, RecorderOutput};
use std::sync::Arc;
use store::journal::{Event, Write};
use store::voicemails::NewVoicemail;
use tokio::sync::{mpsc, oneshot};

/// Samples a second.
const RATE: u64 = 8_000;
/// One detector frame, 20 ms.
const FRAME: usize = 160;

/// Who left the message and after what: what its row says.
pub(crate) struct Message {
    pub call: i64,
    pub voice_file: i64,
    pub caller: String,
    pub call_started_at: i64,
}

/// Whether voice file `id` takes messages after it plays (VOICE-04).
pub(crate) async fn takes_messages(core: &Core, id: i64) -> bool {
    match core.store.voice_file(id).await {
        Ok(v) => v.is_some_and(|v| v.fields.voicemail),
        Err(e) => {
            tracing::warn!(voice_file = id, error = %e, "cannot read the voice file; no voicemail");
            false
        }
    }
}

/// Starts keeping a message: the tap for the relay (the caller is its left channel), and where
/// the session's decision goes once the message is over.
pub(crate) fn start(
    core: &Arc<Core>,
    message: Message,
    call: mpsc::UnboundedSender<Internal>,
) -> (RecordTap, oneshot::Sender<Ended>) {
    let (output, rx) = mpsc::unbounded_channel();
    let (decided, decision) = oneshot::channel();
    tokio::spawn(keep(core.clone(), message, rx, decision, call));
    (
        RecordTap {
            left_leg: 0,
            output,
        },
        decided,
    )
}

async fn keep(
    core: Arc<Core>,
    m: Message,
    mut rx: mpsc::UnboundedReceiver<RecorderOutput>,
    decision: oneshot::Receiver<Ended>,
    call: mpsc::UnboundedSender<Internal>,
) {
    let mut samples: Vec<i16> = Vec::new();
    let mut detector = VoiceDetector::new();
    let mut spoke = false;
    // The longest message and a little: what a tap that never ends may hold.
    let cap =
        usize::try_from((engine::voicemail::MAX_MS + 5_000) * RATE / 1000).unwrap_or(usize::MAX);
    while let Some(out) = rx.recv().await {
        let RecorderOutput::Audio(stereo) = out else {
            break;
        };
        let start = samples.len();
        samples.extend(stereo.chunks_exact(2).map(|lr| lr[0]));
        samples.truncate(cap);
        // Whole frames only; a part frame waits for the rest.
        let from = start - start % FRAME;
        for frame in samples[from..].chunks_exact(FRAME) {
            if let Some(speaking) = detector.push(frame) {
                spoke |= speaking;
                if call.send(Internal::Voice { speaking }).is_err() {
                    // The call has ended; what its decision says still holds.
                    break;
                }
            }
        }
    }
    let ended = match decision.await {
        Ok(ended) => ended,
        // The call went without deciding (it failed): keep what was said, if anything.
        Err(_) => Ended {
            stop: engine::voicemail::Stop::Hangup,
            keep: spoke,
            length_ms: None,
        },
    };
    if !ended.keep || samples.is_empty() {
        tracing::info!(call = m.call, "voicemail: nothing said, no message kept");
        return;
    }
    if let Some(ms) = ended.length_ms {
        samples.truncate(usize::try_from(ms * RATE / 1000).unwrap_or(usize::MAX));
    }
    let now = ms(core.clock.now());
    let folder = engine::archive_schedule::recording_folder(now);
    let file = format!("{folder}/{}.wav", m.call);
    let path = core.voicemail_dir.join(&file);
    let wav = media::recorder::mono_wav(&samples);
    let written = async {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::write(&path, &wav).await
    }
    .await;
    if let Err(e) = written {
        tracing::error!(call = m.call, path = %path.display(), error = %e, "voicemail: the message could not be written");
        core.journal.record(
            Event::new(
                now,
                "voicemail.failed",
                serde_json::json!({ "error": e.to_string() }),
            )
            .call(m.call),
        );
        return;
    }
    let voice = core.store.voice_file(m.voice_file).await.ok().flatten();
    let (name, email) = voice.map_or((String::new(), String::new()), |v| {
        let email = if v.fields.notify_email {
            v.fields.email.trim().to_owned()
        } else {
            String::new()
        };
        (v.fields.name, email)
    });
    let row = NewVoicemail {
        call_id: m.call,
        voice_file_id: Some(m.voice_file),
        voice_file_name: name,
        caller: m.caller,
        call_started_at: m.call_started_at,
        recorded_at: now,
        duration_ms: i64::try_from(samples.len() as u64 * 1000 / RATE).unwrap_or(i64::MAX),
        file,
        stop_reason: ended.stop.as_str().to_owned(),
        notify_email: email,
    };
    match core.journal.commit(vec![Write::VoicemailSaved(row)]).await {
        Ok(()) => {
            metrics::counter!("tsunagu_voicemails_total").increment(1);
            // The notifier mails it (VOICE-06); nobody listening is no loss: it also looks at
            // start for messages not yet mailed.
            let _ = core.voicemail_saved.send(m.call);
        }
        Err(e) => {
            tracing::error!(call = m.call, error = %e, "voicemail: the message's row could not be written")
        }
    }
}
