// REC: while the agent is on a recorded call, a button in the header pauses the recording
// (a card number is read out) and resumes it. The paused stretch is silence in the file.

import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { calls, pauseRecording } from '../api/resources';

export function RecordingToggle({ onCall }: { onCall: boolean }) {
  const { t } = useTranslation();
  const [call, setCall] = useState<number | null>(null);
  const [paused, setPaused] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    setError(null);
    if (!onCall) {
      setCall(null);
      setPaused(false);
      return;
    }
    // The recording starts with the answer, a moment after the status says on call.
    const find = (tries: number) =>
      calls
        .list({ limit: 5 })
        .then((page) => {
          if (!live) return;
          const c = page.items.find((x) => x.in_progress && x.recording?.state === 'recording');
          if (c) setCall(c.id);
          else if (tries > 0) setTimeout(() => find(tries - 1), 500);
        })
        .catch(() => undefined);
    find(6);
    return () => {
      live = false;
    };
  }, [onCall]);

  if (call === null) return null;
  const toggle = () => {
    setError(null);
    pauseRecording(call, !paused)
      .then(() => setPaused(!paused))
      .catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
  };
  return (
    <span className="recording-toggle" data-testid="recording-toggle" data-paused={paused}>
      <span className={paused ? 'rec-dot paused' : 'rec-dot'} aria-hidden="true" />
      <button type="button" className="small" onClick={toggle} aria-pressed={paused}>
        {paused ? t('call.recording_resume') : t('call.recording_pause')}
      </button>
      {error && <span className="status-error">{error}</span>}
    </span>
  );
}
