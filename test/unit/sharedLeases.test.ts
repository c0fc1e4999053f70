/**
 * The shared lease directory on real files and processes: which files and entries count, and which
 * directories are refused. Runs as root (as CI does) to own files and run processes as another uid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { SharedLeaseDir, ensureLeaseDir } from '../../src/core/sharedLeases';
import { processStartTime } from '../../src/core/platform';
import { tempDir, waitFor, pidAlive } from '../support/helpers';

const OTHER = 54321;

function sleeper(uid?: number): ChildProcess {
  return spawn('sleep', ['600'], { stdio: 'ignore', ...(uid === undefined ? {} : { uid, gid: uid }) });
}

function entry(p: ChildProcess, ports: number[]) {
  return { ports, block: null, holders: [{ pid: p.pid!, startTime: processStartTime(p.pid!)! }] };
}

test('(unit) shared leases: another registry\u2019s live entries count; a file not owned by the uid it names, an entry held by another uid\u2019s process, or a dead holder do not', async (t) => {
  assert.equal(process.getuid?.(), 0, 'run as root (CI does): the test owns files as another uid');
  const root = tempDir();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = ensureLeaseDir(path.join(root, 'leases'));
  assert.equal(fs.statSync(dir).mode & 0o7777, 0o1777);
  const stateMine = path.join(root, 'mine');
  const stateOther = path.join(root, 'other');
  fs.mkdirSync(stateMine);
  fs.mkdirSync(stateOther);
  const mine = new SharedLeaseDir(dir, stateMine);
  const ours = sleeper();
  const theirs = sleeper(OTHER);
  t.after(() => {
    ours.kill('SIGKILL');
    theirs.kill('SIGKILL');
  });
  await waitFor(() => processStartTime(theirs.pid!) !== undefined && fs.statSync(`/proc/${theirs.pid}`).uid === OTHER, 'the other uid\u2019s process');

  // Another of our state dirs: its entry counts while its holder lives.
  const second = new SharedLeaseDir(dir, stateOther);
  second.write([entry(ours, [30001])], null);
  assert.equal(fs.statSync(second.file).mode & 0o777, 0o644);
  // Another uid's file, owned by it, held by its own process: counts, slot included.
  const good = path.join(dir, `${OTHER}-${'a'.repeat(16)}.json`);
  fs.writeFileSync(good, JSON.stringify({ version: 1, uid: OTHER, leases: [entry(theirs, [30002])], slot: { holder: entry(theirs, [])!.holders[0], expiresAt: 1e15 } }));
  fs.chownSync(good, OTHER, OTHER);
  // Forged: named for OTHER but owned by us; and OTHER's file claiming our process as its holder.
  fs.writeFileSync(path.join(dir, `${OTHER}-${'b'.repeat(16)}.json`), JSON.stringify({ version: 1, uid: OTHER, leases: [entry(theirs, [30003])], slot: null }));
  const borrowed = path.join(dir, `${OTHER}-${'c'.repeat(16)}.json`);
  fs.writeFileSync(borrowed, JSON.stringify({ version: 1, uid: OTHER, leases: [entry(ours, [30004])], slot: null }));
  fs.chownSync(borrowed, OTHER, OTHER);
  // Junk: not JSON, a FIFO, a symlink.
  fs.writeFileSync(path.join(dir, `${OTHER}-${'d'.repeat(16)}.json`), '{not json');
  fs.symlinkSync(second.file, path.join(dir, `0-${'e'.repeat(16)}.json`));
  execFileSync('mkfifo', [path.join(dir, `0-${'f'.repeat(16)}.json`)]);

  const seen = mine.readForeign(true);
  assert.deepEqual(seen.leases.map((l) => l.ports[0]).sort(), [30001, 30002]);
  assert.deepEqual(seen.slots.map((s) => s.uid), [OTHER]);

  // Our own publication: a second write of the same content keeps the file; an empty one removes it.
  mine.write([entry(ours, [30005])], null);
  assert.deepEqual(second.readForeign(false).leases.map((l) => l.ports[0]).sort(), [30002, 30005]);
  mine.write([], null);
  assert.equal(fs.existsSync(mine.file), false);

  // A dead holder: ignored, and the file (ours) removed inside the lock.
  ours.kill('SIGKILL');
  await waitFor(() => !pidAlive(ours.pid!), 'the holder to die');
  assert.deepEqual(mine.readForeign(true).leases.map((l) => l.ports[0]), [30002]);
  assert.equal(fs.existsSync(second.file), false, 'a file of ours whose holders are all gone is removed');
});

test('(unit) the shared lease directory is refused when it is a symlink or not sticky and writable by all', () => {
  const root = tempDir();
  try {
    const real = path.join(root, 'real');
    fs.mkdirSync(real, { mode: 0o1777 });
    fs.chmodSync(real, 0o1777);
    fs.symlinkSync(real, path.join(root, 'link'));
    assert.throws(() => ensureLeaseDir(path.join(root, 'link')), /not a directory \(a symlink\?\)/);
    const plain = path.join(root, 'plain');
    fs.mkdirSync(plain, { mode: 0o777 });
    fs.chmodSync(plain, 0o777);
    assert.throws(() => ensureLeaseDir(plain), /mode 777, not 1777/);
    assert.equal(ensureLeaseDir(real), real);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
