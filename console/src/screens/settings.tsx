// settings.tsx - the provider's and tenant admin's configuration screens: threat-intelligence
// feeds (status, last error, indicator counts, refresh, add) and notifications (routes that form
// the on-call rota and escalation, and the delivery log with its dead letters and replay).
import { useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, DataTable, ErrorBox, useAction, useApi } from '../components';

type Row = Record<string, unknown>;

export function IntelScreen({ me }: { me: Me }) {
  const feeds = useApi<{ feeds: Row[] }>('/intel/feeds');
  const act = useAction();
  const [name, setName] = useState('');
  const [kind, setKind] = useState('txt');
  const [url, setUrl] = useState('');
  const write = can(me, 'rules:write');
  async function add(e: Event) {
    e.preventDefault();
    if (await act.run(() => api.post('/intel/feeds', { name, kind, url, refresh_s: 3600 }))) {
      setName('');
      setUrl('');
      feeds.reload();
    }
  }
  return (
    <div>
      <h1>Threat intelligence</h1>
      <ErrorBox error={feeds.error ?? act.error} />
      {feeds.data && <DataTable rows={feeds.data.feeds} label="Feeds"
        columns={['name', 'kind', 'tenant', 'status', 'indicators', 'last_refresh', 'last_error', 'enabled']}
        empty="No feeds yet"
        actions={(f) => write && (
          <button type="button" disabled={act.busy} onClick={async () => {
            if (await act.run(() => api.post(`/intel/feeds/${f.id}/refresh`))) feeds.reload();
          }}>Refresh</button>
        )} />}
      {write && (
        <Card title="Add a feed">
          <form class="inline-form" onSubmit={add}>
            <label>Name <input required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
            <label>Kind
              <select value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
                {['txt', 'csv', 'misp', 'stix', 'taxii'].map((k) => <option key={k}>{k}</option>)}
              </select>
            </label>
            <label>URL or path <input required value={url} onInput={(e) => setUrl(e.currentTarget.value)} size={40} /></label>
            <button class="primary" disabled={act.busy}>Add feed</button>
          </form>
        </Card>
      )}
    </div>
  );
}

export function NotifyScreen(_p: { me: Me }) {
  const routes = useApi<{ routes: Row[] }>('/notify/routes');
  const [status, setStatus] = useState('dead');
  const deliveries = useApi<{ deliveries: Row[] }>('/notify/deliveries', { status, limit: 200 }, [status]);
  const act = useAction();
  const [form, setForm] = useState<Record<string, string>>({ name: '', channel: 'webhook', target: '', events: 'incident.created,sla.breach', min_severity: 'high', days: '', hours: '', secret: '' });
  const set = (k: string) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });
  async function add(e: Event) {
    e.preventDefault();
    const body: Row = { ...form };
    for (const k of ['days', 'hours', 'secret']) if (!body[k]) delete body[k];
    if (await act.run(() => api.post('/notify/routes', body))) {
      setForm({ ...form, name: '', target: '', secret: '' });
      routes.reload();
    }
  }
  return (
    <div>
      <h1>Notifications</h1>
      <p class="muted">Routes pick incident events by kind, severity, rule, weekday and hour (UTC): one route per shift makes the on-call rota; a route on <code>sla.breach</code> to the next level is the escalation ladder.</p>
      <ErrorBox error={routes.error ?? act.error} />
      {routes.data && <DataTable rows={routes.data.routes} label="Routes"
        columns={['name', 'tenant', 'events', 'min_severity', 'days', 'hours', 'channel', 'target', 'enabled']} empty="No routes yet"
        actions={(r) => (
          <>
            <button type="button" disabled={act.busy} onClick={async () => {
              if (await act.run(() => api.patch(`/notify/routes/${r.id}`, { enabled: !r.enabled }))) routes.reload();
            }}>{r.enabled ? 'Disable' : 'Enable'}</button>
            <button type="button" class="danger" disabled={act.busy} onClick={async () => {
              if (await act.run(() => api.del(`/notify/routes/${r.id}`))) routes.reload();
            }}>Delete</button>
          </>
        )} />}
      <Card title="Add a route">
        <form class="inline-form" onSubmit={add}>
          <label>Name <input required value={form.name} onInput={set('name')} /></label>
          <label>Channel
            <select value={form.channel} onChange={set('channel')}>
              {['webhook', 'email', 'syslog'].map((c) => <option key={c}>{c}</option>)}
            </select>
          </label>
          <label>Target <input required value={form.target} onInput={set('target')} placeholder="URL, address or host:port" size={30} /></label>
          <label>Events <input value={form.events} onInput={set('events')} size={26} /></label>
          <label>Min severity
            <select value={form.min_severity} onChange={set('min_severity')}>
              {['informational', 'low', 'medium', 'high', 'critical'].map((c) => <option key={c}>{c}</option>)}
            </select>
          </label>
          <label>Days <input value={form.days} onInput={set('days')} placeholder="mon-fri" size={8} /></label>
          <label>Hours <input value={form.hours} onInput={set('hours')} placeholder="08-18" size={6} /></label>
          <label>Secret <input value={form.secret} onInput={set('secret')} placeholder="webhook HMAC key" size={12} /></label>
          <button class="primary" disabled={act.busy}>Add route</button>
        </form>
      </Card>
      <Card title="Deliveries">
        <div class="toolbar">
          <label>Status
            <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              {['dead', 'pending', 'sent'].map((c) => <option key={c}>{c}</option>)}
            </select>
          </label>
          <button type="button" onClick={deliveries.reload}>Refresh</button>
        </div>
        {deliveries.data && <DataTable rows={deliveries.data.deliveries} label="Deliveries"
          columns={['id', 'created', 'event', 'title', 'tenant', 'status', 'attempts', 'last_error', 'sent']}
          empty={status === 'dead' ? 'No dead letters' : 'None'}
          actions={(d) => d.status === 'dead' && (
            <button type="button" disabled={act.busy} onClick={async () => {
              if (await act.run(() => api.post(`/notify/deliveries/${d.id}/replay`))) deliveries.reload();
            }}>Replay</button>
          )} />}
      </Card>
    </div>
  );
}
