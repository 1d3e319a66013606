// The browser phone's place in the right application panel (UI-10, PHONE-*). The Shell renders
// this once per session and never unmounts it — switching to presence or chat, collapsing the
// panel or navigating only hides it — so a call in progress survives all of those. The phone
// itself arrives in a later release and replaces the body of this component.

import { useTranslation } from 'react-i18next';

export function PhonePanel() {
  const { t } = useTranslation();
  return (
    <div className="phone-panel" data-testid="phone-app">
      <h3 className="panel-title">{t('header.app_phone')}</h3>
      <p className="muted">{t('phone.placeholder')}</p>
    </div>
  );
}
