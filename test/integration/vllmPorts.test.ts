/**
 * vLLM's ports beyond VLLM_PORT and MASTER_PORT, as real processes see them: two vLLM-like fake engines
 * (fake_vllm.py prints the variables it got) and two plain engines with a block, started by `up
 * --detach`. Each gets VLLM_DP_MASTER_PORT, VLLM_NIXL_SIDE_CHANNEL_PORT and MASTER_PORT from its own
 * block, above the ports VLLM_PORT's scan takes; a MASTER_PORT the engine sets is kept.
 * Needs `npm run build` first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENGINES, cliStatus, runCli, waitFor } from '../support/helpers';
import { downLeavesNothing, killLeftovers } from '../support/processes';
import { createWorkspace } from '../support/workspace';

const vllm = (name: string) => ({ name, preset: 'vllm', command: ['python3', path.join(ENGINES, 'fake_vllm.py'), '--internal', '2', '--load', '0.2'] });
// Prints its MASTER_PORT, then stays up.
const trainer = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  command: [process.execPath, '-e', 'console.log("MASTER_PORT=" + process.env.MASTER_PORT); setInterval(() => {}, 1000)'],
  portBlock: 3,
  health: { log: 'MASTER_PORT=' },
  ...extra,
});

test('(integration) vllm preset: the data-parallel master, NIXL side channel and MASTER_PORT come from each engine\'s block', async (t) => {
  const ws = await createWorkspace(t, {
    engines: [vllm('a'), vllm('b'), trainer('t1'), trainer('t2', { env: { MASTER_PORT: '29555' } })],
  });
  killLeftovers(ws);
  const up = await runCli(['up', '--detach', '--config', ws.configFile], { env: ws.env, timeoutMs: 120_000 });
  assert.equal(up.code, 0, up.stderr);
  const engines = await cliStatus(ws.configFile, ws.env);
  const line = async (name: string, re: RegExp): Promise<RegExpMatchArray> => {
    const e = engines.find((x) => x.name === name)!;
    return waitFor(() => re.exec(fs.readFileSync(e.logFile, 'utf8')), `${name} prints ${re}`, 30_000, 100);
  };
  const seen: number[] = [];
  for (const name of ['a', 'b']) {
    const block = engines.find((x) => x.name === name)!.portBlock!;
    const m = await line(name, /env VLLM_PORT=(\d+) VLLM_DP_MASTER_PORT=(\d+) VLLM_NIXL_SIDE_CHANNEL_PORT=(\d+) MASTER_PORT=(\d+)/);
    const [vllmPort, dp, nixl, master] = m.slice(1).map(Number) as [number, number, number, number];
    assert.deepEqual([vllmPort, dp, nixl, master], [block[0], block[0] + 20, block[0] + 30, block[1]], `${name}: block ${block.join('-')}`);
    seen.push(dp, nixl, master);
  }
  assert.equal(new Set(seen).size, seen.length, 'no port shared between the two engines');
  const t1 = engines.find((x) => x.name === 't1')!.portBlock!;
  assert.equal((await line('t1', /MASTER_PORT=(\d+)/))[1], String(t1[1]), 'an engine without a preset: the last port of its block');
  assert.equal((await line('t2', /^MASTER_PORT=(\d+)$/m))[1], '29555', 'the engine\'s own MASTER_PORT wins');
  await downLeavesNothing(ws);
});
