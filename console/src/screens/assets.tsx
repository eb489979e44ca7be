// assets.tsx - the asset inventory (docs/api.md, "assets"): the tenant's assets with hostname,
// address, criticality (a coloured pill; changed inline with a labelled select), owner and tags; a
// form to add one and a delete with confirmation. An alert's severity is raised for high and
// critical assets, so this is where an analyst says which hosts matter. The agent page shows the
// criticality of its host through AssetCriticality.
import { useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, ErrorBox, useAction, useApi } from '../components';
import { linkClick, useLocation } from '../router';
import { fmtTime } from '../util';
import { TenantSelect } from './admin';

export interface Asset {
  id: number;
  tenant: string;
  hostname: string;
  ip: string | null;
  criticality: string;
  owner: string | null;
  tags: string[];
  created: string;
  updated: string;
}

export const CRITICALITIES = ['low', 'medium', 'high', 'critical'];

export function CritPill({ c }: { c: string }) {
  return <span class={`pill crit-${c}`} data-testid="criticality">{c}</span>;
}

/** The criticality of the asset named hostname in tenant, linking to the assets screen; nothing
 * when no asset has that hostname. */
export function AssetCriticality({ tenant, hostname }: { tenant: string; hostname: string }) {
  const r = useApi<{ assets: Asset[] }>(hostname ? '/assets' : null, { tenant, limit: 1000 }, [tenant, hostname]);
  const a = (r.data?.assets ?? []).find((x) => x.hostname.toLowerCase() === hostname.toLowerCase());
  if (!a) return <span class="muted">no asset record (<a href={`/assets?tenant=${encodeURIComponent(tenant)}`} onClick={linkClick}>assets</a>)</span>;
  return (
    <a href={`/assets?tenant=${encodeURIComponent(tenant)}`} onClick={linkClick} aria-label={`Asset criticality ${a.criticality}`}>
      <CritPill c={a.criticality} />
    </a>
  );
}

function AddAsset({ me, tenant, setTenant, onDone }: { me: Me; tenant: string; setTenant: (t: string) => void; onDone: () => void }) {
  const [hostname, setHostname] = useState('');
  const [ip, setIp] = useState('');
  const [criticality, setCriticality] = useState('medium');
  const [owner, setOwner] = useState('');
  const [tags, setTags] = useState('');
  const act = useAction();
  async function submit(e: Event) {
    e.preventDefault();
    const body: Record<string, unknown> = { criticality, tags: tags.split(/[\s,]+/).filter(Boolean) };
    if (hostname) body.hostname = hostname;
    if (ip) body.ip = ip;
    if (owner) body.owner = owner;
    if (await act.run(() => api.post('/assets', body, { tenant }))) {
      setHostname('');
      setIp('');
      setOwner('');
      setTags('');
      onDone();
    }
  }
  return (
    <Card title="Add an asset">
      <form class="inline-form" onSubmit={submit}>
        <label>Hostname <input name="hostname" value={hostname} onInput={(e) => setHostname(e.currentTarget.value)} /></label>
        <label>IP address <input name="ip" value={ip} size={16} onInput={(e) => setIp(e.currentTarget.value)} /></label>
        <label>Criticality <select name="criticality" value={criticality} onChange={(e) => setCriticality(e.currentTarget.value)}>
          {CRITICALITIES.map((c) => <option key={c} value={c}>{c}</option>)}</select></label>
        <label>Owner <input name="owner" value={owner} onInput={(e) => setOwner(e.currentTarget.value)} /></label>
        <label>Tags <input name="tags" value={tags} placeholder="pci, dmz" onInput={(e) => setTags(e.currentTarget.value)} /></label>
        {me.provider && <TenantSelect me={me} value={tenant} onChange={setTenant} />}
        <button type="submit" class="primary" disabled={act.busy || (!hostname && !ip)}>Add asset</button>
      </form>
      <ErrorBox error={act.error} />
    </Card>
  );
}

export function AssetsScreen({ me }: { me: Me }) {
  const loc = useLocation();
  const [tenant, setTenant] = useState(loc.params.get('tenant') || me.tenant);
  const r = useApi<{ assets: Asset[]; count: number }>('/assets', { tenant, limit: 1000 }, [tenant]);
  const act = useAction();
  const [confirm, setConfirm] = useState<number | null>(null);
  const [filter, setFilter] = useState('');
  const write = can(me, 'agents:write');
  const list = (r.data?.assets ?? []).filter((a) => !filter || JSON.stringify(a).toLowerCase().includes(filter.toLowerCase()));
  const name = (a: Asset) => a.hostname || a.ip || String(a.id);
  async function patch(a: Asset, body: Record<string, unknown>) {
    if (await act.run(() => api.patch(`/assets/${a.id}`, body))) r.reload();
  }
  async function del(a: Asset) {
    setConfirm(null);
    if (await act.run(() => api.del(`/assets/${a.id}`))) r.reload();
  }
  return (
    <div>
      <h1>Assets</h1>
      <p class="muted">An alert on a high asset is raised one severity step, on a critical one two.</p>
      {write && <AddAsset me={me} tenant={tenant} setTenant={setTenant} onDone={r.reload} />}
      <div class="toolbar">
        {me.provider && !write && <TenantSelect me={me} value={tenant} onChange={setTenant} />}
        <label>Filter <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} placeholder="host, owner, tag" /></label>
        <span>{list.length} of {r.data?.count ?? 0} assets in {tenant}</span>
        <button type="button" onClick={r.reload}>Refresh</button>
      </div>
      <ErrorBox error={act.error ?? r.error} />
      {r.data && !list.length && <p class="empty">No assets{filter ? ' match' : ' recorded for this tenant yet'}</p>}
      {list.length > 0 && (
        <div class="table-wrap">
          <table aria-label="Assets">
            <thead>
              <tr>{['Hostname', 'IP', 'Criticality', 'Owner', 'Tags', 'Updated', ...(write ? ['actions'] : [])]
                .map((h) => <th key={h} scope="col">{h}</th>)}</tr>
            </thead>
            <tbody>
              {list.map((a) => (
                <tr key={a.id} data-testid={`asset-${a.id}`}>
                  <td>{a.hostname}</td>
                  <td>{a.ip ?? ''}</td>
                  <td>
                    <CritPill c={a.criticality} />
                    {write && (
                      <> <select aria-label={`Criticality of ${name(a)}`} value={a.criticality} disabled={act.busy}
                        onChange={(e) => patch(a, { criticality: e.currentTarget.value })}>
                        {CRITICALITIES.map((c) => <option key={c} value={c}>{c}</option>)}
                      </select></>
                    )}
                  </td>
                  <td>{a.owner ?? ''}</td>
                  <td>{(a.tags ?? []).join(', ')}</td>
                  <td>{fmtTime(a.updated)}</td>
                  {write && (
                    <td class="actions">
                      {confirm === a.id ? (
                        <>
                          <button type="button" class="danger" onClick={() => del(a)}>Confirm delete</button>
                          <button type="button" class="ghost" onClick={() => setConfirm(null)}>Keep</button>
                        </>
                      ) : <button type="button" class="ghost" onClick={() => setConfirm(a.id)} aria-label={`Delete ${name(a)}`}>Delete</button>}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
