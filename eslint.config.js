// Type-checked lint rules: floating promises are bugs in network code, and the folder boundaries of
// design §1 (hub and agent never import each other; the CLI sees only the hub's API types) are enforced.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'proto/gen/**', '.outpost/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './hub', from: './agent', message: 'hub and agent share only proto/gen and common/' },
            { target: './agent', from: './hub', message: 'hub and agent share only proto/gen and common/' },
            { target: './hub', from: './cli', message: 'the hub does not depend on the CLI' },
            { target: './agent', from: './cli', message: 'the agent does not depend on the CLI' },
            {
              target: './cli',
              from: './hub',
              except: ['./api/types.ts', './pipeline'],
              message: 'the CLI sees only the hub API types and the pure pipeline compiler',
            },
            { target: './cli', from: './agent', message: 'the CLI talks to the hub API only' },
            {
              target: './web',
              from: './hub',
              except: ['./api/types.ts'],
              message: 'the web UI sees only the hub API types',
            },
            {
              target: './web',
              from: ['./agent', './cli', './common'],
              message: 'the web UI talks to the hub API only',
            },
            {
              target: './common',
              from: ['./hub', './agent', './cli'],
              message: 'common/ depends on nothing',
            },
            {
              target: './agent/executors/process',
              from: './agent/executors/kubernetes',
              message: 'each executor sees only the executor contract',
            },
          ],
        },
      ],
    },
    settings: { 'import-x/resolver': { typescript: true, node: true } },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Test helpers type what a fake server answers with a caller-chosen parameter.
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
