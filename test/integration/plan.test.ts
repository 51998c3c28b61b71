// The build engine's semantics, through a real hub and agent: hooks, try, in_parallel, timeout,
// attempts, across, load_var, set_pipeline, vars and redaction, as Concourse defines them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  finalStatus,
  logText,
  openEventStream,
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';

let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;

beforeAll(async () => {
  hub = await startTestHub({ abortGraceMs: 2_000 });
  agent = await startTestAgent(hub, { pools: '  - name: local\n    platform: linux\n    capacity: 8' });
  await agent.welcomed;
});

afterAll(async () => {
  await agent.stop();
  await hub.close();
});

/** A task step (YAML, indented as a plan item) running `sh -c script`. */
function sh(name: string, script: string, extra = '', config = ''): string {
  return `- task: ${name}
${extra}  config:
    platform: linux
${config}    run: { path: sh, args: ['-c', ${JSON.stringify(script)}] }
`;
}

/** The same step as a map (for hooks and try), indented under its key. */
function hook(name: string, script: string): string {
  return indent(sh(name, script).replace(/^- /, '  '), 2);
}

function indent(yaml: string, by: number): string {
  return yaml
    .split('\n')
    .map((l) => (l ? ' '.repeat(by) + l : l))
    .join('\n');
}

async function run(
  name: string,
  plan: string,
  extraTop = '',
): Promise<Awaited<ReturnType<typeof readBuildEvents>>> {
  await setPipeline(hub, name, `${extraTop}jobs:\n- name: job\n  plan:\n${indent(plan, 2)}`);
  return readBuildEvents(hub, await triggerJob(hub, name, 'job'));
}

const errors = (events: Awaited<ReturnType<typeof readBuildEvents>>) =>
  events.filter((e) => e.event === 'error').map((e) => e.data.message);

describe('hooks and try', () => {
  it('runs on_failure and ensure after a failing step; the build fails', async () => {
    const events = await run(
      'hooks-fail',
      sh(
        'main',
        'echo main; exit 1',
        `  on_failure:\n${hook('failed', 'echo on_failure')}  ensure:\n${hook('ens', 'echo ensure')}`,
      ),
    );
    expect(logText(events)).toBe('main\non_failure\nensure\n');
    expect(finalStatus(events)).toBe('failed');
  });

  it('runs on_success only on success, and a failing on_success fails the step', async () => {
    const events = await run(
      'hooks-ok',
      sh('main', 'echo main', `  on_success:\n${hook('then', 'echo hook; exit 2')}`),
    );
    expect(logText(events)).toBe('main\nhook\n');
    expect(finalStatus(events)).toBe('failed');
  });

  it('try masks a failure and an error; the build goes on', async () => {
    const events = await run(
      'try',
      `- try:\n${hook('flaky', 'exit 1')}- try:\n    task: broken\n    config: { platform: linux, run: { path: /no/such/tool } }\n${sh('after', 'echo after')}`,
    );
    expect(logText(events)).toBe('after\n');
    expect(finalStatus(events)).toBe('succeeded');
  });

  it('runs on_abort and ensure when the build is aborted', async () => {
    await setPipeline(
      hub,
      'aborted',
      `jobs:\n- name: job\n  plan:\n${indent(sh('long', 'echo started; exec sleep 600', `  on_abort:\n${hook('ab', 'echo on_abort')}  ensure:\n${hook('ens', 'echo ensure')}`), 2)}`,
    );
    const id = await triggerJob(hub, 'aborted', 'job');
    const stream = await openEventStream(hub, id);
    await stream.until('started\\n');
    await hub.api('PUT', `/builds/${id}/abort`);
    await stream.rest();
    const events = await readBuildEvents(hub, id);
    expect(logText(events)).toBe('started\non_abort\nensure\n');
    expect(errors(events)).toContain('interrupted');
    expect(finalStatus(events)).toBe('aborted');
  });
});

