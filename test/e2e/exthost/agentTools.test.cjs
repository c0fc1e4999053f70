/* global suite, test */
// Inside the real extension host, as another extension (or a chat participant) would: the Language Model
// tools of Engine Room through vscode.lm, and whether this VS Code offers the MCP server definition API.
// In this mode (extension tests) VS Code accepts confirmations without a dialog: the dialogs themselves
// are checked by agentTools.e2e.mjs through a caller extension in a normal window. The driver passes
// the workspace's engine names in E2E_ENGINES.
const assert = require('assert');
const vscode = require('vscode');

const EXT_ID = 'engine-room.engine-room';
const TOOLS = ['engineRoom_listEngines', 'engineRoom_startEngines', 'engineRoom_stopEngines', 'engineRoom_restartEngines', 'engineRoom_engineLogs', 'engineRoom_engineEndpoints'];
const trusted = process.env.E2E_EXPECT_TRUSTED !== '0';

/** Invokes a tool outside a chat request (no token); resolves { text, json } from its two text parts. */
async function invoke(name, input) {
  const r = await vscode.lm.invokeTool(name, { toolInvocationToken: undefined, input });
  const parts = r.content.map((p) => p.value);
  console.log(`[exthost-tests] ${name} ${JSON.stringify(input)} -> ${parts[0]}`);
  return { text: parts[0], json: JSON.parse(parts[1]) };
}

/** Alive: signal 0 reaches it (the supervisor in this process reaps its engines, so no zombie lingers). */
function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

async function waitFor(fn, what, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

suite('Engine Room for agents, inside the extension host', () => {
  test('the extension is active', async () => {
    const ext = vscode.extensions.getExtension(EXT_ID);
    assert.ok(ext, 'Engine Room is installed');
    await ext.activate();
    console.log(`[exthost-tests] VS Code ${vscode.version}, trusted ${vscode.workspace.isTrusted}, lm ${typeof vscode.lm}, mcp API ${typeof vscode.lm?.registerMcpServerDefinitionProvider}`);
    assert.strictEqual(vscode.workspace.isTrusted, trusted);
  });

  if (!trusted) {
    test('an untrusted workspace gets no tools: every invocation fails, nothing starts', async () => {
      // Give the extension time to have registered them, were it to. (vscode.lm.tools lists contributed
      // tools whose \`when\` is false too: what counts is that none has an implementation.)
      await new Promise((r) => setTimeout(r, 3000));
      for (const name of TOOLS) {
        await assert.rejects(() => invoke(name, name === 'engineRoom_engineLogs' ? { name: 'web' } : {}), (e) => {
          console.log(`[exthost-tests] ${name} untrusted: ${e.message}`);
          return /implementation|not found|not contributed|unknown tool/i.test(e.message);
        });
      }
    });
    return;
  }

  test('vscode.lm.tools lists the six tools with their schemas', async () => {
    const tools = await waitFor(() => {
      const t = vscode.lm.tools.filter((x) => x.name.startsWith('engineRoom_'));
      return t.length === TOOLS.length ? t : null;
    }, 'the tools to be registered');
    assert.deepStrictEqual(tools.map((t) => t.name).sort(), [...TOOLS].sort());
    const start = tools.find((t) => t.name === 'engineRoom_startEngines');
    assert.deepStrictEqual(Object.keys(start.inputSchema.properties).sort(), ['folder', 'names']);
    assert.ok(tools.find((t) => t.name === 'engineRoom_engineLogs').inputSchema.required.includes('name'));
  });

  const [engine] = (process.env.E2E_ENGINES || '').split(',');

  test('list: every engine stopped', async () => {
    const list = await invoke('engineRoom_listEngines', {});
    assert.deepStrictEqual(list.json.engines.map((e) => e.name), (process.env.E2E_ENGINES || '').split(','));
    assert.deepStrictEqual(list.json.engines.map((e) => e.state), list.json.engines.map(() => 'stopped'));
  });

  test('an unknown engine is an error that names the engines', async () => {
    // The confirmation is prepared from the input: it fails before any dialog.
    await assert.rejects(() => invoke('engineRoom_startEngines', { names: ['nope'] }), /No engine named "nope"; the engines are: /);
    await assert.rejects(() => invoke('engineRoom_engineLogs', {}), /"name"/);
  });

  let pid;
  test('start returns once the engine is healthy; endpoints give a URL that answers; the log has its output', async () => {
    const r = await invoke('engineRoom_startEngines', { names: [engine] });
    assert.strictEqual(r.json.ok, true, r.text);
    assert.deepStrictEqual(r.json.healthy, [engine]);
    assert.strictEqual(r.json.engines[0].state, 'healthy');
    pid = r.json.engines[0].pid;
    assert.ok(pidAlive(pid), 'the engine runs');
    const ep = await invoke('engineRoom_engineEndpoints', { names: [engine] });
    const url = ep.json.endpoints[0].url;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.strictEqual(ep.json.endpoints[0].variables[`ENGINE_${engine.toUpperCase()}_URL`], url);
    const res = await fetch(`${url}/health`);
    assert.strictEqual(res.status, 200);
    const log = await invoke('engineRoom_engineLogs', { name: engine, lines: 50 });
    assert.ok(log.json.lines.length > 0, 'the log has lines');
  });

  test('stop ends the engine\'s process', async () => {
    const r = await invoke('engineRoom_stopEngines', { names: [engine] });
    assert.strictEqual(r.json.engines[0].state, 'stopped');
    await waitFor(() => !pidAlive(pid), 'the engine process to end');
  });

  test('the MCP server definition API from 1.101 on (1.100 has a proposed one the extension leaves alone)', () => {
    const [major, minor] = vscode.version.split('.').map(Number);
    if (major > 1 || minor >= 101) assert.strictEqual(typeof vscode.lm.registerMcpServerDefinitionProvider, 'function', `VS Code ${vscode.version}`);
    assert.ok(vscode.extensions.getExtension(EXT_ID).isActive, 'Engine Room activated');
  });
});
