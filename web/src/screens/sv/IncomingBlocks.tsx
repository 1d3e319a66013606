import { useTranslation } from 'react-i18next';
import { incomingBlocks } from '../../api/resources';
import type { IncomingBlock, IncomingBlockInput } from '../../api/types';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { Field, TextArea, TextInput } from '../../components/form';

const DIGITS = /^[0-9]{2,20}$/;

/** BLOCK-02/04: search by number and remarks; bulk delete needs `block.bulk_delete`. */
export function IncomingBlockList() {
  const { t } = useTranslation();
  const config: ListConfig<IncomingBlock> = {
    coll: incomingBlocks,
    title: t('block.list_title'),
    testId: 'block-list',
    permRow: 'block',
    deletePerm: 'block.bulk_delete',
    filters: [
      { name: 'number', label: t('block.number') },
      { name: 'remarks', label: t('block.remarks') },
    ],
    columns: [
      { label: t('block.number'), render: (b) => b.number },
      { label: t('block.remarks'), render: (b) => b.remarks },
    ],
  };
  return <ListScreen config={config} />;
}

/** BLOCK-03 detail. */
export function IncomingBlockDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const label = (f: string) => t(`block.${f}`, { defaultValue: f });
  const config: DetailConfig<IncomingBlock, IncomingBlockInput> = {
    coll: incomingBlocks,
    title: t('block.detail_title'),
    testId: 'block-form',
    permRow: 'block',
    deletePerm: 'block.bulk_delete',
    fields: ['number', 'remarks'],
    labelFor: label,
    defaults: { number: '', remarks: '' },
    validate: (v): Record<string, string> => (DIGITS.test(String(v.number ?? '').trim()) ? {} : { number: t('block.digits_only') }),
    render: () => (
      <>
        <Field name="number" label={label('number')} required hint={t('block.digits_only')}>
          <TextInput name="number" required maxLength={20} />
        </Field>
        <Field name="remarks" label={label('remarks')}>
          <TextArea name="remarks" />
        </Field>
      </>
    ),
  };
  return <DetailScreen key={id} config={config} id={id} />;
}
