// agents.tsx - endpoints: the agents list (health, sensor mode, version, last seen, isolation),
// the agent page (heartbeat counters, its asset's criticality, inventory, response actions with their results, and a form
// to request an action), and enrolment tokens. The API is docs/agent-protocol.md's.
import { useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, DataTable, ErrorBox, useAction, useApi, usePoll, Value } from '../components';
import { linkClick, useLocation } from '../router';
import { cellText, fmtBytes, fmtTime } from '../util';
import { TenantSelect } from './admin';
import { AssetCriticality } from './assets';

type Row = Record<string, unknown>;

/** The agent action types with a parameter template each (also used by incident requests). */
export const ACTION_TYPES: { type: string; label: string; params: string }[] = [
  { type: 'query', label: 'Live query', params: '{"what": "processes"}' },
  { type: 'kill', label: 'Kill process', params: '{"pid": 0, "tree": false}' },
  { type: 'quarantine', label: 'Quarantine file', params: '{"path": ""}' },
  { type: 'restore', label: 'Restore file', params: '{"quarantine_id": ""}' },
  { type: 'collect', label: 'Collect file', params: '{"path": ""}' },
  { type: 'isolate', label: 'Isolate host', params: '{"allow": []}' },
  { type: 'release', label: 'Release isolation', params: '{}' },
  { type: 'block', label: 'Block address', params: '{"address": ""}' },
  { type: 'unblock', label: 'Unblock address', params: '{"address": ""}' },
  { type: 'yara', label: 'YARA scan', params: '{"rules": "rule r { strings: $a = \\"x\\" condition: $a }", "path": "/tmp"}' },
  { type: 'inventory', label: 'Refresh inventory', params: '{}' },
  { type: 'fim_accept', label: 'Accept FIM baseline', params: '{"path": ""}' },
];

/** The action type picker; picking one also hands over its parameter template. */
export function ActionTypeSelect({ type, onPick }: { type: string; onPick: (type: string, params: string) => void }) {
  return (
    <label>Action
      <select aria-label="Action" value={type}
        onChange={(e) => onPick(e.currentTarget.value, ACTION_TYPES.find((x) => x.type === e.currentTarget.value)?.params ?? '{}')}>
        {ACTION_TYPES.map((t) => <option key={t.type} value={t.type}>{t.label}</option>)}
      </select>
    </label>
  );
}

export function StatusPill({ s }: { s: string }) {
  const cls = s === 'online' || s === 'succeeded' || s === 'done' ? 'live'
    : s === 'offline' || s === 'revoked' || s === 'failed' || s === 'rejected' || s === 'expired' ? 'down' : '';
  return <span class={'pill ' + cls}>{s}</span>;
}

