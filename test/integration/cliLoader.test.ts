/**
 * dist/cli.js, the loader that runs the CLI bundle from V8's code cache (src/cli/loader.ts), as real
 * processes on a copy of dist/. Needs `npm run build` first (it writes the cache).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from '../support/helpers';

const FILES = ['cli.js', 'cli-bundle.js', 'cli-bundle.cache', 'package.json'];

function help(dir: string) {
  const r = spawnSync(process.execPath, [path.join(dir, 'cli.js'), '--help'], { env: { ...process.env, ENGINE_ROOM_DEBUG_CODE_CACHE: '1' }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('(integration) the CLI starts from the code cache the build wrote, and never from a cache of other bundle text', (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const f of FILES) fs.copyFileSync(path.join(ROOT, 'dist', f), path.join(dir, f));

  const fresh = help(dir);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stderr, /code cache used/);
  assert.match(fresh.stdout, /^Usage: engine-room <command>/);

  // The same length (V8's own check passes) but other text: the cached bytecode would print the old usage.
  const bundle = path.join(dir, 'cli-bundle.js');
  const text = fs.readFileSync(bundle, 'utf8');
  assert.ok(text.includes('Usage: engine-room <command>'));
  fs.writeFileSync(bundle, text.replace('Usage: engine-room <command>', 'Usagf: engine-room <command>'));
  const edited = help(dir);
  assert.equal(edited.code, 0, edited.stderr);
  assert.match(edited.stderr, /code cache absent or stale/);
  assert.match(edited.stdout, /^Usagf: engine-room <command>/);

  fs.rmSync(path.join(dir, 'cli-bundle.cache'));
  const none = help(dir);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stderr, /code cache absent or stale/);
});
