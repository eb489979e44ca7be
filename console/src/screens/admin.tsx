// admin.tsx - administration screens: users (add, change role, disable), API tokens (create, shown
// once; revoke) and the audit log (browse, verify the hash chain). Tenants are in tenants.tsx.
import { useEffect, useState } from 'preact/hooks';
import { api, can, ROLES, type Me } from '../api';
import { Card, DataTable, ErrorBox, useAction, useApi } from '../components';
import { fmtNum } from '../util';

type Row = Record<string, unknown>;

/** The tenants the caller may pick: all of them for a provider user, else their own. */
export function TenantSelect({ me, value, onChange }: { me: Me; value: string; onChange: (v: string) => void }) {
  const t = useApi<{ tenants: Row[] }>(can(me, 'tenants:read') ? '/tenants' : null);
  const ids = t.data ? t.data.tenants.map((x) => String(x.id)) : [me.tenant];
  return (
    <label>Tenant
      <select name="tenant" value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {ids.map((id) => <option key={id} value={id}>{id}</option>)}
      </select>
    </label>
  );
}

function RoleSelect({ value, onChange, label = 'Role', name = 'role' }: { value: string; onChange: (v: string) => void; label?: string; name?: string }) {
  return (
    <label>{label}
      <select name={name} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
      </select>
    </label>
  );
}

export function UsersScreen({ me }: { me: Me }) {
  const users = useApi<{ users: Row[] }>('/users');
  const act = useAction();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState('tier1');
  const [tenant, setTenant] = useState(me.tenant);
  const write = can(me, 'users:write');

  async function add(e: Event) {
    e.preventDefault();
    if (await act.run(() => api.post('/users', { username, password, role, tenant }))) {
      setUsername('');
      setPassword('');
      users.reload();
    }
  }
  const patch = async (id: unknown, body: Row) => {
    if (await act.run(() => api.patch(`/users/${id}`, body))) users.reload();
  };

  return (
    <div>
      <h1>Users</h1>
      {write && (
        <Card title="Add a user">
          <form class="inline-form" onSubmit={add}>
            <label>Username <input name="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} autoComplete="off" /></label>
            <label>Password <input name="password" type="password" required minLength={8} value={password}
              onInput={(e) => setPassword(e.currentTarget.value)} autoComplete="new-password" /></label>
            <RoleSelect value={role} onChange={setRole} />
            <TenantSelect me={me} value={tenant} onChange={setTenant} />
            <button type="submit" class="primary" disabled={act.busy}>Add user</button>
          </form>
        </Card>
      )}
      <ErrorBox error={act.error ?? users.error} />
      {users.data && (
        <DataTable rows={users.data.users} label="Users" columns={['id', 'username', 'tenant', 'role', 'disabled', 'created', 'last_login']}
          actions={write ? (u) => (
            <>
              <select aria-label={`Role of ${u.username}`} value={String(u.role)} disabled={u.id === me.id}
                onChange={(e) => patch(u.id, { role: e.currentTarget.value })}>
                {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
              </select>
              <button type="button" disabled={u.id === me.id} onClick={() => patch(u.id, { disabled: !u.disabled })}>
                {u.disabled ? 'Enable' : 'Disable'}
              </button>
            </>
          ) : undefined} />
      )}
    </div>
  );
}

const EXPIRIES: { label: string; s: number | null }[] = [
  { label: 'never', s: null },
  { label: '1 day', s: 86400 },
  { label: '30 days', s: 30 * 86400 },
  { label: '90 days', s: 90 * 86400 },
  { label: '1 year', s: 365 * 86400 },
];

export function TokensScreen({ me }: { me: Me }) {
  const tokens = useApi<{ tokens: Row[] }>('/tokens');
  const act = useAction();
  const [name, setName] = useState('');
  const [role, setRole] = useState('tier1');
  const [tenant, setTenant] = useState(me.tenant);
  const [exp, setExp] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [confirm, setConfirm] = useState<unknown>(null);
  const write = can(me, 'tokens:write');

  async function create(e: Event) {
    e.preventDefault();
    const body: Row = { name, role, tenant };
    if (exp) body.expires_in_s = Number(exp);
    let tok: { token: string; name: string } | null = null;
    if (await act.run(async () => { tok = await api.post<{ token: string; name: string }>('/tokens', body); })) {
      setCreated(tok);
      setName('');
      tokens.reload();
    }
  }
  async function revoke(id: unknown) {
    setConfirm(null);
    if (await act.run(() => api.del(`/tokens/${id}`))) tokens.reload();
  }

  return (
    <div>
      <h1>API tokens</h1>
      {write && (
        <Card title="Create a token">
          <form class="inline-form" onSubmit={create}>
            <label>Name <input name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} autoComplete="off" /></label>
            <RoleSelect value={role} onChange={setRole} />
            <TenantSelect me={me} value={tenant} onChange={setTenant} />
            <label>Expires
              <select name="expires" value={exp} onChange={(e) => setExp(e.currentTarget.value)}>
                {EXPIRIES.map((x) => <option key={x.label} value={x.s === null ? '' : String(x.s)}>{x.label}</option>)}
              </select>
            </label>
            <button type="submit" class="primary" disabled={act.busy}>Create token</button>
          </form>
        </Card>
      )}
      {created && (
        <div class="secret" role="alert">
          <p>Token <strong>{created.name}</strong> — copy it now, it is not shown again:</p>
          <code data-testid="new-token">{created.token}</code>
          <div>
            <button type="button" onClick={() => navigator.clipboard?.writeText(created.token)}>Copy</button>
            <button type="button" class="ghost" onClick={() => setCreated(null)}>Done</button>
          </div>
        </div>
      )}
      <ErrorBox error={act.error ?? tokens.error} />
      {tokens.data && (
        <DataTable rows={tokens.data.tokens} label="API tokens"
          columns={['id', 'name', 'tenant', 'role', 'user_id', 'created', 'expires', 'last_used', 'revoked']}
          actions={write ? (t) => t.revoked ? null : confirm === t.id ? (
            <>
              <button type="button" class="danger" onClick={() => revoke(t.id)}>Confirm revoke</button>
              <button type="button" class="ghost" onClick={() => setConfirm(null)}>Cancel</button>
            </>
          ) : (
            <button type="button" onClick={() => setConfirm(t.id)} aria-label={`Revoke token ${t.name}`}>Revoke</button>
          ) : undefined} />
      )}
    </div>
  );
}

