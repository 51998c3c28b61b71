// Test helpers that observe the fake only through @kubernetes/client-node, as an executor would.
import {
  ApiException,
  CoreV1Api,
  Exec,
  Watch,
  type CoreV1Event,
  type KubeConfig,
  type V1Pod,
} from '@kubernetes/client-node';
import { readdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { Isolation } from './runtime.js';

/** Resolves with the first object a watch of `path` delivers that `done` accepts, or rejects on timeout. */
function watchUntil<T>(
  kc: KubeConfig,
  path: string,
  query: Record<string, string>,
  done: (object: T, type: string) => boolean,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let controller: AbortController | undefined;
    let settled = false;
    const finish = (err: Error | undefined, object?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      controller?.abort();
      if (err) reject(err);
      else resolve(object as T);
    };
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), timeoutMs);
    new Watch(kc)
      .watch(
        path,
        query,
        (type, object: T) => {
          if (done(object, type)) finish(undefined, object);
        },
        (err: unknown) => {
          if (!settled) finish(err instanceof Error ? err : new Error(`watch ended: ${String(err)}`));
        },
      )
      .then((c) => {
        controller = c;
        if (settled) c.abort();
      })
      .catch((err: unknown) => finish(err as Error));
  });
}

/** Resolves with the pod once `done(pod)` holds, watching (list state first, then changes). */
export function waitForPod(
  kc: KubeConfig,
  namespace: string,
  name: string,
  done: (pod: V1Pod, type: string) => boolean,
  timeoutMs = 20_000,
): Promise<V1Pod> {
  return watchUntil(
    kc,
    `/api/v1/namespaces/${namespace}/pods`,
    { fieldSelector: `metadata.name=${name}` },
    done,
    timeoutMs,
    `pod ${namespace}/${name}`,
  );
}

/** Resolves with the first core/v1 Event in `namespace` matching `done`. */
export function waitForEvent(
  kc: KubeConfig,
  namespace: string,
  done: (e: CoreV1Event) => boolean,
  timeoutMs = 20_000,
): Promise<CoreV1Event> {
  return watchUntil(
    kc,
    `/api/v1/namespaces/${namespace}/events`,
    {},
    (e: CoreV1Event) => done(e),
    timeoutMs,
    `an event in ${namespace}`,
  );
}

export const isPhase =
  (...phases: string[]) =>
  (pod: V1Pod): boolean =>
    phases.includes(pod.status?.phase ?? '');

/** The Status body of a failed client-node call. */
export async function apiError(p: Promise<unknown>): Promise<{
  code: number;
  status: {
    reason?: string;
    message?: string;
    details?: { causes?: Array<{ field?: string; reason?: string }> };
  };
}> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiException) {
      const body = typeof err.body === 'string' && err.body ? (JSON.parse(err.body) as object) : {};
      return { code: err.code, status: body };
    }
    throw err;
  }
  throw new Error('expected the API call to fail');
}

/** A Writable that collects text and can be awaited until it ends. */
export class Collect extends Writable {
  text = '';
  readonly ended: Promise<string>;
  constructor() {
    super();
    this.ended = new Promise((resolve) => this.on('finish', () => resolve(this.text)));
  }
  private readonly waiters: { needle: string; resolve: () => void }[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    for (const w of this.waiters.filter((w) => this.text.includes(w.needle))) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
    cb();
  }
  /** Resolves once the text collected so far contains `needle`. */
  until(needle: string): Promise<void> {
    if (this.text.includes(needle)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ needle, resolve }));
  }
}

export function core(kc: KubeConfig): CoreV1Api {
  return kc.makeApiClient(CoreV1Api);
}

/** PIDs of non-zombie processes in a process group (zombies await reaping by init and run nothing). */
export function liveProcessesInGroup(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      // exited while scanning
    }
  }
  return out;
}

/** `path` (an absolute path in a container) as a container's script reaches it under `isolation`. */
export const inContainer = (isolation: Isolation, path: string): string =>
  isolation === 'chroot' ? path : `$FAKE_KUBE_ROOT${path}`;

/** A container script's wait until go() creates `<dir>/go` (dir: a mounted volume's path). */
export const untilGo = (isolation: Isolation, dir: string): string =>
  `while [ ! -e ${inContainer(isolation, dir)}/go ]; do sleep 0.02; done`;

/** Lets a container waiting in untilGo(dir) go on: creates `<dir>/go` through pods/exec. */
export async function go(
  kc: KubeConfig,
  isolation: Isolation,
  where: { namespace: string; pod: string; container: string; dir: string },
): Promise<void> {
  const touch = ['sh', '-c', `touch ${inContainer(isolation, where.dir)}/go`];
  await new Promise((resolve, reject) => {
    new Exec(kc)
      .exec(where.namespace, where.pod, where.container, touch, new Collect(), null, null, false, resolve)
      .catch(reject);
  });
}
