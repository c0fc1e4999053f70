/**
 * (unit) The refresher's timing rules, on Node's mocked timers and clock: how often it polls with and
 * without a visible view, that a burst of registry changes gives one refresh, that a manual refresh
 * never waits, and that GPU memory is sampled at most once per interval and only when wanted.
 */
import { test, mock, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as flush } from 'node:timers/promises';
import { DEBOUNCE_MS, IDLE_INTERVAL_MS, RefreshScheduler } from '../../src/vscode/refreshScheduler';

const INTERVAL = 2000;

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
afterEach(() => mock.timers.reset());

/** A scheduler whose refresh takes `refreshMs` (0: resolves at once), counting what it was asked to do. */
function make(opts: { refreshMs?: number; wantsGpu?: () => boolean } = {}) {
  const calls = { refresh: 0, gpu: 0, inFlight: 0, maxInFlight: 0 };
  const scheduler = new RefreshScheduler({
    intervalMs: INTERVAL,
    refresh: async () => {
      calls.refresh++;
      calls.inFlight++;
      calls.maxInFlight = Math.max(calls.maxInFlight, calls.inFlight);
      if (opts.refreshMs) await new Promise((r) => setTimeout(r, opts.refreshMs));
      calls.inFlight--;
    },
    wantsGpu: opts.wantsGpu ?? (() => false),
    sampleGpu: () => void calls.gpu++,
  });
  return { scheduler, calls };
}

/** Moves the mocked clock on, letting the promises that timers resolved run between steps. */
async function advance(ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    mock.timers.tick(Math.min(step, ms - t));
    await flush();
    await flush();
  }
}

test('(unit) nothing runs while no engines are configured', async () => {
  const { scheduler, calls } = make();
  scheduler.setVisible(true);
  scheduler.soon();
  await advance(IDLE_INTERVAL_MS * 2);
  assert.equal(calls.refresh, 0);
  scheduler.dispose();
});

test('(unit) polls every interval while a view is visible, at the idle rate while none is', async () => {
  const { scheduler, calls } = make();
  scheduler.setActive(true);
  await advance(DEBOUNCE_MS);
  assert.equal(calls.refresh, 1, 'engines configured: one refresh soon');
  await advance(IDLE_INTERVAL_MS - 100);
  assert.equal(calls.refresh, 1, 'hidden: no poll before the idle interval');
  await advance(200);
  assert.equal(calls.refresh, 2, 'hidden: a poll at the idle interval');

  scheduler.setVisible(true);
  await advance(DEBOUNCE_MS);
  assert.equal(calls.refresh, 3, 'coming into sight: a refresh soon');
  await advance(INTERVAL * 5);
  assert.equal(calls.refresh, 8, 'visible: one poll per interval');

  scheduler.setVisible(false);
  await advance(INTERVAL * 5);
  assert.equal(calls.refresh, 8, 'hidden again: back to the idle rate');
  scheduler.dispose();
  await advance(IDLE_INTERVAL_MS * 2);
  assert.equal(calls.refresh, 8, 'disposed: no more polls');
});

test('(unit) a burst of automatic requests gives one refresh; one that comes during a refresh gives one more, never two at a time', async () => {
  const { scheduler, calls } = make({ refreshMs: 1000 });
  scheduler.setActive(true);
  await advance(DEBOUNCE_MS + 1000);
  assert.equal(calls.refresh, 1);
  for (let i = 0; i < 20; i++) scheduler.soon();
  await advance(DEBOUNCE_MS);
  assert.equal(calls.refresh, 2, 'twenty registry changes, one refresh');
  scheduler.soon();
  await advance(DEBOUNCE_MS);
  assert.equal(calls.refresh, 2, 'the request waits for the refresh in flight');
  await advance(1000 + DEBOUNCE_MS);
  assert.equal(calls.refresh, 3, 'and gets its own refresh after it');
  assert.equal(calls.maxInFlight, 1);
  scheduler.dispose();
});

test('(unit) a manual refresh runs at once, not debounced, and takes the place of a pending automatic one', async () => {
  const { scheduler, calls } = make();
  scheduler.setActive(true);
  scheduler.setVisible(true);
  const done = scheduler.now();
  assert.equal(calls.refresh, 1, 'started before any timer fired');
  await done;
  await advance(DEBOUNCE_MS + 10);
  assert.equal(calls.refresh, 1, 'the pending automatic refresh was dropped');
  await advance(INTERVAL);
  assert.equal(calls.refresh, 2, 'the next poll one interval after the manual refresh');
  scheduler.dispose();
});

test('(unit) GPU memory: sampled at most once per interval, only while wanted', async () => {
  let wanted = false;
  const { scheduler, calls } = make({ wantsGpu: () => wanted });
  scheduler.setActive(true);
  scheduler.setVisible(true);
  await advance(INTERVAL * 3);
  assert.equal(calls.gpu, 0, 'not wanted (no view shows it, or nothing runs)');
  wanted = true;
  const before = calls.refresh;
  for (let i = 0; i < 10; i++) {
    scheduler.soon();
    await advance(DEBOUNCE_MS);
  }
  await scheduler.now();
  assert.ok(calls.refresh - before >= 10, 'refreshes came often');
  assert.ok(calls.gpu <= 2, `but nvidia-smi ran ${calls.gpu} times in ${10 * DEBOUNCE_MS} ms`);
  const gpu = calls.gpu;
  await advance(INTERVAL * 4);
  assert.ok(calls.gpu - gpu >= 3 && calls.gpu - gpu <= 4, `one sample per poll: ${calls.gpu - gpu}`);
  scheduler.dispose();
});

test('(unit) a new interval takes effect at once', async () => {
  const { scheduler, calls } = make();
  scheduler.setActive(true);
  scheduler.setVisible(true);
  await advance(DEBOUNCE_MS);
  const before = calls.refresh;
  scheduler.setInterval(500);
  await advance(2000);
  assert.equal(calls.refresh - before, 4);
  scheduler.dispose();
});
