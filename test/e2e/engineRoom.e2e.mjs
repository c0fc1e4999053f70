// End-to-end tests of Engine Room in a real VS Code (code-server 4.100.3 = VS Code 1.100.3), driven by
// Playwright with Debian's Chromium. Needs `bash test/e2e/setup.sh` and `npm run build` first (the
// README's test command does both) and runs under `node --import tsx` (each test's workspace, state dir
// and ports come from test/support/workspace.ts). Screenshots go to test/e2e/.work/artifacts/<run>/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  REPO_DIR, WORK_DIR, packageVsix, startCodeServer, launchBrowser, openWorkbench,
  findTreeItem, treeItems, clickTreeItemAction, viewPane, waitForStatusBarText, statusBarItem, runCommand,
  webviewFrame, readProblems, screenshot, waitUntil, holdsFor, activityBarItem, answerTrustPrompt, isRestrictedMode,
  treeItemActions, findFiles,
} from './lib.mjs';
import { createWorkspace } from '../support/workspace.ts';

const EXT_ID = 'engine-room.engine-room';
const ENGINES = path.join(REPO_DIR, 'test', 'fixtures', 'engines');
const CLI = path.join(REPO_DIR, 'dist', 'cli.js');
const RUN = new Date().toISOString().replace(/[:.]/g, '-');
const ARTIFACTS = path.join(WORK_DIR, 'artifacts', `engine-room-${RUN}`);
fs.mkdirSync(ARTIFACTS, { recursive: true });

const vsix = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'er-e2e-vsix-')), 'engine-room.vsix');
before(async () => {
  await packageVsix(REPO_DIR, { out: vsix });
  fs.copyFileSync(vsix, path.join(ARTIFACTS, 'engine-room.vsix'));
});

/** Shows the Engine Room side bar (a single-view container: its title is "Engine Room: Engines"). */
async function openEngineRoom(page) {
  const item = activityBarItem(page, 'Engine Room');
  await item.waitFor({ timeout: 30_000 });
  if (!/\bchecked\b/.test((await item.getAttribute('class')) ?? '')) await item.locator('a.action-label').click();
  await viewPane(page, 'Engines').waitFor({ timeout: 15_000 });
}

/** The tree title's "Start All Engines" action (a single-view container shows it in the side bar title). */
function startAllAction(page) {
  return page.locator('.part.sidebar .title-actions a.action-label[aria-label^="Start All Engines"]');
}

async function clickStartAll(page) {
  await startAllAction(page).click();
}

/** What the CLI says about the workspace's engines (the same registry the extension writes). */
function cliStatus(ws, env) {
  const r = spawnSync(process.execPath, [CLI, 'status', '--json', '--config', path.join(ws, '.vscode', 'engines.json')], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).engines;
}

function pidAlive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

function cliDown(ws, env) {
  spawnSync(process.execPath, [CLI, 'down', '--config', path.join(ws, '.vscode', 'engines.json')], { env: { ...process.env, ...env } });
}

const engines = [
  { name: 'web', command: [process.execPath, path.join(ENGINES, 'http_server.cjs'), '--port', '${port}', '--name', 'web'], port: 'auto', health: { http: '/health' } },
  // Through the vllm preset: it appends --port ${port}, sets VLLM_PORT to the leased block, probes /health.
  { name: 'policy', preset: 'vllm', command: ['python3', path.join(ENGINES, 'fake_vllm.py'), '--internal', '3', '--load', '0.5'] },
  { name: 'cache', command: [process.execPath, path.join(ENGINES, 'http_server.cjs'), '--port', '${port}', '--name', 'cache'], port: 'auto' },
];

