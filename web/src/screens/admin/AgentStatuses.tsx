import { useTranslation } from 'react-i18next';
import { agentStatuses } from '../../api/resources';
import type { AgentStatus, AgentStatusInput } from '../../api/types';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { ColorWidget, Field, TextInput } from '../../components/form';
import { formatDate } from '../../format';
import { ColorChip } from './Groups';

export function AgentStatusList() {
  const { t } = useTranslation();
  const config: ListConfig<AgentStatus> = {
    coll: agentStatuses,
    title: t('ast.list_title'),
    testId: 'agent-status-list',
    permRow: 'agent_status',
    filters: [{ name: 'name', label: t('ast.name') }],
    columns: [
      { label: t('ast.name'), render: (s) => s.name },
      { label: t('ast.icon'), render: (s) => (s.icon ? <span className="muted">{s.icon}</span> : t('common.not_set')) },
      { label: t('ast.color'), render: (s) => <ColorChip fg={s.color_fg} bg={s.color_bg} text={s.name} /> },
      { label: t('common.updated_col'), render: (s) => formatDate(s.updated_at) },
    ],
  };
  return <ListScreen config={config} />;
}

export function AgentStatusDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const label = (f: string) => t(`ast.${f}`, { defaultValue: f });
  const config: DetailConfig<AgentStatus, AgentStatusInput> = {
    coll: agentStatuses,
    title: t('ast.detail_title'),
    testId: 'agent-status-form',
    permRow: 'agent_status',
    fields: ['name', 'icon', 'color_fg', 'color_bg'],
    labelFor: label,
    defaults: { name: '', icon: '', color_fg: '#ffffff', color_bg: '#ff0000' },
    render: () => (
      <>
        <Field name="name" label={label('name')} required>
          <TextInput name="name" required />
        </Field>
        <Field name="icon" label={label('icon')}>
          <TextInput name="icon" />
        </Field>
        <Field name="color_fg" label={label('color')}>
          <ColorWidget fg="color_fg" bg="color_bg" />
        </Field>
      </>
    ),
  };
  return <DetailScreen key={id} config={config} id={id} />;
}
