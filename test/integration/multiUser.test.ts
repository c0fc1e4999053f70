/**
 * Two real OS users on one host (created by the test; it runs as root, as CI does): their engines never
 * share a port, and neither can read, free or redirect the other's. Also: a user's state directory is
 * the same whatever TMPDIR or XDG_RUNTIME_DIR a process was given (an editor with a private TMPDIR and a
 * terminal see the same engines). Needs `npm run build` first.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pidAlive, waitFor, type JsonEngine, type Run } from '../support/helpers';
import { claimPorts, type PortClaim } from '../support/ports';
import { createUser, runAs, sharedTree, spawnAs, userConfig, type OsUser, type SharedTree } from '../support/osUsers';

const ROUNDS = 5;
const PER_USER = 8;
/** The name of a lease file that B forges. */
const FORGED = (uid: number) => `${uid}-${'f'.repeat(16)}.json`;

let tree: SharedTree;
let a: OsUser;
let b: OsUser;
let ports: PortClaim;
let contention: PortClaim;
/** The env both users' CLIs get: the same port ranges and lease directory, each its own TMPDIR. */
let common: NodeJS.ProcessEnv;

before(() => {
  assert.equal(process.getuid?.(), 0, 'this test creates OS users: run it as root (CI does)');
});

before(async () => {
  tree = sharedTree();
  a = createUser('era');
  b = createUser('erb');
  ports = await claimPorts(500);
  contention = await claimPorts(24);
  // A 1777 parent, as /tmp: the first user's CLI creates the lease directory in it.
  const shared = path.join(tree.root, 'shared');
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o1777);
  common = {
    ENGINE_ROOM_PORT_RANGE: `${ports.from}-${ports.from + 99}`,
    ENGINE_ROOM_BLOCK_RANGE: `${ports.from + 100}-${ports.to}`,
    ENGINE_ROOM_LEASE_DIR: path.join(shared, 'leases'),
  };
});

after(async () => {
  a?.remove();
  b?.remove();
  await ports?.release();
  await contention?.release();
  tree?.remove();
});

function cli(user: OsUser, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const tmp = path.join(tree.root, `tmp-${user.name}`);
  return runAs(user, process.execPath, [tree.cli, ...args], { ...common, TMPDIR: tmp, ...env });
}