test('(e2e) start all from the tree title: tree, panel and status bar show every engine healthy with the CLI\'s ports; stop one inline; a bad config shows a problem at its line', async (t) => {
  const { dir, env } = await createWorkspace(t, { engines });
  const server = await startCodeServer({ workspace: dir, vsix, env, name: 'engines', artifactsDir: path.join(ARTIFACTS, 'main'), settings: { 'engineRoom.writeEnvFile': true, 'engineRoom.refreshInterval': 60_000 } });
  const envFile = path.join(dir, '.vscode', 'engines.env');
  const ui = await launchBrowser({ artifactsDir: server.artifactsDir });
  const page = ui.page;
  try {
    await openWorkbench(page, server);
    await openEngineRoom(page);
    for (const e of engines) await findTreeItem(page, 'Engines', e.name, { timeoutMs: 30_000 });
    const before = await treeItems(page, 'Engines');
    assert.deepEqual(before.map((r) => r.label), ['web', 'policy', 'cache']);
    for (const r of before) assert.match(r.description, /stopped/);

    await clickStartAll(page);

    const rows = await waitUntil(async () => {
      const r = await treeItems(page, 'Engines');
      return r.length === 3 && r.every((x) => /healthy/.test(x.description)) ? r : null;
    }, { timeoutMs: 60_000, message: 'every engine healthy in the tree' });
    const status = cliStatus(dir, env);
    assert.deepEqual(status.map((e) => e.state), ['healthy', 'healthy', 'healthy']);
    for (const e of status) {
      const row = rows.find((r) => r.label === e.name);
      assert.ok(row.description.includes(`:${e.ports.port}`), `tree shows ${e.name} on port ${e.ports.port}: ${row.description}`);
      assert.equal(e.owner.kind, 'vscode');
    }
    const policy = status.find((e) => e.name === 'policy');
    assert.ok(rows.find((r) => r.label === 'policy').description.includes(`block ${policy.portBlock[0]}-${policy.portBlock[1]}`));
    await waitForStatusBarText(page, { id: 'engineRoom.status' }, '3/3 healthy', { timeoutMs: 10_000 });
    const aria = await statusBarItem(page, { id: 'engineRoom.status' }).locator('a, .statusbar-item-label').first().getAttribute('aria-label');
    assert.match(aria ?? '', /3 of 3 engines healthy/);
    await screenshot(page, ARTIFACTS, 'tree-and-status-bar');

    // The panel: a row per engine with the same ports.
    await runCommand(page, 'Engine Room: Show Engines Panel');
    const frame = await webviewFrame(page, { extensionId: EXT_ID, purpose: 'webviewView', waitFor: 'tbody tr' });
    const panelRows = await waitUntil(async () => {
      const r = await frame.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => ({
        name: tr.querySelector('.name')?.firstChild?.textContent ?? '',
        state: tr.querySelector('.state')?.textContent ?? '',
        ports: [...tr.querySelectorAll('a.port')].map((a) => Number(a.dataset.port)),
        block: tr.querySelector('.block')?.textContent ?? '',
      })));
      return r.length === 3 && r.every((x) => x.state === 'healthy') ? r : null;
    }, { timeoutMs: 15_000, message: 'the panel to list three healthy engines' });
    for (const e of status) assert.deepEqual(panelRows.find((r) => r.name === e.name).ports, [e.ports.port]);
    // The vllm preset serves the OpenAI API: the panel shows its models.
    await waitUntil(async () => (await frame.locator('tr[data-key$="#policy"] .models').textContent({ timeout: 1_000 })) === 'fake-model', { timeoutMs: 10_000, message: 'the served model in the panel' });
    // The workspace env file follows the engines.
    const envText = await waitUntil(() => { const t = fs.readFileSync(envFile, 'utf8'); return t.includes('ENGINE_CACHE_URL') ? t : null; }, { timeoutMs: 10_000, message: '.vscode/engines.env' });
    for (const e of status) assert.ok(envText.includes(`ENGINE_${e.name.toUpperCase()}_URL=http://127.0.0.1:${e.ports.port}`), envText);
    assert.ok(envText.includes(`ENGINE_POLICY_OPENAI_BASE_URL=http://127.0.0.1:${policy.ports.port}/v1`), envText);
    assert.equal(panelRows.find((r) => r.name === 'policy').block, `${policy.portBlock[0]}–${policy.portBlock[1]}`);
    await screenshot(page, ARTIFACTS, 'panel');

    // Stop "web" from its inline action: its process tree is gone.
    const web = status.find((e) => e.name === 'web');
    await openEngineRoom(page);
    await clickTreeItemAction(page, 'Engines', 'web', 'Stop Engine...');
    await waitUntil(async () => /stopped/.test((await treeItems(page, 'Engines')).find((r) => r.label === 'web')?.description ?? ''), { timeoutMs: 15_000, message: 'web stopped in the tree' });
    assert.equal(pidAlive(web.pid), false, 'web process gone');
    await waitUntil(() => !fs.readFileSync(envFile, 'utf8').includes('ENGINE_WEB_'), { timeoutMs: 10_000, message: 'web to leave .vscode/engines.env' });
    assert.equal(cliStatus(dir, env).find((e) => e.name === 'web').state, 'stopped');
    await waitForStatusBarText(page, { id: 'engineRoom.status' }, '2/3 healthy', { timeoutMs: 10_000 });

    // A bad edit: the problem shows at its line in the Problems panel.
    const good = fs.readFileSync(path.join(dir, '.vscode', 'engines.json'), 'utf8');
    const bad = good.replace('"port": "auto"', '"port": "80a"');
    const badLine = bad.split('\n').findIndex((l) => l.includes('"80a"')) + 1;
    fs.writeFileSync(path.join(dir, '.vscode', 'engines.json'), bad);
    const problems = await waitUntil(async () => {
      const p = await readProblems(page);
      return p.find((x) => /engines\[0\]\.port/.test(x.message)) ? p : null;
    }, { timeoutMs: 20_000, message: 'a problem for engines[0].port' });
    const problem = problems.find((x) => /engines\[0\]\.port/.test(x.message));
    assert.equal(problem.line, badLine);
    assert.equal(problem.severity, 'error');
    await screenshot(page, ARTIFACTS, 'problems');
    fs.writeFileSync(path.join(dir, '.vscode', 'engines.json'), good);
    await waitUntil(async () => !(await readProblems(page, { open: false })).some((x) => /engines\[0\]/.test(x.message)), { timeoutMs: 20_000, message: 'the problem to go away' });

    // The CLI starts "web": the tree shows it within seconds although the poll is 60 s away here (the
    // refresher watches the registry file).
    await openEngineRoom(page);
    const up = spawnSync(process.execPath, [CLI, 'up', '--detach', 'web', '--config', path.join(dir, '.vscode', 'engines.json')], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(up.status, 0, up.stderr);
    await waitUntil(async () => /healthy · CLI$/.test((await treeItems(page, 'Engines')).find((r) => r.label === 'web')?.description ?? ''), { timeoutMs: 10_000, message: 'the CLI\'s web healthy in the tree' });
  } finally {
    await screenshot(page, ARTIFACTS, 'main-final').catch(() => {});
    await ui.close();
    await server.stop();
    cliDown(dir, env);
  }
  // Closing the window stopped what it started (engineRoom.stopOnClose defaults to true).
  for (const e of cliStatus(dir, env)) assert.equal(e.state, 'stopped', `${e.name} stopped with the window`);
  // activate() timed by the extension itself, for the benchmark report.
  const logText = findFiles(server.artifactsDir, 'Engine Room.log').map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  const activated = /activated in ([\d.]+) ms/.exec(logText);
  assert.ok(activated, 'the extension logged its activation');
  const results = path.join(REPO_DIR, 'bench', 'results');
  fs.mkdirSync(results, { recursive: true });
  // The configs load after activate() returns: when they were read, from the start of activate().
  const loaded = /configs loaded in ([\d.]+) ms/.exec(logText);
  const cpu = /activated in [\d.]+ ms \(([\d.]+) ms of CPU\)/.exec(logText);
  assert.ok(loaded, 'the extension logged when its configs were loaded');
  // The bench report's figure is the minimum version's (a run with CS_VERSION set writes activate-<version>.json).
  fs.writeFileSync(path.join(results, process.env.CS_VERSION ? `activate-${process.env.CS_VERSION}.json` : 'activate.json'), JSON.stringify({ activateMs: Number(activated[1]), activateCpuMs: cpu ? Number(cpu[1]) : null, configsLoadedMs: Number(loaded[1]), codeServer: server.csVersion, at: new Date().toISOString(), source: 'test/e2e/engineRoom.e2e.mjs' }, null, 2));
});


