import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ApiError, qs } from '../../api/client';
import type { RecordingArchive, S3Link } from '../../api/types';
import { useAuth } from '../../auth';
import { formatDateTime } from '../../format';

/** `YYYY-MM-DD` of a date input → the API's `YYYYMMDD`. */
function dayParam(v: string): string | undefined {
  return /^\d{4}-\d{2}-\d{2}$/.test(v) ? v.replaceAll('-', '') : undefined;
}

/** REC-03: sizes in MB with two decimals, e.g. `0.21 MB`. */
export function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(2)} MB`;
}

/** The S3 column: a presigned link fetched on click, or where the upload stands. */
function S3Cell({ a }: { a: RecordingArchive }) {
  const { t } = useTranslation();
  const [error, setError] = useState<string | null>(null);
  if (a.s3_state === 'off') return <span className="muted">—</span>;
  if (a.s3_state === 'pending') return <span className="muted">{t('archive.s3_pending')}</span>;
  if (a.s3_state === 'failed')
    return (
      <span className="warn" title={a.s3_error ?? ''} data-testid={`s3-failed-${a.day}`}>
        {t('archive.s3_failed')}: {a.s3_error}
      </span>
    );
  const open = async () => {
    setError(null);
    try {
      const link = await api.get<S3Link>(`/api/v1/recording-archives/${a.day}/s3-link`);
      window.location.assign(link.url);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t('common.error_generic'));
    }
  };
  return (
    <>
      <button type="button" className="link" onClick={() => void open()}>
        {t('archive.download')}
      </button>
      {error && <span className="warn"> {error}</span>}
    </>
  );
}

/** REC-01…05: the daily ZIPs of the recordings, with their download links. */
export function RecordingArchiveScreen() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [query, setQuery] = useState<{ from?: string; to?: string }>({});
  const [items, setItems] = useState<RecordingArchive[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const r = await api.get<{ items: RecordingArchive[]; total: number }>(
        `/api/v1/recording-archives${qs({ ...query, limit: 500 })}`,
      );
      setItems(r.items);
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t('common.error_generic'));
    }
  }, [query, t]);

  useEffect(() => {
    void load();
  }, [load]);

  // While a day is being packed, follow its progress.
  const packing = items?.some((a) => a.state === 'packing') ?? false;
  useEffect(() => {
    if (!packing) return;
    const timer = window.setInterval(() => void load(), 2000);
    return () => window.clearInterval(timer);
  }, [packing, load]);

  const canDownload = can('archive.download');
  return (
    <div className="list-screen" data-testid="archive-list">
      <h2>{t('menu.archive')}</h2>
      <div className="banner banner-warn" role="note" data-testid="archive-warning">
        {t('archive.warning')}
      </div>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ from: dayParam(from), to: dayParam(to) });
        }}
      >
        <label>
          {t('call.from')} <input type="date" name="from" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          {t('call.to')} <input type="date" name="to" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <button type="submit">{t('common.search')}</button>
      </form>
      {error && (
        <div className="banner banner-error" role="alert">
          {error}
        </div>
      )}
      {items && items.length === 0 && <p className="muted">{t('archive.none')}</p>}
      {items && items.length > 0 && (
        <table className="data">
          <thead>
            <tr>
              <th scope="col">{t('archive.file_name')}</th>
              <th scope="col">{t('archive.size')}</th>
              <th scope="col">{t('archive.recordings')}</th>
              <th scope="col">{t('archive.cti')}</th>
              <th scope="col">{t('archive.s3')}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.day} data-day={a.day}>
                <td>{a.file_name}</td>
                <td className="num" data-testid={`size-${a.day}`}>
                  {a.state === 'ready' ? megabytes(a.bytes) : ''}
                </td>
                <td className="num">{a.state === 'ready' ? a.recordings : ''}</td>
                <td>
                  {a.state === 'packing' && (
                    <span className="upload-progress">
                      <progress max={a.progress?.total ?? 1} value={a.progress?.done ?? 0} />
                      {t('archive.packing')}
                    </span>
                  )}
                  {a.state === 'failed' && (
                    <span className="warn">
                      {t('archive.failed')}: {a.error}
                    </span>
                  )}
                  {a.state === 'ready' &&
                    (canDownload ? (
                      <a href={`/api/v1/recording-archives/${a.day}/download`} download={a.file_name} title={formatDateTime(a.built_at)}>
                        {t('archive.download')}
                      </a>
                    ) : (
                      <span className="muted">—</span>
                    ))}
                </td>
                <td>{a.state === 'ready' && canDownload ? <S3Cell a={a} /> : <span className="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
