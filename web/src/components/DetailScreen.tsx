import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { useTranslation } from 'react-i18next';
import { ApiError, type Collection } from '../api/client';
import type { Audit, HistoryEntry } from '../api/types';
import { useAuth } from '../auth';
import { formatDateTime } from '../format';
import { ConfirmDialog } from './ConfirmDialog';
import { FormContext, type Values } from './form';
import { HistoryTable, type ValueFormatter } from './HistoryTable';

export interface DetailConfig<T extends { id: number | string }, I extends object = Partial<T>> {
  coll: Collection<T, I>;
  title: string;
  testId: string;
  permRow: string;
  /** values of a new record */
  defaults: Values;
  /** fields this form edits (sent on create; sent when changed on update) */
  fields: string[];
  /** write-only secrets: sent only when non-empty */
  writeOnly?: string[];
  /** fields sent on create only (read-only afterwards) */
  createOnly?: string[];
  canDelete?: (item: T) => boolean;
  /** client-side checks before saving: field -> message */
  validate?: (values: Values, isNew: boolean) => Record<string, string>;
  /** human label of a field (change history) */
  labelFor: (field: string) => string;
  /** human text of a value in the change history (ids → names); see `ValueFormatter` */
  formatValue?: ValueFormatter;
  render: (ctx: { isNew: boolean; item: T | null; values: Values }) => ReactNode;
  /**
   * Replaces the JSON create/update (e.g. a multipart upload): gets the payload the screen
   * would send and all values, returns the saved record.
   */
  save?: (ctx: { isNew: boolean; id: string; body: Values; values: Values }) => Promise<T>;
  /** text shown under the delete button when deletion is not possible */
  deleteNote?: (item: T) => ReactNode;
  noDelete?: boolean;
  /** permission of the delete button (default `<permRow>.delete`) */
  deletePerm?: string;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** UI-12 standard detail screen. `id` is "new" for a new record. */
export function DetailScreen<T extends { id: number | string } & Partial<Audit>, I extends object = Partial<T>>({
  config,
  id,
}: {
  config: DetailConfig<T, I>;
  id: string;
}) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const isNew = id === 'new';
  const [item, setItem] = useState<T | null>(null);
  const [values, setValues] = useState<Values>(() => (isNew ? { ...config.defaults } : {}));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [topErrors, setTopErrors] = useState<string[]>([]);
  const [saved, setSaved] = useState<boolean>(!!(location.state as { saved?: boolean } | null)?.saved);
  const [loading, setLoading] = useState(!isNew);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [history, setHistory] = useState<HistoryEntry[] | null>(null);
  const [saving, setSaving] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const rendered = useRef(new Set<string>()).current;
  rendered.clear();

  /** Screen label of a field, else a shared one (`common.color_fg`, `common.password_set`…). */
  const labelFor = (f: string) => {
    const l = config.labelFor(f);
    return l !== f ? l : t(`common.${f}`, { defaultValue: f });
  };

  const canUpdate = can(`${config.permRow}.update`);
  const canDel = !config.noDelete && can(config.deletePerm ?? `${config.permRow}.delete`) && !isNew && !!item && (!config.canDelete || config.canDelete(item));

  const loadHistory = useCallback(async () => {
    if (isNew) return;
    try {
      const h = await config.coll.history(id);
      setHistory(h.items);
    } catch {
      setHistory(null);
    }
  }, [config.coll, id, isNew]);

  useEffect(() => {
    if (isNew) return;
    let live = true;
    (async () => {
      try {
        const it = await config.coll.get(id);
        if (!live) return;
        setItem(it);
        setValues(blankSecrets(it as Values, config.writeOnly));
      } catch (e) {
        if (live)
          setLoadError(
            e instanceof ApiError && e.status === 404 ? t('common.error_not_found') : e instanceof ApiError && e.message ? e.message : t('common.error_generic'),
          );
      } finally {
        if (live) setLoading(false);
      }
    })();
    void loadHistory();
    return () => {
      live = false;
    };
  // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [config.coll, id, isNew, loadHistory]);

  // Clear the "saved" navigation flag so a reload does not show it again.
  useEffect(() => {
    if ((location.state as { saved?: boolean } | null)?.saved) navigate(location.pathname, { replace: true, state: null });
  }, [location.pathname, location.state, navigate]);

  const set = useCallback((name: string, value: unknown) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => {
      if (!(name in e)) return e;
      const n = { ...e };
      delete n[name];
      return n;
    });
  }, []);

