import { useTranslation } from 'react-i18next';
import { trunks } from '../../api/resources';
import type { Trunk, TrunkInput } from '../../api/types';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { Field, LinesInput, OnOff, SelectInput, TextInput } from '../../components/form';
import { formatDate } from '../../format';

const CALLER_ID_LABELS: Record<string, string> = {
  from: 'From',
  pai: 'P-Asserted-Identity',
  both: 'From + P-Asserted-Identity',
};

export function TrunkList() {
  const { t } = useTranslation();
  const config: ListConfig<Trunk> = {
    coll: trunks,
    title: t('trunk.list_title'),
    testId: 'trunk-list',
    permRow: 'trunk',
    filters: [{ name: 'name', label: t('trunk.name') }],
    columns: [
      { label: t('trunk.name'), render: (x) => x.name },
      { label: t('trunk.outbound_host'), render: (x) => x.outbound_host ?? '' },
      { label: t('trunk.enabled'), render: (x) => (x.enabled ? t('common.on') : t('common.off')) },
      { label: t('common.updated_col'), render: (x) => formatDate(x.updated_at) },
    ],
  };
  return <ListScreen config={config} />;
}

export function TrunkDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const label = (f: string) => t(`trunk.${f}`, { defaultValue: f });
  const config: DetailConfig<Trunk, TrunkInput> = {
    coll: trunks,
    title: t('trunk.detail_title'),
    testId: 'trunk-form',
    permRow: 'trunk',
    fields: ['name', 'allowed_sources', 'outbound_host', 'username', 'password', 'register', 'caller_id_header', 'enabled'],
    writeOnly: ['password'],
    labelFor: label,
    formatValue: (f, v) => (f === 'caller_id_header' && typeof v === 'string' ? CALLER_ID_LABELS[v] : undefined),
    defaults: {
      name: '',
      allowed_sources: [],
      outbound_host: null,
      username: null,
      password: '',
      register: false,
      caller_id_header: 'from',
      enabled: true,
    },
    render: ({ isNew, item }) => (
      <>
        <Field name="name" label={label('name')} required>
          <TextInput name="name" required />
        </Field>
        <Field name="allowed_sources" label={label('allowed_sources')} hint={t('trunk.allowed_sources_hint')}>
          <LinesInput name="allowed_sources" />
        </Field>
        <Field name="outbound_host" label={label('outbound_host')} hint={t('trunk.outbound_host_hint')}>
          <TextInput name="outbound_host" nullable />
        </Field>
        <Field name="username" label={label('username')}>
          <TextInput name="username" nullable />
        </Field>
        <Field name="password" label={label('password')}>
          <TextInput name="password" type="password" placeholder={!isNew && item?.password_set ? t('common.no_update') : t('common.not_set')} />
        </Field>
        <Field name="register" label={label('register')} group>
          <OnOff name="register" />
        </Field>
        <Field name="caller_id_header" label={label('caller_id_header')}>
          <SelectInput
            name="caller_id_header"
            options={Object.entries(CALLER_ID_LABELS).map(([value, label]) => ({ value, label }))}
          />
        </Field>
        <Field name="enabled" label={label('enabled')} group>
          <OnOff name="enabled" />
        </Field>
      </>
    ),
  };
  return <DetailScreen key={id} config={config} id={id} />;
}
