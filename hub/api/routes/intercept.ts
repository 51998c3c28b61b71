// `outpost intercept`: a command inside a running (or recently failed) step, its terminal carried over
// this one HTTP request. The request body and the response are newline-delimited JSON frames (see
// InterceptFrame in types.ts), relayed to and from the agent's Tunnel stream (hub/gateway/tunnels.ts).
// Replicas: a request reaching a replica other than the one holding the agent's stream is forwarded
// there (hub/replicas/forward.ts).

import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { StoredDispatchSpec } from '../../engine/dispatched-step.js';
import { forwardToReplica, wasForwarded } from '../../replicas/forward.js';
import type { BuildStatus, StepRun } from '../../store/store.js';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { id } from '../fields.js';
import { route, type Route } from '../route.js';
import type { InterceptClientFrame, InterceptServerFrame } from '../types.js';

const STEP_TYPES = ['task', 'get', 'put', 'check'] as const;

export function interceptRoutes(ctx: ApiContext): Route[] {
  const { store } = ctx.deps;
  return [
    route({
      method: 'POST',
      url: '/builds/:id/intercept',
      role: 'member',
      action: 'intercept',
      team: async ({ id }) => ({ team: (await ctx.buildOf(id)).teamName, what: `build ${id}` }),
      params: z.object({ id }),
      query: z.object({
        step: z.string().min(1).optional(),
        type: z.enum(STEP_TYPES).optional(),
        attempt: z.coerce.number().int().positive().optional(),
      }),
      handler: async ({ params, query }, req, reply) => {
        const build = await ctx.buildOf(params.id);
        const step = chooseStep(await store.listStepRuns(build.id), query, build);
        return interceptStep(ctx, step, req, reply);
      },
    }),
  ];
}

/**
 * Relays a terminal into `step` (running, or failed and kept by its agent) over this request: the
 * request's frames to the agent's Tunnel, the tunnel's output back as the response.
 */
export async function interceptStep(
  ctx: ApiContext,
  step: StepRun,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  if (!step.agentName || !step.leaseId) throw notFound(`a running or failed step of build ${step.buildId}`);
  // Replicas: only the replica holding the agent's stream can open its terminal.
  const owner = await ownerOf(ctx, step.agentName, req);
  if (owner) return forwardToReplica(req, reply, owner.url, owner.from);
  const body = req.body as Readable | undefined;
  if (typeof body?.pipe !== 'function')
    throw new HttpError(415, 'unsupported_media_type', 'send the frames as application/octet-stream');
  const lines = createInterface({ input: body, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const first = await lines.next();
  const start = first.done ? undefined : parseFrame(first.value)?.start;
  if (!start) throw new HttpError(400, 'bad_request', 'the first frame must be {"start": {...}}');
  const terminal = await ctx.deps.tunnels.open(step.agentName, {
    leaseId: step.leaseId,
    command: start.command ?? [],
    tty: start.tty === true,
    rows: start.rows ?? 24,
    cols: start.cols ?? 80,
  });
  if (typeof terminal === 'string') throw new HttpError(409, 'intercept_failed', terminal);
  req.log.info({ buildId: step.buildId, step: step.name, tty: start.tty === true }, 'intercept started');
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  const write = (frame: InterceptServerFrame) => out.write(JSON.stringify(frame) + '\n');
  out.on('close', () => terminal.close());
  void (async () => {
    for await (const line of { [Symbol.asyncIterator]: () => lines }) {
      const frame = parseFrame(line);
      if (frame?.stdin !== undefined) terminal.stdin(Buffer.from(frame.stdin, 'base64'));
      if (frame?.resize) terminal.resize(frame.resize.rows, frame.resize.cols);
      if (frame?.eof) terminal.closeStdin();
    }
  })().catch(() => terminal.close());
  for await (const frame of terminal.frames()) {
    if (frame.kind === 'exit') write(frame.error ? { error: frame.error } : { exit: frame.exitStatus });
    else write({ [frame.kind]: frame.data.toString('base64') });
  }
  out.end();
}

/**
 * The replica to forward an intercept to: the one the store says holds the agent's stream, when that is
 * not this one; undefined: serve it here (a single hub, the agent is here, or the request was forwarded
 * already and the agent moved meanwhile: the answer then says it is not connected).
 */
async function ownerOf(
  ctx: ApiContext,
  agentName: string,
  req: FastifyRequest,
): Promise<{ url: string; from: string } | undefined> {
  const here = ctx.deps.replicaUrl();
  if (here === undefined || ctx.deps.tunnels.reaches(agentName) || wasForwarded(req)) return undefined;
  const agent = await ctx.store.getAgent(agentName);
  if (agent?.state === 'disconnected' || !agent?.replicaUrl || agent.replicaUrl === here) return undefined;
  return { url: agent.replicaUrl, from: here };
}

/** A step run's type as intercept and containers name it. */
export function stepTypeOf(run: StepRun): (typeof STEP_TYPES)[number] {
  return (run.spec as StoredDispatchSpec).spec.resource?.kind ?? 'task';
}

/**
 * Whether a step of a build in `buildStatus` may still be on its agent to enter: a running one, a
 * failed one (its agent keeps it for its pool's keep_failed_steps_for), or a succeeded one of a build
 * that has not succeeded (kept until the build ends, then as long if it failed: see BuildEnded in
 * docs/protocol.md). Its agent says so when it no longer has it.
 */
export function mayBeEntered(run: StepRun, buildStatus: BuildStatus): boolean {
  if (run.status === 'running') return true;
  if (run.leaseId === null || run.agentName === null) return false;
  return run.status === 'failed' || (run.status === 'succeeded' && buildStatus !== 'succeeded');
}

/**
 * The one step to intercept, matching the filters, among those that may be entered (mayBeEntered);
 * else a message naming the choices.
 */
function chooseStep(
  runs: StepRun[],
  filter: { step?: string; type?: (typeof STEP_TYPES)[number]; attempt?: number },
  build: { id: number; status: BuildStatus },
): StepRun {
  const buildId = build.id;
  const candidates = runs.filter((r) => mayBeEntered(r, build.status));
  const matching = candidates.filter(
    (r) =>
      (filter.step === undefined || r.name === filter.step) &&
      (filter.type === undefined || stepTypeOf(r) === filter.type) &&
      (filter.attempt === undefined || r.planId.includes(`/attempt/${filter.attempt}`)),
  );
  const names = candidates.map((r) => `${r.name} (${stepTypeOf(r)}, ${r.status})`).join(', ');
  const [only, ...more] = matching;
  if (!only)
    throw notFound(
      candidates.length === 0
        ? `a running or failed step of build ${buildId}`
        : `a running or failed step matching that in build ${buildId} (there are: ${names})`,
    );
  if (more.length > 0) {
    // As fly lists containers to choose from: only the matching steps, with what tells them apart.
    const attemptOf = (r: StepRun) => /\/attempt\/(\d+)/.exec(r.planId)?.[1];
    const choices = matching.map((r) => {
      const attempt = attemptOf(r);
      return `  step: ${r.name}, type: ${stepTypeOf(r)}${attempt === undefined ? '' : `, attempt: ${attempt}`} (${r.status})`;
    });
    throw new HttpError(
      409,
      'several_steps',
      `several steps match; choose one with -s, --step-type or -a:\n${choices.join('\n')}`,
    );
  }
  return only;
}

function parseFrame(line: string): InterceptClientFrame | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
