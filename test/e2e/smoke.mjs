// Self-check of test/e2e/lib.mjs against the tiny fixture extension in fixtures/hello-ext (not the product).
//   bash test/e2e/setup.sh && node test/e2e/smoke.mjs
// Parts: A) UI (palette, status bar by id, activity-bar container, tree item + inline action, webview view and
// webview panel messaging, Problems panel, notification, env inheritance, screenshot, deactivate on stop);
// B) workspace trust ON (modal, then trusted -> extension activates); C) mocha suite inside the real extension
// host. SMOKE_PARTS=A,B,C selects parts; SMOKE_TIMEOUT_MS bounds the whole run (default 300000).
// Exit code 0 only if every check passed and no code-server/Chromium process is left.
import fs from 'node:fs';
import path from 'node:path';
import * as e2e from './lib.mjs';

const T0 = Date.now();
const parts = new Set((process.env.SMOKE_PARTS ?? 'A,B,C').split(',').map((s) => s.trim().toUpperCase()));
const FIXTURE = path.join(e2e.E2E_DIR, 'fixtures', 'hello-ext');
const EXT_ID = 'e2etest.hello-e2e';
const STATUS = { id: 'helloE2E.status' };
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const ART = path.join(e2e.WORK_DIR, 'artifacts', `smoke-${stamp}`);
fs.mkdirSync(ART, { recursive: true });

const results = [];
// A fresh workspace folder for the runs.
const ws = fs.mkdtempSync(path.join(e2e.WORK_DIR, 'ws-smoke-'));
fs.writeFileSync(path.join(ws, 'README.md'), 'hello\nworld\n');

const globalTimeout = setTimeout(() => {
  console.log('not ok - smoke: global timeout, killing everything');
  e2e.emergencyCleanup();
  fs.rmSync(ws, { recursive: true, force: true });
  console.log(`${results.filter((r) => r.ok).length} passed, ${results.filter((r) => !r.ok).length + 1} failed`);
  process.exit(1);
}, Number(process.env.SMOKE_TIMEOUT_MS ?? 300_000));
globalTimeout.unref();

