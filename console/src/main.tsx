// main.tsx - the console's shell: session state (GET /api/v1/me), first-admin setup and login
// gates, the role-aware navigation (grouped in sections, a sidebar on wide screens), the light/dark theme, and the route table.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { api, can, hasCsrf, setCsrf, setUnauthorizedHandler, type Me } from './api';
import { linkClick, navigate, useLocation } from './router';
import { LoginScreen, SetupScreen } from './screens/login';
import { OverviewScreen } from './screens/overview';
import { SearchScreen } from './screens/search';
import { IncidentScreen, IncidentsScreen } from './screens/incidents';
import { AlertScreen, AlertsScreen } from './screens/alerts';
import { ProcessTreeScreen } from './screens/proctree';
import { AgentScreen, AgentsScreen } from './screens/agents';
import { AssetsScreen } from './screens/assets';
import { AttackScreen, RulesScreen } from './screens/rules';
import { IntelScreen, NotifyScreen } from './screens/settings';
import { AuditScreen, TokensScreen, UsersScreen } from './screens/admin';
import { ApprovalsScreen } from './screens/response';
import { PlaybooksScreen } from './screens/playbooks';
import { ReportsScreen } from './screens/reports';
import { HuntScreen, HuntsScreen } from './screens/hunts';
import { TenantSettingsScreen, TenantsScreen } from './screens/tenants';
import { timeZone } from './util';

/** The sections of the navigation, in order; every visible route names one. */
const GROUPS = ['Monitor', 'Investigate', 'Respond', 'Detect', 'Admin'] as const;
type Group = (typeof GROUPS)[number];

interface Route {
  path: string;
  label: string;
  perm: string | null;
  view: (props: { me: Me }) => preact.JSX.Element;
  group?: Group; // its section in the navigation; none for a page reached by links (a deep link)
  /** Shown only to callers for whom this returns true (beyond perm). */
  show?: (me: Me) => boolean;
}

const ROUTES: Route[] = [
  { path: '/', label: 'Overview', perm: null, view: OverviewScreen, group: 'Monitor' },
  { path: '/alerts', label: 'Alerts', perm: 'alerts:read', view: AlertsScreen, group: 'Monitor' },
  { path: '/incidents', label: 'Incidents', perm: 'incidents:read', view: IncidentsScreen, group: 'Monitor' },
  { path: '/reports', label: 'Reports', perm: 'incidents:read', view: ReportsScreen, group: 'Monitor' },
  { path: '/search', label: 'Search', perm: 'events:read', view: SearchScreen, group: 'Investigate' },
  { path: '/hunts', label: 'Retro-hunts', perm: 'events:read', view: HuntsScreen, group: 'Investigate' },
  { path: '/agents', label: 'Agents', perm: 'agents:read', view: AgentsScreen, group: 'Investigate' },
  { path: '/assets', label: 'Assets', perm: 'agents:read', view: AssetsScreen, group: 'Investigate' },
  { path: '/approvals', label: 'Approvals', perm: 'incidents:read', view: ApprovalsScreen, group: 'Respond',
    show: (me) => can(me, 'actions:approve') || can(me, 'actions:request') },
  { path: '/playbooks', label: 'Playbooks', perm: 'incidents:read', view: PlaybooksScreen, group: 'Respond' },
  { path: '/rules', label: 'Rules', perm: 'rules:read', view: RulesScreen, group: 'Detect' },
  { path: '/attack', label: 'ATT&CK', perm: 'rules:read', view: AttackScreen, group: 'Detect' },
  { path: '/intel', label: 'Intel', perm: 'rules:read', view: IntelScreen, group: 'Detect' },
  { path: '/tenants', label: 'Tenants', perm: 'tenants:read', view: TenantsScreen, group: 'Admin' },
  { path: '/users', label: 'Users', perm: 'users:read', view: UsersScreen, group: 'Admin' },
  { path: '/tokens', label: 'API tokens', perm: 'tokens:read', view: TokensScreen, group: 'Admin' },
  { path: '/notifications', label: 'Notifications', perm: 'settings:write', view: NotifyScreen, group: 'Admin' },
  { path: '/audit', label: 'Audit log', perm: 'audit:read', view: AuditScreen, group: 'Admin' },
  { path: '/alert', label: 'Alert', perm: 'alerts:read', view: AlertScreen },
  { path: '/process', label: 'Process tree', perm: 'events:read', view: ProcessTreeScreen },
  { path: '/incident', label: 'Incident', perm: 'incidents:read', view: IncidentScreen },
  { path: '/hunt', label: 'Retro-hunt', perm: 'events:read', view: HuntScreen },
  { path: '/agent', label: 'Agent', perm: 'agents:read', view: AgentScreen },
  { path: '/tenant', label: 'Tenant settings', perm: 'tenants:read', view: TenantSettingsScreen },
];

