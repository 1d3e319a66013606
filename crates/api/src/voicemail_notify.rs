//! VOICE-06: each voicemail message whose voice file has 通知メール on is mailed, with its WAV,
//! to the voice file's address. A projection of the stored messages: the telephony says when
//! one was saved, and at start every message not yet handed to the mailer is, so a message
//! saved while the server stopped is not forgotten. Sending, retries and failures are the
//! mailer's (its outbox shows them to the admin).

use crate::mail::{Attachment, MailError, MailRef, OutgoingMail};
use crate::AppState;
use store::voicemails::Voicemail;
use tokio::sync::broadcast;

/// Hands every pending message to the mailer, then again each time one is saved.
pub async fn run(state: AppState, mut saved: broadcast::Receiver<i64>) {
    loop {
        notify_pending(&state).await;
        match saved.recv().await {
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Queues a mail for each message not yet handed to the mailer; how many were queued.
pub async fn notify_pending(state: &AppState) -> usize {
    let pending = match state.store.voicemails_to_notify().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "voicemail notification: cannot read the messages");
            return 0;
        }
    };
    let time_zone = state
        .store
        .system_settings()
        .await
        .ok()
        .and_then(|s| jiff::tz::TimeZone::get(&s.time_zone).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let mut queued = 0;
    for vm in pending {
        let mail = message_mail(state, &vm, &time_zone);
        match state.mail.enqueue(mail).await {
            Ok(_) => queued += 1,
            // An address the mailer refuses will not get better: say so once and move on.
            Err(MailError::Invalid { field, message }) => {
                tracing::warn!(
                    voicemail = vm.id,
                    field,
                    message,
                    "voicemail notification refused"
                );
            }
            Err(MailError::Store(e)) => {
                tracing::warn!(voicemail = vm.id, error = %e, "voicemail notification not queued; tried again later");
                return queued;
            }
        }
        if let Err(e) = state
            .store
            .mark_voicemail_notified(vm.id, crate::now_ms())
            .await
        {
            tracing::warn!(voicemail = vm.id, error = %e, "voicemail notification not marked");
        }
    }
    queued
}

fn message_mail(state: &AppState, vm: &Voicemail, tz: &jiff::tz::TimeZone) -> OutgoingMail {
    let when = jiff::Timestamp::from_millisecond(vm.call_started_at)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default();
    let secs = (vm.duration_ms + 500) / 1000;
    let caller = if vm.caller.is_empty() {
        "非通知"
    } else {
        vm.caller.as_str()
    };
    OutgoingMail {
        to: vm.notify_email.clone(),
        subject: format!("【留守電】{caller} からのメッセージ（{secs}秒）"),
        body: format!(
            "留守電にメッセージが届きました。 / A voicemail message was left.\n\n\
             日付 / Date: {when}\n\
             相手 / Party: {caller}\n\
             秒数 / Seconds: {secs}\n\
             音声ファイル / Voice file: {}\n\n\
             メッセージは添付の WAV ファイルです。 / The message is the attached WAV file.\n",
            vm.voice_file_name
        ),
        attachment: Some(Attachment::wav(
            state.config.voicemail_dir.join(&vm.file),
            format!("voicemail-{}.wav", vm.id),
        )),
        reference: Some(MailRef::new("voicemail", vm.id)),
    }
}
