import { useTranslation } from 'react-i18next';
import { agentStatuses, agents, forwardings, groups, ivrs, voiceFiles } from '../../api/resources';
import type { Group, GroupInput, GroupMember, Strategy, Target } from '../../api/types';
import { useAuth } from '../../auth';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { ColorWidget, Field, fieldId, NumberInput, OnOff, SelectInput, TargetPicker, TextInput, useForm, VoicePicker, type Option } from '../../components/form';
import { formatDate } from '../../format';
import { useAll } from '../../hooks';

const STRATEGIES: readonly Strategy[] = ['ring_all', 'longest_idle', 'shortest_talk', 'random', 'round_robin', 'level_ratio'];
const FIELDS = [
  'name',
  'extension',
  'strategy',
  'max_answering',
  'max_waiting',
  'overflow',
  'timeout',
  'timeout_target',
  'ring_time',
  'queue_start_delay',
  'no_answer_pause',
  'no_answer_pause_time',
  'acw_status_id',
  'acw_time',
  'display_name',
  'color_fg',
  'color_bg',
  'greeting_voice_id',
  'queue_voice_id',
  'hold_voice_id',
  'answer_voice_id',
  'members',
];
/** GROUP-24…27, in the manual's order. */
const VOICE_FIELDS = ['greeting_voice_id', 'queue_voice_id', 'hold_voice_id', 'answer_voice_id'] as const;

export function ColorChip({ fg, bg, text }: { fg: string; bg: string; text: string }) {
  return (
    <span className="chip" style={{ color: fg, background: bg }}>
      {text}
    </span>
  );
}

export function GroupList() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const agentList = useAll(agents, can('agent.view'));
  const config: ListConfig<Group> = {
    coll: groups,
    title: t('group.list_title'),
    testId: 'group-list',
    permRow: 'group',
    filters: [
      { name: 'name', label: t('group.name') },
      ...(agentList.length
        ? [{ name: 'agent_id', label: t('group.agent_filter'), options: agentList.map((a) => ({ value: a.id, label: `${a.name} (${a.login_id})` })) }]
        : []),
      { name: 'extension', label: t('group.extension') },
    ],
    columns: [
      { label: t('group.name'), render: (g) => g.name },
      { label: t('group.extension'), render: (g) => g.extension ?? t('common.not_set') },
      { label: t('group.color'), render: (g) => <ColorChip fg={g.color_fg} bg={g.color_bg} text={g.name} /> },
      { label: t('common.updated_col'), render: (g) => formatDate(g.updated_at) },
    ],
  };
  return <ListScreen config={config} />;
}

