// Lint rules. The import boundaries keep the architecture of DESIGN §2:
//   cli → core → plugin-kit ← plugins
// core imports no oclif, listr2 or enquirer (it never prints or prompts); plugin-kit imports no
// lem package; plugins import only plugin-kit (never core, cli or dockerode).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrict = (patterns) => ({
  'no-restricted-imports': ['error', {patterns: patterns.map(([group, message]) => ({group, message}))}],
});

export default tseslint.config(
  {ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', '**/oclif.manifest.json']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {globals: {process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly', AbortController: 'readonly', performance: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', fetch: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', setImmediate: 'readonly'}},
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      '@typescript-eslint/no-empty-object-type': 'off',
    },
  },
  {
    files: ['packages/plugin-kit/**'],
    rules: restrict([
      [['@lem/*'], 'plugin-kit is the bottom of the graph: it imports no lem package.'],
      [['@oclif/*', 'listr2', 'enquirer', 'dockerode', 'zod', 'yaml'], 'plugin-kit carries types and tiny helpers only.'],
    ]),
  },
  {
    files: ['packages/core/**'],
    rules: restrict([
      [['@lem/cli', '@lem/cli/*', '@lem/backend-*', '@lem/notify-*'], 'core never depends on the CLI or on a plugin: plugins reach it through the registry.'],
      [['@oclif/*', 'listr2', 'enquirer'], 'core never prints or prompts: rendering and prompts belong to @lem/cli.'],
    ]),
  },
  {
    files: ['plugins/**'],
    rules: restrict([
      [['@lem/core', '@lem/core/*', '@lem/cli', '@lem/cli/*'], 'plugins depend on @lem/plugin-kit only: an installed plugin must not need a matching core.'],
      [['dockerode'], 'plugins describe containers as data; core runs them.'],
    ]),
  },
);
