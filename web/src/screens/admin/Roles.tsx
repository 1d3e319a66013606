import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../../api/client';
import { roles } from '../../api/resources';
import type { PermissionDef, Role, RoleInput } from '../../api/types';
import { DetailScreen, type DetailConfig } from '../../components/DetailScreen';
import { ListScreen, type ListConfig } from '../../components/ListScreen';
import { Field, fieldId, TextInput, useForm } from '../../components/form';
import { formatDate } from '../../format';

let catalogue: Promise<PermissionDef[]> | null = null;
function loadCatalogue(): Promise<PermissionDef[]> {
  if (!catalogue)
    catalogue = api.get<{ items: PermissionDef[] }>('/api/v1/permissions').then(
      (r) => r.items,
      (e) => {
        catalogue = null;
        throw e;
      },
    );
  return catalogue;
}

export function usePermissionCatalogue(): PermissionDef[] | null {
  const [defs, setDefs] = useState<PermissionDef[] | null>(null);
  useEffect(() => {
    let live = true;
    loadCatalogue().then(
      (d) => live && setDefs(d),
      () => live && setDefs([]),
    );
    return () => {
      live = false;
    };
  }, []);
  return defs;
}

export function RoleList() {
  const { t } = useTranslation();
  const config: ListConfig<Role> = {
    coll: roles,
    title: t('role.list_title'),
    testId: 'role-list',
    permRow: 'role',
    filters: [{ name: 'name', label: t('role.name') }],
    columns: [
      { label: t('role.name'), render: (r) => r.name },
      { label: t('role.builtin'), render: (r) => (r.builtin ? '✓' : '') },
      { label: t('common.updated_col'), render: (r) => formatDate(r.updated_at) },
    ],
    canDelete: (r) => !r.builtin,
  };
  return <ListScreen config={config} />;
}

/** PERM-02 matrix: one row per permission row, its verbs as checkboxes. */
function Matrix({ defs }: { defs: PermissionDef[] }) {
  const { t, i18n } = useTranslation();
  const f = useForm();
  f.rendered.add('permissions');
  const en = i18n.language === 'en';
  const selected: string[] = Array.isArray(f.values.permissions) ? f.values.permissions : [];
  const rows: { row: string; label: string; verbs: PermissionDef[] }[] = [];
  for (const d of defs) {
    let r = rows.find((x) => x.row === d.row);
    if (!r) {
      r = { row: d.row, label: en ? d.row_en : d.row_ja, verbs: [] };
      rows.push(r);
    }
    r.verbs.push(d);
  }
  const toggle = (key: string, on: boolean) =>
    f.set('permissions', on ? [...selected.filter((k) => k !== key), key] : selected.filter((k) => k !== key));
  if (!defs.length) return <span className="muted">{t('common.loading')}</span>;
  return (
    <table className="matrix" id={fieldId('permissions')} data-testid="permission-matrix">
      <tbody>
        {rows.map((r) => (
          <tr key={r.row}>
            <th scope="row">{r.label}</th>
            <td>
              {r.verbs.map((d) => {
                const id = `perm-${d.key.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
                return (
                  <label key={d.key} htmlFor={id} className="inline verb">
                    <input
                      id={id}
                      type="checkbox"
                      data-key={d.key}
                      checked={selected.includes(d.key)}
                      disabled={f.disabled}
                      onChange={(e) => toggle(d.key, e.target.checked)}
                    />
                    {en ? d.verb_en : d.verb_ja}
                  </label>
                );
              })}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RoleDetail({ id }: { id: string }) {
  const { t, i18n } = useTranslation();
  const defs = usePermissionCatalogue();
  const label = (f: string) => (f === 'permissions' ? t('role.matrix') : t(`role.${f}`, { defaultValue: f }));
  const config: DetailConfig<Role, RoleInput> = {
    coll: roles,
    title: t('role.detail_title'),
    testId: 'role-form',
    permRow: 'role',
    fields: ['name', 'permissions'],
    labelFor: label,
    formatValue: (f, v) => {
      if (f !== 'permissions') return undefined;
      const d = defs?.find((x) => x.key === v);
      if (!d) return undefined;
      const en = i18n.language === 'en';
      return `${en ? d.row_en : d.row_ja} ${en ? d.verb_en : d.verb_ja}`;
    },
    defaults: { name: '', permissions: [] },
    canDelete: (r) => !r.builtin,
    deleteNote: (r) => (r.builtin ? t('role.builtin_note') : null),
    render: () => (
      <>
        <Field name="name" label={label('name')} required>
          <TextInput name="name" required />
        </Field>
        <Field name="permissions" label={label('permissions')} group>
          <Matrix defs={defs ?? []} />
        </Field>
      </>
    ),
  };
  return <DetailScreen key={id} config={config} id={id} />;
}
