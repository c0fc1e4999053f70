/**
 * The `engine-room` task type's plain parts: what a definition asks for (and the error a bad one gets),
 * the names of the provided tasks (`engine-room: up policy` in a preLaunchTask), the terminal's lines
 * and the exit code from the start's outcomes. The task itself runs in the e2e (test/e2e/tasks.e2e.mjs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TASK_TYPE, parseTaskDefinition, progressLine, providedSpecs, startSummary, taskDefinition, taskName } from '../../src/vscode/engineTaskSpec';
import { ROOT } from '../support/helpers';

const plain = (s: string | undefined) => s?.replace(new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g'), '');

test('(unit) a task definition: engines, action and folder, defaults, and a clear error for each bad field', () => {
  assert.deepEqual(parseTaskDefinition({ type: TASK_TYPE, engines: ['policy', 'policy', 'ref'] }), { action: 'up', engines: ['policy', 'ref'] });
  assert.deepEqual(parseTaskDefinition({ type: TASK_TYPE }), { action: 'up', engines: [] });
  assert.deepEqual(parseTaskDefinition({ type: TASK_TYPE, action: 'down', engines: ['x'], folder: 'api' }), { action: 'down', engines: ['x'], folder: 'api' });
  assert.match((parseTaskDefinition({ type: TASK_TYPE, action: 'start' }) as { error: string }).error, /"action" must be "up" or "down", not "start"/);
  assert.match((parseTaskDefinition({ type: TASK_TYPE, engines: 'policy' }) as { error: string }).error, /"engines" must be a list of engine names, not "policy"/);
  assert.match((parseTaskDefinition({ type: TASK_TYPE, engines: ['ok', 3] }) as { error: string }).error, /"engines" must be a list/);
  assert.match((parseTaskDefinition({ type: TASK_TYPE, folder: 1 }) as { error: string }).error, /"folder" must be a workspace folder's name, not 1/);
});

test('(unit) provided tasks: "up <name>" per engine, "up" for all of several, "down"; their definitions read back the same', () => {
  const specs = providedSpecs(['policy', 'ref']);
  assert.deepEqual(specs.map(taskName), ['up policy', 'up ref', 'up', 'down']);
  for (const s of specs) assert.deepEqual(parseTaskDefinition(taskDefinition(s)), s);
  assert.deepEqual(providedSpecs(['web']).map(taskName), ['up web', 'down']);
  assert.deepEqual(providedSpecs(['web'], 'api')[0], { action: 'up', engines: ['web'], folder: 'api' });
  assert.equal(taskDefinition(specs[0]!).type, TASK_TYPE);
});

test('(unit) package.json declares the task type with the fields the definition reads', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { contributes: { taskDefinitions: Array<{ type: string; properties: Record<string, { enum?: string[] }> }> } };
  const def = pkg.contributes.taskDefinitions.find((d) => d.type === TASK_TYPE);
  assert.ok(def, 'taskDefinitions has engine-room');
  assert.deepEqual(Object.keys(def.properties).sort(), ['action', 'engines', 'folder']);
  assert.deepEqual(def.properties.action!.enum, ['up', 'down']);
});

test('(unit) the terminal: one line per change of state or reason, not per probe; the URL once healthy', () => {
  const base = { name: 'policy', state: 'waiting' as const, reason: 'waiting for the start lock', pid: null, ports: {}, portBlock: null, host: '127.0.0.1' };
  assert.equal(plain(progressLine(base, undefined)), 'policy: waiting for the start lock');
  assert.equal(progressLine(base, base), undefined);
  const starting = { ...base, state: 'starting' as const, reason: undefined, pid: 42, ports: { port: 20001 }, portBlock: [24000, 24019] as const };
  assert.equal(plain(progressLine(starting, base)), 'policy: starting (pid 42)');
  assert.equal(plain(progressLine({ ...starting, reason: 'started (pid 42)' }, starting)), 'policy: started (pid 42)');
  const healthy = { ...starting, state: 'healthy' as const };
  assert.equal(plain(progressLine(healthy, starting)), 'policy is healthy at http://127.0.0.1:20001 (block 24000-24019)');
  assert.equal(progressLine(healthy, healthy), undefined);
  assert.equal(plain(progressLine({ ...base, state: 'failed', reason: 'exited with code 1' }, starting)), 'policy failed: exited with code 1');
});

test('(unit) the exit code: 0 only when every engine is healthy; a failure or a cancel is 1 and named', () => {
  assert.deepEqual({ ...startSummary([{ name: 'policy', ok: true, state: 'healthy' }]), line: undefined }, { exitCode: 0, line: undefined });
  const failed = startSummary([
    { name: 'policy', ok: true, state: 'healthy' },
    { name: 'broken', ok: false, state: 'failed', reason: 'exited with code 3' },
  ]);
  assert.equal(failed.exitCode, 1);
  assert.equal(plain(failed.line), 'broken failed (exited with code 3)');
  const cancelled = startSummary([{ name: 'policy', ok: false, state: 'stopped', cancelled: true }]);
  assert.equal(cancelled.exitCode, 1);
  assert.equal(plain(cancelled.line), 'policy was cancelled');
});
