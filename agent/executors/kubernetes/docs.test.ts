// docs/kubernetes.md shows the pod a Linux step and a Windows step become and the Role the executor
// needs; those blocks are rendered from buildPod and DOCUMENTED_RBAC here, so the doc cannot go stale.
// `UPDATE_DOCS=1 npx vitest run agent/executors/kubernetes/docs.test.ts` rewrites them.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildPod } from './pod.js';
import { DOCUMENTED_RBAC } from './rbac.js';
import { ids, linuxPool, linuxStep, windowsPool, windowsStep } from './examples.test-fixtures.js';

const DOC = path.resolve(import.meta.dirname, '../../../docs/kubernetes.md');

function role(): unknown {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'outpost-agent', namespace: 'ci' },
    rules: DOCUMENTED_RBAC.map((r) => ({
      apiGroups: [''],
      resources: [...r.resources],
      verbs: [...r.verbs],
    })),
  };
}

const blocks: Record<string, () => unknown> = {
  // On the `api` data path: the inputs come on stdin, with their size and sha256 to check.
  'linux-pod': () =>
    buildPod(linuxStep, linuxPool, {
      ...ids('outpost-test-6f1c2a9e-0b7d-4c1e-9a55-3f2d8e4b1c00'),
      transfer: {
        inputs: { size: 20480, sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' },
      },
    }),
  'windows-pod': () =>
    buildPod(windowsStep, windowsPool, ids('outpost-build-0d9e8f7a-6b5c-4d3e-8f21-a0b1c2d3e4f5')),
  rbac: role,
};

function render(doc: string): string {
  let out = doc;
  for (const [name, make] of Object.entries(blocks)) {
    const re = new RegExp(
      `(<!-- generated:${name} -->\\n\\n?\`\`\`yaml\\n)[\\s\\S]*?(\`\`\`\\n\\n?<!-- /generated -->)`,
    );
    if (!re.test(out)) throw new Error(`docs/kubernetes.md has no generated:${name} block`);
    out = out.replace(
      re,
      (_m, open: string, close: string) =>
        `${open}${stringify(make(), { lineWidth: 0, singleQuote: true })}${close}`,
    );
  }
  return out;
}

describe('docs/kubernetes.md', () => {
  it('shows the pods and the Role the code produces', () => {
    const doc = readFileSync(DOC, 'utf8');
    const rendered = render(doc);
    if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC, rendered);
    expect(doc).toBe(rendered);
  });
});
