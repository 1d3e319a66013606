// Admin → メール設定 (VOICE-06): the SMTP server of notification mail (the password is
// write-only), a test mail, and the outbox, where a mail that could not be sent shows why.

import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ApiError, qs } from '../../api/client';
import type { MailTestResult, OutboxItem } from '../../api/types';
import { useAuth } from '../../auth';
import { Field, NumberInput, OnOff, SelectInput, TextInput, useForm, type Values } from '../../components/form';
import { formatDateTime } from '../../format';
import { SettingsForm } from './Settings';

const PORTS: Record<string, number> = { none: 25, starttls: 587, tls: 465 };

/** The body of PUT /settings/mail (and a test mail's `settings`). */
const body = (v: Values) => ({
  enabled: Boolean(v.enabled),
  host: v.host ?? '',
  port: Number(v.port) || 0,
  security: v.security ?? 'starttls',
  username: v.username ?? '',
  from: v.from ?? '',
  // Empty: keep the stored password.
  password: v.password ? v.password : null,
});

export function MailSettingsScreen() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const canSave = can('tab.admin');
  const [testing, setTesting] = useState(false);
  const [testTo, setTestTo] = useState('');
  return (
    <>
      <SettingsForm
        title={t('menu.mail')}
        testId="mail-settings"
        path="/api/v1/settings/mail"
        canSave={canSave}
        toBody={body}
        extra={(v, show) =>
          canSave && (
            <span className="inline-field">
              <label htmlFor="mail-test-to">{t('mail.test_to')}</label>{' '}
              <input
                id="mail-test-to"
                type="email"
                value={testTo}
                placeholder="name@example.com"
                data-testid="mail-test-to"
                onChange={(e) => setTestTo(e.target.value)}
              />{' '}
              <button
                type="button"
                disabled={testing}
                data-testid="mail-test"
                onClick={async () => {
                  setTesting(true);
                  try {
                    await api.post<MailTestResult>('/api/v1/settings/mail/test', { to: testTo, settings: body(v) });
                    show({ ok: true, text: t('mail.test_ok', { to: testTo }) });
                  } catch (e) {
                    show({ ok: false, text: e instanceof ApiError ? t('mail.test_failed', { error: e.message }) : t('common.error_generic') });
                  } finally {
                    setTesting(false);
                  }
                }}
              >
                {testing ? t('mail.testing') : t('mail.test')}
              </button>
            </span>
          )
        }
      >
        <Field name="enabled" label={t('mail.enabled')} hint={t('mail.enabled_hint')} group>
          <OnOff name="enabled" />
        </Field>
        <Field name="host" label={t('mail.host')}>
          <TextInput name="host" placeholder="smtp.example.com" maxLength={253} />
        </Field>
        <SecurityField />
        <Field name="port" label={t('mail.port')}>
          <NumberInput name="port" min={1} max={65535} />
        </Field>
        <Field name="username" label={t('mail.username')} hint={t('mail.username_hint')}>
          <TextInput name="username" autoComplete="off" />
        </Field>
        <PasswordField />
        <Field name="from" label={t('mail.from')} hint={t('mail.from_hint')}>
          <TextInput name="from" placeholder="Tsunagu <noreply@example.com>" />
        </Field>
      </SettingsForm>
      <MailOutbox />
    </>
  );
}

/** Choosing a protection moves a port that was the previous protection's usual one. */
function SecurityField() {
  const { t } = useTranslation();
  const { values, set } = useForm();
  const [last, setLast] = useState(values.security);
  useEffect(() => {
    if (values.security === last) return;
    if (Number(values.port) === PORTS[String(last)]) set('port', PORTS[String(values.security)]);
    setLast(values.security);
  }, [values.security, values.port, last, set]);
  return (
    <Field name="security" label={t('mail.security')}>
      <SelectInput
        name="security"
        options={[
          { value: 'starttls', label: t('mail.security_starttls') },
          { value: 'tls', label: t('mail.security_tls') },
          { value: 'none', label: t('mail.security_none') },
        ]}
      />
    </Field>
  );
}

