/** The one EngineState of src/shared: what counts as running, and that core's state list is the same. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInTransition, isRunning, type EngineState } from '../../src/shared/engineState';
import type { EngineState as CoreEngineState } from '../../src/core/supervisor';

// Compile-time: the two lists must be equal, each way (until core imports this one).
const fromCore = (s: CoreEngineState): EngineState => s;
const toCore = (s: EngineState): CoreEngineState => s;

const ALL: readonly EngineState[] = ['stopped', 'waiting', 'starting', 'healthy', 'unhealthy', 'failed', 'stopping'];
const idle = { pid: null, nextRestartAt: null };

describe('engineState (unit)', () => {
  it('counts waiting, starting and stopping as in transition, and only those', () => {
    assert.deepEqual(ALL.filter(isInTransition), ['waiting', 'starting', 'stopping']);
    assert.deepEqual(ALL.map(fromCore).map(toCore), ALL);
  });

  it('is running with a process, a transition or a scheduled restart', () => {
    assert.deepEqual(ALL.filter((state) => isRunning({ state, ...idle })), ['waiting', 'starting', 'stopping']);
    assert.equal(isRunning({ state: 'healthy', pid: 12, nextRestartAt: null }), true);
    assert.equal(isRunning({ state: 'failed', pid: null, nextRestartAt: Date.now() + 1000 }), true);
    assert.equal(isRunning({ state: 'failed', ...idle }), false);
    assert.equal(isRunning({ state: 'stopped', ...idle }), false);
  });
});
