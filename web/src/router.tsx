// Client-side routing over the History API: the hub answers every app path with index.html.

import { useEffect, useState, type ReactNode, type MouseEvent } from 'react';
import { splitKey, withVars } from './pipeline-key.js';

const listeners = new Set<() => void>();

export function navigate(to: string): void {
  history.pushState(null, '', to);
  listeners.forEach((l) => l());
}

/** The current path; every navigation re-renders, even to the same path (after signing in, say). */
export function usePath(): string {
  const [at, setAt] = useState({ path: location.pathname });
  useEffect(() => {
    const update = () => setAt({ path: location.pathname });
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return at.path;
}

/** Matches `/builds/:id` against a path; the named segments, decoded, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.replace(/\/+$/, '').split('/');
  if (want.length !== got.length) return null;
  const out: Record<string, string> = {};
  for (const [i, w] of want.entries()) {
    const g = got[i] ?? '';
    if (w.startsWith(':')) out[w.slice(1)] = decodeURIComponent(g);
    else if (w !== g) return null;
  }
  return out;
}

/** A link's click: the app goes to `to` itself; a modified or middle click opens a tab, as links do. */
export function followLink(to: string): (e: MouseEvent) => void {
  return (e) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(to);
  };
}

export function Link(props: { to: string; children: ReactNode; className?: string; title?: string }) {
  return (
    <a href={props.to} onClick={followLink(props.to)} className={props.className} title={props.title}>
      {props.children}
    </a>
  );
}

/** The app's URLs; a pipeline by its key (pipeline-key.ts), an instance's vars in the `vars` query. */
const pipelineUrl = (team: string, pipeline: string, rest = '') =>
  withVars(
    `/teams/${encodeURIComponent(team)}/pipelines/${encodeURIComponent(splitKey(pipeline).name)}${rest}`,
    pipeline,
  );

export const paths = {
  pipeline: (team: string, pipeline: string) => pipelineUrl(team, pipeline),
  job: (team: string, pipeline: string, job: string) =>
    pipelineUrl(team, pipeline, `/jobs/${encodeURIComponent(job)}`),
  resource: (team: string, pipeline: string, resource: string) =>
    pipelineUrl(team, pipeline, `/resources/${encodeURIComponent(resource)}`),
  build: (id: number) => `/builds/${id}`,
};
