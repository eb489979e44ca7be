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

const HISTORY_PAGES = 5; // audit pages of 1000 rows looked through for one incident's history

/** The objects of one incident whose audit rows belong to its history: the incident, its response
 * requests and its evidence items (object type -> ids). */
type Objects = Record<string, Set<string>>;

/** True when an audit row concerns the incident: one of its objects, or a row whose before/after
 * state names it (e.g. an alert attached to it). */
function aboutIncident(row: Row, id: string, objects: Objects): boolean {
  if (objects[String(row.object_type)]?.has(String(row.object_id))) return true;
  for (const k of ['after', 'before']) {
    const v = row[k];
    if (typeof v !== 'string' || !v.includes('incident')) continue;
    try {
      const o = JSON.parse(v) as Row;
      if (String(o.incident_id ?? o.incident ?? '') === id) return true;
    } catch {
      /* not JSON: not ours */
    }
  }
  return false;
}

/** The incident's own objects; a list the caller may not read is left out. */
async function incidentObjects(id: string): Promise<Objects> {
  const ids = async (path: string, key: string) => {
    try {
      const r = await api.get<Record<string, Row[]>>(path);
      return new Set((r[key] ?? []).map((x) => String(x.id)));
    } catch {
      return new Set<string>();
    }
  };
  return {
    incident: new Set([id]),
    response_request: await ids(`/incidents/${id}/actions`, 'requests'),
    evidence: await ids(`/incidents/${id}/evidence`, 'evidence'),
  };
}

/** On the incident page: the audit rows of that incident and of its response requests and
 * evidence, newest first, from GET /api/v1/audit (which has no object filter: pages back to the
 * incident's creation, at most HISTORY_PAGES). */
export function IncidentAuditCard({ incidentId, created }: { incidentId: number | string; created: string }) {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [partial, setPartial] = useState(false);
  const act = useAction();
  const id = String(incidentId);
  async function load() {
    const since = Date.parse(created) - 60e3;
    const objects = await incidentObjects(id);
    const out: Row[] = [];
    let before: string | null = null;
    let complete = false;
    for (let p = 0; p < HISTORY_PAGES && !complete; p++) {
      const page: { audit: Row[] } = await api.get<{ audit: Row[] }>('/audit', { limit: 1000, before });
      out.push(...page.audit.filter((r) => aboutIncident(r, id, objects)));
      const last = page.audit[page.audit.length - 1];
      complete = page.audit.length < 1000 || !last || Date.parse(String(last.ts)) < since;
      before = last ? String(last.id) : null;
    }
    setRows(out);
    setPartial(!complete);
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
      {partial && <p class="muted small">Only the newest {HISTORY_PAGES * 1000} audit rows were searched.</p>}
    </Card>
  );
}
