function pad(n: number, w = 2) {
  return String(n).padStart(w, '0');
}
/** Epoch milliseconds -> `YYYY-MM-DD HH:MM:SS` (local time). */
export function formatDateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(
    d.getMinutes(),
  )}:${pad(d.getSeconds())}`;
}
/** A length in milliseconds -> `m:ss.s` (voice files). */
export function formatClock(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  const tenths = Math.floor(ms / 100);
  return `${Math.floor(tenths / 600)}:${pad(Math.floor(tenths / 10) % 60)}.${tenths % 10}`;
}
/** Epoch milliseconds -> `YYYY-MM-DD` (list "updated" columns, UI-18). */
export function formatDate(ms: number | null | undefined): string {
  return formatDateTime(ms).slice(0, 10);
}
/** A duration in milliseconds -> `HH:MM:SS`; `--:--:--` when unknown (RT-09). */
export function formatHms(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '--:--:--';
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}
