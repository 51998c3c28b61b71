// Who the viewer is, in one place: until users and login exist, an API token kept in localStorage and
// sent as a bearer. Swapping this for a session (cookie, OIDC) changes this module only.

const KEY = 'outpost.token';

export function token(): string | null {
  return localStorage.getItem(KEY);
}

export function signIn(secret: string): void {
  localStorage.setItem(KEY, secret.trim());
}

export function signOut(): void {
  localStorage.removeItem(KEY);
}

/** The headers that carry the credential on every API call. */
export function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}
