/** debounce(): a burst of calls runs once, counted from its first call or from its last, on real timers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { debounce } from '../../src/shared/debounce';
import { sleep } from '../support/helpers';

describe('debounce (unit)', () => {
  it("'last': runs only once calls have stopped for ms, with the last arguments", async () => {
    const calls: number[] = [];
    const runs: { at: number; n: number }[] = [];
    const d = debounce((n: number) => runs.push({ at: Date.now(), n }), 60);
    for (let i = 1; i <= 6; i++) {
      calls.push(Date.now());
      d(i);
      await sleep(20);
    }
    await sleep(200);
    assert.ok(runs.length >= 1);
    // Timing-proof: a slow machine may pause past 60 ms between calls and so see two runs, but never one
    // that comes sooner than 60 ms after the call before it.
    for (const r of runs) {
      const before = calls.filter((c) => c <= r.at).at(-1)!;
      assert.ok(r.at - before >= 59, `a run ${r.at - before} ms after a call`);
    }
    assert.equal(runs.at(-1)!.n, 6);
  });

  it("'first': a steady stream still runs every ms, with the latest arguments", async () => {
    const runs: number[] = [];
    const d = debounce((n: number) => runs.push(n), 60, 'first');
    const t0 = Date.now();
    for (let i = 1; Date.now() - t0 < 400; i++) {
      d(i);
      await sleep(10);
    }
    await sleep(150);
    assert.ok(runs.length >= 2 && runs.length <= 8, `ran ${runs.length} times in 400 ms of calls`);
    assert.deepEqual([...runs].sort((a, b) => a - b), runs, 'in order');
  });

  it('runs again for a call after the burst, and not at all after cancel()', async () => {
    let runs = 0;
    const d = debounce(() => runs++, 30, 'first');
    d();
    d();
    await sleep(100);
    assert.equal(runs, 1);
    d();
    await sleep(100);
    assert.equal(runs, 2);
    d();
    d.cancel();
    await sleep(100);
    assert.equal(runs, 2);
  });
});
