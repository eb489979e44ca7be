// search.tsx - event search and hunting: a query bar with field-name autocomplete, a time range
// picker, the histogram of matches, and a result table with a column chooser, expandable rows with
// the full event, pivots (click a value to add field:"value" to the query) and CSV export. The URL
// holds the query, the range and the columns, so every search is a link.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type Me } from '../api';
import { ErrorBox, Histogram, useApi, Value, type HistBucket } from '../components';
import { navigate, useLocation } from '../router';
import {
  addTerm, cellText, download, flatten, fmtNum, intervalFor, PRESETS, resolveRange, term, timeZone, toCsv, toLocalInput,
  type Flat,
} from '../util';

interface Field {
  name: string;
  type: string;
  indexed: boolean;
}

const DEFAULT_COLS = ['@timestamp', 'host.name', 'event.action', 'source.ip', 'destination.ip', 'destination.port', 'message'];
const LIMIT = 500;
const MAX_SUGGEST = 12;

/** The partial field name being typed at the caret, and where it starts. */
function wordAt(q: string, caret: number): { start: number; word: string } {
  let i = caret;
  while (i > 0 && !/[\s()]/.test(q[i - 1])) i--;
  return { start: i, word: q.slice(i, caret) };
}

function QueryBar({ value, fields, onSubmit }: { value: string; fields: Field[]; onSubmit: (q: string) => void }) {
  const [q, setQ] = useState(value);
  const [open, setOpen] = useState(false);
  const [sel, setSel] = useState(0);
  const [caret, setCaret] = useState(value.length);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => setQ(value), [value]);

  const { start, word } = wordAt(q, caret);
  const suggestions = useMemo(() => {
    if (!word || word.includes(':') || /^(and|or|not)$/i.test(word)) return [];
    const w = word.toLowerCase();
    const pre = fields.filter((f) => f.name.toLowerCase().startsWith(w));
    const mid = fields.filter((f) => !f.name.toLowerCase().startsWith(w) && f.name.toLowerCase().includes(w));
    return [...pre, ...mid].slice(0, MAX_SUGGEST);
  }, [word, fields]);
  const shown = open && suggestions.length > 0;

  function accept(f: Field) {
    const next = q.slice(0, start) + f.name + ':' + q.slice(caret);
    const pos = start + f.name.length + 1;
    setQ(next);
    setOpen(false);
    setCaret(pos);
    requestAnimationFrame(() => {
      input.current?.focus();
      input.current?.setSelectionRange(pos, pos);
    });
  }

  function onKey(e: KeyboardEvent) {
    if (!shown) return;
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setSel((s) => (s + 1) % suggestions.length);
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setSel((s) => (s - 1 + suggestions.length) % suggestions.length);
    } else if (e.key === 'Tab' || (e.key === 'Enter' && open)) {
      e.preventDefault();
      accept(suggestions[Math.min(sel, suggestions.length - 1)]);
    } else if (e.key === 'Escape') {
      setOpen(false);
    }
  }

  return (
    <form class="querybar" role="search" onSubmit={(e) => { e.preventDefault(); setOpen(false); onSubmit(q); }}>
      <div class="combo">
        <input ref={input} name="q" type="search" value={q} placeholder='e.g. host.name:web-01 and not event.action:"dns_query"'
          aria-label="Query" role="combobox" aria-autocomplete="list" aria-expanded={shown} aria-controls="field-suggest"
          aria-activedescendant={shown ? `sug-${sel}` : undefined} autoComplete="off" spellcheck={false}
          onInput={(e) => { setQ(e.currentTarget.value); setCaret(e.currentTarget.selectionStart ?? 0); setOpen(true); setSel(0); }}
          onKeyDown={onKey} onKeyUp={(e) => setCaret(e.currentTarget.selectionStart ?? 0)}
          onClick={(e) => setCaret(e.currentTarget.selectionStart ?? 0)} onBlur={() => setTimeout(() => setOpen(false), 150)} />
        {shown && (
          <ul id="field-suggest" role="listbox" class="suggest" aria-label="Field names">
            {suggestions.map((f, i) => (
              <li id={`sug-${i}`} key={f.name} role="option" aria-selected={i === sel} class={i === sel ? 'sel' : ''}
                onMouseDown={(e) => { e.preventDefault(); accept(f); }}>
                <span>{f.name}</span> <small>{f.type}</small>
              </li>
            ))}
          </ul>
        )}
      </div>
      <button type="submit" class="primary">Search</button>
    </form>
  );
}

