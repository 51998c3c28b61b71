// A browser as far as an OpenID Connect login needs one: it follows redirects with a cookie jar per
// host, and on the test provider's login page (./oidc-provider.ts) signs in as the given account. It
// stops at the first answer that is not a redirect, or at a redirect to a URL `stopAt` accepts.

export interface BrowserVisit {
  /** Every URL visited, in order. */
  visited: string[];
  /** The last answer's URL, status and text. */
  url: string;
  status: number;
  text: string;
  /** The Location of the redirect it stopped at, if it stopped at one. */
  location?: string;
}

export async function browseLogin(
  start: string,
  account: string,
  stopAt: (url: URL) => boolean = () => false,
): Promise<BrowserVisit> {
  const jar = new Map<string, Map<string, string>>();
  const visited: string[] = [];
  let url = new URL(start);
  let init: RequestInit = {};
  for (let hop = 0; hop < 20; hop++) {
    visited.push(url.href);
    const cookies = jar.get(url.host) ?? new Map<string, string>();
    jar.set(url.host, cookies);
    const headers = new Headers(init.headers);
    if (cookies.size > 0) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      const [key, value] = [pair!.slice(0, at).trim(), pair!.slice(at + 1).trim()];
      if (/max-age=0/i.test(line) || value === '') cookies.delete(key);
      else cookies.set(key, value);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, url);
      if (stopAt(next))
        return { visited, url: url.href, status: res.status, text: await res.text(), location: next.href };
      url = next;
      init = {};
      continue;
    }
    const text = await res.text();
    const form = /<form method="post" action="([^"]+)"/.exec(text);
    if (res.status === 200 && form) {
      url = new URL(form[1]!, url);
      init = {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ login: account }).toString(),
      };
      continue;
    }
    return { visited, url: url.href, status: res.status, text };
  }
  throw new Error(`more than 20 redirects from ${start}: ${visited.join(' -> ')}`);
}
