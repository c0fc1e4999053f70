/**
 * A lock directory (`mkdir` is atomic, also on NFS) that names its holder: `holder.json` inside says
 * which process holds it (pid, start time, host, a token of this hold). proper-lockfile judges staleness
 * by mtime alone, so a lock dated ahead (left by a process whose clock was ahead) blocked every command
 * until the wall clock caught up. Here a lock is stale when
 * - its holder is known and dead (same host, pid gone or reused): at once, whatever its mtime;
 * - its mtime is older than `stale` (a holder refreshes it every `update` ms);
 * - or it has not changed for `stale` ms by our own monotonic clock (a holder elsewhere, or none known,
 *   that stopped refreshing): this is what frees a lock dated in the future.
 * A live holder whose event loop stalls past `stale` can lose the lock; `stillHeld()` tells it so before
 * it writes (the token in the directory is no longer its own).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlive, selfIdentity } from './platform';
import { sleep } from './poll';

export interface DirLockOptions {
  /** A lock unchanged for this long is taken over (ms). */
  readonly stale: number;
  /** The holder refreshes the lock's mtime this often (ms). */
  readonly update: number;
  /** Give up waiting after this long (ms). */
  readonly timeout: number;
}

export interface HeldDirLock {
  /** True while the directory is still ours (checked on disk: call it just before writing). */
  stillHeld(): boolean;
  release(): Promise<void>;
}

interface Holder {
  readonly pid: number;
  readonly startTime: string;
  readonly host: string;
  readonly token: string;
}

const HOLDER = 'holder.json';

/** A lock error with a Node-style code: ELOCKED (timed out), ENOTDIR (something else is in its place). */
export class DirLockError extends Error {
  constructor(
    readonly code: 'ELOCKED' | 'ENOTDIR',
    message: string,
  ) {
    super(message);
  }
}

function readHolder(dir: string): Holder | undefined {
  try {
    const h = JSON.parse(fs.readFileSync(path.join(dir, HOLDER), 'utf8')) as Partial<Holder>;
    if (typeof h.pid === 'number' && typeof h.startTime === 'string' && typeof h.host === 'string' && typeof h.token === 'string') return h as Holder;
  } catch {
    // none yet (between mkdir and its write), or not ours
  }
  return undefined;
}

function holderIsDead(h: Holder | undefined): boolean {
  return h !== undefined && h.host === os.hostname() && !isAlive({ pid: h.pid, startTime: h.startTime });
}

/** Takes the lock directory `dir`, waiting (with backoff) while a live holder has it. */
export async function lockDir(dir: string, opts: DirLockOptions): Promise<HeldDirLock> {
  const started = performance.now();
  let seen: { key: string; since: number } | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
      return hold(dir, opts);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let st: fs.Stats;
    try {
      st = fs.lstatSync(dir);
    } catch {
      continue; // released meanwhile
    }
    if (!st.isDirectory()) throw new DirLockError('ENOTDIR', `${dir} is not a lock directory; remove it if no Engine Room command is running`);
    const holder = readHolder(dir);
    // What we see of the lock; it changes whenever its holder refreshes it or a new holder takes it.
    const key = `${holder?.token ?? '-'}:${st.mtimeMs}`;
    const now = performance.now();
    if (seen?.key !== key) seen = { key, since: now };
    const stale = holderIsDead(holder) || Date.now() - st.mtimeMs > opts.stale || now - seen.since > opts.stale;
    if (stale && takeOver(dir, holder, st.mtimeMs)) {
      seen = undefined;
      continue;
    }
    if (now - started > opts.timeout) throw new DirLockError('ELOCKED', `${dir} is held by ${holder ? `pid ${holder.pid} on ${holder.host}` : 'an unknown process'}`);
    await sleep(Math.min(40, 2 * 1.3 ** Math.min(attempt, 20)));
  }
}

/**
 * Removes a stale lock, unless it changed hands since we judged it: it is first renamed aside (atomic),
 * then checked; a lock that turns out to be a fresh one is put back.
 */
function takeOver(dir: string, judged: Holder | undefined, mtimeMs: number): boolean {
  const aside = `${dir}.stale.${process.pid}.${randomUUID().slice(0, 8)}`;
  try {
    fs.renameSync(dir, aside);
  } catch {
    return true; // gone already: try again at once
  }
  const now = readHolder(aside);
  let same = now?.token === judged?.token;
  if (same && !judged) {
    try {
      same = fs.statSync(aside).mtimeMs === mtimeMs;
    } catch {
      same = false;
    }
  }
  if (!same) {
    try {
      fs.renameSync(aside, dir); // a fresh holder's lock: give it back
      return false;
    } catch {
      // someone took the free name meanwhile; the fresh holder sees it lost the lock (stillHeld)
    }
  }
  fs.rmSync(aside, { recursive: true, force: true });
  return true;
}

function hold(dir: string, opts: DirLockOptions): HeldDirLock {
  const token = randomUUID();
  const me: Holder = { ...selfIdentity(), host: os.hostname(), token };
  try {
    fs.writeFileSync(path.join(dir, HOLDER), JSON.stringify(me), { mode: 0o600 });
  } catch {
    // A full disk: the directory alone still locks; others judge it by its mtime.
  }
  const ours = () => {
    const h = readHolder(dir);
    return h ? h.token === token : fs.existsSync(dir);
  };
  let lost = false;
  const timer = setInterval(() => {
    if (!ours()) {
      lost = true;
      return;
    }
    const t = new Date();
    try {
      fs.utimesSync(dir, t, t);
    } catch {
      lost = true;
    }
  }, opts.update);
  timer.unref();
  let released = false;
  return {
    stillHeld: () => !lost && !released && ours(),
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      const h = readHolder(dir);
      // Only our own lock (a stalled holder may have lost it to another process meanwhile).
      if (h ? h.token !== token : lost) return;
      fs.rmSync(path.join(dir, HOLDER), { force: true });
      try {
        fs.rmdirSync(dir);
      } catch {
        fs.rmSync(dir, { recursive: true, force: true }); // something else was put inside
      }
    },
  };
}
