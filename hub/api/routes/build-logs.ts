// A build's log for clients that do not follow the live stream from its start: its stored events in
// pages (oldest first from a seq, or the newest), and the raw log text of the build or one step.

import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { id, limit, name } from '../fields.js';
import { route, type Route } from '../route.js';
import { buildTeam } from './builds.js';

/** Stored event data a page carries at most (one event more can pass it): a log chunk is 64 KiB at most. */
const PAGE_BYTES = 4 * 1024 * 1024;
/** Events the raw log route reads from the store at a time. */
const READ_PAGE = 200;

const seq = z
  .string()
  .regex(/^(0|[1-9]\d{0,14})$/, 'must be a whole number in decimal digits, like 42')
  .transform(Number);

interface LogData {
  origin?: { id?: string };
  payload?: string;
}

export function buildLogRoutes(ctx: ApiContext): Route[] {
  const { store } = ctx.deps;
  const teamOfBuild = buildTeam(ctx);
  return [
    route({
      method: 'GET',
      url: '/builds/:id/events/page',
      role: 'viewer',
      team: teamOfBuild,
      params: z.object({ id }),
      query: z.object({
        after: seq.default(0),
        tail: z.enum(['true', 'false']).optional(),
        limit: limit(200),
      }),
      handler: async ({ params, query }, _req, reply: FastifyReply) => {
        const build = await ctx.buildOf(params.id);
        const events =
          query.tail === 'true'
            ? await store.buildEvents.tail(build.id, query.limit)
            : await store.listBuildEvents(build.id, query.after, query.limit);
        // Within the byte budget: from the start for a forward page, from the end for the tail.
        let bytes = 0;
        const fits = (json: string) => (bytes += json.length) <= PAGE_BYTES || bytes === json.length;
        const kept =
          query.tail === 'true'
            ? events
                .reverse()
                .filter((e) => fits(e.json))
                .reverse()
            : events.filter((e) => fits(e.json));
        // Stored JSON is spliced in as it is, as the event stream does: no parse and re-serialize.
        const body = kept
          .map(
            (e) =>
              `{"seq":${e.seq},"event":${JSON.stringify(e.type)},"version":${JSON.stringify(e.version)},"data":${e.json}}`,
          )
          .join(',');
        return reply.type('application/json; charset=utf-8').send(`{"events":[${body}]}`);
      },
    }),

    route({
      method: 'GET',
      url: '/builds/:id/log',
      role: 'viewer',
      team: teamOfBuild,
      params: z.object({ id }),
      query: z.object({ step: name.optional() }),
      handler: async ({ params, query }, _req, reply: FastifyReply) => {
        const build = await ctx.buildOf(params.id);
        // Read a page at a time as the client takes it: a 100 MiB log never sits in memory whole.
        async function* text() {
          for (let after = 0; ;) {
            const page = await store.listBuildEvents(build.id, after, READ_PAGE);
            if (page.length === 0) return;
            let out = '';
            for (const e of page) {
              after = e.seq;
              if (e.type !== 'log') continue;
              const data = JSON.parse(e.json) as LogData;
              if (query.step === undefined || data.origin?.id === query.step) out += data.payload ?? '';
            }
            if (out) yield out;
          }
        }
        const file = `${build.pipelineName}-${build.jobName}-${build.name}${query.step ? `-step-${query.step}` : ''}.log`;
        return reply
          .type('text/plain; charset=utf-8')
          .header('content-disposition', `attachment; filename="${file.replace(/[^\w.-]/g, '_')}"`)
          .send(Readable.from(text()));
      },
    }),
  ];
}
