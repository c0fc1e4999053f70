// stopTree on real processes: found by the marker alone (no pid recorded), also in another session;
// whom it had to SIGKILL; the leader first with `to: "leader"`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MARKER_VARIABLE, markedProcesses, newMarker, stopTree } from '../../src/core/processTree';
import { processStartTime } from '../../src/core/platform';
import { pidAlive, waitFor } from '../support/helpers';

/** A process with the marker in its environment, in a session of its own; its script in `code`. */
function markedChild(marker: string, code: string): ChildProcess {
  return spawn(process.execPath, ['-e', code], { detached: true, stdio: 'ignore', env: { ...process.env, [MARKER_VARIABLE]: marker } });
}

function marked(marker: string, code: string): number {
  return markedChild(marker, code).pid!;
}

test('(unit) a tree known only by its marker is found and stopped, also a process in another session', async (t) => {
  const marker = newMarker();
  const a = marked(marker, 'setInterval(() => {}, 1000)');
  const b = marked(marker, 'setInterval(() => {}, 1000)');
  t.after(() => [a, b].forEach((p) => pidAlive(p) && process.kill(p, 'SIGKILL')));
  await waitFor(() => (markedProcesses([marker]).get(marker)?.length ?? 0) === 2, 'both marked processes');
  const report = await stopTree({ record: null, marker }, { signal: 'SIGTERM', timeoutMs: 5000 });
  assert.deepEqual(report.killed, []);
  assert.equal(pidAlive(a) || pidAlive(b), false);
  assert.equal(markedProcesses([marker]).has(marker), false);
});

test('(unit) a process that ignores the stop signal is killed, and the report names it', async (t) => {
  const marker = newMarker();
  const ready = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'er-stop-')), 'ready');
  const stubborn = marked(marker, `process.on('SIGTERM', () => {}); require('fs').writeFileSync(${JSON.stringify(ready)}, ''); setInterval(() => {}, 1000)`);
  t.after(() => pidAlive(stubborn) && process.kill(stubborn, 'SIGKILL'));
  // Its handler must be installed before the stop.
  await waitFor(() => fs.existsSync(ready), 'the stubborn process to install its SIGTERM handler');
  const report = await stopTree({ record: null, marker }, { signal: 'SIGTERM', timeoutMs: 300 });
  assert.deepEqual(report.killed.map((k) => k.pid), [stubborn]);
  assert.match(report.killed[0]!.command, /SIGTERM/);
  assert.equal(pidAlive(stubborn), false);
});

test('(unit) to "leader": the rest of the tree gets the signal only once the leader is gone', async (t) => {
  const marker = newMarker();
  // The worker records whether it got SIGTERM before the leader had exited (it must not).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'er-stop-'));
  const ready = (name: string) => `require('fs').writeFileSync(${JSON.stringify(path.join(dir, name))}, '')`;
  const leader = marked(marker, `process.on('SIGTERM', () => setTimeout(() => process.exit(0), 300)); ${ready('leader')}; setInterval(() => {}, 1000)`);
  // The leader counts as gone once it is a zombie (state Z) or reaped.
  const leaderRuns = `(() => { try { const s = require('fs').readFileSync('/proc/${leader}/stat', 'utf8'); return !/^Z/.test(s.slice(s.lastIndexOf(')') + 2)); } catch { return false; } })()`;
  const workerChild = markedChild(marker, `process.on('SIGTERM', () => process.exit(${leaderRuns} ? 3 : 0)); ${ready('worker')}; setInterval(() => {}, 1000)`);
  const worker = workerChild.pid!;
  const workerExit = new Promise<number | null>((r) => workerChild.once('exit', (code) => r(code)));
  t.after(() => [leader, worker].forEach((p) => pidAlive(p) && process.kill(p, 'SIGKILL')));
  // Their handlers must be installed before the stop.
  await waitFor(() => fs.existsSync(path.join(dir, 'leader')) && fs.existsSync(path.join(dir, 'worker')), 'both handlers');
  const startTime = processStartTime(leader)!;
  const report = await stopTree({ record: { pid: leader, pgid: leader, startTime }, marker }, { signal: 'SIGTERM', timeoutMs: 10_000, to: 'leader' });
  assert.deepEqual(report.killed, []);
  assert.equal(pidAlive(leader) || pidAlive(worker), false);
  assert.equal(await workerExit, 0, 'the worker got SIGTERM only after the leader had exited');
});
