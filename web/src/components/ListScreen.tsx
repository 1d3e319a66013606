import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { ApiError, type AnyCollection } from '../api/client';
import { useAuth } from '../auth';
import { ConfirmDialog } from './ConfirmDialog';
import type { Option } from './form';

export interface FilterDef {
  name: string;
  label: string;
  options?: Option[]; // select instead of text
  /** label of the "no filter" choice of a select (default "—") */
  allLabel?: string;
  /** input type of a non-select filter (default text) */
  type?: 'text' | 'date' | 'number';
  /** text after the input, e.g. "seconds or more" */
  suffix?: string;
}
export interface ColumnDef<T> {
  label: string;
  render: (item: T) => ReactNode;
}

export interface ListConfig<T extends { id: number | string }> {
  coll: AnyCollection<T>;
  title: string;
  testId: string;
  /** permission row, e.g. "agent": update → New, delete → bulk delete */
  permRow: string;
  filters: FilterDef[];
  columns: ColumnDef<T>[];
  /** hide New even with the update permission */
  noCreate?: boolean;
  /** rows that cannot be deleted (built-in roles) */
  canDelete?: (item: T) => boolean;
  pageSize?: number;
  /** permission of the bulk delete (default `<permRow>.delete`) */
  deletePerm?: string;
  /** no bulk delete whatever the permissions */
  noDelete?: boolean;
  /** no detail screen: no folder icon column */
  noOpen?: boolean;
  /** turns the search form's values into query parameters (dates → epoch ms …) */
  toQuery?: (criteria: Record<string, string>) => Record<string, string | number | undefined>;
  /** text of an empty result (default "No matching records.") */
  emptyText?: string;
  /** extra buttons beside Search/New; `reload` refreshes the list */
  actions?: (reload: () => void) => ReactNode;
}

