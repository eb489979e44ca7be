// hunts.tsx - retro-hunts (docs/api.md, "Retro-hunts"; docs/rules.md): a form that runs a Sigma
// rule (pasted YAML or a stored rule) over a tenant's stored events of a time range, the list of
// hunts with their state and a progress bar (days done of days total, events scanned, hits),
// refreshed every two seconds while one is queued or running, with Cancel; and a hunt's page
// (/hunt?id=) with its fields, the error of a failed one and its hits, each a link into the event
// search, plus one link that searches all the listed hits at once.
import { useState } from 'preact/hooks';
import { api, can, type Me } from '../api';
import { Card, ErrorBox, NotFoundBox, useAction, useApi, usePoll } from '../components';
import { linkClick, useLocation } from '../router';
import { cellText, fmtNum, fmtTime, term, timeZone, toLocalInput } from '../util';
import { StatusPill } from './agents';
import { TenantSelect } from './admin';
import { EXAMPLE } from './rules';

interface Hunt {
  id: number;
  tenant: string;
  rule_id: string;
  title: string;
  state: string;
  prefilter: string;
  from: string;
  to: string;
  created: string;
  started: string | null;
  finished: string | null;
  created_by: string;
  days_total: number;
  days_done: number;
  events_scanned: number;
  hits: number;
  skipped: number;
  hit_ids?: string[];
  hit_ids_truncated: boolean;
  create_alerts: boolean;
  alerts_created: number;
  alerts_dropped: number;
  error?: string | null;
}

interface StoredRule {
  id: string;
  tenant: string;
  title: string;
}

const BUSY = ['queued', 'running'];
const POLL_MS = 2000;
const DAY_MS = 86400e3;
/** The search's query length bound (VIG_QUERY_MAX_LEN) less a margin: "search these hits" takes
 * as many hit ids as fit. */
const MAX_QUERY = 4000;

/** The hunt's progress in percent: days done of days total (a finished hunt of no day is 100). */
function percent(h: Hunt): number {
  if (h.days_total > 0) return Math.min(100, Math.round((100 * h.days_done) / h.days_total));
  return h.state === 'done' ? 100 : 0;
}

function HuntProgress({ h }: { h: Hunt }) {
  const p = percent(h);
  return (
    <span class="progress" data-testid={`hunt-progress-${h.id}`}>
      <progress max={100} value={p} aria-label={`Progress of hunt ${h.id}`} /> {p} % · day {h.days_done} of {h.days_total}
      <span class="muted small"> · {fmtNum(h.events_scanned)} events scanned · {fmtNum(h.hits)} hits</span>
    </span>
  );
}

/** The search screen's URL for a query over the hunt's time range. */
function searchUrl(h: Hunt, q: string): string {
  const p = new URLSearchParams({ q, range: 'custom', from: h.from, to: h.to });
  return '/search?' + p.toString();
}

/** event.id:"a" or event.id:"b" ... over as many of the ids as fit the query bound. */
function idsQuery(ids: string[]): { q: string; n: number } {
  let q = '';
  let n = 0;
  for (const id of ids) {
    const t = term('event.id', id);
    const next = q ? `${q} or ${t}` : t;
    if (next.length > MAX_QUERY) break;
    q = next;
    n++;
  }
  return { q, n };
}