describe('in_parallel, timeout, attempts, across', () => {
  it('fail_fast interrupts the other branches', async () => {
    const events = await run(
      'parallel',
      `- in_parallel:\n    fail_fast: true\n    steps:\n${indent(sh('slow', 'echo slow; exec sleep 600'), 4)}${indent(sh('fails', 'sleep 0.3; echo failing; exit 1'), 4)}`,
    );
    expect(errors(events)).toContain('interrupted');
    expect(finalStatus(events)).toBe('failed');
  });

  it('limits how many branches run at once', async () => {
    // Each branch records whether another was running when it started.
    const dir = `${agent.dir}/par`;
    const branch = (n: number) =>
      sh(
        `b${n}`,
        `mkdir -p ${dir}; if ls ${dir}/running-* >/dev/null 2>&1; then echo overlap; fi; touch ${dir}/running-${n}; sleep 0.2; rm ${dir}/running-${n}; echo b${n}`,
      );
    const events = await run(
      'limited',
      `- in_parallel:\n    limit: 1\n    steps:\n${indent(branch(1) + branch(2) + branch(3), 4)}`,
    );
    expect(logText(events)).toBe('b1\nb2\nb3\n');
    expect(finalStatus(events)).toBe('succeeded');
  });

  it('fails a step that exceeds its timeout with "timeout exceeded", and runs on_failure', async () => {
    const events = await run(
      'timeout',
      sh(
        'slow',
        'echo begun; exec sleep 600',
        `  timeout: 1s\n  on_failure:\n${hook('hook', 'echo timed out')}`,
      ),
    );
    expect(errors(events)).toContain('timeout exceeded');
    expect(logText(events)).toBe('begun\ntimed out\n');
    expect(finalStatus(events)).toBe('failed');
  });

  it('retries a failing step up to its attempts', async () => {
    const counter = `${agent.dir}/attempts`;
    const events = await run(
      'attempts',
      sh(
        'flaky',
        `echo x >> ${counter}; n=$(wc -l < ${counter}); echo "attempt $n"; [ "$n" -ge 3 ]`,
        '  attempts: 5\n',
      ),
    );
    expect(logText(events)).toBe('attempt 1\nattempt 2\nattempt 3\n');
    expect(events.filter((e) => e.event === 'initialize-task')).toHaveLength(3);
    expect(finalStatus(events)).toBe('succeeded');
  });

  it('runs a step once per across value, with the value as a local var', async () => {
    const events = await run(
      'across',
      `- task: each\n  across:\n  - var: name\n    values: [alpha, beta, gamma]\n    max_in_flight: all\n  config:\n    platform: linux\n    run: { path: echo, args: ['hello ((.:name))'] }\n`,
    );
    expect(logText(events).split('\n').filter(Boolean).sort()).toEqual([
      'hello alpha',
      'hello beta',
      'hello gamma',
    ]);
    expect(finalStatus(events)).toBe('succeeded');
  });
});

describe('task caches', () => {
  it('keeps a cache directory between builds of the same job step on an agent', async () => {
    const step = `- task: cached
  config:
    platform: linux
    caches: [{ path: deps/cache }]
    run: { path: sh, args: ['-c', 'cat deps/cache/seen 2>/dev/null || echo first; echo again > deps/cache/seen'] }
`;
    await setPipeline(hub, 'caches', `jobs:\n- name: job\n  plan:\n${indent(step, 2)}`);
    const first = await readBuildEvents(hub, await triggerJob(hub, 'caches', 'job'));
    const second = await readBuildEvents(hub, await triggerJob(hub, 'caches', 'job'));
    expect(logText(first)).toBe('first\n');
    expect(logText(second)).toBe('again\n');
  });
});

