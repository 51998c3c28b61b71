import { describe, expect, it } from 'vitest';
import { parseVarRef } from '../pipeline/vars.js';
import { misplacedClusterVar, placeholderFor, splitClusterParams } from './cluster-secrets.js';

const isCluster = (source: string) => source === 'cluster-secrets';

describe('kubernetes var sources', () => {
  it('takes whole-value task params out as Secret references, leaving everything else', () => {
    expect(
      splitClusterParams(
        {
          PGPASSWORD: '((cluster-secrets:db-credentials.password))',
          PGHOST: 'postgres.db.svc.cluster.local',
          OTHER: '((vault:db.password))',
          URL: 'postgres://ci:((cluster-secrets:db-credentials.password))@db',
        },
        isCluster,
      ),
    ).toEqual({
      params: {
        PGHOST: 'postgres.db.svc.cluster.local',
        OTHER: '((vault:db.password))',
        // Left for resolve(), which errors on it.
        URL: 'postgres://ci:((cluster-secrets:db-credentials.password))@db',
      },
      secretEnv: [
        { name: 'PGPASSWORD', source: 'cluster-secrets', secret: 'db-credentials', key: 'password' },
      ],
      errors: [],
    });
  });

  it('needs exactly one Secret and one key', () => {
    const { errors } = splitClusterParams(
      { A: '((cluster-secrets:db-credentials))', B: '((cluster-secrets:a.b.c))' },
      isCluster,
    );
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^param A: .*\(\(cluster-secrets:SECRET\.KEY\)\)/);
  });

  it('a misplaced reference gets a placeholder (not "undefined") and a clear message', () => {
    const ref = parseVarRef('cluster-secrets:db-credentials.password')!;
    expect(placeholderFor(ref)).toEqual({ password: '((cluster-secrets:db-credentials.password))' });
    expect(misplacedClusterVar(ref)).toMatch(/can only be the whole value of a task param/);
  });
});
