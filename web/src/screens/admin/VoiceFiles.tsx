import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { createVoiceFile, replaceVoiceFile, voiceFiles } from '../../api/resources';
import type { VoiceFile, VoiceFileInput } from '../../api/types';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { Field, fieldId, OnOff, TextInput, useForm } from '../../components/form';
import { formatClock, formatDate } from '../../format';

/** Largest file the server accepts (VOICE-03). */
export const MAX_VOICE_BYTES = 20 * 1024 * 1024;
const EMAIL = /^[^\s@<>",;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;

/** VOICE-01: search by name; columns Name, Length, Download, Updated. */
export function VoiceFileList() {
  const { t } = useTranslation();
  const config: ListConfig<VoiceFile> = {
    coll: voiceFiles,
    title: t('voice.list_title'),
    testId: 'voice-list',
    permRow: 'voice',
    filters: [{ name: 'name', label: t('voice.name') }],
    columns: [
      { label: t('voice.name'), render: (v) => v.name },
      { label: t('voice.duration'), render: (v) => <span data-testid="voice-duration">{formatClock(v.duration_ms)}</span> },
      {
        label: t('voice.download'),
        render: (v) => (
          <a href={v.download_url} download={v.file_name} className="download-link">
            {t('voice.download')}
          </a>
        ),
      },
      { label: t('common.updated_col'), render: (v) => formatDate(v.updated_at) },
    ],
  };
  return <ListScreen config={config} />;
}

/** The file chooser, the upload progress, and the current file's download link and player. */
function AudioField({ item, progress }: { item: VoiceFile | null; progress: number | null }) {
  const { t } = useTranslation();
  const f = useForm();
  f.rendered.add('file');
  const error = f.errors.file;
  return (
    <div className="voice-file-field">
      <input
        // A fresh input after each save, so the chooser does not keep showing the old pick.
        key={item?.sha256 ?? 'new'}
        id={fieldId('file')}
        type="file"
        name="file"
        accept=".wav,audio/wav"
        disabled={f.disabled || progress !== null}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${fieldId('file')}-error` : undefined}
        onChange={(e) => f.set('file', e.target.files?.[0] ?? null)}
      />
      {progress !== null && (
        <div className="upload-progress" role="status" data-testid="upload-progress">
          <progress max={1} value={progress} aria-label={t('voice.uploading')} /> {t('voice.uploading')} {Math.round(progress * 100)}%
        </div>
      )}
      {item && item.size_bytes > 0 && (
        <div className="voice-current" data-testid="voice-current">
          <a href={item.download_url} download={item.file_name} data-testid="voice-download">
            {item.file_name}
          </a>{' '}
          <span className="muted">
            ({formatClock(item.duration_ms)}, {(item.size_bytes / 1024).toFixed(1)} KB)
          </span>
          <audio key={item.sha256} controls preload="none" src={item.download_url} data-testid="voice-player">
            <a href={item.download_url}>{t('voice.download')}</a>
          </audio>
        </div>
      )}
    </div>
  );
}

/** VOICE-02/06 detail: name, file, voicemail; notification and address appear as switched on. */
export function VoiceFileDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const [progress, setProgress] = useState<number | null>(null);
  const label = (f: string) => t(`voice.${f}`, { defaultValue: f });
  const config: DetailConfig<VoiceFile, VoiceFileInput> = {
    coll: voiceFiles,
    title: t('voice.detail_title'),
    testId: 'voice-form',
    permRow: 'voice',
    fields: ['name', 'voicemail', 'notify_email', 'email'],
    labelFor: label,
    formatValue: (f, v) => (f === 'duration_ms' && typeof v === 'number' ? formatClock(v) : undefined),
    defaults: { name: '', voicemail: false, notify_email: false, email: '', file: null },
    validate: (v, isNew) => {
      const e: Record<string, string> = {};
      if (!String(v.name ?? '').trim()) e.name = t('voice.required');
      const file = v.file instanceof File ? v.file : null;
      if (isNew && !file) e.file = t('voice.file_required');
      if (file && file.size > MAX_VOICE_BYTES) e.file = t('voice.too_large');
      if (v.voicemail && v.notify_email) {
        const mail = String(v.email ?? '').trim();
        if (!mail) e.email = t('voice.required');
        else if (!EMAIL.test(mail)) e.email = t('voice.email_format');
      }
      return e;
    },
    save: async ({ isNew, id: itemId, body, values }) => {
      const file = values.file instanceof File ? values.file : null;
      try {
        if (isNew) {
          setProgress(0);
          return await createVoiceFile(body as VoiceFileInput, file, setProgress);
        }
        let saved = Object.keys(body).length ? await voiceFiles.update(itemId, body as VoiceFileInput) : await voiceFiles.get(itemId);
        if (file) {
          setProgress(0);
          saved = await replaceVoiceFile(itemId, file, setProgress);
        }
        return saved;
      } finally {
        setProgress(null);
      }
    },
    render: ({ item, values, isNew }) => (
      <>
        <Field name="name" label={label('name')} required>
          <TextInput name="name" required maxLength={64} />
        </Field>
        <Field name="file" label={label('file')} required={isNew} hint={t('voice.file_hint')}>
          <AudioField item={item} progress={progress} />
        </Field>
        <Field name="voicemail" label={label('voicemail')} group>
          <OnOff name="voicemail" />
        </Field>
        {values.voicemail && (
          <Field name="notify_email" label={label('notify_email')} group>
            <OnOff name="notify_email" />
          </Field>
        )}
        {values.voicemail && values.notify_email && (
          <Field name="email" label={label('email')} required>
            <TextInput name="email" type="email" maxLength={254} autoComplete="email" />
          </Field>
        )}
      </>
    ),
  };
  return <DetailScreen key={id} config={config} id={id} />;
}
