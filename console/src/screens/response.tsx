// response.tsx - response requests: the approvals inbox of customer approvers, tenant
// administrators and the provider (GET /api/v1/approvals, approve or reject with a reason, time
// left before the request expires, refreshed every few seconds), and the incident page's
// "Actions" card (request an agent action from the incident, the requests with their status and
// result, cancel). The approval flow is the server's (docs/api.md, "Response orchestration"): a
// semi-managed tenant's request waits for its customer's decision, a full-managed tenant's or a
// pre-approved type's is queued at once.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, ErrorBox, useAction, useApi, useNow, usePoll, Value } from '../components';
import { linkClick, navigate, useLocation } from '../router';
import { cellText } from '../util';
import { ACTION_TYPES, ActionTypeSelect, StatusPill } from './agents';

type Row = Record<string, unknown>;

export interface ResponseRequest {
  id: number;
  tenant: string;
  incident_id: number;
  agent_id: string;
  hostname: string | null;
  type: string;
  params: Row | null;
  reason: string;
  status: string;
  requested_by: string;
  created: string;
  escalated: string | null;
  timeout_at: string | null;
  decided_by: string | null;
  decided_at: string | null;
  decision_reason: string | null;
  action_id: number | null;
  action_status: string | null;
  playbook_id: number | null;
  result?: unknown;
  error?: string | null;
}

const POLL_MS = 30000; // a fallback: changes arrive on the stream (useApprovalEvents)

/** Calls reload whenever the server's event stream says a response request changed (its
 * `approval` events: created, decided, escalated, expired, cancelled, answered by the agent). */
function useApprovalEvents(reload: () => void, incidentId?: number | string): void {
  const ref = useRef(reload);
  ref.current = reload;
  useEffect(() => {
    const es = new EventSource('/api/v1/stream');
    es.addEventListener('approval', (ev) => {
      try {
        const d = JSON.parse((ev as MessageEvent).data) as { incident_id?: number };
        if (incidentId === undefined || String(d.incident_id) === String(incidentId)) ref.current();
      } catch { /* not ours */ }
    });
    return () => es.close();
  }, [incidentId]);
}
const FINAL = ['rejected', 'expired', 'cancelled', 'succeeded', 'failed'];
const STATUSES = ['pending', 'queued', 'succeeded', 'failed', 'rejected', 'expired', 'cancelled', 'all'];

/** "12 min 5 s left", or "expired" once the time is past. */
function timeLeft(at: string | null, now: number): string {
  if (!at) return '';
  const s = Math.round((Date.parse(at) - now) / 1000);
  if (Number.isNaN(s)) return '';
  if (s <= 0) return 'expired';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return (h ? `${h} h ` : '') + (h || m ? `${m} min ` : '') + (h ? '' : `${s % 60} s `) + 'left';
}

function Params({ p }: { p: unknown }) {
  if (!p || (typeof p === 'object' && !Object.keys(p as object).length)) return <span class="muted">none</span>;
  return <code class="params">{JSON.stringify(p)}</code>;
}

function ReqStatus({ r }: { r: ResponseRequest }) {
  return (
    <span data-testid={`request-status-${r.id}`}>
      <StatusPill s={r.status} />
      {r.action_status && r.action_status !== r.status && <span class="muted small"> action {r.action_status}</span>}
      {r.escalated && r.status === 'pending_approval' && <span class="pill bad">escalated</span>}
    </span>
  );
}

