// Who the viewer is, in one place: a login token (a local user's password login or an OIDC login) or a
// pasted API token, kept in localStorage and sent as a bearer; and the team the viewer is looking at.
// Pages re-render on a change through `useSession`.

import { useEffect, useState } from 'react';

export interface Session {
  token: string;
  /** The user's name for a login token; null for a pasted API token. */
  user: string | null;
  /** When the token stops working (Unix ms); null: never (an API token without expiry). */
  expiresAt: number | null;
}

const KEY = 'outpost.session';
const TEAM_KEY = 'outpost.team';
const listeners = new Set<() => void>();
const changed = () => listeners.forEach((l) => l());

export function session(): Session | null {
  const raw = localStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Session;
    // An expired login is no login: the page shows what a visitor sees, and the sign-in link.
    if (s.expiresAt !== null && s.expiresAt <= Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

export function token(): string | null {
  return session()?.token ?? null;
}

export function signIn(s: Session): void {
  localStorage.setItem(KEY, JSON.stringify({ ...s, token: s.token.trim() }));
  changed();
}

export function signOut(): void {
  localStorage.removeItem(KEY);
  changed();
}

/** The team the team switcher chose; '' shows every team the viewer may see. */
export function currentTeam(): string {
  return localStorage.getItem(TEAM_KEY) ?? '';
}

export function chooseTeam(team: string): void {
  localStorage.setItem(TEAM_KEY, team);
  changed();
}

/** The session and team, re-read whenever either changes (sign-in, sign-out, switching team). */
export function useSession(): { session: Session | null; team: string } {
  const read = () => ({ session: session(), team: currentTeam() });
  const [state, setState] = useState(read);
  useEffect(() => {
    const update = () => setState(read());
    listeners.add(update);
    // Another tab signing in or out.
    window.addEventListener('storage', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('storage', update);
    };
  }, []);
  return state;
}

/** The headers that carry the credential on every API call. */
export function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** A same-origin path to go to after signing in; anything else (another origin, `//host`) is `/`. */
export function safeRedirect(path: string | null | undefined): string {
  return path && path.startsWith('/') && !path.startsWith('//') && !path.startsWith('/\\') ? path : '/';
}
