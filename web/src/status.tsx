// Agent statuses on screen (STATUS-02/03): icons, labels, the "most important" rule and the
// ▼ dropdown of choices used by the header tags and the realtime agent list.

import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { AgentStateInput, LiveStatus } from './api/types';
import type { StatusInfo } from './live';

export type StatusKind = LiveStatus['status'];

export const STATUS_ICONS: Record<StatusKind, string> = {
  offline: '⊖',
  available: '✔',
  on_call: '☎',
  ringing: '🔔',
  on_hold: '📞',
  paused: '⏸',
};

export const STATUS_COLORS: Record<StatusKind, string> = {
  offline: '#9aa3ad',
  available: '#2e9d4f',
  on_call: '#1f6fd1',
  ringing: '#f0a020',
  on_hold: '#7a5cc7',
  paused: '#c8362f',
};

/** On call / ringing / hold > available > paused > offline (the white tag shows the top one). */
const RANK: Record<StatusKind, number> = { on_call: 5, on_hold: 4, ringing: 3, available: 2, paused: 1, offline: 0 };

export function mostImportant(list: LiveStatus[]): LiveStatus {
  let best: LiveStatus = { status: 'offline' };
  for (const s of list) if (RANK[s.status] > RANK[best.status]) best = s;
  return best;
}

/** A stable key of a status (for pie slices and test ids). */
export function statusKey(s: LiveStatus): string {
  if (s.status !== 'paused') return s.status;
  const p = s.pause;
  return p.kind === 'custom' || p.kind === 'acw' ? `paused:${p.kind}:${p.status_id}` : `paused:${p.kind}`;
}

/** The label of a status: 停止 sub-kinds by their agent-status name when it is known. */
export function useStatusLabel(statuses: StatusInfo[] | null) {
  const { t } = useTranslation();
  return (s: LiveStatus): string => {
    if (s.status !== 'paused') return t(`status.${s.status}`);
    const p = s.pause;
    if (p.kind === 'manual') return t('status.paused');
    if (p.kind === 'no_answer') return t('status.no_answer');
    const name = statuses?.find((x) => x.id === p.status_id)?.name;
    return name ?? t('status.paused_id', { id: p.status_id });
  };
}

/** Inline SVG icons (emoji fonts are not everywhere); the emoji stays as the text alternative. */
const PATHS: Record<StatusKind, ReactNode> = {
  offline: (
    <>
      <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" strokeWidth="1.5" />
      <path d="M4.5 8h7" stroke="currentColor" strokeWidth="1.8" />
    </>
  ),
  available: <path d="M2.5 8.5l3.5 3.5 7.5-8" fill="none" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" strokeLinejoin="round" />,
  on_call: (
    <path
      d="M4.2 1.5l2 2.6c.3.4.3.9 0 1.3L5.1 6.7c.8 1.6 2.1 2.9 3.7 3.7l1.3-1.1c.4-.3.9-.3 1.3 0l2.6 2c.4.3.5.9.1 1.3l-1.2 1.4c-.5.5-1.2.7-1.9.5C6.7 13.3 2.7 9.3 1.5 5c-.2-.7 0-1.4.5-1.9L3 1.4c.4-.4.9-.3 1.2.1z"
      fill="currentColor"
    />
  ),
  ringing: (
    <path
      d="M8 1.5c-2.3 0-4 1.8-4 4.1v3L2.5 11v1h11v-1L12 8.6v-3c0-2.3-1.7-4.1-4-4.1zM6.5 13a1.5 1.5 0 003 0z"
      fill="currentColor"
    />
  ),
  on_hold: (
    <>
      <path
        d="M3.2 3l1.5 2c.2.3.2.7 0 1l-.8.8c.6 1.2 1.6 2.2 2.8 2.8l.8-.8c.3-.3.7-.3 1 0l2 1.5c.3.2.3.7.1 1l-.9 1c-.4.4-.9.5-1.4.4C5.1 10.9 2.1 7.9 1.2 4.7c-.1-.5 0-1 .4-1.4l.8-.8c.3-.3.6-.2.8.1z"
        fill="currentColor"
      />
      <path d="M11 1.5v5M14 1.5v5" stroke="currentColor" strokeWidth="1.8" />
    </>
  ),
  paused: (
    <>
      <rect x="3.5" y="2.5" width="3" height="11" rx="0.8" fill="currentColor" />
      <rect x="9.5" y="2.5" width="3" height="11" rx="0.8" fill="currentColor" />
    </>
  ),
};

