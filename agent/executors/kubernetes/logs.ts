// Follows a container's log (pods/log?follow&timestamps) as one LogData per line, stamped with the
// kubelet's own timestamp. When the stream breaks before the container ended, it reconnects with
// sinceTime and skips what it already yielded, so every line comes exactly once. Yielding the same
// pieces on every read is what lets a reattached step replay its log in the same chunks.
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
}

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
export function splitLine(line: Buffer): { ts: [number, number]; text: Buffer } | undefined {
  const space = line.indexOf(0x20);
  if (space < 0) return undefined;
  const ts = parseTimestamp(line.subarray(0, space).toString('latin1'));
  return ts ? { ts, text: line.subarray(space + 1) } : undefined;
}

async function openLog(
  o: FollowOptions,
  sinceSeconds: number | undefined,
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
    const req = lib.request(url, { ...opts, method: 'GET' }, (res) =>
      resolve({ status: res.statusCode ?? 0, res }),
    );
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The container's whole log, following it until the container ended. Ends early when the pod is gone. */
export async function* followLog(o: FollowOptions): AsyncGenerator<LogData> {
  const retryMs = o.retryMs ?? 200;
  // Reconnects in a row back off (jittered, up to 10 s): an API server outage is not a request storm.
  let failures = 0;
  const pause = () =>
    sleep(retryMs + backoffMs(++failures, { attempts: Infinity, baseMs: retryMs, maxMs: 10_000 }));
  let last: [number, number] | undefined;
  // Lines already yielded that carry exactly `last` as their timestamp (the kubelet may stamp several
  // lines alike): that many are skipped at `last` after a reconnect.
  let atLast = 0;
  for (;;) {
    let cleanEnd: boolean;
    let seenAtLast = 0;
    try {
      const { status, res } = await openLog(o, last?.[0]);
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
        if (last) {
          const c = compare(parsed.ts, last);
          if (c < 0) return;
          if (c === 0 && seenAtLast < atLast) {
            seenAtLast++;
            return;
          }
        }
        if (last && compare(parsed.ts, last) === 0) atLast++;
        else {
          last = parsed.ts;
          atLast = 1;
        }
        seenAtLast = atLast;
        yield {
          stream: 'stdout',
          data: Buffer.from(parsed.text),
          at: parsed.ts[0] * 1000 + Math.floor(parsed.ts[1] / 1e6),
        };
      };
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
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
