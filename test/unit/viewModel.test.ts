/**
 * The tree's menus in package.json match `viewItem` with regexes; these tests evaluate those very clauses
 * against contextValue() for engines in each state, so a menu and the code cannot drift apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contextValue, engineUrl, groupContextValue, groupKey, groupState, healthySummary, portsText, stateLabel } from '../../src/shared/viewModel';
import { isRunning } from '../../src/shared/engineState';
import type { EngineSnapshot } from '../../src/core/supervisor/supervisor';
import type { LockWaitInfo } from '../../src/core/hostLock';
import { ROOT } from '../support/helpers';

type Snap = Pick<EngineSnapshot, 'state' | 'pid' | 'nextRestartAt' | 'ports' | 'host' | 'probe'>;
const base: Snap = { state: 'stopped', pid: null, nextRestartAt: null, ports: {}, host: '127.0.0.1', probe: 'http' };

const menus = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { menus: Record<string, Array<{ command: string; when?: string; group?: string }>> };
}).contributes.menus['view/item/context']!;

/** Evaluates the subset of when-clause syntax our menus use: `view == X && viewItem =~ /re/`. */
function shows(when: string, viewItem: string): boolean {
  return when.split('&&').every((part) => {
    const p = part.trim();
    if (p.startsWith('view ==')) return p.endsWith('engineRoom.engines');
    const m = /^viewItem =~ \/(.*)\/$/.exec(p);
    if (m) return new RegExp(m[1]!).test(viewItem);
    throw new Error(`unexpected clause ${p}`);
  });
}

function inlineActions(s: Snap): string[] {
  const cv = contextValue(s);
  return menus.filter((m) => m.group?.startsWith('inline') && shows(m.when ?? '', cv)).map((m) => m.command.replace('engineRoom.engine.', ''));
}

test('(unit) inline actions by state: start when idle, stop and restart when running, browser only for a running http engine', () => {
  assert.deepEqual(inlineActions(base), ['start', 'showLog']);
  assert.deepEqual(inlineActions({ ...base, state: 'failed' }), ['start', 'showLog']);
  const healthy: Snap = { ...base, state: 'healthy', pid: 10, ports: { port: 8000 } };
  assert.deepEqual(inlineActions(healthy), ['stop', 'restart', 'openInBrowser', 'showLog']);
  assert.deepEqual(inlineActions({ ...healthy, probe: 'tcp' }), ['stop', 'restart', 'showLog']);
  assert.deepEqual(inlineActions({ ...base, state: 'waiting' }), ['stop', 'restart', 'showLog'], 'a queued start can be cancelled');
  // A crash waiting for its restart: still something to stop, or it comes back.
  const restarting: Snap = { ...base, state: 'failed', nextRestartAt: Date.now() + 5000 };
  assert.equal(isRunning(restarting), true);
  assert.deepEqual(inlineActions(restarting), ['stop', 'restart', 'showLog']);
});

test('(unit) every menu clause on tree items matches at least one state and none is malformed', () => {
  const states: Snap[] = [base, { ...base, state: 'healthy', pid: 1, ports: { port: 1 } }, { ...base, state: 'failed' }, { ...base, state: 'starting', pid: 1 }];
  const values = [...states.map(contextValue), groupContextValue(states)];
  for (const m of menus) assert.ok(values.some((v) => shows(m.when ?? '', v)), `${m.command} (${m.when}) never shows`);
});

test('(unit) a group of replicas: start, stop and restart on the group node, by what its replicas do', () => {
  const healthy: Snap = { ...base, state: 'healthy', pid: 10, ports: { port: 8000 } };
  const actions = (members: Snap[], inline: boolean) =>
    menus
      .filter((m) => (m.group?.startsWith('inline') ?? false) === inline && shows(m.when ?? '', groupContextValue(members)))
      .map((m) => m.command.replace('engineRoom.engine.', ''));
  assert.deepEqual(actions([base, base], true), ['start']);
  assert.deepEqual(actions([healthy, healthy], true), ['stop', 'restart']);
  assert.deepEqual(actions([healthy, base], true), ['start', 'stop', 'restart']);
  // The context menu has all three whatever the state; no log, URL or browser for a group.
  assert.deepEqual(actions([base, base], false), ['start', 'stop', 'restart']);
  assert.deepEqual(actions([healthy], false), ['start', 'stop', 'restart']);
  assert.equal(healthySummary([healthy, healthy, base]), '2/3 healthy');
  assert.equal(groupState([healthy, healthy]), 'healthy');
  assert.equal(groupState([healthy, { ...base, state: 'failed' }, base]), 'failed');
  assert.equal(groupState([healthy, base]), 'unhealthy');
  assert.equal(groupKey({ key: '/w/.vscode/engines.json#vllm-3', replica: { group: 'vllm' } }), '/w/.vscode/engines.json#vllm');
  assert.equal(groupKey({ key: '/w/.vscode/engines.json#api' }), undefined);
});

test('(unit) labels, ports and URLs', () => {
  assert.equal(portsText({ ports: { port: 20001 }, portBlock: [24000, 24019] }), ':20001 block 24000-24019');
  assert.equal(portsText({ ports: {}, portBlock: null }), '');
  assert.equal(engineUrl({ ports: { port: 8000 }, host: '0.0.0.0' }), 'http://127.0.0.1:8000');
  assert.equal(engineUrl({ ports: { port: 8000 }, host: '::1' }), 'http://[::1]:8000');
  assert.equal(engineUrl({ ports: {}, host: '127.0.0.1' }), undefined);
  // Core's LockWaitInfo, as a snapshot carries it.
  const lockWait: LockWaitInfo = { holder: { pid: 42, label: 'x', names: ['a'] }, ahead: 0 };
  assert.equal(stateLabel({ state: 'waiting', lockWait, nextRestartAt: null }), 'waiting for lock (pid 42)');
  assert.match(stateLabel({ state: 'failed', nextRestartAt: Date.now() + 2500 }), /^failed, restarting in [23] s$/);
});
