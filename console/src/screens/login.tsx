// login.tsx - the two screens before a session exists: first-admin setup (needs the one-time token
// vigild wrote to DATA/setup-token) and login.
import { useState } from 'preact/hooks';
import { api, setCsrf, type Me } from '../api';
import { ErrorBox } from '../components';

export function SetupScreen({ onDone }: { onDone: () => void }) {
  const [token, setToken] = useState('');
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    if (password !== confirm) {
      setError('the passwords differ');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.post('/setup', { setup_token: token.trim(), username, password });
      onDone();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="auth">
      <form class="auth-box" onSubmit={submit} aria-labelledby="setup-title">
        <h1 id="setup-title">Set up Vigil</h1>
        <p class="muted">
          Create the first administrator. The setup token is in the file <code>setup-token</code> in vigild's data directory.
        </p>
        <label>
          Setup token
          <input name="setup_token" required autoComplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        </label>
        <label>
          Username
          <input name="username" required autoComplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" required minLength={8} autoComplete="new-password" value={password}
            onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <label>
          Confirm password
          <input name="confirm" type="password" required minLength={8} autoComplete="new-password" value={confirm}
            onInput={(e) => setConfirm(e.currentTarget.value)} />
        </label>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>Create administrator</button>
      </form>
    </main>
  );
}

export function LoginScreen({ onDone, note }: { onDone: (me: Me) => void; note?: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.post<{ csrf_token: string; user: Me }>('/login', { username, password });
      setCsrf(r.csrf_token);
      onDone(r.user);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="auth">
      <form class="auth-box" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Log in to Vigil</h1>
        {note && <p class="note" role="status">{note}</p>}
        <label>
          Username
          <input name="username" required autoFocus autoComplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" required autoComplete="current-password" value={password}
            onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>Log in</button>
      </form>
    </main>
  );
}
