import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { agents, forwardings, groups, ivrs, voiceFiles } from '../../api/resources';
import type { Ivr, IvrEntry, IvrInput, Target } from '../../api/types';
import { useAuth } from '../../auth';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { Field, LinesInput, OnOff, SelectInput, TargetPicker, TextInput, useForm, type Option } from '../../components/form';
import { formatDate } from '../../format';
import { useAll } from '../../hooks';

const FIELDS = ['name', 'default_route', 'schedule_on', 'entries', 'designated_days', 'jp_holidays', 'buttons_on', 'menu_voice_id', 'buttons'];
const KINDS: Target['kind'][] = ['agent', 'group', 'ivr', 'voice_file', 'forward'];
const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '*', '#'];
const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** What a destination can be: agents, groups, IVRs and voice files, by name (UI-16). */
function useChoices() {
  const { can } = useAuth();
  const agentList = useAll(agents, can('agent.view'));
  const groupList = useAll(groups, can('group.view'));
  const ivrList = useAll(ivrs, can('ivr.view'));
  const forwardList = useAll(forwardings, can('forward.view'));
  const voiceList = useAll(voiceFiles, can('voice.view'));
  const choices: Record<string, Option[]> = {
    agent: agentList.map((a) => ({ value: a.id, label: `${a.name} (${a.login_id})` })),
    group: groupList.map((g) => ({ value: g.id, label: g.name })),
    ivr: ivrList.map((i) => ({ value: i.id, label: i.name })),
    forward: forwardList.map((f) => ({ value: f.id, label: `${f.name} (${f.destination})` })),
    voice_file: voiceList.map((v) => ({ value: v.id, label: v.name })),
  };
  return choices;
}

function targetLabel(t: TFunction, choices: Record<string, Option[]>, r: Target | null | undefined) {
  if (!r) return t('common.not_set');
  const name = choices[r.kind]?.find((o) => String(o.value) === String(r.id))?.label ?? String(r.id);
  return `${t(`common.kind_${r.kind}`, { defaultValue: r.kind })}：${name}`;
}

export function IvrList() {
  const { t } = useTranslation();
  const onoff = (b: boolean) => (b ? t('common.on') : t('common.off'));
  const config: ListConfig<Ivr> = {
    coll: ivrs,
    title: t('ivr.list_title'),
    testId: 'ivr-list',
    permRow: 'ivr',
    filters: [{ name: 'name', label: t('ivr.name') }],
    columns: [
      { label: t('ivr.name'), render: (i) => i.name },
      { label: t('ivr.schedule_on'), render: (i) => onoff(i.schedule_on) },
      { label: t('ivr.buttons_on'), render: (i) => onoff(i.buttons_on) },
      { label: t('common.updated_col'), render: (i) => formatDate(i.updated_at) },
    ],
  };
  return <ListScreen config={config} />;
}

/** A small destination picker for one schedule row. */
function RowTarget({ value, onChange, choices, disabled, label }: { value: Target; onChange: (t: Target) => void; choices: Record<string, Option[]>; disabled?: boolean; label: string }) {
  const { t } = useTranslation();
  const list = choices[value.kind] ?? [];
  return (
    <span className="target-picker">
      <select aria-label={`${label} ${t('common.target_kind')}`} value={value.kind} disabled={disabled} onChange={(e) => onChange({ kind: e.target.value as Target['kind'], id: Number(choices[e.target.value]?.[0]?.value ?? 0) })}>
        {KINDS.map((k) => (
          <option key={k} value={k}>
            {t(`common.kind_${k}`)}
          </option>
        ))}
      </select>
      <select aria-label={`${label} ${t('common.target_id')}`} value={String(value.id)} disabled={disabled} onChange={(e) => onChange({ kind: value.kind, id: Number(e.target.value) })}>
        {!list.some((o) => String(o.value) === String(value.id)) && <option value={String(value.id)}>{String(value.id)}</option>}
        {list.map((o) => (
          <option key={String(o.value)} value={String(o.value)}>
            {o.label}
          </option>
        ))}
      </select>
    </span>
  );
}

