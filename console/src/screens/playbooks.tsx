// playbooks.tsx - the Playbooks screen (docs/api.md, "Response orchestration": GET/POST
// /api/v1/playbooks, PUT/DELETE /api/v1/playbooks/{id}): the list with each playbook's trigger,
// task templates, response steps and enabled switch; a form that creates one or edits one (the
// server validates: its message is shown in the form); delete with a confirmation. Playbooks of
// the provider tenant apply to every tenant and are changed by the provider only; callers
// without rules:write see the list read-only. The server enforces the same.
import { useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, ErrorBox, useAction, useApi } from '../components';
import { fmtTime } from '../util';
import { TenantSelect } from './admin';
import { ACTION_TYPES, ActionTypeSelect } from './agents';
import { SEVERITIES } from './alerts';

interface Trigger { incident_type?: string; rule_id?: string; min_severity?: string; tag?: string }
interface Step { type: string; params?: Record<string, unknown> }

export interface Playbook {
  id: number;
  tenant: string;
  name: string;
  enabled: boolean;
  trigger: Trigger;
  tasks: string[];
  steps: Step[];
  created_by: string;
  created: string;
  updated: string;
}

/** A playbook as the API's create/replace body takes it. */
type Def = Omit<Playbook, 'id' | 'tenant' | 'created_by' | 'created' | 'updated'> & { tenant?: string };

const TRIGGER_FIELDS: [keyof Trigger, string, string][] = [
  ['incident_type', 'Incident type', 'ransomware'],
  ['rule_id', 'Rule id', 'the id alerts carry'],
  ['tag', 'Tag', 'attack.t1486'],
];

function defOf(p: Playbook, enabled = p.enabled): Def {
  return { name: p.name, enabled, trigger: p.trigger, tasks: p.tasks, steps: p.steps };
}

function TriggerText({ t }: { t: Trigger }) {
  const parts = Object.entries(t).filter(([k]) => k !== 'incident_type').map(([k, v]) => `${k.replace('_', ' ')} ${v}`);
  return parts.length ? <span>{parts.join(', ')}</span> : <span class="muted">none</span>;
}

