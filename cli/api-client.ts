// The one place the CLI talks HTTP to the hub: bearer auth, TLS options of the target, mapping of
// failures to messages a user can act on, and the build event stream (SSE with reconnect).

import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  API_PREFIX,
  type AgentSummary,
  type AgentTokenSummary,
  type AuditEntrySummary,
  type ApiError,
  type BuildSummary,
  type CheckResourceRequest,
  type ClearedResponse,
  type ContainerSummary,
  type CreateOneOffBuildRequest,
  type InterceptServerFrame,
  type UploadedArtifact,
  type ResourceSummary,
  type ResourceVersionSummary,
  type CreateAgentTokenRequest,
  type CreatedAgentToken,
  type InfoResponse,
  type JobSummary,
  type PipelineConfigResponse,
  type PipelineDiagnostic,
  type PipelineSummary,
  type SetPipelineRequest,
  type SetPipelineResponse,
  type ApiTokenSummary,
  type CreateApiTokenRequest,
  type CreatedApiToken,
  type LoginRequest,
  type LoginResponse,
  type SetTeamRequest,
  type SetTeamResponse,
  type TeamSummary,
  type UserInfo,
  type UserSummary,
} from '../hub/api/types.js';
import {
  formatPipelineRef,
  InstanceVarsError,
  instanceVarsQuery,
  parsePipelineRef,
} from '../hub/pipeline/instance-vars.js';
import type { InstanceVars, PipelineRef } from '../hub/pipeline/instance-vars.js';
import { CliError, sleep } from './io.js';
import { SseParser, type SseEvent } from './sse.js';
import type { Target } from './targets.js';

/** The hub answered with a non-2xx status. `message` is the hub's own message when it sent one. */
export class ApiRequestError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly details: PipelineDiagnostic[] = [],
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

export class HubUnreachableError extends CliError {
  constructor(url: string, cause: unknown) {
    super(`could not reach hub at ${url}: ${describeNetworkError(cause, url)}`, 1, { cause });
    this.name = 'HubUnreachableError';
  }
}

/** fetch wraps the interesting error (ECONNREFUSED, a TLS failure) in `cause`, sometimes an AggregateError. */
function describeNetworkError(err: unknown, url: string): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause !== undefined && e.message === 'fetch failed') e = e.cause;
  if (e instanceof AggregateError && e.errors.length > 0) e = e.errors[0];
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint = protocolMismatch(e.message, url);
    if (hint) return hint;
    if (e.message) return e.message;
    if (code) return code;
  }
  return String(e);
}

