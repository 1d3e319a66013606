import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import type { HistoryEntry } from '../api/types';
import { formatDateTime } from '../format';
import { useAuth } from '../auth';

/**
 * Screen-specific text for one value in the change history (an id → its name, …). Called for
 * scalars and objects only — arrays are split into their elements first. Return undefined to
 * fall back to the generic rendering.
 */
export type ValueFormatter = (field: string, value: unknown) => string | undefined;

const isTarget = (v: object): v is { kind: string; id: unknown } => 'kind' in v && 'id' in v;

/** Human text for a history value; never "undefined", "NaN" or raw JSON. */
function show(field: string, v: unknown, t: TFunction, custom?: ValueFormatter): string {
  if (v === null || v === undefined || v === '') return '—';
  if (Array.isArray(v)) return v.length ? v.map((x) => show(field, x, t, custom)).join(', ') : '—';
  const c = custom?.(field, v);
  if (c !== undefined) return c;
  if (typeof v === 'boolean') return v ? t('common.on') : t('common.off');
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return '—';
    return field.endsWith('_at') ? formatDateTime(v) : String(v);
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'object') {
    if (isTarget(v)) return `${t(`common.kind_${v.kind}`, { defaultValue: v.kind })}: ${show(field, v.id, t, custom)}`;
    return Object.entries(v)
      .map(([k, x]) => `${k}: ${show(k, x, t)}`)
      .join(', ');
  }
  return String(v);
}

const key = (x: unknown) => JSON.stringify(x);

/** "old → new"; for two lists only what was added and removed. */
function describe(field: string, pair: unknown, t: TFunction, custom?: ValueFormatter): string {
  const [before, after] = Array.isArray(pair) && pair.length === 2 ? pair : [undefined, pair];
  if (Array.isArray(before) && Array.isArray(after)) {
    const had = new Set(before.map(key));
    const has = new Set(after.map(key));
    const added = after.filter((x) => !had.has(key(x)));
    const removed = before.filter((x) => !has.has(key(x)));
    if (added.length || removed.length) {
      const parts: string[] = [];
      if (added.length) parts.push(`+ ${show(field, added, t, custom)}`);
      if (removed.length) parts.push(`− ${show(field, removed, t, custom)}`);
      return parts.join(' / ');
    }
  }
  return `${show(field, before, t, custom)} → ${show(field, after, t, custom)}`;
}

/** Change history at the bottom of a detail screen (AGENT-02). */
export function HistoryTable({
  entries,
  labelFor,
  formatValue,
}: {
  entries: HistoryEntry[] | null;
  labelFor: (field: string) => string;
  formatValue?: ValueFormatter;
}) {
  const { t } = useTranslation();
  const { me } = useAuth();
  if (!entries) return null;
  const order = me?.user.history_order ?? 'desc';
  const sorted = [...entries].sort((a, b) => (order === 'asc' ? a.at - b.at || a.id - b.id : b.at - a.at || b.id - a.id));
  return (
    <section className="history" aria-labelledby="history-h" data-testid="change-history">
      <h3 id="history-h">{t('common.history')}</h3>
      {sorted.length === 0 ? (
        <p className="muted">{t('common.no_records')}</p>
      ) : (
        <table className="data">
          <thead>
            <tr>
              <th scope="col">{t('common.history_at')}</th>
              <th scope="col">{t('common.history_actor')}</th>
              <th scope="col">{t('common.history_action')}</th>
              <th scope="col">{t('common.history_changes')}</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((h) => (
              <tr key={h.id}>
                <td className="nowrap">{formatDateTime(h.at)}</td>
                <td>{h.actor ?? '—'}</td>
                <td>{t(`common.action_${h.action}`, { defaultValue: h.action })}</td>
                <td>
                  <ul className="changes">
                    {Object.entries(h.changes ?? {})
                      .filter(([field]) => !(h.action === 'create' && field === 'id'))
                      .map(([field, pair]) => (
                        <li key={field} data-field={field}>
                          <strong>{labelFor(field)}</strong>: {describe(field, pair, t, formatValue)}
                        </li>
                      ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
