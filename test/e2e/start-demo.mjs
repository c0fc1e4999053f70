// `npm start`: the main job. Packages the extension, installs it into a local code-server (a real
// VS Code 1.100.3) with a fresh profile, opens the demo workspace (test/demo) and prints the URL to open
// in a browser. Ctrl-C stops code-server and, with it, the engines it started.
import * as path from 'node:path';
import { REPO_DIR, WORK_DIR, packageVsix, startCodeServer } from './lib.mjs';

const demo = path.join(REPO_DIR, 'test', 'demo');
const port = Number(process.env.PORT || 8080);
const vsix = await packageVsix(REPO_DIR, { out: path.join(WORK_DIR, 'vsix', 'engine-room.vsix') });
const server = await startCodeServer({
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
From a terminal: npx engine-room status --config test/demo/.vscode/engines.json
Press Ctrl-C to stop.
`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nStopping code-server (the engines it started stop with it)...\n');
  await server.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
