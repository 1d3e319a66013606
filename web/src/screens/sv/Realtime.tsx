// SV → リアルタイム (RT-01…13): the group table with the All row, reorderable by drag and drop
// (saved per user), and a group's detail: bar chart, status pie, waiting calls and agents.
// Refetched when the WebSocket says something moved (debounced), plus a 60 s safety refetch.

import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart as ChartJS,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PieController,
  PointElement,
  Tooltip,
  type ChartData,
  type ChartOptions,
} from 'chart.js';
import { useCallback, useEffect, useId, useMemo, useRef, useState, type DragEvent, type KeyboardEvent } from 'react';
import { Chart, Pie } from 'react-chartjs-2';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../../api/client';
import { agentState, realtime, setSkillLevel } from '../../api/resources';
import type { RealtimeBucket, RealtimeDetail, RealtimeResponse, RealtimeRow } from '../../api/types';
import { useAuth } from '../../auth';
import { formatHms } from '../../format';
import { useDirectory, useLiveConnected, useLiveMessages, type Directory } from '../../live';
import { FolderIcon, STATUS_COLORS, StatusIcon, StatusMenu, statusKey, useStatusLabel } from '../../status';

ChartJS.register(
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  CategoryScale,
  LinearScale,
  PieController,
  ArcElement,
  Tooltip,
  Legend,
);

const HOURS = [3, 6, 9, 12, 24] as const;
const SAFETY_REFETCH_MS = 60_000;
const DEBOUNCE_MS = 100;

type RowKey = string; // 'all' | 'g<id>'
const keyOf = (r: RealtimeRow): RowKey => (r.group === null ? 'all' : `g${r.group}`);

function orderStorageKey(userId: number) {
  return `tsunagu.realtime.order.${userId}`;
}
function loadOrder(userId: number): RowKey[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(orderStorageKey(userId)) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function useFormats() {
  const { i18n } = useTranslation();
  const lang = i18n.language;
  return useMemo(() => {
    const num = new Intl.NumberFormat(lang);
    const pct = new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 });
    const hm = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' });
    const hms = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    return {
      num: (n: number) => num.format(n),
      pct: (p: number | null) => (p === null ? '-' : pct.format(p / 100)),
      hm: (ms: number) => hm.format(new Date(ms)),
      time: (ms: number) => hms.format(new Date(ms)),
    };
  }, [lang]);
}

export function RealtimeScreen() {
  const { t } = useTranslation();
  const { me } = useAuth();
  const dir = useDirectory();
  const connected = useLiveConnected();
  const userId = me!.user.id;
  const [data, setData] = useState<RealtimeResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [hours, setHours] = useState<number>(24);
  const [order, setOrder] = useState<RowKey[]>(() => loadOrder(userId));
  // server clock − local clock, for live waiting times
  const offset = useRef(0);
  const seq = useRef(0);
  const debounce = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const fetchNow = useCallback(() => {
    const mine = ++seq.current;
    realtime(selected, hours)
      .then((d) => {
        if (mine !== seq.current) return;
        offset.current = d.now - Date.now();
        setData(d);
        setError(null);
      })
      .catch((e) => {
        if (mine !== seq.current) return;
        setError(e instanceof ApiError ? e.message : String(e));
      });
  }, [selected, hours]);

  const schedule = useCallback(() => {
    if (debounce.current) clearTimeout(debounce.current);
    debounce.current = setTimeout(fetchNow, DEBOUNCE_MS);
  }, [fetchNow]);

  useEffect(() => {
    fetchNow();
    const safety = setInterval(fetchNow, SAFETY_REFETCH_MS);
    return () => {
      clearInterval(safety);
      if (debounce.current) clearTimeout(debounce.current);
    };
  }, [fetchNow]);

  useLiveMessages(() => schedule());

  const rows = useMemo(() => {
    if (!data) return [];
    const all = [data.all, ...data.groups];
    const pos = new Map(order.map((k, i) => [k, i]));
    return all
      .map((r, i) => ({ r, i }))
      .sort((a, b) => (pos.get(keyOf(a.r)) ?? 1e6 + a.i) - (pos.get(keyOf(b.r)) ?? 1e6 + b.i))
      .map((x) => x.r);
  }, [data, order]);

  const saveOrder = (keys: RowKey[]) => {
    setOrder(keys);
    try {
      localStorage.setItem(orderStorageKey(userId), JSON.stringify(keys));
    } catch {
      /* storage full or disabled: the order lasts for this visit */
    }
  };
  const move = (from: RowKey, to: RowKey) => {
    const keys = rows.map(keyOf);
    const a = keys.indexOf(from);
    const b = keys.indexOf(to);
    if (a < 0 || b < 0 || a === b) return;
    keys.splice(a, 1);
    keys.splice(b, 0, from);
    saveOrder(keys);
  };

  const selectedName = selected === null ? '' : (dir.groups.get(selected)?.name ?? `#${selected}`);

  return (
    <div className="realtime" data-testid="realtime">
      <div className="rt-head">
        <h2>{t('rt.title')}</h2>
        <span className={`rt-conn${connected ? '' : ' off'}`} data-testid="rt-connection">
          {connected ? `● ${t('rt.live')}` : `○ ${t('rt.reconnecting')}`}
        </span>
      </div>
      {error && (
        <div className="banner banner-error" role="alert">
          {t('rt.load_error', { msg: error })}
        </div>
      )}
      {data && (
        <GroupTable rows={rows} dir={dir} selected={selected} onSelect={setSelected} onMove={move} />
      )}
      {data && selected !== null && data.detail && (
        <DetailView
          group={selected}
          name={selectedName}
          detail={data.detail}
          buckets={data.buckets ?? []}
          hours={hours}
          onHours={setHours}
          offset={offset.current}
          dir={dir}
          onClose={() => setSelected(null)}
          onChanged={schedule}
        />
      )}
    </div>
  );
}

