// policy.tsx - the alert policy on the rules screen (docs/api.md, "exceptions" and "suppressions";
// docs/rules.md, "Alert policy"): a rule's exceptions (conditions, reason, hits, creator; add with
// field/value condition rows; delete) shown in the rule's expanded row, and the Suppressions card
// (the active suppression windows with their end and hits; add one for a rule or every rule; end
// one). The write controls are offered to rules:write only; the server enforces the same.
import { useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, ErrorBox, useAction, useApi } from '../components';
import { cellText, fmtNum, fmtTime, toLocalInput } from '../util';
import { TenantSelect } from './admin';

export interface PolicyEntry {
  id: number;
  tenant: string;
  rule_id: string | null;
  conditions: Record<string, string | string[]>;
  reason: string;
  created_by: string;
  created: string;
  hits: number;
  until?: string;
}

interface Cond { field: string; value: string }

/** {"host.name": "a", "user.name": ["b", "c"]} as text. */
export function condText(c: Record<string, string | string[]>): string {
  return Object.entries(c).map(([k, v]) => `${k} = ${Array.isArray(v) ? v.join(' | ') : v}`).join(' and ');
}

/** The rows as the API's conditions object: a field given twice gets a list of values (any of). */
function condObject(rows: Cond[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const r of rows) {
    const f = r.field.trim();
    if (!f || !r.value) continue;
    const had = out[f];
    out[f] = had === undefined ? r.value : Array.isArray(had) ? [...had, r.value] : [had, r.value];
  }
  return out;
}

/** Editable field/value rows (labelled "Field n" and "Value n"), with add and remove. */
function CondRows({ rows, onChange }: { rows: Cond[]; onChange: (rows: Cond[]) => void }) {
  const set = (i: number, c: Partial<Cond>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...c } : r)));
  return (
    <fieldset class="cond-rows">
      <legend>Conditions (all must match; a field given twice matches any of its values; * is a wildcard)</legend>
      {rows.map((r, i) => (
        <div class="row" key={i}>
          <label>Field {i + 1} <input value={r.field} placeholder="host.name" onInput={(e) => set(i, { field: e.currentTarget.value })} /></label>
          <label>Value {i + 1} <input value={r.value} placeholder="scanner-*" onInput={(e) => set(i, { value: e.currentTarget.value })} /></label>
          {rows.length > 1 && <button type="button" class="ghost" aria-label={`Remove condition ${i + 1}`}
            onClick={() => onChange(rows.filter((_r, j) => j !== i))}>Remove</button>}
        </div>
      ))}
      <div><button type="button" onClick={() => onChange([...rows, { field: '', value: '' }])}>Add condition</button></div>
    </fieldset>
  );
}

