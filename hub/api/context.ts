// What every route module gets: the hub's components and the lookups that turn path names into records
// (404 when absent) and records into API summaries.

import type { SigningKeys } from '../idtoken/signing-keys.js';
import type { Logger } from 'pino';
import type { ArtifactStore } from '../artifacts/store.js';
import type { Tunnels } from '../gateway/tunnels.js';
import { roleIn, type Caller } from '../auth/caller.js';
import type { OidcRelyingParty } from '../auth/oidc.js';
import type { TokenService } from '../auth/tokens.js';
import type { PipelineConfigs } from '../configs/pipeline-cache.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { BuildEvents } from '../events/build-events.js';
import type { HubMetrics } from '../metrics.js';
import type { LeaderActions } from '../replicas/leader-actions.js';
import type { BuildView, Job, Pipeline, Store, Team, TokenRecord } from '../store/store.js';
import { TERMINAL_BUILD_STATUSES } from '../store/store.js';
import { formatPipelineRef, refOfKey } from '../pipeline/instance-vars.js';
import { notFound } from './errors.js';
import type { AgentTokenSummary, BuildSummary } from './types.js';

export interface ApiDeps {
  store: Store;
  /** Uploaded inputs of one-off builds go in, their outputs come out. */
  artifacts: ArtifactStore;
  /** Terminals into running steps (outpost intercept). */
  tunnels: Tunnels;
  /** The scheduler, checker and engine: here on a single hub and the leader, through hints elsewhere. */
  leader: LeaderActions;
  configs: PipelineConfigs;
  dispatcher: Dispatcher;
  events: BuildEvents;
  tokens: TokenService;
  metrics: HubMetrics;
  log: Logger;
  version: string;
  /** False while starting or draining: /readyz answers 503. */
  ready: () => boolean;
  /** Largest pipeline config accepted, in bytes. */
  maxPipelineBytes: number;
  /** The built web UI's folder (index.html, assets/). */
  webDir: string;
  /** The OpenID Connect login, when the hub is configured for one. */
  oidc: OidcRelyingParty | undefined;
  /** The secret Prometheus presents for /metrics (besides an admin's API token); undefined: admins only. */
  metricsToken: string | undefined;
  /** Rotates the admin API token (hub/auth/admin-token.ts): the new secret, and the file it went to. */
  rotateAdminToken: () => Promise<{ secret: string; file: string | undefined; revoked: number }>;
  /** The URL users reach the hub at (`--external-url`, else its listen address), without a trailing `/`. */
  externalUrl: () => string;
  /** The keys idtoken var sources sign with (published at /.well-known/jwks.json). */
  signingKeys: SigningKeys;
  /** Replicas: the URL other replicas reach this one's API at; undefined: a single hub. */
  replicaUrl: () => string | undefined;
}

export class ApiContext {
  constructor(readonly deps: ApiDeps) {}

  get store(): Store {
    return this.deps.store;
  }

  async teamOf(name: string): Promise<Team> {
    const team = await this.store.getTeam(name);
    if (!team) throw notFound(`team "${name}"`);
    return team;
  }

  /** The team, or "not found" when the caller has no role in it (as if it did not exist). */
  async visibleTeamOf(caller: Caller, name: string): Promise<Team> {
    if (!roleIn(caller, name)) throw notFound(`team "${name}"`);
    return this.teamOf(name);
  }

  async visibleTeamIds(caller: Caller): Promise<number[]> {
    return (await this.store.teams.list()).filter((t) => roleIn(caller, t.name)).map((t) => t.id);
  }

  /** The pipeline a path names: `key` is the route's `:pipeline` (pipeline-address.ts). */
  async pipelineOf(teamName: string, key: string): Promise<Pipeline> {
    const team = await this.teamOf(teamName);
    const ref = refOfKey(key);
    const pipeline = await this.store.getPipeline(team.id, ref.name, ref.instanceVars);
    if (!pipeline) throw notFound(`pipeline "${formatPipelineRef(ref)}"`);
    return pipeline;
  }

  /** The job a path names, in one read (every trigger looks it up). */
  async jobOf(teamName: string, pipelineKey: string, name: string): Promise<Job> {
    const ref = refOfKey(pipelineKey);
    const found = await this.store.findJobByPath(teamName, ref, name);
    if (found.missing === 'team') throw notFound(`team "${teamName}"`);
    if (found.missing === 'pipeline') throw notFound(`pipeline "${formatPipelineRef(ref)}"`);
    const { job } = found;
    if (!job?.active || job.kind !== 'job') throw notFound(`job "${formatPipelineRef(ref)}/${name}"`);
    return job;
  }

  /** Whether the pipeline is exposed; false when it or its team does not exist (nothing to tell apart). */
  async pipelineExposed(teamName: string, key: string): Promise<boolean> {
    const team = await this.store.getTeam(teamName);
    const ref = refOfKey(key);
    return Boolean(team && (await this.store.getPipeline(team.id, ref.name, ref.instanceVars))?.public);
  }

  /** Whether the team has an exposed pipeline: its pipeline list is then readable by anyone. */
  async teamExposes(teamName: string): Promise<boolean> {
    const team = await this.store.getTeam(teamName);
    return Boolean(team && (await this.store.listPipelines(team.id)).some((p) => p.public));
  }

  /**
   * Whether the build's pipeline is exposed; with `logs`, also whether its job is `public: true`, as
   * Concourse shows an exposed pipeline's build logs only for its public jobs.
   */
  async buildExposed(id: number, logs: boolean): Promise<boolean> {
    const build = await this.store.getBuild(id);
    const pipeline = build && (await this.store.getPipelineById(build.pipelineId));
    if (!build || !pipeline?.public) return false;
    if (!logs) return true;
    const config = await this.deps.configs.get(pipeline.id);
    return config.jobs.some((j) => j.name === build.jobName && j.public === true);
  }

  async buildOf(id: number): Promise<BuildView> {
    const build = await this.store.getBuild(id);
    if (!build) throw notFound(`build ${id}`);
    return build;
  }

  async summary(build: BuildView): Promise<BuildSummary> {
    const terminal = TERMINAL_BUILD_STATUSES.includes(build.status);
    return {
      id: build.id,
      team: build.teamName,
      // A one-off build's pipeline and job are hidden ones, not names a user could look up.
      pipeline: build.oneOff ? '' : build.pipelineName,
      ...(build.pipelineInstanceVars ? { pipeline_instance_vars: build.pipelineInstanceVars } : {}),
      job: build.oneOff ? '' : build.jobName,
      oneOff: build.oneOff,
      name: build.name,
      status: build.status,
      createdAt: build.createdAt,
      startedAt: build.startedAt,
      endedAt: build.endedAt,
      waitingReason: terminal ? null : await this.deps.leader.waitingReason(build),
    };
  }

  async tokenSummary(token: TokenRecord): Promise<AgentTokenSummary> {
    const team = token.teamId === null ? undefined : await this.store.getTeamById(token.teamId);
    return {
      id: token.id,
      name: token.name,
      team: team?.name ?? null,
      bounds: token.bounds,
      createdAt: token.createdAt,
      expiresAt: token.expiresAt,
      revokedAt: token.revokedAt,
      lastUsedAt: token.lastUsedAt,
    };
  }
}
