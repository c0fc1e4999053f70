/**
 * The walls between the layers of src/ are lint rules (eslint.config.mjs); these tests run ESLint with
 * that config on one small fixture per wall, so a wall that stops firing fails here. A fixture
 * `test/fixtures/lint/<wall>/src/<layer>/lintFixture.ts` is linted as if it were `src/<layer>/lintFixture.ts`
 * (its imports resolve against the real src/), so the config's folder globs and zones apply to it.
 * `npm run lint` and the typecheck leave test/fixtures/lint out.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { FIXTURES, ROOT } from '../support/helpers';

const LINT_FIXTURES = path.join(FIXTURES, 'lint');
const PATHS = 'import-x/no-restricted-paths';
const VSCODE_IMPORT = '@typescript-eslint/no-restricted-imports';
const VSCODE_DYNAMIC = 'no-restricted-syntax';
const NODE_BUILTIN = 'import-x/no-nodejs-modules';

/** Each wall, and the rule that must report its fixture. */
const WALLS: Readonly<Record<string, string>> = {
  'core-imports-adapters': PATHS,
  'core-in-a-subfolder-imports-adapters': PATHS,
  'core-imports-cli': PATHS,
  'core-imports-cli-dynamically': PATHS,
  'core-imports-webview': PATHS,
  'core-imports-vscode': VSCODE_IMPORT,
  'core-imports-vscode-dynamically': VSCODE_DYNAMIC,
  'core-requires-vscode': VSCODE_DYNAMIC,
  'cli-imports-adapters': PATHS,
  'cli-imports-webview': PATHS,
  'cli-imports-vscode': VSCODE_IMPORT,
  'adapters-import-cli': PATHS,
  'adapters-import-extension': PATHS,
  'webview-imports-core': PATHS,
  'webview-imports-adapters': PATHS,
  'webview-imports-vscode': VSCODE_IMPORT,
  'webview-imports-node': NODE_BUILTIN,
  'shared-imports-core': PATHS,
  'shared-imports-webview': PATHS,
  'shared-imports-vscode': VSCODE_IMPORT,
  'shared-imports-node': NODE_BUILTIN,
};

// ignore: false, for the cycle fixture, linted where it lies (the config ignores test/fixtures/lint).
const eslint = new ESLint({ cwd: ROOT, ignore: false });

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
}

/** Lints a fixture of `<wall>/` as the file at the same place under the repository root. */
async function lintAsInSrc(wall: string, file: string): Promise<ESLint.LintResult> {
  const as = path.join(ROOT, path.relative(path.join(LINT_FIXTURES, wall), file));
  assert.ok(as.startsWith(path.join(ROOT, 'src') + path.sep), `${file} must lie under ${wall}/src/`);
  assert.ok(!fs.existsSync(as), `${as} exists: the fixture must not stand for a real file`);
  const [result] = await eslint.lintText(fs.readFileSync(file, 'utf8'), { filePath: as });
  assert.ok(result);
  return result;
}

const describeMessages = (r: ESLint.LintResult) => r.messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`).join('\n') || '(none)';

describe('layer walls (unit)', () => {
  it('has a fixture for every wall and no fixture without a wall', () => {
    const dirs = fs.readdirSync(LINT_FIXTURES).filter((d) => d !== 'clean' && d !== 'cycle');
    assert.deepEqual(dirs.sort(), Object.keys(WALLS).sort());
  });

  for (const [wall, rule] of Object.entries(WALLS)) {
    it(`${wall}: ${rule} reports it`, async () => {
      const files = filesUnder(path.join(LINT_FIXTURES, wall));
      assert.equal(files.length, 1, `one fixture file in ${wall}/`);
      const result = await lintAsInSrc(wall, files[0]!);
      const hits = result.messages.filter((m) => m.ruleId === rule && m.severity === 2);
      assert.ok(hits.length > 0, `${rule} did not fire on ${wall} (does the file its fixture imports still exist?); got:\n${describeMessages(result)}`);
    });
  }

  it('lets each layer import what it may (the clean fixtures report nothing)', async () => {
    const files = filesUnder(path.join(LINT_FIXTURES, 'clean'));
    assert.equal(files.length, 5, 'one clean fixture per layer');
    for (const file of files) {
      const result = await lintAsInSrc('clean', file);
      assert.equal(result.messages.length, 0, `${path.relative(LINT_FIXTURES, file)}:\n${describeMessages(result)}`);
    }
  });

  it('reports an import cycle (import-x/no-cycle)', async () => {
    const results = await eslint.lintFiles([path.join(LINT_FIXTURES, 'cycle', '*.ts')]);
    assert.equal(results.length, 2);
    for (const r of results) {
      assert.ok(r.messages.some((m) => m.ruleId === 'import-x/no-cycle' && m.severity === 2), `${r.filePath}:\n${describeMessages(r)}`);
    }
  });
});
