// End-to-end tests of the `engine-room` task type in a real VS Code (code-server; 4.100.3 by default, any
// version setup.sh installed through CS_VERSION): a launch with `"preLaunchTask": "engine-room: up policy"`
// starts its program only once the engine is healthy (the program finds it serving, and its URL in the
// envFile); a failing engine fails the task, and VS Code says so with the task's exit code.
// Needs `bash test/e2e/setup.sh` and `npm run build` first; runs under `node --import tsx`.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO_DIR, WORK_DIR, packageVsix, startCodeServer, launchBrowser, openWorkbench, runCommand, answerQuickInput, screenshot, waitUntil, holdsFor } from './lib.mjs';
import { createWorkspace } from '../support/workspace.ts';

const ENGINES = path.join(REPO_DIR, 'test', 'fixtures', 'engines');
const CLI = path.join(REPO_DIR, 'dist', 'cli.js');
const RUN = new Date().toISOString().replace(/[:.]/g, '-');
const ARTIFACTS = path.join(WORK_DIR, 'artifacts', `engine-room-tasks-${RUN}`);
fs.mkdirSync(ARTIFACTS, { recursive: true });

const vsix = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'er-e2e-vsix-')), 'engine-room.vsix');
before(async () => {
  await packageVsix(REPO_DIR, { out: vsix });
});

function cliStatus(ws, env) {
  const r = spawnSync(process.execPath, [CLI, 'status', '--json', '--config', path.join(ws, '.vscode', 'engines.json')], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).engines;
}

const engines = [
  // Loads for 3 s before it listens on its port: a program started before the task ends finds nothing there.
  { name: 'policy', preset: 'vllm', command: ['python3', path.join(ENGINES, 'fake_vllm.py'), '--internal', '3', '--load', '3'] },

  { name: 'broken', command: [process.execPath, '-e', 'console.log("broken: giving up"); process.exit(3)'], port: 'auto', health: { http: '/health' } },
];

// The debuggee: what it finds when it starts (the engine's URL from the envFile, the engine's answer).
const CLIENT = `
const fs = require('node:fs');
const url = process.env.ENGINE_POLICY_URL;
const out = process.argv[2];
const done = (r) => fs.writeFileSync(out, JSON.stringify({ ...r, url, at: Date.now() }));
if (!url) done({ error: 'ENGINE_POLICY_URL is not set' });
else fetch(url + '/health').then((res) => done({ status: res.status }), (e) => done({ error: String(e.cause ?? e) }));
`;

function writeLaunch(dir) {
  fs.writeFileSync(path.join(dir, 'client.cjs'), CLIENT);
  const config = (name, task, out) => ({
    type: 'node', request: 'launch', name, program: '${workspaceFolder}/client.cjs', args: [out],
    preLaunchTask: task, envFile: '${workspaceFolder}/.vscode/engines.env', console: 'internalConsole',
  });
  fs.writeFileSync(path.join(dir, '.vscode', 'launch.json'), JSON.stringify({
    version: '0.2.0',
    configurations: [
      config('client', 'engine-room: up policy', path.join(dir, 'client-result.json')),
      config('broken client', 'engine-room: up broken', path.join(dir, 'broken-result.json')),
    ],
  }, null, 2));
}

async function startDebugging(page, name) {
  await runCommand(page, 'Debug: Select and Start Debugging');
  await answerQuickInput(page, { pick: name });
}

test('(e2e) a launch with preLaunchTask "engine-room: up policy" starts only once policy is healthy; a failing engine fails the task with its exit code', async (t) => {
  const { dir, env } = await createWorkspace(t, { engines });
  writeLaunch(dir);
  const server = await startCodeServer({ workspace: dir, vsix, env, name: 'tasks', artifactsDir: path.join(ARTIFACTS, 'tasks'), settings: { 'engineRoom.writeEnvFile': true } });
  const ui = await launchBrowser({ artifactsDir: server.artifactsDir });
  const page = ui.page;
  try {
    await openWorkbench(page, server, { timeoutMs: 180_000 });
    await waitUntil(() => page.locator('[id$="engineRoom.status"]').count(), { timeoutMs: 60_000, message: 'the extension to activate' });
    assert.deepEqual(cliStatus(dir, env).map((e) => e.state), ['stopped', 'stopped']);

    // 1. The launch waits for the task, the task for the engine's health.
    const resultFile = path.join(dir, 'client-result.json');
    await startDebugging(page, 'client');
    const result = await waitUntil(() => fs.existsSync(resultFile) && JSON.parse(fs.readFileSync(resultFile, 'utf8')), { timeoutMs: 90_000, message: 'the debuggee to run' });
    const policy = cliStatus(dir, env).find((e) => e.name === 'policy');
    assert.equal(policy.state, 'healthy');
    assert.deepEqual(result.error, undefined, `the debuggee found the engine: ${JSON.stringify(result)}`);
    assert.equal(result.status, 200, 'the engine answered /health when the debuggee started');
    assert.equal(result.url, `http://127.0.0.1:${policy.ports.port}`, 'the envFile had its URL when the debuggee started');
    await screenshot(page, ARTIFACTS, 'after-launch');

    // 2. A failing engine: the task fails (exit 1) and VS Code asks what to do; aborted, nothing runs.
    await startDebugging(page, 'broken client');
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 60_000 });
    assert.match(await dialog.innerText(), /engine-room: up broken.*exit code 1/s);
    await screenshot(page, ARTIFACTS, 'failed-task');
    await dialog.getByRole('button', { name: 'Abort' }).click();
    await holdsFor(() => !fs.existsSync(path.join(dir, 'broken-result.json')), { forMs: 3_000, message: 'the broken client never ran' });
  } finally {
    await ui.close();
    await server.stop();
    spawnSync(process.execPath, [CLI, 'down', '--config', path.join(dir, '.vscode', 'engines.json')], { env: { ...process.env, ...env } });
  }
});
