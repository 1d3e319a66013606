import { useTranslation } from 'react-i18next';
import { agents, terminals } from '../../api/resources';
import type { Terminal, TerminalInput } from '../../api/types';
import { useAuth } from '../../auth';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { Field, SelectInput, TextInput } from '../../components/form';
import { formatDate } from '../../format';
import { useAll } from '../../hooks';

export function TerminalList() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const agentList = useAll(agents, can('agent.view'));
  const agentLabel = (id: number | null | undefined) => {
    if (id === null || id === undefined) return t('common.not_set');
    const a = agentList.find((x) => x.id === id);
    return a ? (a.extension ? `${a.extension}:${a.name}` : a.name) : String(id);
  };
  const config: ListConfig<Terminal> = {
    coll: terminals,
    title: t('terminal.list_title'),
    testId: 'terminal-list',
    permRow: 'terminal',
    filters: [
      { name: 'username', label: t('terminal.username') },
      { name: 'name', label: t('terminal.name') },
      ...(agentList.length
        ? [{ name: 'agent_id', label: t('terminal.agent_id'), options: agentList.map((a) => ({ value: a.id, label: `${a.name} (${a.login_id})` })) }]
        : []),
    ],
    columns: [
      { label: t('terminal.username'), render: (x) => x.username },
      { label: t('terminal.name'), render: (x) => x.name },
      { label: t('terminal.agent_id'), render: (x) => agentLabel(x.agent_id) },
      { label: t('common.updated_col'), render: (x) => formatDate(x.updated_at) },
    ],
  };
  return <ListScreen config={config} />;
}

export function TerminalDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const agentList = useAll(agents, can('agent.view'));
  const label = (f: string) => t(`terminal.${f}`, { defaultValue: f });
  const config: DetailConfig<Terminal, TerminalInput> = {
    coll: terminals,
    title: t('terminal.detail_title'),
    testId: 'terminal-form',
    permRow: 'terminal',
    fields: ['username', 'name', 'agent_id', 'password'],
    writeOnly: ['password', 'username'],
    labelFor: label,
    formatValue: (f, v) => (f === 'agent_id' ? agentList.find((a) => a.id === v)?.name : undefined),
    defaults: { username: '', name: '', agent_id: null, password: '' },
    validate: (v, isNew): Record<string, string> => (isNew && !v.password ? { password: `${label('password')}: ${t('common.required')}` } : {}),
    render: ({ isNew, item }) => (
      <>
        <Field name="username" label={label('username')} hint={isNew ? t('terminal.username_hint') : undefined}>
          {isNew ? <TextInput name="username" /> : <span className="readonly">{item?.username}</span>}
        </Field>
        <Field name="name" label={label('name')} required>
          <TextInput name="name" required />
        </Field>
        <Field name="password" label={label('password')} required={isNew}>
          <TextInput name="password" type="password" placeholder={isNew ? '' : t('common.no_update')} />
        </Field>
        <Field name="agent_id" label={label('agent_id')}>
          <SelectInput
            name="agent_id"
            options={[{ value: null, label: t('common.not_set') }, ...agentList.map((a) => ({ value: a.id, label: `${a.extension ?? ''}:${a.name}` }))]}
          />
        </Field>
      </>
    ),
  };
  return <DetailScreen key={id} config={config} id={id} />;
}
