// `npm run test:k8s`: the kubernetes scenarios against a real cluster ($KUBECONFIG). Not part of the
// default `vitest run` (its files are *.k8s.ts) nor of CI.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/k8s-real/**/*.k8s.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    allowOnly: false,
  },
});