test('(e2e) a group of replicas: the tree and the panel show it under its name with x/y healthy; start from the group node, stop from the panel\'s group row', async (t) => {
  const multiport = path.join(ENGINES, 'multiport.cjs');
  const group = [
    {
      name: 'vllm', replicas: 4, gpus: '${replica}', port: 'auto', ports: { metrics: 'auto' }, portBlock: 4, health: { http: '/health' },
      command: [process.execPath, multiport, '--port', '${port}', '--listen', 'metrics=${port.metrics}', '--listen', 'side=${portBlock+3}', '--replica', '${replica}'],
    },
    engines[0],
  ];
  const { dir, env } = await createWorkspace(t, { engines: group });
  const server = await startCodeServer({ workspace: dir, vsix, env, name: 'replicas', artifactsDir: path.join(ARTIFACTS, 'replicas'), settings: { 'engineRoom.refreshInterval': 60_000 } });
  const ui = await launchBrowser({ artifactsDir: server.artifactsDir, viewport: { width: 1400, height: 820 } });
  const page = ui.page;
  try {
    await openWorkbench(page, server);
    await openEngineRoom(page);
    await findTreeItem(page, 'Engines', 'vllm-3', { timeoutMs: 30_000 });
    const before = await treeItems(page, 'Engines');
    assert.deepEqual(before.map((r) => [r.label, r.level]), [['vllm', 1], ['vllm-0', 2], ['vllm-1', 2], ['vllm-2', 2], ['vllm-3', 2], ['web', 1]]);
    assert.match(before[0].description, /^0\/4 healthy · 4 replicas$/);

    await clickTreeItemAction(page, 'Engines', 'vllm', 'Start Engine...');
    const rows = await waitUntil(async () => {
      const r = await treeItems(page, 'Engines');
      return r[0]?.description.startsWith('4/4 healthy') ? r : null;
    }, { timeoutMs: 60_000, message: 'the group node to say 4/4 healthy' });
    const status = cliStatus(dir, env);
    assert.deepEqual(status.map((e) => `${e.name}:${e.state}`), ['vllm-0:healthy', 'vllm-1:healthy', 'vllm-2:healthy', 'vllm-3:healthy', 'web:stopped']);
    for (const e of status.slice(0, 4)) {
      const row = rows.find((r) => r.label === e.name);
      assert.ok(row.description.includes(`:${e.ports.port} metrics:${e.ports.metrics}`), `${e.name} in the tree: ${row.description}`);
    }

    await runCommand(page, 'Engine Room: Show Engines Panel');
    const frame = await webviewFrame(page, { extensionId: EXT_ID, purpose: 'webviewView', waitFor: 'tbody tr.group' });
    const panelRows = await waitUntil(async () => {
      const r = await frame.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => `${tr.classList.contains('group') ? 'group' : 'engine'} ${tr.querySelector('.name')?.firstChild?.textContent ?? ''} ${tr.querySelector('.state')?.textContent ?? ''}`));
      return r[0] === 'group vllm 4/4 healthy' ? r : null;
    }, { timeoutMs: 15_000, message: 'the panel\'s group row to say 4/4 healthy' });
    assert.deepEqual(panelRows, ['group vllm 4/4 healthy', 'engine vllm-0 healthy', 'engine vllm-1 healthy', 'engine vllm-2 healthy', 'engine vllm-3 healthy', 'engine web stopped']);
    await openEngineRoom(page);
    await page.mouse.move(900, 200);
    await screenshot(page, ARTIFACTS, 'replica-group');

    // Stop from the panel's group row: every replica stops, web was never started.
    await frame.locator('tr.group button.stop').click();
    await waitUntil(() => cliStatus(dir, env).every((e) => e.state === 'stopped'), { timeoutMs: 30_000, message: 'every replica stopped' });
    for (const e of status) if (e.pid) assert.equal(pidAlive(e.pid), false, `${e.name} (pid ${e.pid}) still runs`);
  } finally {
    await ui.close();
    await server.stop();
    cliDown(dir, env);
  }
});

