import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../../api/client';
import { outboundRestrictions, uploadRestrictions } from '../../api/resources';
import type { OutboundRestriction, OutboundRestrictionInput, UploadResult } from '../../api/types';
import { useAuth } from '../../auth';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { Field, TextArea, TextInput } from '../../components/form';

const DIGITS = /^[0-9]{2,20}$/;
const MAX_UPLOAD = 5 * 1024 * 1024;

/** RESTRICT-02/04: search, New, Upload and bulk delete. */
export function OutboundRestrictionList() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [uploading, setUploading] = useState(false);
  const config: ListConfig<OutboundRestriction> = {
    coll: outboundRestrictions,
    title: t('restrict.list_title'),
    testId: 'restriction-list',
    permRow: 'restrict',
    deletePerm: 'restrict.bulk_delete',
    filters: [
      { name: 'number', label: t('restrict.number') },
      { name: 'remarks', label: t('restrict.remarks') },
      { name: 'caller_number', label: t('restrict.caller_number') },
    ],
    columns: [
      { label: t('restrict.number'), render: (r) => r.number },
      { label: t('restrict.caller_number'), render: (r) => r.caller_number || <span className="muted">{t('restrict.all_numbers')}</span> },
      { label: t('restrict.remarks'), render: (r) => r.remarks },
    ],
    actions: (reload) =>
      can('restrict.upload') && (
        <>
          <button type="button" className="btn" data-testid="upload-button" onClick={() => setUploading(true)}>
            {t('restrict.upload')}
          </button>
          {uploading && (
            <UploadDialog
              onClose={(changed) => {
                setUploading(false);
                if (changed) reload();
              }}
            />
          )}
        </>
      ),
  };
  return <ListScreen config={config} />;
}

/** RESTRICT-05: choose a CSV file and Execute; shows progress, then the summary. */
function UploadDialog({ onClose }: { onClose: (changed: boolean) => void }) {
  const { t } = useTranslation();
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<UploadResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  useEffect(() => inputRef.current?.focus(), []);

  const execute = async () => {
    if (!file) return;
    setError(null);
    setResult(null);
    if (file.size > MAX_UPLOAD) {
      setError(t('restrict.too_large'));
      return;
    }
    setBusy(true);
    try {
      setResult(await uploadRestrictions(file));
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 413
          ? t('restrict.too_large')
          : e instanceof ApiError && e.message
            ? e.message
            : t('common.error_generic'),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="modal-backdrop" onKeyDown={(e) => e.key === 'Escape' && !busy && onClose(!!result)}>
      <div className="modal upload-dialog" role="dialog" aria-modal="true" aria-labelledby="upload-title" data-testid="upload-dialog">
        <h3 id="upload-title">{t('restrict.upload_title')}</h3>
        <p className="hint">{t('restrict.upload_hint')}</p>
        <label htmlFor="upload-file">{t('restrict.file')}</label>{' '}
        <input
          id="upload-file"
          ref={inputRef}
          type="file"
          name="file"
          accept=".csv,text/csv,text/plain"
          disabled={busy}
          onChange={(e) => {
            setFile(e.target.files?.[0] ?? null);
            setResult(null);
            setError(null);
          }}
        />
        {busy && (
          <div className="upload-progress" role="status" data-testid="upload-progress">
            <progress aria-label={t('restrict.uploading')} /> {t('restrict.uploading')}
          </div>
        )}
        {error && (
          <div className="banner banner-error" role="alert" data-testid="upload-error">
            {error}
          </div>
        )}
        {result && (
          <div className="banner banner-ok" role="status" data-testid="upload-result">
            {t('restrict.upload_summary', {
              created: result.created,
              skipped: result.skipped_duplicates,
              errors: result.error_count,
            })}
            {result.errors.length > 0 && (
              <ul className="upload-errors" data-testid="upload-line-errors">
                {result.errors.map((e) => (
                  <li key={e.line}>
                    {t('restrict.line', { line: e.line })}: {e.message}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
        <div className="modal-buttons">
          <button type="button" className="btn" onClick={() => onClose(!!result)} disabled={busy}>
            {result ? t('restrict.close') : t('common.cancel')}
          </button>
          <button type="button" className="btn btn-primary" onClick={() => void execute()} disabled={busy || !file} data-testid="upload-execute">
            {t('common.execute')}
          </button>
        </div>
      </div>
    </div>
  );
}

/** RESTRICT-03 detail, with the optional caller number. */
export function OutboundRestrictionDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const label = (f: string) => t(`restrict.${f}`, { defaultValue: f });
  const config: DetailConfig<OutboundRestriction, OutboundRestrictionInput> = {
    coll: outboundRestrictions,
    title: t('restrict.detail_title'),
    testId: 'restriction-form',
    permRow: 'restrict',
    deletePerm: 'restrict.bulk_delete',
    fields: ['number', 'caller_number', 'remarks'],
    labelFor: label,
    defaults: { number: '', caller_number: '', remarks: '' },
    validate: (v) => {
      const e: Record<string, string> = {};
      if (!DIGITS.test(String(v.number ?? '').trim())) e.number = t('block.digits_only');
      const cn = String(v.caller_number ?? '').trim();
      if (cn && !DIGITS.test(cn)) e.caller_number = t('block.digits_only');
      return e;
    },
    render: () => (
      <>
        <Field name="number" label={label('number')} required hint={t('block.digits_only')}>
          <TextInput name="number" required maxLength={20} />
        </Field>
        <Field name="caller_number" label={label('caller_number')} hint={t('restrict.caller_hint')}>
          <TextInput name="caller_number" maxLength={20} />
        </Field>
        <Field name="remarks" label={label('remarks')}>
          <TextArea name="remarks" />
        </Field>
      </>
    ),
  };
  return <DetailScreen key={id} config={config} id={id} />;
}
