// harness.mjs - starts what the browser tests need: a real vigild on a fresh data directory, and
// (until vigild serves the console itself) a small HTTPS front that serves console/dist with the
// same CSP vigild sends and forwards /api and /metrics to vigild. VIGIL_CONSOLE_DIRECT=1 points
// the browser straight at vigild instead, which then gets a config file naming console/dist as
// console.dir (or the arguments in VIGILD_ARGS, when set).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const consoleDir = path.resolve(here, '..');
export const repoDir = path.resolve(consoleDir, '..');
export const DIRECT = process.env.VIGIL_CONSOLE_DIRECT === '1';

export const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** A binary of the build: $ENV_NAME, else the newest build/<dir>/<rel> (null when there is none). */
export function findBinary(envName, rel) {
  if (process.env[envName]) return process.env[envName];
  const b = path.join(repoDir, 'build');
  let best = null;
  for (const d of fs.existsSync(b) ? fs.readdirSync(b) : []) {
    const p = path.join(b, d, rel);
    try {
      const st = fs.statSync(p);
      if (st.isFile() && (!best || st.mtimeMs > best.t)) best = { p, t: st.mtimeMs };
    } catch { /* not built there */ }
  }
  return best ? best.p : null;
}

/** The agent binary: $VIGIL_AGENT, else the one of vigild's build directory, else the newest
 * build/<dir>/src/agent/vigil-agent; null when there is none. */
export function findAgent() {
  if (process.env.VIGIL_AGENT) return process.env.VIGIL_AGENT;
  try {
    const sibling = path.resolve(path.dirname(findVigild()), '../agent/vigil-agent');
    if (fs.statSync(sibling).isFile()) return sibling;
  } catch { /* no vigild or no agent next to it */ }
  return findBinary('VIGIL_AGENT', 'src/agent/vigil-agent');
}

/** The vigild binary: $VIGILD, else the newest build/<dir>/src/server/vigild. */
export function findVigild() {
  const p = findBinary('VIGILD', 'src/server/vigild');
  if (!p) throw new Error('no vigild binary: set VIGILD or build one (cmake --build ... --target vigild)');
  return p;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true });