const PAGE = 100;

export function AuditScreen(_p: { me: Me }) {
  const [before, setBefore] = useState<string | null>(null);
  const audit = useApi<{ audit: Row[] }>('/audit', { limit: PAGE, before });
  const [verify, setVerify] = useState<Row | null>(null);
  const act = useAction();
  const rows = audit.data?.audit ?? [];
  async function doVerify() {
    let r: Row | null = null;
    if (await act.run(async () => { r = await api.post<Row>('/audit/verify'); })) setVerify(r);
  }
  return (
    <div>
      <h1>Audit log</h1>
      <div class="toolbar">
        <button type="button" class="primary" onClick={doVerify} disabled={act.busy}>Verify chain</button>
        {verify && (
          <span role="status" data-testid="verify-result" class={verify.ok ? 'ok' : 'bad'}>
            {verify.ok
              ? `Chain intact: ${fmtNum(Number(verify.rows))} rows verified`
              : `Chain broken at row ${String(verify.first_bad_id)} (${String(verify.reason)}); ${fmtNum(Number(verify.rows))} rows checked`}
          </span>
        )}
        <span class="spacer" />
        {before && <button type="button" onClick={() => setBefore(null)}>Newest</button>}
        <button type="button" disabled={rows.length < PAGE} onClick={() => setBefore(String(rows[rows.length - 1].id))}>Older</button>
      </div>
      <ErrorBox error={act.error ?? audit.error} />
      {audit.data && <DataTable rows={rows} label="Audit log"
        columns={['id', 'ts', 'actor', 'tenant', 'action', 'object_type', 'object_id', 'reason', 'after']} />}
    </div>
  );
}

/** The objects of one incident whose audit rows make its history: the incident, its tasks,
 * observables, alerts, response requests and evidence items, as "type:id". A list the caller may
 * not read is left out. The steps of the incident's response requests are rows of the incident
 * itself since they name it (after.incident_id, after.request_id); the requests are still asked
 * for because rows written by earlier versions name only the request. */
async function incidentObjects(id: string): Promise<string[]> {
  const ids = async (path: string, key: string, type: string) => {
    try {
      const r = await api.get<Record<string, Row[]>>(path);
      return (r[key] ?? []).map((x) => `${type}:${String(x.id)}`);
    } catch {
      return [];
    }
  };
  const inc = await api.get<Record<string, Row[]>>(`/incidents/${id}`);
  const of = (key: string, type: string) => (inc[key] ?? []).map((x) => `${type}:${String(x.id)}`);
  return [`incident:${id}`, ...of('tasks', 'incident_tasks'), ...of('observables', 'incident_observables'),
    ...of('alerts', 'alert'), ...await ids(`/incidents/${id}/actions`, 'requests', 'response_request'),
    ...await ids(`/incidents/${id}/evidence`, 'evidence', 'evidence')];
}

const OBJECTS_PER_CALL = 100; // GET /api/v1/audit?objects= takes at most 100 pairs

/** On the incident page: the audit rows of that incident and of its parts, newest first, from
 * GET /api/v1/audit?objects=type:id,... (the newest 1000 per 100 objects). */
export function IncidentAuditCard({ incidentId }: { incidentId: number | string; created?: string }) {
  const [rows, setRows] = useState<Row[] | null>(null);
  const act = useAction();
  const id = String(incidentId);
  async function load() {
    const objects = await incidentObjects(id);
    const byId = new Map<string, Row>();
    for (let i = 0; i < objects.length; i += OBJECTS_PER_CALL) {
      const page = await api.get<{ audit: Row[] }>('/audit', {
        limit: 1000, objects: objects.slice(i, i + OBJECTS_PER_CALL).join(','),
      });
      for (const r of page.audit) byId.set(String(r.id), r);
    }
    setRows([...byId.values()].sort((x, y) => Number(y.id) - Number(x.id)));
  }
  useEffect(() => {
    act.run(load);
  }, [id]);
  return (
    <Card title="Audit history" actions={<button type="button" disabled={act.busy} onClick={() => act.run(load)}>
      Reload</button>}>
      <ErrorBox error={act.error} />
      {rows && <DataTable rows={rows} label="Audit history" empty="No audit rows for this incident"
        columns={['id', 'ts', 'actor', 'action', 'object_type', 'object_id', 'reason']} />}
    </Card>
  );
}