/** Approve/reject controls of one pending request, with the reason the server records. */
function Decide({ r, onDone }: { r: ResponseRequest; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const act = useAction();
  async function decide(verb: 'approve' | 'reject') {
    if (await act.run(() => api.post(`/approvals/${r.id}/${verb}`, { reason }))) onDone();
  }
  return (
    <div class="decide">
      <input aria-label={`Reason for request ${r.id}`} placeholder="reason" value={reason} size={16}
        onInput={(e) => setReason(e.currentTarget.value)} />
      <button type="button" class="primary" disabled={act.busy} onClick={() => decide('approve')}
        aria-label={`Approve request ${r.id}`}>Approve</button>
      <button type="button" class="danger" disabled={act.busy || !reason.trim()} onClick={() => decide('reject')}
        aria-label={`Reject request ${r.id}`} title={reason.trim() ? '' : 'give a reason to reject'}>Reject</button>
      <ErrorBox error={act.error} />
    </div>
  );
}

export function ApprovalsScreen({ me }: { me: Me }) {
  const loc = useLocation();
  const status = loc.params.get('status') ?? 'pending';
  const r = useApi<{ requests: ResponseRequest[] }>('/approvals', { status: status === 'all' ? '' : status, limit: 500 }, [status]);
  usePoll(r.reload, POLL_MS);
  useApprovalEvents(r.reload);
  const now = useNow();
  const rows = r.data?.requests ?? [];
  const approver = can(me, 'actions:approve');
  return (
    <div>
      <h1>Approvals</h1>
      <p class="muted">Response actions an analyst asked for on your endpoints. In a semi-managed tenant nothing runs
        before one of the tenant's approvers says yes; a request not decided in time expires and never runs.</p>
      <div class="toolbar">
        <label>Status
          <select value={status} onChange={(e) => navigate('/approvals?status=' + e.currentTarget.value, true)}>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <span class="pill live" role="status" aria-label="live refresh">refreshing every {POLL_MS / 1000} s</span>
      </div>
      <ErrorBox error={r.error} />
      {r.data && !rows.length && <p class="empty">{status === 'pending' ? 'No request is waiting for a decision' : 'No requests'}</p>}
      {rows.length > 0 && (
        <div class="table-wrap">
          <table aria-label="Approval requests">
            <thead>
              <tr>{['Requested', 'Incident', 'Tenant', 'Host', 'Action', 'Parameters', 'Reason', 'Requested by', 'Time left', 'Status', 'Decision']
                .map((h) => <th key={h} scope="col">{h}</th>)}</tr>
            </thead>
            <tbody>
              {rows.map((x) => (
                <tr key={x.id} data-testid={`approval-${x.id}`}>
                  <td><Value k="created" v={x.created} /></td>
                  <td><a href={`/incident?id=${x.incident_id}`} onClick={linkClick}>#{x.incident_id}</a></td>
                  <td>{x.tenant}</td>
                  <td>{x.hostname || x.agent_id}</td>
                  <td><strong>{x.type}</strong>{x.playbook_id ? <span class="muted small"> playbook {x.playbook_id}</span> : null}</td>
                  <td><Params p={x.params} /></td>
                  <td>{x.reason}</td>
                  <td>{x.requested_by}</td>
                  <td data-testid={`time-left-${x.id}`}>{x.status === 'pending_approval' ? timeLeft(x.timeout_at, now) : ''}</td>
                  <td><ReqStatus r={x} /></td>
                  <td>{x.status === 'pending_approval' && approver ? <Decide r={x} onDone={r.reload} />
                    : x.decided_by ? <span class="muted">{x.decided_by}{x.decision_reason ? `: ${x.decision_reason}` : ''}</span> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** The result of an action as text (an object is shown as JSON, cut to a readable length). */
function resultText(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 400 ? s.slice(0, 400) + '…' : s;
}

/** On the incident page: request an action on one of the tenant's hosts; the requests so far.
 * onChange (optional) hears a request or a cancel made here and a status change seen by polling. */
export function IncidentActions({ me, incidentId, tenant, onChange }: {
  me: Me;
  incidentId: number | string;
  tenant: string;
  onChange?: () => void;
}) {
  const r = useApi<{ requests: ResponseRequest[] }>(`/incidents/${incidentId}/actions`, undefined, [incidentId]);
  const rows = r.data?.requests ?? [];
  usePoll(r.reload, POLL_MS, rows.some((x) => !FINAL.includes(x.status)));
  useApprovalEvents(r.reload, incidentId);
  // the incident's timeline records every step: reload it when a status moved
  const states = rows.map((x) => `${x.id}:${x.status}:${x.action_status ?? ''}`).join(',');
  const seen = useRef(states);
  useEffect(() => {
    if (seen.current !== states && r.data) onChange?.();
    seen.current = states;
  }, [states]);
  const request = can(me, 'actions:request');
  const agents = useApi<{ agents: Row[] }>(request && can(me, 'agents:read') ? '/agents' : null, { tenant, limit: 500 }, [tenant]);
  const [agent, setAgent] = useState('');
  const [type, setType] = useState('query');
  const [params, setParams] = useState(ACTION_TYPES[0].params);
  const [reason, setReason] = useState('');
  const act = useAction();
  const now = useNow(5000);

  async function submit(e: Event) {
    e.preventDefault();
    let p: unknown;
    try {
      p = params.trim() ? JSON.parse(params) : {};
    } catch (err) {
      await act.run(() => Promise.reject(new Error('parameters: ' + (err as Error).message)));
      return;
    }
    if (await act.run(() => api.post(`/incidents/${incidentId}/actions`, { agent_id: agent, type, params: p, reason }))) {
      setReason('');
      r.reload();
    }
  }
  async function cancel(id: number) {
    if (await act.run(() => api.post(`/response-requests/${id}/cancel`, { reason: 'cancelled from the incident page' }))) r.reload();
  }
  const hosts = (agents.data?.agents ?? []).filter((a) => a.status !== 'revoked');
  return (
    <Card title={`Actions (${rows.length})`}>
      <ErrorBox error={r.error ?? act.error} />
      {r.data && !rows.length && <p class="empty">No response action requested</p>}
      {rows.length > 0 && (
        <ul class="events" aria-label="Response requests">
          {rows.map((x) => (
            <li key={x.id}>
              <strong>{x.type}</strong> on {x.hostname || x.agent_id} <ReqStatus r={x} />
              {x.status === 'pending_approval' && <span class="muted small"> {timeLeft(x.timeout_at, now)}</span>}
              {request && (x.status === 'pending_approval' || (x.status === 'queued' && (!x.action_status || x.action_status === 'queued'))) && (
                <> <button type="button" class="ghost" disabled={act.busy} onClick={() => cancel(x.id)}
                  aria-label={`Cancel request ${x.id}`}>Cancel</button></>
              )}
              <div class="muted small">
                <Params p={x.params} /> · {x.requested_by} · <Value k="created" v={x.created} />
                {x.reason && <> · {x.reason}</>}
                {x.decided_by && <> · decided by {x.decided_by}{x.decision_reason ? `: ${x.decision_reason}` : ''}</>}
              </div>
              {x.result !== undefined && x.result !== null && <pre class="result">{resultText(x.result)}</pre>}
              {x.error && <p class="bad small">{x.error}</p>}
            </li>
          ))}
        </ul>
      )}
      {request && (
        <form class="inline-form" onSubmit={submit} aria-label="Request an action">
          <label>Host
            <select required aria-label="Host" value={agent} onChange={(e) => setAgent(e.currentTarget.value)}>
              <option value="">choose a host</option>
              {hosts.map((a) => <option key={String(a.id)} value={String(a.id)}>{cellText(a.hostname) || cellText(a.id)} ({cellText(a.status)})</option>)}
            </select>
          </label>
          <ActionTypeSelect type={type} onPick={(t, p) => { setType(t); setParams(p); }} />
          <label>Parameters (JSON) <input class="mono" value={params} size={28} onInput={(e) => setParams(e.currentTarget.value)} /></label>
          <label>Reason <input value={reason} size={20} onInput={(e) => setReason(e.currentTarget.value)} /></label>
          <button class="primary" disabled={act.busy || !agent}>Request action</button>
        </form>
      )}
    </Card>
  );
}
