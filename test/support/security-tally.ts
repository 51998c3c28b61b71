// The security suite's tally of refused impersonations (`npm run test:security`): each test that makes
// a real attempt and saw it refused records it here; test/security/summary.ts adds them up after vitest,
// across the suite's files (each runs in its own worker, so the tally goes through a file).

import { appendFileSync } from 'node:fs';

export type TallyRecord =
  | { kind: 'refused'; what: string; n: number }
  | { kind: 'routes'; routes: number; checks: number; allowed: number; denied: number; leaks: number };

function record(entry: TallyRecord): void {
  const file = process.env.OUTPOST_SECURITY_SUMMARY;
  if (file) appendFileSync(file, JSON.stringify(entry) + '\n');
}

/** Call only after the attempt was seen refused: `what` names the attempt, as the summary prints it. */
export function countRefused(what: string, n = 1): void {
  console.log(`security: refused ${what} x${n}`);
  record({ kind: 'refused', what, n });
}

/** The route table's probe results (roles.test.ts). */
export function recordRoutes(routes: Omit<Extract<TallyRecord, { kind: 'routes' }>, 'kind'>): void {
  record({ kind: 'routes', ...routes });
}
