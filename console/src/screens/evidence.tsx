// evidence.tsx - the incident page's "Evidence" card: files kept with the incident (uploaded here,
// collected from an endpoint by a collect action, or exported from a search), each with its
// SHA-256 and size, a download link (the server re-hashes the file and records the download in
// the custody log), the custody log itself and a verification of the file and of the custody
// hash chain (docs/api.md, "Evidence").
import { useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, ErrorBox, useAction, useApi, Value } from '../components';
import { cellText, fmtBytes } from '../util';

type Row = Record<string, unknown>;

interface Evidence {
  id: number;
  name: string;
  kind: string;
  sha256: string;
  size: number;
  media_type: string;
  source: string;
  description: string;
  created_by: string;
  created: string;
  custody?: Row[];
}

interface Verify {
  ok: boolean;
  sha256_ok: boolean;
  chain_ok: boolean;
  custody_entries?: number;
  reason?: string | null;
}

/** One item: facts, download, custody log (loaded when opened) and verification. */
function Item({ ev, onChange }: { ev: Evidence; onChange: () => void }) {
  const [open, setOpen] = useState(false);
  const [verify, setVerify] = useState<Verify | null>(null);
  const detail = useApi<Evidence>(open ? `/evidence/${ev.id}` : null, undefined, [open]);
  const act = useAction();
  async function doVerify() {
    let v: Verify | null = null;
    if (await act.run(async () => { v = await api.post<Verify>(`/evidence/${ev.id}/verify`); })) {
      setVerify(v);
      if (open) detail.reload();
      onChange();
    }
  }
  return (
    <li data-testid={`evidence-${ev.id}`}>
      <strong>{ev.name}</strong> <span class="pill">{ev.kind}</span>{' '}
      <span class="muted">{fmtBytes(ev.size)} · {ev.created_by} · <Value k="created" v={ev.created} /></span>
      <div><code class="hash" title="SHA-256">{ev.sha256}</code></div>
      {ev.description && <p class="small">{ev.description}</p>}
      <div class="toolbar">
        {/* a plain link: the session cookie authenticates the GET; the server records the download */}
        <a href={`/api/v1/evidence/${ev.id}/download`} download={ev.name} onClick={() => setTimeout(() => open && detail.reload(), 1000)}>Download</a>
        <button type="button" disabled={act.busy} onClick={doVerify} aria-label={`Verify ${ev.name}`}>Verify</button>
        <button type="button" class="ghost" aria-expanded={open} onClick={() => setOpen(!open)} aria-label={`Custody log of ${ev.name}`}>
          {open ? 'Hide custody log' : 'Custody log'}
        </button>
        {verify && (
          <span role="status" data-testid={`verify-${ev.id}`} class={verify.ok ? 'ok' : 'bad'}>
            {verify.ok ? `Intact: SHA-256 matches, custody chain of ${verify.custody_entries ?? '?'} entries verified`
              : `Failed: ${!verify.sha256_ok ? 'the file does not match its SHA-256' : ''}${!verify.sha256_ok && !verify.chain_ok ? '; ' : ''}${!verify.chain_ok ? 'the custody chain is broken' : ''}${verify.reason ? ` (${verify.reason})` : ''}`}
          </span>
        )}
      </div>
      <ErrorBox error={act.error ?? detail.error} />
      {open && detail.data?.custody && (
        <table aria-label={`Custody of ${ev.name}`} class="custody">
          <thead><tr>{['When', 'Who', 'Step', 'Detail', 'SHA-256 seen'].map((h) => <th key={h} scope="col">{h}</th>)}</tr></thead>
          <tbody>
            {detail.data.custody.map((c) => (
              <tr key={String(c.id)}>
                <td><Value k="ts" v={c.ts} /></td>
                <td>{cellText(c.actor)}</td>
                <td>{cellText(c.action)}</td>
                <td>{cellText(c.detail)}</td>
                <td><code class="hash">{cellText(c.sha256_seen).slice(0, 16)}{c.sha256_seen ? '…' : ''}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </li>
  );
}

/** onChange (optional) hears every change made here (the incident's timeline grows with it). */
export function EvidenceCard({ me, incidentId, onChange }: { me: Me; incidentId: number | string; onChange?: () => void }) {
  const r = useApi<{ evidence: Evidence[] }>(`/incidents/${incidentId}/evidence`, undefined, [incidentId]);
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [formKey, setFormKey] = useState(0);
  const act = useAction();
  const items = r.data?.evidence ?? [];
  async function upload(e: Event) {
    e.preventDefault();
    if (!file) return;
    const q = { name: name || file.name, description };
    if (await act.run(() => api.postFile(`/incidents/${incidentId}/evidence`, file, q))) {
      setFile(null);
      setName('');
      setDescription('');
      setFormKey((k) => k + 1); // a fresh file input
      r.reload();
      onChange?.();
    }
  }
  return (
    <Card title={`Evidence (${items.length})`}>
      <ErrorBox error={r.error ?? act.error} />
      {r.data && !items.length && <p class="empty">No evidence yet</p>}
      {items.length > 0 && (
        <ul class="events" aria-label="Evidence">
          {items.map((ev) => <Item key={ev.id} ev={ev} onChange={() => { r.reload(); onChange?.(); }} />)}
        </ul>
      )}
      {can(me, 'incidents:write') && (
        <form key={formKey} class="inline-form" onSubmit={upload} aria-label="Upload evidence">
          <label>File <input type="file" required onChange={(e) => {
            const f = e.currentTarget.files?.[0] ?? null;
            setFile(f);
            if (f && !name) setName(f.name);
          }} /></label>
          <label>Name <input value={name} onInput={(e) => setName(e.currentTarget.value)} size={16} /></label>
          <label>Description <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} size={20} /></label>
          <button disabled={act.busy || !file}>Upload</button>
        </form>
      )}
    </Card>
  );
}