function GroupTable({
  rows,
  dir,
  selected,
  onSelect,
  onMove,
}: {
  rows: RealtimeRow[];
  dir: Directory;
  selected: number | null;
  onSelect: (g: number) => void;
  onMove: (from: RowKey, to: RowKey) => void;
}) {
  const { t } = useTranslation();
  const f = useFormats();
  const [dragging, setDragging] = useState<RowKey | null>(null);
  const [over, setOver] = useState<RowKey | null>(null);
  const keys = rows.map(keyOf);

  const onKey = (e: KeyboardEvent, k: RowKey) => {
    const i = keys.indexOf(k);
    if (e.key === 'ArrowUp' && i > 0) {
      e.preventDefault();
      onMove(k, keys[i - 1]);
    } else if (e.key === 'ArrowDown' && i < keys.length - 1) {
      e.preventDefault();
      onMove(k, keys[i + 1]);
    }
  };
  const dropOn = (e: DragEvent, k: RowKey) => {
    e.preventDefault();
    const from = dragging ?? e.dataTransfer.getData('text/plain');
    if (from) onMove(from, k);
    setDragging(null);
    setOver(null);
  };

  return (
    <div className="rt-scroll">
      <table className="data rt" data-testid="rt-table">
        <thead>
          <tr>
            <th className="icon">
              <span className="sr-only">{t('rt.drag')}</span>
            </th>
            <th className="icon">
              <span className="sr-only">{t('common.open')}</span>
            </th>
            <th>{t('rt.extension')}</th>
            <th>{t('rt.group')}</th>
            <th className="num">{t('rt.answered')}</th>
            <th className="num">{t('rt.abandoned')}</th>
            <th className="num">{t('rt.overflow')}</th>
            <th className="num">{t('rt.timeout')}</th>
            <th className="num">{t('rt.answer_rate')}</th>
            <th className="num">{t('rt.agents')}</th>
            <th className="num">{t('rt.on_call')}</th>
            <th className="num">{t('rt.available')}</th>
            <th className="num">{t('rt.paused')}</th>
            <th className="num">{t('rt.waiting')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const k = keyOf(r);
            const info = r.group === null ? undefined : dir.groups.get(r.group);
            const name = r.group === null ? t('rt.all') : (info?.name ?? `#${r.group}`);
            const cls = [
              r.group === null ? 'rt-all' : '',
              dragging === k ? 'dragging' : '',
              over === k && dragging !== k ? 'drop-target' : '',
              r.group !== null && r.group === selected ? 'selected' : '',
            ]
              .filter(Boolean)
              .join(' ');
            return (
              <tr
                key={k}
                className={cls}
                data-testid={`rt-row-${r.group === null ? 'all' : r.group}`}
                onDragOver={(e) => {
                  e.preventDefault();
                  e.dataTransfer.dropEffect = 'move';
                  if (over !== k) setOver(k);
                }}
                onDrop={(e) => dropOn(e, k)}
              >
                <td className="icon">
                  <span
                    className="drag-handle"
                    role="button"
                    tabIndex={0}
                    draggable
                    data-testid="drag-handle"
                    title={t('rt.drag')}
                    aria-label={`${t('rt.drag')}: ${name}`}
                    onKeyDown={(e) => onKey(e, k)}
                    onDragStart={(e) => {
                      e.dataTransfer.setData('text/plain', k);
                      e.dataTransfer.effectAllowed = 'move';
                      setDragging(k);
                    }}
                    onDragEnd={() => {
                      setDragging(null);
                      setOver(null);
                    }}
                  >
                    ☰
                  </span>
                </td>
                <td className="icon">
                  {r.group !== null && (
                    <button
                      type="button"
                      className="folder-btn"
                      data-testid="open-detail"
                      title={t('rt.open_detail', { name })}
                      aria-label={t('rt.open_detail', { name })}
                      aria-pressed={r.group === selected}
                      onClick={() => onSelect(r.group!)}
                    >
                      <FolderIcon open={r.group === selected} />
                    </button>
                  )}
                </td>
                <td data-col="extension">{r.group === null ? '' : (info?.extension ?? '')}</td>
                <td data-col="group">
                  {info?.color_bg && <span className="chip-dot" style={{ background: info.color_bg }} aria-hidden />}
                  {name}
                </td>
                <td className="num" data-col="answered">{f.num(r.answered)}</td>
                <td className="num" data-col="abandoned">{f.num(r.abandoned)}</td>
                <td className="num" data-col="overflow">{f.num(r.overflow)}</td>
                <td className="num" data-col="timeout">{f.num(r.timeout)}</td>
                <td className="num" data-col="answer_rate">{f.pct(r.answer_rate_pct)}</td>
                <td className="num nowrap" data-col="agents">
                  {f.num(r.agents_online)} / {f.num(r.agents_total)}
                </td>
                <td className="num" data-col="on_call">{f.num(r.on_call)}</td>
                <td className="num" data-col="available">{f.num(r.available)}</td>
                <td className="num" data-col="paused">{f.num(r.paused)}</td>
                <td className="num" data-col="waiting">{f.num(r.waiting)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function DetailView({
  group,
  name,
  detail,
  buckets,
  hours,
  onHours,
  offset,
  dir,
  onClose,
  onChanged,
}: {
  group: number;
  name: string;
  detail: RealtimeDetail;
  buckets: RealtimeBucket[];
  hours: number;
  onHours: (h: number) => void;
  offset: number;
  dir: Directory;
  onClose: () => void;
  onChanged: () => void;
}) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const f = useFormats();
  const label = useStatusLabel(dir.statuses);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now() + offset);

  // Waiting times tick locally every second.
  const hasWaiting = detail.waiting.length > 0;
  useEffect(() => {
    setNow(Date.now() + offset);
    if (!hasWaiting) return;
    const id = setInterval(() => setNow(Date.now() + offset), 1000);
    return () => clearInterval(id);
  }, [hasWaiting, offset, detail]);

  const mayChange = can('realtime.agent_status');
  const maySkill = can('realtime.skill_level');
  const setStatus = (agent: number, choice: { state: string; status_id?: number | null }) => {
    setError(null);
    agentState
      .set(agent, choice)
      .then(onChanged)
      .catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
  };

  return (
    <section className="rt-detail" data-testid="rt-detail" aria-label={t('rt.detail_title', { name })}>
      <div className="rt-detail-head">
        <h3>{t('rt.detail_title', { name })}</h3>
        <label className="inline">
          {t('rt.hours')}
          <select
            value={hours}
            onChange={(e) => onHours(Number(e.target.value))}
            data-testid="rt-hours"
            style={{ width: 'auto' }}
          >
            {HOURS.map((h) => (
              <option key={h} value={h}>
                {t('rt.hours_n', { n: h })}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="btn btn-small" onClick={onClose}>
          {t('rt.close_detail')}
        </button>
      </div>
      {error && (
        <div className="banner banner-error" role="alert">
          {error}
        </div>
      )}
      <div className="rt-charts">
        <figure className="rt-chart" data-testid="rt-bar-chart" aria-label={t('rt.chart_title')}>
          <BarChart buckets={buckets} />
        </figure>
        <figure className="rt-chart" data-testid="rt-pie-chart" aria-label={t('rt.pie_title')}>
          {detail.status_counts.length ? (
            <StatusPie detail={detail} label={label} dir={dir} />
          ) : (
            <p className="muted">{t('rt.no_agents')}</p>
          )}
        </figure>
      </div>

      <h3>{t('rt.waiting_title')}</h3>
      {detail.waiting.length === 0 ? (
        <p className="muted" data-testid="rt-no-waiting">
          {t('rt.no_waiting')}
        </p>
      ) : (
        <table className="data rt" data-testid="rt-waiting">
          <thead>
            <tr>
              <th>{t('rt.call')}</th>
              <th>{t('rt.since')}</th>
              <th className="num">{t('rt.waiting_time')}</th>
            </tr>
          </thead>
          <tbody>
            {detail.waiting.map((w) => (
              <tr key={w.call}>
                <td>#{w.call}</td>
                <td>{f.time(w.since)}</td>
                <td className="num" data-col="wait">
                  {formatHms(now - w.since)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h3>{t('rt.agents_title')}</h3>
      <table className="data rt" data-testid="rt-agents">
        <thead>
          <tr>
            <th className="icon">{t('rt.status')}</th>
            <th>{t('rt.name')}</th>
            <th className="num">{t('rt.skill_level')}</th>
            <th className="num">{t('rt.last_call')}</th>
            <th className="num">{t('rt.calls_today')}</th>
          </tr>
        </thead>
        <tbody>
          {detail.agents.map((a) => {
            const agentName = dir.agents.get(a.agent) ?? `#${a.agent}`;
            const statusText = label(a.status);
            return (
              <tr key={a.agent} data-testid={`rt-agent-${a.agent}`} data-status={a.status.status}>
                <td className="icon">
                  <StatusMenu
                    statuses={dir.statuses}
                    label={`${statusText} — ${t('status.change_agent', { name: agentName })}`}
                    disabled={!mayChange}
                    className="rt-agent-status"
                    testId={`rt-agent-status-${a.agent}`}
                    onChoose={(c) => setStatus(a.agent, c)}
                  >
                    <StatusIcon status={a.status} /> <span className="sr-only">{statusText}</span>
                  </StatusMenu>
                </td>
                <td>
                  {agentName} <span className="muted">({statusText})</span>
                </td>
                <td className="num" data-col="skill_level">
                  {maySkill ? (
                    <SkillLevelInput group={group} agent={a.agent} name={agentName} value={a.skill_level} onSaved={onChanged} />
                  ) : (
                    f.num(a.skill_level)
                  )}
                </td>
                <td className="num" data-col="last_call">{formatHms(a.last_call_ms)}</td>
                <td className="num" data-col="calls_today">{f.num(a.calls_today)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

const SKILL_MIN = 0;
const SKILL_MAX = 99;

/**
 * RT-11: the agent's skill level in this group, edited in place. Enter (or leaving the field)
 * saves, Escape restores; errors show beside the field. The ACD applies the change within
 * seconds; until the pushed update shows it, the saved value is what is displayed.
 */
function SkillLevelInput({
  group,
  agent,
  name,
  value,
  onSaved,
}: {
  group: number;
  agent: number;
  name: string;
  value: number;
  onSaved: () => void;
}) {
  const { t } = useTranslation();
  const [draft, setDraft] = useState<string | null>(null);
  const [saved, setSaved] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const errorId = useId();

  // The pushed realtime data caught up (or did not within 5 s): show it again.
  useEffect(() => {
    if (saved === null) return;
    if (value === saved) {
      setSaved(null);
      return;
    }
    const id = setTimeout(() => setSaved(null), 5000);
    return () => clearTimeout(id);
  }, [value, saved]);

  const shown = saved ?? value;
  const save = () => {
    if (draft === null || busy) return;
    const text = draft.trim();
    const n = Number(text);
    if (text === '' || !Number.isInteger(n) || n < SKILL_MIN || n > SKILL_MAX) {
      setError(t('rt.skill_range', { min: SKILL_MIN, max: SKILL_MAX }));
      return;
    }
    if (n === shown) {
      setDraft(null);
      setError(null);
      return;
    }
    setBusy(true);
    setSkillLevel(group, { agent_id: agent, skill_level: n })
      .then(() => {
        setSaved(n);
        setDraft(null);
        setError(null);
        onSaved();
      })
      .catch((e) => {
        setError(e instanceof ApiError ? (e.fieldMessage('skill_level') ?? e.message) : String(e));
      })
      .finally(() => setBusy(false));
  };

  return (
    <span className="skill-level">
      <input
        type="number"
        inputMode="numeric"
        min={SKILL_MIN}
        max={SKILL_MAX}
        step={1}
        className="skill-input"
        data-testid={`rt-skill-${agent}`}
        aria-label={t('rt.skill_level_of', { name })}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? errorId : undefined}
        aria-busy={busy || undefined}
        value={draft ?? String(shown)}
        onChange={(e) => {
          setDraft(e.target.value);
          setError(null);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            save();
          } else if (e.key === 'Escape') {
            e.preventDefault();
            setDraft(null);
            setError(null);
          }
        }}
        onBlur={save}
      />
      {error && (
        <span className="field-error skill-error" id={errorId} role="alert" data-testid={`rt-skill-error-${agent}`}>
          {error}
        </span>
      )}
    </span>
  );
}

function BarChart({ buckets }: { buckets: RealtimeBucket[] }) {
  const { t } = useTranslation();
  const f = useFormats();
  const data: ChartData<'bar' | 'line', (number | null)[], string> = {
    labels: buckets.map((b) => f.hm(b.start)),
    datasets: [
      {
        type: 'bar',
        label: t('rt.answered'),
        data: buckets.map((b) => b.answered),
        backgroundColor: '#2e9d4f',
        yAxisID: 'calls',
        order: 1,
      },
      {
        type: 'bar',
        label: t('rt.abandoned'),
        data: buckets.map((b) => b.abandoned),
        backgroundColor: '#c8362f',
        yAxisID: 'calls',
        order: 1,
      },
      {
        type: 'line',
        label: `${t('rt.answer_rate')} (%)`,
        data: buckets.map((b) => b.answer_rate),
        borderColor: '#1f6fd1',
        backgroundColor: '#1f6fd1',
        spanGaps: true,
        pointRadius: 3,
        yAxisID: 'rate',
        order: 0,
      },
    ],
  };
  const options: ChartOptions<'bar' | 'line'> = {
    responsive: true,
    maintainAspectRatio: false,
    animation: { duration: 250 },
    plugins: { legend: { position: 'bottom' } },
    scales: {
      calls: { type: 'linear', position: 'left', beginAtZero: true, ticks: { precision: 0 } },
      rate: { type: 'linear', position: 'right', min: 0, max: 100, grid: { drawOnChartArea: false } },
    },
  };
  return <Chart type="bar" data={data as ChartData<'bar'>} options={options as ChartOptions<'bar'>} />;
}

function StatusPie({
  detail,
  label,
  dir,
}: {
  detail: RealtimeDetail;
  label: (s: RealtimeDetail['status_counts'][number]['status']) => string;
  dir: Directory;
}) {
  const f = useFormats();
  const colors = detail.status_counts.map(({ status }) => {
    if (status.status === 'paused' && (status.pause.kind === 'custom' || status.pause.kind === 'acw')) {
      const id = status.pause.status_id;
      return dir.statuses?.find((s) => s.id === id)?.color_bg ?? STATUS_COLORS.paused;
    }
    return STATUS_COLORS[status.status];
  });
  const data: ChartData<'pie', number[], string> = {
    labels: detail.status_counts.map((c) => `${label(c.status)} (${f.num(c.count)})`),
    datasets: [{ data: detail.status_counts.map((c) => c.count), backgroundColor: colors }],
  };
  return (
    <>
      <Pie
        data={data}
        options={{ responsive: true, maintainAspectRatio: false, animation: { duration: 250 }, plugins: { legend: { position: 'bottom' } } }}
      />
      <ul className="sr-only">
        {detail.status_counts.map((c) => (
          <li key={statusKey(c.status)}>
            {label(c.status)}: {c.count}
          </li>
        ))}
      </ul>
    </>
  );
}

export default RealtimeScreen;