test('(e2e) an untrusted workspace starts nothing and says why', async (t) => {
  const { dir, stateDir: state, env } = await createWorkspace(t, { engines });
  const server = await startCodeServer({ workspace: dir, vsix, env, trust: true, name: 'untrusted', artifactsDir: path.join(ARTIFACTS, 'untrusted') });
  const ui = await launchBrowser({ artifactsDir: server.artifactsDir });
  const page = ui.page;
  try {
    await openWorkbench(page, server);
    // The trust prompt of a fresh profile: leave the workspace in Restricted Mode.
    await answerTrustPrompt(page, false);
    await waitUntil(() => isRestrictedMode(page), { timeoutMs: 10_000, message: 'Restricted Mode' });
    await openEngineRoom(page);
    await findTreeItem(page, 'Engines', 'Workspace not trusted: nothing starts', { timeoutMs: 30_000 });
    // Nothing offers a start: the palette hides the disabled commands, the title and inline actions are disabled.
    for (const title of ['Engine Room: Start All Engines', 'Engine Room: Start Engine...']) {
      await assert.rejects(runCommand(page, title, { timeoutMs: 5_000 }), /not in the palette/, `the palette offers "${title}"`);
    }
    await waitUntil(async () => (await startAllAction(page).getAttribute('aria-disabled')) === 'true', { timeoutMs: 10_000, message: 'the tree title\'s Start All Engines to be disabled' });
    const inline = await treeItemActions(page, 'Engines', 'web');
    assert.ok(inline.some((a) => /^Show Engine Log/.test(a.title) && a.enabled), `web's inline actions rendered: ${JSON.stringify(inline)}`);
    assert.ok(inline.every((a) => !/^Start Engine/.test(a.title) || !a.enabled), `web's inline Start Engine... is disabled: ${JSON.stringify(inline)}`);
    // Clicked anyway, the disabled Start All starts nothing.
    await startAllAction(page).click({ force: true });
    await holdsFor(() => cliStatus(dir, env).every((e) => e.state === 'stopped'), { forMs: 3_000, message: 'every engine stopped' });
    const logs = path.join(state, 'logs');
    assert.ok(!fs.existsSync(logs) || fs.readdirSync(logs).every((d) => fs.readdirSync(path.join(logs, d)).length === 0), 'no engine log was written');
    await screenshot(page, ARTIFACTS, 'untrusted');
  } finally {
    await ui.close();
    await server.stop();
    cliDown(dir, env);
  }
});

