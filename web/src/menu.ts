// Tabs and side menus (UI-02…07) with the permission that shows each entry.

export interface MenuItem {
  key: string; // i18n key under `menu.` and URL segment
  perm: string;
}
export interface TabDef {
  key: 'crm' | 'sv' | 'history' | 'admin' | 'personal';
  perm: string;
  items: MenuItem[];
}

const m = (key: string, perm: string): MenuItem => ({ key, perm });

export const TABS: TabDef[] = [
  {
    key: 'crm',
    perm: 'tab.crm',
    items: [m('customers', 'customer.view'), m('cases', 'case.view'), m('faq', 'faq.view')],
  },
  {
    key: 'sv',
    perm: 'tab.sv',
    items: [
      m('realtime', 'realtime.view'),
      m('stats', 'stats.view'),
      m('campaign_stats', 'campaign_stats.view'),
      m('number_stats', 'stats.view'),
      m('status_stats', 'status_stats.view'),
      m('workflow_stats', 'stats.view'),
      m('seats', 'seat.view'),
      m('campaigns', 'campaign.view'),
      m('autodial', 'autodial.view'),
      m('tags', 'tag.view'),
      m('blocks', 'block.view'),
      m('restrictions', 'restrict.view'),
      m('csv', 'csv.view'),
    ],
  },
  {
    key: 'history',
    perm: 'tab.history',
    items: [
      m('calls', 'history.view'),
      m('reservations', 'reservation.view'),
      m('voicemail', 'voicemail.view'),
      m('archive', 'archive.view'),
    ],
  },
  {
    key: 'admin',
    perm: 'tab.admin',
    items: [
      m('agents', 'agent.view'),
      m('groups', 'group.view'),
      m('ivr', 'ivr.view'),
      m('terminals', 'terminal.view'),
      m('numbers', 'number.view'),
      m('voices', 'voice.view'),
      m('forwards', 'forward.view'),
      m('formats', 'format.view'),
      m('cfields', 'cfield.view'),
      m('agent_statuses', 'agent_status.view'),
      m('workflows', 'tab.admin'),
      m('workflow_steps', 'tab.admin'),
      m('s3', 's3.view'),
      m('system', 'tab.admin'),
      m('mail', 'tab.admin'),
      m('limits', 'tab.admin'),
      m('display', 'tab.admin'),
      m('roles', 'role.view'),
      m('trunks', 'trunk.view'),
    ],
  },
  {
    key: 'personal',
    perm: 'tab.personal',
    items: [m('my_terminals', 'my_terminal.view'), m('password', 'password.view'), m('preferences', 'preference.view')],
  },
];

export function findTab(key: string | undefined): TabDef | undefined {
  return TABS.find((t) => t.key === key);
}
