// components.tsx - the shared building blocks of the screens: a histogram (uPlot), top-N lists,
// generic data tables, error and empty states, and the useApi hook that loads one endpoint.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, ApiError, type Query } from './api';
import { cellText, fmtNum, fmtTime } from './util';

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  /** The HTTP status of the failed request (404: missing or another tenant's), else null. */
  status: number | null;
  loading: boolean;
  reload: () => void;
}

/** Loads GET path?query whenever a dependency changes; the latest request wins. */
export function useApi<T>(path: string | null, query?: Query, deps: unknown[] = []): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: string | null; status: number | null; loading: boolean }>({
    data: null,
    error: null,
    status: null,
    loading: !!path,
  });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    if (!path) return;
    const my = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    api
      .get<T>(path, query)
      .then((data) => {
        if (my === seq.current) setState({ data, error: null, status: null, loading: false });
      })
      .catch((e: ApiError) => {
        if (my === seq.current) setState({ data: null, error: e.message, status: e.status ?? null, loading: false });
      });
  }, [path, JSON.stringify(query ?? {}), tick, ...deps]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** Calls fn every ms milliseconds while active (live refresh by polling). */
export function usePoll(fn: () => void, ms: number, active = true): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => ref.current(), ms);
    return () => clearInterval(t);
  }, [ms, active]);
}

/** The current time in ms, re-rendering every ms milliseconds (for running clocks). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  usePoll(() => setNow(Date.now()), ms);
  return now;
}

/** Runs an API action with a busy flag and an error message. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function run(fn: () => Promise<unknown>): Promise<boolean> {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (e) {
      setError((e as Error).message);
      return false;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, run };
}

/** The page of an object that does not exist or is not the caller's to see (the server answers
 * both with 404, so the console cannot and does not tell them apart). */
export function NotFoundBox({ what }: { what: string }) {
  return (
    <div class="error" role="alert" data-testid="not-found">
      {what} not found: it does not exist or is not visible to you.
    </div>
  );
}

export function ErrorBox({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      {error}
    </div>
  );
}

export function Card(props: { title: string; children: ComponentChildren; class?: string; actions?: ComponentChildren }) {
  return (
    <section class={'card ' + (props.class ?? '')} aria-label={props.title}>
      <header class="card-head">
        <h2>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}

export interface HistBucket {
  ts: string | number;
  count: number;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** Bar chart of event counts over time; redrawn when the data, size or theme changes. */
export function Histogram({ buckets, intervalS, height = 160, label = 'Events', onSelect }: {
  buckets: HistBucket[];
  intervalS: number;
  height?: number;
  label?: string;
  /** Called with the time range (epoch seconds) dragged across the chart; enables dragging. */
  onSelect?: (from: number, to: number) => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState<number | null>(null);
  const selectRef = useRef(onSelect);
  selectRef.current = onSelect;
  const canSelect = !!onSelect;
  const [theme, setTheme] = useState(document.documentElement.dataset.theme ?? '');
  useEffect(() => {
    const obs = new MutationObserver(() => setTheme(document.documentElement.dataset.theme ?? ''));
    obs.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    const onMq = () => setTheme((t) => t + ' ');
    mq.addEventListener('change', onMq);
    return () => {
      obs.disconnect();
      mq.removeEventListener('change', onMq);
    };
  }, []);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const xs = buckets.map((b) => (typeof b.ts === 'number' ? b.ts : Date.parse(b.ts) / 1000));
    const ys = buckets.map((b) => b.count);
    const fg = cssVar('--muted');
    const grid = cssVar('--border');
    const bar = cssVar('--accent');
    const bars = uPlot.paths.bars!({ size: [0.85, 40], align: 1 });
    setHover(null);
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: false },
      cursor: { drag: { x: canSelect, y: false, setScale: false } },
      hooks: {
        setCursor: [(u) => setHover(u.cursor.idx ?? null)],
        setSelect: [
          (u) => {
            const { left, width } = u.select;
            if (!selectRef.current || width < 4) return;
            const from = u.posToVal(left, 'x');
            const to = u.posToVal(left + width, 'x');
            u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
            selectRef.current(Math.floor(from), Math.ceil(to));
          },
        ],
      },
      scales: { x: { time: true, range: (_u, min, max) => [min, max + intervalS] } },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 50,
          values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? fmtNum(v) : '')) },
      ],
      series: [{}, { label, stroke: bar, fill: bar, width: 0, paths: bars, points: { show: false } }],
    };
    const plot = new uPlot(opts, [xs, ys], el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [buckets, intervalS, height, theme, canSelect]);
  const total = buckets.reduce((a, b) => a + b.count, 0);
  const hb = hover !== null ? buckets[hover] : null;
  return (
    <figure class="histogram">
      <div ref={ref} class="chart" role="img" aria-label={`${label} over time: ${fmtNum(total)} in total`} />
      <figcaption class="muted">
        {hb ? `${fmtTime(hb.ts)}: ${fmtNum(hb.count)}` : canSelect ? 'Drag across the chart to narrow the time range' : '\u00a0'}
      </figcaption>
    </figure>
  );
}

export interface TopBucket {
  key: string | number;
  count: number;
}

/** A ranked list with proportional bars; onPick(key) makes every value a pivot. */
export function TopList({ buckets, onPick, empty = 'No data in this range' }: {
  buckets: TopBucket[];
  onPick?: (key: string) => void;
  empty?: string;
}) {
  if (!buckets.length) return <p class="empty">{empty}</p>;
  const max = Math.max(...buckets.map((b) => b.count), 1);
  return (
    <ol class="toplist">
      {buckets.map((b) => (
        <li key={String(b.key)}>
          <meter class="bar" min={0} max={max} value={b.count} aria-hidden="true" />
          {onPick ? (
            <button type="button" class="link" onClick={() => onPick(String(b.key))} title="Search for this value">
              {String(b.key)}
            </button>
          ) : (
            <span>{String(b.key)}</span>
          )}
          <span class="count">{fmtNum(b.count)}</span>
        </li>
      ))}
    </ol>
  );
}

const TIME_KEYS = /(^|_|\.)(ts|time|timestamp|created|updated|ingested|last_seen|first_seen|last_login|last_used|expires)$|^@timestamp$/;

/** Renders a value, formatting times in the user's time zone. */
export function Value({ k, v }: { k: string; v: unknown }) {
  if (typeof v === 'boolean') return <span>{v ? 'yes' : 'no'}</span>;
  if (k === 'expires' && (v === null || v === 0)) return <span class="muted">never</span>;
  if (TIME_KEYS.test(k) && v) return <time dateTime={String(v)}>{fmtTime(v)}</time>;
  return <span>{cellText(v)}</span>;
}

/** A table of flat-ish objects with the given columns (default: the union of the rows' keys). */
export function DataTable({ rows, columns, label, actions, empty = 'Nothing here yet' }: {
  rows: Record<string, unknown>[];
  columns?: string[];
  label: string;
  actions?: (row: Record<string, unknown>) => ComponentChildren;
  empty?: string;
}) {
  const cols = columns ?? Array.from(new Set(rows.flatMap((r) => Object.keys(r))));
  if (!rows.length) return <p class="empty">{empty}</p>;
  return (
    <div class="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            {cols.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
            {actions && <th scope="col">actions</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={String(r.id ?? i)}>
              {cols.map((c) => (
                <td key={c}>
                  <Value k={c} v={r[c]} />
                </td>
              ))}
              {actions && <td class="actions">{actions(r)}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
