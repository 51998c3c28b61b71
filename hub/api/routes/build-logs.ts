// A build's log for clients that do not follow the live stream from its start: its stored events in
// pages (forward from a seq, the newest, or from a line of a step, each with where every step's log stands
// at its start: see build-log-index.ts), the events other than log output, and the raw log text of the
// build or one step.

import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { BuildEvent } from '../../store/store.js';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { BuildLogIndexes, type BuildLogIndex } from '../build-log-index.js';
import { HttpError } from '../errors.js';
import { id, limit, name } from '../fields.js';
import { route, type Route } from '../route.js';
import { buildTeam } from './builds.js';

/** Stored event data a page carries at most (one event more can pass it): a log chunk is 64 KiB at most. */
const PAGE_BYTES = 4 * 1024 * 1024;
/** Events the raw log route reads from the store at a time. */
const READ_PAGE = 200;
/** Events a page reads from the store at first, doubling while the byte budget has room. */
const FIRST_READ = 8;

const seq = z
  .string()
  .regex(/^(0|[1-9]\d{0,14})$/, 'must be a whole number in decimal digits, like 42')
  .transform(Number);

const whole = (what: string) =>
  z
    .string()
    .regex(/^[1-9]\d{0,14}$/, `must be a whole number from 1, like ${what}`)
    .transform(Number);

interface LogData {
  origin?: { id?: string };
  payload?: string;
}

/**
 * Reads events into a page until `limit` events or `bytes` of event data: `read` returns the next events
 * (forward or backward) after the ones given, `[]` at the end. The budget applies once the page holds a
 * log event: a page of the newest events always shows log lines, however large the last chunk is in JSON.
 */
async function fill(
  read: (have: BuildEvent[], count: number) => Promise<BuildEvent[]>,
  limit: number,
  bytes: number,
): Promise<BuildEvent[]> {
  const page: BuildEvent[] = [];
  let used = 0;
  let hasLog = false;
  for (let count = FIRST_READ; page.length < limit; count *= 2) {
    const events = await read(page, Math.min(count, limit - page.length));
    for (const e of events) {
      if (hasLog && used + e.json.length > bytes) return page;
      used += e.json.length;
      hasLog ||= e.type === 'log';
      page.push(e);
    }
    if (events.length === 0) break;
  }
  return page;
}

export function buildLogRoutes(ctx: ApiContext): Route[] {
  const { store } = ctx.deps;
  const teamOfBuild = buildTeam(ctx);
  const indexes = new BuildLogIndexes(store);
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
        step: name.optional(),
        line: whole('120').optional(),
        log: z.enum(['true', 'false']).optional(),
        limit: limit(200),
        bytes: whole('262144')
          .transform((n) => Math.min(n, PAGE_BYTES))
          .default(PAGE_BYTES),
      }),
      handler: async ({ params, query }, _req, reply: FastifyReply) => {
        const build = await ctx.buildOf(params.id);
        if ((query.step === undefined) !== (query.line === undefined))
          throw new HttpError(
            400,
            'bad_request',
            'step and line go together: the page from line N of step ID',
          );
        let events: BuildEvent[];
        let index: BuildLogIndex | undefined;
        if (query.log === 'false') {
          events = await store.buildEvents.withoutLogs(build.id, query.after, query.limit);
        } else {
          index = await indexes.of(build.id);
          let after = query.after;
          if (query.step !== undefined && query.line !== undefined)
            after = (index.eventOfLine(query.step, query.line - 1) ?? index.lastEventOf(query.step) ?? 1) - 1;
          events =
            query.tail === 'true'
              ? (
                  await fill(
                    async (have, n) =>
                      (
                        await store.buildEvents.before(
                          build.id,
                          have.at(-1)?.seq ?? Number.MAX_SAFE_INTEGER,
                          n,
                        )
                      ).reverse(),
                    query.limit,
                    query.bytes,
                  )
                ).reverse()
              : await fill(
                  (have, n) => store.listBuildEvents(build.id, have.at(-1)?.seq ?? after, n),
                  query.limit,
                  query.bytes,
                );
        }
        // Stored JSON is spliced in as it is, as the event stream does: no parse and re-serialize.
        const body = events
          .map(
            (e) =>
              `{"seq":${e.seq},"event":${JSON.stringify(e.type)},"version":${JSON.stringify(e.version)},"data":${e.json}}`,
          )
          .join(',');
        const first = events[0];
        const last = events.at(-1);
        // Events stored after the index was brought up to date: their lines are counted too.
        if (index && last && last.seq > index.indexed) await index.update();
        const start =
          index && first
            ? `,"start":${JSON.stringify(index.startsAt(first.seq, last?.seq ?? first.seq))}`
            : '';
        return reply.type('application/json; charset=utf-8').send(`{"events":[${body}]${start}}`);
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
              // A payload kept as bytes (migration 0026) is not parsed out of the JSON.
              const data = JSON.parse(e.logPayload?.data ?? e.json) as LogData;
              // A log of no step is the hub's own note (why the build waits): not step output.
              if (data.origin?.id === undefined) continue;
              if (query.step === undefined || data.origin.id === query.step)
                out += e.logPayload?.bytes.toString('utf8') ?? data.payload ?? '';
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