/** UI-11 standard list + UI-13 bulk delete. */
export function ListScreen<T extends { id: number | string }>({ config }: { config: ListConfig<T> }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const limit = config.pageSize ?? 50;
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [criteria, setCriteria] = useState<Record<string, string>>({});
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<{ items: T[]; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [failures, setFailures] = useState<string[]>([]);

  const canCreate = can(`${config.permRow}.update`) && !config.noCreate;
  const canBulkDelete = !config.noDelete && can(config.deletePerm ?? `${config.permRow}.delete`);
  // The mapping is a new function on every render; read it through a ref so that it does not
  // trigger a reload by itself.
  const toQueryRef = useRef(config.toQuery);
  toQueryRef.current = config.toQuery;

  const load = useCallback(async () => {
    setError(null);
    try {
      const res = await config.coll.list({ ...(toQueryRef.current ? toQueryRef.current(criteria) : criteria), offset, limit });
      setData(res);
      setSelected(new Set());
    } catch (e) {
      setData({ items: [], total: 0 });
      setError(e instanceof ApiError && e.message ? e.message : t('common.error_generic'));
    }
  }, [config.coll, criteria, offset, limit, t]);

  useEffect(() => {
    void load();
  }, [load]);

  const onSearch = (e: FormEvent) => {
    e.preventDefault();
    setNotice(null);
    setFailures([]);
    setOffset(0);
    setCriteria({ ...draft });
  };

  const deletable = (data?.items ?? []).filter((i) => !config.canDelete || config.canDelete(i));
  const allSelected = deletable.length > 0 && deletable.every((i) => selected.has(String(i.id)));

  const runBulkDelete = async () => {
    setBusy(true);
    const fails: string[] = [];
    let ok = 0;
    for (const id of selected) {
      try {
        await config.coll.remove(id);
        ok++;
      } catch (e) {
        fails.push(`${id}: ${e instanceof ApiError && e.message ? e.message : t('common.error_generic')}`);
      }
    }
    setBusy(false);
    setConfirming(false);
    setNotice(ok ? t('common.bulk_done', { count: ok }) : null);
    setFailures(fails);
    await load();
  };

  const total = data?.total ?? 0;
  const count = data?.items.length ?? 0;
  const from = count ? offset + 1 : 0;
  const to = offset + count;

  return (
    <div className="list-screen" data-testid={config.testId}>
      <h2>{config.title}</h2>
      <form className="criteria" onSubmit={onSearch} role="search" data-testid={`${config.testId}-search`}>
        {config.filters.map((f) => {
          const id = `q-${f.name}`;
          return (
            <span className="criterion" key={f.name}>
              <label htmlFor={id}>{f.label}</label>
              {f.options ? (
                <select id={id} name={f.name} value={draft[f.name] ?? ''} onChange={(e) => setDraft({ ...draft, [f.name]: e.target.value })}>
                  <option value="">{f.allLabel ?? '—'}</option>
                  {f.options.map((o) => (
                    <option key={String(o.value)} value={String(o.value ?? '')}>
                      {o.label}
                    </option>
                  ))}
                </select>
              ) : (
                <span className="nowrap">
                  <input
                    id={id}
                    name={f.name}
                    type={f.type ?? 'text'}
                    min={f.type === 'number' ? 0 : undefined}
                    className={f.type === 'number' ? 'narrow' : undefined}
                    value={draft[f.name] ?? ''}
                    onChange={(e) => setDraft({ ...draft, [f.name]: e.target.value })}
                  />
                  {f.suffix && <span className="suffix"> {f.suffix}</span>}
                </span>
              )}
            </span>
          );
        })}
        <button type="submit" className="btn btn-primary">
          {t('common.search')}
        </button>
        {canCreate && (
          <Link to="new" className="btn btn-new" data-testid="new-button">
            {t('common.new')}
          </Link>
        )}
        {config.actions?.(() => void load())}
      </form>

      {notice && (
        <div className="banner banner-ok" role="status">
          {notice}
        </div>
      )}
      {failures.length > 0 && (
        <div className="banner banner-error" role="alert">
          {t('common.bulk_partial')}
          <ul>
            {failures.map((f) => (
              <li key={f}>{f}</li>
            ))}
          </ul>
        </div>
      )}
      {error && (
        <div className="banner banner-error" role="alert">
          {error}
        </div>
      )}

      <div className="list-toolbar">
        {canBulkDelete && (
          <button type="button" className="btn btn-danger" disabled={selected.size === 0} onClick={() => setConfirming(true)}>
            {t('common.bulk_delete')}
          </button>
        )}
        <span className="paging">
          <button type="button" className="btn btn-small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - limit))} aria-label={t('common.prev')}>
            ‹
          </button>
          <span className="paging-label" data-testid="paging-label">
            {t('common.paging', { from, to, total })}
          </span>
          <button type="button" className="btn btn-small" disabled={to >= total} onClick={() => setOffset(offset + limit)} aria-label={t('common.next')}>
            ›
          </button>
        </span>
      </div>

      {data === null ? (
        <p className="muted">{t('common.loading')}</p>
      ) : (
        <table className="data" data-testid={`${config.testId}-table`}>
          <thead>
            <tr>
              {canBulkDelete && (
                <th scope="col" className="cb">
                  <label className="inline">
                    <input
                      type="checkbox"
                      checked={allSelected}
                      disabled={deletable.length === 0}
                      onChange={(e) => setSelected(e.target.checked ? new Set(deletable.map((i) => String(i.id))) : new Set())}
                    />
                    <span>{t('common.select_all')}</span>
                  </label>
                </th>
              )}
              {!config.noOpen && (
                <th scope="col" className="icon">
                  <span className="sr-only">{t('common.open')}</span>
                </th>
              )}
              {config.columns.map((c) => (
                <th scope="col" key={c.label}>
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {data.items.length === 0 && (
              <tr>
                <td colSpan={config.columns.length + 2} className="muted" data-testid="empty-list">
                  {config.emptyText ?? t('common.no_records')}
                </td>
              </tr>
            )}
            {data.items.map((item) => {
              const id = String(item.id);
              const del = !config.canDelete || config.canDelete(item);
              return (
                <tr key={id} data-id={id}>
                  {canBulkDelete && (
                    <td className="cb">
                      {del && (
                        <input
                          type="checkbox"
                          aria-label={`${t('common.select_row')} ${id}`}
                          checked={selected.has(id)}
                          onChange={(e) => {
                            const s = new Set(selected);
                            if (e.target.checked) s.add(id);
                            else s.delete(id);
                            setSelected(s);
                          }}
                        />
                      )}
                    </td>
                  )}
                  {!config.noOpen && (
                  <td className="icon">
                    <Link to={encodeURIComponent(id)} aria-label={`${t('common.open')} ${id}`} title={t('common.open')} className="folder">
                      <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                        <path fill="currentColor" d="M10 4H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2h-8z" />
                      </svg>
                    </Link>
                  </td>
                  )}
                  {config.columns.map((c) => (
                    <td key={c.label}>{c.render(item)}</td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <ConfirmDialog
        open={confirming}
        busy={busy}
        message={t('common.bulk_confirm', { count: selected.size })}
        onCancel={() => setConfirming(false)}
        onConfirm={() => void runBulkDelete()}
      />
    </div>
  );
}
