// overview.tsx - the landing dashboard: events over the last 24 hours, the top hosts, source IPs,
// destination ports and actions, alert and incident counts, and a live alert ticker fed by the
// server-sent event stream /api/v1/stream.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { can, type Me } from '../api';
import { Card, ErrorBox, Histogram, TopList, useApi, type HistBucket, type TopBucket } from '../components';
import { navigate } from '../router';
import { cellText, fmtNum, fmtTime, term } from '../util';

interface Hist {
  interval_s: number;
  buckets: HistBucket[];
}
interface Top {
  field: string;
  buckets: TopBucket[];
  other: number;
}

const TOPS: { field: string; title: string }[] = [
  { field: 'host.name', title: 'Top hosts' },
  { field: 'source.ip', title: 'Top source IPs' },
  { field: 'destination.port', title: 'Top destination ports' },
  { field: 'event.action', title: 'Top event actions' },
];

function pivot(field: string, value: string) {
  navigate('/search?' + new URLSearchParams({ q: term(field, value), range: '24h' }).toString());
}

function TopCard({ field, title, range }: { field: string; title: string; range: { from: string; to: string } }) {
  const r = useApi<Top>('/events/top', { field, size: 8, ...range });
  return (
    <Card title={title} class="top-card">
      <ErrorBox error={r.error} />
      {r.data && <TopList buckets={r.data.buckets} onPick={(k) => pivot(field, k)} />}
    </Card>
  );
}

function CountCard({ title, path, listKey, href }: { title: string; path: string; listKey: string; href: string }) {
  const r = useApi<Record<string, unknown[]>>(path);
  const n = r.data ? (r.data[listKey] ?? []).length : null;
  return (
    <Card title={title} class="stat">
      <ErrorBox error={r.error} />
      <a class="big" href={href} onClick={(e) => { e.preventDefault(); navigate(href); }} data-testid={`count-${listKey}`}>
        {n === null ? '…' : fmtNum(n)}
      </a>
    </Card>
  );
}

interface TickerItem {
  at: string;
  text: string;
  severity: string;
}

/** Live alerts from /api/v1/stream (EventSource reconnects by itself, honouring the retry field). */
function Ticker() {
  const [items, setItems] = useState<TickerItem[]>([]);
  const [state, setState] = useState<'connecting' | 'live' | 'down'>('connecting');
  useEffect(() => {
    const es = new EventSource('/api/v1/stream');
    es.onopen = () => setState('live');
    es.onerror = () => setState(es.readyState === EventSource.CLOSED ? 'down' : 'connecting');
    es.addEventListener('alert', (ev) => {
      let a: Record<string, unknown> = {};
      try {
        a = JSON.parse((ev as MessageEvent).data);
      } catch {
        a = { title: (ev as MessageEvent).data };
      }
      const text = cellText(a.title ?? a.rule_name ?? a.name ?? a.rule ?? a.id ?? 'alert');
      const host = a.host ? ' · ' + cellText(typeof a.host === 'object' ? (a.host as { name?: string }).name : a.host) : '';
      setItems((old) => [{ at: fmtTime(a.last_seen ?? a.ts ?? a['@timestamp'] ?? new Date().toISOString()), text: text + host,
        severity: cellText(a.severity ?? '') }, ...old].slice(0, 20));
    });
    return () => es.close();
  }, []);
  return (
    <Card title="Live alerts" class="ticker" actions={<span class={'pill ' + state} role="status">{state}</span>}>
      {items.length === 0 ? (
        <p class="empty">No alerts since this page opened.</p>
      ) : (
        <ul aria-live="polite">
          {items.map((i, n) => (
            <li key={n}>
              <time>{i.at}</time> {i.severity && <span class={'sev sev-' + i.severity}>{i.severity}</span>} {i.text}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export function OverviewScreen({ me }: { me: Me }) {
  const range = useMemo(() => {
    const to = new Date();
    return { from: new Date(to.getTime() - 86400e3).toISOString(), to: to.toISOString() };
  }, []);
  const canEvents = can(me, 'events:read');
  const hist = useApi<Hist>(canEvents ? '/events/histogram' : null, { interval: 1800, ...range });
  const total = hist.data ? hist.data.buckets.reduce((a, b) => a + b.count, 0) : null;
  return (
    <div class="overview">
      <h1>Overview</h1>
      <div class="stats">
        {canEvents && (
          <Card title="Events (24 h)" class="stat">
            <a class="big" href="/search?range=24h" onClick={(e) => { e.preventDefault(); navigate('/search?range=24h'); }} data-testid="count-events">
              {total === null ? '…' : fmtNum(total)}
            </a>
          </Card>
        )}
        {can(me, 'alerts:read') && <CountCard title="Alerts" path="/alerts" listKey="alerts" href="/alerts" />}
        {can(me, 'incidents:read') && <CountCard title="Incidents" path="/incidents" listKey="incidents" href="/incidents" />}
      </div>
      {canEvents && (
        <Card title="Events over the last 24 hours" class="wide">
          <ErrorBox error={hist.error} />
          {hist.data && <Histogram buckets={hist.data.buckets} intervalS={hist.data.interval_s} />}
        </Card>
      )}
      <div class="grid">
        {canEvents && TOPS.map((t) => <TopCard key={t.field} field={t.field} title={t.title} range={range} />)}
        {can(me, 'alerts:read') && <Ticker />}
      </div>
    </div>
  );
}
