// alerts.tsx - the analyst's alert queue and the alert page.
//
// Queue: filters (status, minimum severity, host, rule, free text) that live in the URL, sort by any
// column, live updates from the server-sent event stream (a new or grown alert moves to the top and
// is marked), row selection with bulk acknowledge / close / reopen / assign, and a link to each alert.
// Alert page: the triage facts, the status and assignee controls, and the events that raised it,
// each with a pivot into search and, for process events, into the process tree.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { ErrorBox, NotFoundBox, useApi, Value } from '../components';
import { linkClick, navigate, useLocation } from '../router';
import { cellText, flatten, fmtTime } from '../util';
import { AlertIncidentActions } from './incidents';

export interface Alert {
  id: number;
  tenant: string;
  rule_id: string;
  title: string;
  severity: string;
  status: string;
  count: number;
  first_seen: string;
  last_seen: string;
  host?: string | null;
  user?: string | null;
  entity?: { field: string; value: string } | null;
  assignee?: string | null;
  techniques?: string[];
  event_ids?: string[];
  incident_id?: number | null;
}

export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'];
const STATUSES = ['open', 'acknowledged', 'closed'];
const COLUMNS: { key: keyof Alert; label: string }[] = [
  { key: 'last_seen', label: 'Last seen' },
  { key: 'severity', label: 'Severity' },
  { key: 'status', label: 'Status' },
  { key: 'title', label: 'Title' },
  { key: 'host', label: 'Host' },
  { key: 'user', label: 'User' },
  { key: 'count', label: 'Count' },
  { key: 'assignee', label: 'Assignee' },
  { key: 'tenant', label: 'Tenant' },
];

function sevRank(s: string): number {
  return SEVERITIES.indexOf(s);
}

export function SevBadge({ s }: { s: string }) {
  return <span class={'sev sev-' + s}>{s}</span>;
}

/** Merges a streamed alert into the list: replaces the one with its id or adds it on top. */
function merge(list: Alert[], a: Alert): Alert[] {
  const rest = list.filter((x) => x.id !== a.id);
  return [a, ...rest];
}

function matches(a: Alert, f: { status: string; severity: string; text: string }): boolean {
  if (f.status && a.status !== f.status) return false;
  if (f.severity && sevRank(a.severity) < sevRank(f.severity)) return false;
  if (f.text && !JSON.stringify(a).toLowerCase().includes(f.text.toLowerCase())) return false;
  return true;
}

