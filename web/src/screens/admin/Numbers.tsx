import { useTranslation } from 'react-i18next';
import { agents, forwardings, groups, ivrs, numbers, voiceFiles } from '../../api/resources';
import type { PhoneNumber, PhoneNumberInput, Target } from '../../api/types';
import { useAuth } from '../../auth';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { Checklist, Field, NumberInput, OnOff, SelectInput, TargetPicker, TextArea, TextInput, type Option } from '../../components/form';
import { formatDate } from '../../format';
import { useAll } from '../../hooks';

const FIELDS = [
  'number',
  'name',
  'prefix',
  'route',
  'max_channels',
  'incoming_popup_url',
  'answer_popup_url',
  'display',
  'incoming_message',
  'outgoing_message',
  'caller_area_routing',
  'agent_ids',
  'recording',
];

function useTargets() {
  const { can } = useAuth();
  const agentList = useAll(agents, can('agent.view'));
  const groupList = useAll(groups, can('group.view'));
  const voiceList = useAll(voiceFiles, can('voice.view'));
  const ivrList = useAll(ivrs, can('ivr.view'));
  const forwardList = useAll(forwardings, can('forward.view'));
  const choices: Record<string, Option[]> = {
    group: groupList.map((g) => ({ value: g.id, label: g.name })),
    agent: agentList.map((a) => ({ value: a.id, label: `${a.name} (${a.login_id})` })),
    voice_file: voiceList.map((v) => ({ value: v.id, label: v.name })),
    ivr: ivrList.map((i) => ({ value: i.id, label: i.name })),
    forward: forwardList.map((f) => ({ value: f.id, label: `${f.name} (${f.destination})` })),
  };
  return { agentList, choices };
}

export function NumberList() {
  const { t } = useTranslation();
  const { choices } = useTargets();
  const routeLabel = (r: Target | null | undefined) => {
    if (!r) return t('common.not_set');
    const name = choices[r.kind]?.find((o) => String(o.value) === String(r.id))?.label ?? String(r.id);
    return `${t(`common.kind_${r.kind}`, { defaultValue: r.kind })}：${name}`;
  };
  const config: ListConfig<PhoneNumber> = {
    coll: numbers,
    title: t('number.list_title'),
    testId: 'number-list',
    permRow: 'number',
    noCreate: false,
    filters: [
      { name: 'number', label: t('number.number') },
      {
        name: 'route_kind',
        label: t('number.route_kind'),
        options: [
          { value: 'group', label: t('common.kind_group') },
          { value: 'agent', label: t('common.kind_agent') },
          { value: 'voice_file', label: t('common.kind_voice_file') },
          { value: 'ivr', label: t('common.kind_ivr') },
          { value: 'forward', label: t('common.kind_forward') },
        ],
      },
      { name: 'name', label: t('number.name') },
      { name: 'prefix', label: t('number.prefix') },
    ],
    columns: [
      { label: t('number.number'), render: (n) => n.number },
      { label: t('number.name'), render: (n) => n.name },
      { label: t('number.prefix'), render: (n) => n.prefix ?? '' },
      { label: t('number.route'), render: (n) => routeLabel(n.route) },
      { label: t('common.updated_col'), render: (n) => formatDate(n.updated_at) },
    ],
  };
  return <ListScreen config={config} />;
}

export function NumberDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const { agentList, choices } = useTargets();
  const label = (f: string) => t(`number.${f}`, { defaultValue: f });
  const config: DetailConfig<PhoneNumber, PhoneNumberInput> = {
    coll: numbers,
    title: t('number.detail_title'),
    testId: 'number-form',
    permRow: 'number',
    fields: FIELDS,
    createOnly: ['number'],
    labelFor: label,
    formatValue: (f, v) => {
      if (f === 'route' && v && typeof v === 'object' && 'kind' in v) {
        const r = v as Target;
        const name = choices[r.kind]?.find((o) => o.value === r.id)?.label ?? String(r.id);
        return `${t(`common.kind_${r.kind}`, { defaultValue: r.kind })}: ${name}`;
      }
      if (f === 'agent_ids') return agentList.find((a) => a.id === v)?.name;
      if (f === 'display' && typeof v === 'string') return t(`number.d_${v}`, { defaultValue: v });
      if (f === 'recording' && typeof v === 'string') return t(`number.r_${v}`, { defaultValue: v });
      return undefined;
    },
    defaults: {
      number: '',
      name: '',
      prefix: null,
      route: null,
      max_channels: 0,
      incoming_popup_url: '',
      answer_popup_url: '',
      display: 'number_name',
      incoming_message: '',
      outgoing_message: '',
      caller_area_routing: false,
      agent_ids: [],
      recording: 'inherit',
    },
    render: ({ isNew, item }) => (
      <>
        <Field name="number" label={label('number')} required>
          {isNew ? <TextInput name="number" required /> : <span className="readonly">{item?.number}</span>}
        </Field>
        <Field name="name" label={label('name')}>
          <TextInput name="name" />
        </Field>
        <Field name="prefix" label={label('prefix')}>
          <TextInput name="prefix" nullable />
        </Field>
        <Field name="route" label={label('route')}>
          <TargetPicker name="route" kinds={['group', 'agent', 'voice_file', 'ivr', 'forward']} choices={choices} />
        </Field>
        <Field name="max_channels" label={label('max_channels')}>
          <NumberInput name="max_channels" min={0} />
        </Field>
        <Field name="incoming_popup_url" label={label('incoming_popup_url')} hint="http://example/?num=@@@@">
          <TextInput name="incoming_popup_url" type="url" />
        </Field>
        <Field name="answer_popup_url" label={label('answer_popup_url')}>
          <TextInput name="answer_popup_url" type="url" />
        </Field>
        <Field name="display" label={label('display')}>
          <SelectInput
            name="display"
            options={[
              { value: 'number_name', label: t('number.d_number_name') },
              { value: 'name', label: t('number.d_name') },
              { value: 'number', label: t('number.d_number') },
            ]}
          />
        </Field>
        <Field name="incoming_message" label={label('incoming_message')}>
          <TextArea name="incoming_message" rows={2} />
        </Field>
        <Field name="outgoing_message" label={label('outgoing_message')}>
          <TextArea name="outgoing_message" rows={2} />
        </Field>
        <Field name="caller_area_routing" label={label('caller_area_routing')} group>
          <OnOff name="caller_area_routing" />
        </Field>
        <Field name="recording" label={label('recording')}>
          <SelectInput
            name="recording"
            options={[
              { value: 'inherit', label: t('number.r_inherit') },
              { value: 'on', label: t('number.r_on') },
              { value: 'off', label: t('number.r_off') },
            ]}
          />
        </Field>
        <Field name="agent_ids" label={label('agent_ids')} group>
          <Checklist
            name="agent_ids"
            columns={[t('common.name'), t('agent.extension')]}
            rows={agentList.map((a) => ({ id: a.id, label: a.name, cells: [a.name, a.extension ?? t('common.not_set')] }))}
          />
        </Field>
      </>
    ),
  };
  return <DetailScreen key={id} config={config} id={id} />;
}