/** The password is never shown: the placeholder says whether one is stored. */
function PasswordField() {
  const { t } = useTranslation();
  const { values } = useForm();
  return (
    <Field name="password" label={t('mail.password')} hint={t('mail.password_hint')}>
      <TextInput name="password" type="password" placeholder={values.password_set ? t('s3.secret_stored') : t('s3.secret_none')} />
    </Field>
  );
}

function MailOutbox() {
  const { t } = useTranslation();
  const [state, setState] = useState('');
  const [items, setItems] = useState<OutboxItem[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      const r = await api.get<{ items: OutboxItem[]; total: number }>(`/api/v1/mail/outbox${qs({ state, limit: 100 })}`);
      setItems(r.items);
      setTotal(r.total);
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t('common.error_generic'));
    }
  }, [state, t]);
  useEffect(() => {
    void load();
  }, [load]);
  // Follow mails on their way.
  const waiting = items?.some((m) => m.state === 'queued') ?? false;
  useEffect(() => {
    if (!waiting) return;
    const timer = window.setInterval(() => void load(), 3000);
    return () => window.clearInterval(timer);
  }, [waiting, load]);
  const retry = async (id: number) => {
    try {
      await api.post(`/api/v1/mail/outbox/${id}/retry`, {});
      await load();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t('common.error_generic'));
    }
  };
  return (
    <div className="list-screen" data-testid="mail-outbox">
      <h3>{t('mail.outbox')}</h3>
      <div className="filters">
        <label>
          {t('mail.state')}{' '}
          <select value={state} onChange={(e) => setState(e.target.value)} data-testid="outbox-state">
            <option value="">{t('mail.state_all')}</option>
            <option value="queued">{t('mail.state_queued')}</option>
            <option value="sent">{t('mail.state_sent')}</option>
            <option value="failed">{t('mail.state_failed')}</option>
          </select>
        </label>{' '}
        <button type="button" onClick={() => void load()}>
          {t('mail.refresh')}
        </button>
      </div>
      {error && (
        <div className="banner banner-error" role="alert">
          {error}
        </div>
      )}
      {items && items.length === 0 && <p className="muted">{t('mail.none')}</p>}
      {items && items.length > 0 && (
        <table className="data">
          <caption className="muted">{t('mail.total', { n: total })}</caption>
          <thead>
            <tr>
              <th scope="col">{t('mail.created_at')}</th>
              <th scope="col">{t('mail.to')}</th>
              <th scope="col">{t('mail.subject')}</th>
              <th scope="col">{t('mail.attachment')}</th>
              <th scope="col">{t('mail.state')}</th>
              <th scope="col">{t('mail.attempts')}</th>
              <th scope="col">{t('mail.last_error')}</th>
              <th scope="col" />
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.id} data-mail={m.id} data-state={m.state}>
                <td>{formatDateTime(m.created_at)}</td>
                <td>{m.to}</td>
                <td>{m.subject}</td>
                <td>{m.attachment ?? ''}</td>
                <td className={m.state === 'failed' ? 'warn' : undefined}>
                  {t(`mail.state_${m.state}`)}
                  {m.state === 'sent' && m.sent_at ? ` ${formatDateTime(m.sent_at)}` : ''}
                  {m.state === 'queued' && m.attempts > 0 && m.next_attempt_at
                    ? ` (${t('mail.next_attempt', { at: formatDateTime(m.next_attempt_at) })})`
                    : ''}
                </td>
                <td className="num">{m.attempts}</td>
                <td className="warn">{m.last_error ?? ''}</td>
                <td>
                  {m.state !== 'sent' && (
                    <button type="button" className="link" onClick={() => void retry(m.id)} data-testid={`retry-${m.id}`}>
                      {t('mail.retry')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
