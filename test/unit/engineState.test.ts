/** The one EngineState of src/shared (core re-exports it): what counts as running. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInTransition, isRunning, type EngineState } from '../../src/shared/engineState';
const ALL: readonly EngineState[] = ['stopped', 'waiting', 'starting', 'healthy', 'unhealthy', 'failed', 'stopping'];
const idle = { pid: null, nextRestartAt: null };

describe('engineState (unit)', () => {
  it('counts waiting, starting and stopping as in transition, and only those', () => {
    assert.deepEqual(ALL.filter(isInTransition), ['waiting', 'starting', 'stopping']);
  });

  it('is running with a process, a transition or a scheduled restart', () => {
    assert.deepEqual(ALL.filter((state) => isRunning({ state, ...idle })), ['waiting', 'starting', 'stopping']);
    assert.equal(isRunning({ state: 'healthy', pid: 12, nextRestartAt: null }), true);
    assert.equal(isRunning({ state: 'failed', pid: null, nextRestartAt: Date.now() + 1000 }), true);
    assert.equal(isRunning({ state: 'failed', ...idle }), false);
    assert.equal(isRunning({ state: 'stopped', ...idle }), false);
  });
});
