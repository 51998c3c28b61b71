// Task caches on a Kubernetes pool against the fake cluster: the agent keeps them (TaskCaches, as on
// process pools) and sends them in and back over the pool's data path.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskCaches } from '../../task-caches.js';
import type { StepContext } from '../executor.js';
import { startDataFixture, type DataFixture } from './data-path.test-fixtures.js';
import type { KubernetesExecutor } from './executor.js';

let fx: DataFixture;

beforeAll(async () => {
  fx = await startDataFixture();
});
afterAll(() => fx.close());

function contextOf(job: string, generation = 0): StepContext {
  return {
    team: 'main',
    pipeline: 'app',
    job,
    buildName: '1',
    buildId: 1,
    stepName: 'build',
    stepRunId: 1,
    cacheGeneration: generation,
  };
}

/** One build of the job's step: runs `script` with cache path `cache`, then gives the cache back. */
async function build(
  ex: KubernetesExecutor,
  caches: TaskCaches,
  context: StepContext,
  script: string,
): Promise<string> {
  const acquired = caches.acquire(context, ['cache']);
  const step = await ex.start({
    leaseId: `lease-${Math.random().toString(36).slice(2, 10)}`,
    run: { path: 'sh', args: ['-c', script], dir: '', user: '' },
    env: {},
    inputs: [],
    outputs: [],
    caches: acquired.caches,
    timeoutMs: 0,
    privileged: false,
    context,
  });
  let log = '';
  for await (const piece of step.logs()) log += piece.data.toString();
  expect(await step.wait()).toMatchObject({ status: 'succeeded' });
  await step.collectOutputs(fx.dir, 1e9);
  await step.cleanup();
  await acquired.release();
  return log;
}

const READ = 'cat cache/f 2>/dev/null || echo cold; echo "$1" >> cache/f';

describe.each(['agent', 'api'] as const)('task caches on data_path: %s', (dataPath) => {
  it("the next build of the job sees the last one's cache; another job's starts cold", async () => {
    const ex = fx.executor(`agent-${dataPath}`, { dataPath });
    const caches = new TaskCaches(path.join(fx.dir, `caches-${dataPath}`));
    expect(await build(ex, caches, contextOf('unit'), READ.replace('$1', 'first'))).toBe('cold\n');
    expect(await build(ex, caches, contextOf('unit'), READ.replace('$1', 'second'))).toBe('first\n');
    // Caches are per team, pipeline, job and step.
    expect(await build(ex, caches, contextOf('lint'), READ.replace('$1', 'x'))).toBe('cold\n');
  });

  it('after clear-task-cache (the next generation) the build starts cold, then keeps its own', async () => {
    const ex = fx.executor(`agent-${dataPath}`, { dataPath });
    const caches = new TaskCaches(path.join(fx.dir, `caches-clear-${dataPath}`));
    await build(ex, caches, contextOf('unit'), READ.replace('$1', 'first'));
    expect(await build(ex, caches, contextOf('unit', 1), READ.replace('$1', 'third'))).toBe('cold\n');
    expect(await build(ex, caches, contextOf('unit', 1), READ.replace('$1', 'fourth'))).toBe('third\n');
  });
});

describe('the task cache bound', () => {
  it('evicts the least recently used cache once the kept ones outgrow it', async () => {
    const ex = fx.executor('agent-bound', { dataPath: 'agent' });
    // Room for one 300 kB cache (its tar) but not two.
    const caches = new TaskCaches(path.join(fx.dir, 'caches-bound'), 500_000);
    const fill = 'cat cache/f 2>/dev/null | head -c 4 || true; echo; head -c 300000 /dev/zero > cache/f';
    expect(await build(ex, caches, contextOf('a'), fill)).toBe('\n');
    expect(await build(ex, caches, contextOf('b'), fill)).toBe('\n');
    // Both did not fit: a's, the least recently used, went; b's stayed.
    expect(await build(ex, caches, contextOf('b'), fill)).toBe('\0\0\0\0\n');
    expect(await build(ex, caches, contextOf('a'), fill)).toBe('\n');
  });
});
