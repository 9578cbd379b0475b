// Type-aware lint: the rules that catch what a type check alone lets through (promises nobody
// awaits, promises passed where a callback's result is ignored, `any`), plus a fence around the
// workflow code, which must stay deterministic.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** A Node built-in by its whole name (a path segment like src/domain/ is not the `domain` module). */
const NODE_BUILTIN = `^(node:.*|${builtinModules.map((m) => m.replace(/[/.]/g, '\\$&')).join('|')})$`;

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
    // packages but the Temporal SDK, and from the rest of the repo only the kernel (src/domain/);
    // activities are typed by the contract's interfaces, never imported.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: NODE_BUILTIN, message: 'Workflow code is deterministic: no Node built-ins.' },
            {
              regex: '^(?!@temporalio/(workflow|common)$|\\./|\\.\\./)',
              message: 'Workflow code imports only @temporalio/workflow, @temporalio/common and files of this repo.',
            },
            {
              regex: '^\\.\\./(?!src/domain/)',
              message: 'Workflow code imports from outside workflows/ only the kernel (src/domain/); activities are typed by workflows/contract.ts.',
            },
          ],
        },
      ],
    },
  },
  {
    // The kernel is pure: types, constants and pure functions that workflow code may import.
    files: ['src/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!\\./)', message: 'The kernel (src/domain/) imports nothing outside itself.' }] },
      ],
    },
  },
  {
    // Stores and billing stand on the kernel, not on the workflow folder.
    files: ['src/stores/**/*.ts', 'src/billing/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: '(^|/)workflows(/|$)', message: 'Stores and billing import the kernel (src/domain/), never workflows/.' }] },
      ],
    },
  },
  prettier,
);
