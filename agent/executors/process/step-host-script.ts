// Where the step host's script is. Built (dist), it is step-host.js beside this module. Run from
// TypeScript sources (tsx, vitest), it is transpiled once per agent process into a cache directory, so
// the host starts as plain Node instead of paying for a TypeScript loader.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The step host and the node-only modules it imports.
const SOURCES = ['step-host', 'step-supervision', 'host-socket', 'log-records', 'process-group', 'state'];

let cached: Promise<string> | undefined;

/** The absolute path of a script that `node <script> <workRoot>` runs as the step host. */
export function stepHostScript(): Promise<string> {
  cached ??= locate();
  return cached;
}

async function locate(): Promise<string> {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  if (here.endsWith('.js')) return path.join(dir, 'step-host.js');
  const texts = await Promise.all(SOURCES.map((name) => readFile(path.join(dir, `${name}.ts`), 'utf8')));
  const hash = createHash('sha256').update(texts.join('\0')).digest('hex').slice(0, 16);
  const target = path.join(os.tmpdir(), `outpost-step-host-${hash}`);
  const script = path.join(target, 'step-host.js');
  if (existsSync(script)) return script;
  // Only from sources: typescript is a dev dependency.
  const ts = (await import('typescript')).default;
  await mkdir(os.tmpdir(), { recursive: true });
  const staging = await mkdtemp(`${target}.staging-`);
  await writeFile(path.join(staging, 'package.json'), '{"type":"module"}\n');
  for (const [i, name] of SOURCES.entries()) {
    const out = ts.transpileModule(texts[i] ?? '', {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
      fileName: `${name}.ts`,
    });
    await writeFile(path.join(staging, `${name}.js`), out.outputText);
  }
  try {
    await rename(staging, target);
  } catch {
    // Another agent process got there first: its copy is the same.
    await rm(staging, { recursive: true, force: true });
  }
  return script;
}
