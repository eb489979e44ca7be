// lists.tsx - the incident list: a table with a text filter and a filter for
// each of status and severity (when the rows have them). The detection engine fills them later;
// until then the lists may be empty.
import { useMemo, useState } from 'preact/hooks';
import type { Me } from '../api';
import { DataTable, ErrorBox, useApi } from '../components';
import { cellText } from '../util';

function ListScreen({ title, path, listKey, preferred }: { title: string; path: string; listKey: string; preferred: string[] }) {
  const r = useApi<Record<string, Record<string, unknown>[]>>(path);
  const rows = r.data?.[listKey] ?? [];
  const [text, setText] = useState('');
  const [status, setStatus] = useState('');
  const [severity, setSeverity] = useState('');
  const values = (k: string) => Array.from(new Set(rows.map((x) => cellText(x[k])).filter(Boolean))).sort();
  const statuses = values('status');
  const severities = values('severity');
  const shown = useMemo(() => rows.filter((x) => {
    if (status && cellText(x.status) !== status) return false;
    if (severity && cellText(x.severity) !== severity) return false;
    return !text || JSON.stringify(x).toLowerCase().includes(text.toLowerCase());
  }), [rows, text, status, severity]);
  const keys = Array.from(new Set(rows.flatMap((x) => Object.keys(x))));
  const columns = rows.length ? [...preferred.filter((k) => keys.includes(k)), ...keys.filter((k) => !preferred.includes(k))].slice(0, 10) : undefined;
  return (
    <div>
      <h1>{title}</h1>
      <div class="toolbar">
        <label>Filter <input type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="any text" /></label>
        <label>Status
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">all</option>
            {statuses.map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
        <label>Severity
          <select value={severity} onChange={(e) => setSeverity(e.currentTarget.value)}>
            <option value="">all</option>
            {severities.map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
        <button type="button" onClick={r.reload}>Refresh</button>
      </div>
      <ErrorBox error={r.error} />
      {r.data && <DataTable rows={shown} columns={columns} label={title}
        empty={rows.length ? 'Nothing matches the filters' : `No ${title.toLowerCase()} yet`} />}
    </div>
  );
}

export function IncidentsScreen(_p: { me: Me }) {
  return <ListScreen title="Incidents" path="/incidents" listKey="incidents"
    preferred={['id', 'updated', 'severity', 'status', 'title', 'assignee', 'tenant']} />;
}