function StartForm({ me, onStarted }: { me: Me; onStarted: (h: Hunt) => void }) {
  const mayRules = can(me, 'rules:read');
  const rules = useApi<{ rules: StoredRule[] }>(mayRules ? '/rules' : null, { limit: 1000 });
  const [source, setSource] = useState<'yaml' | 'rule'>('yaml');
  const [yaml, setYaml] = useState(EXAMPLE);
  const [ruleKey, setRuleKey] = useState('');
  const [from, setFrom] = useState(() => toLocalInput(new Date(Date.now() - 7 * DAY_MS)));
  const [to, setTo] = useState(() => toLocalInput(new Date(Date.now() + 60e3)));
  const [tenant, setTenant] = useState(me.tenant);
  const [alerts, setAlerts] = useState(false);
  const act = useAction();
  const mayAlert = can(me, 'alerts:write');
  // a stored rule of the hunted tenant or of the provider (the server looks in both)
  const usable = (rules.data?.rules ?? []).filter((r) => !me.provider || r.tenant === tenant || r.tenant === me.tenant);
  const picked = usable.find((r) => `${r.tenant}/${r.id}` === ruleKey) ?? usable[0];

  async function submit(e: Event) {
    e.preventDefault();
    const f = new Date(from);
    const t = new Date(to);
    if (isNaN(f.getTime()) || isNaN(t.getTime()) || f >= t) {
      await act.run(() => Promise.reject(new Error('the time range needs a start before its end')));
      return;
    }
    if (source === 'rule' && !picked) {
      await act.run(() => Promise.reject(new Error('pick a stored rule')));
      return;
    }
    const body: Record<string, unknown> = { from: f.toISOString(), to: t.toISOString(), create_alerts: mayAlert && alerts };
    if (source === 'yaml') body.yaml = yaml;
    else body.rule_id = picked!.id;
    if (me.provider) body.tenant = tenant;
    const res: { hunt: Hunt | null } = { hunt: null };
    if (await act.run(async () => { res.hunt = await api.post<Hunt>('/hunts', body); }) && res.hunt) onStarted(res.hunt);
  }

  return (
    <Card title="Start a retro-hunt">
      <form class="hunt-form" onSubmit={submit} aria-describedby="hunt-help">
        <p id="hunt-help" class="muted">
          Runs one detection rule over the tenant's stored events of the range, day by day, reading only
          the events its prefilter selects. One hunt runs at a time; the others wait.
        </p>
        <fieldset class="checks">
          <legend>Rule</legend>
          <label class="row"><input type="radio" name="source" value="yaml" checked={source === 'yaml'}
            onChange={() => setSource('yaml')} /> Sigma YAML</label>
          {mayRules && <label class="row"><input type="radio" name="source" value="rule" checked={source === 'rule'}
            onChange={() => setSource('rule')} /> Stored rule</label>}
        </fieldset>
        {source === 'yaml' ? (
          <label>Rule (Sigma YAML)
            <textarea name="yaml" rows={12} spellcheck={false} required value={yaml}
              onInput={(e) => setYaml(e.currentTarget.value)} />
          </label>
        ) : (
          <label>Stored rule
            <select name="rule" value={picked ? `${picked.tenant}/${picked.id}` : ''} onChange={(e) => setRuleKey(e.currentTarget.value)}>
              {!usable.length && <option value="">no stored rule</option>}
              {usable.map((r) => (
                <option key={`${r.tenant}/${r.id}`} value={`${r.tenant}/${r.id}`}>
                  {r.title}{me.provider ? ` (${r.tenant})` : ''}
                </option>
              ))}
            </select>
          </label>
        )}
        <div class="inline-form">
          <label>From <input type="datetime-local" name="from" required value={from} onInput={(e) => setFrom(e.currentTarget.value)} /></label>
          <label>To <input type="datetime-local" name="to" required value={to} onInput={(e) => setTo(e.currentTarget.value)} /></label>
          <span class="muted small">times in {timeZone()}</span>
          {me.provider && <TenantSelect me={me} value={tenant} onChange={setTenant} />}
          {mayAlert && (
            <label class="row"><input type="checkbox" name="create_alerts" checked={alerts}
              onChange={(e) => setAlerts(e.currentTarget.checked)} /> Also create alerts</label>
          )}
          <button type="submit" class="primary" disabled={act.busy}>Start</button>
        </div>
      </form>
      <ErrorBox error={act.error ?? rules.error} />
    </Card>
  );
}

function CancelButton({ h, onDone }: { h: Hunt; onDone: () => void }) {
  const act = useAction();
  if (!BUSY.includes(h.state)) return null;
  return (
    <>
      <button type="button" class="danger" disabled={act.busy} aria-label={`Cancel hunt ${h.id}`}
        onClick={async () => { if (await act.run(() => api.post(`/hunts/${h.id}/cancel`, {}))) onDone(); }}>
        Cancel
      </button>
      {act.error && <span class="bad small" role="alert"> {act.error}</span>}
    </>
  );
}

