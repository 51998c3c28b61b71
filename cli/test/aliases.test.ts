// fly's short names: each one of a command Outpost has reaches that command.

import { describe, expect, it } from 'vitest';
import { FLY_ALIASES } from '../aliases.js';
import { sandbox } from './fake-hub.js';

describe("fly's aliases", () => {
  it('reach their command, for every command Outpost has', async () => {
    const sb = await sandbox();
    const help = (await sb.run(['--help'])).stdout;
    // Not in Outpost (paused-jobs: `jobs` shows it).
    const absent = ['paused-jobs'];
    let reached = 0;
    for (const [name, aliases] of Object.entries(FLY_ALIASES)) {
      if (absent.includes(name) && !new RegExp(`^  ${name}[| ]`, 'm').test(help)) continue;
      for (const alias of aliases) {
        const r = await sb.run([alias, '--help']);
        expect(r.code, `${alias} --help`).toBe(0);
        expect(r.stdout).toContain(`Usage: outpost ${name}|`);
        reached++;
      }
    }
    expect(reached).toBeGreaterThanOrEqual(47);
  });
});
