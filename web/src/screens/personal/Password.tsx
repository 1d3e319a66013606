import { useMemo, useRef, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ApiError } from '../../api/client';
import type { Me, PasswordChange } from '../../api/types';
import { useAuth } from '../../auth';
import { Field, FormContext, TextInput, type Values } from '../../components/form';
import { formatDateTime } from '../../format';

/** PREF-02 password / PIN screen. */
export function PasswordScreen() {
  const { t } = useTranslation();
  const { me, can, setMe } = useAuth();
  const [values, setValues] = useState<Values>({ new_password: '', confirm_password: '', current_password: '', pin: '' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [top, setTop] = useState<string[]>([]);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const rendered = useRef(new Set<string>()).current;
  const canUpdate = can('password.update');
  const set = (name: string, value: unknown) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => {
      const n = { ...e };
      delete n[name];
      return n;
    });
  };
  const ctx = useMemo(() => ({ values, set, errors, rendered, disabled: !canUpdate }), [values, errors, rendered, canUpdate]);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    setTop([]);
    const errs: Record<string, string> = {};
    if (!values.new_password && !values.pin) errs.new_password = t('pref.nothing');
    if (values.new_password !== values.confirm_password) errs.confirm_password = t('pref.mismatch');
    if (!values.current_password) errs.current_password = `${t('pref.current_password')}: ${t('common.required')}`;
    if (Object.keys(errs).length) {
      setErrors(errs);
      return;
    }
    setErrors({});
    setBusy(true);
    const body: Partial<PasswordChange> = { current_password: values.current_password };
    if (values.new_password) body.new_password = values.new_password;
    if (values.pin) body.pin = values.pin;
    try {
      await api.put('/api/v1/me/password', body);
      setSaved(true);
      setValues({ new_password: '', confirm_password: '', current_password: '', pin: '' });
      try {
        setMe(await api.get<Me>('/api/v1/me'));
      } catch {
        /* ignore */
      }
    } catch (err) {
      if (err instanceof ApiError) {
        const by = err.byField();
        const fe: Record<string, string> = {};
        const tp: string[] = [];
        for (const [k, m] of Object.entries(by)) {
          if (k && rendered.has(k)) fe[k] = m;
          else tp.push(m);
        }
        if (!err.errors.length) tp.push(t('common.error_generic'));
        setErrors(fe);
        setTop(tp);
      } else setTop([t('common.error_generic')]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="detail-screen">
      <h2>{t('pref.password_title')}</h2>
      {saved && (
        <div className="banner banner-ok" role="status" data-testid="saved-banner">
          {t('common.saved')}
        </div>
      )}
      {top.length > 0 && (
        <div className="banner banner-error" role="alert">
          {top.map((m) => (
            <div key={m}>{m}</div>
          ))}
        </div>
      )}
      <FormContext.Provider value={ctx}>
        <form onSubmit={onSubmit} noValidate data-testid="password-form" className="detail-form">
          <Field name="new_password" label={t('pref.new_password')} hint={t('pref.policy_hint')}>
            <TextInput name="new_password" type="password" placeholder={t('common.no_update')} />
          </Field>
          <Field name="confirm_password" label={t('pref.confirm_password')}>
            <TextInput name="confirm_password" type="password" placeholder={t('common.no_update')} />
          </Field>
          <Field name="pin" label={t('pref.pin')} hint={t('agent.pin_hint')}>
            <TextInput name="pin" type="password" maxLength={4} placeholder={t('common.no_update')} />
          </Field>
          <Field name="current_password" label={t('pref.current_password')} required>
            <TextInput name="current_password" type="password" autoComplete="current-password" />
          </Field>
          <div className="form-row">
            <div className="form-label">{t('pref.password_updated_at')}</div>
            <div className="form-control">
              <span className="readonly" data-testid="password-updated-at">
                {formatDateTime(me?.user.password_updated_at) || '—'}
              </span>
            </div>
          </div>
          <div className="form-buttons">
            {canUpdate && (
              <button type="submit" className="btn btn-primary" disabled={busy}>
                {t('common.save')}
              </button>
            )}
          </div>
        </form>
      </FormContext.Provider>
    </div>
  );
}
