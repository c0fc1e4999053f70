import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { loadConfig } from '../../src/core/config';
import { Supervisor, type EngineSnapshot } from '../../src/core/supervisor/supervisor';
import { ensureStateDir } from '../../src/core/stateDir';
import { createWorkspace, type Workspace } from '../support/workspace';

const node = process.execPath;

async function setup(t: TestContext, engines: unknown[] | ((ws: Workspace) => unknown[])) {
  const ws = await createWorkspace(t, { engines: [] });
  if (typeof engines === 'function') engines = engines(ws);
  fs.writeFileSync(ws.configFile, JSON.stringify({ engines }));
  const loaded = await loadConfig(ws.configFile);
  assert.ok(loaded.config, JSON.stringify(loaded.problems));
  const sup = new Supervisor({ config: loaded.config, stateDir: ensureStateDir(ws.stateDir), ownerKind: 'other', ownerLabel: 'test', ranges: ws.ranges });
  ws.onCleanup(() => sup.dispose());
  const events: EngineSnapshot[] = [];
  sup.on('change', (s) => events.push(s));
  return { ws, sup, events };
}

test('(unit) an engine that prints "Address already in use" and exits 1 without a port conflict fails for its own reason, not retried', async (t) => {
  // Ray's hint for any GCS start failure.
  const script = 'console.error("Failed to start GCS. Perhaps the port is taken: Address already in use"); process.exit(1)';
  const { sup, events } = await setup(t, [{ name: 'gcs', command: [node, '-e', script, '${port}'], port: 'auto', health: { tcp: true } }]);
  const [o] = await sup.start();
  assert.equal(o?.ok, false);
  const snap = sup.snapshot('gcs');
  assert.equal(snap.state, 'failed');
  assert.equal(snap.errorCode, 'exited', snap.reason);
  assert.match(snap.reason ?? '', /exited with code 1: .*no other program holds its ports/);
  assert.equal(snap.failure?.kind, 'address-in-use', 'named from its log, with a hint');
  assert.equal(events.filter((e) => e.state === 'starting').length, 1, 'one attempt, no retry on fresh ports');
  assert.equal(events.some((e) => e.errorCode === 'EADDRINUSE'), false);
  const log = fs.readFileSync(snap.logFile, 'utf8');
  assert.equal(log.match(/starting gcs/g)?.length, 1, log);
});

test('(unit) an engine whose leased port is really held by another process is retried on fresh ports', async (t) => {
  let port = 0;
  let squatter: ReturnType<typeof spawn> | undefined;
  const { sup, events } = await setup(t, (ws) => {
    const go = path.join(ws.dir, 'go');
    const listening = path.join(ws.dir, 'listening');
    port = ws.ranges.auto[0];
    // Bound with SO_REUSEADDR, not listening: invisible to the lease's probe. It listens once the engine
    // asks (the file \`go\`), so the engine's own listen fails: deterministic, no sleeps.
    squatter = spawn('python3', ['-c', `import socket,time,os\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(("127.0.0.1", ${port}))\nprint("bound", flush=True)\nwhile not os.path.exists(${JSON.stringify(go)}): time.sleep(0.01)\ns.listen(1)\nopen(${JSON.stringify(listening)}, "w").close()\ntime.sleep(60)`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const engine = `const fs=require("fs");fs.writeFileSync(${JSON.stringify(go)},"");const w=()=>fs.existsSync(${JSON.stringify(listening)})?listen():setTimeout(w,10);w();
function listen(){const s=require("http").createServer((q,r)=>r.end("ok"));s.on("error",(e)=>{console.error("listen failed: "+e.message);process.exit(1)});s.listen(Number(process.argv[1]),"127.0.0.1")}`;
    return [{ name: 'victim', command: [node, '-e', engine, '${port}'], port: 'auto', health: { http: '/' } }];
  });
  const sq = squatter as unknown as ReturnType<typeof spawn>;
  t.after(() => sq.kill('SIGKILL'));
  await new Promise((r) => sq.stdout?.once('data', r));
  const [o] = await sup.start();
  assert.equal(o?.ok, true, o?.reason);
  const snap = sup.snapshot('victim');
  assert.notEqual(snap.ports.port, port, 'restarted on a fresh port');
  const failure = events.find((e) => e.errorCode === 'EADDRINUSE');
  assert.ok(failure, 'the first attempt failed with EADDRINUSE');
  assert.match(failure.reason ?? '', new RegExp(`port ${port} is held by pid ${sq.pid} `));
});
