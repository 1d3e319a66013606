import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useAuth } from '../auth';
import type { IncomingCall } from '../api/types';
import { useDirectory, useLiveMessages } from '../live';

/** The URL to open for a call: `@@@@` stands for the caller's number (NUM-07). */
export function popupUrl(template: string, caller: string): string {
  return template.split('@@@@').join(encodeURIComponent(caller));
}

/**
 * Shows who is calling while the agent's phone rings for a queue call, and opens the number's
 * pop-up URL when the agent has incoming pop-ups on, and its answer pop-up URL on answer when
 * the agent has answer pop-ups on (AGENT-15…17, NUM-07/08/13).
 */
export function IncomingCallPopup() {
  const { t } = useTranslation();
  const { me } = useAuth();
  const directory = useDirectory();
  const [call, setCall] = useState<IncomingCall | null>(null);

  useLiveMessages((m) => {
    if (!me) return;
    if (m.type === 'incoming_call' && m.agent === me.user.id) {
      setCall(m);
      const user = me.user;
      if (user.incoming_popup && m.popup_url) {
        // Same tab: one named window reused for every call; new tab: a fresh one each time.
        const target = user.popup_mode === 'new_tab' ? '_blank' : 'tsunagu-popup';
        window.open(popupUrl(m.popup_url, m.caller), target, 'noopener');
      }
    } else if (m.type === 'call_answered' && m.agent === me.user.id) {
      setCall(null);
      const user = me.user;
      if (user.answer_popup && m.answer_popup_url) {
        const target = user.popup_mode === 'new_tab' ? '_blank' : 'tsunagu-popup';
        window.open(popupUrl(m.answer_popup_url, m.caller), target, 'noopener');
      }
    } else if (m.type === 'agent_status' && m.agent === me.user.id) {
      // The ring is over (answered, missed or moved on): the notice goes.
      const ringing = m.statuses.some((s) => s.status.status === 'ringing');
      if (!ringing) setCall(null);
    }
  });

  if (!call) return null;
  const group = directory.groups.get(call.group)?.name ?? `#${call.group}`;
  return (
    <div className="incoming-call" role="alert" data-testid="incoming-call">
      <strong>{t('incoming.title')}</strong>
      <span data-testid="incoming-caller">{call.caller}</span>
      <span>
        {t('incoming.number')}: {call.number_name || call.number}
      </span>
      <span>
        {t('incoming.group')}: {group}
      </span>
      {call.message && <span>{call.message}</span>}
      <button type="button" className="link" onClick={() => setCall(null)} aria-label={t('incoming.close')}>
        ×
      </button>
    </div>
  );
}
