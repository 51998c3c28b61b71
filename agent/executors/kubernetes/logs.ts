// Follows a container's log (pods/log?follow&timestamps) as one LogData per line, stamped with the
// kubelet's own timestamp. When the stream breaks, or stays silent for `idleMs` (a half-open connection
// never breaks), it reconnects with sinceTime and skips what it already yielded, so every line comes
// exactly once. Each line carries its position (timestamp + how many lines carried that timestamp), from
// which a follow can start again: the kubelet rotates a container's log file (10 MiB by default), so
// "from the start" soon no longer exists, but "after this line" does while the pod lives.
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { LogData } from '../executor.js';
import { backoffMs } from './retry.js';

export interface FollowOptions {
  kc: KubeConfig;
  namespace: string;
  pod: string;
  container: string;
  /** True once the container has terminated or the pod is gone: a clean end of the stream is final. */
  finished(): boolean;
  /** Reconnect delay; default 200 ms. */
  retryMs?: number;
  /**
   * A stream with no data for this long is re-opened (from the last line): the kubelet sends no
   * keepalives, so silence is the only sign of a half-open connection. Default 60 s.
   */
  idleMs?: number;
  /** Start after this position (a LogData's `position`); absent: from the start of the log. */
  after?: string;
}

/** Stands in the log where lines the kubelet rotated away before they were read are missing. */
export const ROTATED =
  '[outpost] the kubelet rotated this log before the agent read it all: lines are missing here\n';

/** TCP keepalive probes on the follow connection start after this much silence. */
const KEEPALIVE_MS = 15_000;

