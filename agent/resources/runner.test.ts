// Steps (mostly resource steps) through the StepRunner, as the hub would send them: an Assign in, log chunks and a
// Finished (with resource_result_json) out, outputs uploaded through a fake artifact transfer.

import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Assign,
  type Finished,
  LeaseDecision,
  type LogChunk,
  LogStream,
  ResourceActionKind,
  StepStatus,
} from '../../proto/gen/outpost/v1/agent.js';
import { pack, unpack } from '../artifacts/archive.js';
import type { ArtifactTransfer } from '../artifacts/transfer.js';
import type { Executor } from '../executors/executor.js';
import { ProcessExecutor } from '../executors/process/index.js';
import { createAgentMetrics } from '../metrics.js';
import { StepRunner, type PoolRuntime } from '../runner.js';
import type { Outbox } from '../session/held-step.js';
import { TaskCaches } from '../task-caches.js';
import { BuiltinResourceExecutor } from './builtin-executor.js';
import { DEFAULT_SCRIPT_DIR } from './image-executor.js';

const NOW = new Date('2024-01-15T12:00:00Z');

let root: string;
let runner: StepRunner;
let outbox: FakeOutbox;
let uploads: { leaseId: string; name: string; file: string }[];
let artifacts: Map<string, string>;
let scripts: string;
let seq = 0;

class FakeOutbox implements Outbox {
  readonly logs: LogChunk[] = [];
  private readonly finished = new Map<string, Finished>();
  private readonly waiters = new Map<string, (f: Finished) => void>();
  private readonly logWaiters: (() => void)[] = [];

  readonly started: string[] = [];
  sendAccepted(): void {}
  sendStarted(leaseId: string): void {
    this.started.push(leaseId);
  }
  sendLog(chunk: LogChunk): boolean {
    this.logs.push(chunk);
    for (const wake of this.logWaiters.splice(0)) wake();
    return true;
  }
  sendFinished(finished: Finished): void {
    if (this.finished.has(finished.leaseId)) return;
    this.finished.set(finished.leaseId, finished);
    this.waiters.get(finished.leaseId)?.(finished);
  }
  reported(leaseId: string): boolean {
    return this.finished.has(leaseId);
  }
  result(leaseId: string): Promise<Finished> {
    const done = this.finished.get(leaseId);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => this.waiters.set(leaseId, resolve));
  }
  /** Resolves once `text` has appeared in the step's stderr. */
  stderrUntil(leaseId: string, text: string): Promise<void> {
    return this.until(leaseId, LogStream.LOG_STREAM_STDERR, text);
  }
  /** Resolves once `text` has appeared in the step's stdout. */
  stdoutUntil(leaseId: string, text: string): Promise<void> {
    return this.until(leaseId, LogStream.LOG_STREAM_STDOUT, text);
  }
  private async until(leaseId: string, stream: LogStream, text: string): Promise<void> {
    while (!this.text(leaseId, stream).includes(text)) {
      await new Promise<void>((resolve) => this.logWaiters.push(resolve));
    }
  }
  text(leaseId: string, stream: LogStream): string {
    const mine = this.logs.filter((c) => c.leaseId === leaseId && c.stream === stream);
    return Buffer.concat(mine.map((c) => c.data)).toString();
  }
}

