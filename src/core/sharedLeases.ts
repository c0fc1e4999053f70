/**
 * The host-wide lease directory, shared by every user: each state directory (each user's registry)
 * publishes what others must not take, as one file of its own, `<uid>-<hash>.json` (mode 0644: read by
 * all, written by its owner only). It holds ports, blocks, the start slot's expiry and the pids (with
 * start times) they live with: no names, no command lines, no paths. The private registry stays the
 * truth for a user's own engines; this file is a copy of its live leases, rewritten inside the host-wide
 * lock (hostMutex.ts) whenever it changes, so a deleted file comes back at the next critical section.
 * The directory has the sticky bit (like /tmp): nobody but a file's owner (and the directory's owner)
 * can delete or replace it, and a file counts only when its owner is the uid its name says.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineRoomError, errorMessage, isDiskFull } from './errors';
import { isAlive, type ProcessIdentity } from './platform';

/** One lease as others see it. */
export interface SharedLease {
  readonly ports: readonly number[];
  readonly block: readonly [number, number] | null;
  /** The lease lives while one of these does (its owner, its engine). */
  readonly holders: readonly ProcessIdentity[];
}

/** The start slot as others see it: held while its holder lives, until `expiresAt` (host clock). */
export interface SharedSlot {
  readonly holder: ProcessIdentity;
  readonly expiresAt: number;
}

export interface SharedLeaseFile {
  readonly version: 1;
  readonly uid: number;
  readonly leases: readonly SharedLease[];
  readonly slot: SharedSlot | null;
}

/** What the other registries of the host hold, as read inside the host-wide lock. */
export interface ForeignLeases {
  readonly leases: ReadonlyArray<SharedLease & { readonly uid: number }>;
  readonly slots: ReadonlyArray<SharedSlot & { readonly uid: number }>;
}

/** The part of a registry that is published (structural: this file does not import registry.ts). */
export interface Publishable {
  readonly leases: ReadonlyArray<{ readonly ports: Record<string, number>; readonly portBlock: [number, number] | null; readonly owner: ProcessIdentity; readonly engine: ProcessIdentity | null }>;
  readonly external?: ReadonlyArray<{ readonly port: number | null; readonly portBlock: [number, number] | null; readonly holder: ProcessIdentity }>;
  readonly slot: { readonly owner: ProcessIdentity; readonly expiresAt: number } | null;
}

/** What others may know of a registry's live leases and slot: ports and pids only. */
export function publication(data: Publishable): { leases: SharedLease[]; slot: SharedSlot | null } {
  const id = (p: ProcessIdentity): ProcessIdentity => ({ pid: p.pid, startTime: p.startTime });
  const leases: SharedLease[] = data.leases.map((l) => ({ ports: Object.values(l.ports), block: l.portBlock, holders: [id(l.owner), ...(l.engine ? [id(l.engine)] : [])] }));
  for (const x of data.external ?? []) leases.push({ ports: x.port !== null ? [x.port] : [], block: x.portBlock, holders: [id(x.holder)] });
  return { leases, slot: data.slot ? { holder: id(data.slot.owner), expiresAt: data.slot.expiresAt } : null };
}

/** `$ENGINE_ROOM_LEASE_DIR`, else /tmp/engine-room-leases (local to the host, gone at reboot with the pids). */
export function defaultLeaseDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ENGINE_ROOM_LEASE_DIR ? path.resolve(env.ENGINE_ROOM_LEASE_DIR) : '/tmp/engine-room-leases';
}

const MAX_FILE = 256 * 1024;
const FILE_NAME = /^(\d+)-[0-9a-f]{16}\.json$/;

function myUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : 0;
}

/** The owner of a running process (Linux: the owner of /proc/<pid>); undefined elsewhere or when gone. */
function processUid(pid: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return fs.statSync(`/proc/${pid}`).uid;
  } catch {
    return undefined;
  }
}

/** A holder counts only while it runs and, where that can be seen, belongs to the file's user. */
function holderLive(h: ProcessIdentity, uid: number): boolean {
  if (!isAlive(h)) return false;
  const owner = processUid(h.pid);
  return owner === undefined || owner === uid;
}

/**
 * Creates the directory (mode 1777) if needed and checks it: a real directory (not a symlink), sticky,
 * writable by all. Throws `lease-dir-unsafe` otherwise. A directory that another user created is used
 * as it is: its owner could delete our file (we write it again at the next critical section), never
 * forge one in our name.
 */
