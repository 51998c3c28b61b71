// What the hub checks and schedules, derived from a pipeline config: the plan of each resource's check
// build (its type chain first), a job's scheduling limits, and a job's inputs (its get steps). Pure.

import type { JobConfig, ParsedPipeline, ResourceTypeConfig } from './config.js';
import { parseDuration } from '../../common/duration.js';
import type { CheckPlan, GetPlan, PlanNode } from './plan.js';
import { planSteps } from './plan-walk.js';

/** Concourse's default `check_timeout`. */
export const DEFAULT_CHECK_TIMEOUT_MS = 3_600_000;

export interface CheckJob {
  /** What it checks: a resource, or a resource type (check-resource-type). */
  scope: 'resource' | 'type';
  name: string;
  plan: PlanNode;
}

/**
 * The custom types a type name goes through, the resource's own type first; stops at a base type.
 * `self`: the resource type whose chain this is, which never runs on itself (a type named like a base
 * type, `{name: mock, type: mock}`, runs on the base type it shadows).
 */
export function typeChain(
  pipeline: Pick<ParsedPipeline, 'resource_types'>,
  type: string,
  self?: string,
): ResourceTypeConfig[] {
  const chain: ResourceTypeConfig[] = [];
  let current = pipeline.resource_types.find((t) => t.name === type && t.name !== self);
  // A type named like a base type shadows it once; a cycle stops at the repeat.
  while (current && !chain.includes(current)) {
    chain.push(current);
    const next: string = current.type;
    current = pipeline.resource_types.find((t) => t.name === next && !chain.includes(t));
  }
  return chain;
}

function timeoutOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CHECK_TIMEOUT_MS;
  const parsed = parseDuration(text);
  return parsed.ok ? Math.ceil(parsed.ms) : DEFAULT_CHECK_TIMEOUT_MS;
}

/**
 * One check plan per resource and per resource type, each check holding the check of the type it runs
 * on (`check/type/...`).
 */
export function compileChecks(pipeline: ParsedPipeline): CheckJob[] {
  const targets = [
    ...pipeline.resources.map((r) => ({ scope: 'resource' as const, timeout: r.check_timeout, ...r })),
    ...pipeline.resource_types.map((t) => ({ scope: 'type' as const, timeout: undefined, ...t })),
  ];
  return targets.map((resource) => {
    // From the base-most custom type outwards, each wrapping the one before.
    let typeCheck: CheckPlan | undefined;
    const chain = typeChain(pipeline, resource.type, resource.scope === 'type' ? resource.name : undefined);
    [...chain].reverse().forEach((t, i) => {
      const inner = typeCheck;
      typeCheck = {
        id: `check${'/type'.repeat(chain.length - i)}`,
        kind: 'check',
        scope: 'type',
        name: t.name,
        type: t.type,
        source: t.source ?? {},
        tags: t.tags ?? [],
        timeoutMs: DEFAULT_CHECK_TIMEOUT_MS,
        ...(inner ? { typeCheck: inner } : {}),
      };
    });
    const plan: CheckPlan = {
      id: 'check',
      kind: 'check',
      scope: resource.scope,
      name: resource.name,
      type: resource.type,
      source: resource.source ?? {},
      tags: resource.tags ?? [],
      timeoutMs: timeoutOf(resource.timeout),
      ...(typeCheck ? { typeCheck } : {}),
    };
    return { scope: resource.scope, name: resource.name, plan };
  });
}

/** `serial`, `serial_groups` and `max_in_flight` as one limit (Concourse: a group implies serial). */
export function jobSchedule(job: JobConfig): { maxInFlight: number; serialGroups: string[] } {
  const serialGroups = job.serial_groups ?? [];
  const maxInFlight = job.max_in_flight ?? (job.serial === true || serialGroups.length > 0 ? 1 : 0);
  return { maxInFlight, serialGroups };
}

/** Every get step of a job's plan (hooks, parallel branches and retries included), once per name. */
export function jobInputs(plan: PlanNode): GetPlan[] {
  const found = new Map<string, GetPlan>();
  for (const step of planSteps(plan))
    if (step.kind === 'get' && !found.has(step.name)) found.set(step.name, step);
  return [...found.values()];
}
