// `--replicas`: parses the option, runs bench/replicas.ts once per replica count, and turns the results
// into table rows and JSON keys labelled with the store and the replica count.

import { fmt, ratio, type Row, type Summary } from './stats.js';
import { measureReplicas, type ReplicasResult } from './replicas.js';
import { postgresMissing, STORE_LABELS } from './support.js';

export type { ReplicasResult };

const DEFAULT_BUILDS = 1_000;

/** bench/main.ts's runner: a failure is reported and the run goes on. */
type Step = <T>(name: string, measure: () => Promise<T>) => Promise<T | undefined>;

/** Runs every replica count of `list` ("1,3"); `error` says why some or all could not run. */
export async function runReplicas(
  list: string,
  buildsText: string | undefined,
  step: Step,
): Promise<{ results: ReplicasResult[]; error?: string }> {
  const counts = list.split(',').map(Number);
  if (list === '' || counts.some((n) => !Number.isSafeInteger(n) || n < 1 || n > 9))
    return { results: [], error: `not a list of replica counts from 1 to 9: "${list}"` };
  const builds = Number(buildsText ?? DEFAULT_BUILDS);
  if (!Number.isSafeInteger(builds) || builds < 1)
    return { results: [], error: `--replica-builds: not a positive count: ${buildsText}` };
  const missing = postgresMissing();
  if (missing) return { results: [], error: `cannot run: ${missing}` };
  const results: ReplicasResult[] = [];
  for (const n of counts) {
    const result = await step(`(j) ${n} hub replica(s) on PostgreSQL: steps/s, dispatch, log MB/s`, () =>
      measureReplicas(n, builds),
    );
    if (result) results.push(result);
  }
  return { results, ...(results.length < counts.length ? { error: 'a replica run failed' } : {}) };
}

const ms = (s: Summary) => `${fmt(s.p50)}/${fmt(s.p99)} ms`;

export function replicaRows(results: ReplicasResult[], rtt: number | undefined): Row[] {
  return results.flatMap((r) => {
    const tag = ` [postgresql, ${r.replicas} replica${r.replicas === 1 ? '' : 's'}]`;
    const row = (metric: string, value: string, floor = '', ratioText = ''): Row => ({
      metric: metric + tag,
      value,
      floor,
      ratio: ratioText,
      target: '',
      store: STORE_LABELS.postgres,
      pass: undefined,
    });
    return [
      row(`steps/s (${r.builds} one-step builds, instant agents, child hubs)`, fmt(r.stepsPerS)),
      row('steps/s: hub CPU per step, all replicas', `${fmt(r.hubCpuMsPerStep)} ms`),
      row(
        'dispatch p50 / p99 (Finished sent -> next Assign, agent off the leader)',
        ms(r.dispatch),
        rtt === undefined ? '' : `${fmt(rtt)} ms RTT`,
        ratio(r.dispatch.p50, rtt),
      ),
      row('logs agent -> hub -> SSE (watcher on another replica)', `${fmt(r.logs.mbPerS)} MB/s`),
      row('logs: payload per hub CPU second, all replicas', `${fmt(r.logs.hubCpuMbPerS)} MB/s`),
      {
        ...row(
          'log lines sent / received / wrong',
          `${r.logs.linesSent}/${r.logs.linesReceived}/${r.logs.linesWrong}`,
        ),
        target: 'exactly once, in order',
        pass: r.logs.linesSent === r.logs.linesReceived && r.logs.linesWrong === 0,
        correctness: true,
      },
    ];
  });
}

const v = (x: number) => (Number.isFinite(x) ? Number(x.toFixed(4)) : null);

/** JSON keys ending in `_postgres_replicas_N`; `store_postgres_replicas_N` names the store. */
export function replicaFigures(results: ReplicasResult[]): Record<string, number | string | null> {
  return Object.fromEntries(
    results.flatMap((r): [string, number | string | null][] => {
      const tail = `_postgres_replicas_${r.replicas}`;
      return [
        [`store${tail}`, STORE_LABELS.postgres],
        [`replicas${tail}`, r.replicas],
        [`steps_per_s${tail}`, v(r.stepsPerS)],
        [`steps_builds${tail}`, r.builds],
        [`steps_hub_cpu_ms_per_step${tail}`, v(r.hubCpuMsPerStep)],
        [`dispatch_chained_p50_ms${tail}`, v(r.dispatch.p50)],
        [`dispatch_chained_p99_ms${tail}`, v(r.dispatch.p99)],
        [`dispatch_chained_samples${tail}`, r.dispatch.n],
        [`log_mb_per_s${tail}`, v(r.logs.mbPerS)],
        [`log_hub_cpu_mb_per_s${tail}`, v(r.logs.hubCpuMbPerS)],
        [`log_lines_sent${tail}`, r.logs.linesSent],
        [`log_lines_received${tail}`, r.logs.linesReceived],
        [`log_lines_wrong${tail}`, r.logs.linesWrong],
      ];
    }),
  );
}
