import { useTranslation } from 'react-i18next';
import { agents, numbers, roles } from '../../api/resources';
import type { Agent, AgentInput } from '../../api/types';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { Checklist, Field, OnOff, RadioGroup, ReadOnlyText, SelectInput, TextInput } from '../../components/form';
import { formatDateTime } from '../../format';
import { useAll } from '../../hooks';
import { useAuth } from '../../auth';


const FIELDS = [
  'login_id',
  'name',
  'nickname',
  'extension',
  'caller_number_id',
  'number_ids',
  'password',
  'pin',
  'locked',
  'role',
  'language',
  'crm_auto_search',
  'incoming_popup',
  'answer_popup',
  'popup_mode',
  'free_desk',
  'history_order',
];
const WRITE_ONLY = ['password', 'pin'];

export function AgentList() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const roleList = useAll(roles, can('role.view'));
  const roleName = (id: string) => roleList.find((r) => r.id === id)?.name ?? id;
  const config: ListConfig<Agent> = {
    coll: agents,
    title: t('agent.list_title'),
    testId: 'agent-list',
    permRow: 'agent',
    filters: [
      { name: 'login_id', label: t('agent.login_id') },
      { name: 'name', label: t('agent.name') },
      { name: 'extension', label: t('agent.extension') },
    ],
    columns: [
      { label: t('agent.login_id'), render: (a) => a.login_id },
      { label: t('agent.name'), render: (a) => a.name },
      { label: t('agent.nickname'), render: (a) => a.nickname },
      { label: t('agent.extension'), render: (a) => a.extension ?? t('common.not_set') },
      { label: t('agent.role'), render: (a) => roleName(a.role) },
    ],
  };
  return <ListScreen config={config} />;
}

export function AgentDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const roleList = useAll(roles, can('role.view'));
  const numberList = useAll(numbers, can('number.view'));
  const label = (f: string) => t(`agent.${f}`, { defaultValue: f });
  const config: DetailConfig<Agent, AgentInput> = {
    coll: agents,
    title: t('agent.detail_title'),
    testId: 'agent-form',
    permRow: 'agent',
    fields: FIELDS,
    writeOnly: WRITE_ONLY,
    labelFor: label,
    formatValue: (f, v) => {
      if (f === 'number_ids' || f === 'caller_number_id') return numberList.find((n) => n.id === v)?.number;
      if (f === 'role') return roleList.find((r) => r.id === v)?.name;
      const opt: Record<string, string> = {
        language: `lang.${v}`,
        popup_mode: `agent.popup_${v}`,
        free_desk: v === 'keep_others' ? 'agent.free_keep' : 'agent.free_logout',
        history_order: `agent.order_${v}`,
      };
      return typeof v === 'string' && opt[f] ? t(opt[f], { defaultValue: v }) : undefined;
    },
    defaults: {
      login_id: '',
      name: '',
      nickname: '',
      extension: null,
      caller_number_id: null,
      number_ids: [],
      password: '',
      pin: '',
      locked: false,
      role: 'agent',
      language: 'ja',
      crm_auto_search: false,
      incoming_popup: false,
      answer_popup: false,
      popup_mode: 'same_tab',
      free_desk: 'keep_others',
      history_order: 'desc',
    },
    validate: (v, isNew) => {
      const e: Record<string, string> = {};
      if (isNew && !v.password) e.password = `${label('password')}: ${t('common.required')}`;
      return e;
    },
    render: ({ isNew, item }) => (
      <>
        <Field name="login_id" label={label('login_id')} required hint="3–15">
          <TextInput name="login_id" required maxLength={15} />
        </Field>
        <Field name="name" label={label('name')} required>
          <TextInput name="name" required />
        </Field>
        <Field name="nickname" label={label('nickname')} required>
          <TextInput name="nickname" required />
        </Field>
        <Field name="extension" label={label('extension')}>
          <TextInput name="extension" nullable placeholder={t('common.not_set')} />
        </Field>
        <Field name="caller_number_id" label={label('caller_number_id')}>
          <SelectInput
            name="caller_number_id"
            options={[{ value: null, label: t('agent.no_outbound') }, ...numberList.map((n) => ({ value: n.id, label: `${n.number} (${n.name})` }))]}
          />
        </Field>
        <Field name="number_ids" label={label('number_ids')} group>
          <Checklist
            name="number_ids"
            columns={[t('agent.number_col'), t('common.name')]}
            rows={numberList.map((n) => ({ id: n.id, label: n.number, cells: [n.number, n.name] }))}
          />
        </Field>
        <Field name="password" label={label('password')} required={isNew} hint={t('pref.policy_hint')}>
          <TextInput name="password" type="password" placeholder={isNew ? '' : t('common.no_update')} />
        </Field>
        <Field name="pin" label={label('pin')} hint={t('agent.pin_hint')}>
          <TextInput name="pin" type="password" maxLength={4} placeholder={!isNew && item?.pin_set ? t('common.no_update') : t('common.not_set')} />
        </Field>
        <Field name="locked" label={label('locked')} group>
          <RadioGroup
            name="locked"
            options={[
              { value: true, label: t('agent.lock') },
              { value: false, label: t('agent.unlock') },
            ]}
          />
        </Field>
        <Field name="role" label={label('role')}>
          <SelectInput name="role" options={roleList.map((r) => ({ value: r.id, label: r.name }))} />
        </Field>
        <Field name="language" label={label('language')}>
          <SelectInput
            name="language"
            options={[
              { value: 'ja', label: t('lang.ja') },
              { value: 'en', label: t('lang.en') },
            ]}
          />
        </Field>
        <Field name="crm_auto_search" label={label('crm_auto_search')} group>
          <OnOff name="crm_auto_search" />
        </Field>
        <Field name="incoming_popup" label={label('incoming_popup')} group>
          <OnOff name="incoming_popup" />
        </Field>
        <Field name="answer_popup" label={label('answer_popup')} group>
          <OnOff name="answer_popup" />
        </Field>
        <Field name="popup_mode" label={label('popup_mode')}>
          <SelectInput
            name="popup_mode"
            options={[
              { value: 'same_tab', label: t('agent.popup_same_tab') },
              { value: 'new_tab', label: t('agent.popup_new_tab') },
            ]}
          />
        </Field>
        <Field name="free_desk" label={label('free_desk')}>
          <SelectInput
            name="free_desk"
            options={[
              { value: 'keep_others', label: t('agent.free_keep') },
              { value: 'logout_others', label: t('agent.free_logout') },
            ]}
          />
        </Field>
        <Field name="history_order" label={label('history_order')}>
          <SelectInput
            name="history_order"
            options={[
              { value: 'desc', label: t('agent.order_desc') },
              { value: 'asc', label: t('agent.order_asc') },
            ]}
          />
        </Field>
        {!isNew && (
          <div className="form-row">
            <div className="form-label">{label('password_updated_at')}</div>
            <div className="form-control">
              <ReadOnlyText testId="password-updated-at">{formatDateTime(item?.password_updated_at) || '—'}</ReadOnlyText>
            </div>
          </div>
        )}
      </>
    ),
  };
  return <DetailScreen key={id} config={config} id={id} />;
}
