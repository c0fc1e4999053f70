/** The registry's lock directory: mutual exclusion across processes, and staleness by its holder's identity. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Registry } from '../../src/core/registry';
import { ensureStateDir } from '../../src/core/stateDir';
import { ROOT, exitCode, startProcess, tempDir } from '../support/helpers';

const client = path.join(ROOT, 'test', 'support', 'registryClient.ts');
const TWO_HOURS = 2 * 3600 * 1000;

test('(unit) three processes updating the registry at once lose no update', async () => {
  const dir = ensureStateDir(tempDir());
  const runs = [0, 1, 2].map(() => startProcess(process.execPath, ['--import', 'tsx', client, dir, '60']));
  for (const r of runs) assert.equal(await exitCode(r.child), 0, r.output());
  assert.equal(new Registry(dir).read().nextTicket, 1 + 180);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('registry.lock')), []);
});

test('(unit) a lock directory dated 2 h ahead whose holder is dead is taken over at once', async () => {
  const dir = ensureStateDir(tempDir());
  // A real process that has exited: its pid and start time name nobody now.
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const pid = Number(dead.stdout.trim());
  const lock = path.join(dir, 'registry.lock');
  fs.mkdirSync(lock);
  fs.writeFileSync(path.join(lock, 'holder.json'), JSON.stringify({ pid, startTime: '1', host: os.hostname(), token: 'old' }));
  const ahead = new Date(Date.now() + TWO_HOURS);
  fs.utimesSync(lock, ahead, ahead);
  const registry = new Registry(dir);
  await registry.update((d) => {
    d.nextTicket = 9;
  });
  // The dead holder's lock was not waited out by its mtime (proper-lockfile gave up after 16 s here).
  assert.equal(registry.read().nextTicket, 9);
  assert.equal(fs.existsSync(lock), false);
});

test('(unit) a live holder keeps the lock: another process waits until it is released', async () => {
  const dir = ensureStateDir(tempDir());
  const registry = new Registry(dir);
  let inside!: () => void;
  const entered = new Promise<void>((r) => (inside = r));
  let leave!: () => void;
  const held = registry.update(async (d) => {
    inside();
    await new Promise<void>((r) => (leave = r));
    d.nextTicket = 100;
  });
  await entered;
  const other = startProcess(process.execPath, ['--import', 'tsx', client, dir, '1']);
  // The lock names us, alive: the other process is still waiting after its start and a few attempts.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(other.child.exitCode, null, other.output());
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'registry.lock', 'holder.json'), 'utf8')).pid, process.pid);
  leave();
  await held;
  assert.equal(await exitCode(other.child), 0, other.output());
  assert.equal(registry.read().nextTicket, 101);
});
