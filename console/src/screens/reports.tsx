// reports.tsx - scheduled and on-demand reports (docs/api.md, "Reports"): the definitions (kind,
// format, period, schedule in UTC, e-mail recipients; enable/disable, delete), a form to define
// one, "Run now" with the run's progress, and the runs with their size, SHA-256 and a download
// link. The list refreshes every two seconds while a run is queued or running.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, ErrorBox, useAction, useApi, usePoll } from '../components';
import { cellText, fmtBytes, fmtTime } from '../util';
import { StatusPill } from './agents';
import { TenantSelect } from './admin';

interface Run {
  id: number;
  report_id: number;
  tenant: string;
  name: string;
  kind: string;
  format: string;
  status: string;
  progress: number;
  from: string;
  to: string;
  requested_by: string;
  created: string;
  started: string | null;
  finished: string | null;
  size: number | null;
  sha256: string | null;
  error: string | null;
}

interface Definition {
  id: number;
  tenant: string;
  name: string;
  kind: string;
  format: string;
  period: string;
  schedule: string;
  recipients: string[];
  enabled: boolean;
  created: string;
  created_by: string;
  last_run: Run | null;
  next_run: string | null;
}

const KINDS = [
  { v: 'soc_summary', l: 'SOC summary' },
  { v: 'incidents', l: 'Incidents' },
  { v: 'alerts', l: 'Alerts' },
  { v: 'sla', l: 'SLA' },
];
const FORMATS = ['html', 'csv', 'json'];
const PERIODS = [
  { v: 'last_24h', l: 'last 24 hours' },
  { v: 'last_7d', l: 'last 7 days' },
  { v: 'last_30d', l: 'last 30 days' },
  { v: 'previous_month', l: 'previous month' },
];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const BUSY = ['queued', 'running'];

/** Who may define reports: the provider's tier3 and administrators, and tenant administrators
 * (the server decides; this only avoids offering a form that would be refused). */
function mayDefine(me: Me): boolean {
  return (me.provider && (me.role === 'admin' || me.role === 'tier3')) || me.role === 'tenant_admin';
}

function RunProgress({ run }: { run: Run }) {
  if (!BUSY.includes(run.status)) return <StatusPill s={run.status} />;
  return (
    <span class="progress">
      <progress max={100} value={run.progress} aria-label={`Progress of run ${run.id}`} /> {run.progress} % {run.status}
    </span>
  );
}

function DefineForm({ me, onDone }: { me: Me; onDone: () => void }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState('soc_summary');
  const [format, setFormat] = useState('html');
  const [period, setPeriod] = useState('last_7d');
  const [every, setEvery] = useState('none');
  const [day, setDay] = useState('mon');
  const [dom, setDom] = useState('1');
  const [at, setAt] = useState('06:00');
  const [recipients, setRecipients] = useState('');
  const [tenant, setTenant] = useState(me.tenant);
  const act = useAction();
  const schedule = every === 'none' ? 'none' : every === 'daily' ? `daily ${at}` : every === 'weekly' ? `weekly ${day} ${at}` : `monthly ${dom.padStart(2, '0')} ${at}`;
  async function submit(e: Event) {
    e.preventDefault();
    const body = { name, kind, format, period, schedule, tenant,
      recipients: recipients.split(/[\s,;]+/).filter(Boolean), enabled: true };
    if (await act.run(() => api.post('/reports', body))) {
      setName('');
      onDone();
    }
  }
  return (
    <Card title="Define a report">
      <form class="inline-form" onSubmit={submit}>
        <label>Name <input name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
        <label>Kind <select name="kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
          {KINDS.map((k) => <option key={k.v} value={k.v}>{k.l}</option>)}</select></label>
        <label>Format <select name="format" value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
          {FORMATS.map((f) => <option key={f} value={f}>{f}</option>)}</select></label>
        <label>Period <select name="period" value={period} onChange={(e) => setPeriod(e.currentTarget.value)}>
          {PERIODS.map((p) => <option key={p.v} value={p.v}>{p.l}</option>)}</select></label>
        <label>Schedule (UTC) <select name="schedule" value={every} onChange={(e) => setEvery(e.currentTarget.value)}>
          {['none', 'daily', 'weekly', 'monthly'].map((s) => <option key={s} value={s}>{s === 'none' ? 'on demand only' : s}</option>)}</select></label>
        {every === 'weekly' && <label>Day <select value={day} onChange={(e) => setDay(e.currentTarget.value)}>
          {DAYS.map((d) => <option key={d} value={d}>{d}</option>)}</select></label>}
        {every === 'monthly' && <label>Day of month <input type="number" min={1} max={31} value={dom} onInput={(e) => setDom(e.currentTarget.value)} /></label>}
        {every !== 'none' && <label>At <input type="time" value={at} onInput={(e) => setAt(e.currentTarget.value)} /></label>}
        <label>Recipients <input name="recipients" value={recipients} placeholder="soc@example.com, ciso@example.com" size={28}
          onInput={(e) => setRecipients(e.currentTarget.value)} /></label>
        {me.provider && <TenantSelect me={me} value={tenant} onChange={setTenant} />}
        <button type="submit" class="primary" disabled={act.busy}>Add report</button>
      </form>
      <ErrorBox error={act.error} />
    </Card>
  );
}

