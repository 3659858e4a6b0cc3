import { useState } from 'react';
import type { FormEvent } from 'react';
import { signIn } from '../../lib/session.js';
import { useQuery } from '../../lib/router.js';

/**
 * Signing in: with a one-time link (`drover login` prints one, and so does `npm start`), or with
 * a token pasted here. The token goes to the server once and is exchanged for a session cookie
 * that the page's scripts never see.
 */
export function SignInView() {
  const query = useQuery();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const expired = query.get('signin') === 'expired';

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    signIn(token.trim()).then(
      // The page starts again, its connection signed in by the new cookie.
      () => location.replace('/'),
      (reason: unknown) => {
        setBusy(false);
        setError(reason instanceof Error ? reason.message : String(reason));
      },
    );
  };

  return (
    <section className="view signin">
      <h1>Sign in to Drover</h1>
      {expired && (
        <p className="error-text" role="alert">
          That sign-in link was used already, or has expired: each link signs in once.
        </p>
      )}
      <p>
        On the farm&apos;s machine, <code>drover login</code> prints a one-time sign-in link (
        <code>npm start</code> printed one as it started). Or paste a token an admin gave you:
      </p>
      <form onSubmit={submit} className="signin-form">
        <label className="field">
          <span className="field-label">Token</span>
          <input
            name="token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={token}
            placeholder="drover_…"
            onChange={(e) => setToken(e.target.value)}
            aria-invalid={error !== undefined}
          />
        </label>
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button className="primary" type="submit" disabled={busy || token.trim() === ''}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </div>
      </form>
    </section>
  );
}