function RangePicker({ rangeKey, from, to, onChange }: {
  rangeKey: string; from: Date; to: Date; onChange: (key: string, from?: string, to?: string) => void;
}) {
  const [f, setF] = useState(toLocalInput(from));
  const [t, setT] = useState(toLocalInput(to));
  useEffect(() => { setF(toLocalInput(from)); setT(toLocalInput(to)); }, [rangeKey]);
  return (
    <div class="range">
      <label>
        Time range
        <select name="range" value={rangeKey} onChange={(e) => {
          const k = e.currentTarget.value;
          if (k === 'custom') onChange(k, from.toISOString(), to.toISOString());
          else onChange(k);
        }}>
          {PRESETS.map((p) => <option key={p.key} value={p.key}>{p.label}</option>)}
          <option value="custom">Custom…</option>
        </select>
      </label>
      {rangeKey === 'custom' && (
        <form class="custom" onSubmit={(e) => { e.preventDefault(); onChange('custom', new Date(f).toISOString(), new Date(t).toISOString()); }}>
          <label>From <input type="datetime-local" name="from" value={f} onInput={(e) => setF(e.currentTarget.value)} required /></label>
          <label>To <input type="datetime-local" name="to" value={t} onInput={(e) => setT(e.currentTarget.value)} required /></label>
          <button type="submit">Apply</button>
        </form>
      )}
      <span class="muted tz">times in {timeZone()}</span>
    </div>
  );
}

function ColumnChooser({ all, cols, onChange }: { all: string[]; cols: string[]; onChange: (c: string[]) => void }) {
  const [filter, setFilter] = useState('');
  const list = all.filter((c) => c.toLowerCase().includes(filter.toLowerCase()));
  return (
    <details class="chooser">
      <summary>Columns ({cols.length})</summary>
      <div class="chooser-body">
        <input type="search" placeholder="filter fields" aria-label="Filter fields" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        <ul>
          {list.map((c) => (
            <li key={c}>
              <label>
                <input type="checkbox" checked={cols.includes(c)}
                  onChange={(e) => onChange(e.currentTarget.checked ? [...cols, c] : cols.filter((x) => x !== c))} />
                {c}
              </label>
            </li>
          ))}
        </ul>
        <button type="button" onClick={() => onChange(DEFAULT_COLS)}>Reset</button>
      </div>
    </details>
  );
}

function Pivot({ field, value, onPivot }: { field: string; value: unknown; onPivot: (t: string) => void }) {
  const text = cellText(value);
  if (text === '') return null;
  return (
    <button type="button" class="link pivot" title={`Add ${field}:"${text}" to the query`} onClick={() => onPivot(term(field, value))}>
      <Value k={field} v={value} />
    </button>
  );
}

function EventRow({ ev, flat, cols, onPivot }: { ev: unknown; flat: Flat; cols: string[]; onPivot: (t: string) => void }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <tr class={open ? 'open' : ''}>
        <td class="expand">
          <button type="button" class="ghost" aria-expanded={open} aria-label={open ? 'Hide event' : 'Show event'} onClick={() => setOpen(!open)}>
            {open ? '▾' : '▸'}
          </button>
        </td>
        {cols.map((c) => <td key={c}><Pivot field={c} value={flat[c]} onPivot={onPivot} /></td>)}
      </tr>
      {open && (
        <tr class="detail">
          <td colSpan={cols.length + 1}>
            <div class="detail-grid">
              <table class="kv" aria-label="Event fields">
                <tbody>
                  {Object.keys(flat).sort().map((k) => (
                    <tr key={k}><th scope="row">{k}</th><td><Pivot field={k} value={flat[k]} onPivot={onPivot} /></td></tr>
                  ))}
                </tbody>
              </table>
              <pre class="json" aria-label="Event JSON">{JSON.stringify(ev, null, 2)}</pre>
            </div>
          </td>
        </tr>
      )}
    </>
  );
}