export function ReportsScreen({ me }: { me: Me }) {
  const defs = useApi<{ reports: Definition[] }>('/reports');
  const runs = useApi<{ runs: Run[] }>('/report-runs', { limit: 100 });
  const act = useAction();
  const [confirm, setConfirm] = useState<number | null>(null);
  const runList = runs.data?.runs ?? [];
  const busy = runList.some((r) => BUSY.includes(r.status));
  usePoll(() => {
    runs.reload();
    defs.reload();
  }, 2000, busy);
  // once the last run finished, the definitions' "last run" shows it
  const wasBusy = useRef(false);
  useEffect(() => {
    if (wasBusy.current && !busy) defs.reload();
    wasBusy.current = busy;
  }, [busy]);
  const define = mayDefine(me);
  const runner = can(me, 'incidents:write');

  async function run(d: Definition) {
    if (await act.run(() => api.post(`/reports/${d.id}/run`, {}))) {
      runs.reload();
      defs.reload();
    }
  }
  async function patch(d: Definition, body: Record<string, unknown>) {
    if (await act.run(() => api.patch(`/reports/${d.id}`, body))) defs.reload();
  }
  async function del(d: Definition) {
    setConfirm(null);
    if (await act.run(() => api.del(`/reports/${d.id}`))) defs.reload();
  }
  const list = defs.data?.reports ?? [];
  return (
    <div>
      <h1>Reports</h1>
      {define && <DefineForm me={me} onDone={defs.reload} />}
      <ErrorBox error={act.error ?? defs.error ?? runs.error} />
      <Card title="Report definitions">
        {defs.data && !list.length && <p class="empty">No report defined yet</p>}
        {list.length > 0 && (
          <div class="table-wrap">
            <table aria-label="Report definitions">
              <thead>
                <tr>{['Name', 'Kind', 'Format', 'Period', 'Schedule', 'Recipients', 'Enabled', 'Last run', 'Next run', 'Tenant', 'actions']
                  .map((h) => <th key={h} scope="col">{h}</th>)}</tr>
              </thead>
              <tbody>
                {list.map((d) => (
                  <tr key={d.id}>
                    <td>{d.name}</td>
                    <td>{d.kind}</td>
                    <td>{d.format}</td>
                    <td>{d.period}</td>
                    <td>{d.schedule}</td>
                    <td>{(d.recipients ?? []).join(', ')}</td>
                    <td><input type="checkbox" checked={d.enabled} disabled={!define || act.busy} aria-label={`Enabled: ${d.name}`}
                      onChange={(e) => patch(d, { enabled: e.currentTarget.checked })} /></td>
                    <td>{d.last_run ? <RunProgress run={d.last_run} /> : <span class="muted">never</span>}</td>
                    <td>{d.next_run ? fmtTime(d.next_run) : <span class="muted">—</span>}</td>
                    <td>{d.tenant}</td>
                    <td class="actions">
                      {runner && <button type="button" disabled={act.busy} onClick={() => run(d)} aria-label={`Run ${d.name} now`}>Run now</button>}
                      {define && (confirm === d.id ? (
                        <>
                          <button type="button" class="danger" onClick={() => del(d)}>Confirm delete</button>
                          <button type="button" class="ghost" onClick={() => setConfirm(null)}>Keep</button>
                        </>
                      ) : <button type="button" class="ghost" onClick={() => setConfirm(d.id)} aria-label={`Delete ${d.name}`}>Delete</button>)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Card title="Runs" actions={<button type="button" onClick={runs.reload}>Refresh</button>}>
        {runs.data && !runList.length && <p class="empty">No run yet</p>}
        {runList.length > 0 && (
          <div class="table-wrap">
            <table aria-label="Report runs">
              <thead>
                <tr>{['Requested', 'Report', 'Kind', 'Status', 'Period', 'By', 'Finished', 'Size', 'SHA-256', '']
                  .map((h) => <th key={h} scope="col">{h}</th>)}</tr>
              </thead>
              <tbody>
                {runList.map((r) => (
                  <tr key={r.id} data-testid={`run-${r.id}`}>
                    <td>{fmtTime(r.created)}</td>
                    <td>{r.name}</td>
                    <td>{r.kind} · {r.format}</td>
                    <td><RunProgress run={r} />{r.error && <span class="bad small"> {r.error}</span>}</td>
                    <td class="small">{fmtTime(r.from)} – {fmtTime(r.to)}</td>
                    <td>{r.requested_by}</td>
                    <td>{fmtTime(r.finished)}</td>
                    <td>{r.size !== null && r.size !== undefined ? fmtBytes(r.size) : ''}</td>
                    <td><code class="hash" title={cellText(r.sha256)}>{cellText(r.sha256).slice(0, 12)}</code></td>
                    <td>{r.status === 'done' && <a href={`/api/v1/report-runs/${r.id}/download`} download
                      aria-label={`Download ${r.name} run ${r.id}`}>Download</a>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
