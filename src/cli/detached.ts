/**
 * `up --detach`: the engines are started, and then supervised, by a background supervisor process
 * (dist/background.js, src/cli/background.ts) that this command leaves behind. Being their parent, it
 * knows how each engine ends (exit code, signal), restarts them under their policy and keeps their
 * health probes; it exits once none of its engines runs. This side starts it, says what it reports
 * while the engines start, and returns with the truth: 0 only if every engine is healthy then.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childProcess } from '../core/builtins';
import { readLastLines } from '../core/logs';
import { defaultStateDir, ensureStateDir } from '../core/stateDir';
import type { EngineSnapshot, StartOutcome } from '../core/supervisor/supervisor';
import { engineJson, err, failureText, out, portsText, printStatus, warnIfStateDirFull } from './common';

/** What the command sends the background supervisor: first `start`, later maybe `abort` (Ctrl-C). */
export type ToSupervisor =
  | { readonly t: 'start'; readonly configFile: string; readonly names: readonly string[]; readonly stateDir: string; readonly env: Readonly<Record<string, string | undefined>> }
  | { readonly t: 'abort' };

/** What it reports until the engines are up (`done`); then the command leaves. */
export type FromSupervisor =
  | { readonly t: 'change'; readonly snapshot: EngineSnapshot }
  | { readonly t: 'log'; readonly message: string }
  | { readonly t: 'done'; readonly outcomes: readonly StartOutcome[]; readonly snapshots: readonly EngineSnapshot[] }
  | { readonly t: 'fatal'; readonly message: string };

/** The background supervisor's log: its own output and each engine's transitions, beside the registry. */
export function supervisorLogFile(stateDir: string): string {
  return path.join(stateDir, 'supervisor.log');
}

export async function upDetached(configFile: string, names: readonly string[], opts: { json?: boolean }): Promise<number> {
  const stateDir = ensureStateDir(defaultStateDir());
  let fd: number | 'ignore' = 'ignore';
  try {
    fd = fs.openSync(supervisorLogFile(stateDir), 'a', 0o600);
  } catch (e) {
    err(`engine-room: the background supervisor has no log (${(e as Error).message})`);
  }
  // Its own environment does not name the state directory (it gets it in `start`): only engines carry it.
  const env = { ...process.env };
  delete env.ENGINE_ROOM_STATE_DIR;
  const child = childProcess().spawn(process.execPath, [path.join(__dirname, 'background.js')], {
    // Its own session: no terminal's SIGHUP or Ctrl-C reaches it, and nothing of ours keeps it.
    detached: true,
    stdio: ['ignore', fd, fd, 'ipc'],
    env,
  });
  if (typeof fd === 'number') fs.closeSync(fd);
  // Said before it is told to start: a test (or a person) that kills it knows which process to kill.
  err(`engine-room: background supervisor pid ${child.pid ?? '?'} (log: ${supervisorLogFile(stateDir)})`);
  const said = new Map<string, string>();
  let interrupted = false;
  const result = new Promise<number>((resolve) => {
    child.on('message', (m: FromSupervisor) => {
      if (m.t === 'log') err(`engine-room: ${m.message}`);
      else if (m.t === 'fatal') {
        err(`engine-room: ${m.message}`);
        resolve(m.message.startsWith('bad config') ? 2 : 1);
      } else if (m.t === 'change') {
        const s = m.snapshot;
        const key = `${s.state}:${s.reason}`;
        if (opts.json || said.get(s.name) === key) return;
        said.set(s.name, key);
        const ports = Object.keys(s.ports).length || s.portBlock ? ` [${portsText(s)}]` : '';
        err(`engine-room: ${s.name}: ${s.state}${ports}${s.reason ? ` - ${s.reason}` : ''}`);
      } else resolve(report(m.outcomes, m.snapshots, names, opts));
    });
    child.once('exit', (code, signal) => {
      if (interrupted) return resolve(130);
      err(`engine-room: the background supervisor (pid ${child.pid}) ended (${signal ?? `exit ${code}`}) before the engines were up; see ${supervisorLogFile(stateDir)}`);
      resolve(1);
    });
    child.once('error', (e) => {
      err(`engine-room: could not start the background supervisor: ${e.message}`);
      resolve(1);
    });
  });
  // Interrupted while starting: it stops what it started so far, then ends.
  const abort = () => {
    interrupted = true;
    if (child.connected) child.send({ t: 'abort' } satisfies ToSupervisor);
  };
  process.on('SIGINT', abort);
  process.on('SIGTERM', abort);
  child.send({ t: 'start', configFile, names, stateDir, env: process.env } satisfies ToSupervisor);
  const code = await result;
  child.removeAllListeners();
  if (child.connected) child.disconnect();
  child.unref();
  return code;
}

function report(outcomes: readonly StartOutcome[], all: readonly EngineSnapshot[], names: readonly string[], opts: { json?: boolean }): number {
  const failed = outcomes.filter((o) => !o.ok);
  const snaps = all.filter((s) => names.length === 0 || names.includes(s.name) || failed.some((f) => f.name === s.name));
  if (opts.json) out(JSON.stringify({ ok: failed.length === 0, engines: snaps.map(engineJson) }, null, 2));
  else printStatus(snaps);
  for (const f of failed) {
    const snap = all.find((s) => s.name === f.name);
    if (snap?.failure) {
      err(`\n${failureText(snap)}`);
      continue;
    }
    err(`\n${f.name} failed: ${f.reason ?? snap?.reason ?? f.state}`);
    const lines = snap?.lastLines ?? (snap && fs.existsSync(snap.logFile) ? readLastLines(snap.logFile, 20) : []);
    if (snap && lines.length > 0) err(`last log lines (${snap.logFile}):\n${lines.map((l) => `  ${l}`).join('\n')}`);
  }
  if (failed.length > 0) warnIfStateDirFull();
  return failed.length === 0 ? 0 : 1;
}