export function SearchScreen(_props: { me: Me }) {
  const loc = useLocation();
  const q = loc.params.get('q') ?? '';
  const rangeKey = loc.params.get('range') ?? '24h';
  const cols = (loc.params.get('cols') ?? '').split(',').filter(Boolean);
  const columns = cols.length ? cols : DEFAULT_COLS;
  const [nonce, setNonce] = useState(0);
  const range = useMemo(() => resolveRange(rangeKey, loc.params.get('from'), loc.params.get('to')),
    [rangeKey, loc.params.get('from'), loc.params.get('to'), nonce]);
  const fields = useApi<Field[]>('/fields');
  const [res, setRes] = useState<{ events: unknown[]; count: number } | null>(null);
  const [hist, setHist] = useState<{ interval_s: number; buckets: HistBucket[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  function go(patch: Record<string, string | null>, replace = false) {
    const p = new URLSearchParams(loc.params);
    for (const [k, v] of Object.entries(patch)) {
      if (v === null || v === '') p.delete(k);
      else p.set(k, v);
    }
    navigate('/search?' + p.toString(), replace);
  }

  useEffect(() => {
    let stale = false;
    const from = range.from.toISOString();
    const to = range.to.toISOString();
    setBusy(true);
    setError(null);
    Promise.all([
      api.get<{ events: unknown[]; count: number }>('/events', { q, from, to, limit: LIMIT }),
      api.get<{ interval_s: number; buckets: HistBucket[] }>('/events/histogram', { q, from, to, interval: intervalFor(range) }),
    ])
      .then(([r, h]) => {
        if (stale) return;
        setRes(r);
        setHist(h);
      })
      .catch((e) => {
        if (stale) return;
        setError((e as Error).message);
        setRes(null);
        setHist(null);
      })
      .finally(() => !stale && setBusy(false));
    return () => {
      stale = true;
    };
  }, [q, range]);

  const flats = useMemo(() => (res ? res.events.map((e) => flatten(e)) : []), [res]);
  const allCols = useMemo(() => {
    const s = new Set<string>(columns);
    flats.forEach((f) => Object.keys(f).forEach((k) => s.add(k)));
    (fields.data ?? []).forEach((f) => s.add(f.name));
    return Array.from(s).sort();
  }, [flats, fields.data, columns.join(',')]);
  const onPivot = (t: string) => go({ q: addTerm(q, t) });
  const total = hist ? hist.buckets.reduce((a, b) => a + b.count, 0) : 0;

  return (
    <div class="search">
      <h1>Event search</h1>
      <QueryBar value={q} fields={fields.data ?? []} onSubmit={(nq) => { if (nq === q) setNonce((n) => n + 1); else go({ q: nq }); }} />
      <div class="toolbar">
        <RangePicker rangeKey={range.key} from={range.from} to={range.to}
          onChange={(k, f, t) => go({ range: k, from: f ?? null, to: t ?? null })} />
        <ColumnChooser all={allCols} cols={columns}
          onChange={(c) => go({ cols: c.join(',') === DEFAULT_COLS.join(',') ? null : c.join(',') }, true)} />
        <button type="button" disabled={!flats.length}
          onClick={() => download(`vigil-events-${new Date().toISOString().replace(/[:.]/g, '-')}.csv`, toCsv(columns, flats))}>
          Export CSV
        </button>
      </div>
      <ErrorBox error={error} />
      {hist && <Histogram buckets={hist.buckets} intervalS={hist.interval_s} height={120} label="Matching events"
        onSelect={(f, t) => go({ range: 'custom', from: new Date(f * 1000).toISOString(), to: new Date(t * 1000).toISOString() })} />}
      <p class="muted" role="status" data-testid="result-count">
        {busy ? 'Searching…' : res ? `${fmtNum(total)} matching events, showing ${fmtNum(res.events.length)}` : ''}
        {res && res.events.length >= LIMIT ? ` (the newest ${LIMIT}; narrow the query to see others)` : ''}
      </p>
      {res && res.events.length > 0 && (
        <div class="table-wrap">
          <table class="events" aria-label="Events">
            <thead>
              <tr>
                <th scope="col"><span class="sr-only">Expand</span></th>
                {columns.map((c) => <th key={c} scope="col">{c}</th>)}
              </tr>
            </thead>
            <tbody>
              {res.events.map((ev, i) => (
                <EventRow key={String(flats[i]['event.id'] ?? i)} ev={ev} flat={flats[i]} cols={columns} onPivot={onPivot} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {res && res.events.length === 0 && <p class="empty">No events match in this range.</p>}
    </div>
  );
}
