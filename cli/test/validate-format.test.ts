import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { beforeEach, describe, expect, it } from 'vitest';

import { registerFormatPipeline } from '../commands/format-pipeline.js';
import { registerValidatePipeline } from '../commands/validate-pipeline.js';
import { CliContext } from '../context.js';
import { CliError } from '../io.js';

/** Runs one of these commands the way main.ts does, without a hub. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const ctx = new CliContext({
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: (async function* () {})(),
    env: {},
    isTTY: false,
  });
  const program = new Command('outpost').exitOverride().configureOutput({
    writeOut: (s) => (stdout += s),
    writeErr: (s) => (stderr += s),
  });
  registerValidatePipeline(program, ctx);
  registerFormatPipeline(program, ctx);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: ctx.exitCode, stdout, stderr };
  } catch (err) {
    if (err instanceof CommanderError) return { code: err.exitCode, stdout, stderr };
    if (err instanceof CliError)
      return { code: err.exitCode, stdout, stderr: stderr + `error: ${err.message}\n` };
    throw err;
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outpost-validate-'));
});

const GROUPED = 'groups: [{name: g, jobs: [a]}]\njobs:\n- name: a\n  plan: []\n- name: b\n  plan: []\n';

describe('validate-pipeline', () => {
  it('prints "looks good" for a valid pipeline, with vars from -v, -y and -l', async () => {
    const file = join(dir, 'p.yml');
    await writeFile(file, 'jobs:\n- name: a\n  serial: ((serial))\n  plan: []\n  old_name: ((old))\n');
    await writeFile(join(dir, 'vars.yml'), 'old: before\n');
    const r = await run(['validate-pipeline', '-c', file, '-y', 'serial=true', '-l', join(dir, 'vars.yml')]);
    expect(r).toEqual({ code: 0, stdout: 'looks good\n', stderr: '' });
    expect((await run(['validate-pipeline', '-c', file, '-v', 'serial=yes'])).stderr).toBe(
      `${file}:3:11: serial must be a boolean, not a string\n`,
    );
  });

  it('prints each problem and exits 1; warnings fail only with --strict', async () => {
    const file = join(dir, 'p.yml');
    await writeFile(file, 'jobs:\n- name: A\n  plan: []\n');
    expect(await run(['validate-pipeline', '-c', file])).toEqual({
      code: 1,
      stdout: '',
      stderr: `${file}:2:9: invalid job name "A": must start with a lowercase letter or digit and contain only lowercase letters, digits, "-", "_" and "."\n`,
    });
    await writeFile(file, GROUPED);
    const warning = `warning: ${file}:5:9: job "b" is not in any group\n`;
    expect(await run(['validate-pipeline', '-c', file])).toEqual({
      code: 0,
      stdout: 'looks good\n',
      stderr: warning,
    });
    expect(await run(['validate-pipeline', '-c', file, '--strict'])).toEqual({
      code: 1,
      stdout: '',
      stderr: warning,
    });
  });
});

describe('format-pipeline', () => {
  it('prints the formatted file, or rewrites it with -w', async () => {
    const file = join(dir, 'p.yml');
    await writeFile(file, 'jobs:\n- plan: []\n  name: a\n');
    const formatted = 'jobs:\n  - name: a\n    plan: []\n';
    expect(await run(['format-pipeline', '-c', file])).toEqual({ code: 0, stdout: formatted, stderr: '' });
    expect(await run(['format-pipeline', '-c', file, '-w'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await readFile(file, 'utf8')).toBe(formatted);
  });
});
