// Prints the security suite's summary after `vitest run test/security` (package.json test:security):
// the refused impersonations each test file recorded (test/support/security-tally.ts), by attempt and in
// total, then one last line with the route probe figures.

import { readFileSync } from 'node:fs';
import type { TallyRecord } from '../support/security-tally.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: summary.ts <tally file>');
  process.exit(2);
}
const records = readFileSync(file, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as TallyRecord);
const refused = new Map<string, number>();
for (const r of records) if (r.kind === 'refused') refused.set(r.what, (refused.get(r.what) ?? 0) + r.n);
const total = [...refused.values()].reduce((a, b) => a + b, 0);
console.log('security: impersonations refused, by attempt:');
for (const [what, n] of [...refused].sort(([a], [b]) => a.localeCompare(b))) console.log(`  ${n}  ${what}`);
const routes = records.find((r) => r.kind === 'routes');
const figures = routes
  ? `routes=${routes.routes} checks=${routes.checks} allowed=${routes.allowed} denied=${routes.denied} leaks=${routes.leaks}`
  : 'routes=not-run';
console.log(`security: ${figures} impersonations_refused=${total}`);
