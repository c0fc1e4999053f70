/**
 * Real OS users for tests that cross users (the test runs as root, as CI does): created with `useradd`,
 * removed with `userdel`, and processes run as them by spawn's uid/gid (libuv drops root's
 * supplementary groups), with a world-readable copy of the CLI and the fake engines.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { ENGINES, ROOT, type Run } from './helpers';

export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Removes the user and its default state directory (/tmp/engine-room-<uid>). */
  remove(): void;
}

/** The pids of processes that run as `uid` (the owner of /proc/<pid>). */
export function processesOfUid(uid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.statSync(`/proc/${name}`).uid === uid) out.push(Number(name));
    } catch {
      // exited
    }
  }
  return out;
}

/** A fresh user without a home (`useradd -M`), its own group. Needs root. */
export function createUser(prefix: string): OsUser {
  const name = `${prefix}${randomBytes(3).toString('hex')}`;
  execFileSync('useradd', ['-M', '-U', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', name]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return {
    name,
    uid,
    gid,
    remove() {
      for (const pid of processesOfUid(uid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      try {
        execFileSync('userdel', [name]);
      } catch {
        // gone already
      }
      fs.rmSync(`/tmp/engine-room-${uid}`, { recursive: true, force: true });
    },
  };
}

/** What the users may read and run: the built CLI (dist/) and the fake engines, under a 0755 root. */
export interface SharedTree {
  readonly root: string;
  readonly cli: string;
  readonly engines: string;
  remove(): void;
}

export function sharedTree(): SharedTree {
  const root = fs.mkdtempSync('/tmp/er-users-');
  fs.chmodSync(root, 0o755);
  fs.cpSync(path.join(ROOT, 'dist'), path.join(root, 'dist'), { recursive: true });
  fs.cpSync(ENGINES, path.join(root, 'engines'), { recursive: true });
  for (const dir of [path.join(root, 'dist'), path.join(root, 'engines')]) {
    fs.chmodSync(dir, 0o755);
    for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o755);
  }
  return { root, cli: path.join(root, 'dist', 'cli.js'), engines: path.join(root, 'engines'), remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** Spawns `cmd` as `user`, with exactly `env` (plus PATH) as its environment. */
export function spawnAs(user: OsUser, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = '/'): ChildProcess {
  return spawn(cmd, args, { uid: user.uid, gid: user.gid, cwd, env: { PATH: process.env.PATH, HOME: '/nonexistent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `cmd` as `user` to its end. */
export function runAs(user: OsUser, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 180_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawnAs(user, cmd, args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} as ${user.name} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Writes `dir/.vscode/engines.json` owned by `user`, the folder private to it (0700). */
export function userConfig(user: OsUser, dir: string, config: unknown): string {
  const file = path.join(dir, '.vscode', 'engines.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  for (const p of [dir, path.dirname(file), file]) fs.chownSync(p, user.uid, user.gid);
  fs.chmodSync(dir, 0o700);
  return file;
}