beforeEach(async () => {
  root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'outpost-resources-runner-')));
  uploads = [];
  artifacts = new Map();
  const scratch = path.join(root, 'scratch');
  await mkdir(scratch);
  const transfer = {
    scratchDir: () => Promise.resolve(scratch),
    upload: (leaseId: string, name: string, archive: { file: string; size: number; sha256: string }) => {
      uploads.push({ leaseId, name, file: archive.file });
      return Promise.resolve({ digest: `sha256:${archive.sha256}`, size: archive.size });
    },
    fetch: (_leaseId: string, digest: string) => Promise.resolve(artifacts.get(digest) ?? '/nonexistent'),
  } as unknown as ArtifactTransfer;
  const proc = new ProcessExecutor({ workRoot: path.join(root, 'proc') });
  // Stands in for a pool that runs images: runs the wrapper as a host process, with the image's
  // /opt/resource swapped for a directory of test scripts.
  scripts = path.join(root, 'opt-resource');
  await mkdir(scripts);
  const images: Executor = {
    kind: 'fake-images',
    start: (step) =>
      proc.start({
        ...step,
        run: { ...step.run, args: step.run.args.map((a) => (a === DEFAULT_SCRIPT_DIR ? scripts : a)) },
      }),
  };
  const builtin = new BuiltinResourceExecutor({ workRoot: path.join(root, 'builtin'), now: () => NOW });
  const pools = new Map<string, PoolRuntime>([
    ['local', { name: 'local', capacity: 8, executor: proc, builtin }],
    ['cluster', { name: 'cluster', capacity: 8, executor: images, builtin }],
  ]);
  const log = pino({ level: 'silent' });
  runner = new StepRunner(
    pools,
    transfer,
    new TaskCaches(path.join(root, 'caches')),
    createAgentMetrics(),
    log,
  );
  outbox = new FakeOutbox();
});

afterEach(async () => {
  await runner.stop();
  await rm(root, { recursive: true, force: true });
});

interface ResourceSpec {
  pool?: string;
  kind: ResourceActionKind;
  type?: string;
  builtin?: boolean;
  source?: unknown;
  params?: unknown;
  version?: unknown;
  outputs?: { name: string; path: string }[];
  inputs?: { name: string; path: string; optional: boolean; artifactDigest: string }[];
  env?: Record<string, string>;
  redact?: string[];
  timeoutMs?: number;
}

function assignOf(spec: ResourceSpec): Assign {
  return Assign.fromPartial({
    leaseId: `lease-${++seq}`,
    spec: {
      pool: spec.pool ?? 'local',
      resource: {
        kind: spec.kind,
        type: spec.type ?? 'mock',
        builtin: spec.builtin ?? true,
        sourceJson: JSON.stringify(spec.source ?? {}),
        paramsJson: JSON.stringify(spec.params ?? {}),
        versionJson: spec.version === undefined ? '' : JSON.stringify(spec.version),
      },
      outputs: spec.outputs ?? [],
      inputs: spec.inputs ?? [],
      env: Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
      redact: spec.redact ?? [],
      timeoutMs: spec.timeoutMs ?? 0,
      ...(spec.builtin === false ? { image: { repository: 'example/resource', tag: 'latest' } } : {}),
    },
  });
}

/** Starts a step; returns its lease and a function that awaits its result (acknowledging it). */
function start(spec: ResourceSpec): { leaseId: string; finished: () => Promise<Finished> } {
  const assign = assignOf(spec);
  expect(runner.assign(assign, outbox, false)).toBeUndefined();
  return {
    leaseId: assign.leaseId,
    finished: async () => {
      const result = await outbox.result(assign.leaseId);
      runner.onFinishedAck(assign.leaseId);
      await runner.idle();
      return result;
    },
  };
}

async function run(spec: ResourceSpec) {
  const { leaseId, finished } = start(spec);
  const result = await finished();
  return {
    leaseId,
    result,
    stderr: outbox.text(leaseId, LogStream.LOG_STREAM_STDERR),
    uploads: uploads.filter((u) => u.leaseId === leaseId),
  };
}

/** Unpacks an uploaded archive; returns its directory. */
async function unpacked(file: string): Promise<string> {
  const dir = await mkdtemp(path.join(root, 'unpacked-'));
  await unpack(file, dir);
  return dir;
}

async function script(name: string, body: string): Promise<void> {
  await writeFile(path.join(scripts, name), `#!/bin/sh\n${body}\n`);
  await chmod(path.join(scripts, name), 0o755);
}

const { CHECK, GET, PUT } = {
  CHECK: ResourceActionKind.RESOURCE_ACTION_KIND_CHECK,
  GET: ResourceActionKind.RESOURCE_ACTION_KIND_GET,
  PUT: ResourceActionKind.RESOURCE_ACTION_KIND_PUT,
};