function Members({ rows }: { rows: { id: number; name: string; extension?: string | null }[] }) {
  const { t } = useTranslation();
  const f = useForm();
  f.rendered.add('members');
  const members: GroupMember[] = Array.isArray(f.values.members) ? f.values.members : [];
  const find = (id: number) => members.find((m) => m.agent_id === id);
  const setMember = (id: number, on: boolean, level?: number) => {
    const rest = members.filter((m) => m.agent_id !== id);
    f.set('members', on ? [...rest, { agent_id: id, skill_level: level ?? find(id)?.skill_level ?? 0 }] : rest);
  };
  if (!rows.length) return <span className="muted">{t('common.no_records')}</span>;
  return (
    <table className="checklist" id={fieldId('members')}>
      <thead>
        <tr>
          <th scope="col">{t('group.member_on')}</th>
          <th scope="col">{t('common.name')}</th>
          <th scope="col">{t('group.extension')}</th>
          <th scope="col">{t('group.skill_level')}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((a) => {
          const m = find(a.id);
          const cb = `member-${a.id}`;
          return (
            <tr key={a.id}>
              <td>
                <input id={cb} type="checkbox" checked={!!m} disabled={f.disabled} onChange={(e) => setMember(a.id, e.target.checked)} />
              </td>
              <td>
                <label htmlFor={cb}>{a.name}</label>
              </td>
              <td>{a.extension ?? t('common.not_set')}</td>
              <td>
                <input
                  type="number"
                  min={0}
                  className="narrow"
                  aria-label={`${t('group.skill_level')} ${a.name}`}
                  disabled={!m || f.disabled}
                  value={m ? m.skill_level : ''}
                  onChange={(e) => setMember(a.id, true, Number(e.target.value || 0))}
                />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function GroupDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const agentList = useAll(agents, can('agent.view'));
  const groupList = useAll(groups, can('group.view'));
  const statusList = useAll(agentStatuses, can('agent_status.view'));
  const voiceList = useAll(voiceFiles, can('voice.view'));
  const ivrList = useAll(ivrs, can('ivr.view'));
  const forwardList = useAll(forwardings, can('forward.view'));
  const label = (f: string) => t(`group.${f}`, { defaultValue: f });
  const choices: Record<string, Option[]> = {
    group: groupList.filter((g) => String(g.id) !== id).map((g) => ({ value: g.id, label: g.name })),
    agent: agentList.map((a) => ({ value: a.id, label: `${a.name} (${a.login_id})` })),
    voice_file: voiceList.map((v) => ({ value: v.id, label: v.name })),
    ivr: ivrList.map((i) => ({ value: i.id, label: i.name })),
    forward: forwardList.map((f) => ({ value: f.id, label: `${f.name} (${f.destination})` })),
  };
  const sec = t('group.seconds');
  const config: DetailConfig<Group, GroupInput> = {
    coll: groups,
    title: t('group.detail_title'),
    testId: 'group-form',
    permRow: 'group',
    fields: FIELDS,
    labelFor: label,
    formatValue: (f, v) => {
      const agentName = (id: unknown) => agentList.find((a) => a.id === id)?.name ?? String(id);
      if (f === 'members' && v && typeof v === 'object' && 'agent_id' in v) {
        const m = v as GroupMember;
        return `${agentName(m.agent_id)} (${t('group.skill_level')} ${m.skill_level})`;
      }
      if ((f === 'overflow' || f === 'timeout_target') && v && typeof v === 'object' && 'kind' in v) {
        const tg = v as Target;
        const name = choices[tg.kind]?.find((o) => o.value === tg.id)?.label ?? String(tg.id);
        return `${t(`common.kind_${tg.kind}`, { defaultValue: tg.kind })}: ${name}`;
      }
      if (f === 'acw_status_id') return statusList.find((s) => s.id === v)?.name;
      if ((VOICE_FIELDS as readonly string[]).includes(f)) return v === null ? t('common.not_set') : voiceList.find((s) => s.id === v)?.name;
      if (f === 'strategy' && typeof v === 'string') return t(`group.s_${v}`, { defaultValue: v });
      return undefined;
    },
    defaults: {
      name: '',
      extension: null,
      strategy: 'ring_all',
      max_answering: 99,
      max_waiting: 99,
      overflow: null,
      timeout: 300,
      timeout_target: null,
      ring_time: 20,
      queue_start_delay: 0,
      no_answer_pause: false,
      no_answer_pause_time: 0,
      acw_status_id: null,
      acw_time: 0,
      display_name: '',
      color_fg: '#ffffff',
      color_bg: '#777777',
      greeting_voice_id: null,
      queue_voice_id: null,
      hold_voice_id: null,
      answer_voice_id: null,
      members: [],
    },
    render: () => (
      <>
        <Field name="name" label={label('name')} required>
          <TextInput name="name" required />
        </Field>
        <Field name="extension" label={label('extension')}>
          <TextInput name="extension" nullable placeholder={t('common.not_set')} />
        </Field>
        <Field name="strategy" label={label('strategy')}>
          <SelectInput name="strategy" options={STRATEGIES.map((s) => ({ value: s, label: t(`group.s_${s}`) }))} />
        </Field>
        <Field name="max_answering" label={label('max_answering')}>
          <NumberInput name="max_answering" min={0} />
        </Field>
        <Field name="max_waiting" label={label('max_waiting')}>
          <NumberInput name="max_waiting" min={0} />
        </Field>
        <Field name="overflow" label={label('overflow')}>
          <TargetPicker name="overflow" kinds={['group', 'agent', 'voice_file', 'ivr', 'forward']} choices={choices} />
        </Field>
        <Field name="timeout" label={label('timeout')}>
          <NumberInput name="timeout" nullable min={0} suffix={sec} />
        </Field>
        <Field name="timeout_target" label={label('timeout_target')}>
          <TargetPicker name="timeout_target" kinds={['group', 'agent', 'voice_file', 'ivr', 'forward']} choices={choices} />
        </Field>
        <Field name="ring_time" label={label('ring_time')}>
          <NumberInput name="ring_time" min={0} suffix={sec} />
        </Field>
        <Field name="queue_start_delay" label={label('queue_start_delay')}>
          <NumberInput name="queue_start_delay" min={0} suffix={sec} />
        </Field>
        <Field name="no_answer_pause" label={label('no_answer_pause')} group>
          <OnOff name="no_answer_pause" />
        </Field>
        <Field name="no_answer_pause_time" label={label('no_answer_pause_time')}>
          <NumberInput name="no_answer_pause_time" min={0} suffix={sec} />
        </Field>
        <Field name="acw_status_id" label={label('acw_status_id')}>
          <SelectInput name="acw_status_id" options={[{ value: null, label: t('common.off') }, ...statusList.map((s) => ({ value: s.id, label: s.name }))]} />
        </Field>
        <Field name="acw_time" label={label('acw_time')}>
          <NumberInput name="acw_time" min={0} suffix={sec} />
        </Field>
        {VOICE_FIELDS.map((v) => (
          <Field key={v} name={v} label={label(v)}>
            <VoicePicker name={v} files={voiceList} />
          </Field>
        ))}
        <Field name="display_name" label={label('display_name')}>
          <TextInput name="display_name" />
        </Field>
        <Field name="color_fg" label={label('color')}>
          <ColorWidget fg="color_fg" bg="color_bg" />
        </Field>
        <Field name="members" label={label('members')} group>
          <Members rows={agentList} />
        </Field>
      </>
    ),
  };
  return <DetailScreen key={id} config={config} id={id} />;
}
