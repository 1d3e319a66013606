import { useTranslation } from 'react-i18next';
import { forwardings, numbers } from '../../api/resources';
import type { Forwarding, ForwardingInput } from '../../api/types';
import { useAuth } from '../../auth';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { Field, OnOff, SelectInput, TextInput } from '../../components/form';
import { formatDate } from '../../format';
import { useAll } from '../../hooks';

const FIELDS = ['name', 'destination', 'caller_number_id', 'extension', 'use_called_number'];

/** Our phone numbers, to choose the caller number from (FWD-02 発信者番号). */
function useNumbers() {
  const { can } = useAuth();
  return useAll(numbers, can('number.view'));
}

export function ForwardingList() {
  const { t } = useTranslation();
  const numberList = useNumbers();
  const callerNumber = (f: Forwarding) => {
    if (f.use_called_number) return t('forwarding.called_number');
    return numberList.find((n) => n.id === f.caller_number_id)?.number ?? (f.caller_number_id != null ? String(f.caller_number_id) : '');
  };
  const config: ListConfig<Forwarding> = {
    coll: forwardings,
    title: t('forwarding.list_title'),
    testId: 'forwarding-list',
    permRow: 'forward',
    filters: [
      { name: 'name', label: t('forwarding.name') },
      { name: 'destination', label: t('forwarding.destination') },
    ],
    columns: [
      { label: t('forwarding.name'), render: (f) => f.name },
      { label: t('forwarding.destination'), render: (f) => f.destination },
      { label: t('forwarding.caller_number_id'), render: callerNumber },
      { label: t('common.updated_col'), render: (f) => formatDate(f.updated_at) },
    ],
  };
  return <ListScreen config={config} />;
}

export function ForwardingDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const numberList = useNumbers();
  const label = (f: string) => t(`forwarding.${f}`, { defaultValue: f });
  const numberOptions = [
    { value: null, label: t('common.not_set') },
    ...numberList.map((n) => ({ value: n.id, label: n.name ? `${n.number} (${n.name})` : n.number })),
  ];
  const config: DetailConfig<Forwarding, ForwardingInput> = {
    coll: forwardings,
    title: t('forwarding.detail_title'),
    testId: 'forwarding-form',
    permRow: 'forward',
    fields: FIELDS,
    labelFor: label,
    formatValue: (f, v) => (f === 'caller_number_id' ? numberList.find((n) => n.id === v)?.number : undefined),
    defaults: {
      name: '',
      destination: '',
      caller_number_id: null,
      extension: null,
      use_called_number: false,
    },
    render: () => (
      <>
        <Field name="name" label={label('name')} required>
          <TextInput name="name" required />
        </Field>
        <Field name="destination" label={label('destination')} hint={t('forwarding.destination_hint')} required>
          <TextInput name="destination" required />
        </Field>
        <Field name="caller_number_id" label={label('caller_number_id')} hint={t('forwarding.caller_number_hint')}>
          <SelectInput name="caller_number_id" options={numberOptions} />
        </Field>
        <Field name="extension" label={label('extension')} hint={t('forwarding.extension_hint')}>
          <TextInput name="extension" nullable />
        </Field>
        <Field name="use_called_number" label={label('use_called_number')} hint={t('forwarding.use_called_number_hint')} group>
          <OnOff name="use_called_number" />
        </Field>
      </>
    ),
  };
  return <DetailScreen key={id} config={config} id={id} />;
}