describe('built-in resource steps', () => {
  it('a mock get logs the fetch, uploads the destination and reports the response', async () => {
    const { leaseId, result, stderr, uploads } = await run({
      kind: GET,
      source: { create_files: { 'a.txt': 'hello' }, metadata: [{ name: 'm', value: 'v' }] },
      version: { version: 'v1' },
      outputs: [{ name: 'my-resource', path: 'my-resource' }],
    });
    expect(result).toMatchObject({ status: StepStatus.STEP_STATUS_SUCCEEDED, exitStatus: 0, error: '' });
    expect(JSON.parse(result.resourceResultJson)).toEqual({
      version: { version: 'v1' },
      metadata: [{ name: 'm', value: 'v' }],
    });
    expect(stderr).toBe('fetching version: v1\n');
    expect(result.outputs.map((o) => o.name)).toEqual(['my-resource']);
    const dest = await unpacked(uploads[0]!.file);
    expect(await readFile(path.join(dest, 'version'), 'utf8')).toBe('v1\n');
    expect(await readFile(path.join(dest, 'a.txt'), 'utf8')).toBe('hello');
    // Cleaned up once the hub acknowledged the result.
    expect(existsSync(path.join(root, 'builtin', leaseId))).toBe(false);
  });

  it('a mock check sees the step env and its log goes through the redactor', async () => {
    const { result, stderr } = await run({
      kind: CHECK,
      source: { log: 'token s3cret' },
      env: { MIRRORED_VERSION: 'from-the-type' },
      redact: ['s3cret'],
    });
    expect(result.status).toBe(StepStatus.STEP_STATUS_SUCCEEDED);
    expect(result.resourceResultJson).toBe('[{"version":"from-the-type"}]');
    expect(stderr).toBe('token ((redacted))\n');
  });

  it('a failing check fails the step with its message and no result', async () => {
    const { result, stderr } = await run({ kind: CHECK, source: { check_failure: 'super broken' } });
    expect(result).toMatchObject({
      status: StepStatus.STEP_STATUS_FAILED,
      exitStatus: 1,
      error: 'intentionally failing to check: super broken',
      resourceResultJson: '',
    });
    expect(stderr).toBe('intentionally failing to check: super broken\n');
  });

  it('an unknown source key fails with "invalid payload"', async () => {
    const { result } = await run({ kind: CHECK, source: { bogus: true } });
    expect(result.status).toBe(StepStatus.STEP_STATUS_FAILED);
    expect(result.error).toBe('invalid payload: unknown field "bogus" in source');
  });

  it('a mock put reads its version from an input placed at its path', async () => {
    const content = path.join(root, 'input-content');
    await mkdir(content);
    await writeFile(path.join(content, 'number'), 'from-input\n');
    const archive = await pack(content, path.join(root, 'input.tar'), 1 << 20);
    artifacts.set(`sha256:${archive.sha256}`, archive.file);
    const { result, stderr } = await run({
      kind: PUT,
      params: { file: 'built/number' },
      inputs: [{ name: 'built', path: 'built', optional: false, artifactDigest: `sha256:${archive.sha256}` }],
    });
    expect(stderr).toBe('pushing version: from-input\n');
    expect(JSON.parse(result.resourceResultJson)).toEqual({
      version: { version: 'from-input' },
      metadata: [],
    });
    expect(result.outputs).toEqual([]);
  });

  it('a time check runs on the agent clock', async () => {
    const { result } = await run({ kind: CHECK, type: 'time', source: { interval: '1h' } });
    expect(result.resourceResultJson).toBe('[{"time":"2024-01-15T12:00:00Z"}]');
  });

  it('an abort ends a check that is still waiting: aborted, "interrupted"', async () => {
    const { leaseId, finished } = start({ kind: CHECK, source: { check_delay: '1h' } });
    runner.abort(leaseId, 1_000, 'user asked');
    expect(await finished()).toMatchObject({ status: StepStatus.STEP_STATUS_ABORTED, error: 'interrupted' });
  });

  it('a timeout fails the step: "timeout exceeded"', async () => {
    const { result } = await run({ kind: CHECK, source: { check_delay: '1h' }, timeoutMs: 50 });
    expect(result).toMatchObject({
      status: StepStatus.STEP_STATUS_FAILED,
      error: 'timeout exceeded',
      resourceResultJson: '',
    });
  });

  it('runs on pools that run images too, inside the agent', async () => {
    const { result } = await run({ pool: 'cluster', kind: CHECK, source: { initial_version: 'v0' } });
    expect(result.resourceResultJson).toBe('[{"version":"v0"}]');
  });

  it('errors a type that is not built in', async () => {
    const { result } = await run({ kind: CHECK, type: 's3' });
    expect(result.status).toBe(StepStatus.STEP_STATUS_ERRORED);
    expect(result.error).toBe(
      'pool "local" does not run the built-in resource type "s3" (it runs git, mock, registry-image, semver, time)',
    );
  });
});

