// End-to-end: Engine Room for agents in a real VS Code (issue 14 item 5). Runs on the code-server that
// setup.sh installed for $CS_VERSION (default 4.100.3 = VS Code 1.100, the minimum; `npm run
// test:e2e:current` runs it on 4.139.1 = VS Code 1.139):
// - inside the extension host (test/e2e/exthost/agentTools.test.cjs), through vscode.lm: the Language
//   Model tools are listed; invokeTool starts an engine that answers on its endpoint, reads its log and
//   stops it (that mode accepts confirmations without asking);
// - an untrusted workspace gets no tools (none has an implementation, nothing starts);
// - in a normal window, through a caller extension (fixtures/lm-caller): a start, a stop, a restart ask
//   first in a modal dialog naming the engines (a start also its command); Cancel starts nothing, Yes
//   starts; reading tools ask nothing;
// - the MCP server definition: on 1.101+ VS Code lists "Engine Room" among its MCP servers ("MCP: List
//   Servers"); on 1.100 the extension says the API is absent and runs on.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  REPO_DIR, WORK_DIR, packageVsix, startCodeServer, launchBrowser, openWorkbench, runCommand, runExtensionHostTests, answerQuickInput,
  screenshot, waitUntil, loadEnv, findFiles,
} from './lib.mjs';
import { createWorkspace } from '../support/workspace.ts';

const ENGINES = path.join(REPO_DIR, 'test', 'fixtures', 'engines');
const CLI = path.join(REPO_DIR, 'dist', 'cli.js');
const RUN = new Date().toISOString().replace(/[:.]/g, '-');
const ARTIFACTS = path.join(WORK_DIR, 'artifacts', `agent-tools-${RUN}`);
fs.mkdirSync(ARTIFACTS, { recursive: true });
const CS = loadEnv().CS_VERSION;
const [csMajor, csMinor] = CS.split('.').map(Number);
/** code-server 4.101 is VS Code 1.101, the first with the MCP server definition API. */
const HAS_MCP_API = csMajor > 4 || csMinor >= 101;
/** From code-server 4.134 on, extension-host test runs need the smoke-test driver. */
const EXTHOST_ARGS = csMajor > 4 || csMinor >= 134 ? ['--vscode-option', 'enable-smoke-test-driver'] : [];

/** The workbench's first load on a busy 2-core machine (8 agents' tests at once) can take minutes. */
const LOAD_MS = 180_000;

const engines = [
  { name: 'web', command: [process.execPath, path.join(ENGINES, 'http_server.cjs'), '--port', '${port}', '--name', 'web'], port: 'auto', health: { http: '/health' } },
  { name: 'cache', command: [process.execPath, path.join(ENGINES, 'http_server.cjs'), '--port', '${port}', '--name', 'cache'], port: 'auto' },
];

const vsixDir = fs.mkdtempSync(path.join(os.tmpdir(), 'er-e2e-vsix-'));
const vsix = path.join(vsixDir, 'engine-room.vsix');
const callerVsix = path.join(vsixDir, 'lm-caller.vsix');
before(async () => {
  await packageVsix(REPO_DIR, { out: vsix });
  await packageVsix(path.join(REPO_DIR, 'test', 'e2e', 'fixtures', 'lm-caller'), { out: callerVsix });
});

function cliStatus(ws, env) {
  const r = spawnSync(process.execPath, [CLI, 'status', '--json', '--config', path.join(ws, '.vscode', 'engines.json')], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).engines;
}

function cliDown(ws, env) {
  spawnSync(process.execPath, [CLI, 'down', '--config', path.join(ws, '.vscode', 'engines.json')], { env: { ...process.env, ...env } });
}

/** Answers the workspace-trust prompt if this version shows one beside the tests: stays untrusted. */
async function refuseTrust(page, { done }) {
  let finished = false;
  void done.then(() => (finished = true));
  const dialog = page.locator('.monaco-dialog-box');
  while (!finished) {
    if (!(await dialog.waitFor({ state: 'visible', timeout: 1_000 }).then(() => true, () => false))) continue;
    await dialog.locator('.monaco-button', { hasText: /No, I don.t trust/ }).first().click({ timeout: 10_000 });
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
  }
}

