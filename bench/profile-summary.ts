// `node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top N]`: where a `node --cpu-prof` profile spent its
// time, as self time per package (kysely, better-sqlite3, @grpc/grpc-js, the project's own folders,
// Node.js internals, GC, idle) and per function. A first read before opening the file in a flame graph
// (docs/performance.md).

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The package or project folder a script belongs to; V8's pseudo-frames such as (idle) as they are. */
function owner(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules?.[1]) return modules[1];
  const project = /\/(hub|agent|common|proto|cli|bench)\/([^/]+)/.exec(url);
  return project ? `${project[1]}/${project[2]}` : url;
}

function table(title: string, totals: Map<string, number>, all: number, top: number): string {
  const rows = [...totals].sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = rows.map(
    ([name, us]) =>
      `${((100 * us) / all).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`,
  );
  return `${title}\n${lines.join('\n')}`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string' } }, allowPositionals: true });
  const file = positionals[0];
  if (!file) throw new Error('usage: profile-summary FILE.cpuprofile [--top N]');
  const top = Number(values.top ?? 25);
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples))
    throw new Error(`${file}: not a V8 CPU profile (no nodes/samples)`);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const who = owner(url, functionName);
    all += us;
    byOwner.set(who, (byOwner.get(who) ?? 0) + us);
    const where = url ? ` ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}` : '';
    const fn = `${functionName || '(anonymous)'} [${who}]${where}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  });
  process.stdout.write(
    `${file}: ${(all / 1e6).toFixed(1)} s sampled\n\n${table('self time by package', byOwner, all, top)}\n\n${table('self time by function', byFunction, all, top)}\n`,
  );
}

await main();
