/**
 * How an engine is stopped (`stopSignalTo`): an engine whose workers drain forever when each gets
 * SIGTERM (as a Ray head's do) ends in SIGKILL when its whole group is signalled, and `down` says whom
 * it killed; signalled through its leader it stops by itself. Needs `npm run build` first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ENGINES, runCli } from '../support/helpers';
import { downLeavesNothing, killLeftovers, processesOf } from '../support/processes';
import { createWorkspace } from '../support/workspace';

const drainer = (stopSignalTo: string, stopTimeout: string) => ({
  name: 'drainer',
  command: [process.execPath, path.join(ENGINES, 'drainer.cjs'), '--port', '${port}', '--workers', '2'],
  port: 'auto',
  health: { tcp: true },
  stopSignalTo,
  stopTimeout,
});

for (const mode of ['group', 'leader'] as const) {
  test(`(integration) stopSignalTo "${mode}": an engine whose workers drain slowly on SIGTERM ${mode === 'group' ? 'is killed, and down names whom' : 'stops without SIGKILL'}`, async (t) => {
    // The leader mode gets a long timeout: it must not need it.
    const ws = await createWorkspace(t, { engines: [drainer(mode, mode === 'group' ? '1500ms' : '60s')] });
    killLeftovers(ws);
    const up = await runCli(['up', '--detach', '--config', ws.configFile], { env: ws.env });
    assert.equal(up.code, 0, up.stderr);
    const before = processesOf(ws).map((p) => p.pid);
    assert.equal(before.length, 3, 'a leader and two workers');
    const said = await downLeavesNothing(ws);
    if (mode === 'group') {
      const m = /drainer was still running 1\.5 s after SIGTERM: killed (.*) with SIGKILL/.exec(said);
      assert.ok(m, `down says it had to kill: ${said}`);
      const killed = [...m[1]!.matchAll(/pid (\d+)/g)].map((x) => Number(x[1]));
      assert.ok(killed.length >= 2 && killed.every((p) => before.includes(p)), `it names the engine's processes: ${m[1]}`);
    } else {
      assert.doesNotMatch(said, /SIGKILL/, said);
      assert.match(said, /stopped drainer/);
    }
  });
}
