// tenants.tsx - tenants and their settings. The list (provider administrators add tenants); for
// provider principals the overview across tenants (GET /api/v1/provider/overview: open incidents
// by status, open SLA breaches, pending approvals, agents online and offline, alerts in 24 h);
// and one tenant's settings (GET/PATCH /api/v1/tenants/{id}/settings): mode and retention
// (provider only), contacts, business hours, approval timeout and escalation, the action types the
// customer pre-approved, whether automatic playbooks may act, and the SLA targets (read only).
import { useEffect, useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, DataTable, ErrorBox, useAction, useApi } from '../components';
import { linkClick, useLocation } from '../router';
import { cellText, fmtNum, fmtTime } from '../util';
import { ACTION_TYPES } from './agents';

type Row = Record<string, unknown>;

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

interface Contact {
  name: string;
  email: string;
  phone: string;
  role: string;
}

interface Settings {
  tenant: string;
  mode: string;
  retention_days: number;
  contacts: Contact[];
  business_hours: { timezone?: string; days?: string[]; start?: string; end?: string };
  approval_timeout_s: number;
  escalation_s: number | null;
  preapproved: string[];
  auto_playbooks: boolean;
  sla?: Record<string, Row>;
}

function ProviderOverview() {
  const r = useApi<{ tenants: Row[]; generated?: string }>('/provider/overview');
  const rows = (r.data?.tenants ?? []).map((t) => {
    const byStatus = (t.incidents_open ?? {}) as Record<string, number>;
    return { t, byStatus, open: Object.values(byStatus).reduce((a, b) => a + Number(b), 0) };
  });
  return (
    <Card title="Provider overview" actions={<button type="button" onClick={r.reload}>Refresh</button>}>
      <ErrorBox error={r.error} />
      {r.data && !rows.length && <p class="empty">No tenants</p>}
      {rows.length > 0 && (
        <div class="table-wrap">
          <table aria-label="Provider overview">
            <thead>
              <tr>{['Tenant', 'Mode', 'Open incidents', 'SLA breaches', 'Pending approvals', 'Agents online', 'Agents offline', 'Alerts 24 h']
                .map((h) => <th key={h} scope="col">{h}</th>)}</tr>
            </thead>
            <tbody>
              {rows.map(({ t, byStatus, open }) => (
                <tr key={String(t.tenant)} data-testid={`overview-${cellText(t.tenant)}`}>
                  <th scope="row"><a href={`/tenant?id=${encodeURIComponent(cellText(t.tenant))}`} onClick={linkClick}>{cellText(t.name || t.tenant)}</a></th>
                  <td>{cellText(t.mode)}</td>
                  <td title={Object.entries(byStatus).map(([k, v]) => `${k}: ${v}`).join(', ')}>{fmtNum(open)}</td>
                  <td class={Number(t.sla_breaches_open) > 0 ? 'bad' : ''}>{cellText(t.sla_breaches_open)}</td>
                  <td>{Number(t.approvals_pending) > 0
                    ? <a href="/approvals" onClick={linkClick}>{cellText(t.approvals_pending)}</a> : cellText(t.approvals_pending)}</td>
                  <td>{cellText(t.agents_online)}</td>
                  <td>{cellText(t.agents_offline)}</td>
                  <td>{cellText(t.alerts_24h)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {r.data?.generated && <p class="muted small">as of {fmtTime(r.data.generated)}</p>}
    </Card>
  );
}

export function TenantsScreen({ me }: { me: Me }) {
  const tenants = useApi<{ tenants: Row[] }>('/tenants');
  const act = useAction();
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  async function add(e: Event) {
    e.preventDefault();
    if (await act.run(() => api.post('/tenants', { id, name, retention_days: Number(days) }))) {
      setId('');
      setName('');
      tenants.reload();
    }
  }
  return (
    <div>
      <h1>Tenants</h1>
      {me.provider && <ProviderOverview />}
      {can(me, 'tenants:write') && me.provider && (
        <Card title="Add a tenant">
          <form class="inline-form" onSubmit={add}>
            <label>ID <input name="id" required pattern="[a-z0-9][a-z0-9_-]*" title="lower-case letters, digits, - and _"
              value={id} onInput={(e) => setId(e.currentTarget.value)} /></label>
            <label>Name <input name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
            <label>Retention (days) <input name="retention_days" type="number" min={1} max={3650} value={days}
              onInput={(e) => setDays(e.currentTarget.value)} /></label>
            <button type="submit" class="primary" disabled={act.busy}>Add tenant</button>
          </form>
        </Card>
      )}
      <ErrorBox error={act.error ?? tenants.error} />
      {tenants.data && <DataTable rows={tenants.data.tenants} label="Tenants"
        columns={['id', 'name', 'is_provider', 'mode', 'retention_days', 'created']}
        actions={(t) => <a href={`/tenant?id=${encodeURIComponent(String(t.id))}`} onClick={linkClick}
          aria-label={`Settings of ${cellText(t.name)}`}>Settings</a>} />}
    </div>
  );
}

function dur(s: unknown): string {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) return '';
  return n % 3600 === 0 ? `${n / 3600} h` : n % 60 === 0 ? `${n / 60} min` : `${n} s`;
}

export function TenantSettingsScreen({ me }: { me: Me }) {
  const loc = useLocation();
  const id = loc.params.get('id') ?? me.tenant;
  const r = useApi<Settings>(`/tenants/${encodeURIComponent(id)}/settings`, undefined, [id]);
  const [s, setS] = useState<Settings | null>(null);
  const [saved, setSaved] = useState(false);
  const act = useAction();
  const write = can(me, 'settings:write');
  useEffect(() => {
    if (r.data) setS(JSON.parse(JSON.stringify(r.data)) as Settings);
  }, [r.data]);
  const set = (p: Partial<Settings>) => {
    setSaved(false);
    setS((x) => (x ? { ...x, ...p } : x));
  };
  const hours = s?.business_hours ?? {};
  const setHours = (p: Row) => set({ business_hours: { ...hours, ...p } });
  const setContact = (i: number, p: Partial<Contact>) =>
    set({ contacts: (s?.contacts ?? []).map((c, j) => (j === i ? { ...c, ...p } : c)) });

  async function save(e: Event) {
    e.preventDefault();
    if (!s) return;
    // only what changed: the server keeps the rest (an escalation time never set stays "half
    // the timeout"), and the audit row shows just the change
    const edited: Row = {
      contacts: s.contacts.filter((c) => c.name || c.email || c.phone),
      business_hours: s.business_hours,
      approval_timeout_s: Number(s.approval_timeout_s),
      escalation_s: s.escalation_s === null || String(s.escalation_s) === '' ? null : Number(s.escalation_s),
      preapproved: s.preapproved,
      auto_playbooks: s.auto_playbooks,
    };
    if (me.provider) {
      edited.mode = s.mode;
      edited.retention_days = Number(s.retention_days);
    }
    const was = (r.data ?? {}) as unknown as Row;
    const body: Row = {};
    for (const [k, v] of Object.entries(edited)) if (JSON.stringify(v) !== JSON.stringify(was[k])) body[k] = v;
    if (await act.run(() => api.patch(`/tenants/${encodeURIComponent(id)}/settings`, body))) {
      setSaved(true);
      r.reload(); // the stored settings become the new baseline
    }
  }

  return (
    <div>
      <p><a href="/tenants" onClick={linkClick}>← Tenants</a></p>
      <h1>Settings of tenant {id}</h1>
      <ErrorBox error={r.error ?? act.error} />
      {s && (
        <form class="settings" onSubmit={save} aria-label="Tenant settings">
          <Card title="Service">
            <div class="inline-form">
              <label>Mode
                <select name="mode" value={s.mode} disabled={!write || !me.provider} onChange={(e) => set({ mode: e.currentTarget.value })}>
                  <option value="full">full (the provider responds)</option>
                  <option value="semi">semi (the customer approves actions)</option>
                </select>
              </label>
              <label>Retention (days)
                <input name="retention_days" type="number" min={1} max={3650} value={s.retention_days} disabled={!write || !me.provider}
                  onInput={(e) => set({ retention_days: Number(e.currentTarget.value) })} />
              </label>
              <label>Approval timeout (s)
                <input name="approval_timeout_s" type="number" min={60} value={s.approval_timeout_s} disabled={!write}
                  onInput={(e) => set({ approval_timeout_s: Number(e.currentTarget.value) })} />
              </label>
              <label>Escalation after (s)
                <input name="escalation_s" type="number" min={0} value={s.escalation_s ?? ''} disabled={!write}
                  placeholder={String(Math.floor(s.approval_timeout_s / 2))}
                  onInput={(e) => set({ escalation_s: e.currentTarget.value === '' ? null : Number(e.currentTarget.value) })} />
              </label>
              <label class="row">
                <input type="checkbox" name="auto_playbooks" checked={s.auto_playbooks} disabled={!write}
                  onChange={(e) => set({ auto_playbooks: e.currentTarget.checked })} /> Automatic playbooks may act
              </label>
            </div>
            {!me.provider && <p class="muted small">Only the provider changes the mode and the retention.</p>}
          </Card>
          <Card title="Pre-approved actions">
            <fieldset class="checks" disabled={!write}>
              <legend class="muted small">These action types run without waiting for an approval.</legend>
              {ACTION_TYPES.map(({ type: t }) => (
                <label key={t} class="row">
                  <input type="checkbox" checked={s.preapproved.includes(t)}
                    onChange={(e) => set({ preapproved: e.currentTarget.checked ? [...s.preapproved, t] : s.preapproved.filter((x) => x !== t) })} />
                  {' '}{t}
                </label>
              ))}
            </fieldset>
          </Card>
          <Card title="Business hours">
            <div class="inline-form">
              <label>Time zone <input name="timezone" value={hours.timezone ?? ''} placeholder="Europe/Berlin" disabled={!write}
                onInput={(e) => setHours({ timezone: e.currentTarget.value })} /></label>
              <label>Start <input name="start" type="time" value={hours.start ?? ''} disabled={!write}
                onInput={(e) => setHours({ start: e.currentTarget.value })} /></label>
              <label>End <input name="end" type="time" value={hours.end ?? ''} disabled={!write}
                onInput={(e) => setHours({ end: e.currentTarget.value })} /></label>
              <fieldset class="checks" disabled={!write}>
                <legend class="muted small">Days</legend>
                {DAYS.map((d) => (
                  <label key={d} class="row">
                    <input type="checkbox" checked={(hours.days ?? []).includes(d)}
                      onChange={(e) => setHours({ days: e.currentTarget.checked ? [...(hours.days ?? []), d] : (hours.days ?? []).filter((x) => x !== d) })} />
                    {' '}{d}
                  </label>
                ))}
              </fieldset>
            </div>
          </Card>
          <Card title="Contacts">
            <div class="table-wrap">
              <table aria-label="Contacts">
                <thead><tr>{['Name', 'E-mail', 'Phone', 'Role', ''].map((h) => <th key={h} scope="col">{h}</th>)}</tr></thead>
                <tbody>
                  {s.contacts.map((c, i) => (
                    <tr key={i}>
                      {(['name', 'email', 'phone', 'role'] as const).map((k) => (
                        <td key={k}><input aria-label={`Contact ${i + 1} ${k}`} value={c[k] ?? ''} disabled={!write}
                          type={k === 'email' ? 'email' : 'text'} onInput={(e) => setContact(i, { [k]: e.currentTarget.value })} /></td>
                      ))}
                      <td>{write && <button type="button" class="ghost" aria-label={`Remove contact ${i + 1}`}
                        onClick={() => set({ contacts: s.contacts.filter((_, j) => j !== i) })}>Remove</button>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {write && <button type="button" onClick={() => set({ contacts: [...s.contacts, { name: '', email: '', phone: '', role: '' }] })}>Add contact</button>}
          </Card>
          {s.sla && (
            <Card title="SLA targets">
              <DataTable label="SLA targets" columns={['severity', 'acknowledge', 'contain', 'resolve', 'default']}
                rows={Object.entries(s.sla).map(([sev, t]) => ({ severity: sev, acknowledge: dur(t.acknowledge_s), contain: dur(t.contain_s),
                  resolve: dur(t.resolve_s), default: t.default }))} />
            </Card>
          )}
          {write && (
            <div class="toolbar">
              <button type="submit" class="primary" disabled={act.busy}>Save settings</button>
              {saved && <span role="status" class="ok" data-testid="settings-saved">Saved</span>}
            </div>
          )}
        </form>
      )}
    </div>
  );
}
