// UI-01 ① and ⑥, STATUS-01…07: the logged-in user's status at the top left, the white
// "all groups" tag, one tag per group, and "return all to Available". Kept current by the
// WebSocket (agent_status messages), never polled.

import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { agentState } from '../api/resources';
import type { GroupLiveStatus } from '../api/types';
import { useAuth } from '../auth';
import { useDirectory, useLiveMessages } from '../live';
import { mostImportant, StatusIcon, StatusMenu, useStatusLabel, type StatusChoice } from '../status';
import { RecordingToggle } from './RecordingToggle';

/** A colour for a group whose colour the user may not read. */
const FALLBACK_COLORS = ['#2e86de', '#16a085', '#8e44ad', '#d35400', '#2c3e50', '#c0392b'];

export function HeaderStatus() {
  const { t } = useTranslation();
  const { me, can } = useAuth();
  const dir = useDirectory();
  const label = useStatusLabel(dir.statuses);
  const myId = me!.user.id;
  const [groups, setGroups] = useState<GroupLiveStatus[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    agentState
      .get(myId)
      .then((s) => setGroups(s.groups))
      .catch(() => setGroups((g) => g ?? []));
  }, [myId]);

  useEffect(load, [load]);

  useLiveMessages((m) => {
    if (m.type === 'agent_status' && m.agent === myId) setGroups(m.statuses);
    else if (m.type === 'resync') load();
  });

  const set = (choice: StatusChoice, group?: number) => {
    setError(null);
    agentState
      .set(myId, group === undefined ? choice : { ...choice, group })
      .then((s) => setGroups(s.groups))
      .catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
  };

  const list = groups ?? [];
  const overall = mostImportant(list.map((g) => g.status));
  const mayAll = can('status.update');
  const mayGroup = can('status.group_update');

  return (
    <div className="status-area" data-testid="status-area" aria-label={t('status.area')}>
      <span
        className={`status-current st-${overall.status}`}
        data-testid="my-status"
        data-status={overall.status}
        aria-live="polite"
      >
        <StatusIcon status={overall} /> {groups === null ? '…' : label(overall)}
      </span>
      <RecordingToggle onCall={overall.status === 'on_call' || overall.status === 'on_hold'} />
      <span className="status-tag tag-all" data-testid="tag-all">
        <span className="tag-name">{t('status.all_groups')}</span>
        <StatusMenu
          statuses={dir.statuses}
          label={t('status.change_all')}
          disabled={!mayAll}
          className="tag-drop"
          testId="tag-all-drop"
          onChoose={(c) => set(c)}
        >
          ▼
        </StatusMenu>
      </span>
      {list.map((g, i) => {
        const info = dir.groups.get(g.group);
        const name = info?.name ?? `#${g.group}`;
        const bg = info?.color_bg ?? FALLBACK_COLORS[i % FALLBACK_COLORS.length];
        const fg = info?.color_fg ?? '#ffffff';
        return (
          <span
            key={g.group}
            className="status-tag"
            style={{ background: bg, color: fg, borderColor: bg }}
            data-testid={`tag-group-${g.group}`}
            data-status={g.status.status}
            title={`${name}: ${label(g.status)}`}
          >
            <StatusIcon status={g.status} />
            <span className="tag-name">{name}</span>
            <StatusMenu
              statuses={dir.statuses}
              label={t('status.change_group', { name })}
              disabled={!mayGroup}
              className="tag-drop"
              testId={`tag-group-${g.group}-drop`}
              onChoose={(c) => set(c, g.group)}
            >
              ▼
            </StatusMenu>
          </span>
        );
      })}
      <button
        type="button"
        className="all-available"
        data-testid="all-available"
        disabled={!mayAll}
        title={t('status.all_available')}
        aria-label={t('status.all_available')}
        onClick={() => set({ state: 'available' })}
      >
        ✔<span className="all-available-text">{t('status.all_available_short')}</span>
      </button>
      {error && (
        <span className="status-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