/** One HTTPS request to base+path; resolves {status, headers, text, json}. */
export function request(base, method, p, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(p, base);
    const req = https.request(u, { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(15000, () => req.destroy(new Error(`timeout on ${method} ${p}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function waitHealthy(base, proc, log) {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`vigild exited with ${proc.exitCode}:\n${log()}`);
    try {
      const r = await request(base, 'GET', '/api/v1/health');
      if (r.status === 200) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`vigild did not become healthy:\n${log()}`);
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.woff2': 'font/woff2',
};

/** HTTPS front: console/dist (SPA fallback to index.html) plus a proxy of /api and /metrics. */
function startFront(dataDir, upstream) {
  const dist = path.join(consoleDir, 'dist');
  const tls = { cert: fs.readFileSync(path.join(dataDir, 'tls/server.crt')), key: fs.readFileSync(path.join(dataDir, 'tls/server.key')) };
  const server = https.createServer(tls, (req, res) => {
    const url = new URL(req.url, 'https://x');
    if (url.pathname.startsWith('/api/') || url.pathname === '/metrics') {
      const up = https.request(new URL(req.url, upstream), { method: req.method, headers: { ...req.headers, host: new URL(upstream).host }, agent },
        (ur) => {
          res.writeHead(ur.statusCode, ur.headers);
          ur.pipe(res);
        });
      up.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
      req.pipe(up);
      res.on('close', () => up.destroy());
      return;
    }
    let file = path.normalize(path.join(dist, decodeURIComponent(url.pathname)));
    if (!file.startsWith(dist) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(dist, 'index.html');
    const headers = {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': file.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable',
    };
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : fs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The rule of the test rules directory (detect.rules_dir), listed as built-in; its marker is
 * in no other step's events, and its technique (T1046) in no other rule. */
export const BUILTIN_RULE = {
  id: 'b1a7e0c2-5c1e-4d3a-9f00-c0501e000001',
  title: 'Console built-in network scanner',
  file: 'console/scanner.yml',
  marker: 'console-builtin-marker',
  yaml: ['title: Console built-in network scanner', 'id: b1a7e0c2-5c1e-4d3a-9f00-c0501e000001', 'status: test',
    'level: medium', 'tags: [attack.discovery, attack.t1046]', 'logsource: {product: linux, category: process_creation}',
    'detection:', '  sel:', '    CommandLine|contains: console-builtin-marker', '  condition: sel', ''].join('\n'),
};

/** Starts vigild (and the front unless DIRECT); returns {base, api, dataDir, setupToken, stop}. */
export async function startStack() {
  const bin = findVigild();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-console-test-'));
  const port = await freePort();
  const args = ['--data', dataDir, '--listen', `127.0.0.1:${port}`];
  if (process.env.VIGILD_ARGS) {
    args.push(...process.env.VIGILD_ARGS.split(' ').filter(Boolean));
  } else {
    // a rules directory with one built-in rule (BUILTIN_RULE); in DIRECT mode vigild also serves
    // console/dist itself (option console.dir)
    const rules = path.join(dataDir, 'rules');
    fs.mkdirSync(path.join(rules, 'console'), { recursive: true });
    fs.writeFileSync(path.join(rules, BUILTIN_RULE.file), BUILTIN_RULE.yaml);
    const cfg = path.join(dataDir, 'vigild-test.yaml');
    fs.writeFileSync(cfg, `detect:\n  rules_dir: ${JSON.stringify(rules)}\n` +
      (DIRECT ? `console:\n  dir: ${JSON.stringify(path.join(consoleDir, 'dist'))}\n` : ''));
    args.push('--config', cfg);
  }
  let out = '';
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const api = `https://127.0.0.1:${port}`;
  await waitHealthy(api, proc, () => out);
  let front = null;
  let base = api;
  if (!DIRECT) {
    front = await startFront(dataDir, api);
    base = `https://127.0.0.1:${front.address().port}`;
  }
  const setupToken = fs.readFileSync(path.join(dataDir, 'setup-token'), 'utf8').trim();
  return {
    bin, base, api, port, dataDir, setupToken, log: () => out,
    async stop() {
      if (front) {
        front.closeAllConnections?.();
        await new Promise((r) => front.close(r));
      }
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await Promise.race([new Promise((r) => proc.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Logs in through the API (outside the browser); returns {cookie, csrf}. */
export async function apiLogin(api, username, password) {
  const r = await request(api, 'POST', '/api/v1/login', { body: JSON.stringify({ username, password }), headers: { 'Content-Type': 'application/json' } });
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
  const cookie = String(r.headers['set-cookie'] ?? '').split(';')[0];
  return { cookie, csrf: r.json.csrf_token };
}

/** A JSON client of the API logged in as username: call(method, path, body) resolves the reply
 * ({status, headers, text, json}); bodies are sent as JSON; call.headers() gives the session's
 * headers for other requests. */
export async function apiClient(api, username, password) {
  const { cookie, csrf } = await apiLogin(api, username, password);
  const call = (method, p, body) => request(api, method, p, {
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { Cookie: cookie, 'X-CSRF-Token': csrf, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
  });
  /** The session's headers (for a request with another body type), plus extra. */
  call.headers = async (extra = {}) => ({ Cookie: cookie, 'X-CSRF-Token': csrf, ...extra });
  return call;
}

/**
 * A real vigil-agent enrolled with a one-time token of `tenant` (made through the API with call,
 * an apiClient of a provider administrator): start() runs it (sensors need root; extra args are
 * added), enrollOnly() just enrols and exits. stop() ends it with SIGTERM and returns its log.
 */
export class Agent {
  constructor(stack, bin) {
    this.stack = stack;
    this.bin = bin;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-console-agent-'));
    this.proc = null;
    this.out = '';
  }

  async token(call, tenant) {
    const r = await call('POST', '/api/v1/enroll-tokens', { name: 'console-test-' + path.basename(this.dir), tenant, uses: 1, expires_in_s: 3600 });
    if (r.status !== 201) throw new Error(`enroll token: ${r.status} ${r.text}`);
    return r.json.token;
  }

  args(token) {
    return ['--server', this.stack.api, '--cacert', path.join(this.stack.dataDir, 'tls/server.crt'),
      '--state-dir', path.join(this.dir, 'state'), '--enroll', token, '--log-level', 'info', '--no-fim'];
  }

  /** Enrols and exits; resolves the agent's id. */
  async enrollOnly(call, tenant) {
    const token = await this.token(call, tenant);
    await new Promise((resolve, reject) => {
      const p = spawn(this.bin, [...this.args(token), '--enroll-only'], { stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout.on('data', (d) => { this.out += d; });
      p.stderr.on('data', (d) => { this.out += d; });
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vigil-agent --enroll-only exited ${code}:\n${this.out}`))));
    });
    return this.identity();
  }

  identity() {
    return JSON.parse(fs.readFileSync(path.join(this.dir, 'state/agent.json'), 'utf8')).agent_id;
  }

  async start(call, tenant, extra = []) {
    const token = await this.token(call, tenant);
    this.proc = spawn(this.bin, [...this.args(token), '--heartbeat', '2', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => { this.out += d; });
    this.proc.stderr.on('data', (d) => { this.out += d; });
  }

  async stop() {
    const p = this.proc;
    this.proc = null;
    if (p && p.exitCode === null) {
      p.kill('SIGTERM');
      await Promise.race([new Promise((r) => p.once('exit', r)), new Promise((r) => setTimeout(r, 20000))]);
      if (p.exitCode === null) p.kill('SIGKILL');
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    return this.out;
  }
}
