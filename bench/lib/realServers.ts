/**
 * Real servers (issue 15, target 6): the time from spawn to healthy of a real `redis-server`, started
 * by hand and probed in a tight loop (connect, `PING`, `+PONG`, again at once on a refusal) against the
 * same program under an Engine Room supervisor (`health: { tcp: true }`, `leaseOnly`), alternated round
 * by round. The ratio of the medians is Engine Room's own cost on real work.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { parseConfig, formatProblem } from '../../src/core/config';
import { Supervisor } from '../../src/core/supervisor/supervisor';
import { median, percentile } from './stats';

export interface RealServerFigures {
  readonly server: string;
  readonly version: string;
  readonly rounds: number;
  /** Spawn -> `+PONG`, by hand. */
  readonly byHandMs: number[];
  /** `Supervisor.start()` called -> resolved with the engine healthy. */
  readonly engineRoomMs: number[];
  /** The supervisor's own `startedAt` -> `healthyAt`. */
  readonly engineRoomSpawnToHealthyMs: number[];
  readonly byHandMedianMs: number;
  readonly engineRoomMedianMs: number;
  readonly engineRoomP90Ms: number;
  readonly ratio: number;
  readonly failures: string[];
}

export type RealFigures = { readonly error: string } | { readonly servers: RealServerFigures[]; readonly notMeasured: string[] };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) {
        s.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(false));
  });
}

function redisArgs(port: number, dir: string): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
}

async function byHand(redis: string, port: number, dir: string, env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  const child = spawn(redis, redisArgs(port, dir), { env, stdio: 'ignore', detached: true });
  try {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (await pingOnce(port)) return performance.now() - t0;
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    }
    throw new Error('redis-server did not answer PING in 20 s');
  } finally {
    child.kill('SIGKILL');
    await new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
  }
}

async function underEngineRoom(redis: string, port: number, dir: string, stateDir: string, ranges: { auto: [number, number]; blocks: [number, number] }): Promise<{ wall: number; spawnToHealthy: number }> {
  const file = path.join(dir, 'workspace', '.vscode', 'engines.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const text = JSON.stringify({ engines: [{ name: 'redis', command: [redis, ...redisArgs(port, dir).map((a) => (a === String(port) ? '${port}' : a))], port, health: { tcp: true }, startLock: 'leaseOnly', stopTimeout: 3000 }] }, null, 2);
  fs.writeFileSync(file, text);
  const loaded = parseConfig(text, file, path.dirname(path.dirname(file)));
  if (!loaded.config) throw new Error(`bad benchmark config: ${loaded.problems.map(formatProblem).join('\n')}`);
  const sup = new Supervisor({ config: loaded.config, stateDir, ownerKind: 'other', ownerLabel: 'bench redis', ranges });
  try {
    const t0 = performance.now();
    const [o] = await sup.start();
    const wall = performance.now() - t0;
    const s = sup.snapshots()[0];
    if (!o?.ok || !s || s.startedAt === null || s.healthyAt === null) throw new Error(`redis under Engine Room: ${o?.reason ?? 'not healthy'}`);
    return { wall, spawnToHealthy: s.healthyAt - s.startedAt };
  } finally {
    await sup.dispose();
  }
}

export async function realServersCost(args: { dir: string; stateDir: string; port: number; rounds: number; env: NodeJS.ProcessEnv; ranges: { auto: [number, number]; blocks: [number, number] } }): Promise<RealFigures> {
  let redis: string;
  try {
    redis = execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    return { error: 'redis-server is not installed (.ci/run installs it)' };
  }
  const version = execFileSync(redis, ['--version'], { encoding: 'utf8' }).trim();
  fs.mkdirSync(args.dir, { recursive: true });
  const hand: number[] = [];
  const er: number[] = [];
  const erSpawn: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < args.rounds; i++) {
    // Alternate which goes first.
    const order = i % 2 === 0 ? ['hand', 'er'] : ['er', 'hand'];
    for (const which of order) {
      try {
        if (which === 'hand') hand.push(await byHand(redis, args.port, args.dir, args.env));
        else {
          const r = await underEngineRoom(redis, args.port, args.dir, args.stateDir, args.ranges);
          er.push(r.wall);
          erSpawn.push(r.spawnToHealthy);
        }
      } catch (e) {
        failures.push(`${which}: ${e instanceof Error ? e.message : String(e)}`);
      }
      await sleep(100);
    }
  }
  const server: RealServerFigures = {
    server: 'redis',
    version,
    rounds: args.rounds,
    byHandMs: hand,
    engineRoomMs: er,
    engineRoomSpawnToHealthyMs: erSpawn,
    byHandMedianMs: median(hand),
    engineRoomMedianMs: median(er),
    engineRoomP90Ms: percentile(er, 0.9),
    ratio: median(er) / median(hand),
    failures,
  };
  return { servers: [server], notMeasured: ['ray: no virtual environment with ray on this branch (the "ray" helper adds its setup script); Redis only'] };
}