/** An RFC3339(Nano) timestamp as [seconds, nanoseconds], comparable. */
export function parseTimestamp(ts: string): [number, number] | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1] ?? ''}${m[3] ?? ''}`) / 1000;
  if (Number.isNaN(seconds)) return undefined;
  return [seconds, Number((m[2] ?? '').padEnd(9, '0'))];
}

function compare(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

/** Splits "TIMESTAMP content" as the API writes it with timestamps=true. */
export function splitLine(line: Buffer): { ts: [number, number]; stamp: string; text: Buffer } | undefined {
  const space = line.indexOf(0x20);
  if (space < 0) return undefined;
  const stamp = line.subarray(0, space).toString('latin1');
  const ts = parseTimestamp(stamp);
  return ts ? { ts, stamp, text: line.subarray(space + 1) } : undefined;
}

/**
 * Where a follow stands: the last line's timestamp, and how many lines yielded so far carry exactly it
 * (the kubelet may stamp several lines alike), as "<RFC3339Nano> <count>".
 */
interface Position {
  ts: [number, number];
  stamp: string;
  count: number;
}

const formatPosition = (p: Position): string => `${p.stamp} ${p.count}`;

/** A LogData position back; undefined when it is not one. */
export function parsePosition(text: string): Position | undefined {
  const [stamp = '', count = ''] = text.split(' ');
  const ts = parseTimestamp(stamp);
  return ts && /^[1-9]\d*$/.test(count) ? { ts, stamp, count: Number(count) } : undefined;
}

async function openLog(
  o: FollowOptions,
  sinceSeconds: number | undefined,
  idleMs: number,
): Promise<{ status: number; res: IncomingMessage }> {
  const cluster = o.kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(
    `${cluster.server.replace(/\/$/, '')}/api/v1/namespaces/${o.namespace}/pods/${o.pod}/log`,
  );
  url.searchParams.set('container', o.container);
  url.searchParams.set('follow', 'true');
  url.searchParams.set('timestamps', 'true');
  // Whole seconds: some API servers drop the fraction; lines before our position are skipped anyway.
  if (sinceSeconds !== undefined)
    url.searchParams.set('sinceTime', new Date(sinceSeconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z'));
  const opts: https.RequestOptions = {};
  await o.kc.applyToHTTPSOptions(opts);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { ...opts, method: 'GET' }, (res) => {
      req.setTimeout(0); // from here on, untilIdle watches the stream
      resolve({ status: res.statusCode ?? 0, res });
    });
    req.on('socket', (socket) => socket.setKeepAlive(true, KEEPALIVE_MS));
    req.on('error', reject);
    // No answer at all is the same silence as a stalled stream.
    req.setTimeout(idleMs, () => req.destroy(new Error(`no answer within ${idleMs} ms`)));
    req.end();
  });
}

/** The chunks of `res`, ending it (an error) when none comes for `idleMs`. */
async function* untilIdle(res: IncomingMessage, idleMs: number): AsyncGenerator<Buffer> {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => res.destroy(new Error(`log stream silent for ${idleMs} ms`)), idleMs);
  };
  try {
    arm();
    for await (const chunk of res as AsyncIterable<Buffer>) {
      arm();
      yield chunk;
    }
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The container's log from the start (or after `o.after`), following it until the container ended.
 * Ends early when the pod is gone.
 */
export async function* followLog(o: FollowOptions): AsyncGenerator<LogData> {
  const retryMs = o.retryMs ?? 200;
  const idleMs = o.idleMs ?? 60_000;
  // Reconnects in a row back off (jittered, up to 10 s): an API server outage is not a request storm.
  let failures = 0;
  const pause = () =>
    sleep(retryMs + backoffMs(++failures, { attempts: Infinity, baseMs: retryMs, maxMs: 10_000 }));
  let last: Position | undefined = o.after === undefined ? undefined : parsePosition(o.after);
  for (;;) {
    let cleanEnd: boolean;
    // Lines at exactly `last.ts` seen on this connection: the first `last.count` were yielded before.
    let seenAtLast = 0;
    // This connection served the line at `last` again, so nothing between it and the next line is lost.
    let joined = last === undefined;
    try {
      // Whole seconds: the API server passes sinceTime on without its fraction; earlier lines are skipped.
      const { status, res } = await openLog(o, last?.ts[0], idleMs);
      if (status === 200) failures = 0;
      else {
        res.resume();
        // 404: the pod is gone; 400: not started yet or already removed. Either way ask again later
        // unless the step is over.
        if (o.finished()) return;
        await pause();
        continue;
      }
      let rest: Buffer = Buffer.alloc(0);
      const take = function* (line: Buffer): Generator<LogData> {
        const parsed = splitLine(line);
        if (!parsed) return;
        const c = last ? compare(parsed.ts, last.ts) : 1;
        if (c < 0) return;
        if (c === 0 && last && seenAtLast < last.count) {
          if (++seenAtLast === last.count) joined = true;
          return;
        }
        if (!joined) {
          // The kubelet rotated the log file past our position while nobody read it: say so in the log.
          joined = true;
          yield { stream: 'stdout', data: Buffer.from(ROTATED), at: Date.now(), gap: true };
        }
        if (c === 0 && last) last = { ...last, count: last.count + 1 };
        else last = { ts: parsed.ts, stamp: parsed.stamp, count: 1 };
        seenAtLast = last.count;
        yield {
          stream: 'stdout',
          data: Buffer.from(parsed.text),
          at: parsed.ts[0] * 1000 + Math.floor(parsed.ts[1] / 1e6),
          position: formatPosition(last),
        };
      };
      try {
        for await (const chunk of untilIdle(res, idleMs)) {
          let buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
          for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
            yield* take(buf.subarray(0, nl + 1));
            buf = buf.subarray(nl + 1);
          }
          rest = Buffer.from(buf);
        }
        cleanEnd = res.complete;
      } catch {
        cleanEnd = false;
      }
      // A last line without a newline is whole only when the stream ended because the container did.
      if (cleanEnd && rest.length > 0 && o.finished()) yield* take(rest);
      else if (rest.length > 0) cleanEnd = false;
    } catch {
      cleanEnd = false;
    }
    if (cleanEnd && o.finished()) return;
    await pause();
    if (!cleanEnd && o.finished()) {
      // One more read picks up what a broken stream cut off; then the loop ends on its clean end.
      continue;
    }
  }
}
