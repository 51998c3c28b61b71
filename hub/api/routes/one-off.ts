// One-off builds (`outpost execute`): upload an input archive, create a build that runs one task on
// the uploads (and on the inputs of a job's latest build), and download the task's outputs after it.

import { z } from 'zod';
import type { Readable } from 'node:stream';
import { archiveProblem } from '../../artifacts/archive-check.js';
import type { TaskResult } from '../../engine/task-step.js';
import { latestInputsOf, type JobInputs } from '../../one-off/inputs-from.js';
import { oneOffPlan, type BoundInput } from '../../one-off/plan.js';
import { compileTaskConfig } from '../../pipeline/compile.js';
import { formatDiagnostic, hasErrors } from '../../pipeline/diagnostics.js';
import { formatPipelineRef, pipelineKey, type PipelineRef } from '../../pipeline/instance-vars.js';
import { parseTaskConfig } from '../../pipeline/task-config.js';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { id, name } from '../fields.js';
import { route, type Route } from '../route.js';
import type { BuildSummary, UploadedArtifact } from '../types.js';

const DIGEST = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" and 64 hex digits');

const createBody = z.strictObject({
  config: z.string().min(1),
  configPath: z.string().optional(),
  vars: z.record(z.string(), z.unknown()).optional(),
  inputs: z.array(z.strictObject({ name, digest: DIGEST })).optional(),
  inputsFrom: z
    .strictObject({ pipeline: name, instance_vars: z.record(z.string(), z.unknown()).optional(), job: name })
    .optional(),
  inputMappings: z.record(z.string(), name).optional(),
  image: name.optional(),
  privileged: z.boolean().optional(),
  tags: z.array(name).optional(),
  args: z.array(z.string()).optional(),
});

