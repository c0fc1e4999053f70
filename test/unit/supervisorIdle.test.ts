import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadConfig } from '../../src/core/config';
import { backoffDelay, poll, sleep } from '../../src/core/poll';
import { Supervisor, type EngineSnapshot } from '../../src/core/supervisor/supervisor';
import { ensureStateDir } from '../../src/core/stateDir';
import { ENGINES, tempDir, waitFor, writeConfig } from '../support/helpers';

const node = process.execPath;
const httpServer = path.join(ENGINES, 'http_server.cjs');
const supervisors: Supervisor[] = [];
after(async () => {
  await Promise.all(supervisors.map((s) => s.dispose()));
});

let nextBase = 28000;
async function setup(engines: unknown[]): Promise<{ sup: Supervisor; events: EngineSnapshot[] }> {
  const dir = tempDir();
  const stateDir = ensureStateDir(path.join(dir, 'state'));
  const loaded = await loadConfig(writeConfig(dir, { engines }));
  assert.ok(loaded.config, JSON.stringify(loaded.problems));
  const base = nextBase;
  nextBase += 150;
  const sup = new Supervisor({ config: loaded.config, stateDir, ownerKind: 'other', ownerLabel: 'test', ranges: { auto: [base, base + 49], blocks: [base + 50, base + 149] } });
  supervisors.push(sup);
  const events: EngineSnapshot[] = [];
  sup.on('change', (s) => events.push(s));
  return { sup, events };
}

test('(unit) the backoff grows by its factor up to its cap; poll stops at a value or an abort; sleep ends early on abort', async () => {
  const start = { first: 20, factor: 1.2, max: 100 };
  assert.deepEqual([0, 1, 2, 9, 10, 50].map((n) => Math.round(backoffDelay(start, n))), [20, 24, 29, 100, 100, 100]);
  let calls = 0;
  assert.equal(await poll(async () => (++calls === 3 ? 'done' : undefined), { first: 1, factor: 2, max: 4 }), 'done');
  assert.equal(calls, 3);
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 50);
  const t0 = Date.now();
  assert.equal(await poll(async () => undefined, { first: 10, factor: 1, max: 10 }, { signal: abort.signal }), undefined);
  await sleep(10_000, AbortSignal.timeout(30));
  assert.ok(Date.now() - t0 < 5000, 'an aborted poll and sleep return at once');
});

test('(unit) snapshots carry the GPU memory given by attachGpuMemory, which emits only for engines whose value changed', async () => {
  const { sup, events } = await setup([
    { name: 'a', command: [node, httpServer, '--port', '${port}'], port: 'auto', health: { http: '/health' } },
    { name: 'b', command: [node, httpServer, '--port', '${port}'], port: 'auto', health: { http: '/health', interval: 60_000 } },
    { name: 'idle', command: [node, httpServer, '--port', '${port}'], port: 'auto' },
  ]);
  const outcomes = await sup.start(['a', 'b']);
  assert.ok(outcomes.every((o) => o.ok), JSON.stringify(outcomes));
  const a = sup.snapshot('a');
  const b = sup.snapshot('b');
  assert.equal(a.gpuMemoryMiB, undefined, 'nothing sampled yet: a snapshot never runs nvidia-smi');
  const before = events.length;
  sup.attachGpuMemory(new Map([[a.pid as number, 1000], [b.pid as number, 250], [999_999, 7]]));
  const emitted = events.slice(before);
  assert.deepEqual(emitted.map((s) => [s.name, s.gpuMemoryMiB]).sort(), [['a', 1000], ['b', 250]]);
  assert.equal(sup.snapshot('a').gpuMemoryMiB, 1000);
  assert.equal(sup.snapshot('idle').gpuMemoryMiB, undefined, 'not running: no GPU memory');
  // The same sample again: nothing changed, nothing emitted; a new value for one engine: one event.
  const again = events.length;
  sup.attachGpuMemory(new Map([[a.pid as number, 1000], [b.pid as number, 250]]));
  sup.attachGpuMemory(new Map([[a.pid as number, 1000], [b.pid as number, 300]]));
  assert.deepEqual(events.slice(again).map((s) => [s.name, s.gpuMemoryMiB]), [['b', 300]]);
  // No nvidia-smi: the values go away.
  sup.attachGpuMemory(undefined);
  assert.equal(sup.snapshot('a').gpuMemoryMiB, undefined);
  await sup.stop(['a', 'b']);
  assert.equal(sup.snapshot('b').gpuMemoryMiB, undefined);
});

test('(unit) engines probed in one health tick each stay healthy at their interval, with one history entry per probe', async () => {
  const engines = Array.from({ length: 6 }, (_, i) => ({ name: `e${i}`, command: [node, httpServer, '--port', '${port}'], port: 'auto', startLock: 'leaseOnly', health: { http: '/health', interval: 300 } }));
  const { sup } = await setup(engines);
  const outcomes = await sup.start();
  assert.ok(outcomes.every((o) => o.ok), JSON.stringify(outcomes));
  await waitFor(() => sup.snapshots().every((s) => s.healthHistory.length >= 5), 'five probes of each engine', 10_000);
  for (const s of sup.snapshots()) {
    assert.equal(s.state, 'healthy', `${s.name}: ${s.reason}`);
    assert.ok(s.healthHistory.every((l) => l !== null), `${s.name}: every probe succeeded`);
  }
});
