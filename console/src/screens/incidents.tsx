// incidents.tsx - the incident list and the incident page: the analyst's ticket. The page shows
// the lifecycle with the next steps as buttons (resolving and closing ask for a resolution), the
// owner, severity and priority, the alerts, comments, tasks, observables with their sightings in
// other incidents, response actions and their approvals (response.tsx), evidence with its custody
// log (evidence.tsx), the timeline of everything that happened and the incident's audit rows.
// Writes go to the incidents API (docs/api.md, "Incidents"); every one is audited by the server.
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, ErrorBox, NotFoundBox, useAction, useApi, Value } from '../components';
import { linkClick, navigate, useLocation } from '../router';
import { cellText, fmtTime } from '../util';
import { SevBadge } from './alerts';
import { IncidentAuditCard } from './admin';
import { EvidenceCard } from './evidence';
import { IncidentActions } from './response';

type Row = Record<string, unknown>;

export interface Incident {
  id: number;
  tenant: string;
  title: string;
  description: string;
  status: string;
  resolution: string | null;
  severity: string;
  priority: string;
  type: string;
  owner: string | null;
  tags: string[];
  created: string;
  updated: string;
  acknowledged: string | null;
  contained: string | null;
  resolved: string | null;
  closed: string | null;
  alert_count: number;
  alerts?: Row[];
  comments?: Row[];
  tasks?: Row[];
  observables?: Row[];
  timeline?: Row[];
  sla?: Record<string, { target_s: number; due: string | null; state: string; elapsed_s: number }>;
}

const STATUSES = ['new', 'acknowledged', 'investigating', 'contained', 'resolved', 'closed'];
const RESOLUTIONS = ['true_positive', 'false_positive', 'benign', 'duplicate'];
const OBS_TYPES = ['ip', 'domain', 'hostname', 'url', 'user', 'email', 'hash', 'file', 'other'];
const TLPS = ['clear', 'green', 'amber', 'amber+strict', 'red'];