describe('resource types that run from an image', () => {
  it('cannot run on a pool of host processes', async () => {
    const { result } = await run({ kind: CHECK, type: 's3', builtin: false });
    expect(result).toMatchObject({
      status: StepStatus.STEP_STATUS_ERRORED,
      error:
        'resource type "s3" runs from an image; pool "local" runs host processes, which run only the built-in types (git, mock, registry-image, semver, time)',
    });
  });

  it('get runs /opt/resource/in with the request on stdin; only the destination is uploaded', async () => {
    await script(
      'in',
      [
        'cat > "$1/request-seen"',
        'echo "fetching into $(basename "$1")" >&2',
        'echo \'{"version":{"ref":"abc"},"metadata":[{"name":"author","value":"me"}]}\'',
      ].join('\n'),
    );
    const { result, stderr, uploads } = await run({
      pool: 'cluster',
      kind: GET,
      type: 'git',
      builtin: false,
      source: { uri: 'https://example.com/repo.git' },
      params: { depth: 1 },
      version: { ref: 'abc' },
      outputs: [{ name: 'repo', path: 'repo' }],
    });
    expect(result).toMatchObject({ status: StepStatus.STEP_STATUS_SUCCEEDED, error: '' });
    expect(JSON.parse(result.resourceResultJson)).toEqual({
      version: { ref: 'abc' },
      metadata: [{ name: 'author', value: 'me' }],
    });
    expect(stderr).toBe('fetching into repo\n');
    expect(uploads.map((u) => u.name)).toEqual(['repo']);
    const dest = await unpacked(uploads[0]!.file);
    expect(JSON.parse(await readFile(path.join(dest, 'request-seen'), 'utf8'))).toEqual({
      source: { uri: 'https://example.com/repo.git' },
      params: { depth: 1 },
      version: { ref: 'abc' },
    });
  });

  it('put runs /opt/resource/out in the directory holding the inputs', async () => {
    await script('out', 'cat > /dev/null\necho "{\\"version\\":{\\"ref\\":\\"$(cat "$1/built/ref")\\"}}"');
    const content = path.join(root, 'built');
    await mkdir(content);
    await writeFile(path.join(content, 'ref'), 'def');
    const archive = await pack(content, path.join(root, 'built.tar'), 1 << 20);
    artifacts.set(`sha256:${archive.sha256}`, archive.file);
    const { result, uploads } = await run({
      pool: 'cluster',
      kind: PUT,
      type: 'git',
      builtin: false,
      inputs: [{ name: 'built', path: 'built', optional: false, artifactDigest: `sha256:${archive.sha256}` }],
    });
    expect(result.status).toBe(StepStatus.STEP_STATUS_SUCCEEDED);
    expect(result.resourceResultJson).toBe('{"version":{"ref":"def"},"metadata":[]}');
    expect(uploads).toEqual([]);
  });

  it('errors a check whose response is not a list of versions', async () => {
    await script('check', 'cat > /dev/null\necho \'{"ref":"abc"}\'');
    const { result } = await run({ pool: 'cluster', kind: CHECK, type: 'git', builtin: false });
    expect(result).toMatchObject({
      status: StepStatus.STEP_STATUS_ERRORED,
      error: 'check response must be a list of versions, not an object',
      resourceResultJson: '',
    });
  });

  it('fails a check that exits non-zero, with its stderr as the log', async () => {
    await script('check', 'echo "cannot reach the repository" >&2\nexit 1');
    const { result, stderr } = await run({ pool: 'cluster', kind: CHECK, type: 'git', builtin: false });
    expect(result).toMatchObject({ status: StepStatus.STEP_STATUS_FAILED, exitStatus: 1 });
    expect(stderr).toBe('cannot reach the repository\n');
  });
  it('an abort stops the resource process: aborted, "interrupted"', async () => {
    await script('check', 'echo "checking slowly" >&2\nexec sleep 30');
    const { leaseId, finished } = start({ pool: 'cluster', kind: CHECK, type: 'git', builtin: false });
    await outbox.stderrUntil(leaseId, 'checking slowly');
    runner.abort(leaseId, 1_000, 'user asked');
    expect(await finished()).toMatchObject({
      status: StepStatus.STEP_STATUS_ABORTED,
      error: 'interrupted',
      resourceResultJson: '',
    });
  });

  it('says which script may be missing when the wrapper exits 127', async () => {
    const { result } = await run({ pool: 'cluster', kind: CHECK, type: 'git', builtin: false });
    expect(result).toMatchObject({
      status: StepStatus.STEP_STATUS_FAILED,
      exitStatus: 127,
      error: 'exit status 127: does the image of resource type "git" have /opt/resource/check?',
    });
  });
});