async function status(user: OsUser, config: string): Promise<JsonEngine[]> {
  const r = await cli(user, ['status', '--json', '--config', config]);
  assert.equal(r.code, 0, `status as ${user.name}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { engines: JsonEngine[] }).engines;
}

/** Eight vLLM-like engines, as cli.test.ts: half in leased blocks (VLLM_PORT), half picking from one narrow range shared by both users. */
function engines(tag: string): unknown[] {
  const fakeVllm = path.join(tree.engines, 'fake_vllm.py');
  const out = [];
  for (let i = 0; i < PER_USER; i++) {
    const withBlock = i % 2 === 0;
    out.push({
      name: `vllm-${tag}-${i}`,
      command: withBlock
        ? ['python3', fakeVllm, '--port', '${port}', '--internal', '3', '--load', '0.3']
        : // Without a block these collide across users unless the start slot is host-wide.
          ['python3', fakeVllm, '--port', '${port}', '--internal', '2', '--load', '0.3', '--contention', `${contention.from}-${contention.to}`],
      env: withBlock ? { VLLM_PORT: '${portBlock}' } : {},
      port: 'auto',
      ...(withBlock ? { portBlock: 10, startLock: 'leaseOnly' } : { startLock: 'untilHealthy' }),
      health: { http: '/health' },
      startTimeout: '3m',
    });
  }
  return out;
}

/**
 * Runs `fs` operations as `user` in a separate Node process and returns each one's error code
 * ('ok' when it succeeded): what another local user can and cannot do.
 */
async function tryAs(user: OsUser, ops: Array<[string, ...unknown[]]>): Promise<string[]> {
  const script = `
    const fs = require('node:fs');
    const ops = JSON.parse(process.argv[1]);
    const out = ops.map(([op, ...args]) => {
      try {
        if (op === 'kill') process.kill(args[0], 'SIGTERM'); else fs[op](...args);
        return 'ok';
      } catch (e) {
        return e.code || String(e);
      }
    });
    process.stdout.write(JSON.stringify(out));`;
  const r = await runAs(user, process.execPath, ['-e', script, JSON.stringify(ops)]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

test('(integration) two OS users start eight vLLM-like engines each at the same moment: no port leased twice, no EADDRINUSE, 16 of 16 healthy, and neither can touch the other', async () => {
  const configA = userConfig(a, path.join(tree.root, `ws-${a.name}`), { engines: engines('a') });
  const configB = userConfig(b, path.join(tree.root, `ws-${b.name}`), { engines: engines('b') });
  for (const u of [a, b]) {
    const tmp = path.join(tree.root, `tmp-${u.name}`);
    fs.mkdirSync(tmp, { mode: 0o700 });
    fs.chownSync(tmp, u.uid, u.gid);
  }
  // A process of A's that is not an engine: nobody's `down` may signal it.
  const sentinel = spawnAs(a, 'sleep', ['600']);
  const logSizes = new Map<string, number>();
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      if (round === 2) {
        // B forges leases of the whole port range: in A's name (a file B owns, named for A's uid) and
        // in its own, held by A's live process. Both must be ignored, or nothing could start.
        const leaseDir = common.ENGINE_ROOM_LEASE_DIR!;
        const all = { ports: [], block: [ports.from, ports.to], holders: [{ pid: sentinel.pid, startTime: startTime(sentinel.pid!) }] };
        const forged = (uid: number) => JSON.stringify({ version: 1, uid, leases: [all], slot: { holder: all.holders[0], expiresAt: Number.MAX_SAFE_INTEGER } });
        const res = await tryAs(b, [
          ['writeFileSync', path.join(leaseDir, FORGED(a.uid)), forged(a.uid)],
          ['writeFileSync', path.join(leaseDir, FORGED(b.uid)), forged(b.uid)],
        ]);
        assert.deepEqual(res, ['ok', 'ok'], 'B can write files of its own in the lease directory');
      }
      const t0 = Date.now();
      const [ra, rb] = await Promise.all([cli(a, ['up', '--detach', '--json', '--config', configA]), cli(b, ['up', '--detach', '--json', '--config', configB])]);
      let all: JsonEngine[] = [];
      try {
        assert.equal(ra.code, 0, `round ${round}, A: ${ra.stderr}`);
        assert.equal(rb.code, 0, `round ${round}, B: ${rb.stderr}`);
        console.log(`round ${round}: both up --detach returned in ${Date.now() - t0} ms`);
        const sa = await status(a, configA);
        const sb = await status(b, configB);
        all = [...sa, ...sb];
        assert.equal(all.length, 2 * PER_USER);
        assert.deepEqual(all.filter((e) => e.state !== 'healthy').map((e) => `${e.name}: ${e.state}`), [], `round ${round}: 16 of 16 healthy`);
        const used: number[] = [];
        for (const e of all) {
          // This round's part of the log (it grows from round to round).
          const log = fs.readFileSync(e.logFile, 'utf8').slice(logSizes.get(e.logFile) ?? 0);
          assert.doesNotMatch(log, /EADDRINUSE/, `round ${round}: ${e.name} hit EADDRINUSE`);
          const m = /serving port (\d+), internal ports \[([\d, ]*)\]/.exec(log);
          assert.ok(m, `${e.name} printed its ports`);
          const internal = m[2]!.split(',').filter(Boolean).map(Number);
          if (e.portBlock) for (const p of internal) assert.ok(p >= e.portBlock[0] && p <= e.portBlock[1], `round ${round}, ${e.name}: ${p} inside its block ${e.portBlock}; all: ${all.map((x) => `${x.name} ${x.ports.port} ${x.portBlock}`).join('; ')}`);
          used.push(e.ports.port!, ...internal);
        }
        const leased = [...sa, ...sb].flatMap((e) => [e.ports.port!, ...(e.portBlock ? range(e.portBlock) : [])]);
        assert.equal(new Set(leased).size, leased.length, `round ${round}: no port leased twice`);
        assert.equal(new Set(used).size, used.length, `round ${round}: no port bound by two engines: ${used.join(',')}`);

        // Each sees the other's leases (ports and pids only).
        const seen = JSON.parse((await cli(a, ['status', '--all', '--json'])).stdout) as { stateDir: string; foreignLeases: Array<{ uid: number; ports: number[] }> };
        assert.equal(seen.stateDir, `/tmp/engine-room-${a.uid}`);
        const fromB = seen.foreignLeases.filter((f) => f.uid === b.uid).flatMap((f) => f.ports);
        assert.deepEqual(fromB.sort(), sb.map((e) => e.ports.port!).sort(), 'A sees B\u2019s leases');

        if (round === 1) await checkIsolation(a, b, sa, sentinel.pid!);
      } finally {
        const downs = await Promise.all([cli(a, ['down', '--config', configA]), cli(b, ['down', '--config', configB])]);
        downs.forEach((r) => assert.equal(r.code, 0, r.stderr));
      }
      for (const e of all) logSizes.set(e.logFile, fs.statSync(e.logFile).size);
      const pids = all.map((e) => e.pid).filter((p): p is number => p !== null);
      await waitFor(() => pids.every((p) => !pidAlive(p)), 'down stops every engine');
      assert.ok(pidAlive(sentinel.pid!), `round ${round}: A's down left A's other process alone`);
    }
  } finally {
    sentinel.kill('SIGKILL');
  }
});

/** What B tries against A while A's engines run; every attempt must fail. */
async function checkIsolation(a: OsUser, b: OsUser, engA: JsonEngine[], sentinelPid: number): Promise<void> {
  const stateA = `/tmp/engine-room-${a.uid}`;
  const st = fs.statSync(stateA);
  assert.equal(st.uid, a.uid);
  assert.equal(st.mode & 0o777, 0o700, 'A\u2019s state directory is private');
  const leaseDir = common.ENGINE_ROOM_LEASE_DIR!;
  assert.equal(fs.statSync(leaseDir).mode & 0o7777, 0o1777, 'the lease directory is sticky and shared');
  const fileA = fs.readdirSync(leaseDir).filter((n) => n.startsWith(`${a.uid}-`) && n !== FORGED(a.uid)).map((n) => path.join(leaseDir, n));
  assert.equal(fileA.length, 1, 'A publishes one lease file');
  const published = fs.readFileSync(fileA[0]!, 'utf8');
  assert.equal(fs.statSync(fileA[0]!).mode & 0o777, 0o644);
  assert.doesNotMatch(published, /fake_vllm|python|engines\.json|vllm-a/, 'the shared file holds no command, path or name');
  const victim = engA[0]!;
  const res = await tryAs(b, [
    ['readFileSync', victim.logFile],
    ['readFileSync', path.join(stateA, 'registry.json')],
    ['readdirSync', stateA],
    ['writeFileSync', path.join(stateA, 'registry.json'), JSON.stringify({ version: 1, nextTicket: 1, slot: null, queue: [], leases: [{ engine: { pid: sentinelPid } }], stops: [] })],
    ['unlinkSync', fileA[0]],
    ['renameSync', fileA[0], `${fileA[0]}.gone`],
    ['writeFileSync', fileA[0], '{"version":1,"leases":[]}'],
    ['kill', victim.pid],
  ]);
  assert.deepEqual(res, ['EACCES', 'EACCES', 'EACCES', 'EACCES', 'EPERM', 'EPERM', 'EACCES', 'EPERM'], 'B can read, free or stop nothing of A\u2019s');
  assert.equal(fs.readFileSync(fileA[0]!, 'utf8'), published, 'A\u2019s lease file is unchanged');
  // B's own `down` and `status --all` see nothing of A's to stop.
  const downAll = await cli(b, ['status', '--all', '--json']);
  const seenByB = JSON.parse(downAll.stdout) as { engines: unknown[]; foreignLeases: Array<Record<string, unknown>> };
  assert.equal(seenByB.engines.length, PER_USER, 'B\u2019s registry lists B\u2019s engines only');
  for (const f of seenByB.foreignLeases) assert.deepEqual(Object.keys(f).sort(), ['pids', 'portBlock', 'ports', 'uid']);
}

function range([from, to]: [number, number]): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Field 22 of /proc/<pid>/stat. */
function startTime(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

test('(integration) one state directory per user, whatever TMPDIR and XDG_RUNTIME_DIR: an engine started with one is seen, healthy, and stopped with another', async () => {
  const config = userConfig(a, path.join(tree.root, `ws-tmpdir-${a.name}`), {
    engines: [{ name: 'web', command: [process.execPath, path.join(tree.engines, 'http_server.cjs'), '--port', '${port}'], port: 'auto', health: { http: '/health' } }],
  });
  const dirs = ['t1', 't2', 't3'].map((n) => {
    const d = path.join(tree.root, `${n}-${a.name}`);
    fs.mkdirSync(d, { mode: 0o700 });
    fs.chownSync(d, a.uid, a.gid);
    return d;
  });
  // An editor's private TMPDIR and XDG_RUNTIME_DIR, as `npm start` gives code-server.
  const editor = { TMPDIR: dirs[0], XDG_RUNTIME_DIR: dirs[0] };
  const terminal = { TMPDIR: dirs[1], XDG_RUNTIME_DIR: undefined };
  const up = await cli(a, ['up', '--detach', '--config', config], editor);
  try {
    assert.equal(up.code, 0, up.stderr);
    const r = await cli(a, ['status', '--json', '--config', config], terminal);
    const [web] = (JSON.parse(r.stdout) as { engines: JsonEngine[] }).engines;
    assert.equal(web?.state, 'healthy', `the terminal sees the editor's engine: ${r.stdout}`);
    for (const env of [editor, terminal, { TMPDIR: dirs[2] }]) {
      const all = JSON.parse((await cli(a, ['status', '--all', '--json'], env)).stdout) as { stateDir: string };
      assert.equal(all.stateDir, `/tmp/engine-room-${a.uid}`);
    }
    const text = await cli(a, ['status', '--all'], terminal);
    assert.match(text.stdout, new RegExp(`State directory: /tmp/engine-room-${a.uid}`));
  } finally {
    const down = await cli(a, ['down', '--config', config], { TMPDIR: dirs[2] });
    assert.equal(down.code, 0, down.stderr);
  }
  const after = JSON.parse((await cli(a, ['status', '--json', '--config', config], editor)).stdout) as { engines: JsonEngine[] };
  assert.equal(after.engines[0]?.state, 'stopped', 'a `down` with a third TMPDIR stopped it');
});
