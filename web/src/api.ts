// The hub's public REST API, typed by hub/api/types.ts (the only hub file the UI imports).

import type {
  ApiError,
  BuildStep,
  BuildSummary,
  InfoResponse,
  JobSummary,
  PipelineSummary,
  AgentSummary,
  ResourceSummary,
} from '../../hub/api/types.js';
import { API_PREFIX } from '../../hub/api/types.js';
import { authHeaders } from './auth.js';

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string): Promise<T> {
  const res = await fetch(API_PREFIX + path, { method, headers: authHeaders() });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as ApiError | null;
    throw new ApiFailure(res.status, body?.error.code ?? 'http', body?.error.message ?? `HTTP ${res.status}`);
  }
  return (res.status === 204 ? undefined : await res.json()) as T;
}

const seg = encodeURIComponent;
const pipelinePath = (team: string, pipeline: string) => `/teams/${seg(team)}/pipelines/${seg(pipeline)}`;

export const api = {
  info: () => call<InfoResponse>('GET', '/info'),
  pipelines: (team: string) => call<PipelineSummary[]>('GET', `/teams/${seg(team)}/pipelines`),
  jobs: (team: string, pipeline: string) => call<JobSummary[]>('GET', `${pipelinePath(team, pipeline)}/jobs`),
  resources: (team: string, pipeline: string) =>
    call<ResourceSummary[]>('GET', `${pipelinePath(team, pipeline)}/resources`),
  setPipelinePaused: (team: string, pipeline: string, paused: boolean) =>
    call<undefined>('PUT', `${pipelinePath(team, pipeline)}/${paused ? 'pause' : 'unpause'}`),
  jobBuilds: (team: string, pipeline: string, job: string, limit = 50) =>
    call<BuildSummary[]>('GET', `${pipelinePath(team, pipeline)}/jobs/${seg(job)}/builds?limit=${limit}`),
  trigger: (team: string, pipeline: string, job: string) =>
    call<BuildSummary>('POST', `${pipelinePath(team, pipeline)}/jobs/${seg(job)}/builds`),
  setJobPaused: (team: string, pipeline: string, job: string, paused: boolean) =>
    call<undefined>(
      'PUT',
      `${pipelinePath(team, pipeline)}/jobs/${seg(job)}/${paused ? 'pause' : 'unpause'}`,
    ),
  build: (id: number) => call<BuildSummary>('GET', `/builds/${id}`),
  plan: (id: number) => call<BuildStep>('GET', `/builds/${id}/plan`),
  abort: (id: number) => call<undefined>('PUT', `/builds/${id}/abort`),
  agents: () => call<AgentSummary[]>('GET', '/agents'),
};