test('(e2e) the extension host killed with SIGKILL: its engines keep running, the next window adopts them and stops them when it closes', async (t) => {
  const { dir, env } = await createWorkspace(t, { engines: [engines[0]] });
  const server = await startCodeServer({ workspace: dir, vsix, env, name: 'crash', artifactsDir: path.join(ARTIFACTS, 'crash') });
  const ui = await launchBrowser({ artifactsDir: server.artifactsDir });
  const page = ui.page;
  try {
    await openWorkbench(page, server);
    await openEngineRoom(page);
    await findTreeItem(page, 'Engines', 'web', { timeoutMs: 30_000 });
    await clickStartAll(page);
    await waitUntil(async () => /healthy/.test((await treeItems(page, 'Engines'))[0]?.description ?? ''), { timeoutMs: 30_000, message: 'web healthy' });
    const before = cliStatus(dir, env)[0];
    const host = before.owner.pid;
    assert.match(fs.readFileSync(`/proc/${host}/cmdline`, 'utf8'), /extensionHost/, 'the owner is the extension host process');
    process.kill(host, 'SIGKILL');
    await waitUntil(() => !pidAlive(host), { timeoutMs: 10_000, message: 'the extension host to die' });
    assert.ok(pidAlive(before.pid), 'the engine survives its owner');
    // A new window (the page reloaded): a new extension host adopts the engine.
    await page.reload();
    await openWorkbench(page, server);
    const adopted = await waitUntil(() => {
      const e = cliStatus(dir, env)[0];
      return e.owner && e.owner.pid !== host && e.owner.alive && e.pid === before.pid ? e : null;
    }, { timeoutMs: 60_000, message: 'the new window to adopt the engine' });
    assert.equal(adopted.state, 'healthy');
  } finally {
    await ui.close();
    await server.stop();
  }
  const after = cliStatus(dir, env)[0];
  assert.equal(after.state, 'stopped', 'the adopted engine stopped with the window that adopted it');
  cliDown(dir, env);
});

