/**
 * `engine-room mcp` driven by the MCP SDK's own client over stdio, the server a real process of the built
 * CLI (`npm run build` first): tools listed, engines started, a log read, endpoints used, stopped; bad
 * arguments are tool errors and the server goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CLI, ENGINES, cliStatus, pidAlive, waitFor } from '../support/helpers';
import { createWorkspace } from '../support/workspace';

const httpServer = path.join(ENGINES, 'http_server.cjs');

interface EngineJson {
  name: string;
  state: string;
  pid: number | null;
  ports: Record<string, number>;
  owner: { label: string } | null;
}

function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** A bad call: a tool error result or an MCP error, never a dead server. */
async function refused(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  try {
    const r = await call(client, name, args);
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} is refused: ${text(r)}`);
    return text(r);
  } catch (e) {
    assert.equal((e as Error).name, 'McpError', String(e));
    return (e as Error).message;
  }
}

test('(integration) mcp over stdio with the SDK client: list tools, start two engines, read a log, endpoints, stop; bad arguments are MCP errors', async (t) => {
  const node = process.execPath;
  const { env, configFile } = await createWorkspace(t, {
    engines: [
      { name: 'api', command: [node, httpServer, '--port', '${port}', '--name', 'api', '--delay', '300'], port: 'auto', health: { http: '/health' }, openai: true },
      { name: 'web', command: [node, httpServer, '--port', '${port}', '--name', 'web'], port: 'auto', health: { http: '/health' } },
      { name: 'broken', command: [node, '-e', 'console.log("broken: no model here"); process.exit(3)'], port: 'auto', health: { http: '/health' } },
    ],
  });
  const transport = new StdioClientTransport({ command: node, args: [CLI, 'mcp', '--config', configFile], env: { ...(process.env as Record<string, string>), ...(env as Record<string, string>) }, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d) => (stderr += d));
  const client = new Client({ name: 'engine-room-test', version: '1.0.0' });
  await client.connect(transport).catch((e: unknown) => assert.fail(`the server did not start: ${String(e)}\n${stderr}`));
  const serverPid = transport.pid!;
  t.after(async () => {
    await client.close().catch(() => {});
  });

  const tools = (await client.listTools()).tools.map((x) => x.name).sort();
  assert.deepEqual(tools, ['engine_endpoints', 'engine_logs', 'list_engines', 'restart_engines', 'start_engines', 'stop_engines']);

  const listed = await call(client, 'list_engines');
  const before = (listed.structuredContent as { engines: EngineJson[] }).engines;
  assert.deepEqual(before.map((e) => [e.name, e.state]), [['api', 'stopped'], ['web', 'stopped'], ['broken', 'stopped']]);
  assert.match(text(listed), /api: stopped/);

  const started = await call(client, 'start_engines', { names: ['api', 'web'] });
  assert.notEqual(started.isError, true, text(started));
  const s = started.structuredContent as { ok: boolean; healthy: string[]; failed: unknown[]; engines: EngineJson[] };
  assert.equal(s.ok, true);
  assert.deepEqual(s.healthy.sort(), ['api', 'web']);
  assert.match(text(started), /healthy: /);
  // Another process sees them running, owned by the MCP server.
  const seen = await cliStatus(configFile, env);
  for (const name of ['api', 'web']) {
    const e = seen.find((x) => x.name === name)!;
    assert.equal(e.state, 'healthy', name);
    assert.match(e.owner!.label, /engine-room mcp/);
  }

  const failed = await call(client, 'start_engines', { names: ['broken'] });
  const f = failed.structuredContent as { ok: boolean; failed: Array<{ name: string; reason: string | null }> };
  assert.equal(f.ok, false);
  assert.deepEqual(f.failed.map((x) => x.name), ['broken']);
  assert.match(text(failed), /failed: broken/);

  const log = await call(client, 'engine_logs', { name: 'broken', lines: 5 });
  assert.ok((log.structuredContent as { lines: string[] }).lines.some((l) => l.includes('broken: no model here')), text(log));
  const apiLog = await call(client, 'engine_logs', { name: 'api' });
  assert.match(text(apiLog), /api listening on http:\/\/127\.0\.0\.1:\d+/);

  const ep = await call(client, 'engine_endpoints', { names: ['api', 'web'] });
  const endpoints = (ep.structuredContent as { endpoints: Array<{ name: string; url: string; openaiBaseUrl: string | null; variables: Record<string, string> }> }).endpoints;
  const api = endpoints.find((e) => e.name === 'api')!;
  assert.equal(api.openaiBaseUrl, `${api.url}/v1`);
  assert.equal(api.variables.ENGINE_API_URL, api.url);
  assert.equal(endpoints.find((e) => e.name === 'web')!.openaiBaseUrl, null);
  for (const e of endpoints) {
    const res = await fetch(`${e.url}/health`);
    assert.equal(res.status, 200, e.name);
    assert.match(await res.text(), new RegExp(`"name":"${e.name}"`));
  }

  // Bad arguments: a tool error or an MCP error, and the server still answers.
  assert.match(await refused(client, 'engine_logs', { name: 5 }), /-32602.*invalid arguments.*\bname\b/i);
  assert.match(await refused(client, 'engine_logs', { name: 'api', lines: -1 }), /-32602.*invalid arguments.*\blines\b/i);
  assert.match(await refused(client, 'start_engines', { names: 'api' }), /-32602.*invalid arguments.*\bnames\b/i);
  assert.match(await refused(client, 'stop_engines', { names: ['nope'] }), /No engine named "nope"/);
  assert.match(await refused(client, 'no_such_tool', {}), /no_such_tool/);
  assert.ok(pidAlive(serverPid), `the server lives on (${stderr})`);

  const pids = seen.filter((e) => e.pid !== null).map((e) => e.pid!);
  const stopped = await call(client, 'stop_engines', {});
  assert.deepEqual((stopped.structuredContent as { engines: EngineJson[] }).engines.map((e) => e.state), ['stopped', 'stopped', 'stopped']);
  assert.deepEqual(pids.filter(pidAlive), [], 'stop ends their processes');

  // Engines the server started stop when the client goes away.
  await call(client, 'restart_engines', { names: ['web'] });
  const web = (await cliStatus(configFile, env)).find((e) => e.name === 'web')!;
  assert.equal(web.state, 'healthy');
  await client.close();
  await waitFor(() => !pidAlive(serverPid), 'the server to exit');
  assert.equal(pidAlive(web.pid!), false, 'the engine stopped with the server');
  assert.ok(fs.existsSync(configFile));
});

test('(integration) mcp: a group of replicas named by its entry starts and stops all its replicas', async (t) => {
  const node = process.execPath;
  const { env, configFile } = await createWorkspace(t, {
    engines: [
      { name: 'pool', replicas: 2, command: [node, httpServer, '--port', '${port}', '--name', 'pool-${replica}'], port: 'auto', health: { http: '/health' } },
      { name: 'other', command: [node, httpServer, '--port', '${port}', '--name', 'other'], port: 'auto', health: { http: '/health' } },
    ],
  });
  const transport = new StdioClientTransport({ command: node, args: [CLI, 'mcp', '--config', configFile], env: { ...(process.env as Record<string, string>), ...(env as Record<string, string>) }, stderr: 'pipe' });
  const client = new Client({ name: 'engine-room-test', version: '1.0.0' });
  await client.connect(transport);
  t.after(async () => {
    await client.close().catch(() => {});
  });

  const started = await call(client, 'start_engines', { names: ['pool'] });
  assert.notEqual(started.isError, true, text(started));
  assert.deepEqual((started.structuredContent as { healthy: string[] }).healthy.sort(), ['pool-0', 'pool-1']);
  const listed = (await call(client, 'list_engines', { names: ['pool'] })).structuredContent as { engines: EngineJson[] };
  assert.deepEqual(listed.engines.map((e) => [e.name, e.state]), [['pool-0', 'healthy'], ['pool-1', 'healthy']]);
  assert.equal((await cliStatus(configFile, env)).find((e) => e.name === 'other')!.state, 'stopped', 'only the group started');

  const stopped = (await call(client, 'stop_engines', { names: ['pool'] })).structuredContent as { engines: EngineJson[] };
  assert.deepEqual(stopped.engines.map((e) => [e.name, e.state]), [['pool-0', 'stopped'], ['pool-1', 'stopped']]);
  assert.match(await refused(client, 'start_engines', { names: ['pool', 'nope'] }), /No engine named "nope"/);
});
