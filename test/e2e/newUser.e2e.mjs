// End-to-end tests of what a new user tripped on (issue 12), in a real VS Code (code-server) driven by
// Playwright: a failed engine says why in the tree's tooltip, the panel's Reason column and the toast; an
// engine removed from the config leaves the tree, the panel and the counts; Stop All leaves no health
// behind; Ctrl-C on `npm start` stops gracefully. Screenshots go to test/e2e/.work/artifacts/<run>/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import {
  REPO_DIR, WORK_DIR, packageVsix, startCodeServer, launchBrowser, openWorkbench, freePort, activityBarItem, viewPane,
  findTreeItem, treeItems, waitForStatusBarText, runCommand, webviewFrame, screenshot, waitUntil, waitForNotification,
} from './lib.mjs';
import { createWorkspace } from '../support/workspace.ts';

const EXT_ID = 'engine-room.engine-room';
const ENGINES = path.join(REPO_DIR, 'test', 'fixtures', 'engines');
const CLI = path.join(REPO_DIR, 'dist', 'cli.js');
const RUN = new Date().toISOString().replace(/[:.]/g, '-');
const ARTIFACTS = path.join(WORK_DIR, 'artifacts', `new-user-${RUN}`);
fs.mkdirSync(ARTIFACTS, { recursive: true });

const vsix = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'er-e2e-vsix-')), 'engine-room.vsix');
before(async () => {
  await packageVsix(REPO_DIR, { out: vsix });
});

async function openEngineRoom(page) {
  const item = activityBarItem(page, 'Engine Room');
  await item.waitFor({ timeout: 30_000 });
  if (!/\bchecked\b/.test((await item.getAttribute('class')) ?? '')) await item.locator('a.action-label').click();
  await viewPane(page, 'Engines').waitFor({ timeout: 15_000 });
}

function status(dir, env) {
  const r = spawnSync(process.execPath, [CLI, 'status', '--json', '--config', path.join(dir, '.vscode', 'engines.json')], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).engines;
}

function alive(pid) {
  try {
    return !/^[ZX]$/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0]);
  } catch {
    return false;
  }
}

/** Live processes with the variable `needle` (NAME=value; a test's private state dir: everything it started). */
function processesWith(needle) {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(needle) && alive(Number(name))) out.push(Number(name));
    } catch { /* gone, or not ours */ }
  }
  return out;
}

const http = (name) => ({ name, command: [process.execPath, path.join(ENGINES, 'http_server.cjs'), '--port', '${port}', '--name', name], port: 'auto', health: { http: '/health', interval: '500ms' } });
const missingModule = { name: 'policy', command: ['python3', '-c', 'print("loading the model"); import vllm_not_installed_here', '--port', '${port}'], port: 'auto' };

test('(e2e) a failed engine shows why in the tree tooltip, the panel and the toast; removed engines leave tree, panel and counts; Stop All leaves no health', async (t) => {
  const { dir, env } = await createWorkspace(t, { engines: [http('web'), missingModule, http('extra')] });
  const server = await startCodeServer({ workspace: dir, vsix, env, name: 'failure', artifactsDir: path.join(ARTIFACTS, 'failure') });
  const ui = await launchBrowser({ artifactsDir: server.artifactsDir });
  const page = ui.page;
  try {
    await openWorkbench(page, server);
    await openEngineRoom(page);
    await findTreeItem(page, 'Engines', 'policy', { timeoutMs: 30_000 });
    await runCommand(page, 'Engine Room: Start All Engines');
    await waitUntil(async () => {
      const rows = await treeItems(page, 'Engines');
      return rows.length === 3 && /failed/.test(rows.find((r) => r.label === 'policy')?.description ?? '') && /healthy/.test(rows.find((r) => r.label === 'extra')?.description ?? '');
    }, { timeoutMs: 60_000, message: 'policy failed, the others healthy' });
    // The toast: the signature and its hint, not only "exited with code 1".
    await waitForNotification(page, /Engine "policy" failed: missing module "vllm_not_installed_here"\. Install it/, { timeoutMs: 15_000 });
    // The tooltip: the signature, the hint and the last lines of its log.
    const row = await findTreeItem(page, 'Engines', 'policy');
    await row.hover();
    const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'missing module' }).first();
    await hover.waitFor({ timeout: 15_000 });
    // MarkdownString.appendText writes spaces as &nbsp;.
    const hoverText = (await hover.textContent()).replace(/\u00a0/g, ' ');
    assert.match(hoverText, /pip install vllm_not_installed_here/);
    assert.match(hoverText, /ModuleNotFoundError: No module named 'vllm_not_installed_here'/);
    assert.doesNotMatch(hoverText, /connection refused/);
    await screenshot(page, ARTIFACTS, 'failed-engine-tooltip');
    await runCommand(page, 'Notifications: Clear All Notifications'); // the toast would cover the panel

    // The panel: a Reason column.
    await runCommand(page, 'Engine Room: Show Engines Panel');
    const frame = await webviewFrame(page, { extensionId: EXT_ID, purpose: 'webviewView', waitFor: 'tbody tr' });
    const reason = await waitUntil(async () => {
      const text = await frame.locator('tr[data-key$="#policy"] td.reason').textContent({ timeout: 1_000 });
      return /missing module/.test(text ?? '') ? text : null;
    }, { timeoutMs: 15_000, message: 'the reason of policy in the panel' });
    assert.equal(reason, 'missing module "vllm_not_installed_here"');
    assert.equal(await frame.locator('th').nth(2).textContent(), 'Reason');
    await screenshot(page, ARTIFACTS, 'failed-engine-panel');
    // `status` in a terminal says the same.
    assert.equal(status(dir, env).find((e) => e.name === 'policy').failure.kind, 'missing-module');

    // Removed from the config: the failed engine and a running one leave tree, panel and counts.
    const extraPid = status(dir, env).find((e) => e.name === 'extra').pid;
    fs.writeFileSync(path.join(dir, '.vscode', 'engines.json'), JSON.stringify({ engines: [http('web')] }, null, 2));
    await openEngineRoom(page);
    await waitUntil(async () => (await treeItems(page, 'Engines')).map((r) => r.label).join() === 'web', { timeoutMs: 20_000, message: 'only web in the tree' });
    await waitForStatusBarText(page, { id: 'engineRoom.status' }, '1/1 healthy', { timeoutMs: 15_000 });
    await waitUntil(() => !alive(extraPid), { timeoutMs: 20_000, message: 'the removed running engine to stop' });
    await runCommand(page, 'Engine Room: Show Engines Panel');
    await waitUntil(async () => (await frame.locator('tbody tr').count()) === 1, { timeoutMs: 15_000, message: 'one row in the panel' });

    // Stop All: no health, no sparkline from the last run.
    await runCommand(page, 'Engine Room: Stop All Engines');
    await waitForStatusBarText(page, { id: 'engineRoom.status' }, '0/1 healthy', { timeoutMs: 30_000 });
    await waitUntil(async () => (await frame.locator('tr[data-key$="#web"] .badge').textContent({ timeout: 1_000 })) === 'stopped', { timeoutMs: 15_000, message: 'web stopped in the panel' });
    assert.equal(await frame.locator('tr[data-key$="#web"] td.health').textContent(), '–');
    assert.equal(await frame.locator('tr[data-key$="#web"] td.recent svg').count(), 0, 'no sparkline of the last run');
    await screenshot(page, ARTIFACTS, 'panel-after-stop-all');
  } finally {
    await screenshot(page, ARTIFACTS, 'failure-final').catch(() => {});
    await ui.close();
    await server.stop();
    spawnSync(process.execPath, [CLI, 'down', '--config', path.join(dir, '.vscode', 'engines.json')], { env: { ...process.env, ...env } });
  }
});

