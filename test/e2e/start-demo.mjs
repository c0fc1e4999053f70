// `npm start`: the main job. Packages the extension, installs it into a local code-server (a real
// VS Code 1.100.3) with a fresh profile, opens the demo workspace (test/demo; DEMO_WORKSPACE=DIR opens
// another) and prints the URL to open in a browser. Ctrl-C (or SIGTERM) stops gracefully: code-server is
// asked to close (SIGTERM), the extension's deactivate() stops the engines it started (their stop signal,
// SIGKILL only after their stopTimeout), and only what is left STOP_GRACE_MS (default 20 s) later is killed.
import * as path from 'node:path';
import { REPO_DIR, WORK_DIR, onSignal, packageVsix, startCodeServer } from './lib.mjs';

const demo = path.resolve(process.env.DEMO_WORKSPACE || path.join(REPO_DIR, 'test', 'demo'));
const port = Number(process.env.PORT || 8080);
const graceMs = Number(process.env.STOP_GRACE_MS || 20_000);
let server;
let stopping = false;
const stop = async (sig) => {
  if (stopping) return;
  stopping = true;
  if (!server) process.exit(130); // still packaging: nothing runs yet
  process.stdout.write(`\n${sig}: stopping code-server; the extension stops the engines it started (a second Ctrl-C kills at once)...\n`);
  const { leftovers } = await server.stop({ graceMs });
  process.stdout.write(leftovers.length ? `Killed ${leftovers.length} process(es) still running ${graceMs / 1000} s after the stop: ${leftovers.map((p) => p.pid).join(', ')}\n` : 'Stopped.\n');
  process.exit(0);
};
onSignal(stop);
const vsix = await packageVsix(REPO_DIR, { out: path.join(WORK_DIR, 'vsix', 'engine-room.vsix') });
server = await startCodeServer({
  workspace: demo,
  vsix,
  port,
  name: 'demo',
  settings: { 'workbench.colorTheme': process.env.ENGINE_ROOM_THEME || 'Default Dark Modern' },
});
process.stdout.write(`
Engine Room demo is running in a real VS Code (code-server ${server.csVersion}):

    ${server.workbenchUrl()}

Open it in a browser, click the Engine Room icon in the activity bar, then "Start All Engines".
From a terminal: npx engine-room status --config ${path.relative(process.cwd(), path.join(demo, '.vscode', 'engines.json'))}
Press Ctrl-C to stop.
`);
setInterval(() => {}, 1 << 30);