export function AgentsScreen({ me }: { me: Me }) {
  const loc = useLocation();
  const status = loc.params.get('status') ?? '';
  const r = useApi<{ agents: Row[] }>('/agents', { status }, [status]);
  const agents = r.data?.agents ?? [];
  return (
    <div>
      <h1>Agents</h1>
      <div class="toolbar">
        <span>{agents.filter((a) => a.status === 'online').length} online · {agents.filter((a) => a.status === 'offline').length} offline · {agents.length} in all</span>
        <button type="button" onClick={r.reload}>Refresh</button>
      </div>
      <ErrorBox error={r.error} />
      {r.data && !agents.length && <p class="empty">No agent has enrolled yet. Create an enrolment token below and run <code>vigil-agent --server URL --cacert FILE --enroll TOKEN</code> on the endpoint.</p>}
      {agents.length > 0 && (
        <div class="table-wrap">
          <table aria-label="Agents">
            <thead>
              <tr>{['Host', 'Status', 'Sensor', 'Version', 'OS', 'Last seen', 'Isolated', 'Tenant'].map((h) => <th key={h} scope="col">{h}</th>)}</tr>
            </thead>
            <tbody>
              {agents.map((a) => (
                <tr key={String(a.id)}>
                  <td><a href={`/agent?id=${encodeURIComponent(String(a.id))}`} onClick={linkClick}>{cellText(a.hostname) || cellText(a.id)}</a></td>
                  <td><StatusPill s={cellText(a.status)} /></td>
                  <td>{cellText(a.mode)}</td>
                  <td>{cellText(a.version)}</td>
                  <td>{cellText(a.os)} {cellText(a.kernel)}</td>
                  <td><Value k="last_seen" v={a.last_seen} /></td>
                  <td>{a.isolated ? <span class="bad">isolated</span> : 'no'}</td>
                  <td>{cellText(a.tenant)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {can(me, 'agents:write') && <EnrollTokens me={me} />}
    </div>
  );
}

function EnrollTokens({ me }: { me: Me }) {
  const r = useApi<{ enroll_tokens: Row[] }>('/enroll-tokens');
  const act = useAction();
  const [name, setName] = useState('');
  const [uses, setUses] = useState('1');
  const [tenant, setTenant] = useState(me.tenant);
  const [shown, setShown] = useState<string | null>(null);
  async function create(e: Event) {
    e.preventDefault();
    let tok: Row = {};
    if (await act.run(async () => {
      tok = await api.post<Row>('/enroll-tokens', { name, tenant, uses: Number(uses), expires_in_s: 86400 });
    })) {
      setShown(cellText(tok.token));
      setName('');
      r.reload();
    }
  }
  return (
    <Card title="Enrolment tokens">
      <form class="inline-form" onSubmit={create}>
        <label>Name <input required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
        <label>Uses (0 = unlimited) <input type="number" min="0" value={uses} onInput={(e) => setUses(e.currentTarget.value)} size={4} /></label>
        <TenantSelect me={me} value={tenant} onChange={setTenant} />
        <button class="primary" disabled={act.busy}>Create token</button>
      </form>
      <ErrorBox error={act.error ?? r.error} />
      {shown && <p role="status">New token (shown once): <code data-testid="enroll-token">{shown}</code></p>}
      {r.data && <DataTable rows={r.data.enroll_tokens} label="Enrolment tokens"
        columns={['name', 'tenant', 'uses', 'used', 'expires', 'revoked', 'created']}
        actions={(row) => !row.revoked && <button type="button" class="danger" onClick={async () => {
          if (await act.run(() => api.del(`/enroll-tokens/${row.id}`))) r.reload();
        }}>Revoke</button>} />}
    </Card>
  );
}

export function AgentScreen({ me }: { me: Me }) {
  const loc = useLocation();
  const id = loc.params.get('id') ?? '';
  const a = useApi<Row>(id ? `/agents/${encodeURIComponent(id)}` : null, undefined, [id]);
  const inv = useApi<Row>(id ? `/agents/${encodeURIComponent(id)}/inventory` : null, undefined, [id]);
  const actions = useApi<{ actions: Row[] }>(id ? '/actions' : null, { agent: id, limit: 100 }, [id]);
  // while an action waits or runs (a collect's file coming in), its status and progress refresh
  usePoll(actions.reload, 2000,
    !!actions.data?.actions.some((r) => r.status === 'queued' || r.status === 'delivered'));
  const act = useAction();
  if (!id) return <p class="empty">No agent given.</p>;
  const ag = a.data;
  return (
    <div>
      <p><a href="/agents" onClick={linkClick}>← Agents</a></p>
      <ErrorBox error={a.error ?? act.error} />
      {ag && (
        <>
          <h1>{cellText(ag.hostname) || id}</h1>
          <dl class="facts" aria-label="Agent facts">
            <dt>Status</dt><dd><StatusPill s={cellText(ag.status)} /></dd>
            <dt>Sensor mode</dt><dd>{cellText(ag.mode)}</dd>
            <dt>Version</dt><dd>{cellText(ag.version)}</dd>
            <dt>OS / kernel</dt><dd>{cellText(ag.os)} {cellText(ag.kernel)}</dd>
            <dt>Last seen</dt><dd>{fmtTime(ag.last_seen)}</dd>
            <dt>Enrolled</dt><dd>{fmtTime(ag.enrolled)}</dd>
            <dt>Isolated</dt><dd>{ag.isolated ? <span class="bad">yes</span> : 'no'}</dd>
            <dt>Tenant</dt><dd>{cellText(ag.tenant)}</dd>
            <dt>Criticality</dt><dd><AssetCriticality tenant={cellText(ag.tenant)} hostname={cellText(ag.hostname)} /></dd>
            <dt>Agent id</dt><dd><code>{id}</code></dd>
          </dl>
          {can(me, 'agents:write') && ag.status !== 'revoked' && (
            <button type="button" class="danger" disabled={act.busy} onClick={async () => {
              if (confirm('Revoke this agent? It will be refused from its next request.') &&
                await act.run(() => api.post(`/agents/${encodeURIComponent(id)}/revoke`))) a.reload();
            }}>Revoke agent</button>
          )}
          {ag.counters && typeof ag.counters === 'object' && (
            <Card title="Counters">
              <DataTable label="Counters" rows={Object.entries(ag.counters as Row).map(([k, v]) => ({ counter: k, value: v }))} />
            </Card>
          )}
          {can(me, 'actions:request') && <ActionForm agent={id} onDone={actions.reload} />}
          <Card title="Actions">
            <ErrorBox error={actions.error} />
            {actions.data && <ActionList rows={actions.data.actions} me={me} onChange={actions.reload} />}
          </Card>
          <Inventory inv={inv.data} error={inv.error} />
        </>
      )}
    </div>
  );
}

function ActionForm({ agent, onDone }: { agent: string; onDone: () => void }) {
  const [type, setType] = useState('query');
  const [params, setParams] = useState(ACTION_TYPES[0].params);
  const [reason, setReason] = useState('');
  const act = useAction();
  async function submit(e: Event) {
    e.preventDefault();
    let p: unknown;
    try {
      p = JSON.parse(params);
    } catch {
      act.run(() => Promise.reject(new Error('parameters are not valid JSON')));
      return;
    }
    if (await act.run(() => api.post(`/agents/${encodeURIComponent(agent)}/actions`, { type, params: p, reason }))) onDone();
  }
  return (
    <Card title="Request an action">
      <form class="stack-form" onSubmit={submit}>
        <ActionTypeSelect type={type} onPick={(t, p) => { setType(t); setParams(p); }} />
        <label>Parameters (JSON) <textarea rows={3} value={params} onInput={(e) => setParams(e.currentTarget.value)} spellcheck={false} /></label>
        <label>Reason <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="why (kept in the audit log)" /></label>
        <button class="primary" disabled={act.busy}>Send</button>
      </form>
      <ErrorBox error={act.error} />
    </Card>
  );
}

function ActionList({ rows, me, onChange }: { rows: Row[]; me: Me; onChange: () => void }) {
  const [open, setOpen] = useState<string | null>(null);
  const act = useAction();
  if (!rows.length) return <p class="empty">No actions yet</p>;
  return (
    <>
      <ErrorBox error={act.error} />
      <ul class="events" aria-label="Actions">
        {rows.map((r) => {
          const id = cellText(r.id);
          return (
            <li key={id}>
              <button type="button" class="link" aria-expanded={open === id} onClick={() => setOpen(open === id ? null : id)}>
                {open === id ? '▾' : '▸'} {fmtTime(r.created)} <strong>{cellText(r.type)}</strong> {JSON.stringify(r.params ?? {})}
              </button>{' '}
              <StatusPill s={cellText(r.status)} /> <span class="muted">by {cellText(r.requested_by)}</span>
              {r.status === 'queued' && can(me, 'actions:request') && (
                <button type="button" onClick={async () => {
                  if (await act.run(() => api.post(`/actions/${encodeURIComponent(id)}/cancel`))) onChange();
                }}>Cancel</button>
              )}
              {r.type === 'collect' && r.status === 'delivered' && <UploadProgress id={id} up={r.upload as Row | undefined} />}
              {r.type === 'collect' && r.status === 'succeeded' && <> <a href={`/api/v1/actions/${encodeURIComponent(id)}/file`} download>download</a></>}
              {open === id && (
                <pre class="result" aria-label="Result">{r.error ? `error: ${cellText(r.error)}\n` : ''}{JSON.stringify(r.result ?? null, null, 2)}</pre>
              )}
            </li>
          );
        })}
      </ul>
    </>
  );
}

/** How much of a collected file has reached vigild (the agent announces the file's size). */
function UploadProgress({ id, up }: { id: string; up: Row | undefined }) {
  if (!up) return null;
  const got = Number(up.received ?? 0);
  const total = typeof up.total === 'number' ? up.total : null;
  return (
    <span class="progress">
      {' '}<progress max={total ?? undefined} value={total === null ? undefined : got}
        aria-label={`Upload of action ${id}`} />{' '}
      {fmtBytes(got)}{total !== null ? ` of ${fmtBytes(total)}` : ''} received
    </span>
  );
}

function Inventory({ inv, error }: { inv: Row | null; error: string | null }) {
  const [tab, setTab] = useState('packages');
  if (error) return <Card title="Inventory"><p class="empty">No inventory yet ({error}).</p></Card>;
  if (!inv) return null;
  const tabs = ['packages', 'users', 'groups', 'interfaces', 'listening'].filter((t) => Array.isArray(inv[t]));
  const rows = (inv[tab] as Row[] | undefined) ?? [];
  return (
    <Card title="Inventory">
      <p class="muted">{cellText((inv.os as Row | undefined)?.name)} {cellText((inv.os as Row | undefined)?.version)} · kernel {cellText(inv.kernel)} · {cellText(inv.arch)}</p>
      <div role="tablist" aria-label="Inventory" class="toolbar">
        {tabs.map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} class={tab === t ? 'primary' : ''} onClick={() => setTab(t)}>
            {t} ({(inv[t] as Row[]).length})
          </button>
        ))}
      </div>
      <DataTable rows={rows.slice(0, 500).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : v])))} label={`Inventory ${tab}`} />
      {rows.length > 500 && <p class="muted">showing 500 of {rows.length}</p>}
    </Card>
  );
}