export function HuntsScreen({ me }: { me: Me }) {
  const r = useApi<{ hunts: Hunt[] }>('/hunts');
  const [started, setStarted] = useState<Hunt | null>(null);
  const list = r.data?.hunts ?? [];
  usePoll(r.reload, POLL_MS, list.some((h) => BUSY.includes(h.state)));
  return (
    <div>
      <h1>Retro-hunts</h1>
      <StartForm me={me} onStarted={(h) => { setStarted(h); r.reload(); }} />
      {started && (
        <p role="status">
          Hunt <a href={`/hunt?id=${started.id}`} onClick={linkClick}>#{started.id}</a> started ({started.title}).
        </p>
      )}
      <ErrorBox error={r.error} />
      <Card title="Hunts" actions={<button type="button" onClick={r.reload}>Refresh</button>}>
        {r.data && !list.length && <p class="empty">No hunt yet (finished hunts are kept in memory until vigild restarts)</p>}
        {list.length > 0 && (
          <div class="table-wrap">
            <table aria-label="Hunts">
              <thead>
                <tr>{['Hunt', 'State', 'Rule', 'Range', ...(me.provider ? ['Tenant'] : []), 'By', 'Progress', 'Created', 'Actions']
                  .map((h, i) => <th key={i} scope="col">{h}</th>)}</tr>
              </thead>
              <tbody>
                {list.map((h) => (
                  <tr key={h.id} data-testid={`hunt-${h.id}`}>
                    <td><a href={`/hunt?id=${h.id}`} onClick={linkClick} aria-label={`Hunt ${h.id}`}>#{h.id}</a></td>
                    <td><StatusPill s={h.state} /></td>
                    <td>{h.title}</td>
                    <td class="small">{fmtTime(h.from)} – {fmtTime(h.to)}</td>
                    {me.provider && <td>{h.tenant}</td>}
                    <td>{h.created_by}</td>
                    <td><HuntProgress h={h} />{h.error && <span class="bad small"> {h.error}</span>}</td>
                    <td>{fmtTime(h.created)}</td>
                    <td class="actions"><CancelButton h={h} onDone={r.reload} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}

export function HuntScreen(_props: { me: Me }) {
  const loc = useLocation();
  const id = loc.params.get('id') ?? '';
  const valid = /^[1-9]\d{0,17}$/.test(id);
  const r = useApi<Hunt>(valid ? `/hunts/${id}` : null, undefined, [id]);
  const h = r.data;
  usePoll(r.reload, POLL_MS, !!h && BUSY.includes(h.state));
  if (!valid) return <NotFoundBox what={`Hunt ${id || '(none given)'}`} />;
  const ids = h?.hit_ids ?? [];
  const all = h ? idsQuery(ids) : { q: '', n: 0 };
  return (
    <div>
      <p><a href="/hunts" onClick={linkClick}>← Retro-hunts</a></p>
      {r.status === 404 ? <NotFoundBox what={`Hunt ${id}`} /> : <ErrorBox error={r.error} />}
      {h && (
        <>
          <h1>Hunt #{h.id}: {h.title}</h1>
          <Card title="Hunt" actions={<CancelButton h={h} onDone={r.reload} />}>
            <dl class="facts" aria-label="Hunt facts">
              <dt>State</dt><dd data-testid="hunt-state"><StatusPill s={h.state} /></dd>
              <dt>Progress</dt><dd><HuntProgress h={h} /></dd>
              {h.error && <><dt>Error</dt><dd class="bad" role="alert">{h.error}</dd></>}
              <dt>Rule</dt><dd>{h.title}{h.rule_id ? <> · <code>{h.rule_id}</code></> : null}</dd>
              <dt>Tenant</dt><dd>{h.tenant}</dd>
              <dt>Range</dt><dd>{fmtTime(h.from)} – {fmtTime(h.to)} <span class="muted">({timeZone()})</span></dd>
              <dt>Prefilter</dt><dd>{h.prefilter ? <code>{h.prefilter}</code> : <span class="muted">none: every event of the range is read</span>}</dd>
              <dt>Created</dt><dd>{fmtTime(h.created)} by {h.created_by}</dd>
              <dt>Started</dt><dd>{fmtTime(h.started) || <span class="muted">not yet</span>}</dd>
              <dt>Finished</dt><dd>{fmtTime(h.finished) || <span class="muted">not yet</span>}</dd>
              <dt>Events scanned</dt><dd>{fmtNum(h.events_scanned)}{h.skipped ? ` (${fmtNum(h.skipped)} skipped: too many at one instant)` : ''}</dd>
              <dt>Hits</dt><dd data-testid="hunt-hits">{fmtNum(h.hits)}</dd>
              <dt>Alerts</dt><dd>{h.create_alerts ? `${fmtNum(h.alerts_created)} created, ${fmtNum(h.alerts_dropped)} dropped by exceptions or suppressions` : 'not requested'}</dd>
            </dl>
          </Card>
          <Card title="Hits" actions={all.n > 0 && (
            <a href={searchUrl(h, all.q)} onClick={linkClick}>
              Search these hits{all.n < h.hits ? ` (the first ${fmtNum(all.n)})` : ''}
            </a>
          )}>
            {!ids.length && <p class="empty">{BUSY.includes(h.state) ? 'No hit yet' : 'No hit'}</p>}
            {ids.length > 0 && (
              <>
                {h.hit_ids_truncated && (
                  <p class="muted">The first {fmtNum(ids.length)} of {fmtNum(h.hits)} hits are listed (the server keeps 1,000).</p>
                )}
                <ol class="hits" aria-label="Hit events">
                  {ids.map((e) => (
                    <li key={e}>
                      <a href={searchUrl(h, term('event.id', e))} onClick={linkClick} title="Open this event in the search">
                        <code>{cellText(e)}</code>
                      </a>
                    </li>
                  ))}
                </ol>
              </>
            )}
          </Card>
        </>
      )}
    </div>
  );
}