/** IVR-05: schedule entries 1番, 2番, … with time range, weekdays, ★ and destination. */
function EntriesEditor({ choices }: { choices: Record<string, Option[]> }) {
  const { t } = useTranslation();
  const f = useForm();
  f.rendered.add('entries');
  const entries = (f.values.entries ?? []) as IvrEntry[];
  const first = choices.group?.[0];
  const setAt = (i: number, patch: Partial<IvrEntry>) => f.set('entries', entries.map((e, j) => (j === i ? { ...e, ...patch } : e)));
  const err = (i: number, k: string) => {
    const name = `entries[${i}].${k}`;
    f.rendered.add(name);
    return f.errors[name];
  };
  return (
    <div className="ivr-entries" data-testid="ivr-entries">
      {entries.map((e, i) => (
        <fieldset key={i} className="ivr-entry" data-entry={i}>
          <legend>{t('ivr.entry_n', { n: i + 1 })}</legend>
          <label>
            {t('ivr.time')}{' '}
            <input type="time" aria-label={t('ivr.from')} name={`entries.${i}.from`} value={e.from} disabled={f.disabled} onChange={(ev) => setAt(i, { from: ev.target.value })} />
          </label>{' '}
          →{' '}
          <input type="time" aria-label={t('ivr.to')} name={`entries.${i}.to`} value={e.to} disabled={f.disabled} onChange={(ev) => setAt(i, { to: ev.target.value })} />
          {(err(i, 'from') || err(i, 'to')) && <div className="field-error">{err(i, 'from') ?? err(i, 'to')}</div>}
          <div className="weekdays" role="group" aria-label={t('ivr.weekdays')}>
            {WEEKDAYS.map((d, j) => (
              <label key={d}>
                <input
                  type="checkbox"
                  name={`entries.${i}.${d}`}
                  checked={Boolean(e.weekdays[j])}
                  disabled={f.disabled}
                  onChange={(ev) => setAt(i, { weekdays: e.weekdays.map((w, k) => (k === j ? ev.target.checked : w)) })}
                />
                {t(`ivr.wd_${d}`)}
              </label>
            ))}
            <label title={t('ivr.designated_hint')}>
              <input type="checkbox" name={`entries.${i}.designated`} checked={e.designated} disabled={f.disabled} onChange={(ev) => setAt(i, { designated: ev.target.checked })} />★
            </label>
          </div>
          <RowTarget label={t('ivr.entry_n', { n: i + 1 })} value={e.target} choices={choices} disabled={f.disabled} onChange={(target) => setAt(i, { target })} />
          {err(i, 'target') && <div className="field-error">{err(i, 'target')}</div>}
          <button type="button" className="small" disabled={f.disabled} onClick={() => f.set('entries', entries.filter((_, j) => j !== i))}>
            {t('common.delete')}
          </button>
        </fieldset>
      ))}
      <button
        type="button"
        data-testid="add-entry"
        disabled={f.disabled}
        onClick={() =>
          f.set('entries', [
            ...entries,
            { from: '09:00', to: '18:00', weekdays: [true, true, true, true, true, false, false], designated: false, target: { kind: 'group', id: Number(first?.value ?? 0) } },
          ])
        }
      >
        {t('ivr.add_entry')}
      </button>
    </div>
  );
}