async function exthostRun(t, { trust, name }) {
  const { dir, env } = await createWorkspace(t, { engines });
  const server = await startCodeServer({
    workspace: dir, env: { ...env, E2E_ENGINES: engines.map((e) => e.name).join(','), E2E_EXPECT_TRUSTED: trust ? '1' : '0' },
    trust: !trust, name, artifactsDir: path.join(ARTIFACTS, name), extraArgs: EXTHOST_ARGS,
  });
  try {
    const { code, output } = await runExtensionHostTests(server, {
      extensionDevelopmentPath: REPO_DIR, extensionTestsPath: path.join(REPO_DIR, 'test', 'e2e', 'exthost', 'index.cjs'),
      timeoutMs: 300_000, loadTimeoutMs: LOAD_MS, onLog: (l) => console.log(`  [exthost ${name}] ${l}`), onPage: trust ? undefined : refuseTrust,
    });
    fs.writeFileSync(path.join(server.artifactsDir, 'exthost-output.txt'), output.join('\n'));
    return { code, output, dir, env };
  } finally {
    await server.stop();
    cliDown(dir, env);
  }
}

test(`(e2e) code-server ${CS}: vscode.lm lists the Language Model tools; invokeTool starts an engine, reads its endpoint and log, stops it`, async (t) => {
  const { code, output, dir, env } = await exthostRun(t, { trust: true, name: 'lm-tools' });
  assert.equal(code, 0, `extension-host tests failed:\n${output.slice(-40).join('\n')}`);
  assert.ok(output.some((l) => /\b7 passing\b/.test(l)), output.join('\n'));
  for (const e of cliStatus(dir, env)) assert.equal(e.state, 'stopped', `${e.name} stopped`);
});

test(`(e2e) code-server ${CS}: an untrusted workspace gets no Language Model tools`, async (t) => {
  const { code, output, dir, env } = await exthostRun(t, { trust: false, name: 'lm-untrusted' });
  assert.equal(code, 0, `extension-host tests failed:\n${output.slice(-40).join('\n')}`);
  assert.ok(output.some((l) => /\b2 passing\b/.test(l)), output.join('\n'));
  for (const e of cliStatus(dir, env)) assert.equal(e.state, 'stopped', `${e.name} never started`);
});

/** The pid of a process running `cli.js mcp --config <config>` (the MCP server VS Code started), or null. */
function mcpServerPid(config) {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let argv;
    try {
      argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.findIndex((a) => a.endsWith(`${path.sep}dist${path.sep}cli.js`));
    if (i >= 0 && argv[i + 1] === 'mcp' && argv[i + 3] === config) return Number(d);
  }
  return null;
}

/** Calls a tool through the caller extension; resolves { outcome, dialog } (the dialog's text or null). */
async function callTool(page, outDir, n, line, answer) {
  await runCommand(page, 'LM Caller: Invoke Tool', { timeoutMs: 30_000 });
  await answerQuickInput(page, { value: line });
  const file = path.join(outDir, `${n}.json`);
  const dialog = page.locator('.monaco-dialog-box');
  let text = null;
  if (answer) {
    await dialog.waitFor({ state: 'visible', timeout: 30_000 });
    text = (await dialog.innerText()).replace(/\s+/g, ' ').trim();
    await dialog.locator('.monaco-button', { hasText: answer === 'cancel' ? /^Cancel$/ : /^(Yes|Continue|OK)$/ }).first().click({ timeout: 10_000 });
  }
  const outcome = await waitUntil(() => (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : null), { timeoutMs: 120_000, message: `the outcome of ${line}` });
  if (!answer) assert.equal(await dialog.isVisible(), false, `${line} asked nothing`);
  return { outcome, dialog: text };
}

