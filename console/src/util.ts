// util.ts - small pure helpers: time ranges, formatting in the user's time zone, flattening events
// to dotted fields, CSV, and the query-language quoting used by pivots.

export interface Range {
  key: string; // "15m", "1h", "24h", "7d" or "custom"
  from: Date;
  to: Date;
}

export const PRESETS: { key: string; label: string; seconds: number }[] = [
  { key: '15m', label: 'Last 15 minutes', seconds: 15 * 60 },
  { key: '1h', label: 'Last hour', seconds: 3600 },
  { key: '24h', label: 'Last 24 hours', seconds: 86400 },
  { key: '7d', label: 'Last 7 days', seconds: 7 * 86400 },
];

/** Resolves a range key (and custom bounds) to absolute times, relative to now. */
export function resolveRange(key: string, from?: string | null, to?: string | null): Range {
  const p = PRESETS.find((x) => x.key === key);
  const now = new Date();
  if (p) return { key, from: new Date(now.getTime() - p.seconds * 1000), to: now };
  if (key === 'custom' && from && to) {
    const f = new Date(from);
    const t = new Date(to);
    if (!isNaN(f.getTime()) && !isNaN(t.getTime()) && f < t) return { key, from: f, to: t };
  }
  return { key: '24h', from: new Date(now.getTime() - 86400 * 1000), to: now };
}

/** A histogram interval giving about 60 buckets over the range, on a round number of seconds. */
export function intervalFor(r: Range): number {
  const span = Math.max(60, (r.to.getTime() - r.from.getTime()) / 1000);
  const steps = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  for (const s of steps) if (span / s <= 80) return s;
  return 86400;
}

const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
const dtf = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

/** The browser's time zone name, shown next to times. */
export function timeZone(): string {
  return tz;
}

/** Formats an RFC 3339 string or epoch value in the user's time zone; other values pass through. */
export function fmtTime(v: unknown): string {
  if (v === null || v === undefined || v === '') return '';
  const d = typeof v === 'number' ? new Date(v > 1e12 ? v : v * 1000) : new Date(String(v));
  if (isNaN(d.getTime())) return String(v);
  return dtf.format(d);
}

/** Value for an <input type="datetime-local"> in local time. */
export function toLocalInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export type Flat = Record<string, unknown>;

/** Flattens nested objects to dotted keys ({"host":{"name":"a"}} -> {"host.name":"a"}). Arrays stay. */
export function flatten(obj: unknown, prefix = '', out: Flat = {}): Flat {
  if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
      else out[key] = v;
    }
  } else if (prefix) {
    out[prefix] = obj;
  }
  return out;
}

/** Text shown for a cell value. */
export function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(cellText).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** One CSV field per RFC 4180; data cells starting with = + - @ get a leading quote against
 * formula injection in spreadsheets (header cells are our own field names and stay as they are). */
export function csvField(s: string, data = true): string {
  let v = s;
  if (data && /^[=+\-@\t\r]/.test(v)) v = "'" + v;
  if (/[",\r\n]/.test(v) || v !== s) return '"' + v.replace(/"/g, '""') + '"';
  return v;
}

export function toCsv(columns: string[], rows: Flat[]): string {
  const lines = [columns.map((c) => csvField(c, false)).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvField(cellText(r[c]))).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** Starts a download of text as a file through a blob: URL and an <a download> (no request made). */
export function download(name: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** field:"value" with the value quoted and escaped for the query language. */
export function term(field: string, value: unknown): string {
  const s = cellText(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\*/g, '\\*').replace(/\?/g, '\\?');
  return `${field}:"${s}"`;
}

/** Adds a term to a query with "and" (or returns the term when the query is empty). */
export function addTerm(q: string, t: string): string {
  const s = q.trim();
  if (!s) return t;
  if (s.includes(t)) return s;
  return /\bor\b/i.test(s) ? `(${s}) and ${t}` : `${s} and ${t}`;
}

export function fmtNum(n: number): string {
  return new Intl.NumberFormat().format(n);
}

/** A byte count as "1.5 MiB" (exact bytes below 1 KiB). */
export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i ? `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}` : `${n} B`;
}
