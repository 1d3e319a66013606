import { createContext, useContext, useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { Target } from '../api/types';
import { formatClock } from '../format';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Values = Record<string, any>;

export interface FormCtx {
  values: Values;
  set: (name: string, value: unknown) => void;
  errors: Record<string, string>;
  /** Fields rendered on the form; errors naming other fields are shown at the top. */
  rendered: Set<string>;
  disabled?: boolean;
}

export const FormContext = createContext<FormCtx | null>(null);

export function useForm(): FormCtx {
  const f = useContext(FormContext);
  if (!f) throw new Error('field outside form');
  return f;
}

export const fieldId = (name: string) => `f-${name.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
const errId = (name: string) => `${fieldId(name)}-error`;

function useFieldBinding(name: string) {
  const f = useForm();
  f.rendered.add(name);
  const error = f.errors[name];
  return {
    f,
    value: f.values[name],
    error,
    aria: {
      id: fieldId(name),
      name,
      'aria-invalid': error ? (true as const) : undefined,
      'aria-describedby': error ? errId(name) : undefined,
      disabled: f.disabled,
    },
  };
}

export function FieldError({ name }: { name: string }) {
  const f = useForm();
  const msg = f.errors[name];
  if (!msg) return null;
  return (
    <div className="field-error" id={errId(name)} role="alert" data-field={name}>
      {msg}
    </div>
  );
}

/** One labelled row of a detail form: label | control + error beside it. */
export function Field({
  name,
  label,
  required,
  hint,
  group,
  children,
}: {
  name: string;
  label: string;
  required?: boolean;
  hint?: string;
  /** true when the control is a group (radios/checklist): no <label for>. */
  group?: boolean;
  children: ReactNode;
}) {
  const labelId = `${fieldId(name)}-label`;
  return (
    <div className="form-row" data-field-row={name}>
      <div className="form-label">
        {group ? (
          <span id={labelId}>{label}</span>
        ) : (
          <label id={labelId} htmlFor={fieldId(name)}>
            {label}
          </label>
        )}
        {required && (
          <span className="req" aria-hidden="true">
            *
          </span>
        )}
      </div>
      <div className="form-control">
        <div className="control-line">
          {group ? (
            <div role="group" aria-labelledby={labelId}>
              {children}
            </div>
          ) : (
            children
          )}
          <FieldError name={name} />
        </div>
        {hint && <div className="hint">{hint}</div>}
      </div>
    </div>
  );
}

export function TextInput({
  name,
  type = 'text',
  nullable,
  placeholder,
  required,
  autoComplete,
  maxLength,
  readOnly,
}: {
  name: string;
  type?: 'text' | 'password' | 'url' | 'email';
  nullable?: boolean;
  placeholder?: string;
  required?: boolean;
  autoComplete?: string;
  maxLength?: number;
  readOnly?: boolean;
}) {
  const { f, value, aria } = useFieldBinding(name);
  return (
    <input
      {...aria}
      type={type}
      value={value ?? ''}
      placeholder={placeholder}
      aria-required={required || undefined}
      autoComplete={autoComplete ?? (type === 'password' ? 'new-password' : 'off')}
      maxLength={maxLength}
      readOnly={readOnly}
      onChange={(e) => f.set(name, nullable && e.target.value === '' ? null : e.target.value)}
    />
  );
}

export function TextArea({ name, rows = 3 }: { name: string; rows?: number }) {
  const { f, value, aria } = useFieldBinding(name);
  return <textarea {...aria} rows={rows} value={value ?? ''} onChange={(e) => f.set(name, e.target.value)} />;
}

/** A list of strings edited as one line per entry. */
export function LinesInput({ name, rows = 3 }: { name: string; rows?: number }) {
  const { f, value, aria } = useFieldBinding(name);
  const text = Array.isArray(value) ? (value as string[]).join('\n') : '';
  return (
    <textarea
      {...aria}
      rows={rows}
      value={text}
      onChange={(e) =>
        f.set(
          name,
          e.target.value.split('\n').map((s) => s.trim()).filter((s, i, arr) => s !== '' || i < arr.length - 1),
        )
      }
      onBlur={(e) => f.set(name, e.target.value.split('\n').map((s) => s.trim()).filter(Boolean))}
    />
  );
}

export function NumberInput({
  name,
  nullable,
  min,
  max,
  suffix,
}: {
  name: string;
  nullable?: boolean;
  min?: number;
  max?: number;
  suffix?: string;
}) {
  const { f, value, aria } = useFieldBinding(name);
  return (
    <span className="number-input">
      <input
        {...aria}
        type="number"
        inputMode="numeric"
        min={min}
        max={max}
        value={value === null || value === undefined ? '' : String(value)}
        onChange={(e) => {
          const s = e.target.value;
          if (s === '') f.set(name, nullable ? null : 0);
          else f.set(name, Number(s));
        }}
      />
      {suffix && <span className="suffix">{suffix}</span>}
    </span>
  );
}

export interface Option {
  value: string | number | null;
  label: string;
}

const encode = (v: unknown) => (v === null || v === undefined ? '' : String(v));

export function SelectInput({ name, options }: { name: string; options: Option[] }) {
  const { f, value, aria } = useFieldBinding(name);
  const opts = [...options];
  if (value !== undefined && !opts.some((o) => encode(o.value) === encode(value))) {
    opts.push({ value: value as string | number | null, label: value === null ? '' : String(value) });
  }
  return (
    <select
      {...aria}
      value={encode(value)}
      onChange={(e) => {
        const hit = opts.find((o) => encode(o.value) === e.target.value);
        f.set(name, hit ? hit.value : null);
      }}
    >
      {opts.map((o) => (
        <option key={encode(o.value)} value={encode(o.value)}>
          {o.label}
        </option>
      ))}
    </select>
  );
}

export function RadioGroup({ name, options }: { name: string; options: { value: string | boolean; label: string }[] }) {
  const { f, value, error } = useFieldBinding(name);
  const uid = useId();
  return (
    <span className="radio-group">
      {options.map((o, i) => {
        const id = i === 0 ? fieldId(name) : `${fieldId(name)}-${i}`;
        return (
          <label key={String(o.value)} htmlFor={id} className="inline">
            <input
              id={id}
              type="radio"
              name={`${name}-${uid}`}
              checked={value === o.value}
              aria-invalid={error ? true : undefined}
              disabled={f.disabled}
              onChange={() => f.set(name, o.value)}
            />
            {o.label}
          </label>
        );
      })}
    </span>
  );
}

export function OnOff({ name }: { name: string }) {
  const { t } = useTranslation();
  return (
    <RadioGroup
      name={name}
      options={[
        { value: true, label: t('common.on') },
        { value: false, label: t('common.off') },
      ]}
    />
  );
}

export function ReadOnlyText({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <span className="readonly" data-testid={testId}>
      {children}
    </span>
  );
}

/** Checklist of ids (number_ids, agent_ids): a small table with a checkbox per row. */
export function Checklist({
  name,
  rows,
  columns,
}: {
  name: string;
  rows: { id: number; cells: ReactNode[]; label: string }[];
  columns: string[];
}) {
  const { t } = useTranslation();
  const { f, value, error } = useFieldBinding(name);
  const selected: number[] = Array.isArray(value) ? value : [];
  const toggle = (id: number, on: boolean) =>
    f.set(name, on ? [...selected.filter((x) => x !== id), id] : selected.filter((x) => x !== id));
  if (rows.length === 0) return <span className="muted">{t('common.no_records')}</span>;
  return (
    <table className="checklist" aria-invalid={error ? true : undefined}>
      <thead>
        <tr>
          <th scope="col">
            <span className="sr-only">{t('common.select_row')}</span>
          </th>
          {columns.map((c) => (
            <th key={c} scope="col">
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => {
          const id = `${fieldId(name)}-${r.id}`;
          return (
            <tr key={r.id}>
              <td>
                <input
                  id={id}
                  type="checkbox"
                  checked={selected.includes(r.id)}
                  aria-label={r.label}
                  disabled={f.disabled}
                  onChange={(e) => toggle(r.id, e.target.checked)}
                />
              </td>
              {r.cells.map((c, i) => (
                <td key={i}>{i === 0 ? <label htmlFor={id}>{c}</label> : c}</td>
              ))}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

const HEX = /^#[0-9a-fA-F]{6}$/;

/** UI-17 colour widget: preview + text colour hex + background colour hex. */
export function ColorWidget({ fg, bg }: { fg: string; bg: string }) {
  const { t } = useTranslation();
  const a = useFieldBinding(fg);
  const b = useFieldBinding(bg);
  const fgv = String(a.value ?? '');
  const bgv = String(b.value ?? '');
  return (
    <span className="color-widget">
      <span
        className="color-preview"
        data-testid="color-preview"
        style={{ color: HEX.test(fgv) ? fgv : undefined, background: HEX.test(bgv) ? bgv : undefined }}
      >
        {t('common.color_preview')}
      </span>
      <input
        {...a.aria}
        type="text"
        className="hex"
        aria-label={t('common.color_fg')}
        value={fgv}
        maxLength={7}
        pattern="#[0-9a-fA-F]{6}"
        onChange={(e) => a.f.set(fg, e.target.value)}
      />
      <input
        type="color"
        aria-label={`${t('common.color_fg')} (picker)`}
        value={HEX.test(fgv) ? fgv.toLowerCase() : '#000000'}
        onChange={(e) => a.f.set(fg, e.target.value)}
        tabIndex={-1}
      />
      <input
        {...b.aria}
        type="text"
        className="hex"
        aria-label={t('common.color_bg')}
        value={bgv}
        maxLength={7}
        pattern="#[0-9a-fA-F]{6}"
        onChange={(e) => b.f.set(bg, e.target.value)}
      />
      <input
        type="color"
        aria-label={`${t('common.color_bg')} (picker)`}
        value={HEX.test(bgv) ? bgv.toLowerCase() : '#ffffff'}
        onChange={(e) => b.f.set(bg, e.target.value)}
        tabIndex={-1}
      />
      <FieldError name={bg} />
    </span>
  );
}

/** UI-16: type part of a name, pick from the matching targets of every kind (arrow keys, Enter). */
function TargetSearch({
  name,
  kinds,
  choices,
  onPick,
}: {
  name: string;
  kinds: string[];
  choices: Record<string, Option[]>;
  onPick: (kind: string, id: Option['value']) => void;
}) {
  const { t } = useTranslation();
  const [text, setText] = useState('');
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const listId = `${fieldId(name)}-matches`;
  const q = text.trim().toLowerCase();
  const matches = q
    ? kinds
        .flatMap((k) => (choices[k] ?? []).map((o) => ({ kind: k, option: o })))
        .filter(({ option }) => option.label.toLowerCase().includes(q) || String(option.value) === q)
        .slice(0, 20)
    : [];
  const pick = (i: number) => {
    const m = matches[i];
    if (!m) return;
    onPick(m.kind, m.option.value);
    setText('');
    setOpen(false);
  };
  return (
    <span className="target-search">
      <input
        type="search"
        role="combobox"
        aria-label={t('common.target_search')}
        aria-expanded={open && matches.length > 0}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open && matches[active] ? `${listId}-${active}` : undefined}
        placeholder={t('common.target_search')}
        data-testid={`${fieldId(name)}-search`}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
          setActive(0);
        }}
        onBlur={() => window.setTimeout(() => setOpen(false), 150)}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown') {
            e.preventDefault();
            setOpen(true);
            setActive((a) => Math.min(a + 1, Math.max(matches.length - 1, 0)));
          } else if (e.key === 'ArrowUp') {
            e.preventDefault();
            setActive((a) => Math.max(a - 1, 0));
          } else if (e.key === 'Enter' && open && matches.length > 0) {
            e.preventDefault();
            pick(active);
          } else if (e.key === 'Escape') {
            setOpen(false);
          }
        }}
      />
      {open && q && (
        <ul className="target-matches" role="listbox" id={listId}>
          {matches.length === 0 && <li className="muted">{t('common.no_match')}</li>}
          {matches.map((m, i) => (
            <li
              key={`${m.kind}-${String(m.option.value)}`}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'active' : undefined}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(i);
              }}
            >
              <span className="muted">{t(`common.kind_${m.kind}`, { defaultValue: m.kind })}</span> {m.option.label}
            </li>
          ))}
        </ul>
      )}
    </span>
  );
}

/** Routing-target picker: kind select + target select (or numeric id for kinds without a list
 * yet), and a type-ahead search across every kind (UI-16). */
export function TargetPicker({
  name,
  kinds,
  choices,
}: {
  name: string;
  kinds: string[];
  choices: Record<string, Option[]>;
}) {
  const { t } = useTranslation();
  const { f, value, aria } = useFieldBinding(name);
  const v = value as Target | null | undefined;
  const kind = v?.kind ?? '';
  const allKinds = kind && !kinds.includes(kind) ? [...kinds, kind] : kinds;
  const list = choices[kind];
  // A kind chosen before its list had loaded holds no target yet (id 0): the first one, once
  // the list is there, as when the list was there at once.
  const firstLoaded = list?.[0]?.value;
  const unchosen = kind !== '' && (v?.id === 0 || v?.id === undefined);
  useEffect(() => {
    if (unchosen && firstLoaded !== undefined) f.set(name, { kind, id: firstLoaded });
  }, [unchosen, firstLoaded, kind, name, f]);
  return (
    <span className="target-picker">
      <select
        {...aria}
        aria-label={t('common.target_kind')}
        value={kind}
        onChange={(e) => {
          const k = e.target.value;
          if (!k) return f.set(name, null);
          const first = choices[k]?.[0]?.value;
          f.set(name, { kind: k, id: first ?? 0 });
        }}
      >
        <option value="">{t('common.not_set')}</option>
        {allKinds.map((k) => (
          <option key={k} value={k}>
            {t(`common.kind_${k}`, { defaultValue: k })}
          </option>
        ))}
      </select>
      {kind &&
        (list ? (
          <select
            id={`${fieldId(name)}-id`}
            aria-label={t('common.target_id')}
            value={String(v?.id ?? '')}
            disabled={f.disabled}
            onChange={(e) => {
              const hit = list.find((o) => String(o.value) === e.target.value);
              f.set(name, { kind, id: hit ? hit.value : e.target.value });
            }}
          >
            {!list.some((o) => String(o.value) === String(v?.id)) && <option value={String(v?.id ?? '')}>{String(v?.id ?? '')}</option>}
            {list.map((o) => (
              <option key={String(o.value)} value={String(o.value)}>
                {o.label}
              </option>
            ))}
          </select>
        ) : (
          <input
            id={`${fieldId(name)}-id`}
            type="number"
            aria-label={t('common.target_id')}
            value={String(v?.id ?? '')}
            disabled={f.disabled}
            onChange={(e) => f.set(name, { kind, id: Number(e.target.value) })}
          />
        ))}
      {!f.disabled && <TargetSearch name={name} kinds={kinds} choices={choices} onPick={(k, id) => f.set(name, { kind: k, id })} />}
    </span>
  );
}

/** What the voice-file picker lists. */
export interface VoiceChoice {
  id: number;
  name: string;
  duration_ms: number;
}

/**
 * UI-15 voice-file picker: the chosen file's name, an icon that opens a selection screen
 * listing the registered voice files, and a clear button. The value is a voice file id or null.
 */
export function VoicePicker({ name, files }: { name: string; files: VoiceChoice[] }) {
  const { t } = useTranslation();
  const { f, value, aria } = useFieldBinding(name);
  const [open, setOpen] = useState(false);
  const id = typeof value === 'number' ? value : null;
  const current = files.find((v) => v.id === id);
  const text = id === null ? t('common.not_set') : (current?.name ?? `#${id}`);
  return (
    <span className="voice-picker">
      <input {...aria} type="text" readOnly className="voice-picker-value" value={text} onClick={() => !f.disabled && setOpen(true)} />
      <button
        type="button"
        className="btn btn-small icon-btn"
        title={t('voice.pick')}
        aria-label={t('voice.pick')}
        disabled={f.disabled}
        data-testid={`${name}-pick`}
        onClick={() => setOpen(true)}
      >
        <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
          <path fill="currentColor" d="M12 3v10.55A4 4 0 1 0 14 17V7h4V3h-6z" />
        </svg>
      </button>
      {id !== null && !f.disabled && (
        <button type="button" className="btn btn-small" aria-label={t('voice.clear')} title={t('voice.clear')} onClick={() => f.set(name, null)}>
          ×
        </button>
      )}
      {open && (
        <VoicePickerDialog
          files={files}
          selected={id}
          onCancel={() => setOpen(false)}
          onPick={(v) => {
            f.set(name, v);
            setOpen(false);
          }}
        />
      )}
    </span>
  );
}

