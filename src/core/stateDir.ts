/**
 * The per-user state directory that holds the registry, its lock and the engines' logs. Other users must
 * not be able to write it: a lease file they could edit would let them point our `down` at any process.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineRoomError } from './errors';

/**
 * `$ENGINE_ROOM_STATE_DIR`, else `/tmp/engine-room-<uid>`: the same path in every process of a user,
 * whatever `TMPDIR`, `XDG_RUNTIME_DIR` or `HOME` the process was given (an editor started with a private
 * `TMPDIR`, a terminal, a systemd unit, `sudo -u`). Not `$XDG_RUNTIME_DIR` (absent outside a login
 * session, and removed at logout with the logs of engines left running) nor `$HOME` (often on NFS, shared
 * by hosts whose pids mean nothing to each other); /tmp is local to the host and lasts until reboot,
 * like the processes the registry names. Windows: the temp dir.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ENGINE_ROOM_STATE_DIR) return path.resolve(env.ENGINE_ROOM_STATE_DIR);
  const uid = typeof process.getuid === 'function' ? process.getuid() : os.userInfo().username;
  return path.join(process.platform === 'win32' ? os.tmpdir() : '/tmp', `engine-room-${uid}`);
}

/** Below this much free space the state directory counts as full: a registry update needs a few KB. */
const FULL_BELOW = 64 * 1024;

/** True when the disk of the state directory has (almost) no space left for the registry and the logs. */
export function stateDirFull(dir: string): boolean {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize < FULL_BELOW;
  } catch {
    return false;
  }
}

/** What to tell the user, with what to do about it. */
export function stateDirFullMessage(dir: string): string {
  return `state directory full: ${dir} has no space left; registry updates and log notes are dropped until space is freed (the engines' logs are in ${path.join(dir, 'logs')})`;
}

/**
 * Creates the directory with mode 0700 if needed and checks that it is ours and that nobody else can
 * write it. Throws `state-dir-unsafe` otherwise; never loosens or tightens a directory we did not create.
 */
export function ensureStateDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) {
    throw new EngineRoomError('state-dir-unsafe', `Engine Room state directory ${dir} is not a directory (a symlink?).`);
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid) {
    throw new EngineRoomError(
      'state-dir-unsafe',
      `Engine Room state directory ${dir} belongs to uid ${st.uid}, not to you (uid ${uid}); set ENGINE_ROOM_STATE_DIR to a folder of your own.`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    throw new EngineRoomError(
      'state-dir-unsafe',
      `Engine Room state directory ${dir} can be written by other users (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 700 ${dir}\` or set ENGINE_ROOM_STATE_DIR.`,
    );
  }
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true, mode: 0o700 });
  return dir;
}
