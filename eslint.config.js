// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { layersPlugin } from './lint/layers.js';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'no-console': ['error', { allow: ['error'] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // Type-aware rules on every TypeScript file (each tsconfig's project: tsconfig.json for src/, test/, bench/;
  // the console's own tsconfig for src/sandbox/console/): a promise is awaited, returned, handled or
  // deliberately marked with `void`, never dropped by accident.
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  { files: ['bench/**', 'test/**', 'demo/**'], rules: { 'no-console': 'off' } },
  // The import rules of lint/layers.js; scenario/ also schedules no work.
  { files: ['src/**/*.ts'], plugins: { layers: layersPlugin }, rules: { 'layers/no-forbidden-arrow': 'error' } },
  {
    files: ['src/scenario/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'fetch', 'process'].map((name) => ({
          name,
          message: 'scenario/ is pure: no timers, network or process state',
        })),
      ],
    },
  },
  // The sandbox console runs in a browser, not in Node.
  { files: ['src/sandbox/console/**'], languageOptions: { globals: { ...globals.browser } } },
);