/** The navigation: one labelled list per section, only the screens the caller's role may open. */
function Nav({ me, path }: { me: Me; path: string }) {
  const allowed = ROUTES.filter((r) => r.group && (!r.perm || can(me, r.perm)) && (!r.show || r.show(me)));
  return (
    <nav aria-label="Main" class="sidenav">
      {GROUPS.map((g) => {
        const items = allowed.filter((r) => r.group === g);
        if (!items.length) return null;
        const id = 'nav-' + g.toLowerCase();
        return (
          <div class="navgroup" key={g}>
            <h2 id={id} class="navhead">{g}</h2>
            <ul aria-labelledby={id}>
              {items.map((r) => (
                <li key={r.path}>
                  <a href={r.path} onClick={linkClick} aria-current={r.path === path ? 'page' : undefined}>
                    {r.label}
                  </a>
                </li>
              ))}
            </ul>
          </div>
        );
      })}
    </nav>
  );
}

type Theme = 'auto' | 'light' | 'dark';
const THEME_KEY = 'vigil.theme';

function applyTheme(t: Theme): void {
  const dark = t === 'dark' || (t === 'auto' && window.matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>((localStorage.getItem(THEME_KEY) as Theme) || 'auto');
  useEffect(() => {
    applyTheme(theme);
    localStorage.setItem(THEME_KEY, theme);
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    const on = () => applyTheme(theme);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, [theme]);
  const next: Theme = theme === 'auto' ? 'light' : theme === 'light' ? 'dark' : 'auto';
  return (
    <button type="button" class="ghost" onClick={() => setTheme(next)} title={`Theme: ${theme} (click for ${next})`}
      aria-label={`Theme: ${theme}; switch to ${next}`}>
      {theme === 'auto' ? '◐ auto' : theme === 'light' ? '☀ light' : '☾ dark'}
    </button>
  );
}

function Shell({ me, onLogout }: { me: Me; onLogout: () => void }) {
  const loc = useLocation();
  const route = ROUTES.find((r) => r.path === loc.path);
  let body: preact.JSX.Element;
  if (!route) body = <NotFound />;
  else if (route.perm && !can(me, route.perm)) body = <p class="empty">Your role ({me.role}) may not open {route.label}.</p>;
  else body = <route.view me={me} />;
  useEffect(() => {
    document.title = (route ? route.label : 'Not found') + ' · Vigil';
  }, [route]);
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <a class="brand" href="/" onClick={linkClick}>Vigil</a>
        <div class="who">
          <span title={`time zone ${timeZone()}`}>
            {me.username} · {me.role} · {me.tenant}
          </span>
          <ThemeToggle />
          <button type="button" class="ghost" onClick={onLogout}>Log out</button>
        </div>
      </header>
      <Nav me={me} path={loc.path} />
      <main id="main" tabIndex={-1}>{body}</main>
    </div>
  );
}

function NotFound() {
  return (
    <div class="empty">
      <h1>Not found</h1>
      <p>
        <a href="/" onClick={linkClick}>Back to the overview</a>
      </p>
    </div>
  );
}

type Phase = { kind: 'loading' } | { kind: 'setup' } | { kind: 'login'; note?: string } | { kind: 'in'; me: Me } | { kind: 'down'; error: string };

function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' });

  async function boot(note?: string) {
    try {
      const s = await api.get<{ needed: boolean }>('/setup');
      if (s.needed) {
        setPhase({ kind: 'setup' });
        return;
      }
    } catch (e) {
      setPhase({ kind: 'down', error: (e as Error).message });
      return;
    }
    try {
      const me = await api.get<Me & { csrf_token?: string }>('/me');
      // The CSRF token comes with the login reply and lives in this tab's sessionStorage; a new
      // tab on a live session has none (unless /me hands it out), so it logs in again.
      if (me.csrf_token) setCsrf(me.csrf_token);
      if (me.auth === 'session' && !hasCsrf()) {
        setPhase({ kind: 'login', note: note ?? 'Log in to continue in this tab.' });
        return;
      }
      setPhase({ kind: 'in', me });
    } catch {
      setPhase({ kind: 'login', note });
    }
  }

  useEffect(() => {
    setUnauthorizedHandler(() => setPhase({ kind: 'login', note: 'Your session ended; please log in again.' }));
    boot();
  }, []);

  async function logout() {
    try {
      await api.post('/logout');
    } catch {
      /* the session may already be gone */
    }
    setCsrf(null);
    setPhase({ kind: 'login', note: 'Logged out.' });
  }

  switch (phase.kind) {
    case 'loading':
      return <p class="center muted">Loading…</p>;
    case 'down':
      return (
        <div class="center">
          <p class="error" role="alert">{phase.error}</p>
          <button type="button" onClick={() => boot()}>Retry</button>
        </div>
      );
    case 'setup':
      return <SetupScreen onDone={() => boot('The first administrator was created; log in.')} />;
    case 'login':
      return (
        <LoginScreen
          note={phase.note}
          onDone={(me) => {
            setPhase({ kind: 'in', me });
            if (window.location.pathname === '/login' || window.location.pathname === '/setup') navigate('/', true);
          }}
        />
      );
    case 'in':
      return <Shell me={phase.me} onLogout={logout} />;
  }
}

render(<App />, document.getElementById('app')!);
