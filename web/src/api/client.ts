import type { ApiErrorItem, ListResponse, HistoryEntry } from './types';

let csrfToken: string | null = null;
export function setCsrfToken(token: string | null) {
  csrfToken = token;
}

/** Error thrown for every non-2xx response. `errors` carries the server's per-field messages. */
export class ApiError extends Error {
  readonly status: number;
  readonly errors: ApiErrorItem[];
  constructor(status: number, errors: ApiErrorItem[], fallback: string) {
    super(errors.map((e) => e.message).join(' ') || fallback);
    this.name = 'ApiError';
    this.status = status;
    this.errors = errors;
  }
  /** Message for a given field, if the server named it. */
  fieldMessage(field: string): string | undefined {
    const hits = this.errors.filter((e) => e.field === field);
    return hits.length ? hits.map((e) => e.message).join(' ') : undefined;
  }
  /** field -> message map (field-less messages under key ""). */
  byField(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.errors) {
      const k = e.field ?? '';
      out[k] = out[k] ? `${out[k]} ${e.message}` : e.message;
    }
    return out;
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** 401 listeners (the app returns to the login screen). */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(fn: () => void) {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export async function request<T>(
  method: Method,
  path: string,
  body?: unknown,
  opts: { silent401?: boolean } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, [], e instanceof Error ? e.message : 'network error');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) {
    const errors =
      data && typeof data === 'object' && Array.isArray((data as { errors?: unknown }).errors)
        ? ((data as { errors: ApiErrorItem[] }).errors ?? [])
        : [];
    if (res.status === 401 && !opts.silent401) unauthorizedListeners.forEach((fn) => fn());
    throw new ApiError(res.status, errors, `HTTP ${res.status}`);
  }
  return data as T;
}

/** POST a file as multipart/form-data in the field `file`; errors as for `request`. */
export async function upload<T>(path: string, file: File): Promise<T> {
  const form = new FormData();
  form.append('file', file);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method: 'POST', headers, credentials: 'same-origin', body: form });
  } catch (e) {
    throw new ApiError(0, [], e instanceof Error ? e.message : 'network error');
  }
  const text = await res.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const errors =
      data && typeof data === 'object' && Array.isArray((data as { errors?: unknown }).errors)
        ? (data as { errors: ApiErrorItem[] }).errors
        : [];
    if (res.status === 401) unauthorizedListeners.forEach((fn) => fn());
    throw new ApiError(res.status, errors, `HTTP ${res.status}`);
  }
  return data as T;
}

/**
 * Sends a multipart form with XMLHttpRequest so that the upload progress can be shown
 * (`onProgress` gets 0…1). Errors as for `request`.
 */
export function sendForm<T>(
  method: 'POST' | 'PUT',
  path: string,
  form: FormData,
  onProgress?: (fraction: number) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.setRequestHeader('Accept', 'application/json');
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    xhr.withCredentials = true;
    if (onProgress) {
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
      };
    }
    xhr.onerror = () => reject(new ApiError(0, [], 'network error'));
    xhr.onload = () => {
      let data: unknown = undefined;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        data = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(data as T);
        return;
      }
      const errors =
        data && typeof data === 'object' && Array.isArray((data as { errors?: unknown }).errors)
          ? (data as { errors: ApiErrorItem[] }).errors
          : [];
      if (xhr.status === 401) unauthorizedListeners.forEach((fn) => fn());
      reject(new ApiError(xhr.status, errors, `HTTP ${xhr.status}`));
    };
    xhr.send(form);
  });
}

export const api = {
  get: <T>(path: string, opts?: { silent401?: boolean }) => request<T>('GET', path, undefined, opts),
  post: <T>(path: string, body?: unknown, opts?: { silent401?: boolean }) =>
    request<T>('POST', path, body ?? {}, opts),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, body ?? {}),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  del: (path: string) => request<void>('DELETE', path),
};

export function qs(params: Record<string, string | number | null | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

/** Generic CRUD helpers for a collection under /api/v1. `T` is the item, `I` the POST/PATCH body. */
export function collection<T extends { id: number | string }, I extends object = Partial<T>>(name: string) {
  const base = `/api/v1/${name}`;
  return {
    base,
    list: (params: Record<string, string | number | null | undefined>) =>
      api.get<ListResponse<T>>(base + qs(params)),
    /** Fetch every item (pages of 200) — for selects and checklists. */
    all: async (): Promise<T[]> => {
      const out: T[] = [];
      for (let offset = 0; ; offset += 200) {
        const page = await api.get<ListResponse<T>>(base + qs({ offset, limit: 200 }));
        out.push(...page.items);
        if (page.items.length === 0 || out.length >= page.total) break;
      }
      return out;
    },
    get: (id: number | string) => api.get<T>(`${base}/${encodeURIComponent(String(id))}`),
    create: (body: I) => api.post<T>(base, body),
    update: (id: number | string, body: I) =>
      api.patch<T>(`${base}/${encodeURIComponent(String(id))}`, body),
    remove: (id: number | string) => api.del(`${base}/${encodeURIComponent(String(id))}`),
    history: (id: number | string) =>
      api.get<ListResponse<HistoryEntry>>(
        `${base}/${encodeURIComponent(String(id))}/history${qs({ offset: 0, limit: 200 })}`,
      ),
  };
}
export type Collection<T extends { id: number | string }, I extends object = Partial<T>> = ReturnType<typeof collection<T, I>>;
/** A collection of `T` whatever its input type — for code that only lists, reads or deletes. */
export type AnyCollection<T extends { id: number | string }> = Collection<T, never>;