describe('vars, load_var and set_pipeline', () => {
  it('errors a step whose var cannot be resolved when it runs', async () => {
    const events = await run('undefined-var', sh('t', 'echo $X', '  params: { X: ((nowhere)) }\n'));
    expect(errors(events)).toEqual([
      'undefined vars: nowhere\n  give nowhere when setting the pipeline: -v nowhere=VALUE (or -y nowhere=YAML, or -l FILE with a "nowhere:" key)',
    ]);
    expect(finalStatus(events)).toBe('errored');
  });

  it('resolves var_sources at run time and redacts their values', async () => {
    const events = await run(
      'dummy-source',
      sh('t', 'echo "the password is $PASSWORD"', '  params: { PASSWORD: ((vault:db.password)) }\n'),
      'var_sources:\n- name: vault\n  type: dummy\n  config:\n    vars:\n      db: { password: hunter2 }\n',
    );
    expect(logText(events)).toBe('the password is ((redacted))\n');
    expect(finalStatus(events)).toBe('succeeded');
  });

  describe('a kubernetes var source', () => {
    const source = 'var_sources:\n- name: cluster-secrets\n  type: kubernetes\n  config: {}\n';

    it('is passed to the agent as a reference, never resolved or stored as a value by the hub', async () => {
      await setPipeline(
        hub,
        'cluster-ref',
        `${source}jobs:\n- name: job\n  plan:\n${indent(sh('t', 'echo "[$PGPASSWORD]"', '', '    params: { PGPASSWORD: ((cluster-secrets:db-credentials.password)), PGHOST: postgres.db.svc.cluster.local }\n'), 2)}`,
      );
      const build = await triggerJob(hub, 'cluster-ref', 'job');
      const events = await readBuildEvents(hub, build);
      // This agent's pool runs host processes: it has no cluster to read the Secret from.
      expect(errors(events)).toEqual(['var source "cluster-secrets" (kubernetes) needs a kubernetes pool']);
      expect(finalStatus(events)).toBe('errored');
      const [step] = await hub.store.listStepRuns(build);
      const stored = step?.spec as { spec: { env: Record<string, string>; secretEnv: unknown } };
      expect(stored.spec.env).toEqual({ PGHOST: 'postgres.db.svc.cluster.local' });
      expect(stored.spec.secretEnv).toEqual([
        { name: 'PGPASSWORD', source: 'cluster-secrets', secret: 'db-credentials', key: 'password' },
      ]);
      // No event carries anything but the reference's parts.
      for (const e of events) expect(JSON.stringify(e.data)).not.toContain('PGPASSWORD=');
    });

    it('errors when used inside a longer string or outside task params', async () => {
      const inline = await run(
        'cluster-inline',
        sh(
          't',
          'echo "$URL"',
          '',
          '    params: { URL: "postgres://ci:((cluster-secrets:db-credentials.password))@db" }\n',
        ),
        source,
      );
      expect(errors(inline)).toEqual([
        'var "cluster-secrets:db-credentials.password": var source "cluster-secrets" (kubernetes) is read by the agent into an env var (secretKeyRef), so it can only be the whole value of a task param, not part of a longer string or another field',
      ]);
      expect(finalStatus(inline)).toBe('errored');
      const args = await run(
        'cluster-args',
        `- task: t\n  config:\n    platform: linux\n    run: { path: echo, args: ['((cluster-secrets:db-credentials.password))'] }\n`,
        source,
      );
      expect(errors(args)[0]).toMatch(/can only be the whole value of a task param/);
      const noKey = await run(
        'cluster-nokey',
        sh('t', 'true', '', '    params: { P: ((cluster-secrets:db-credentials)) }\n'),
        source,
      );
      expect(errors(noKey)).toEqual([
        'param P: var "cluster-secrets:db-credentials": a kubernetes var source is read as ((cluster-secrets:SECRET.KEY)) (one Secret, one key)',
      ]);
    });
  });

  it('loads a var from a file, redacted unless revealed, and uses it in later steps', async () => {
    const events = await run(
      'load-var',
      `${sh('make', 'echo \'{"token":"s3cret-value"}\' > out/creds.json; echo \'{"name":"visible"}\' > out/plain.json', '', '    outputs: [{ name: out }]\n')}- load_var: creds\n  file: out/creds.json\n- load_var: plain\n  file: out/plain.json\n  reveal: true\n- task: use\n  config:\n    platform: linux\n    run: { path: echo, args: ['((.:creds.token))', '((.:plain.name))'] }\n`,
    );
    expect(logText(events)).toBe('((redacted)) visible\n');
    const started = events.filter((e) => e.event === 'start-task').at(-1)?.data as {
      config: { run: { args: string[] } };
    };
    expect(started.config.run.args).toEqual(['((redacted))', 'visible']);
    expect(finalStatus(events)).toBe('succeeded');
  });

  // The files below are written with printf octal escapes for "((" and "))": a literal var in the
  // writing task's own script would be resolved (and missing) when that task runs.
  it('reads a task config from a file in an artifact', async () => {
    const taskFile =
      'platform: linux\\nparams: { WHO: file }\\nrun: { path: sh, args: [-c, \\"echo from \\$WHO config \\050\\050greeting\\051\\051\\"] }\\n';
    const events = await run(
      'task-file',
      `${sh('write', `printf "${taskFile}" > ci/task.yml`, '', '    outputs: [{ name: ci }]\n')}- task: from-file\n  file: ci/task.yml\n  vars: { greeting: hi }\n`,
    );
    expect(errors(events)).toEqual([]);
    expect(logText(events)).toBe('from file config hi\n');
    expect(finalStatus(events)).toBe('succeeded');
  });

  it('sets another pipeline from a file with vars', async () => {
    const child =
      'jobs:\\n- name: \\050\\050job_name\\051\\051\\n  plan:\\n  - task: t\\n    config: { platform: linux, run: { path: \\"true\\" } }\\n';
    const events = await run(
      'parent',
      `${sh('write', `printf "${child}" > ci/child.yml`, '', '    outputs: [{ name: ci }]\n')}- set_pipeline: child-pipeline\n  file: ci/child.yml\n  vars: { job_name: generated }\n`,
    );
    expect(errors(events)).toEqual([]);
    expect(logText(events)).toContain('setting pipeline: child-pipeline');
    expect(finalStatus(events)).toBe('succeeded');
    const jobs = await hub.api<{ name: string }[]>('GET', '/teams/main/pipelines/child-pipeline/jobs');
    expect(jobs.body.map((j) => j.name)).toEqual(['generated']);
  });
});
