import { createContext, useContext, useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { authHttp, isDroverError } from '@drover/protocol';
import type { Principal } from '@drover/protocol';
import { useDrover } from './drover.js';

/** Who the page is signed in as: asked of the server each time the connection opens. */
export type Session =
  { state: 'checking' } | { state: 'signed-out' } | { state: 'signed-in'; principal: Principal };

const SessionContext = createContext<Session>({ state: 'checking' });

/**
 * The page signs in with its session cookie (set by `GET /login?code=...` or the sign-in form);
 * the WebSocket carries it. A connection the server does not sign in (no cookie, an ended
 * session, a revoked token) shows the sign-in form instead of the views.
 */
export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useDrover();
  const [session, setSession] = useState<Session>({ state: 'checking' });
  useEffect(() => {
    let current = true;
    const check = () => {
      client.call('auth.whoami', {}).then(
        (principal) => current && setSession({ state: 'signed-in', principal }),
        (error: unknown) => {
          if (!current) return;
          if (isDroverError(error, 'DROVER_E_UNAUTHORIZED')) setSession({ state: 'signed-out' });
        },
      );
    };
    check();
    const stop = client.onStateChange((state) => {
      if (state === 'open') check();
    });
    return () => {
      current = false;
      stop();
    };
  }, [client]);
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  return useContext(SessionContext);
}

/** Signs the browser in with a token; resolves once the cookie is set, rejects with the reason. */
export async function signIn(token: string): Promise<void> {
  const response = await fetch(authHttp.loginPath, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  if (response.ok) return;
  const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
  throw new Error(body.error?.message ?? `Signing in failed: HTTP ${response.status}.`);
}

/** Ends the browser's session; the page starts over, signed out. */
export async function signOut(): Promise<void> {
  await fetch(authHttp.logoutPath, { method: 'POST' });
  location.replace('/');
}