  const payload = (): Values => {
    const out: Values = {};
    for (const f of config.fields) {
      const v = values[f];
      if (config.writeOnly?.includes(f)) {
        if (v !== undefined && v !== null && v !== '') out[f] = v;
        continue;
      }
      if (isNew) {
        if (v !== undefined) out[f] = v;
      } else {
        if (config.createOnly?.includes(f)) continue;
        if (!same(v, (item as Values | null)?.[f])) out[f] = v;
      }
    }
    return out;
  };

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    setTopErrors([]);
    const local = config.validate?.(values, isNew) ?? {};
    if (Object.keys(local).length) {
      setErrors(local);
      return;
    }
    setErrors({});
    setSaving(true);
    try {
      if (isNew) {
        const created = config.save
          ? await config.save({ isNew, id, body: payload(), values })
          : await config.coll.create(payload() as I);
        navigate(`../${encodeURIComponent(String(created.id))}`, { relative: 'path', state: { saved: true } });
        return;
      }
      const body = payload();
      const updated = config.save
        ? await config.save({ isNew, id, body, values })
        : Object.keys(body).length
          ? await config.coll.update(id, body as I)
          : await config.coll.get(id);
      setItem(updated);
      setValues(blankSecrets(updated as Values, config.writeOnly));
      setSaved(true);
      void loadHistory();
    } catch (err) {
      if (err instanceof ApiError) {
        const by = err.byField();
        const fieldErrs: Record<string, string> = {};
        const top: string[] = [];
        for (const [k, msg] of Object.entries(by)) {
          if (k && rendered.has(k)) fieldErrs[k] = msg;
          else top.push(k ? `${labelFor(k)}: ${msg}` : msg);
        }
        if (!err.errors.length) top.push(err.status === 403 ? t('common.error_forbidden') : t('common.error_generic'));
        setErrors(fieldErrs);
        setTopErrors(top);
      } else {
        setTopErrors([t('common.error_generic')]);
      }
    } finally {
      setSaving(false);
    }
  };

  const onDelete = async () => {
    setSaving(true);
    try {
      await config.coll.remove(id);
      navigate('..', { relative: 'path' });
    } catch (err) {
      setConfirming(false);
      setTopErrors([err instanceof ApiError && err.message ? err.message : t('common.error_generic')]);
    } finally {
      setSaving(false);
    }
  };

  const ctx = useMemo(() => ({ values, set, errors, rendered, disabled: !canUpdate }), [values, set, errors, rendered, canUpdate]);

  if (loading) return <p className="muted">{t('common.loading')}</p>;
  if (loadError)
    return (
      <div>
        <Link to=".." relative="path" className="top-link">
          {t('common.top')}
        </Link>
        <div className="banner banner-error" role="alert">
          {loadError}
        </div>
      </div>
    );

  const audit = (at?: number | null, by?: string | null) => (at ? `${formatDateTime(at)}${by ? ` ${t('common.by')} ${by}` : ''}` : '—');

  return (
    <div className="detail-screen">
      <Link to=".." relative="path" className="top-link" data-testid="top-link">
        {t('common.top')}
      </Link>
      <h2>{config.title}</h2>
      {saved && (
        <div className="banner banner-ok" role="status" data-testid="saved-banner">
          {t('common.saved')}
        </div>
      )}
      {topErrors.length > 0 && (
        <div className="banner banner-error" role="alert" data-testid="form-error">
          {topErrors.map((m) => (
            <div key={m}>{m}</div>
          ))}
        </div>
      )}
      <FormContext.Provider value={ctx}>
        <form onSubmit={onSubmit} noValidate data-testid={config.testId} className="detail-form">
          <div className="form-row">
            <div className="form-label">
              <span>{t('common.id')}</span>
            </div>
            <div className="form-control">
              <span className="readonly" data-testid="record-id">
                {isNew ? t('common.new_id') : String(item?.id ?? id)}
              </span>
            </div>
          </div>
          {config.render({ isNew, item, values })}
          <div className="form-row audit">
            <div className="form-label">{t('common.created')}</div>
            <div className="form-control" data-testid="created-line">
              {isNew ? '—' : audit(item?.created_at, item?.created_by)}
            </div>
          </div>
          <div className="form-row audit">
            <div className="form-label">{t('common.updated')}</div>
            <div className="form-control" data-testid="updated-line">
              {isNew ? '—' : audit(item?.updated_at, item?.updated_by)}
            </div>
          </div>
          <div className="form-buttons">
            {canUpdate && (
              <button type="submit" className="btn btn-primary" disabled={saving}>
                {t('common.save')}
              </button>
            )}
            {canDel && (
              <button type="button" className="btn btn-danger" onClick={() => setConfirming(true)} disabled={saving}>
                {t('common.delete')}
              </button>
            )}
            {!isNew && item && config.deleteNote && <span className="muted">{config.deleteNote(item)}</span>}
          </div>
        </form>
      </FormContext.Provider>
      {!isNew && <HistoryTable entries={history} labelFor={labelFor} formatValue={config.formatValue} />}
      <ConfirmDialog open={confirming} busy={saving} message={t('common.confirm_delete')} onCancel={() => setConfirming(false)} onConfirm={() => void onDelete()} />
    </div>
  );
}

function blankSecrets(v: Values, writeOnly?: string[]): Values {
  const out = { ...v };
  for (const f of writeOnly ?? []) out[f] = '';
  return out;
}
