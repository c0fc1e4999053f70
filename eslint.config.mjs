// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

const ROOT = import.meta.dirname;

/**
 * The walls between the folders of src/ (test/unit/lint.test.ts proves that each one fires). A wall is
 * a resolved path, so it holds at any folder depth and for every kind of import: static, `export from`,
 * `import type`, dynamic `import()` and `require()`. extension.ts is the composition root: nobody
 * imports it.
 */
const zones = [
  {
    target: './src/core',
    from: ['./src/cli', './src/vscode', './src/webview', './src/extension.ts'],
    message: 'src/core is plain Node, reused by the CLI and tested without VS Code: it imports no src/cli, src/vscode, src/webview.',
  },
  {
    target: './src/cli',
    from: ['./src/vscode', './src/webview', './src/extension.ts'],
    message: 'src/cli runs without VS Code: it imports no src/vscode, src/webview.',
  },
  {
    target: './src/vscode',
    from: ['./src/cli', './src/webview', './src/extension.ts'],
    message: 'The VS Code adapters import no src/cli, and no src/webview (browser code, loaded by the panel as a script).',
  },
  {
    target: './src/shared',
    from: './src',
    except: ['./shared'],
    message: 'src/shared is imported by the host and the webview alike: it imports nothing but src/shared.',
  },
  {
    target: './src/webview',
    from: './src',
    except: ['./shared', './webview'],
    message: 'src/webview is browser code: of src/ it imports only src/shared.',
  },
];

/** `import('vscode')` and `require('vscode')`, which no-restricted-imports does not see. */
const dynamicVscode = (message) => [
  { selector: "ImportExpression[source.value='vscode']", message },
  { selector: "CallExpression[callee.name='require'][arguments.0.value='vscode']", message },
];

/** No runtime `vscode` in `files`; `import type` is allowed where `allowTypeImports`. */
const noVscode = (files, allowTypeImports, message) => ({
  files,
  rules: {
    '@typescript-eslint/no-restricted-imports': ['error', { paths: [{ name: 'vscode', message, allowTypeImports }] }],
    'no-restricted-syntax': ['error', ...dynamicVscode(message)],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.vscode-test/**', 'test/e2e/.work/**', 'test/.work/**', 'test/fixtures/lint/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
  {
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'] })],
      // Which imported files import-x parses (for no-cycle) and with what.
      'import-x/extensions': ['.ts', '.js', '.mjs', '.cjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-exports': ['error', { restrictDefaultExports: { direct: true } }],
      'import-x/no-restricted-paths': ['error', { basePath: ROOT, zones }],
      // Everywhere, not only in src/: a cycle in tests or the bench is as confusing (and the lint
      // test's cycle fixture is linted by this very rule).
      'import-x/no-cycle': 'error',
    },
  },
  noVscode(['src/core/**/*.ts', 'src/cli/**/*.ts'], true, 'src/core and src/cli must not import vscode at run time (use `import type`).'),
  noVscode(['src/shared/**/*.ts', 'src/webview/**/*.ts'], false, 'src/shared and src/webview run in the webview too: no vscode, not even its types.'),
  {
    // Both run in the browser (the webview bundle): no Node built-ins.
    files: ['src/shared/**/*.ts', 'src/webview/**/*.ts'],
    rules: { 'import-x/no-nodejs-modules': 'error' },
  },
);
