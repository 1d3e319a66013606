import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { callChoices, calls } from '../../api/resources';
import type { CallFilterChoices, CallKind, CallRecord } from '../../api/types';
import { useAuth } from '../../auth';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { formatDateTime } from '../../format';

const KINDS: CallKind[] = ['outgoing', 'outgoing_unanswered', 'incoming', 'incoming_missed'];

/** `YYYY-MM-DD` of a date input → epoch ms of that local midnight; `nextDay` for an exclusive end. */
export function localDayMs(date: string | undefined, nextDay = false): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date ?? '');
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + (nextDay ? 1 : 0)).getTime();
}

/** HIST-03: the four type icons, each with a text label for screen readers. */
function KindIcon({ kind }: { kind: CallKind }) {
  const { t } = useTranslation();
  const label = t(`call.kind_${kind}`);
  const outgoing = kind.startsWith('outgoing');
  const missed = kind === 'incoming_missed' || kind === 'outgoing_unanswered';
  return (
    <span className={`call-kind ${missed ? 'missed' : ''}`} title={label} data-kind={kind}>
      <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
        <path
          fill="currentColor"
          d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2c.3-.3.7-.4 1-.2 1.1.4 2.3.6 3.6.6.6 0 1 .4 1 1V20c0 .6-.4 1-1 1A17 17 0 0 1 3 4c0-.6.4-1 1-1h3.5c.6 0 1 .4 1 1 0 1.3.2 2.5.6 3.6.1.3 0 .7-.2 1z"
        />
        <path
          fill="none"
          stroke="currentColor"
          strokeWidth="2"
          d={outgoing ? 'M14 10l6-6m-4 0h4v4' : 'M20 4l-6 6m0-4v4h4'}
        />
        {missed && <path stroke="currentColor" strokeWidth="2" d="M3 21L21 3" />}
      </svg>
      <span className="sr-only">{label}</span>
    </span>
  );
}

/** HIST-04: play (inline, seekable) and download the call's recording. */
function RecordingCell({ call }: { call: CallRecord }) {
  const { t } = useTranslation();
  const [playing, setPlaying] = useState(false);
  const rec = call.recording;
  if (!rec) return null;
  if (rec.purged) return <span className="muted">{t('call.recording_purged')}</span>;
  if (rec.state === 'recording') return <span className="muted">{t('call.in_progress')}</span>;
  const url = `/api/v1/calls/${call.id}/recording`;
  return (
    <span className="recording-cell" data-testid={`recording-${call.id}`}>
      <button type="button" className="small" onClick={() => setPlaying((p) => !p)} aria-pressed={playing}>
        {playing ? t('call.stop') : t('call.play')}
      </button>{' '}
      <a href={`${url}?download=true`} download={`call-${call.id}.wav`}>
        {t('call.download')}
      </a>
      {rec.state === 'incomplete' && <span className="warn"> {t('call.recording_incomplete')}</span>}
      {rec.paused_ms > 0 && (
        <span className="muted"> {t('call.recording_paused', { secs: Math.round(rec.paused_ms / 1000) })}</span>
      )}
      {playing && <audio controls autoPlay src={url} onEnded={() => setPlaying(false)} />}
    </span>
  );
}

/** HIST-01/02: call history search and list, newest first. */
export function CallHistoryList() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [choices, setChoices] = useState<CallFilterChoices>({ agents: [], groups: [] });
  useEffect(() => {
    let live = true;
    callChoices()
      .then((c) => live && setChoices(c))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  // Users without the SV tab see only their own calls: no agent choice to make.
  const seesAll = can('tab.sv');
  const config: ListConfig<CallRecord> = {
    coll: calls,
    title: t('call.list_title'),
    testId: 'call-list',
    permRow: 'history',
    noCreate: true,
    noOpen: true,
    noDelete: true,
    emptyText: t('call.no_calls'),
    filters: [
      { name: 'from', label: t('call.from'), type: 'date' },
      { name: 'to', label: t('call.to'), type: 'date' },
      { name: 'party', label: t('call.party') },
      { name: 'number', label: t('call.number') },
      { name: 'kind', label: t('call.kind'), allLabel: '--', options: KINDS.map((k) => ({ value: k, label: t(`call.kind_${k}`) })) },
      ...(seesAll
        ? [{ name: 'agent_id', label: t('call.agent'), allLabel: '--', options: choices.agents.map((a) => ({ value: a.id, label: a.name })) }]
        : []),
      { name: 'min_duration', label: t('call.duration'), type: 'number' as const, suffix: t('call.at_least') },
      { name: 'group_id', label: t('call.group'), allLabel: '--', options: choices.groups.map((g) => ({ value: g.id, label: g.name })) },
    ],
    toQuery: (c) => ({
      ...c,
      from: localDayMs(c.from),
      to: localDayMs(c.to, true),
      min_duration: c.min_duration?.trim() || undefined,
    }),
    columns: [
      { label: t('call.date'), render: (c) => <span className="nowrap">{formatDateTime(c.started_at)}</span> },
      { label: t('call.party'), render: (c) => c.remote_party },
      { label: t('call.kind'), render: (c) => <KindIcon kind={c.kind} /> },
      { label: t('call.number'), render: (c) => c.number ?? '' },
      {
        label: t('call.duration'),
        render: (c) => (c.in_progress ? <span className="muted">{t('call.in_progress')}</span> : `${c.duration_secs}s`),
      },
      {
        label: t('call.handled_by'),
        render: (c) =>
          c.forwarded_to ? (
            <span data-testid="call-forwarded">
              {c.group_name ? `${c.group_name} → ` : ''}
              {t('call.forwarded', { to: c.forwarded_to, from: c.forwarded_from ?? '' })}
            </span>
          ) : c.voicemail_id ? (
            <span className="voicemail-marker" data-testid="call-voicemail" title={t('voicemail.marker')}>
              <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                <circle cx="6.5" cy="12" r="4" fill="none" stroke="currentColor" strokeWidth="2" />
                <circle cx="17.5" cy="12" r="4" fill="none" stroke="currentColor" strokeWidth="2" />
                <path d="M6.5 16h11" stroke="currentColor" strokeWidth="2" />
              </svg>
              <span className="sr-only">{t('voicemail.marker')}</span>
            </span>
          ) : (
            c.agent_name ?? c.group_name ?? ''
          ),
      },
      ...(can('history.voice') ? [{ label: t('call.recording'), render: (c: CallRecord) => <RecordingCell call={c} /> }] : []),
    ],
  };
  return <ListScreen config={config} />;
}
