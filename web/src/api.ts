// The hub's public REST API, typed by hub/api/types.ts (the only hub file the UI imports).

import { keyOf, splitKey, withVars } from './pipeline-key.js';
import type {
  AgentSummary,
  ApiError,
  BuildEventPage,
  BuildStep,
  BuildSummary,
  InfoResponse,
  JobSummary,
  LoginResponse,
  PipelineSummary,
  QueuedStep,
  ResourceSummary,
  ResourceVersionSummary,
  TeamSummary,
  UserInfo,
} from '../../hub/api/types.js';
import { API_PREFIX } from '../../hub/api/types.js';
import { authHeaders, signOut, token } from './auth.js';

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What /info says about logging in (the teams issue adds it; an older hub answers without it). */
export interface LoginMethods {
  local: boolean;
  oidc: { name: string } | null;
}
type Info = InfoResponse & { auth?: LoginMethods };
/** Fields a pipeline gains with exposing and archiving; absent on a hub without them. */
export type Pipeline = PipelineSummary & { public?: boolean; archived?: boolean };

/** GET /builds/:id/events/page's query. */
export interface EventPageQuery {
  limit: number;
  after?: number;
  tail?: true;
  step?: string;
  line?: number;
  log?: false;
  bytes?: number;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = authHeaders();
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(API_PREFIX + path, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!res.ok) {
    const answer = (await res.json().catch(() => null)) as ApiError | null;
    // The token was refused (expired, revoked): the viewer is signed out rather than stuck on errors.
    if (res.status === 401 && headers.authorization && token()) signOut();
    throw new ApiFailure(
      res.status,
      answer?.error.code ?? 'http',
      answer?.error.message ?? `HTTP ${res.status}`,
    );
  }
  return (res.status === 204 ? undefined : await res.json()) as T;
}

const seg = encodeURIComponent;
/** `rest` under a pipeline, named by its key (pipeline-key.ts): an instance's vars go in the query. */
const pipelinePath = (team: string, pipeline: string, rest = '') =>
  withVars(`/teams/${seg(team)}/pipelines/${seg(splitKey(pipeline).name)}${rest}`, pipeline);
const jobPath = (team: string, pipeline: string, job: string, rest = '') =>
  pipelinePath(team, pipeline, `/jobs/${seg(job)}${rest}`);
const resourcePath = (team: string, pipeline: string, resource: string, rest = '') =>
  pipelinePath(team, pipeline, `/resources/${seg(resource)}${rest}`);

export const api = {
  info: () => call<Info>('GET', '/info'),
  /** Without a team (''), the hub picks one of the user's: the token serves every team of theirs. */
  login: (username: string, password: string, team: string) =>
    call<LoginResponse>('POST', '/auth/token', { username, password, ...(team ? { team } : {}) }),
  renew: () => call<LoginResponse>('POST', '/auth/renew'),
  user: () => call<UserInfo>('GET', '/user'),
  teams: () => call<TeamSummary[]>('GET', '/teams'),
  pipelines: (team: string) => call<Pipeline[]>('GET', `/teams/${seg(team)}/pipelines`),
  jobs: (team: string, pipeline: string) => call<JobSummary[]>('GET', pipelinePath(team, pipeline, `/jobs`)),
  resources: (team: string, pipeline: string) =>
    call<ResourceSummary[]>('GET', pipelinePath(team, pipeline, `/resources`)),
  setPipelinePaused: (team: string, pipeline: string, paused: boolean) =>
    call<undefined>('PUT', pipelinePath(team, pipeline, `/${paused ? 'pause' : 'unpause'}`)),
  jobBuilds: (team: string, pipeline: string, job: string, limit = 50) =>
    call<BuildSummary[]>('GET', jobPath(team, pipeline, job, `/builds?limit=${limit}`)),
  trigger: (team: string, pipeline: string, job: string) =>
    call<BuildSummary>('POST', jobPath(team, pipeline, job, `/builds`)),
  /** Concourse's rerun: a new build `N.1` of the same job with the same inputs. */
  rerun: (b: BuildSummary) =>
    call<BuildSummary>(
      'POST',
      jobPath(
        b.team,
        keyOf({ name: b.pipeline, instance_vars: b.pipeline_instance_vars }),
        b.job,
        `/builds/${seg(b.name)}`,
      ),
    ),
  setJobPaused: (team: string, pipeline: string, job: string, paused: boolean) =>
    call<undefined>('PUT', jobPath(team, pipeline, job, `/${paused ? 'pause' : 'unpause'}`)),
  build: (id: number) => call<BuildSummary>('GET', `/builds/${id}`),
  plan: (id: number) => call<BuildStep>('GET', `/builds/${id}/plan`),
  abort: (id: number) => call<undefined>('PUT', `/builds/${id}/abort`),
  /** A page of a build's stored events (BuildEventPage says which page each query asks for). */
  eventPage: (id: number, q: EventPageQuery) =>
    call<BuildEventPage>(
      'GET',
      `/builds/${id}/events/page?${new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)])).toString()}`,
    ),
  versions: (team: string, pipeline: string, resource: string, limit = 100) =>
    call<ResourceVersionSummary[]>('GET', resourcePath(team, pipeline, resource, `/versions?limit=${limit}`)),
  setVersionEnabled: (team: string, pipeline: string, resource: string, id: number, enabled: boolean) =>
    call<undefined>(
      'PUT',
      resourcePath(team, pipeline, resource, `/versions/${id}/${enabled ? 'enable' : 'disable'}`),
    ),
  pin: (team: string, pipeline: string, resource: string, id: number, comment: string) =>
    call<undefined>('PUT', resourcePath(team, pipeline, resource, `/versions/${id}/pin`), { comment }),
  unpin: (team: string, pipeline: string, resource: string) =>
    call<undefined>('PUT', resourcePath(team, pipeline, resource, `/unpin`)),
  check: (team: string, pipeline: string, resource: string) =>
    call<BuildSummary>('POST', resourcePath(team, pipeline, resource, `/check`)),
  agents: () => call<AgentSummary[]>('GET', '/agents'),
  queue: () => call<QueuedStep[]>('GET', '/queue'),
};

/** The raw text of a build's log (of one step, or all), as a download link can fetch it. */
export async function downloadLog(id: number, step: string | null, filename: string): Promise<void> {
  const res = await fetch(`${API_PREFIX}/builds/${id}/log${step === null ? '' : `?step=${seg(step)}`}`, {
    headers: authHeaders(),
  });
  if (!res.ok) throw new ApiFailure(res.status, 'http', `download: HTTP ${res.status}`);
  // The credential travels in a header, so the file comes through a blob rather than a plain link.
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
