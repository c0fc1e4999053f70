/** Shared helpers for tests that use real processes, ports, files and locks. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
export const ENGINES = path.join(FIXTURES, 'engines');
export const CLI = path.join(ROOT, 'dist', 'cli.js');

/** A fresh private folder (mode 0700); createWorkspace() removes the ones it makes. */
export function tempDir(prefix = 'er-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o700);
  return dir;
}

/** Writes `<dir>/.vscode/engines.json` and returns its path. */
export function writeConfig(dir: string, config: unknown): string {
  const file = path.join(dir, '.vscode', 'engines.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string | (() => string), timeoutMs = 15000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(everyMs);
  }
}

/** True when the pid runs and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI as a real process. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`engine-room ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Starts a long-running process (the CLI in the foreground, a TS script) and collects its output. */
export function startProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; output: () => string; waitForOutput: (re: RegExp, ms?: number) => Promise<RegExpMatchArray> } {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (d) => (text += d));
  child.stderr?.on('data', (d) => (text += d));
  return {
    child,
    output: () => text,
    waitForOutput: (re, ms = 15000) => waitFor(() => text.match(re), () => `output ${re} (got: ${text.slice(-2000)})`, ms),
  };
}

/**
 * Env for a test: a private state dir and ports base..base+499 (auto: the first 100, blocks: the rest).
 * @deprecated a hand-picked base can collide with other tests and programs: use createWorkspace()'s `env`.
 */
export function testEnv(stateDir: string, portBase: number): NodeJS.ProcessEnv {
  return {
    ENGINE_ROOM_STATE_DIR: stateDir,
    ENGINE_ROOM_PORT_RANGE: `${portBase}-${portBase + 99}`,
    ENGINE_ROOM_BLOCK_RANGE: `${portBase + 100}-${portBase + 499}`,
  };
}

/** Resolves with the exit code of a child, also when it has exited already. */
export function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** One engine of `engine-room status --json` (the stable shape documented in the README). */
export interface JsonEngine {
  name: string;
  state: string;
  pid: number | null;
  ports: Record<string, number>;
  portBlock: [number, number] | null;
  health: { ok: boolean } | null;
  owner: { pid: number; label: string; alive: boolean } | null;
  logFile: string;
}

/** `engine-room status --json` of a config, as a real process. */
export async function cliStatus(config: string, env: NodeJS.ProcessEnv): Promise<JsonEngine[]> {
  const r = await runCli(['status', '--config', config, '--json'], { env });
  if (r.code !== 0) throw new Error(`engine-room status failed (${r.code}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { engines: JsonEngine[] }).engines;
}
