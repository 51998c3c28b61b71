// Row <-> record conversion: snake_case columns to the store's records, 0/1 to booleans, JSON text to
// values and bigint columns (strings on PostgreSQL) to numbers. Every call builds fresh objects, so
// callers never share state with the store.

import type { Selectable } from 'kysely';
import { eventWithPayload } from '../log-text/log-payload.js';
import { refOfKey } from '../pipeline/instance-vars.js';
import type { PlanNode } from '../pipeline/plan.js';
import type {
  AgentsTable,
  BuildEventsTable,
  BuildsTable,
  JobsTable,
  PipelineConfigsTable,
  PipelinesTable,
  StepRunsTable,
  TeamsTable,
  TokensTable,
} from './schema.js';
import type {
  AgentBounds,
  AgentPoolRecord,
  AgentRecord,
  Build,
  BuildEvent,
  BuildStatus,
  BuildView,
  Job,
  Pipeline,
  PipelineConfigVersion,
  StepRun,
  StepRunStatus,
  Team,
  TokenRecord,
} from './store.js';

export type BuildViewRow = Selectable<BuildsTable> & {
  team_name: string;
  pipeline_name: string;
  job_name: string;
  job_kind: string;
};

export function bool(v: boolean): number {
  return v ? 1 : 0;
}

/** JSON text for a value; undefined is stored as null (JSON has no undefined). */
export function json(v: unknown): string {
  return JSON.stringify(v ?? null);
}

export function num(v: number | string): number {
  return Number(v);
}

function numOrNull(v: number | string | null): number | null {
  return v === null ? null : Number(v);
}

export function toTeam(row: Selectable<TeamsTable>): Team {
  return { id: row.id, name: row.name };
}

export function toToken(row: Selectable<TokensTable>): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    hash: row.hash,
    teamId: row.team_id,
    kind: row.kind as TokenRecord['kind'],
    createdAt: num(row.created_at),
    revokedAt: numOrNull(row.revoked_at),
    lastUsedAt: numOrNull(row.last_used_at),
    role: row.role as TokenRecord['role'],
    expiresAt: numOrNull(row.expires_at),
    userId: row.user_id,
    bounds: row.agent_bounds === null ? null : (JSON.parse(row.agent_bounds) as AgentBounds),
  };
}

export function toPipeline(row: Selectable<PipelinesTable>): Pipeline {
  const ref = refOfKey(row.name);
  return {
    id: row.id,
    teamId: row.team_id,
    name: ref.name,
    ...(ref.instanceVars ? { instanceVars: ref.instanceVars } : {}),
    paused: row.paused !== 0,
    public: row.public !== 0,
    archived: row.archived !== 0,
    configVersion: row.config_version,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export function toPipelineConfig(row: Selectable<PipelineConfigsTable>): PipelineConfigVersion {
  return {
    pipelineId: row.pipeline_id,
    version: row.version,
    source: row.source,
    createdAt: num(row.created_at),
  };
}

export function toJob(row: Selectable<JobsTable>): Job {
  return {
    id: row.id,
    pipelineId: row.pipeline_id,
    name: row.name,
    plan: JSON.parse(row.plan) as PlanNode,
    active: row.active !== 0,
    paused: row.paused !== 0,
    nextBuildNumber: row.next_build_number,
    kind: row.kind === 'check' || row.kind === 'one-off' ? row.kind : 'job',
    schedule:
      row.schedule === null
        ? { maxInFlight: 0, serialGroups: [] }
        : (JSON.parse(row.schedule) as Job['schedule']),
  };
}

export function toBuild(row: Selectable<BuildsTable>): Build {
  return {
    id: row.id,
    teamId: row.team_id,
    pipelineId: row.pipeline_id,
    jobId: row.job_id,
    name: row.name,
    status: row.status as BuildStatus,
    plan: JSON.parse(row.plan) as PlanNode,
    abortRequested: row.abort_requested !== 0,
    manual: row.manual !== 0,
    rerunOf: row.rerun_of,
    pendingReason: row.pending_reason,
    checkRequest:
      row.check_request === null ? null : (JSON.parse(row.check_request) as Build['checkRequest']),
    createdAt: num(row.created_at),
    startedAt: numOrNull(row.started_at),
    endedAt: numOrNull(row.ended_at),
  };
}

export function toBuildView(row: BuildViewRow): BuildView {
  // pipelines.name is the pipeline's key: an instance's carries its instance vars (migration 0017).
  const pipeline = refOfKey(row.pipeline_name);
  return {
    ...toBuild(row),
    teamName: row.team_name,
    pipelineName: pipeline.name,
    ...(pipeline.instanceVars ? { pipelineInstanceVars: pipeline.instanceVars } : {}),
    jobName: row.job_name,
    oneOff: row.job_kind === 'one-off',
  };
}

export function toStepRun(row: Selectable<StepRunsTable>): StepRun {
  return {
    id: row.id,
    buildId: row.build_id,
    planId: row.plan_id,
    name: row.name,
    status: row.status as StepRunStatus,
    spec: JSON.parse(row.spec) as unknown,
    leaseId: row.lease_id,
    agentName: row.agent_name,
    pool: row.pool,
    logSeq: row.log_seq,
    exitStatus: row.exit_status,
    error: row.error,
    createdAt: num(row.created_at),
    startedAt: numOrNull(row.started_at),
    endedAt: numOrNull(row.ended_at),
    result: row.result === null ? null : (JSON.parse(row.result) as unknown),
  };
}

/** Both forms of a log event: its payload in the `payload` column (since 0026) or inside `data`. */
export function toBuildEvent(row: Selectable<BuildEventsTable>): BuildEvent {
  const fields = {
    buildId: row.build_id,
    seq: row.seq,
    type: row.type,
    version: row.version,
    at: num(row.at),
  };
  return row.payload === null
    ? { ...fields, json: row.data }
    : eventWithPayload(fields, row.data, row.payload);
}

export function toAgent(row: Selectable<AgentsTable>): AgentRecord {
  return {
    name: row.name,
    cluster: row.cluster,
    version: row.version,
    pools: JSON.parse(row.pools) as AgentPoolRecord[],
    state: row.state as AgentRecord['state'],
    tokenId: row.token_id,
    connectedAt: numOrNull(row.connected_at),
    lastHeartbeatAt: numOrNull(row.last_heartbeat_at),
    sessionId: row.session_id,
    replicaUrl: row.replica_url,
  };
}