export function StatusGlyph({ kind }: { kind: StatusKind }) {
  return (
    <svg className="glyph" viewBox="0 0 16 16" width="1em" height="1em" aria-hidden="true" focusable="false">
      {PATHS[kind]}
    </svg>
  );
}

export function StatusIcon({ status, title }: { status: LiveStatus; title?: string }) {
  return (
    <span
      className={`status-icon st-${status.status}`}
      aria-hidden={title ? undefined : true}
      title={title}
      data-icon={STATUS_ICONS[status.status]}
    >
      <StatusGlyph kind={status.status} />
    </span>
  );
}

export function FolderIcon({ open }: { open?: boolean }) {
  return (
    <svg className="glyph" viewBox="0 0 16 16" width="1em" height="1em" aria-hidden="true" focusable="false">
      {open ? (
        <path d="M1 3.5h5l1.5 1.5H13v2H4L1.5 13H1zM4.5 8H15l-2.5 5.5H2z" fill="#d9a21b" />
      ) : (
        <path d="M1 3h5l1.5 1.5H15V13H1z" fill="#e2b23a" stroke="#b98a17" strokeWidth="0.8" />
      )}
    </svg>
  );
}

/** What a menu choice sends to PUT /agents/{id}/state (the caller adds `group`). */
export type StatusChoice = Omit<AgentStateInput, 'group'>;

/**
 * A button that opens the list of status choices: 待機, 停止 and each custom status
 * (STATUS-03/04, RT-10). Closes on a choice, Escape or a click elsewhere.
 */
export function StatusMenu({
  statuses,
  onChoose,
  children,
  label,
  disabled,
  className,
  testId,
}: {
  statuses: StatusInfo[] | null;
  onChoose: (c: StatusChoice) => void;
  children: ReactNode;
  label: string;
  disabled?: boolean;
  className?: string;
  testId?: string;
}) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDoc = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', onDoc);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onDoc);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);
  const choose = (c: StatusChoice) => {
    setOpen(false);
    onChoose(c);
  };
  return (
    <span className="status-menu" ref={ref}>
      <button
        type="button"
        className={className}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={label}
        title={label}
        disabled={disabled}
        data-testid={testId}
        onClick={() => setOpen(!open)}
      >
        {children}
      </button>
      {open && (
        <ul className="status-menu-list" role="menu" data-testid={testId ? `${testId}-menu` : undefined}>
          <li role="none">
            <button type="button" role="menuitem" data-choice="available" onClick={() => choose({ state: 'available' })}>
              <span className="status-icon st-available">
                <StatusGlyph kind="available" />
              </span> {t('status.available')}
            </button>
          </li>
          <li role="none">
            <button type="button" role="menuitem" data-choice="paused" onClick={() => choose({ state: 'paused' })}>
              <span className="status-icon st-paused">
                <StatusGlyph kind="paused" />
              </span> {t('status.paused')}
            </button>
          </li>
          {(statuses ?? []).map((s) => (
            <li role="none" key={s.id}>
              <button
                type="button"
                role="menuitem"
                data-choice={`status-${s.id}`}
                onClick={() => choose({ state: 'paused', status_id: s.id })}
              >
                <span className="chip" style={{ background: s.color_bg, color: s.color_fg }}>
                  {s.name}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </span>
  );
}