function VoicePickerDialog({
  files,
  selected,
  onPick,
  onCancel,
}: {
  files: VoiceChoice[];
  selected: number | null;
  onPick: (id: number | null) => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  const [q, setQ] = useState('');
  const search = useRef<HTMLInputElement>(null);
  useEffect(() => search.current?.focus(), []);
  const shown = files.filter((v) => v.name.toLowerCase().includes(q.trim().toLowerCase()));
  return (
    <div className="modal-backdrop" onKeyDown={(e) => e.key === 'Escape' && onCancel()}>
      <div className="modal voice-picker-dialog" role="dialog" aria-modal="true" aria-label={t('voice.pick_title')} data-testid="voice-picker-dialog">
        <h3>{t('voice.pick_title')}</h3>
        <input ref={search} type="search" aria-label={t('voice.name')} placeholder={t('voice.name')} value={q} onChange={(e) => setQ(e.target.value)} />
        <table className="data">
          <thead>
            <tr>
              <th scope="col">{t('voice.name')}</th>
              <th scope="col">{t('voice.duration')}</th>
              <th scope="col">
                <span className="sr-only">{t('voice.select')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td colSpan={2} className="muted">
                {t('common.not_set')}
              </td>
              <td>
                <button type="button" className="btn btn-small" disabled={selected === null} onClick={() => onPick(null)}>
                  {t('voice.select')}
                </button>
              </td>
            </tr>
            {shown.map((v) => (
              <tr key={v.id} data-id={v.id}>
                <td>{v.name}</td>
                <td>{formatClock(v.duration_ms)}</td>
                <td>
                  <button type="button" className="btn btn-small" disabled={selected === v.id} onClick={() => onPick(v.id)} aria-label={`${t('voice.select')} ${v.name}`}>
                    {t('voice.select')}
                  </button>
                </td>
              </tr>
            ))}
            {files.length === 0 && (
              <tr>
                <td colSpan={3} className="muted">
                  {t('voice.none_registered')}
                </td>
              </tr>
            )}
          </tbody>
        </table>
        <div className="modal-buttons">
          <button type="button" className="btn" onClick={onCancel}>
            {t('common.cancel')}
          </button>
        </div>
      </div>
    </div>
  );
}
