// proctree.tsx - the process tree of a host around one process: its ancestors (from the agent's
// process.ancestry chain), the process itself, and its children, each node expandable to show its
// own children and the file and network events it caused. Everything comes from event search
// (GET /api/v1/events) on the entity ids the agent assigns, within a window around the event.
import { useEffect, useState } from 'preact/hooks';
import { api, type Me } from '../api';
import { ErrorBox } from '../components';
import { linkClick, useLocation } from '../router';
import { cellText, flatten, fmtTime, type Flat } from '../util';

const WINDOW_MS = 7 * 86400e3; // events looked at on each side of the anchor time
const MAX_EVENTS = 1000;

interface Proc {
  entity: string;
  pid: string;
  name: string;
  executable: string;
  commandLine: string;
  user: string;
  start: string;
  end: string;
  exitCode: string;
  host: string;
  flags: string[];
  inferred?: boolean; // known only from a child's process.parent.* fields (no events of its own)
}

function quote(v: string): string {
  return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

function window(at: string): { from: string; to: string } {
  const t = Date.parse(at);
  const mid = Number.isNaN(t) ? Date.now() : t;
  return { from: new Date(mid - WINDOW_MS).toISOString(), to: new Date(Math.min(mid + WINDOW_MS, Date.now() + 60e3)).toISOString() };
}

async function search(q: string, at: string): Promise<Flat[]> {
  const w = window(at);
  const r = await api.get<{ events: Record<string, unknown>[] }>('/events', { q, from: w.from, to: w.to, limit: MAX_EVENTS, order: 'asc' });
  return r.events.map((e) => flatten(e));
}

/** Folds the process events of one entity (exec, fork, exit) into one node. */
function toProc(entity: string, evs: Flat[]): Proc {
  const p: Proc = { entity, pid: '', name: '', executable: '', commandLine: '', user: '', start: '', end: '', exitCode: '', host: '', flags: [] };
  for (const e of evs) {
    if (cellText(e['process.entity_id']) !== entity || cellText(e['event.category']) !== 'process') continue;
    const action = cellText(e['event.action']);
    p.pid = p.pid || cellText(e['process.pid']);
    p.host = p.host || cellText(e['host.name']);
    if (action === 'exit') {
      p.end = cellText(e['@timestamp']);
      p.exitCode = cellText(e['process.exit_code']);
      continue;
    }
    if (action === 'exec' || !p.executable) {
      p.name = cellText(e['process.name']) || p.name;
      p.executable = cellText(e['process.executable']) || p.executable;
      p.commandLine = cellText(e['process.command_line']) || p.commandLine;
      p.user = cellText(e['user.name']) || cellText(e['user.id']) || p.user;
    }
    if (!p.start) p.start = cellText(e['@timestamp']);
    for (const k of Object.keys(e)) {
      const m = /^vigil\.(?:exec\.(memfd|deleted|writable_dir)|process\.(args_truncated))$/.exec(k);
      const flag = m ? m[1] ?? m[2] : '';
      if (flag && e[k] === true && !p.flags.includes(flag)) p.flags.push(flag);
    }
  }
  return p;
}

/** Fills an unobserved process's facts from the process.parent.* fields of a child's event. */
function fromChild(p: Proc, evs: Flat[]): void {
  const e = evs.find((x) => cellText(x['process.parent.entity_id']) === p.entity && x['process.parent.name']);
  if (!e) return;
  p.name = cellText(e['process.parent.name']);
  p.pid = cellText(e['process.parent.pid']);
  p.executable = cellText(e['process.parent.executable']);
  p.commandLine = cellText(e['process.parent.command_line']);
  p.user = cellText(e['process.parent.user.name']);
  p.start = cellText(e['process.parent.start']);
  p.inferred = true;
}

function ProcLabel({ p, current }: { p: Proc; current?: boolean }) {
  return (
    <span class={current ? 'proc current' : 'proc'}>
      <strong>{p.name || p.executable || '(not observed)'}</strong>{' '}
      {p.pid ? <span class="muted">pid {p.pid}</span> : !p.name && <span class="muted">started before the agent watched</span>}
      {p.user && <span class="muted"> · {p.user}</span>}
      {p.flags.map((f) => <span key={f} class="pill bad"> {f}</span>)}
      {p.commandLine && <code class="cmd">{p.commandLine}</code>}
      <span class="muted"> {fmtTime(p.start)}{p.end ? ` → ${fmtTime(p.end)} (exit ${p.exitCode || '?'})` : ''}</span>
    </span>
  );
}

function activityText(e: Flat): string {
  const cat = cellText(e['event.category']);
  const action = cellText(e['event.action']);
  if (cat === 'file') return `${action} ${cellText(e['file.path'])}${e['file.target_path'] ? ' → ' + cellText(e['file.target_path']) : ''}`;
  if (cat === 'network') {
    const dst = e['destination.ip'] ? `${cellText(e['destination.ip'])}:${cellText(e['destination.port'])}` : '';
    const src = e['source.ip'] ? `${cellText(e['source.ip'])}:${cellText(e['source.port'])}` : '';
    return `${action} ${cellText(e['network.transport'])} ${src}${dst ? ' → ' + dst : ''}`;
  }
  return `${cat} ${action}`;
}

/** One process with its children and activity, loaded when opened. */
function Node({ p, at, current, open: initiallyOpen }: { p: Proc; at: string; current?: boolean; open?: boolean }) {
  const [open, setOpen] = useState(!!initiallyOpen);
  const [children, setChildren] = useState<Proc[] | null>(null);
  const [activity, setActivity] = useState<Flat[] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    if (!open || children) return;
    (async () => {
      try {
        const kids = await search(`process.parent.entity_id:${quote(p.entity)} and event.category:process`, at);
        const ids = Array.from(new Set(kids.map((e) => cellText(e['process.entity_id'])).filter(Boolean)));
        setChildren(ids.map((id) => toProc(id, kids)));
        const act = await search(`process.entity_id:${quote(p.entity)} and not event.category:process`, at);
        setActivity(act);
      } catch (e) {
        setErr((e as Error).message);
      }
    })();
  }, [open, p.entity]);
  return (
    <li>
      <button type="button" class="link" aria-expanded={open} onClick={() => setOpen(!open)}
        aria-label={`${open ? 'Collapse' : 'Expand'} ${p.name || p.entity} (pid ${p.pid})`}>
        {open ? '▾' : '▸'}
      </button>{' '}
      <ProcLabel p={p} current={current} />
      {!current && <> <a href={`/process?entity=${encodeURIComponent(p.entity)}&at=${encodeURIComponent(p.start || at)}`} onClick={linkClick} class="muted">focus</a></>}
      {open && (
        <>
          <ErrorBox error={err} />
          {activity && activity.length > 0 && (
            <ul class="activity" aria-label={`Activity of pid ${p.pid}`}>
              {activity.slice(0, 200).map((e, i) => (
                <li key={i}><time>{fmtTime(e['@timestamp'])}</time> <span class={'cat cat-' + cellText(e['event.category'])}>{cellText(e['event.category'])}</span> {activityText(e)}</li>
              ))}
              {activity.length > 200 && <li class="muted">… {activity.length - 200} more</li>}
            </ul>
          )}
          {children && (children.length ? (
            <ul class="tree">
              {children.map((c) => <Node key={c.entity} p={c} at={at} />)}
            </ul>
          ) : <p class="muted small">no child processes</p>)}
          {!children && !err && <p class="muted small">loading…</p>}
        </>
      )}
    </li>
  );
}

