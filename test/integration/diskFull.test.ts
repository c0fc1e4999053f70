/**
 * A full disk under the state directory (a 2 MB tmpfs, mounted by the test: CI runs as root) must not
 * stop the stop: `down` stops every engine, nothing crashes, no temporary file is left, and the
 * messages say the state directory is full.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ENGINES, cliStatus, pidAlive, runCli, waitFor, type Run } from '../support/helpers';
import { createWorkspace } from '../support/workspace';
import { appendLogNote } from '../../src/core/logs';

const node = process.execPath;
const longline = path.join(ENGINES, 'longline.cjs');
const httpServer = path.join(ENGINES, 'http_server.cjs');

/** Mounts a small tmpfs at `dir`; fails the test clearly if it cannot (it needs root, as in CI). */
function mountTmpfs(dir: string, size: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? String(e);
    throw new Error(`this test mounts a tmpfs as the state directory and needs root (CI runs as root): mount failed: ${stderr}`, { cause: e });
  }
}

function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/** No uncaught exception: a crash prints a stack trace ("at ..."), an orderly failure does not. */
function assertNoCrash(r: Run, what: string): void {
  assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${what} crashed:\n${r.stderr}`);
  assert.ok(r.code === 0 || r.code === 1, `${what} exited with ${r.code} (${r.signal}):\n${r.stderr}`);
}

function tempFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.tmp'));
}

test('(integration) a flooding engine fills the state directory: `down` stops every engine, nothing crashes, no temp file is left, the message says the disk is full', async (t) => {
  const ws = await createWorkspace(t);
  mountTmpfs(ws.stateDir, '2m');
  let mounted = true;
  const umount = () => {
    if (mounted) execFileSync('umount', ['-l', ws.stateDir]);
    mounted = false;
  };
  const go = path.join(ws.dir, 'go');
  const engines = [
    { name: 'filler', command: [node, longline, '--port', '${port}', '--fill', '--go', go], port: 'auto', health: { http: '/' } },
    { name: 'quiet', command: [node, httpServer, '--port', '${port}', '--name', 'quiet'], port: 'auto', health: { http: '/health' } },
  ];
  const config = ws.addFolder({ engines }).configFile;
  const late = ws.addFolder({ engines: [{ name: 'late', command: [node, httpServer, '--port', '${port}', '--name', 'late'], port: 'auto', health: { http: '/health' } }] }).configFile;
  const pids: number[] = [];
  // Before the workspace removes its folders (the mount point among them).
  ws.onCleanup(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    umount();
  });
  const up = await runCli(['up', '--detach', '--config', config], { env: ws.env });
  assert.equal(up.code, 0, up.stderr);
  const before = await cliStatus(config, ws.env);
  for (const e of before) {
    assert.equal(e.state, 'healthy', `${e.name}: ${JSON.stringify(e)}`);
    pids.push(e.pid as number);
  }
  fs.writeFileSync(go, '');
  await waitFor(() => freeBytes(ws.stateDir) === 0, 'the filler to fill the state directory');
  const registryBefore = fs.readFileSync(path.join(ws.stateDir, 'registry.json'), 'utf8');

  // A note of ours that cannot be written is dropped with a warning, never thrown (an uncaught ENOSPC
  // from one crashed \`up --detach\`).
  const warnings: string[] = [];
  appendLogNote(path.join(ws.stateDir, 'logs', 'note.log'), 'a note', (m) => warnings.push(m));
  assert.match(warnings.join('\n'), /dropped \(ENOSPC\): a note/);

  const status = await runCli(['status', '--config', config], { env: ws.env });
  assertNoCrash(status, 'status');
  assert.match(status.stdout + status.stderr, /state directory full/);

  // Starting another engine cannot lease (the registry cannot be written): it fails cleanly, saying why.
  const upLate = await runCli(['up', '--detach', '--config', late], { env: ws.env });
  assertNoCrash(upLate, 'up --detach on a full disk');
  assert.equal(upLate.code, 1);
  assert.match(upLate.stderr, /state directory full/);
  // `up --detach` of engines that already run.
  const upAgain = await runCli(['up', '--detach', '--config', config], { env: ws.env });
  assertNoCrash(upAgain, 'up --detach again');

  const down = await runCli(['down', '--config', config], { env: ws.env });
  assertNoCrash(down, 'down');
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stderr, /stopped filler/);
  assert.match(down.stderr, /stopped quiet/);
  assert.match(down.stderr, /state directory full/);
  for (const pid of pids) assert.equal(pidAlive(pid), false, `pid ${pid} still runs after down`);
  assert.deepEqual(tempFiles(ws.stateDir), [], 'no temporary file left');
  // The registry is the old file, whole (it could not be rewritten); its leases are of dead engines.
  assert.equal(fs.readFileSync(path.join(ws.stateDir, 'registry.json'), 'utf8'), registryBefore);
  const after = await cliStatus(config, ws.env);
  for (const e of after) assert.equal(e.state, 'stopped', `${e.name}: ${JSON.stringify(e)}`);
});