/** The rows of a policy list, with a delete (or end) button for writers. */
function EntryTable({ rows, label, withRule, delLabel, onDelete, busy }: {
  rows: PolicyEntry[];
  label: string;
  withRule: boolean;
  delLabel: string | null;
  onDelete: (e: PolicyEntry) => void;
  busy: boolean;
}) {
  const cols = ['Conditions', ...(withRule ? ['Rule', 'Until'] : []), 'Reason', 'Hits', 'By', 'Created', 'Tenant'];
  return (
    <div class="table-wrap">
      <table aria-label={label}>
        <thead><tr>{[...cols, ...(delLabel ? [''] : [])].map((h) => <th key={h} scope="col">{h}</th>)}</tr></thead>
        <tbody>
          {rows.map((e) => (
            <tr key={e.id} data-testid={`policy-${e.id}`}>
              <td><code>{condText(e.conditions)}</code></td>
              {withRule && <td>{e.rule_id ?? <span class="muted">every rule</span>}</td>}
              {withRule && <td>{fmtTime(e.until)}</td>}
              <td>{e.reason}</td>
              <td>{fmtNum(e.hits)}</td>
              <td>{e.created_by}</td>
              <td>{fmtTime(e.created)}</td>
              <td>{e.tenant}</td>
              {delLabel && <td><button type="button" class="ghost" disabled={busy} onClick={() => onDelete(e)}
                aria-label={`${delLabel} ${e.id}`}>{delLabel}</button></td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const FIRST_ROW: Cond = { field: 'host.name', value: '' };

/** The state of an add form (condition rows, reason, tenant) and its submit: POST path with the
 * conditions and reason plus extra(), then clear the rows and reason and call done. */
function useEntryForm(path: string, defTenant: string, done: () => void) {
  const act = useAction();
  const [rows, setRows] = useState<Cond[]>([FIRST_ROW]);
  const [reason, setReason] = useState('');
  const [tenant, setTenant] = useState(defTenant);
  async function submit(e: Event, extra: Record<string, unknown> = {}) {
    e.preventDefault();
    if (await act.run(() => api.post(path, { conditions: condObject(rows), reason, ...extra }, { tenant }))) {
      setRows([FIRST_ROW]);
      setReason('');
      done();
    }
  }
  return { act, rows, setRows, reason, setReason, tenant, setTenant, submit };
}

/** A rule's exceptions: the list and, for rules:write, a form to add one (in the rule's tenant by default). */
export function RuleExceptions({ me, ruleId, ruleTenant, title }: { me: Me; ruleId: string; ruleTenant: string; title: string }) {
  const path = `/rules/${encodeURIComponent(ruleId)}/exceptions`;
  const r = useApi<{ exceptions: PolicyEntry[]; count: number; hits: number }>(path, undefined, [ruleId]);
  const { act, rows, setRows, reason, setReason, tenant, setTenant, submit } = useEntryForm(path, ruleTenant, r.reload);
  const write = can(me, 'rules:write');
  async function del(x: PolicyEntry) {
    if (await act.run(() => api.del(`/exceptions/${x.id}`))) r.reload();
  }
  const list = r.data?.exceptions ?? [];
  return (
    <section aria-label={`Exceptions of ${title}`} class="rule-exceptions">
      <h3>Exceptions of {title} {r.data && <span class="muted">({r.data.count}, {fmtNum(r.data.hits)} matches dropped)</span>}</h3>
      <ErrorBox error={act.error ?? r.error} />
      {r.data && !list.length && <p class="empty">No exceptions for this rule</p>}
      {list.length > 0 && <EntryTable rows={list} label={`Exceptions of ${title}`} withRule={false}
        delLabel={write ? 'Delete exception' : null} onDelete={del} busy={act.busy} />}
      {write && (
        <form class="stack-form" onSubmit={(e) => submit(e)} aria-label={`Add an exception to ${title}`}>
          <CondRows rows={rows} onChange={setRows} />
          <label>Reason <input value={reason} required placeholder="why these matches are expected"
            onInput={(e) => setReason(e.currentTarget.value)} /></label>
          {me.provider && <TenantSelect me={me} value={tenant} onChange={setTenant} />}
          <div><button type="submit" class="primary" disabled={act.busy}>Add exception</button></div>
        </form>
      )}
    </section>
  );
}

/** The Suppressions card: the active windows and, for rules:write, a form to add one and End buttons. */
export function Suppressions({ me, rules }: { me: Me; rules: { id: string; title: string }[] }) {
  const r = useApi<{ suppressions: PolicyEntry[]; count: number; hits: number }>('/suppressions');
  const { act, rows, setRows, reason, setReason, tenant, setTenant, submit } = useEntryForm('/suppressions', me.tenant, r.reload);
  const write = can(me, 'rules:write');
  const [rule, setRule] = useState('');
  const [until, setUntil] = useState(toLocalInput(new Date(Date.now() + 3600e3)));
  async function add(e: Event) {
    const end = new Date(until);
    if (isNaN(end.getTime())) {
      e.preventDefault();
      await act.run(() => Promise.reject(new Error('Until: not a valid time')));
      return;
    }
    await submit(e, { until: end.toISOString(), rule_id: rule || null });
  }
  async function end(x: PolicyEntry) {
    if (await act.run(() => api.del(`/suppressions/${x.id}`))) r.reload();
  }
  const list = r.data?.suppressions ?? [];
  const ids = Array.from(new Map(rules.map((x) => [x.id, x])).values());
  return (
    <Card title="Suppressions" actions={<button type="button" onClick={r.reload}>Refresh</button>}>
      <p class="muted">Until its end, an event matching a suppression's conditions raises no alert for its rule (or for every rule).</p>
      <ErrorBox error={act.error ?? r.error} />
      {r.data && !list.length && <p class="empty">No active suppressions</p>}
      {list.length > 0 && <EntryTable rows={list} label="Active suppressions" withRule
        delLabel={write ? 'End suppression' : null} onDelete={end} busy={act.busy} />}
      {write && (
        <form class="stack-form" onSubmit={add} aria-label="Add a suppression">
          <label>Rule <select value={rule} onChange={(e) => setRule(e.currentTarget.value)}>
            <option value="">every rule</option>
            {ids.map((x) => <option key={x.id} value={x.id}>{x.title} ({x.id})</option>)}
          </select></label>
          <CondRows rows={rows} onChange={setRows} />
          <label>Until <input type="datetime-local" value={until} required onInput={(e) => setUntil(e.currentTarget.value)} /></label>
          <label>Reason <input value={reason} required placeholder="e.g. maintenance window"
            onInput={(e) => setReason(e.currentTarget.value)} /></label>
          {me.provider && <TenantSelect me={me} value={tenant} onChange={setTenant} />}
          <div><button type="submit" class="primary" disabled={act.busy}>Add suppression</button></div>
        </form>
      )}
      {r.data && <p class="muted small">{cellText(r.data.count)} active · {fmtNum(r.data.hits)} matches dropped since start</p>}
    </Card>
  );
}