describe('after an agent restart', () => {
  it('a reattached get from an image reports its response and uploads only its destination', async () => {
    const go = path.join(root, 'go');
    await script(
      'in',
      [
        'echo "waiting for go" >&2',
        `while [ ! -e ${JSON.stringify(go)} ]; do sleep 0.05; done`,
        'echo fetched > "$1/file"',
        'echo "fetched" >&2',
        'echo \'{"version":{"ref":"abc"},"metadata":[{"name":"author","value":"me"}]}\'',
      ].join('\n'),
    );
    const { leaseId } = start({
      pool: 'cluster',
      kind: GET,
      type: 'git',
      builtin: false,
      source: { uri: 'https://example.com/repo.git' },
      version: { ref: 'abc' },
      outputs: [{ name: 'repo', path: 'repo' }],
    });
    await outbox.stderrUntil(leaseId, 'waiting for go');
    // The agent process "dies": its step runs on under its supervisor. A new process (a new runner
    // and process executor on the same work root) takes it back from held.json.
    await runner.stop();
    const held = JSON.parse(
      await readFile(path.join(root, 'proc', leaseId, 'state', 'held.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(held.resource).toEqual({ kind: 'get', type: 'git', responseOutput: '.outpost-resource-response' });
    expect(JSON.stringify(held)).not.toContain('example.com'); // never the request (the source)
    const uploads2: { leaseId: string; name: string; file: string }[] = [];
    const scratch2 = path.join(root, 'scratch2');
    await mkdir(scratch2);
    const transfer2 = {
      scratchDir: () => Promise.resolve(scratch2),
      upload: (lease: string, name: string, archive: { file: string; size: number; sha256: string }) => {
        uploads2.push({ leaseId: lease, name, file: archive.file });
        return Promise.resolve({ digest: `sha256:${archive.sha256}`, size: archive.size });
      },
    } as unknown as ArtifactTransfer;
    const proc2 = new ProcessExecutor({ workRoot: path.join(root, 'proc') });
    const runner2 = new StepRunner(
      new Map<string, PoolRuntime>([['cluster', { name: 'cluster', capacity: 8, executor: proc2 }]]),
      transfer2,
      new TaskCaches(path.join(root, 'caches2')),
      createAgentMetrics(),
      pino({ level: 'silent' }),
    );
    try {
      await runner2.recover();
      expect(runner2.heldSteps().map((h) => h.leaseId)).toEqual([leaseId]);
      const outbox2 = new FakeOutbox();
      runner2.attach(
        outbox2,
        [{ leaseId, decision: LeaseDecision.LEASE_DECISION_RESUME, ackedLogSeq: 0, reason: '' }],
        {
          maxLogChunkBytes: 64 * 1024,
          logWindowBytes: 4 * 1024 * 1024,
          maxArtifactBytes: 1024 * 1024 * 1024,
          leaseGraceMs: 120_000,
        },
      );
      await writeFile(go, '');
      const result = await outbox2.result(leaseId);
      expect(result).toMatchObject({ status: StepStatus.STEP_STATUS_SUCCEEDED, error: '' });
      expect(JSON.parse(result.resourceResultJson)).toEqual({
        version: { ref: 'abc' },
        metadata: [{ name: 'author', value: 'me' }],
      });
      // The log replays from the start (the hub drops what it has), once.
      expect(outbox2.text(leaseId, LogStream.LOG_STREAM_STDERR)).toBe('waiting for go\nfetched\n');
      expect(uploads2.map((u) => u.name)).toEqual(['repo']);
      const dest = await unpacked(uploads2[0]!.file);
      expect(await readFile(path.join(dest, 'file'), 'utf8')).toBe('fetched\n');
      // The stopped runner let go of the step when it stopped: it read, packed, uploaded and reported
      // nothing more of it (in CI its upload once raced the new agent's from the same pod).
      expect(outbox.text(leaseId, LogStream.LOG_STREAM_STDERR)).toBe('waiting for go\n');
      expect(outbox.reported(leaseId)).toBe(false);
      expect(uploads).toEqual([]);
      runner2.onFinishedAck(leaseId);
      await runner2.idle();
    } finally {
      await runner2.stop();
    }
  });
});

describe('agent shutdown (drain timeout)', () => {
  it('a step stopped because the agent shuts down is errored with the reason; an aborted one stays aborted', async () => {
    await script('check', 'echo "checking slowly" >&2\nexec sleep 30');
    const a = start({ pool: 'cluster', kind: CHECK, type: 'git', builtin: false });
    const b = start({ pool: 'cluster', kind: CHECK, type: 'git', builtin: false });
    await outbox.stderrUntil(a.leaseId, 'checking slowly');
    await outbox.stderrUntil(b.leaseId, 'checking slowly');
    runner.abort(b.leaseId, 1_000, 'user asked');
    const reason = 'agent edge-1 shut down before the step finished (drain timeout of 2s)';
    runner.abortAll(reason);
    const [ra, rb] = await Promise.all([outbox.result(a.leaseId), outbox.result(b.leaseId)]);
    expect(ra).toMatchObject({
      status: StepStatus.STEP_STATUS_ERRORED,
      error: reason,
      resourceResultJson: '',
      outputs: [],
    });
    expect(rb).toMatchObject({ status: StepStatus.STEP_STATUS_ABORTED, error: 'interrupted' });
    for (const lease of [a.leaseId, b.leaseId]) runner.onFinishedAck(lease);
    await runner.idle();
  });
});

describe('assignments', () => {
  it("starts a step assigned during the Welcome's sweep only once that sweep is over", async () => {
    // The sweep keeps the leases held when it began: a step that started meanwhile would look like a
    // leftover (a kubernetes agent deleted the pod of the first step it got after connecting).
    const proc = new ProcessExecutor({ workRoot: path.join(root, 'swept') });
    const order: string[] = [];
    let endSweep = () => {};
    const swept = new Promise<void>((resolve) => (endSweep = resolve));
    const recording: Executor = {
      kind: 'recording',
      start: (step) => {
        order.push('start');
        return proc.start(step);
      },
      sweep: async (keep) => {
        order.push('sweep');
        await swept;
        await proc.sweep(keep);
        order.push('swept');
      },
    };
    const fresh = new StepRunner(
      new Map<string, PoolRuntime>([['p', { name: 'p', capacity: 1, executor: recording }]]),
      { scratchDir: () => Promise.resolve(path.join(root, 'scratch')) } as unknown as ArtifactTransfer,
      new TaskCaches(path.join(root, 'caches3')),
      createAgentMetrics(),
      pino({ level: 'silent' }),
    );
    const out = new FakeOutbox();
    try {
      fresh.attach(out, [], {
        maxLogChunkBytes: 64 * 1024,
        logWindowBytes: 4 * 1024 * 1024,
        maxArtifactBytes: 1024 * 1024 * 1024,
        leaseGraceMs: 120_000,
      });
      const assign = Assign.fromPartial({
        leaseId: 'lease-during-sweep',
        spec: { pool: 'p', run: { path: 'sh', args: ['-c', 'echo ran'] } },
      });
      expect(fresh.assign(assign, out, false)).toBeUndefined();
      // A step without inputs reaches its executor within the microtasks after its assignment.
      await new Promise((resolve) => setImmediate(resolve));
      endSweep();
      const result = await out.result(assign.leaseId);
      expect(result).toMatchObject({ status: StepStatus.STEP_STATUS_SUCCEEDED, error: '' });
      expect(out.text(assign.leaseId, LogStream.LOG_STREAM_STDOUT)).toBe('ran\n');
      expect(order).toEqual(['sweep', 'swept', 'start']);
      fresh.onFinishedAck(assign.leaseId);
      await fresh.idle();
    } finally {
      endSweep();
      await fresh.stop();
    }
  });

  it('says Started again for a running step the hub resumes after a reconnect', async () => {
    // The hub may not have read the first Started before the connection broke; it emits the step's
    // start once whatever the agent repeats (test/integration/sessions.test.ts).
    const gate = path.join(root, 'gate');
    const fresh = new StepRunner(
      new Map<string, PoolRuntime>([
        [
          'p',
          { name: 'p', capacity: 1, executor: new ProcessExecutor({ workRoot: path.join(root, 'again') }) },
        ],
      ]),
      { scratchDir: () => Promise.resolve(path.join(root, 'scratch')) } as unknown as ArtifactTransfer,
      new TaskCaches(path.join(root, 'caches4')),
      createAgentMetrics(),
      pino({ level: 'silent' }),
    );
    const limits = {
      maxLogChunkBytes: 64 * 1024,
      logWindowBytes: 4 * 1024 * 1024,
      maxArtifactBytes: 1024 * 1024 * 1024,
      leaseGraceMs: 120_000,
    };
    const first = new FakeOutbox();
    const again = new FakeOutbox();
    try {
      fresh.attach(first, [], limits);
      const assign = Assign.fromPartial({
        leaseId: 'lease-again',
        spec: {
          pool: 'p',
          run: { path: 'sh', args: ['-c', `echo up; while [ ! -f ${gate} ]; do sleep 0.05; done`] },
        },
      });
      expect(fresh.assign(assign, first, false)).toBeUndefined();
      await first.stdoutUntil(assign.leaseId, 'up\n');
      expect(first.started).toEqual([assign.leaseId]);
      fresh.detach();
      fresh.attach(
        again,
        [
          {
            leaseId: assign.leaseId,
            decision: LeaseDecision.LEASE_DECISION_RESUME,
            ackedLogSeq: 0,
            reason: '',
          },
        ],
        limits,
      );
      expect(again.started).toEqual([assign.leaseId]);
      await writeFile(gate, '');
      expect(await again.result(assign.leaseId)).toMatchObject({ status: StepStatus.STEP_STATUS_SUCCEEDED });
      fresh.onFinishedAck(assign.leaseId);
      await fresh.idle();
    } finally {
      await writeFile(gate, '');
      await fresh.stop();
    }
  });

  it('refuses a step with neither run nor resource', () => {
    const assign = Assign.fromPartial({ leaseId: 'lease-empty', spec: { pool: 'local' } });
    expect(runner.assign(assign, outbox, false)).toBe('the step has neither run nor resource');
  });
});
