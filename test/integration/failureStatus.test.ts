/**
 * (integration) Issue 12 with the CLI as real OS processes: a failed engine says why in `up --detach`
 * and in a later `status` of another process (text and JSON); an engine started again later by another
 * `up` gets the port it had, while another config's engines keep off it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ENGINES, runCli } from '../support/helpers';
import { createWorkspace } from '../support/workspace';

const httpServer = path.join(ENGINES, 'http_server.cjs');

test('(integration) a failed engine shows why: the signature and hint in `up --detach`, then in `status` and `status --json` of another process', async (t) => {
  const { env, configFile } = await createWorkspace(t, {
    engines: [
      { name: 'policy', command: ['python3', '-c', 'import sys; print("loading"); import no_such_engine_module_xyz', '--port', '${port}'], port: 'auto' },
      { name: 'reward', command: ['python3', '-c', "import argparse; p = argparse.ArgumentParser(prog='reward'); p.add_argument('--model'); p.parse_args()", '--port', '${port}'], port: 'auto' },
      { name: 'ok', command: [process.execPath, httpServer, '--port', '${port}'], port: 'auto', health: { http: '/health' } },
    ],
  });
  t.after(() => runCli(['down', '--config', configFile], { env }));
  const up = await runCli(['up', '--detach', '--config', configFile], { env, timeoutMs: 60_000 });
  assert.equal(up.code, 1, up.stderr);
  assert.match(up.stderr, /policy failed: exited with code 1: missing module "no_such_engine_module_xyz"/);
  assert.match(up.stderr, /hint: Install it into the Python that the command runs \(pip install no_such_engine_module_xyz\)/);
  assert.match(up.stderr, /ModuleNotFoundError: No module named 'no_such_engine_module_xyz'/);
  assert.match(up.stderr, /reward failed: exited with code 2: the program does not know the flag "--port"/);

  const text = await runCli(['status', '--config', configFile], { env });
  assert.equal(text.code, 0, text.stderr);
  const row = (name: string) => text.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
  assert.match(text.stdout.split('\n')[0]!, /REASON$/);
  assert.match(row('policy'), /^policy\s+failed\s.*missing module "no_such_engine_module_xyz"$/);
  assert.match(row('reward'), /^reward\s+failed\s.*the program does not know the flag "--port"$/);
  assert.match(row('ok'), /^ok\s+healthy\s/);
  assert.match(text.stdout, /ModuleNotFoundError: No module named 'no_such_engine_module_xyz'/, 'the last lines, below the table');

  const json = await runCli(['status', '--json', '--config', configFile], { env });
  const engines = (JSON.parse(json.stdout) as { engines: Array<{ name: string; state: string; failure: { kind: string; hint: string | null; lines: string[] } | null }> }).engines;
  const policy = engines.find((e) => e.name === 'policy')!;
  assert.equal(policy.state, 'failed');
  assert.equal(policy.failure?.kind, 'missing-module');
  assert.equal(engines.find((e) => e.name === 'reward')?.failure?.kind, 'unknown-flag');
  assert.equal(engines.find((e) => e.name === 'ok')?.failure, null);

  // Started again (and it works now): the failure is over.
  const fixed = await runCli(['up', '--detach', 'ok', '--config', configFile], { env });
  assert.equal(fixed.code, 0, fixed.stderr);
});

test('(integration) an engine started again by a later `up` gets the port it had; another config\'s engines keep off it meanwhile', async (t) => {
  const { env, configFile, addFolder } = await createWorkspace(t, {
    engines: [
      { name: 'db', command: [process.execPath, httpServer, '--port', '${port}'], port: 'auto', health: { http: '/health' } },
      { name: 'api', command: [process.execPath, httpServer, '--port', '${port}'], port: 'auto', health: { http: '/health' }, dependsOn: ['db'] },
    ],
  });
  const other = addFolder({ engines: [{ name: 'web', command: [process.execPath, httpServer, '--port', '${port}'], port: 'auto', health: { http: '/health' } }] });
  t.after(async () => {
    await runCli(['down', '--config', configFile], { env });
    await runCli(['down', '--config', other.configFile], { env });
  });
  const status = async (config: string) => (JSON.parse((await runCli(['status', '--json', '--config', config], { env })).stdout) as { engines: Array<{ name: string; ports: { port?: number } }> }).engines;
  assert.equal((await runCli(['up', '--detach', '--config', configFile], { env })).code, 0);
  const first = await status(configFile);
  const api = first.find((e) => e.name === 'api')!.ports.port!;
  const db = first.find((e) => e.name === 'db')!.ports.port!;
  assert.equal((await runCli(['down', '--config', configFile], { env })).code, 0);
  // Another project's engine, started while these are down, does not take their ports.
  assert.equal((await runCli(['up', '--detach', '--config', other.configFile], { env })).code, 0);
  const web = (await status(other.configFile))[0]!.ports.port!;
  assert.ok(web !== api && web !== db, `web took ${web}, one of api's ${api} and db's ${db}`);
  // Only api's dependency first, then api: each gets its own port back.
  assert.equal((await runCli(['up', '--detach', 'api', '--config', configFile], { env })).code, 0);
  const again = await status(configFile);
  assert.equal(again.find((e) => e.name === 'api')!.ports.port, api);
  assert.equal(again.find((e) => e.name === 'db')!.ports.port, db);
});