export function PlaybooksScreen({ me }: { me: Me }) {
  const r = useApi<{ playbooks: Playbook[]; count: number }>('/playbooks');
  const act = useAction();
  const write = can(me, 'rules:write');
  const [editing, setEditing] = useState<Playbook | null>(null);
  const [confirm, setConfirm] = useState<number | null>(null);
  const [saved, setSaved] = useState(0); // remounts the form empty after a save
  const mine = (p: Playbook) => write && (me.provider || p.tenant === me.tenant);
  const list = r.data?.playbooks ?? [];
  async function toggle(p: Playbook, enabled: boolean) {
    if (await act.run(() => api.put(`/playbooks/${p.id}`, defOf(p, enabled)))) r.reload();
  }
  async function del(p: Playbook) {
    setConfirm(null);
    if (await act.run(() => api.del(`/playbooks/${p.id}`))) {
      if (editing?.id === p.id) setEditing(null);
      r.reload();
    }
  }
  return (
    <div>
      <h1>Playbooks</h1>
      <p class="muted">A playbook adds its tasks to every incident of its type, and requests its response steps on the
        host of an alert matching its trigger when the alert joins an incident (the tenant's approval rules apply).
        The provider's playbooks apply to every tenant.</p>
      <div class="toolbar">
        <span>{list.length} playbooks</span>
        <button type="button" onClick={r.reload}>Refresh</button>
      </div>
      <ErrorBox error={r.error ?? act.error} />
      {r.data && !list.length && <p class="empty">No playbooks yet</p>}
      {list.length > 0 && (
        <div class="table-wrap">
          <table aria-label="Playbooks">
            <thead>
              <tr>{['Name', 'Incident type', 'Other trigger', 'Tasks', 'Steps', 'Enabled', 'Tenant', 'Updated', ...(write ? ['actions'] : [])]
                .map((h) => <th key={h} scope="col">{h}</th>)}</tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <tr key={p.id} data-testid={`playbook-${p.id}`}>
                  <td>{p.name}</td>
                  <td>{p.trigger.incident_type ?? <span class="muted">any</span>}</td>
                  <td><TriggerText t={p.trigger} /></td>
                  <td>{p.tasks.length ? <ul class="plain">{p.tasks.map((t, i) => <li key={i}>{t}</li>)}</ul> : <span class="muted">none</span>}</td>
                  <td>{p.steps.length ? p.steps.map((s) => s.type).join(', ') : <span class="muted">none</span>}</td>
                  <td>
                    <input type="checkbox" aria-label={`Enabled: ${p.name}`} checked={p.enabled} disabled={!mine(p) || act.busy}
                      onChange={(e) => toggle(p, e.currentTarget.checked)} />
                  </td>
                  <td>{p.tenant}</td>
                  <td>{fmtTime(p.updated)}</td>
                  {write && (
                    <td class="actions">
                      {mine(p) && (confirm === p.id ? (
                        <>
                          <button type="button" class="danger" disabled={act.busy} onClick={() => del(p)}>Confirm delete</button>
                          <button type="button" class="ghost" onClick={() => setConfirm(null)}>Keep</button>
                        </>
                      ) : (
                        <>
                          <button type="button" class="ghost" onClick={() => setEditing(p)} aria-label={`Edit ${p.name}`}>Edit</button>
                          <button type="button" class="ghost" onClick={() => setConfirm(p.id)} aria-label={`Delete ${p.name}`}>Delete</button>
                        </>
                      ))}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {write && <PlaybookForm key={editing ? `edit-${editing.id}` : `new-${saved}`} me={me} editing={editing}
        onDone={() => { setEditing(null); setSaved(saved + 1); r.reload(); }} onCancel={() => setEditing(null)} />}
    </div>
  );
}

interface StepRow { type: string; params: string }

/** The create form, or the edit form of one playbook; the server's validation message shows here. */
function PlaybookForm({ me, editing, onDone, onCancel }: {
  me: Me;
  editing: Playbook | null;
  onDone: () => void;
  onCancel: () => void;
}) {
  const act = useAction();
  const [name, setName] = useState(editing?.name ?? '');
  const [enabled, setEnabled] = useState(editing?.enabled ?? true);
  const [trigger, setTrigger] = useState<Trigger>(editing?.trigger ?? {});
  const [tasks, setTasks] = useState((editing?.tasks ?? []).join('\n'));
  const [steps, setSteps] = useState<StepRow[]>((editing?.steps ?? []).map((s) => ({ type: s.type, params: JSON.stringify(s.params ?? {}) })));
  const [tenant, setTenant] = useState(me.tenant);
  const setStep = (i: number, s: Partial<StepRow>) => setSteps(steps.map((x, j) => (j === i ? { ...x, ...s } : x)));
  function body(): Def {
    const t: Trigger = {};
    for (const [k, v] of Object.entries(trigger)) if (v) t[k as keyof Trigger] = v;
    const parsed = steps.map((s, i) => {
      try {
        return { type: s.type, params: JSON.parse(s.params || '{}') };
      } catch {
        throw new Error(`step ${i + 1}: the parameters are not JSON`);
      }
    });
    const def: Def = { name, enabled, trigger: t, tasks: tasks.split('\n').map((x) => x.trim()).filter(Boolean), steps: parsed };
    if (!editing && me.provider) def.tenant = tenant;
    return def;
  }
  async function submit(e: Event) {
    e.preventDefault();
    const ok = await act.run(async () => {
      const def = body();
      if (editing) await api.put(`/playbooks/${editing.id}`, def);
      else await api.post('/playbooks', def);
    });
    if (ok) onDone();
  }
  const title = editing ? `Edit playbook ${editing.name}` : 'New playbook';
  return (
    <Card title={title}>
      <form class="stack-form" onSubmit={submit} aria-label={title}>
        <label>Name <input value={name} required maxLength={127} onInput={(e) => setName(e.currentTarget.value)} /></label>
        <label class="row"><input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} /> Enabled</label>
        <fieldset class="cond-rows">
          <legend>Trigger (every member given must match; at least one)</legend>
          <div class="row">
            {TRIGGER_FIELDS.map(([k, label, hint]) => (
              <label key={k}>{label} <input value={trigger[k] ?? ''} placeholder={hint}
                onInput={(e) => setTrigger({ ...trigger, [k]: e.currentTarget.value })} /></label>
            ))}
            <label>Minimum severity <select value={trigger.min_severity ?? ''}
              onChange={(e) => setTrigger({ ...trigger, min_severity: e.currentTarget.value })}>
              <option value="">any</option>
              {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
            </select></label>
          </div>
        </fieldset>
        <label>Tasks (one title per line; added to incidents of the type)
          <textarea rows={4} value={tasks} onInput={(e) => setTasks(e.currentTarget.value)} />
        </label>
        <fieldset class="cond-rows">
          <legend>Response steps (requested on the alert's host)</legend>
          {steps.map((s, i) => (
            <div class="row" key={i} role="group" aria-label={`Step ${i + 1}`}>
              <ActionTypeSelect type={s.type} onPick={(type, params) => setStep(i, { type, params })} />
              <label>Parameters (JSON) <input value={s.params} size={32} onInput={(e) => setStep(i, { params: e.currentTarget.value })} /></label>
              <button type="button" class="ghost" aria-label={`Remove step ${i + 1}`}
                onClick={() => setSteps(steps.filter((_x, j) => j !== i))}>Remove</button>
            </div>
          ))}
          <div><button type="button" onClick={() => setSteps([...steps, { type: ACTION_TYPES[0].type, params: ACTION_TYPES[0].params }])}>
            Add step</button></div>
        </fieldset>
        {!editing && me.provider && <TenantSelect me={me} value={tenant} onChange={setTenant} />}
        <ErrorBox error={act.error} />
        <div class="toolbar">
          <button type="submit" class="primary" disabled={act.busy}>{editing ? 'Save playbook' : 'Create playbook'}</button>
          {editing && <button type="button" class="ghost" onClick={onCancel}>Cancel</button>}
        </div>
      </form>
    </Card>
  );
}
