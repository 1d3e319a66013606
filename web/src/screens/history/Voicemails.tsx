import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { voiceFiles, voicemails } from '../../api/resources';
import type { VoiceFile, Voicemail } from '../../api/types';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { formatDateTime } from '../../format';
import { localDayMs } from './Calls';

/** VM-02: play the message inline (seekable). */
function PlayCell({ vm }: { vm: Voicemail }) {
  const { t } = useTranslation();
  const [playing, setPlaying] = useState(false);
  return (
    <span className="recording-cell" data-testid={`voicemail-${vm.id}`}>
      <button type="button" className="small" onClick={() => setPlaying((p) => !p)} aria-pressed={playing}>
        {playing ? t('voicemail.stop') : t('voicemail.play')}
      </button>
      {playing && <audio controls autoPlay src={`/api/v1/voicemails/${vm.id}/audio`} onEnded={() => setPlaying(false)} />}
    </span>
  );
}

/** VM-01…05: the messages callers left, newest first; search, play, bulk delete. */
export function VoicemailList() {
  const { t } = useTranslation();
  const [files, setFiles] = useState<VoiceFile[]>([]);
  useEffect(() => {
    let live = true;
    voiceFiles
      .all()
      .then((f) => live && setFiles(f))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  const config: ListConfig<Voicemail> = {
    coll: voicemails,
    title: t('voicemail.list_title'),
    testId: 'voicemail-list',
    permRow: 'voicemail',
    deletePerm: 'voicemail.bulk_delete',
    noCreate: true,
    noOpen: true,
    emptyText: t('voicemail.none'),
    filters: [
      { name: 'from', label: t('call.from'), type: 'date' },
      { name: 'to', label: t('call.to'), type: 'date' },
      { name: 'party', label: t('voicemail.party') },
      {
        name: 'voice_file_id',
        label: t('voicemail.voice_file'),
        allLabel: '--',
        options: files.map((f) => ({ value: f.id, label: f.name })),
      },
    ],
    toQuery: (c) => ({ ...c, from: localDayMs(c.from), to: localDayMs(c.to, true) }),
    // VM-04: not which of our numbers was called; the call history has that.
    columns: [
      { label: t('voicemail.date'), render: (v) => <span className="nowrap">{formatDateTime(v.call_started_at)}</span> },
      { label: t('voicemail.party'), render: (v) => v.caller },
      { label: t('voicemail.seconds'), render: (v) => Math.round(v.duration_ms / 1000) },
      { label: t('voicemail.play'), render: (v) => <PlayCell vm={v} /> },
      { label: t('voicemail.voice_file'), render: (v) => v.voice_file_name },
    ],
  };
  return <ListScreen config={config} />;
}