function check(name, ok, detail = '') {
  results.push({ name, ok: !!ok });
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}${detail ? ' :: ' + detail : ''}  [+${((Date.now() - T0) / 1000).toFixed(1)}s]`);
}
const metrics = {};
const metric = (k, ms) => { metrics[k] = +(ms / 1000).toFixed(1); e2e.log(`METRIC ${k}=${metrics[k]}s`); };


async function partA(vsix) {
  const artifactsDir = path.join(ART, 'ui');
  const deactivateFile = path.join(artifactsDir, 'deactivated.txt');
  const server = await e2e.startCodeServer({
    workspace: ws, vsix, name: 'smoke-ui', artifactsDir,
    env: { HELLO_E2E_ENV: 'from-smoke-42', HELLO_E2E_DEACTIVATE_FILE: deactivateFile },
  });
  metric('server_healthz', server.healthyAt - server.spawnedAt);
  const ui = await e2e.launchBrowser({ artifactsDir, trace: !!process.env.SMOKE_TRACE });
  const { page } = ui;
  try {
    const wb = await e2e.openWorkbench(page, server);
    metric('workbench_dom_after_goto', wb.loadMs);
    metric('workbench_dom_after_spawn', wb.sinceSpawnMs);
    const idle = await e2e.waitForStatusBarText(page, STATUS, 'HelloE2E: idle', { timeoutMs: 60_000 });
    metric('cold_start_to_extension_ui', Date.now() - server.spawnedAt);
    check('status bar item by id shows initial text', idle === 'HelloE2E: idle', idle);
    check('status bar item by text fragment', (await e2e.readStatusBar(page, { text: 'HelloE2E' })) === idle);

    await e2e.runCommand(page, 'Hello E2E: Say Hello');
    const st = await e2e.waitForStatusBarText(page, STATUS, 'clicked 1');
    check('palette command ran; child process spawned in the extension host', /clicked 1 \(spawned-42\)/.test(st), st);
    const toast = await e2e.waitForNotification(page, 'Hello from E2E extension!');
    const toastText = (await toast.innerText()).split('\n')[0];
    check('notification shown', toastText === 'Hello from E2E extension! (spawned-42)', toastText);

    await e2e.runCommand(page, 'Hello E2E: Show Env');
    const envText = await e2e.waitForStatusBarText(page, STATUS, 'env=');
    check('extra env of code-server reaches processes spawned by the extension', envText === 'HelloE2E: env=from-smoke-42', envText);

    await e2e.runCommand(page, 'Hello E2E: Pick Fruit');
    await e2e.answerQuickInput(page, { pick: 'Banana' });
    check('quick pick answered', (await e2e.waitForStatusBarText(page, STATUS, 'picked')) === 'HelloE2E: picked Banana');
    await e2e.runCommand(page, 'Hello E2E: Enter Name');
    await e2e.answerQuickInput(page, { value: 'Ada' });
    check('input box answered', (await e2e.waitForStatusBarText(page, STATUS, 'name=')) === 'HelloE2E: name=Ada');
    check('notifications() lists the toast', (await e2e.notifications(page)).some((n) => /Hello from E2E extension!/.test(n.message)));
    check('statusBarTexts() lists the item', (await e2e.statusBarTexts(page)).includes('HelloE2E: name=Ada'));

    await e2e.openViewContainer(page, 'Hello E2E');
    await e2e.openViewContainer(page, 'Hello E2E'); // already open: must stay open
    await e2e.findTreeItem(page, 'Hello Items', 'Clicked 1 times');
    const labels = (await e2e.treeItems(page, 'Hello Items')).map((i) => i.label);
    check('tree items', JSON.stringify(labels) === JSON.stringify(['Alpha item', 'Beta item', 'Gamma item', 'Clicked 1 times']), JSON.stringify(labels));
    const row = await e2e.clickTreeItem(page, 'Hello Items', 'Beta item');
    await e2e.waitUntil(async () => (await row.getAttribute('aria-selected')) === 'true', { timeoutMs: 5_000, message: 'Beta item selected' });
    const selected = (await e2e.treeItems(page, 'Hello Items')).filter((i) => i.selected).map((i) => i.label);
    check('tree item click selects it', selected.join() === 'Beta item', JSON.stringify(selected));
    await e2e.clickTreeItemAction(page, 'Hello Items', 'Gamma item', 'Poke Item');
    const poked = await e2e.waitForStatusBarText(page, STATUS, 'poked');
    check('inline tree action runs with its item', poked === 'HelloE2E: poked Gamma item', poked);

    const view = await e2e.webviewFrame(page, { extensionId: EXT_ID, purpose: 'webviewView', waitFor: '#greeting' });
    check('webview view renders', (await view.locator('#greeting').innerText()) === 'Hello from the webview view');
    await view.locator('#btn').click();
    await view.locator('#reply', { hasText: 'pong from extension host (view)' }).waitFor({ timeout: 10_000 });
    const viewReply = await view.locator('#reply').innerText();
    check('webview view <-> extension host messaging', viewReply === 'pong from extension host (view)', viewReply);
    check('status bar updated from webview view message', (await e2e.waitForStatusBarText(page, STATUS, 'view pinged')) === 'HelloE2E: view pinged');

    await e2e.runCommand(page, 'Hello E2E: Open Panel');
    const panel = await e2e.webviewFrame(page, { extensionId: EXT_ID, purpose: 'webviewPanel', waitFor: 'h1#greeting' });
    await panel.locator('#btn').click();
    await panel.locator('#reply', { hasText: 'pong from extension host' }).waitFor({ timeout: 10_000 });
    const panelReply = await panel.locator('#reply').innerText();
    check('webview panel <-> extension host messaging', panelReply === 'pong from extension host', panelReply);
    await e2e.waitForStatusBarText(page, STATUS, 'webview pinged');

    await e2e.openViewContainer(page, 'Hello Bottom'); // panel container, panel closed: auto-detection (5 s) + View: Toggle
    await e2e.findTreeItem(page, { id: 'helloE2E.bottomTree', part: 'panel' }, 'Gamma item');
    const bottomLabels = (await e2e.treeItems(page, 'Hello Bottom Items')).map((i) => i.label);
    check('panel view container + single-view (merged header) tree', bottomLabels.join() === 'Alpha item,Beta item,Gamma item', bottomLabels.join());
    // Another container in the side bar first, so that the focus command has something to do.
    await e2e.openViewContainer(page, 'Explorer', { location: 'sidebar' });
    await e2e.focusView(page, 'Hello E2E', 'Hello Webview');
    const sideBar = async () => ({
      container: /\bchecked\b/.test((await e2e.activityBarItem(page, 'Hello E2E').getAttribute('class')) ?? ''),
      view: (await e2e.viewPane(page, 'Hello Webview').locator('.pane-header').getAttribute('aria-expanded')) === 'true',
    });
    const shown = await e2e.waitUntil(async () => { const s = await sideBar(); return s.container && s.view ? s : null; },
      { timeoutMs: 10_000, message: 'the side bar to show Hello E2E with its webview view' });
    check('focusView via "<container>: Focus on <view> View"', shown.container && shown.view, JSON.stringify(shown));

    await e2e.runCommand(page, 'Hello E2E: Report Problems');
    const problems = await e2e.waitUntil(async () => {
      const p = await e2e.readProblems(page);
      return p.length >= 2 ? p : null;
    }, { timeoutMs: 15_000, message: '2 entries in the Problems panel' });
    const err = problems.find((p) => p.severity === 'error');
    const warn = problems.find((p) => p.severity === 'warning');
    check('Problems panel: error entry', err && err.file === 'README.md' && err.message === 'hello-e2e sample error'
      && err.source === 'hello-e2e' && err.code === 'E42' && err.line === 1 && err.column === 1, JSON.stringify(err));
    check('Problems panel: warning entry', warn && warn.message === 'hello-e2e sample warning' && warn.line === 2 && warn.column === 3, JSON.stringify(warn));

    const shot = await e2e.screenshot(page, artifactsDir, 'workbench');
    check('screenshot written', fs.statSync(shot).size > 10_000, shot);
    if (ui.errors.length) e2e.log(`page errors/console errors (${ui.errors.length}), first:`, ui.errors.slice(0, 3));
  } catch (e) {
    await e2e.screenshot(page, artifactsDir, 'failure').catch(() => {});
    throw e;
  } finally {
    await ui.close();
    const { leftovers } = await server.stop();
    check('code-server tree exited by itself after SIGTERM', leftovers.length === 0, JSON.stringify(leftovers));
  }
  check('extension deactivate() ran on stop', fs.existsSync(deactivateFile));
}

async function partB(vsix) {
  const artifactsDir = path.join(ART, 'trust');
  const server = await e2e.startCodeServer({ workspace: ws, vsix, name: 'smoke-trust', artifactsDir, trust: true });
  const ui = await e2e.launchBrowser({ artifactsDir });
  const { page } = ui;
  try {
    await e2e.openWorkbench(page, server);
    await page.locator('.monaco-dialog-box').waitFor({ timeout: 30_000 });
    const text = await page.locator('.monaco-dialog-box .dialog-message-text').innerText();
    check('trust ON: startup trust modal shown', /trust the authors/i.test(text), text);
    await e2e.screenshot(page, artifactsDir, 'trust-modal');
    await e2e.answerTrustPrompt(page, false);
    await e2e.waitUntil(() => e2e.isRestrictedMode(page), { timeoutMs: 10_000, message: 'Restricted Mode' });
    check('trust ON: "No" -> Restricted Mode', await e2e.isRestrictedMode(page), (await e2e.statusBarTexts(page)).join(' | '));
    check('trust ON: extension not activated while untrusted', (await e2e.statusBarItem(page, STATUS).count()) === 0);
    await e2e.trustWorkspace(page);
    const st = await e2e.waitForStatusBarText(page, STATUS, 'HelloE2E: idle', { timeoutMs: 60_000 });
    check('trust ON: trustWorkspace() ends Restricted Mode and the extension activates', !(await e2e.isRestrictedMode(page)), st);
  } catch (e) {
    await e2e.screenshot(page, artifactsDir, 'failure').catch(() => {});
    throw e;
  } finally {
    await ui.close();
    await server.stop();
  }
}

async function partC() {
  const artifactsDir = path.join(ART, 'exthost');
  const server = await e2e.startCodeServer({ workspace: ws, name: 'smoke-exthost', artifactsDir });
  try {
    const t = Date.now();
    const { code, output } = await e2e.runExtensionHostTests(server, {
      extensionDevelopmentPath: FIXTURE, extensionTestsPath: path.join(FIXTURE, 'test', 'index.cjs'), timeoutMs: 120_000,
      onLog: (l) => console.log('  [exthost] ' + l),
    });
    metric('exthost_tests', Date.now() - t);
    fs.writeFileSync(path.join(artifactsDir, 'exthost-output.txt'), output.join('\n'));
    check('mocha suite inside the real extension host', code === 0 && output.some((l) => /4 passing/.test(l)), `exit code ${code}`);
  } finally {
    await server.stop();
  }
}

let fatal = null;
try {
  const t = Date.now();
  const vsix = await e2e.packageVsix(FIXTURE, { out: path.join(ART, 'hello-ext.vsix') });
  metric('vsce_package', Date.now() - t);
  for (const [name, fn] of [['A', partA], ['B', partB], ['C', partC]]) {
    if (!parts.has(name)) continue;
    const tp = Date.now();
    e2e.log(`--- part ${name}`);
    try { await fn(vsix); } catch (e) { check(`part ${name} completed`, false, e && e.stack || String(e)); }
    metric(`part_${name}`, Date.now() - tp);
  }
} catch (e) {
  fatal = e;
  check('smoke setup', false, e && e.stack || String(e));
} finally {
  e2e.emergencyCleanup(); // no-op when every part stopped its processes
  fs.rmSync(ws, { recursive: true, force: true });
}

// Nothing we started may survive: no live descendants of this process and no process carrying our markers.
const left = await e2e.waitUntil(() => e2e.leftoverProcesses().length === 0, { timeoutMs: 5_000, message: 'no leftover processes' })
  .then(() => [], () => e2e.leftoverProcesses());
check('no code-server/Chromium process left', left.length === 0, JSON.stringify(left));

metric('smoke_total', Date.now() - T0);
const failed = results.filter((r) => !r.ok).length;
console.log(`artifacts: ${ART}`);
console.log(`${results.length - failed} passed, ${failed} failed`);
clearTimeout(globalTimeout);
process.exit(failed || fatal ? 1 : 0);
