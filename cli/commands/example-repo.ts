// The quickstart's example repository: a small local git repository the example pipeline's `git`
// resource checks out, so a newcomer sees a real checkout without any network. Made once, with the
// host's git, and kept (with any commits the user adds) on later runs.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CliError } from '../io.js';

const run = promisify(execFile);

const HELLO = `#!/bin/sh
# The example pipeline runs this script from its checkout of this repository.
echo "Hello from the example repository"
`;

/** Creates `<dir>` as a git repository with one commit unless it already is one; returns its file:// URI. */
export async function ensureExampleRepo(dir: string): Promise<string> {
  if (!existsSync(path.join(dir, '.git'))) {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'hello.sh'), HELLO, { mode: 0o755 });
    const env = {
      ...process.env,
      GIT_AUTHOR_NAME: 'Outpost quickstart',
      GIT_AUTHOR_EMAIL: 'quickstart@localhost',
      GIT_COMMITTER_NAME: 'Outpost quickstart',
      GIT_COMMITTER_EMAIL: 'quickstart@localhost',
    };
    try {
      await run('git', ['init', '-q', '-b', 'main'], { cwd: dir, env });
      await run('git', ['add', 'hello.sh'], { cwd: dir, env });
      await run('git', ['commit', '-q', '-m', 'Add hello.sh'], { cwd: dir, env });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new CliError(
          'the example pipeline checks out a local git repository: install git and run again',
        );
      throw new CliError(`could not create the example repository in ${dir}: ${(err as Error).message}`);
    }
  }
  return `file://${path.resolve(dir)}`;
}