test('(e2e) Ctrl-C on `npm start`: code-server closes, deactivate() stops the engines with their stop signal, nothing is left, nothing was killed', async (t) => {
  const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'er-sigterm-')), 'got');
  // An engine that says which signal stopped it.
  const graceful = {
    name: 'graceful',
    command: [process.execPath, '-e', `const fs=require('fs');require('http').createServer((q,s)=>s.end('ok')).listen(+process.argv[1],'127.0.0.1');for (const s of ['SIGTERM','SIGINT','SIGHUP']) process.on(s,()=>{fs.writeFileSync(${JSON.stringify(marker)}, s);process.exit(0)})`, '${port}'],
    port: 'auto',
    health: { http: '/' },
  };
  const { dir, env, stateDir } = await createWorkspace(t, { engines: [graceful, http('web')] });
  const port = await freePort();
  // As a terminal runs it: its own process group, which Ctrl-C signals as a whole (npm, sh and node).
  const npm = spawn('npm', ['start'], { cwd: REPO_DIR, env: { ...process.env, ...env, DEMO_WORKSPACE: dir, PORT: String(port) }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  npm.stdout.on('data', (d) => (out += d));
  npm.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => npm.once('exit', (code, signal) => r({ code, signal })));
  t.after(() => { try { process.kill(-npm.pid, 'SIGKILL'); } catch { /* gone */ } });
  const url = await waitUntil(() => /(http:\/\/127\.0\.0\.1:\d+\/\?folder=\S+)/.exec(out)?.[1], { timeoutMs: 240_000, message: `npm start to print its URL (output: ${out.slice(-2000)})` });
  const ui = await launchBrowser({ artifactsDir: ARTIFACTS });
  const page = ui.page;
  let engines;
  try {
    await openWorkbench(page, { workbenchUrl: () => url, workspace: dir, spawnedAt: Date.now() });
    await openEngineRoom(page);
    await findTreeItem(page, 'Engines', 'graceful', { timeoutMs: 30_000 });
    await runCommand(page, 'Engine Room: Start All Engines');
    engines = await waitUntil(() => { const s = status(dir, env); return s.every((e) => e.state === 'healthy') ? s : null; }, { timeoutMs: 60_000, message: 'both engines healthy' });
  } finally {
    await ui.close();
  }
  process.kill(-npm.pid, 'SIGINT');
  const { code, signal } = await waitUntil(() => Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 200))]), { timeoutMs: 60_000, message: `npm start to exit after Ctrl-C (output: ${out.slice(-2000)})` });
  // npm, itself interrupted, ends with the signal once its script has exited (as a shell expects).
  assert.ok(code === 0 || signal === 'SIGINT', `npm start ended with ${code ?? signal}: ${out.slice(-2000)}`);
  assert.match(out, /stopping code-server; the extension stops the engines it started/);
  assert.match(out, /\nStopped\.\n/, `nothing had to be killed: ${out.slice(-1000)}`);
  assert.equal(fs.readFileSync(marker, 'utf8'), 'SIGTERM', 'the engine got its stop signal from Engine Room');
  for (const e of engines) assert.equal(alive(e.pid), false, `${e.name} is gone`);
  assert.deepEqual(processesWith(`ENGINE_ROOM_STATE_DIR=${stateDir}`), [], 'no process of the run is left (code-server, its extension host, engines)');
  assert.deepEqual(status(dir, env).map((e) => e.state), ['stopped', 'stopped']);
});

after(() => {
  process.stdout.write(`# artifacts: ${ARTIFACTS}\n`);
});
