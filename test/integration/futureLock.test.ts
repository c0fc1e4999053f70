/** A `registry.lock` dated 2 h ahead (left by a process whose clock was ahead) does not block the CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ENGINES, cliStatus, runCli } from '../support/helpers';
import { createWorkspace } from '../support/workspace';

const node = process.execPath;
const httpServer = path.join(ENGINES, 'http_server.cjs');
const TWO_HOURS = 2 * 3600 * 1000;

for (const kind of ['left by proper-lockfile (no holder named)', 'naming a holder that is dead'] as const) {
  test(`(integration) a registry.lock dated 2 h ahead, ${kind}: \`up --detach\` and \`down\` go through`, async (t) => {
    const ws = await createWorkspace(t, { engines: [{ name: 'web', command: [node, httpServer, '--port', '${port}', '--name', 'web'], port: 'auto', health: { http: '/health' } }] });
    fs.mkdirSync(ws.stateDir, { mode: 0o700 });
    const lock = path.join(ws.stateDir, 'registry.lock');
    fs.mkdirSync(lock);
    if (kind === 'naming a holder that is dead') {
      const pid = Number(spawnSync(node, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
      fs.writeFileSync(path.join(lock, 'holder.json'), JSON.stringify({ pid, startTime: '1', host: os.hostname(), token: 'from-the-future' }));
    }
    const ahead = new Date(Date.now() + TWO_HOURS);
    fs.utimesSync(lock, ahead, ahead);
    t.after(() => runCli(['down', '--config', ws.configFile], { env: ws.env }));
    const t0 = Date.now();
    // Without holder identity the lock never looked stale (mtime ahead): `up` failed with lock-timeout.
    const up = await runCli(['up', '--detach', '--config', ws.configFile], { env: ws.env });
    t.diagnostic(`up --detach took ${Date.now() - t0} ms`);
    assert.equal(up.code, 0, up.stderr);
    const [web] = await cliStatus(ws.configFile, ws.env);
    assert.equal(web?.state, 'healthy');
    const down = await runCli(['down', '--config', ws.configFile], { env: ws.env });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, /stopped web/);
  });
}