test('(e2e) 64 engines and one that floods its log: the tree, panel and status bar keep up, every line is in the file, Stop All stops them all', async (t) => {
  const many = Array.from({ length: 64 }, (_, i) => ({
    name: `e${String(i).padStart(2, '0')}`,
    command: ['python3', '-m', 'http.server', '--bind', '127.0.0.1', '${port}'],
    port: 'auto',
    startLock: 'leaseOnly',
  }));
  const floodLines = 1_000_000;
  const flood = { name: 'flood', command: [process.execPath, path.join(ENGINES, 'flood.cjs'), String(floodLines)], health: { log: '^flood done$' }, startTimeout: '2m' };
  const { dir, env } = await createWorkspace(t, { engines: [flood, ...many], ports: { auto: 200, blocks: 300 } });
  const server = await startCodeServer({ workspace: dir, vsix, env, name: 'scale', artifactsDir: path.join(ARTIFACTS, 'scale') });
  const ui = await launchBrowser({ artifactsDir: server.artifactsDir });
  const page = ui.page;
  try {
    await openWorkbench(page, server);
    await openEngineRoom(page);
    await findTreeItem(page, 'Engines', 'flood', { timeoutMs: 30_000 });
    await clickStartAll(page);
    await waitForStatusBarText(page, { id: 'engineRoom.status' }, '65/65 healthy', { timeoutMs: 120_000 });
    const status = cliStatus(dir, env);
    assert.equal(status.filter((e) => e.state === 'healthy').length, 65);
    assert.equal(new Set(status.filter((e) => e.ports.port).map((e) => e.ports.port)).size, 64);
    const logLines = fs.readFileSync(status[0].logFile, 'utf8').split('\n').filter((l) => l.startsWith('line ')).length;
    assert.equal(logLines, floodLines, 'every line of the flood is in the log file');
    await runCommand(page, 'Engine Room: Show Engines Panel');
    const frame = await webviewFrame(page, { extensionId: EXT_ID, purpose: 'webviewView', waitFor: 'tbody tr' });
    await waitUntil(async () => (await frame.locator('tbody tr').count()) === 65, { timeoutMs: 15_000, message: '65 rows in the panel' });
    await screenshot(page, ARTIFACTS, 'scale');
    await runCommand(page, 'Engine Room: Stop All Engines');
    await waitForStatusBarText(page, { id: 'engineRoom.status' }, '0/65 healthy', { timeoutMs: 60_000 });
    assert.deepEqual(status.map((e) => e.pid).filter((p) => p && pidAlive(p)), []);
  } finally {
    await ui.close();
    await server.stop();
    cliDown(dir, env);
  }
});

after(() => {
  process.stdout.write(`# artifacts: ${ARTIFACTS}\n`);
});