export function ensureLeaseDir(dir: string): string {
  try {
    fs.mkdirSync(dir, { mode: 0o1777 });
    fs.chmodSync(dir, 0o1777); // mkdir drops what the umask masks
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new EngineRoomError('state-dir-unsafe', `Cannot create the shared lease directory ${dir}: ${errorMessage(e)}`);
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new EngineRoomError('state-dir-unsafe', `The shared lease directory ${dir} is not a directory (a symlink?); remove it or set ENGINE_ROOM_LEASE_DIR.`);
  if ((st.mode & 0o1777) !== 0o1777) {
    throw new EngineRoomError(
      'state-dir-unsafe',
      `The shared lease directory ${dir} has mode ${(st.mode & 0o7777).toString(8)}, not 1777 (sticky, writable by all); its owner (uid ${st.uid}) or root can run \`chmod 1777 ${dir}\`, or set ENGINE_ROOM_LEASE_DIR.`,
    );
  }
  return dir;
}

/**
 * The name of the file of the registry in `stateDir`: `<uid>-<16 hex>.json` (a user may have several state
 * dirs). The hex part is random, kept in the private state dir (`lease-name`), so that no other user can
 * take the name first (a file of theirs under our name would block our writes).
 */
export function leaseFileName(stateDir: string, uid = myUid()): string {
  const keep = path.join(stateDir, 'lease-name');
  for (;;) {
    try {
      const name = fs.readFileSync(keep, 'utf8').trim();
      if (FILE_NAME.test(name)) return name;
      fs.rmSync(keep, { force: true }); // damaged: choose again
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    try {
      fs.writeFileSync(keep, `${uid}-${randomBytes(8).toString('hex')}.json`, { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another process chose first: read its choice
    }
  }
}

/** Removes a file; gone already is fine (unlinkSync: rmSync would try it as a folder on EPERM). */
function unlink(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

function isPort(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
}

function isIdentity(v: unknown): v is ProcessIdentity {
  const h = v as Partial<ProcessIdentity> | null;
  // A start time is required: an empty one would match whatever process has the pid.
  return typeof h === 'object' && h !== null && Number.isInteger(h.pid) && (h.pid as number) > 0 && typeof h.startTime === 'string' && h.startTime !== '';
}

/** The valid entries of a file's content; anything malformed is left out (another user wrote it). */
function parseFile(text: string, uid: number): { leases: SharedLease[]; slot: SharedSlot | null } {
  const raw = JSON.parse(text) as { leases?: unknown; slot?: unknown } | null;
  const leases: SharedLease[] = [];
  const list: unknown[] = Array.isArray(raw?.leases) ? raw.leases : [];
  for (const entry of list) {
    const l = entry as { ports?: unknown; block?: unknown; holders?: unknown } | null;
    const ports = Array.isArray(l?.ports) ? (l.ports as unknown[]).filter(isPort) : [];
    const b: unknown = l?.block;
    const block = Array.isArray(b) && isPort(b[0]) && isPort(b[1]) && b[0] <= b[1] ? ([b[0], b[1]] as const) : null;
    const holders = Array.isArray(l?.holders) ? (l.holders as unknown[]).filter(isIdentity) : [];
    if (holders.some((h) => holderLive(h, uid))) leases.push({ ports, block, holders });
  }
  const s = raw?.slot as { holder?: unknown; expiresAt?: unknown } | null | undefined;
  const slot = s && isIdentity(s.holder) && typeof s.expiresAt === 'number' && holderLive(s.holder, uid) ? { holder: s.holder, expiresAt: s.expiresAt } : null;
  return { leases, slot };
}

/** Reads one file without following a link or blocking on a FIFO; undefined unless its owner is `uid`. */
function readOwned(file: string, uid: number): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.uid !== uid || st.size > MAX_FILE) return undefined;
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** The lease directory of one registry: reads the others' files, writes its own. */
export class SharedLeaseDir {
  private fileName: string | undefined;

  constructor(
    readonly dir: string,
    private readonly stateDir: string,
  ) {}

  /** Our file (its name is chosen on first use: the state dir must exist by then). */
  get file(): string {
    this.fileName ??= leaseFileName(this.stateDir);
    return path.join(this.dir, this.fileName);
  }

  /**
   * Every other registry's live leases and slot. A file whose holders are all gone is ignored, and with
   * `removeDead` (inside the host-wide lock, so no writer is in the middle of it) removed when it is ours.
   */
  readForeign(removeDead: boolean): ForeignLeases {
    const leases: Array<SharedLease & { uid: number }> = [];
    const slots: Array<SharedSlot & { uid: number }> = [];
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return { leases, slots };
    }
    const mine = myUid();
    for (const name of names) {
      const m = FILE_NAME.exec(name);
      const full = path.join(this.dir, name);
      if (!m || full === this.file) continue;
      const uid = Number(m[1]);
      const text = readOwned(full, uid);
      if (text === undefined) continue;
      let parsed: ReturnType<typeof parseFile>;
      try {
        parsed = parseFile(text, uid);
      } catch {
        continue;
      }
      for (const l of parsed.leases) leases.push({ ...l, uid });
      if (parsed.slot) slots.push({ ...parsed.slot, uid });
      if (removeDead && uid === mine && parsed.leases.length === 0 && !parsed.slot) unlink(full);
    }
    return { leases, slots };
  }

  /** Publishes our leases (call inside the host-wide lock); an empty list removes the file. */
  write(leases: readonly SharedLease[], slot: SharedSlot | null): void {
    if (leases.length === 0 && !slot) {
      unlink(this.file);
      return;
    }
    const text = JSON.stringify({ version: 1, uid: myUid(), leases, slot } satisfies SharedLeaseFile);
    if (readOwned(this.file, myUid()) === text) return;
    // A fresh name created exclusively (never through a link someone put there), then renamed over ours.
    const tmp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const fd = fs.openSync(tmp, 'wx', 0o644);
      try {
        fs.fchmodSync(fd, 0o644);
        fs.writeFileSync(fd, text);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      if (isDiskFull(e)) throw new EngineRoomError('state-dir-full', `Cannot publish this user's leases in ${this.file}: no space left on its disk.`);
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'EPERM' || code === 'EACCES' ? ` (another user's file has its name: ask root to remove it)` : '';
      throw new EngineRoomError('state-dir-unsafe', `Cannot publish this user's leases in ${this.file}: ${errorMessage(e)}${why}.`);
    }
  }
}