export function oneOffRoutes(ctx: ApiContext): Route[] {
  const { store, leader, artifacts } = ctx.deps;
  return [
    route({
      method: 'POST',
      url: '/teams/:team/artifacts',
      role: 'member',
      action: 'upload-artifact',
      params: z.object({ team: name }),
      handler: async ({ params }, req): Promise<UploadedArtifact> => {
        const team = await ctx.teamOf(params.team);
        if (!isStream(req.body))
          throw new HttpError(415, 'unsupported_media_type', 'send the archive as application/octet-stream');
        const length = Number(req.headers['content-length']);
        const ref = await artifacts.put(req.body, Number.isFinite(length) ? { size: length } : {});
        const stored = await artifacts.open(ref.digest);
        const problem = stored && (await archiveProblem(stored));
        // Refused, but not deleted: the same bytes may be a build's output (the GC removes strays).
        if (problem) throw new HttpError(400, 'bad_archive', problem);
        await store.oneOffs.recordUpload(team.id, ref.digest, Date.now());
        req.log.info({ team: team.name, digest: ref.digest, size: ref.size }, 'input archive uploaded');
        return ref;
      },
    }),

    route({
      method: 'POST',
      url: '/teams/:team/builds',
      role: 'member',
      action: 'execute',
      params: z.object({ team: name }),
      body: createBody,
      handler: async ({ params, body }, req, reply): Promise<BuildSummary> => {
        const team = await ctx.teamOf(params.team);
        const parsed = parseTaskConfig(body.config, body.configPath ?? 'task.yml', { vars: body.vars ?? {} });
        if (!parsed.config || hasErrors(parsed.diagnostics))
          throw new HttpError(
            400,
            'invalid_task_config',
            parsed.diagnostics.map(formatDiagnostic).join('\n'),
          );
        const uploads = body.inputs ?? [];
        const foreign = await store.oneOffs.notUploaded(
          team.id,
          uploads.map((u) => u.digest),
        );
        // Another team's digest is "not found", as its builds are: nothing about it leaks.
        if (foreign.length > 0) throw notFound(`uploaded archive ${foreign[0]}`);
        const uploaded: BoundInput[] = [];
        for (const u of uploads) {
          if (!(await artifacts.has(u.digest)))
            throw new HttpError(
              409,
              'artifact_gone',
              `uploaded archive ${u.digest} is no longer stored; upload it again`,
            );
          uploaded.push({ name: u.name, digest: u.digest, size: 0 });
        }
        const job = body.inputsFrom ? await jobInputs(ctx, team.name, body.inputsFrom) : undefined;
        // fly names the job's input (its get's name); a resource's name is taken too.
        const image =
          body.image === undefined
            ? undefined
            : (job?.inputs.find((i) => i.name === body.image) ?? job?.byResource.get(body.image));
        if (body.image !== undefined && !image)
          throw new HttpError(
            400,
            'bad_request',
            body.inputsFrom
              ? `image resource ${body.image} not found among the inputs of ${jobLabel(body.inputsFrom)}`
              : '--image needs --inputs-from (-j): it names a resource of that job',
          );
        const planned = oneOffPlan({
          config: compileTaskConfig(parsed.config, undefined),
          uploaded,
          fromJob: job?.inputs ?? [],
          inputMappings: body.inputMappings ?? {},
          image,
          privileged: body.privileged ?? false,
          tags: body.tags ?? [],
          args: body.args ?? [],
        });
        if ('errors' in planned) throw new HttpError(400, 'bad_inputs', planned.errors.join('; '));
        const at = Date.now();
        const hidden = await store.oneOffs.jobOf(team.id, at);
        const created = await store.createBuild({ jobId: hidden.id, plan: planned.plan, at, manual: true });
        // Referenced by the build from now on, so the GC keeps them while it exists.
        const digests = [...uploaded, ...(job?.inputs ?? [])].map((i) => i.digest);
        await store.addBuildArtifacts(created.id, digests);
        const build = await ctx.buildOf(created.id);
        leader.start(build);
        req.log.info({ team: team.name, buildId: build.id }, 'one-off build created');
        reply.code(201);
        return ctx.summary(build);
      },
    }),

    route({
      method: 'GET',
      url: '/builds/:id/outputs/:output',
      role: 'member',
      team: async ({ id }) => ({ team: (await ctx.buildOf(id)).teamName, what: `build ${id}` }),
      params: z.object({ id, output: name }),
      handler: async ({ params }, _req, reply) => {
        const build = await ctx.buildOf(params.id);
        if (!build.oneOff) throw notFound(`output "${params.output}" of build ${build.id}`);
        const outputs = (await store.listStepRuns(build.id)).flatMap(
          (run) => (run.result as TaskResult | null)?.outputs ?? [],
        );
        const output = outputs.find((o) => o.name === params.output);
        const stream = output && (await artifacts.open(output.digest));
        if (!stream) throw notFound(`output "${params.output}" of build ${build.id}`);
        return reply
          .header('content-type', 'application/x-tar')
          .header('content-length', String(output.size))
          .send(stream);
      },
    }),
  ];
}

type JobRef = NonNullable<z.infer<typeof createBody>['inputsFrom']>;

function pipelineRefOf(ref: JobRef): PipelineRef {
  return { name: ref.pipeline, ...(ref.instance_vars ? { instanceVars: ref.instance_vars } : {}) };
}

/** The job as fly names it: `PIPELINE/JOB`, an instance's pipeline as `name/key:value,...`. */
function jobLabel(ref: JobRef): string {
  return `${formatPipelineRef(pipelineRefOf(ref))}/${ref.job}`;
}

async function jobInputs(ctx: ApiContext, team: string, ref: JobRef): Promise<JobInputs> {
  const job = await ctx.jobOf(team, pipelineKey(pipelineRefOf(ref)), ref.job);
  const found = await latestInputsOf(ctx.store, ctx.deps.artifacts, job, jobLabel(ref));
  if (typeof found === 'string') throw new HttpError(409, 'no_inputs', found);
  return found;
}

function isStream(body: unknown): body is Readable {
  return typeof (body as Readable | undefined)?.pipe === 'function';
}
