import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ApiError } from '../../api/client';
import type { Me, MePatch } from '../../api/types';
import { useAuth } from '../../auth';
import i18n from '../../i18n';

type Key = keyof MePatch;

/** PREF-03/04: personal settings table; each change is saved at once (PATCH /api/v1/me). */
export function PreferencesScreen() {
  const { t } = useTranslation();
  const { me, setMe, refresh, can } = useAuth();
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!me) return null;
  const u = me.user;
  const disabled = !can('preference.update') || busy;

  const save = async (patch: MePatch) => {
    setSaved(false);
    setError(null);
    setBusy(true);
    const prevLang = i18n.language;
    if (patch.language) void i18n.changeLanguage(patch.language); // takes effect immediately
    try {
      const res = await api.patch<Me>('/api/v1/me', patch);
      if (res && res.user) setMe(res);
      else await refresh();
      setSaved(true);
    } catch (e) {
      if (patch.language) void i18n.changeLanguage(prevLang);
      setError(e instanceof ApiError && e.message ? e.message : t('common.error_generic'));
    } finally {
      setBusy(false);
    }
  };

  const select = (key: Key, value: string, options: { value: string; label: string }[], conv: (s: string) => unknown = (s) => s) => (
    <select id={`pref-${key}`} name={key} value={value} disabled={disabled} onChange={(e) => void save({ [key]: conv(e.target.value) } as MePatch)}>
      {options.map((o) => (
        <option key={o.value} value={o.value}>
          {o.label}
        </option>
      ))}
    </select>
  );
  const onoff = (key: Key, value: boolean | undefined) =>
    select(
      key,
      value ? 'on' : 'off',
      [
        { value: 'on', label: t('common.on') },
        { value: 'off', label: t('common.off') },
      ],
      (s) => s === 'on',
    );

  const rows: { key: Key; label: string; control: ReactNode; desc: string }[] = [
    {
      key: 'language',
      label: t('pref.language'),
      control: select('language', u.language, [
        { value: 'ja', label: t('lang.ja') },
        { value: 'en', label: t('lang.en') },
      ]),
      desc: t('pref.language_desc'),
    },
    { key: 'crm_auto_search', label: t('agent.crm_auto_search'), control: onoff('crm_auto_search', u.crm_auto_search), desc: t('pref.crm_auto_search_desc') },
    { key: 'incoming_popup', label: t('agent.incoming_popup'), control: onoff('incoming_popup', u.incoming_popup), desc: t('pref.incoming_popup_desc') },
    { key: 'answer_popup', label: t('agent.answer_popup'), control: onoff('answer_popup', u.answer_popup), desc: t('pref.answer_popup_desc') },
    {
      key: 'popup_mode',
      label: t('agent.popup_mode'),
      control: select('popup_mode', u.popup_mode ?? 'same_tab', [
        { value: 'same_tab', label: t('agent.popup_same_tab') },
        { value: 'new_tab', label: t('agent.popup_new_tab') },
      ]),
      desc: t('pref.popup_mode_desc'),
    },
    {
      key: 'free_desk',
      label: t('agent.free_desk'),
      control: select('free_desk', u.free_desk ?? 'keep_others', [
        { value: 'keep_others', label: t('agent.free_keep') },
        { value: 'logout_others', label: t('agent.free_logout') },
      ]),
      desc: t('pref.free_desk_desc'),
    },
    {
      key: 'history_order',
      label: t('agent.history_order'),
      control: select('history_order', u.history_order ?? 'desc', [
        { value: 'desc', label: t('agent.order_desc') },
        { value: 'asc', label: t('agent.order_asc') },
      ]),
      desc: t('pref.history_order_desc'),
    },
  ];

  return (
    <div className="detail-screen" data-testid="preferences">
      <h2>{t('pref.settings_title')}</h2>
      {saved && (
        <div className="banner banner-ok" role="status" data-testid="saved-banner">
          {t('common.saved')}
        </div>
      )}
      {error && (
        <div className="banner banner-error" role="alert">
          {error}
        </div>
      )}
      <table className="data prefs">
        <thead>
          <tr>
            <th scope="col">{t('pref.col_setting')}</th>
            <th scope="col">{t('pref.col_value')}</th>
            <th scope="col">{t('pref.col_desc')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <th scope="row">
                <label htmlFor={`pref-${r.key}`}>{r.label}</label>
              </th>
              <td>{r.control}</td>
              <td className="muted">{r.desc}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