export function AlertsScreen({ me }: { me: Me }) {
  const loc = useLocation();
  const status = loc.params.get('status') ?? 'open';
  const severity = loc.params.get('severity') ?? '';
  const text = loc.params.get('text') ?? '';
  const sortKey = (loc.params.get('sort') ?? 'last_seen') as keyof Alert;
  const desc = loc.params.get('dir') !== 'asc';
  const r = useApi<{ alerts: Alert[] }>('/alerts', { status: status === 'all' ? '' : status, severity, limit: 1000 }, [status, severity]);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [fresh, setFresh] = useState<Set<number>>(new Set());
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [live, setLive] = useState<'connecting' | 'live' | 'down'>('connecting');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [assignee, setAssignee] = useState('');
  const writable = can(me, 'alerts:write');
  const filt = { status: status === 'all' ? '' : status, severity, text };

  useEffect(() => {
    if (r.data) setAlerts(r.data.alerts);
  }, [r.data]);

  useEffect(() => {
    const es = new EventSource('/api/v1/stream');
    es.onopen = () => setLive('live');
    es.onerror = () => setLive(es.readyState === EventSource.CLOSED ? 'down' : 'connecting');
    es.addEventListener('alert', (ev) => {
      let a: Alert;
      try {
        a = JSON.parse((ev as MessageEvent).data) as Alert;
      } catch {
        return;
      }
      setAlerts((old) => merge(old, a));
      setFresh((old) => new Set(old).add(a.id));
    });
    return () => es.close();
  }, []);

  const shown = useMemo(() => {
    const rows = alerts.filter((a) => matches(a, filt));
    rows.sort((a, b) => {
      const x = a[sortKey];
      const y = b[sortKey];
      let c: number;
      if (sortKey === 'severity') c = sevRank(String(x)) - sevRank(String(y));
      else if (typeof x === 'number' && typeof y === 'number') c = x - y;
      else c = cellText(x).localeCompare(cellText(y));
      return desc ? -c : c;
    });
    return rows;
  }, [alerts, status, severity, text, sortKey, desc]);

  function setParam(k: string, v: string) {
    const p = new URLSearchParams(loc.params);
    if (v) p.set(k, v);
    else p.delete(k);
    navigate('/alerts?' + p.toString(), true);
  }

  function sortBy(k: string) {
    const p = new URLSearchParams(loc.params);
    if (sortKey === k) p.set('dir', desc ? 'asc' : 'desc');
    else {
      p.set('sort', k);
      p.set('dir', 'desc');
    }
    navigate('/alerts?' + p.toString(), true);
  }

  function toggle(id: number) {
    setSelected((old) => {
      const n = new Set(old);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  }

  const allSelected = shown.length > 0 && shown.every((a) => selected.has(a.id));
  function toggleAll() {
    setSelected(allSelected ? new Set() : new Set(shown.map((a) => a.id)));
  }

  async function bulk(change: Record<string, unknown>) {
    setBusy(true);
    setErr(null);
    const ids = Array.from(selected);
    const failed: string[] = [];
    const updated: Alert[] = [];
    for (const id of ids) {
      try {
        updated.push(await api.patch<Alert>(`/alerts/${id}`, change));
      } catch (e) {
        failed.push(`#${id}: ${(e as Error).message}`);
      }
    }
    setAlerts((old) => old.map((a) => updated.find((u) => u.id === a.id) ?? a));
    setSelected(new Set());
    if (failed.length) setErr(`${failed.length} of ${ids.length} changes failed: ${failed.join('; ')}`);
    setBusy(false);
  }

  return (
    <div>
      <h1>Alerts</h1>
      <div class="toolbar" role="search">
        <label>Status
          <select value={status} onChange={(e) => setParam('status', e.currentTarget.value)}>
            {[...STATUSES, 'all'].map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>Severity at least
          <select value={severity} onChange={(e) => setParam('severity', e.currentTarget.value)}>
            <option value="">any</option>
            {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>Filter <input type="search" value={text} placeholder="title, host, user, rule"
          onChange={(e) => setParam('text', e.currentTarget.value)} /></label>
        <button type="button" onClick={r.reload}>Refresh</button>
        <span class={'pill ' + live} role="status" aria-label={`live updates: ${live}`}>{live}</span>
      </div>
      {writable && (
        <div class="toolbar bulk" aria-label="Bulk actions">
          <span data-testid="selected-count">{selected.size} selected</span>
          <button type="button" disabled={busy || !selected.size} onClick={() => bulk({ status: 'acknowledged' })}>Acknowledge</button>
          <button type="button" disabled={busy || !selected.size} onClick={() => bulk({ status: 'closed' })}>Close</button>
          <button type="button" disabled={busy || !selected.size} onClick={() => bulk({ status: 'open' })}>Reopen</button>
          <label>Assign to <input value={assignee} onInput={(e) => setAssignee(e.currentTarget.value)} placeholder="user name" size={12} /></label>
          <button type="button" disabled={busy || !selected.size || !assignee} onClick={() => bulk({ assignee })}>Assign</button>
        </div>
      )}
      <ErrorBox error={r.error ?? err} />
      {r.data && !shown.length && <p class="empty">{alerts.length ? 'Nothing matches the filters' : 'No alerts yet'}</p>}
      {shown.length > 0 && (
        <div class="table-wrap">
          <table aria-label="Alerts">
            <thead>
              <tr>
                {writable && <th scope="col"><input type="checkbox" aria-label="Select all" checked={allSelected} onChange={toggleAll} /></th>}
                {COLUMNS.map((c) => (
                  <th key={c.key} scope="col" aria-sort={sortKey === c.key ? (desc ? 'descending' : 'ascending') : undefined}>
                    <button type="button" class="link" onClick={() => sortBy(c.key)}>
                      {c.label}{sortKey === c.key ? (desc ? ' ▼' : ' ▲') : ''}
                    </button>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((a) => (
                <tr key={a.id} class={fresh.has(a.id) ? 'fresh' : undefined}>
                  {writable && <td><input type="checkbox" aria-label={`Select alert ${a.id}`} checked={selected.has(a.id)} onChange={() => toggle(a.id)} /></td>}
                  <td><Value k="last_seen" v={a.last_seen} /></td>
                  <td><SevBadge s={a.severity} /></td>
                  <td>{a.status}</td>
                  <td><a href={`/alert?id=${a.id}`} onClick={linkClick}>{a.title}</a>{fresh.has(a.id) && <span class="pill live"> new</span>}</td>
                  <td>{cellText(a.host)}</td>
                  <td>{cellText(a.user)}</td>
                  <td>{a.count}</td>
                  <td>{cellText(a.assignee)}</td>
                  <td>{a.tenant}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

type Event = Record<string, unknown>;

function searchLink(field: string, value: unknown, at?: string): string {
  const p = new URLSearchParams();
  p.set('q', `${field}:"${cellText(value).replace(/"/g, '\\"')}"`);
  if (at) {
    const t = Date.parse(at);
    if (!Number.isNaN(t)) {
      p.set('range', 'custom');
      p.set('from', new Date(t - 3600e3).toISOString());
      p.set('to', new Date(t + 3600e3).toISOString());
    }
  } else p.set('range', '7d');
  return '/search?' + p.toString();
}

export function AlertScreen({ me }: { me: Me }) {
  const loc = useLocation();
  const id = loc.params.get('id') ?? '';
  const r = useApi<Alert & { events: Event[] }>(id ? `/alerts/${encodeURIComponent(id)}` : null, undefined, [id]);
  const [err, setErr] = useState<string | null>(null);
  const [assignee, setAssignee] = useState('');
  const a = r.data;
  useEffect(() => setAssignee(a?.assignee ?? ''), [a?.assignee]);
  if (!id) return <p class="empty">No alert given.</p>;
  async function change(body: Record<string, unknown>) {
    setErr(null);
    try {
      await api.patch(`/alerts/${id}`, body);
      r.reload();
    } catch (e) {
      setErr((e as Error).message);
    }
  }
  const writable = can(me, 'alerts:write');
  return (
    <div>
      <p><a href="/alerts" onClick={linkClick}>← Alerts</a></p>
      {r.status === 404 ? <NotFoundBox what={`Alert ${id}`} /> : <ErrorBox error={r.error ?? err} />}
      {a && (
        <>
          <h1>{a.title}</h1>
          <dl class="facts" aria-label="Alert facts">
            <dt>Severity</dt><dd><SevBadge s={a.severity} /></dd>
            <dt>Status</dt><dd data-testid="alert-status">{a.status}</dd>
            <dt>Count</dt><dd>{a.count}</dd>
            <dt>First seen</dt><dd>{fmtTime(a.first_seen)}</dd>
            <dt>Last seen</dt><dd>{fmtTime(a.last_seen)}</dd>
            <dt>Rule</dt><dd><code>{a.rule_id}</code></dd>
            {a.entity && <><dt>Entity</dt><dd><a href={searchLink(a.entity.field, a.entity.value)} onClick={linkClick}>{a.entity.field} = {a.entity.value}</a></dd></>}
            <dt>Assignee</dt><dd>{cellText(a.assignee) || <span class="muted">nobody</span>}</dd>
            <dt>Tenant</dt><dd>{a.tenant}</dd>
            {a.techniques && a.techniques.length > 0 && <><dt>ATT&CK</dt><dd>{a.techniques.join(', ')}</dd></>}
          </dl>
          {writable && (
            <div class="toolbar">
              {a.status !== 'acknowledged' && <button type="button" onClick={() => change({ status: 'acknowledged' })}>Acknowledge</button>}
              {a.status !== 'closed' && <button type="button" onClick={() => change({ status: 'closed' })}>Close</button>}
              {a.status === 'closed' && <button type="button" onClick={() => change({ status: 'open' })}>Reopen</button>}
              <label>Assignee <input value={assignee} onInput={(e) => setAssignee(e.currentTarget.value)} size={14} /></label>
              <button type="button" onClick={() => change({ assignee: assignee || null })}>Save assignee</button>
            </div>
          )}
          {can(me, 'incidents:write') && <AlertIncidentActions alertId={a.id} title={a.title} incidentId={a.incident_id} onDone={r.reload} />}
          <h2>Events ({a.events.length})</h2>
          {a.events.length === 0 && <p class="empty">The events of this alert are no longer stored.</p>}
          <ul class="events">
            {a.events.map((ev, i) => <AlertEvent key={i} ev={ev} />)}
          </ul>
        </>
      )}
    </div>
  );
}

function AlertEvent({ ev }: { ev: Event }) {
  const [open, setOpen] = useState(false);
  const f = flatten(ev);
  const at = cellText(f['@timestamp']);
  const entity = cellText(f['process.entity_id']);
  const summary = cellText(f['message'] || f['process.command_line'] || f['event.action'] || f['event.id']);
  return (
    <li>
      <button type="button" class="link" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'} <time>{fmtTime(at)}</time> {cellText(f['host.name'])} — {summary}
      </button>
      {entity && <> · <a href={`/process?entity=${encodeURIComponent(entity)}&at=${encodeURIComponent(at)}`} onClick={linkClick}>process tree</a></>}
      {open && (
        <table class="kv" aria-label="Event fields">
          <tbody>
            {Object.keys(f).sort().map((k) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                <td><a href={searchLink(k, f[k], at)} onClick={linkClick} title="Search for this value"><Value k={k} v={f[k]} /></a></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </li>
  );
}