test(`(e2e) code-server ${CS}: start, stop and restart ask first in a dialog (Cancel starts nothing); ${HAS_MCP_API ? 'VS Code lists the MCP server "Engine Room" and runs it' : 'no MCP server definition API: the extension says so and runs on'}`, async (t) => {
  const { dir, env } = await createWorkspace(t, { engines });
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'er-lm-caller-'));
  t.after(() => fs.rmSync(outDir, { recursive: true, force: true }));
  const server = await startCodeServer({
    workspace: dir, vsix: [vsix, callerVsix], env: { ...env, LM_CALLER_OUT: outDir }, name: 'lm-confirm', artifactsDir: path.join(ARTIFACTS, 'lm-confirm'),
    // The MCP view and commands are part of the chat features.
    settings: { 'chat.disableAIFeatures': false },
  });
  const ui = await launchBrowser({ artifactsDir: server.artifactsDir });
  const page = ui.page;
  try {
    await openWorkbench(page, server, { timeoutMs: LOAD_MS });
    await page.locator('[id$="engine-room.engine-room.engineRoom.status"]').first().waitFor({ timeout: 60_000 });

    const cancelled = await callTool(page, outDir, 1, 'engineRoom_startEngines {"names":["web"]}', 'cancel');
    assert.match(cancelled.dialog, /Start engines/);
    assert.match(cancelled.dialog, /Engine Room will start web/);
    assert.match(cancelled.dialog, /http_server\.cjs --port \$\{port\} --name web/);
    assert.equal(cancelled.outcome.ok, false, JSON.stringify(cancelled.outcome));
    assert.equal(cliStatus(dir, env).find((e) => e.name === 'web').state, 'stopped');

    const started = await callTool(page, outDir, 2, 'engineRoom_startEngines {"names":["web"]}', 'yes');
    assert.equal(started.outcome.ok, true, JSON.stringify(started.outcome));
    assert.match(started.outcome.text, /^healthy: web/);
    const web = cliStatus(dir, env).find((e) => e.name === 'web');
    assert.equal(web.state, 'healthy');
    assert.equal(web.owner.kind, 'vscode');
    await screenshot(page, ARTIFACTS, 'lm-started');

    const endpoints = await callTool(page, outDir, 3, 'engineRoom_engineEndpoints {"names":["web"]}', null);
    assert.match(endpoints.outcome.text, new RegExp(`^web: http://127\\.0\\.0\\.1:${web.ports.port}`));

    const restarted = await callTool(page, outDir, 4, 'engineRoom_restartEngines {"names":["web"]}', 'yes');
    assert.match(restarted.dialog, /Restart engines/);
    assert.equal(restarted.outcome.ok, true, JSON.stringify(restarted.outcome));
    assert.notEqual(cliStatus(dir, env).find((e) => e.name === 'web').pid, web.pid, 'a new process');

    const stopped = await callTool(page, outDir, 5, 'engineRoom_stopEngines {"names":["web"]}', 'yes');
    assert.match(stopped.dialog, /Stop engines/);
    assert.match(stopped.dialog, /Engine Room will stop web/);
    assert.equal(stopped.outcome.ok, true, JSON.stringify(stopped.outcome));
    assert.equal(cliStatus(dir, env).find((e) => e.name === 'web').state, 'stopped');

    if (HAS_MCP_API) {
      await runCommand(page, 'MCP: List Servers', { timeoutMs: 30_000 });
      const rows = page.locator('.quick-input-widget .monaco-list-row');
      await rows.filter({ hasText: 'Engine Room' }).first().waitFor({ timeout: 30_000 }).catch(async (e) => {
        await screenshot(page, ARTIFACTS, 'mcp-list');
        throw new Error(`"Engine Room" not among the MCP servers: ${JSON.stringify(await rows.allTextContents())}`, { cause: e });
      });
      await screenshot(page, ARTIFACTS, 'mcp-list');
      // Started from the list, VS Code runs the definition: `engine-room mcp --config <this workspace's config>`.
      await rows.filter({ hasText: 'Engine Room' }).first().click();
      await answerQuickInput(page, { pick: /^Start Server$/ });
      const config = path.join(dir, '.vscode', 'engines.json');
      const mcpPid = await waitUntil(() => mcpServerPid(config), { timeoutMs: 60_000, message: 'the MCP server process' });
      const running = await waitUntil(async () => {
        await runCommand(page, 'MCP: List Servers', { timeoutMs: 30_000 });
        const text = await rows.filter({ hasText: 'Engine Room' }).first().innerText({ timeout: 30_000 });
        await page.keyboard.press('Escape');
        return /Running/.test(text) ? text : null;
      }, { timeoutMs: 60_000, intervalMs: 2_000, message: 'the MCP server "Engine Room" to be Running' });
      assert.match(running, /Engine Room/);
      assert.ok(mcpPid > 0);
    } else {
      const logText = () => findFiles(path.join(server.userDataDir, 'logs'), 'Engine Room.log').map((f) => fs.readFileSync(f, 'utf8')).join('\n');
      await waitUntil(() => /no MCP server definition API/.test(logText()), { timeoutMs: 30_000, message: 'the extension to log that the MCP API is absent' });
    }
  } finally {
    await screenshot(page, ARTIFACTS, 'lm-confirm-final').catch(() => {});
    await ui.close();
    await server.stop();
    cliDown(dir, env);
  }
});