/** The usual wrong-URL mistakes, named: https:// to plain HTTP, the agents' gRPC port instead of the API. */
function protocolMismatch(message: string, url: string): string | undefined {
  const parsed = new URL(url);
  const swapped = (protocol: string) => `${protocol}//${parsed.host}`;
  if (parsed.protocol === 'https:' && /wrong version number|packet length too long/.test(message))
    return `the server speaks plain HTTP, not TLS: use ${swapped('http:')} (or put TLS in front of the hub)`;
  if (/no application protocol/.test(message))
    return "the server speaks only gRPC (HTTP/2): that is the hub's agent port (--grpc-listen); use its HTTP API port (--http-listen)";
  if (parsed.protocol === 'http:' && /Expected HTTP\//.test(message))
    return "the server did not answer HTTP/1.1: is that the hub's agent port (--grpc-listen)? use its HTTP API port (--http-listen)";
  if (parsed.protocol === 'http:' && /other side closed|socket hang up/.test(message))
    return `the server closed the connection without an answer (if it serves TLS, use ${swapped('https:')})`;
  return undefined;
}

export interface ApiClientOptions {
  /** First delay before reconnecting a dropped event stream (doubles up to 5s); the server's `retry:` wins. */
  reconnectDelayMs?: number;
  /** Consecutive failed reconnects before giving up on an event stream. */
  maxReconnectAttempts?: number;
  /** Timeout of ordinary (non-streaming) requests. */
  requestTimeoutMs?: number;
}

type Query = Record<string, string | number | undefined>;

export interface BuildsFilter {
  /** Undefined: the target's team; null: every team the caller may see. */
  team?: string | null;
  pipeline?: string;
  job?: string;
  limit?: number;
  /** Started at or after / at or before (Unix ms). */
  since?: number;
  until?: number;
}

interface RequestOptions {
  body?: unknown;
  query?: Query;
}

// undici's Dispatcher, as far as fetch's `dispatcher` option needs it. Kept opaque so the global fetch's
// types and the undici package's types need not agree.
type Dispatcher = object;

export class ApiClient {
  readonly baseUrl: string;
  readonly team: string;
  private readonly token: string;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly opts: Required<ApiClientOptions>;

  private constructor(target: Target, dispatcher: Dispatcher | undefined, opts: ApiClientOptions) {
    this.baseUrl = target.url.replace(/\/+$/, '');
    this.team = target.team;
    this.token = target.token;
    this.dispatcher = dispatcher;
    this.opts = {
      reconnectDelayMs: opts.reconnectDelayMs ?? 500,
      maxReconnectAttempts: opts.maxReconnectAttempts ?? 10,
      requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
    };
  }

  static async create(target: Target, opts: ApiClientOptions = {}): Promise<ApiClient> {
    let dispatcher: Dispatcher | undefined;
    if (target.ca_file !== undefined || target.insecure_skip_verify === true) {
      let ca: string | undefined;
      if (target.ca_file !== undefined) {
        try {
          ca = await readFile(target.ca_file, 'utf8');
        } catch (err) {
          throw new CliError(`could not read CA file ${target.ca_file}: ${(err as Error).message}`, 1, {
            cause: err,
          });
        }
      }
      // Loaded only when needed. The undici package is pinned to the major version bundled with Node,
      // whose global fetch accepts its Agent as `dispatcher`.
      const { Agent } = await import('undici');
      dispatcher = new Agent({ connect: { ca, rejectUnauthorized: target.insecure_skip_verify !== true } });
    }
    return new ApiClient(target, dispatcher, opts);
  }

  // --- routes -------------------------------------------------------------------------------------

  info(): Promise<InfoResponse> {
    return this.request('GET', '/info');
  }

  /**
   * The path of `rest` under a pipeline named as fly names it (`name`, or `name/key:value,...` for an
   * instance), with the instance's vars as the query Concourse's API reads (`vars.key=JSON`).
   */
  private pipelinePath(pipeline: string, rest = ''): string {
    const ref = parseRef(pipeline);
    const query = new URLSearchParams(instanceVarsQuery(ref.instanceVars)).toString();
    return `/teams/${enc(this.team)}/pipelines/${enc(ref.name)}${rest}${query === '' ? '' : `?${query}`}`;
  }

  listPipelines(): Promise<PipelineSummary[]> {
    return this.request('GET', `/teams/${enc(this.team)}/pipelines`);
  }

  /** The pipelines of every team the caller may see. */
  listAllPipelines(): Promise<PipelineSummary[]> {
    return this.request('GET', '/pipelines');
  }

  async archivePipeline(pipeline: string): Promise<void> {
    await this.request('PUT', this.pipelinePath(pipeline, `/archive`));
  }

  async orderPipelines(names: string[]): Promise<void> {
    await this.request('PUT', `/teams/${enc(this.team)}/pipelines/ordering`, { body: names });
  }

  /** Orders the instances of the group `group` (fly's order-instanced-pipelines). */
  async orderInstancedPipelines(group: string, instances: InstanceVars[]): Promise<void> {
    await this.request('PUT', `/teams/${enc(this.team)}/pipelines/${enc(group)}/ordering`, {
      body: instances,
    });
  }

  async renamePipeline(pipeline: string, name: string): Promise<void> {
    await this.request('PUT', this.pipelinePath(pipeline, `/rename`), { body: { name } });
  }

  async destroyPipeline(pipeline: string): Promise<void> {
    await this.request('DELETE', this.pipelinePath(pipeline));
  }

  /** undefined when the pipeline has no config yet (404). */
  async getPipelineConfig(pipeline: string): Promise<PipelineConfigResponse | undefined> {
    try {
      return await this.request<PipelineConfigResponse>('GET', this.pipelinePath(pipeline, `/config`));
    } catch (err) {
      if (err instanceof ApiRequestError && err.status === 404) return undefined;
      throw err;
    }
  }

  setPipelineConfig(pipeline: string, req: SetPipelineRequest): Promise<SetPipelineResponse> {
    return this.request('PUT', this.pipelinePath(pipeline, `/config`), { body: req });
  }

  listJobs(pipeline: string): Promise<JobSummary[]> {
    return this.request('GET', this.pipelinePath(pipeline, `/jobs`));
  }

  triggerJob(pipeline: string, job: string): Promise<BuildSummary> {
    return this.request('POST', this.pipelinePath(pipeline, `/jobs/${enc(job)}/builds`));
  }

  getJobBuild(pipeline: string, job: string, name: string): Promise<BuildSummary> {
    return this.request('GET', this.pipelinePath(pipeline, `/jobs/${enc(job)}/builds/${enc(name)}`));
  }

  /** Builds of the target's team, or of `team` when given, or of every visible team with `team: null`. */
  listBuilds(filter: BuildsFilter): Promise<BuildSummary[]> {
    const { team, pipeline, ...rest } = filter;
    const ref = pipeline === undefined ? undefined : parseRef(pipeline);
    return this.request('GET', '/builds', {
      query: {
        ...(team === null ? {} : { team: team ?? this.team }),
        ...(ref ? { pipeline: ref.name, ...instanceVarsQuery(ref.instanceVars) } : {}),
        ...rest,
      },
    });
  }

  rerunBuild(pipeline: string, job: string, name: string): Promise<BuildSummary> {
    return this.request('POST', this.pipelinePath(pipeline, `/jobs/${enc(job)}/builds/${enc(name)}`));
  }

  async scheduleJob(pipeline: string, job: string): Promise<void> {
    await this.request('PUT', this.pipelinePath(pipeline, `/jobs/${enc(job)}/schedule`));
  }

  listJobBuilds(pipeline: string, job: string, limit: number): Promise<BuildSummary[]> {
    return this.request('GET', this.pipelinePath(pipeline, `/jobs/${enc(job)}/builds`), {
      query: { limit },
    });
  }

  clearTaskCache(pipeline: string, job: string, step: string, cachePath?: string): Promise<ClearedResponse> {
    return this.request('DELETE', this.pipelinePath(pipeline, `/jobs/${enc(job)}/tasks/${enc(step)}/cache`), {
      query: { cachePath },
    });
  }

  clearResourceCache(
    pipeline: string,
    resource: string,
    version?: Record<string, string>,
  ): Promise<ClearedResponse> {
    return this.request('DELETE', this.pipelinePath(pipeline, `/resources/${enc(resource)}/cache`), {
      body: version === undefined ? {} : { version },
    });
  }

  clearVersions(pipeline: string, scope: 'resource' | 'type', name: string): Promise<ClearedResponse> {
    const kind = scope === 'type' ? 'resource-types' : 'resources';
    return this.request('DELETE', this.pipelinePath(pipeline, `/${kind}/${enc(name)}/versions`));
  }

  getBuild(id: number): Promise<BuildSummary> {
    return this.request('GET', `/builds/${id}`);
  }

  async abortBuild(id: number): Promise<void> {
    await this.request('PUT', `/builds/${id}/abort`);
  }

  async setPipelinePaused(pipeline: string, paused: boolean): Promise<void> {
    await this.request('PUT', this.pipelinePath(pipeline, `/${paused ? 'pause' : 'unpause'}`));
  }

  async setPipelineExposed(pipeline: string, exposed: boolean): Promise<void> {
    await this.request('PUT', this.pipelinePath(pipeline, `/${exposed ? 'expose' : 'hide'}`));
  }

  auditLog(filter: {
    team?: string;
    user?: string;
    since?: number;
    limit?: number;
  }): Promise<AuditEntrySummary[]> {
    const query = new URLSearchParams();
    if (filter.team !== undefined) query.set('team', filter.team);
    if (filter.user !== undefined) query.set('user', filter.user);
    if (filter.since !== undefined) query.set('since', String(filter.since));
    if (filter.limit !== undefined) query.set('limit', String(filter.limit));
    return this.request('GET', `/audit?${query.toString()}`);
  }

  async setJobPaused(pipeline: string, job: string, paused: boolean): Promise<void> {
    await this.request(
      'PUT',
      this.pipelinePath(pipeline, `/jobs/${enc(job)}/${paused ? 'pause' : 'unpause'}`),
    );
  }

  listResources(pipeline: string): Promise<ResourceSummary[]> {
    return this.request('GET', this.pipelinePath(pipeline, `/resources`));
  }

  checkResource(pipeline: string, resource: string, req: CheckResourceRequest): Promise<BuildSummary> {
    return this.request('POST', this.pipelinePath(pipeline, `/resources/${enc(resource)}/check`), {
      body: req,
    });
  }

  checkResourceType(pipeline: string, type: string, req: CheckResourceRequest): Promise<BuildSummary> {
    return this.request('POST', this.pipelinePath(pipeline, `/resource-types/${enc(type)}/check`), {
      body: req,
    });
  }

  listResourceVersions(
    pipeline: string,
    resource: string,
    limit?: number,
  ): Promise<ResourceVersionSummary[]> {
    return this.request('GET', this.pipelinePath(pipeline, `/resources/${enc(resource)}/versions`), {
      query: { limit },
    });
  }

  async pinResourceVersion(pipeline: string, resource: string, id: number, comment?: string): Promise<void> {
    await this.request('PUT', this.pipelinePath(pipeline, `/resources/${enc(resource)}/versions/${id}/pin`), {
      body: comment === undefined ? {} : { comment },
    });
  }

  async unpinResource(pipeline: string, resource: string): Promise<void> {
    await this.request('PUT', this.pipelinePath(pipeline, `/resources/${enc(resource)}/unpin`));
  }

  async setResourceVersionEnabled(
    pipeline: string,
    resource: string,
    id: number,
    enabled: boolean,
  ): Promise<void> {
    await this.request(
      'PUT',
      this.pipelinePath(
        pipeline,
        `/resources/${enc(resource)}/versions/${id}/${enabled ? 'enable' : 'disable'}`,
      ),
    );
  }

  login(req: LoginRequest): Promise<LoginResponse> {
    return this.request('POST', '/auth/token', { body: req });
  }

  renewLogin(): Promise<LoginResponse> {
    return this.request('POST', '/auth/renew');
  }

  userInfo(): Promise<UserInfo> {
    return this.request('GET', '/user');
  }

  listTeams(): Promise<TeamSummary[]> {
    return this.request('GET', '/teams');
  }

  getTeam(team: string): Promise<TeamSummary> {
    return this.request('GET', `/teams/${enc(team)}`);
  }

  setTeam(team: string, req: SetTeamRequest): Promise<SetTeamResponse> {
    return this.request('PUT', `/teams/${enc(team)}`, { body: req });
  }

  async renameTeam(team: string, name: string): Promise<void> {
    await this.request('PUT', `/teams/${enc(team)}/rename`, { body: { name } });
  }

  async destroyTeam(team: string): Promise<void> {
    await this.request('DELETE', `/teams/${enc(team)}`);
  }

  listUsers(): Promise<UserSummary[]> {
    return this.request('GET', '/users');
  }

  async setUser(user: string, password: string): Promise<void> {
    await this.request('PUT', `/users/${enc(user)}`, { body: { password } });
  }

  listApiTokens(): Promise<ApiTokenSummary[]> {
    return this.request('GET', `/teams/${enc(this.team)}/api-tokens`);
  }

  createApiToken(req: CreateApiTokenRequest): Promise<CreatedApiToken> {
    return this.request('POST', `/teams/${enc(this.team)}/api-tokens`, { body: req });
  }

  async revokeApiToken(id: number): Promise<void> {
    await this.request('DELETE', `/teams/${enc(this.team)}/api-tokens/${id}`);
  }

  listAgents(): Promise<AgentSummary[]> {
    return this.request('GET', '/agents');
  }

  listAgentTokens(): Promise<AgentTokenSummary[]> {
    return this.request('GET', '/agent-tokens');
  }

  createAgentToken(req: CreateAgentTokenRequest): Promise<CreatedAgentToken> {
    return this.request('POST', '/agent-tokens', { body: req });
  }

  async revokeAgentToken(id: number): Promise<void> {
    await this.request('DELETE', `/agent-tokens/${id}`);
  }

  // --- one-off builds (execute) ------------------------------------------------------------------

  /** Streams a tar archive of `size` bytes to the team's uploads (no timeout: it may be large). */
  async uploadArtifact(body: Readable, size: number): Promise<UploadedArtifact> {
    const init = {
      method: 'POST',
      body: Readable.toWeb(body) as ReadableStream,
      duplex: 'half',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
    };
    const res = await this.fetch(this.url(`/teams/${enc(this.team)}/artifacts`), init as RequestInit);
    if (!res.ok) throw await toApiError(res);
    return (await res.json()) as UploadedArtifact;
  }

  createOneOffBuild(req: CreateOneOffBuildRequest): Promise<BuildSummary> {
    return this.request('POST', `/teams/${enc(this.team)}/builds`, { body: req });
  }

  /** A one-off build's output as a tar stream, with its size. */
  async downloadOutput(buildId: number, output: string): Promise<{ body: Readable; size: number }> {
    const res = await this.fetch(this.url(`/builds/${buildId}/outputs/${enc(output)}`), { method: 'GET' });
    if (!res.ok || !res.body) throw await toApiError(res);
    const body = Readable.fromWeb(res.body);
    return { body, size: Number(res.headers.get('content-length') ?? 0) };
  }

  /**
   * Runs a command inside a running step of the build: `frames` (JSON lines, `start` first) go up as
   * they come, the answer's frames come back as the command prints (one HTTP request, both ways).
   */
  /** The team's steps that can be intercepted (`team`: another team than the target's). */
  async listContainers(team?: string): Promise<ContainerSummary[]> {
    return this.request('GET', `/teams/${enc(team ?? this.team)}/containers`);
  }

  /** A terminal into a step: one of a build (chosen by `query`), or the one a container handle names. */
  async *intercept(
    into: { buildId: number } | { handle: string },
    query: { step?: string; type?: string; attempt?: number },
    frames: AsyncIterable<string>,
    signal?: AbortSignal,
  ): AsyncGenerator<InterceptServerFrame> {
    const body = Readable.toWeb(Readable.from(frames)) as ReadableStream;
    const init = {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { 'Content-Type': 'application/octet-stream' },
      ...(signal ? { signal } : {}),
    };
    const path =
      'handle' in into ? `/containers/${enc(into.handle)}/intercept` : `/builds/${into.buildId}/intercept`;
    const res = await this.fetch(this.url(path, query), init as RequestInit);
    if (!res.ok || !res.body) throw await toApiError(res);
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.trim() !== '') yield JSON.parse(line) as InterceptServerFrame;
      }
    }
  }

  // --- plumbing -----------------------------------------------------------------------------------

  private url(path: string, query?: Query): string {
    const u = new URL(this.baseUrl + API_PREFIX + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set('Authorization', `Bearer ${this.token}`);
    const full = { ...init, headers, ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}) };
    try {
      return await fetch(url, full as RequestInit);
    } catch (err) {
      if (err instanceof Error && err.name === 'TimeoutError') {
        throw new CliError(`request to ${this.baseUrl} timed out`, 1, { cause: err });
      }
      if (err instanceof Error && err.name === 'AbortError') throw err;
      throw new HubUnreachableError(this.baseUrl, err);
    }
  }

  private async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const init: RequestInit = { method, signal: AbortSignal.timeout(this.opts.requestTimeoutMs) };
    if (opts.body !== undefined) {
      init.body = JSON.stringify(opts.body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    const res = await this.fetch(this.url(path, opts.query), init);
    if (!res.ok) throw await toApiError(res);
    const text = await res.text();
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`hub sent an invalid response to ${method} ${API_PREFIX}${path}: ${snippet(text)}`);
    }
  }

  /**
   * The build's events, replayed from the start, then live, up to and including the `end` event.
   * A dropped connection is resumed with Last-Event-ID; events with a numeric id not above the last one
   * delivered are skipped, so none is delivered twice even if the server replays inclusively.
   */
  async *buildEvents(buildId: number, signal?: AbortSignal): AsyncGenerator<SseEvent> {
    const url = this.url(`/builds/${buildId}/events`);
    let lastId = '';
    let lastSeq: number | undefined;
    let connected = false;
    let failures = 0;
    let retryMs: number | undefined;
    const backoff = async (): Promise<void> => {
      const base = retryMs ?? this.opts.reconnectDelayMs;
      await sleep(Math.min(base * 2 ** (failures - 1), Math.max(base, 5000)), signal);
    };
    for (;;) {
      const headers: Record<string, string> = { Accept: 'text/event-stream' };
      if (lastId !== '') headers['Last-Event-ID'] = lastId;
      let res: Response;
      try {
        res = await this.fetch(url, { headers, ...(signal ? { signal } : {}) });
      } catch (err) {
        if (signal?.aborted) return;
        if (!connected || !(err instanceof HubUnreachableError)) throw err;
        if (++failures > this.opts.maxReconnectAttempts) throw this.lostStream(buildId, err);
        await backoff();
        continue;
      }
      if (!res.ok) {
        if (connected && res.status >= 502 && res.status <= 504) {
          const err = await toApiError(res);
          if (++failures > this.opts.maxReconnectAttempts) throw this.lostStream(buildId, err);
          await backoff();
          continue;
        }
        throw await toApiError(res);
      }
      if (!res.body) throw new CliError(`hub sent an empty event stream for build ${buildId}`);
      connected = true;
      const parser = new SseParser(lastId);
      const decoder = new TextDecoder();
      let dropped: unknown;
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          for (const ev of parser.feed(decoder.decode(chunk, { stream: true }))) {
            // Only an event's own id orders it: one without `id:` (like `end`) inherits the previous id.
            const seq = ev.hasOwnId && /^\d+$/.test(ev.id) ? Number(ev.id) : undefined;
            if (seq !== undefined && lastSeq !== undefined && seq <= lastSeq) continue;
            if (seq !== undefined) lastSeq = seq;
            lastId = ev.id;
            failures = 0;
            yield ev;
            if (ev.event === 'end') return;
          }
        }
      } catch (err) {
        if (signal?.aborted) return;
        dropped = err;
      }
      lastId = parser.lastEventId;
      retryMs = parser.retryMs ?? retryMs;
      if (++failures > this.opts.maxReconnectAttempts) throw this.lostStream(buildId, dropped);
      await backoff();
      if (signal?.aborted) return;
    }
  }

  private lostStream(buildId: number, cause: unknown): CliError {
    const why = cause === undefined ? 'the stream ended early' : describeNetworkError(cause, this.baseUrl);
    return new CliError(`lost the event stream of build ${buildId} from ${this.baseUrl}: ${why}`, 1, {
      cause,
    });
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function snippet(text: string): string {
  const t = text.trim().replace(/\s+/g, ' ');
  return t.length > 200 ? `${t.slice(0, 200)}...` : t;
}

function isApiError(v: unknown): v is ApiError {
  if (typeof v !== 'object' || v === null) return false;
  const e = (v as { error?: unknown }).error;
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string';
}

async function toApiError(res: Response): Promise<ApiRequestError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // The body is only used for the message.
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isApiError(body)) {
    return new ApiRequestError(body.error.message, res.status, body.error.code, body.error.details ?? []);
  }
  const reason = `${res.status} ${res.statusText}`.trim();
  return new ApiRequestError(
    text ? `hub returned ${reason}: ${snippet(text)}` : `hub returned ${reason}`,
    res.status,
    'http_' + String(res.status),
  );
}

/** How fly names a listed pipeline: `name`, or `name/key:value,...` for an instance. */
export function pipelineRefOf(p: PipelineSummary): string {
  return formatPipelineRef({ name: p.name, ...(p.instance_vars ? { instanceVars: p.instance_vars } : {}) });
}

/** fly's `name/key:value,...`, its mistakes as a CliError. */
export function parseRef(pipeline: string): PipelineRef {
  try {
    return parsePipelineRef(pipeline);
  } catch (err) {
    if (err instanceof InstanceVarsError)
      throw new CliError(`invalid pipeline '${pipeline}': ${err.message}`);
    throw err;
  }
}
