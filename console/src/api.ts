// api.ts - the console's only door to vigild: JSON over fetch to /api/v1 on the same origin.
//
// Authentication is the session cookie (HttpOnly, set by POST /api/v1/login); every request that
// changes state carries the CSRF token from the login reply in X-CSRF-Token. The token is kept in
// sessionStorage so a reload of the tab keeps working; a new tab logs in again.

export interface Me {
  id: number;
  username: string;
  tenant: string;
  role: string;
  provider: boolean;
  permissions: string[];
  auth?: string;
}

export class ApiError extends Error {
  status: number;
  code: string;
  constructor(status: number, message: string, code: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const CSRF_KEY = 'vigil.csrf';
let onUnauthorized: (() => void) | null = null;

/** Registers the function called when the server answers 401 (the session ended). */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export function setCsrf(token: string | null): void {
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

function csrf(): string {
  return sessionStorage.getItem(CSRF_KEY) ?? '';
}

/** True when this tab holds a CSRF token from a login. */
export function hasCsrf(): boolean {
  return csrf() !== '';
}

export type Query = Record<string, string | number | undefined | null>;

/** Builds "/api/v1/path?a=b" leaving out empty parameters. */
export function apiUrl(path: string, query?: Query): string {
  const u = new URLSearchParams();
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
    }
  }
  const qs = u.toString();
  return '/api/v1' + path + (qs ? '?' + qs : '');
}

async function request<T>(method: string, path: string, query?: Query, body?: unknown, contentType?: string): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  let payload: BodyInit | undefined;
  if (contentType !== undefined) {
    headers['Content-Type'] = contentType;
    payload = body instanceof Blob ? body : String(body);
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf();
  let res: Response;
  try {
    res = await fetch(apiUrl(path, query), { method, headers, body: payload, credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, 'cannot reach the server: ' + (e as Error).message, 'network');
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const d = (data ?? {}) as { error?: string; code?: string };
    const sessionGone = res.status === 401 || (res.status === 403 && /csrf/i.test(d.error ?? ''));
    if (sessionGone && path !== '/login' && path !== '/setup' && onUnauthorized) onUnauthorized();
    throw new ApiError(res.status, d.error ?? `${res.status} ${res.statusText}`, d.code ?? 'http');
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>('GET', path, query),
  post: <T>(path: string, body?: unknown, query?: Query) => request<T>('POST', path, query, body ?? {}),
  /** POST of a text body (e.g. a Sigma rule as application/yaml). */
  postText: <T>(path: string, text: string, contentType: string) => request<T>('POST', path, undefined, text, contentType),
  /** POST of a file's bytes as they are (e.g. an evidence upload), with query parameters. */
  postFile: <T>(path: string, file: Blob, query?: Query) =>
    request<T>('POST', path, query, file, file.type || 'application/octet-stream'),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, undefined, body),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, undefined, body),
  del: <T>(path: string) => request<T>('DELETE', path),
};

/** True when the caller holds the permission (e.g. "users:write"). */
export function can(me: Me | null, perm: string): boolean {
  return !!me && me.permissions.includes(perm);
}

export const ROLES = [
  'admin',
  'tenant_admin',
  'tier1',
  'tier2',
  'tier3',
  'detection_engineer',
  'customer_viewer',
  'customer_approver',
  'ingest',
];