/** IVR-08: buttons 1–9, 0, * and # each to a destination, or not set. */
function ButtonsEditor({ choices }: { choices: Record<string, Option[]> }) {
  const { t } = useTranslation();
  const f = useForm();
  f.rendered.add('buttons');
  const buttons = (f.values.buttons ?? {}) as Record<string, Target>;
  return (
    <table className="data ivr-buttons" data-testid="ivr-buttons">
      <tbody>
        {KEYS.map((k) => {
          const v = buttons[k];
          f.rendered.add(`buttons.${k}`);
          return (
            <tr key={k} data-key={k}>
              <th scope="row">{t('ivr.button_n', { n: k })}</th>
              <td>
                <select
                  aria-label={`${t('ivr.button_n', { n: k })} ${t('common.target_kind')}`}
                  value={v?.kind ?? ''}
                  disabled={f.disabled}
                  onChange={(e) => {
                    const next = { ...buttons };
                    if (!e.target.value) delete next[k];
                    else next[k] = { kind: e.target.value as Target['kind'], id: Number(choices[e.target.value]?.[0]?.value ?? 0) };
                    f.set('buttons', next);
                  }}
                >
                  <option value="">{t('common.not_set')}</option>
                  {KINDS.map((kind) => (
                    <option key={kind} value={kind}>
                      {t(`common.kind_${kind}`)}
                    </option>
                  ))}
                </select>{' '}
                {v && (
                  <select
                    aria-label={`${t('ivr.button_n', { n: k })} ${t('common.target_id')}`}
                    value={String(v.id)}
                    disabled={f.disabled}
                    onChange={(e) => f.set('buttons', { ...buttons, [k]: { kind: v.kind, id: Number(e.target.value) } })}
                  >
                    {(choices[v.kind] ?? []).map((o) => (
                      <option key={String(o.value)} value={String(o.value)}>
                        {o.label}
                      </option>
                    ))}
                  </select>
                )}
                {f.errors[`buttons.${k}`] && <div className="field-error">{f.errors[`buttons.${k}`]}</div>}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function IvrDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const choices = useChoices();
  const label = (f: string) => t(`ivr.${f}`, { defaultValue: f });
  const config: DetailConfig<Ivr, IvrInput> = {
    coll: ivrs,
    title: t('ivr.detail_title'),
    testId: 'ivr-form',
    permRow: 'ivr',
    fields: FIELDS,
    labelFor: label,
    formatValue: (f, v) => {
      if (f === 'default_route' && v && typeof v === 'object' && 'kind' in v) return targetLabel(t, choices, v as Target);
      return undefined;
    },
    defaults: {
      name: '',
      default_route: null,
      schedule_on: false,
      entries: [],
      designated_days: [],
      jp_holidays: false,
      buttons_on: false,
      menu_voice_id: null,
      buttons: {},
    },
    render: () => (
      <>
        <Field name="name" label={label('name')} required>
          <TextInput name="name" required maxLength={100} />
        </Field>
        <Field name="default_route" label={label('default_route')} required hint={t('ivr.default_route_hint')}>
          <TargetPicker name="default_route" kinds={KINDS} choices={choices} />
        </Field>
        <Field name="schedule_on" label={label('schedule_on')} group>
          <OnOff name="schedule_on" />
        </Field>
        <Field name="entries" label={label('entries')} group hint={t('ivr.entries_hint')}>
          <EntriesEditor choices={choices} />
        </Field>
        <Field name="designated_days" label={label('designated_days')} hint={t('ivr.designated_days_hint')}>
          <LinesInput name="designated_days" rows={3} />
        </Field>
        <Field name="jp_holidays" label={label('jp_holidays')} group hint={t('ivr.jp_holidays_hint')}>
          <OnOff name="jp_holidays" />
        </Field>
        <Field name="buttons_on" label={label('buttons_on')} group hint={t('ivr.buttons_hint')}>
          <OnOff name="buttons_on" />
        </Field>
        <Field name="menu_voice_id" label={label('menu_voice_id')}>
          <SelectInput name="menu_voice_id" options={[{ value: null, label: t('common.not_set') }, ...choices.voice_file]} />
        </Field>
        <Field name="buttons" label={label('buttons')} group>
          <ButtonsEditor choices={choices} />
        </Field>
      </>
    ),
  };
  return <DetailScreen config={config} id={id} />;
}
