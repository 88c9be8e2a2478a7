import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/*.cjs', 'node_modules/**', '.rekey/**', 'dist/**', 'scripts/stack/maven/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Production code never depends on the development stack: stand-ins are injected by scripts/.
    files: ['workers/**/*.ts', 'cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/scripts/**', '../scripts/*', '../../scripts/*'],
              message: 'production code must not import scripts/: inject development stand-ins from scripts/ instead',
            },
          ],
        },
      ],
    },
  },
  {
    // Activities do the I/O; what they share with workflows (inputs, checks, names) lives in contracts/.
    files: ['activities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/scripts/**', '../scripts/*', '../../scripts/*'],
              message: 'production code must not import scripts/: inject development stand-ins from scripts/ instead',
            },
            {
              group: ['**/workflows/**', '../workflows/*', '../../workflows/*'],
              message: 'activities never import workflows/: move what both need to contracts/',
            },
          ],
        },
      ],
    },
  },
  {
    // The contracts are the bottom floor: imported by workflows (so deterministic), activities, workers and the CLI; they import none of them.
    files: ['contracts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'fs',
                'path',
                'os',
                'crypto',
                'child_process',
                'net',
                'http',
                'https',
                'pg',
                'kafkajs',
                '@aws-sdk/*',
                '@kubernetes/*',
                'pino',
                '@temporalio/*',
              ],
              message: 'contracts are plain data and pure functions: no I/O, no SDK',
            },
            {
              group: [
                '**/workflows/**',
                '**/activities/**',
                '**/workers/**',
                '**/cli/**',
                '**/scripts/**',
                '../workflows/*',
                '../activities/*',
                '../workers/*',
                '../cli/*',
                '../scripts/*',
              ],
              message: 'contracts import only contracts/',
            },
          ],
        },
      ],
    },
  },
  {
    // Workflow code is replayed: no I/O, clocks or randomness except through Temporal's APIs.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'net', 'http', 'https'],
              message: 'workflows are deterministic: do I/O in an activity',
            },
            {
              group: ['pg', 'kafkajs', '@aws-sdk/*', '@kubernetes/*', 'pino'],
              message: 'workflows are deterministic: call this from an activity',
            },
            {
              group: ['../activities/*', '../activities/**', '../../activities/*', '../../activities/**'],
              message: 'import activities as types only (import type …)',
              allowTypeImports: true,
            },
            {
              group: ['**/scripts/**', '../scripts/*', '../../scripts/*'],
              message: 'production code must not import scripts/',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'use sleep() from @temporalio/workflow' },
        { name: 'setInterval', message: 'use a loop with sleep()' },
        { name: 'fetch', message: 'do I/O in an activity' },
        { name: 'process', message: 'workflows must not read the environment' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'Math.random is seeded by Temporal but prefer uuid4() from @temporalio/workflow for ids',
        },
      ],
    },
  },
);
