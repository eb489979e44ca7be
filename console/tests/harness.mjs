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

/** The vigild binary: $VIGILD, else the newest build/<dir>/src/server/vigild. */
export function findVigild() {
  if (process.env.VIGILD) return process.env.VIGILD;
  const b = path.join(repoDir, 'build');
  let best = null;
  for (const d of fs.existsSync(b) ? fs.readdirSync(b) : []) {
    const p = path.join(b, d, 'src/server/vigild');
    try {
      const st = fs.statSync(p);
      if (st.isFile() && (!best || st.mtimeMs > best.t)) best = { p, t: st.mtimeMs };
    } catch { /* not built there */ }
  }
  if (!best) throw new Error('no vigild binary: set VIGILD or build one (cmake --build ... --target vigild)');
  return best.p;
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

/** Starts vigild (and the front unless DIRECT); returns {base, api, dataDir, setupToken, stop}. */
export async function startStack() {
  const bin = findVigild();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-console-test-'));
  const port = await freePort();
  const args = ['--data', dataDir, '--listen', `127.0.0.1:${port}`];
  if (process.env.VIGILD_ARGS) {
    args.push(...process.env.VIGILD_ARGS.split(' ').filter(Boolean));
  } else if (DIRECT) {
    // vigild serves console/dist itself: name the directory in a config file (option console.dir)
    const cfg = path.join(dataDir, 'vigild-test.yaml');
    fs.writeFileSync(cfg, `console:\n  dir: ${JSON.stringify(path.join(consoleDir, 'dist'))}\n`);
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
    bin, base, api, dataDir, setupToken, log: () => out,
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
