// Type-aware lint: the rules that catch what a type check alone lets through (promises nobody
// awaits, promises passed where a callback's result is ignored, `any`), plus a fence around the
// workflow code, which must stay deterministic.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.data/', 'bench/results/', 'src/cli/bin.cjs', 'src/console/assets/', '*.config.js', '*.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Activities and handlers are async by contract even when one happens not to await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests and the benchmark read JSON bodies (supertest's `body` is `any` by design) and assert on
    // them: the no-unsafe-* family would only add casts there. `any` written by hand stays an error.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no outside
    // packages but the Temporal workflow SDK, and from the rest of the repo only types.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', ...builtinModules], message: 'Workflow code is deterministic: no Node built-ins.' },
            {
              regex: '^(?!@temporalio/(workflow|common)$|\\./|\\.\\./)',
              message: 'Workflow code imports only @temporalio/workflow, @temporalio/common and files of this repo.',
            },
            {
              regex: '^\\.\\./',
              allowTypeImports: true,
              message: 'Workflow code may import only types from outside workflows/.',
            },
          ],
        },
      ],
    },
  },
  prettier,
);
