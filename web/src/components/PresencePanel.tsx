// Presence (PRES-01…03) in the right application panel: a group selector (one's own groups, or
// every group for supervisors), the group's agents as `extension(nickname)` with their status
// kept current by the WebSocket, and on a click the list of actions for that agent: Call
// (PRES-05, on the browser phone), Callback (PRES-06, the server rings the user's own desk
// phone first). Actions that cannot be used now are shown disabled with the reason, never as
// dead buttons.

import { useCallback, useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { presence } from '../api/resources';
import { dialOnPhone, usePhoneCanDial } from '../phoneControl';
import type { LiveStatus, PresenceAgent, PresenceGroup } from '../api/types';
import { useAuth } from '../auth';
import { useDirectory, useLiveMessages } from '../live';
import { StatusIcon, useStatusLabel } from '../status';

function groupKey(userId: number) {
  return `tsunagu.presence.group.${userId}`;
}

/** `223(System02)`: the extension and the nickname (the name when no nickname is set). */
export function presenceName(a: Pick<PresenceAgent, 'extension' | 'nickname' | 'name'>): string {
  const nick = a.nickname || a.name;
  return a.extension ? `${a.extension}(${nick})` : nick;
}

interface Action {
  key: 'chat' | 'call' | 'callback' | 'transfer' | 'hold_transfer' | 'monitor' | 'whisper';
  /** Shown only with this permission (PRES-09: monitoring and whispering are not for agents). */
  perm?: string;
}
const ACTIONS: Action[] = [
  { key: 'chat' },
  { key: 'call' },
  { key: 'callback' },
  { key: 'transfer' },
  { key: 'hold_transfer' },
  { key: 'monitor', perm: 'call.monitor' },
  { key: 'whisper', perm: 'call.whisper' },
];

export function PresencePanel() {
  const { t } = useTranslation();
  const { me } = useAuth();
  const userId = me!.user.id;
  const dir = useDirectory();
  const label = useStatusLabel(dir.statuses);
  const [groups, setGroups] = useState<PresenceGroup[] | null>(null);
  const [group, setGroup] = useState<number | null>(() => {
    const v = Number(localStorage.getItem(groupKey(userId)));
    return Number.isInteger(v) && v > 0 ? v : null;
  });
  const [agents, setAgents] = useState<PresenceAgent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const seq = useRef(0);
  const selectId = useId();

  const loadGroups = useCallback(() => {
    presence
      .groups()
      .then((r) => {
        setGroups(r.items);
        // Keep the stored choice while it is still offered; else the first own group.
        setGroup((g) =>
          g !== null && r.items.some((x) => x.id === g) ? g : (r.items.find((x) => x.member) ?? r.items[0])?.id ?? null,
        );
      })
      .catch((e) => {
        setGroups([]);
        setError(e instanceof ApiError ? e.message : String(e));
      });
  }, []);

  const loadAgents = useCallback(() => {
    if (group === null) {
      setAgents(null);
      return;
    }
    const mine = ++seq.current;
    presence
      .agents(group)
      .then((r) => {
        if (mine !== seq.current) return;
        setAgents(r.items);
        setError(null);
      })
      .catch((e) => {
        if (mine !== seq.current) return;
        setAgents([]);
        setError(e instanceof ApiError ? e.message : String(e));
      });
  }, [group]);

  useEffect(loadGroups, [loadGroups]);
  // Only once the groups are known: a stored choice may no longer be offered.
  const ready = groups !== null;
  useEffect(() => {
    if (ready) loadAgents();
  }, [ready, loadAgents]);

  useLiveMessages((m) => {
    if (m.type === 'resync') {
      loadGroups();
      loadAgents();
    } else if (m.type === 'agent_status' && group !== null) {
      const s = m.statuses.find((x) => x.group === group)?.status;
      if (!s) return;
      setAgents((list) => list?.map((a) => (a.id === m.agent ? { ...a, status: s } : a)) ?? list);
    }
  });

  const choose = (g: number) => {
    setGroup(g);
    setOpen(null);
    try {
      localStorage.setItem(groupKey(userId), String(g));
    } catch {
      /* storage disabled: the choice lasts for this visit */
    }
  };

  return (
    <section className="presence" data-testid="presence" aria-label={t('presence.title')}>
      <h3 className="panel-title">{t('presence.title')}</h3>
      {groups !== null && groups.length === 0 ? (
        <p className="muted" data-testid="presence-no-groups">
          {t('presence.no_groups')}
        </p>
      ) : (
        <div className="presence-group">
          <label htmlFor={selectId}>{t('presence.group')}</label>
          <select
            id={selectId}
            data-testid="presence-group"
            value={group ?? ''}
            onChange={(e) => choose(Number(e.target.value))}
          >
            {(groups ?? []).map((g) => (
              <option key={g.id} value={g.id}>
                {g.extension ? `${g.name} (${g.extension})` : g.name}
              </option>
            ))}
          </select>
        </div>
      )}
      {error && (
        <p className="field-error" role="alert">
          {t('presence.load_error', { msg: error })}
        </p>
      )}
      {agents !== null && agents.length === 0 && !error && <p className="muted">{t('presence.no_agents')}</p>}
      <ul className="presence-list" data-testid="presence-agents">
        {(agents ?? []).map((a) => (
          <AgentRow
            key={a.id}
            agent={a}
            isMe={a.id === userId}
            statusLabel={a.status ? label(a.status) : t('presence.unknown')}
            open={open === a.id}
            onToggle={() => setOpen(open === a.id ? null : a.id)}
            onClose={() => setOpen(null)}
          />
        ))}
      </ul>
    </section>
  );
}

const UNKNOWN: LiveStatus = { status: 'offline' };

function AgentRow({
  agent,
  isMe,
  statusLabel,
  open,
  onToggle,
  onClose,
}: {
  agent: PresenceAgent;
  isMe: boolean;
  statusLabel: string;
  open: boolean;
  onToggle: () => void;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const menuId = useId();
  const reasonId = useId();
  const button = useRef<HTMLButtonElement>(null);
  const name = presenceName(agent);
  const status = agent.status ?? UNKNOWN;
  const canDial = usePhoneCanDial();
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);

  /** Why an action cannot be used now; null when it can. */
  const unavailable = (key: Action['key']): string | null => {
    if (key !== 'call' && key !== 'callback') return t('presence.later');
    if (isMe) return t('presence.not_yourself');
    if (!agent.extension) return t('presence.no_extension');
    if (key === 'call' && !canDial) return t('presence.phone_off');
    return null;
  };

  const run = async (key: Action['key']) => {
    setResult(null);
    if (key === 'call') {
      if (agent.extension && dialOnPhone(agent.extension)) onClose();
      return;
    }
    try {
      await presence.callback(agent.id);
      setResult({ ok: true, text: t('presence.callback_ringing') });
    } catch (e) {
      setResult({ ok: false, text: e instanceof ApiError ? e.message : String(e) });
    }
  };

  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && open) {
      e.preventDefault();
      onClose();
      button.current?.focus();
    }
  };

  return (
    <li
      className={`presence-agent${open ? ' open' : ''}`}
      data-testid={`presence-agent-${agent.id}`}
      data-status={agent.status?.status ?? 'unknown'}
      onKeyDown={onKey}
    >
      <button
        ref={button}
        type="button"
        className="presence-name"
        aria-expanded={open}
        aria-controls={menuId}
        title={t('presence.actions_for', { name })}
        onClick={onToggle}
      >
        <StatusIcon status={status} />
        <span className="presence-label">
          {name}
          {isMe && <span className="muted"> {t('presence.you')}</span>}
        </span>
        <span className={`presence-status st-${status.status}`} data-testid="presence-status">
          {statusLabel}
        </span>
      </button>
      {open && (
        <ul className="presence-actions" id={menuId} aria-label={t('presence.actions_for', { name })} data-testid="presence-actions">
          {ACTIONS.filter((x) => !x.perm || can(x.perm)).map((x) => {
            const why = unavailable(x.key);
            const later = why === t('presence.later');
            return (
              <li key={x.key}>
                {/* aria-disabled keeps the reason reachable by keyboard and shown on hover. */}
                <button
                  type="button"
                  aria-disabled={why ? 'true' : undefined}
                  aria-describedby={why ? (later ? reasonId : `${reasonId}-${x.key}`) : undefined}
                  className="presence-action"
                  data-action={x.key}
                  title={why ?? undefined}
                  onClick={(e) => {
                    e.preventDefault();
                    if (!why) void run(x.key);
                  }}
                >
                  {t(`presence.${x.key}`)}
                </button>
                {why && !later && (
                  <span id={`${reasonId}-${x.key}`} className="sr-only">
                    {why}
                  </span>
                )}
              </li>
            );
          })}
          <li className="muted presence-reason" id={reasonId}>
            {t('presence.later')}
          </li>
          {result && (
            <li className={result.ok ? 'presence-result' : 'field-error'} role="status" data-testid="presence-result">
              {result.text}
            </li>
          )}
        </ul>
      )}
    </li>
  );
}