export function IncidentsScreen({ me }: { me: Me }) {
  const loc = useLocation();
  const status = loc.params.get('status') ?? 'active';
  const r = useApi<{ incidents: Incident[] }>('/incidents', { status: status === 'all' ? '' : status, limit: 500 }, [status]);
  const rows = r.data?.incidents ?? [];
  const [title, setTitle] = useState('');
  const act = useAction();
  async function create(e: Event) {
    e.preventDefault();
    let inc: Incident | null = null;
    if (await act.run(async () => {
      inc = await api.post<Incident>('/incidents', { title });
    }) && inc) navigate(`/incident?id=${(inc as Incident).id}`);
  }
  return (
    <div>
      <h1>Incidents</h1>
      <div class="toolbar">
        <label>Status
          <select value={status} onChange={(e) => navigate('/incidents?status=' + e.currentTarget.value, true)}>
            {['active', ...STATUSES, 'all'].map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <button type="button" onClick={r.reload}>Refresh</button>
      </div>
      {can(me, 'incidents:write') && (
        <form class="inline-form" onSubmit={create} aria-label="New incident">
          <label>New incident <input required value={title} onInput={(e) => setTitle(e.currentTarget.value)} placeholder="title" size={40} /></label>
          <button class="primary" disabled={act.busy}>Open incident</button>
        </form>
      )}
      <ErrorBox error={r.error ?? act.error} />
      {r.data && !rows.length && <p class="empty">No incidents yet</p>}
      {rows.length > 0 && (
        <div class="table-wrap">
          <table aria-label="Incidents">
            <thead>
              <tr>{['Updated', 'Severity', 'Priority', 'Status', 'Title', 'Owner', 'Alerts', 'Tenant'].map((h) => <th key={h} scope="col">{h}</th>)}</tr>
            </thead>
            <tbody>
              {rows.map((i) => (
                <tr key={i.id}>
                  <td><Value k="updated" v={i.updated} /></td>
                  <td><SevBadge s={i.severity} /></td>
                  <td>{i.priority}</td>
                  <td>{i.status}{i.resolution ? ` (${i.resolution})` : ''}</td>
                  <td><a href={`/incident?id=${i.id}`} onClick={linkClick}>{i.title}</a></td>
                  <td>{cellText(i.owner)}</td>
                  <td>{i.alert_count}</td>
                  <td>{i.tenant}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** The clock of a milestone: how long from creation it took, or how long it has been running. */
function clock(created: string, at: string | null): string {
  const start = Date.parse(created);
  const end = at ? Date.parse(at) : Date.now();
  if (Number.isNaN(start) || Number.isNaN(end)) return '';
  const s = Math.max(0, Math.round((end - start) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return (h ? `${h} h ` : '') + `${m} min` + (at ? '' : ' (running)');
}

export function IncidentScreen({ me }: { me: Me }) {
  const loc = useLocation();
  const id = loc.params.get('id') ?? '';
  const r = useApi<Incident>(id ? `/incidents/${encodeURIComponent(id)}` : null, undefined, [id]);
  const act = useAction();
  const [resolution, setResolution] = useState('true_positive');
  const [comment, setComment] = useState('');
  const [task, setTask] = useState('');
  const [obsType, setObsType] = useState('ip');
  const [obsValue, setObsValue] = useState('');
  const [obsTlp, setObsTlp] = useState('amber');
  const [owner, setOwner] = useState<string | null>(null);
  const inc = r.data;
  const write = can(me, 'incidents:write');
  if (!id) return <p class="empty">No incident given.</p>;

  async function patch(body: Row) {
    if (await act.run(() => api.patch(`/incidents/${id}`, body))) r.reload();
  }
  async function post(path: string, body: Row, after?: () => void) {
    if (await act.run(() => api.post(`/incidents/${id}/${path}`, body))) {
      after?.();
      r.reload();
    }
  }
  const idx = inc ? STATUSES.indexOf(inc.status) : -1;
  const next = inc ? STATUSES.filter((_, i) => i > idx) : [];
  return (
    <div>
      <p><a href="/incidents" onClick={linkClick}>← Incidents</a></p>
      {r.status === 404 ? <NotFoundBox what={`Incident ${id}`} /> : <ErrorBox error={r.error ?? act.error} />}
      {inc && (
        <>
          <h1>{inc.title}</h1>
          <dl class="facts" aria-label="Incident facts">
            <dt>Status</dt><dd data-testid="incident-status">{inc.status}{inc.resolution ? ` (${inc.resolution})` : ''}</dd>
            <dt>Severity</dt><dd><SevBadge s={inc.severity} /></dd>
            <dt>Priority</dt><dd>{inc.priority}</dd>
            <dt>Owner</dt><dd>{cellText(inc.owner) || <span class="muted">nobody</span>}</dd>
            <dt>Opened</dt><dd>{fmtTime(inc.created)}</dd>
            {(['acknowledge', 'contain', 'resolve'] as const).map((c) => {
              const k = c === 'acknowledge' ? 'acknowledged' : c === 'contain' ? 'contained' : 'resolved';
              const sla = inc.sla?.[c];
              return (
                <Fragment key={c}>
                  <dt>Time to {c}</dt>
                  <dd data-testid={`sla-${c}`}>
                    {clock(inc.created, inc[k])}
                    {sla && sla.state !== 'none' && (
                      <> <span class={'pill sla-' + sla.state}>{sla.state}</span>
                        {sla.due && sla.state === 'running' && <span class="muted"> due {fmtTime(sla.due)}</span>}</>
                    )}
                  </dd>
                </Fragment>
              );
            })}
            {inc.tags.length > 0 && <><dt>Tags</dt><dd>{inc.tags.join(', ')}</dd></>}
            <dt>Tenant</dt><dd>{inc.tenant}</dd>
          </dl>
          {inc.description && <p>{inc.description}</p>}
          {write && (
            <div class="toolbar" aria-label="Lifecycle">
              {next.filter((s) => s !== 'resolved' && s !== 'closed').map((s) => (
                <button key={s} type="button" disabled={act.busy} onClick={() => patch({ status: s })}>
                  {s === 'acknowledged' ? 'Acknowledge' : s === 'investigating' ? 'Investigate' : 'Contained'}
                </button>
              ))}
              {(inc.status === 'resolved' || inc.status === 'closed') ? (
                <button type="button" disabled={act.busy} onClick={() => patch({ status: 'investigating', reason: 'reopened' })}>Reopen</button>
              ) : (
                <>
                  <label>Resolution
                    <select value={resolution} onChange={(e) => setResolution(e.currentTarget.value)}>
                      {RESOLUTIONS.map((x) => <option key={x} value={x}>{x.replace('_', ' ')}</option>)}
                    </select>
                  </label>
                  <button type="button" disabled={act.busy} onClick={() => patch({ status: 'resolved', resolution })}>Resolve</button>
                </>
              )}
              {inc.status !== 'closed' && (
                <button type="button" class="primary" disabled={act.busy}
                  onClick={() => patch(inc.resolution ? { status: 'closed' } : { status: 'closed', resolution })}>Close incident</button>
              )}
              <label>Owner <input value={owner ?? inc.owner ?? ''} onInput={(e) => setOwner(e.currentTarget.value)} size={12} /></label>
              <button type="button" disabled={act.busy || owner === null} onClick={() => patch({ owner: owner || null })}>Set owner</button>
            </div>
          )}
          <div class="grid2">
            <Card title={`Alerts (${inc.alerts?.length ?? 0})`}>
              {!inc.alerts?.length ? <p class="empty">No alerts attached</p> : (
                <ul class="events">
                  {inc.alerts.map((a) => (
                    <li key={String(a.id)}>
                      <SevBadge s={cellText(a.severity)} /> <a href={`/alert?id=${a.id}`} onClick={linkClick}>{cellText(a.title)}</a>
                      <span class="muted"> · {cellText(a.host)} · {fmtTime(a.last_seen)} · ×{cellText(a.count)}</span>
                    </li>
                  ))}
                </ul>
              )}
            </Card>
            <Card title="Observables">
              {!inc.observables?.length ? <p class="empty">No observables</p> : (
                <ul class="events" aria-label="Observables">
                  {inc.observables.map((o) => (
                    <li key={String(o.id)}>
                      <code>{cellText(o.type)}</code> {cellText(o.value)} <span class="pill">TLP:{cellText(o.tlp).toUpperCase()}</span>
                      {Array.isArray(o.sightings) && (o.sightings as Row[]).length > 0 && (
                        <span class="muted"> · also in {(o.sightings as Row[]).map((s, i) => (
                          <span key={i}>{i ? ', ' : ''}<a href={`/incident?id=${s.incident}`} onClick={linkClick}>#{cellText(s.incident)}</a></span>
                        ))}</span>
                      )}
                    </li>
                  ))}
                </ul>
              )}
              {write && (
                <form class="inline-form" onSubmit={(e) => { e.preventDefault(); post('observables', { type: obsType, value: obsValue, tlp: obsTlp }, () => setObsValue('')); }}>
                  <label>Type <select value={obsType} onChange={(e) => setObsType(e.currentTarget.value)}>{OBS_TYPES.map((t) => <option key={t}>{t}</option>)}</select></label>
                  <label>Value <input required value={obsValue} onInput={(e) => setObsValue(e.currentTarget.value)} /></label>
                  <label>TLP <select value={obsTlp} onChange={(e) => setObsTlp(e.currentTarget.value)}>{TLPS.map((t) => <option key={t}>{t}</option>)}</select></label>
                  <button disabled={act.busy}>Add observable</button>
                </form>
              )}
            </Card>
            <Card title="Tasks">
              {!inc.tasks?.length ? <p class="empty">No tasks</p> : (
                <ul class="events" aria-label="Tasks">
                  {inc.tasks.map((t) => (
                    <li key={String(t.id)}>
                      <label>
                        <input type="checkbox" checked={t.status === 'done'} disabled={!write || act.busy}
                          onChange={async (e) => {
                            const done = e.currentTarget.checked;
                            if (await act.run(() => api.patch(`/incident-tasks/${t.id}`, { status: done ? 'done' : 'open' }))) r.reload();
                          }} /> {cellText(t.title)}
                      </label>
                      {t.owner ? <span class="muted"> · {cellText(t.owner)}</span> : null}
                    </li>
                  ))}
                </ul>
              )}
              {write && (
                <form class="inline-form" onSubmit={(e) => { e.preventDefault(); post('tasks', { title: task }, () => setTask('')); }}>
                  <label>Task <input required value={task} onInput={(e) => setTask(e.currentTarget.value)} /></label>
                  <button disabled={act.busy}>Add task</button>
                </form>
              )}
            </Card>
            <Card title="Comments">
              {!inc.comments?.length ? <p class="empty">No comments</p> : (
                <ul class="events" aria-label="Comments">
                  {inc.comments.map((c) => (
                    <li key={String(c.id)}><strong>{cellText(c.author)}</strong> <span class="muted">{fmtTime(c.created)}</span><p class="comment">{cellText(c.body)}</p></li>
                  ))}
                </ul>
              )}
              {write && (
                <form class="stack-form" onSubmit={(e) => { e.preventDefault(); post('comments', { body: comment }, () => setComment('')); }}>
                  <label>Comment <textarea rows={3} required value={comment} onInput={(e) => setComment(e.currentTarget.value)} /></label>
                  <button disabled={act.busy}>Add comment</button>
                </form>
              )}
            </Card>
          </div>
          <div class="grid2">
            <IncidentActions me={me} incidentId={inc.id} tenant={inc.tenant} onChange={r.reload} />
            <EvidenceCard me={me} incidentId={inc.id} onChange={r.reload} />
          </div>
          <Card title="Timeline">
            <ol class="timeline" aria-label="Timeline">
              {(inc.timeline ?? []).map((t) => (
                <li key={String(t.id)}><time>{fmtTime(t.ts)}</time> <strong>{cellText(t.actor)}</strong> <code>{cellText(t.kind)}</code> {cellText(t.summary)}</li>
              ))}
            </ol>
          </Card>
          {can(me, 'audit:read') && <IncidentAuditCard incidentId={inc.id} created={inc.created} />}
        </>
      )}
    </div>
  );
}

/** On an alert page: open an incident from the alert, or attach it to an active one. */
export function AlertIncidentActions({ alertId, title, incidentId, onDone }: { alertId: number; title: string; incidentId?: number | null; onDone: () => void }) {
  const act = useAction();
  const list = useApi<{ incidents: Incident[] }>('/incidents', { status: 'active', limit: 100 });
  const [target, setTarget] = useState('');
  if (incidentId) return <p>In incident <a href={`/incident?id=${incidentId}`} onClick={linkClick}>#{incidentId}</a></p>;
  return (
    <div class="toolbar" aria-label="Incident">
      <button type="button" disabled={act.busy} onClick={async () => {
        let inc: Incident | null = null;
        if (await act.run(async () => { inc = await api.post<Incident>('/incidents', { title, alert_ids: [alertId] }); }) && inc)
          navigate(`/incident?id=${(inc as Incident).id}`);
      }}>Create incident</button>
      {(list.data?.incidents.length ?? 0) > 0 && (
        <>
          <label>Attach to
            <select value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
              <option value="">choose an incident</option>
              {list.data!.incidents.map((i) => <option key={i.id} value={String(i.id)}>#{i.id} {i.title}</option>)}
            </select>
          </label>
          <button type="button" disabled={act.busy || !target} onClick={async () => {
            if (await act.run(() => api.post(`/incidents/${target}/alerts`, { alert_ids: [alertId] }))) onDone();
          }}>Attach</button>
        </>
      )}
      <ErrorBox error={act.error} />
    </div>
  );
}
