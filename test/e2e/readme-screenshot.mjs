// Makes the README's screenshot: the demo workspace in a real VS Code, every engine started, the panel
// open. `node test/e2e/readme-screenshot.mjs [out.png]` (after setup.sh and npm run build).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_DIR, WORK_DIR, packageVsix, startCodeServer, launchBrowser, openWorkbench, activityBarItem, viewPane, treeItems, runCommand, webviewFrame, waitUntil } from './lib.mjs';

const out = path.resolve(process.argv[2] ?? path.join(REPO_DIR, 'media', 'screenshot.png'));
const state = fs.mkdtempSync(path.join(os.tmpdir(), 'er-shot-state-'));
const vsix = await packageVsix(REPO_DIR, { out: path.join(WORK_DIR, 'vsix', 'engine-room-shot.vsix') });
const server = await startCodeServer({
  workspace: path.join(REPO_DIR, 'test', 'demo'), vsix, name: 'readme-shot',
  env: { ENGINE_ROOM_STATE_DIR: state },
  settings: { 'workbench.colorTheme': 'Default Dark Modern' },
});
const ui = await launchBrowser({ viewport: { width: 1280, height: 760 } });
try {
  const page = ui.page;
  await openWorkbench(page, server);
  const item = activityBarItem(page, 'Engine Room');
  await item.waitFor({ timeout: 30_000 });
  await item.locator('a.action-label').click();
  await viewPane(page, 'Engines').waitFor();
  await page.locator('.part.sidebar .title-actions a.action-label[aria-label^="Start All Engines"]').click();
  await waitUntil(async () => (await treeItems(page, 'Engines')).every((r) => /healthy/.test(r.description)), { timeoutMs: 60_000, message: 'all healthy' });
  await runCommand(page, 'Engine Room: Show Engines Panel');
  await webviewFrame(page, { purpose: 'webviewView', waitFor: 'tbody tr' });
  await new Promise((r) => setTimeout(r, 6000)); // a few health probes for the sparklines
  await page.mouse.move(700, 300);
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await ui.close();
  await server.stop();
}