export function ProcessTreeScreen(_p: { me: Me }) {
  const loc = useLocation();
  const entity = loc.params.get('entity') ?? '';
  const at = loc.params.get('at') ?? new Date().toISOString();
  const [self, setSelf] = useState<Proc | null>(null);
  const [ancestors, setAncestors] = useState<Proc[]>([]);
  const [err, setErr] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    if (!entity) return;
    setLoading(true);
    setErr(null);
    setSelf(null);
    (async () => {
      try {
        const own = await search(`process.entity_id:${quote(entity)} and event.category:process`, at);
        if (!own.length) throw new Error('no process events for this entity in the week around ' + fmtTime(at));
        const me = toProc(entity, own);
        let chain: string[] = [];
        for (const e of own) {
          const a = e['process.ancestry'];
          if (Array.isArray(a) && a.length) {
            chain = a.map((x) => cellText(x));
            break;
          }
        }
        if (!chain.length) {
          const parent = own.map((e) => cellText(e['process.parent.entity_id'])).find(Boolean);
          if (parent) chain = [parent];
        }
        let anc: Proc[] = [];
        if (chain.length) {
          const q = chain.slice(0, 64).map((c) => `process.entity_id:${quote(c)}`).join(' or ');
          const evs = await search(`(${q}) and event.category:process`, at);
          // ancestry lists the parent first; show the root first
          anc = chain.slice(0, 64).map((c) => toProc(c, evs)).reverse();
          // an ancestor not observed (started before the agent) still shows with what its child's
          // events say about their parent
          for (const a of anc) if (!a.name) fromChild(a, [...own, ...evs]);
        }
        setSelf(me);
        setAncestors(anc);
      } catch (e) {
        setErr((e as Error).message);
      } finally {
        setLoading(false);
      }
    })();
  }, [entity, at]);
  if (!entity) return <div><h1>Process tree</h1><p class="empty">Open a process from an alert or a search result.</p></div>;
  return (
    <div>
      <h1>Process tree</h1>
      {self && <p class="muted">Host <strong>{self.host}</strong> · around {fmtTime(at)} · entity <code>{entity}</code></p>}
      <ErrorBox error={err} />
      {loading && <p class="muted">loading…</p>}
      {self && (
        <div class="proctree" role="tree" aria-label="Process tree">
          <ol class="ancestors" aria-label="Ancestors">
            {ancestors.map((a, i) => (
              <li key={a.entity + i} style={{ paddingLeft: `${i * 1.2}rem` }}>
                <ProcLabel p={a} />{' '}
                {a.name && !a.inferred && <a href={`/process?entity=${encodeURIComponent(a.entity)}&at=${encodeURIComponent(a.start || at)}`} onClick={linkClick} class="muted">focus</a>}
              </li>
            ))}
          </ol>
          <ul class="tree" style={{ paddingLeft: `${ancestors.length * 1.2}rem` }}>
            <Node p={self} at={at} current open />
          </ul>
        </div>
      )}
    </div>
  );
}
