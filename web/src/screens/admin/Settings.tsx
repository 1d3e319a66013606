import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ApiError } from '../../api/client';
import type { S3TestResult, SystemSettings } from '../../api/types';
import { useAuth } from '../../auth';
import { Field, FormContext, NumberInput, OnOff, SelectInput, TextInput, useForm, type Values } from '../../components/form';

/** A settings page: one form, loaded from `path`, saved with PUT, errors beside each field. */
export function SettingsForm({
  title,
  testId,
  path,
  canSave,
  toBody,
  extra,
  children,
}: {
  title: string;
  testId: string;
  path: string;
  canSave: boolean;
  toBody: (v: Values) => Values;
  /** More buttons beside Save; given the values and a setter for the banner. */
  extra?: (v: Values, show: (b: Banner) => void) => ReactNode;
  children: ReactNode;
}) {
  const { t } = useTranslation();
  const [values, setValues] = useState<Values | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [banner, setBanner] = useState<Banner | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api
      .get<Values>(path)
      .then(setValues)
      .catch((e) => setBanner({ ok: false, text: e instanceof ApiError ? e.message : t('common.error_generic') }));
  }, [path, t]);
  const rendered = useMemo(() => new Set<string>(), []);
  if (!values) return banner ? <div className="banner banner-error">{banner.text}</div> : <p className="muted">{t('common.loading')}</p>;
  const save = async () => {
    setBusy(true);
    setBanner(null);
    setErrors({});
    try {
      setValues(await api.put<Values>(path, toBody(values)));
      setBanner({ ok: true, text: t('common.saved') });
    } catch (e) {
      if (e instanceof ApiError) {
        const by = e.byField();
        setErrors(by);
        const general = Object.entries(by)
          .filter(([k]) => !rendered.has(k))
          .map(([, v]) => v)
          .join(' ');
        setBanner({ ok: false, text: general || t('common.error_generic') });
      } else setBanner({ ok: false, text: t('common.error_generic') });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="detail-screen" data-testid={testId}>
      <h2>{title}</h2>
      {banner && (
        <div className={`banner ${banner.ok ? 'banner-ok' : 'banner-error'}`} role={banner.ok ? 'status' : 'alert'} data-testid={banner.ok ? 'saved-banner' : 'error-banner'}>
          {banner.text}
        </div>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <FormContext.Provider
          value={{ values, set: (k, v) => setValues((old) => ({ ...old, [k]: v })), errors, rendered, disabled: !canSave || busy }}
        >
          {children}
        </FormContext.Provider>
        <div className="form-actions">
          {canSave && (
            <button type="submit" className="primary" disabled={busy}>
              {t('common.save')}
            </button>
          )}
          {extra?.(values, setBanner)}
        </div>
      </form>
    </div>
  );
}

export interface Banner {
  ok: boolean;
  text: string;
}

const ZONES = ['Asia/Tokyo', 'UTC', 'Asia/Seoul', 'Asia/Shanghai', 'Asia/Singapore', 'America/Los_Angeles', 'America/New_York', 'Europe/London'];

/** The center's time zone and business day (shared by the archive, IVR and statistics) and recording. */
export function SystemSettingsScreen() {
  const { t } = useTranslation();
  const { can } = useAuth();
  return (
    <SettingsForm
      title={t('menu.system')}
      testId="system-settings"
      path="/api/v1/settings/system"
      canSave={can('tab.admin')}
      toBody={(v) => v as SystemSettings}
    >
      <Field name="time_zone" label={t('system.time_zone')} hint={t('system.time_zone_hint')}>
        <SelectInput name="time_zone" options={ZONES.map((z) => ({ value: z, label: z }))} />
      </Field>
      <Field name="business_day_start" label={t('system.business_day_start')}>
        <TextInput name="business_day_start" placeholder="09:00" maxLength={5} />
      </Field>
      <Field name="business_day_end" label={t('system.business_day_end')} hint={t('system.business_day_end_hint')}>
        <TextInput name="business_day_end" placeholder="18:00" maxLength={5} />
      </Field>
      <Field name="recording_enabled" label={t('system.recording_enabled')} hint={t('system.recording_enabled_hint')} group>
        <OnOff name="recording_enabled" />
      </Field>
      <Field name="recording_retention_days" label={t('system.retention')} hint={t('system.retention_hint')}>
        <NumberInput name="recording_retention_days" min={0} max={3650} suffix={t('system.days')} />
      </Field>
    </SettingsForm>
  );
}

/** S3-01: the AWS S3 integration; the secret is write-only. */
export function S3SettingsScreen() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const canSave = can('s3.update');
  const [testing, setTesting] = useState(false);
  const body = (v: Values) => ({
    enabled: Boolean(v.enabled),
    bucket: v.bucket ?? '',
    region: v.region ?? '',
    endpoint: v.endpoint ?? '',
    access_key_id: v.access_key_id ?? '',
    prefix: v.prefix ?? '',
    // Empty: keep the stored secret.
    secret_access_key: v.secret_access_key ? v.secret_access_key : null,
  });
  return (
    <SettingsForm
      title={t('menu.s3')}
      testId="s3-settings"
      path="/api/v1/settings/s3"
      canSave={canSave}
      toBody={body}
      extra={(v, show) =>
        canSave && (
          <button
            type="button"
            disabled={testing}
            data-testid="s3-test"
            onClick={async () => {
              setTesting(true);
              try {
                const r = await api.post<S3TestResult>('/api/v1/settings/s3/test', { ...body(v), enabled: true });
                show(r.ok ? { ok: true, text: t('s3.test_ok') } : { ok: false, text: t('s3.test_failed', { error: r.error ?? '' }) });
              } catch (e) {
                show({ ok: false, text: e instanceof ApiError ? e.message : t('common.error_generic') });
              } finally {
                setTesting(false);
              }
            }}
          >
            {testing ? t('s3.testing') : t('s3.test')}
          </button>
        )
      }
    >
      <Field name="enabled" label={t('s3.enabled')} group>
        <OnOff name="enabled" />
      </Field>
      <Field name="bucket" label={t('s3.bucket')}>
        <TextInput name="bucket" maxLength={63} />
      </Field>
      <Field name="region" label={t('s3.region')}>
        <TextInput name="region" placeholder="ap-northeast-1" />
      </Field>
      <Field name="endpoint" label={t('s3.endpoint')} hint={t('s3.endpoint_hint')}>
        <TextInput name="endpoint" type="url" placeholder="https://s3.example.com" />
      </Field>
      <Field name="access_key_id" label={t('s3.access_key_id')}>
        <TextInput name="access_key_id" />
      </Field>
      <SecretField />
      <Field name="prefix" label={t('s3.prefix')} hint={t('s3.prefix_hint')}>
        <TextInput name="prefix" placeholder="recordings/" />
      </Field>
    </SettingsForm>
  );
}

/** The secret is never shown: the placeholder says whether one is stored. */
function SecretField() {
  const { t } = useTranslation();
  const { values } = useForm();
  return (
    <Field name="secret_access_key" label={t('s3.secret')} hint={t('s3.secret_hint')}>
      <TextInput
        name="secret_access_key"
        type="password"
        placeholder={values.secret_set ? t('s3.secret_stored') : t('s3.secret_none')}
      />
    </Field>
  );
}
