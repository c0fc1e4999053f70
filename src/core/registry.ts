/**
 * The host-wide registry: which engine holds which ports, who holds the start slot, who waits for it.
 * One JSON file in the state directory, changed only inside short critical sections under a
 * lock directory that names its holder (dirLock.ts) and written atomically (temp file + rename), so a reader without the lock always
 * sees a whole file. Records of dead processes are pruned in every critical section.
 * Other users' registries (and this user's other state directories) are seen through the shared lease
 * directory (sharedLeases.ts): each critical section also holds the host-wide lock (hostMutex.ts), reads
 * their leases into `data.foreign` (never written here) and publishes ours.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';
import type { LastExit, LastRunRecord } from './runRecords';
import type { HealthProbe } from './model';
import { writeFileAtomic } from './atomicFile';
import { lockDir, type HeldDirLock } from './dirLock';
import { EngineRoomError, errorMessage, isDiskFull, isEngineRoomError } from './errors';
import { stateDirFullMessage } from './stateDir';
import { hostMutexName, hostMutexSupported, lockHostMutex } from './hostMutex';
import { SharedLeaseDir, defaultLeaseDir, ensureLeaseDir, publication, type ForeignLeases } from './sharedLeases';
import { hostClockMs, isAlive, type ProcessIdentity } from './platform';
import { engineIsLive, markedProcesses, pidFileProcess, recordOfMarked, type EngineProcessRecord } from './processTree';

export interface OwnerRecord extends ProcessIdentity {
  /** Distinguishes several supervisors in one process (a VS Code window with several folders). */
  readonly id: string;
  readonly kind: 'cli' | 'vscode' | 'other';
  /** For people: "engine-room up (pid 123)", "VS Code window". */
  readonly label: string;
}

export interface LeaseRecord {
  /** `${configFile}#${name}` */
  readonly key: string;
  readonly name: string;
  readonly configFile: string;
  readonly workspaceFolder: string;
  owner: OwnerRecord;
  engine: EngineProcessRecord | null;
  ports: Record<string, number>;
  portBlock: [number, number] | null;
  readonly logFile: string;
  readonly host: string;
  readonly probe: HealthProbe;
  readonly leasedAt: number;
  spawnedAt: number | null;
  /** Left running on purpose by its owner (`up --detach`, a window set not to stop engines on close). */
  detached?: boolean;
  /**
   * The value of ENGINE_ROOM_START in the engine's environment, unique to this start and written before
   * the spawn: its processes are found by it even if `engine` was never recorded (older files: absent).
   */
  marker?: string;
  /** The expanded `pidFile` of a daemonizing engine: its daemon is found by it too. */
  pidFile?: string;
  /** Restarts under the engine's policy since it was started (absent: none). */
  restarts?: number;
  /** How the run before this one ended, when this one is a restart. */
  lastExit?: LastExit;
}

export interface SlotRecord {
  readonly owner: OwnerRecord;
  /** Unique per taking, so a late release never frees a slot taken again since. */
  readonly token: string;
  /** Keys of the engines this holder is starting (several for a `leaseOnly` batch). */
  readonly keys: string[];
  readonly names: string[];
  /** On the host clock (hostClockMs: ms since boot), like every time in this record. */
  readonly since: number;
  /** A holder that is alive but stuck past this time loses the slot. */
  readonly expiresAt: number;
}

export interface WaiterRecord {
  readonly owner: OwnerRecord;
  readonly key: string;
  readonly name: string;
  readonly ticket: number;
  /** Passed over while stalled at the head of the queue: its owner queues again when it wakes up. */
  skipped?: boolean;
  readonly since: number;
}

/** A stop that one process did to another's engine, kept a while so the owner does not report a crash. */
export interface StopRecord {
  readonly key: string;
  readonly enginePid: number;
  readonly by: string;
  readonly at: number;
}

/**
 * Ports leased for a process that Engine Room did not start (`engine-room lease`, `exec`), held while
 * that process lives. Written only by externalLeases.ts.
 */
export interface ExternalLeaseRecord {
  readonly id: string;
  /** The process the lease lives with (pid and start time). */
  readonly holder: ProcessIdentity;
  /** The holder's command line, for people. */
  readonly command: string;
  readonly label: string;
  readonly port: number | null;
  readonly portBlock: [number, number] | null;
  readonly leasedAt: number;
}

export interface RegistryData {
  version: 1;
  nextTicket: number;
  slot: SlotRecord | null;
  /** When the slot was last given back (host clock): a head of the queue that does not take it soon is skipped. */
  slotFreeSince: number;
  queue: WaiterRecord[];
  leases: LeaseRecord[];
  stops: StopRecord[];
  /** Absent in registries written before external leases existed. */
  external?: ExternalLeaseRecord[];
  /** Absent in registries written before engines kept their ports. */
  lastRuns?: LastRunRecord[];
  /** Inside `update` only, never written: the other registries' live leases and slots. */
  foreign?: ForeignLeases;
}

export function emptyRegistry(): RegistryData {
  return { version: 1, nextTicket: 1, slot: null, slotFreeSince: 0, queue: [], leases: [], stops: [] };
}

const STOP_RECORD_TTL = 60_000;

export function leaseKey(configFile: string, name: string): string {
  return `${configFile}#${name}`;
}

/** The same start of the same engine: by marker where both have one, else by the engine's pid. */
export function sameLease(a: LeaseRecord, b: LeaseRecord): boolean {
  if (a.key !== b.key) return false;
  return a.marker && b.marker ? a.marker === b.marker : a.engine?.pid === b.engine?.pid;
}

/**
 * A lease is live while its engine's tree lives, or, before the spawn, while its owner lives; failing
 * both, while a process carries its marker (an owner killed before it recorded the pid, a daemon whose
 * leader exited, a worker that outlived a crash).
 */
export function leaseIsLive(l: LeaseRecord): boolean {
  return liveLeases([l]).length === 1;
}

/** The live leases of `leases` (see leaseIsLive), in their order. */
export function liveLeases(leases: readonly LeaseRecord[]): LeaseRecord[] {
  const live = liveLeaseEngines(leases);
  return leases.filter((l) => live.has(l));
}

/**
 * The live leases, each with the engine it runs as: the recorded one while it lives; else, when a
 * process carries the lease's marker, a record of the first such process (its owner died before
 * recording the pid, or its leader exited and left a daemon or workers); null for a lease whose owner
 * lives and has not recorded the pid yet (starting). One pass over the processes for all markers.
 */
export function liveLeaseEngines(leases: readonly LeaseRecord[]): Map<LeaseRecord, EngineProcessRecord | null> {
  const out = new Map<LeaseRecord, EngineProcessRecord | null>();
  const unsure: LeaseRecord[] = [];
  for (const l of leases) {
    if (l.engine ? engineIsLive(l.engine) : isAlive(l.owner)) out.set(l, l.engine);
    else if (l.marker) unsure.push(l);
  }
  if (unsure.length === 0) return out;
  const marked = markedProcesses(unsure.map((l) => l.marker));
  for (const l of unsure) {
    // A daemon that overwrote its environment (its process title) is found by its pid file.
    const fromFile = l.pidFile && l.engine ? pidFileProcess(l.pidFile, l.engine.startTime) : undefined;
    const engine = recordOfMarked(fromFile ? [fromFile] : (marked.get(l.marker!) ?? []));
    if (engine) out.set(l, engine);
  }
  return out;
}

export function slotIsLive(s: SlotRecord, now = hostClockMs()): boolean {
  return isAlive(s.owner) && now < s.expiresAt;
}

/** All ports held by live leases, main ports and blocks. */
export function leasedPorts(data: RegistryData, exceptKey?: string): Set<number> {
  const out = new Set<number>();
  for (const l of data.leases) {
    if (l.key === exceptKey) continue;
    for (const p of Object.values(l.ports)) out.add(p);
    if (l.portBlock) for (let p = l.portBlock[0]; p <= l.portBlock[1]; p++) out.add(p);
  }
  for (const x of data.external ?? []) {
    if (x.port !== null) out.add(x.port);
    if (x.portBlock) for (let p = x.portBlock[0]; p <= x.portBlock[1]; p++) out.add(p);
  }
  for (const f of data.foreign?.leases ?? []) {
    for (const p of f.ports) out.add(p);
    if (f.block) for (let p = f.block[0]; p <= f.block[1]; p++) out.add(p);
  }
  return out;
}

/** Who holds a port among the other registries, for messages (their names are private): `another registry (uid 1001)`. */
export function foreignLeaseHolder(data: RegistryData, port: number): string | undefined {
  const f = data.foreign?.leases.find((l) => l.ports.includes(port) || (l.block && port >= l.block[0] && port <= l.block[1]));
  return f ? `another Engine Room registry on this host (uid ${f.uid}, pid ${f.holders[0]?.pid})` : undefined;
}

function isRegistryData(v: unknown): v is RegistryData {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Partial<RegistryData>;
  return r.version === 1 && Array.isArray(r.leases) && Array.isArray(r.queue) && typeof r.nextTicket === 'number';
}

/** A critical section longer than this may have lost the lock to a process that judged it stale. */
const MAX_CRITICAL_SECTION = 3000;

const LOCK_OPTIONS = {
  // Critical sections last milliseconds; a lock unchanged this long was left by a killed process (one
  // whose holder is known dead is taken over at once: see dirLock.ts).
  stale: 5000,
  update: 1000,
  timeout: 16_000,
} as const;

/** The registry in one state directory. Cheap to create; watch() is started lazily. */
export class Registry {
  readonly file: string;
  private readonly lockPath: string;
  private readonly events = new EventEmitter();
  private watcher: fs.FSWatcher | undefined;
  private watchers = 0;
  private warnedDamaged = false;

  /** The shared lease directory, or null for a registry that sees no other (ENGINE_ROOM_LEASE_DIR=off). */
  readonly shared: SharedLeaseDir | null;

  constructor(
    readonly stateDir: string,
    private readonly warn: (message: string) => void = () => {},
    leaseDir: string | null = process.env.ENGINE_ROOM_LEASE_DIR === 'off' ? null : defaultLeaseDir(),
  ) {
    this.file = path.join(stateDir, 'registry.json');
    this.lockPath = path.join(stateDir, 'registry.lock');
    this.events.setMaxListeners(0);
    this.shared = leaseDir === null ? null : new SharedLeaseDir(leaseDir, stateDir);
  }

  /** The other registries' live leases and slots, as they are now (no lock needed: their writes are atomic). */
  readForeign(): ForeignLeases {
    return this.shared ? this.shared.readForeign(false) : { leases: [], slots: [] };
  }

  /**
   * The registry as last written; no lock needed since writes are atomic. A missing file reads as empty;
   * a damaged one too (with a warning, once: the next update moves it aside and writes a good one).
   * Other read errors (EACCES, EMFILE...) throw: treating them as "empty" would forget every lease.
   */
  read(): RegistryData {
    return this.readRaw().data;
  }

  private readRaw(): { data: RegistryData; damaged: boolean } {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { data: emptyRegistry(), damaged: false };
      throw new EngineRoomError('state-dir-unsafe', `Cannot read the Engine Room registry ${this.file}: ${errorMessage(e)}`);
    }
    try {
      const data: unknown = JSON.parse(text);
      if (isRegistryData(data)) {
        data.stops ??= [];
        data.slotFreeSince ??= 0;
        return { data, damaged: false };
      }
    } catch {
      // reported below
    }
    if (!this.warnedDamaged) {
      this.warnedDamaged = true;
      this.warn(`The registry ${this.file} was damaged; it is replaced (the damaged copy is kept as registry.json.damaged) and engines it listed are no longer tracked.`);
    }
    return { data: emptyRegistry(), damaged: true };
  }

  /**
   * Runs `fn` in a critical section: lock, read, prune dead records, let `fn` change the data, write it
   * atomically if it changed, unlock. Keep `fn` short: it holds every other Engine Room process back.
   */
  async update<T>(fn: (data: RegistryData) => T | Promise<T>): Promise<T> {
    let lock: HeldDirLock;
    try {
      lock = await lockDir(this.lockPath, LOCK_OPTIONS);
    } catch (e) {
      if (isDiskFull(e)) throw new EngineRoomError('state-dir-full', `Could not lock the registry: ${stateDirFullMessage(this.stateDir)}.`);
      throw new EngineRoomError('lock-timeout', `Could not lock the Engine Room registry ${this.lockPath}: ${errorMessage(e)}`);
    }
    let unlockHost = () => {};
    try {
      // Ours first, then the host's: every process takes them in this order, so none deadlocks.
      if (this.shared) {
        ensureLeaseDir(this.shared.dir);
        if (hostMutexSupported) unlockHost = await lockHostMutex(hostMutexName(this.shared.dir), LOCK_OPTIONS.timeout);
      }
    } catch (e) {
      await lock.release().catch(() => {});
      if (isEngineRoomError(e)) throw e;
      throw new EngineRoomError('lock-timeout', `Could not lock the host's leases: ${errorMessage(e)}`);
    }
    // A process-local monotonic clock: a wall-clock jump must not pass for a stall, nor hide one.
    const lockedAt = performance.now();
    try {
      const { data, damaged } = this.readRaw();
      const before = JSON.stringify(data);
      prune(data);
      if (this.shared) data.foreign = this.shared.readForeign(true);
      let result: T;
      try {
        result = await fn(data);
      } finally {
        delete data.foreign;
      }
      // After a stall (a blocked event loop) another process may have taken the lock over and written
      // since. Write nothing then.
      const held = performance.now() - lockedAt;
      if (!lock.stillHeld() || held > MAX_CRITICAL_SECTION) {
        throw new EngineRoomError('lock-timeout', `The registry lock was held too long (${Math.round(held)} ms) and may have been taken over; nothing was written. Try again.`);
      }
      const after = JSON.stringify(data);
      if (damaged) {
        try {
          fs.renameSync(this.file, `${this.file}.damaged`);
        } catch {
          // gone already
        }
        this.warnedDamaged = false;
      }
      // Published first: if the registry write then fails, others only avoid ports we do not hold.
      if (this.shared) {
        const pub = publication(data);
        this.shared.write(pub.leases, pub.slot);
      }
      // 0600: a registry that others could edit would let them point our `down` at any process.
      // A full disk: the old file stays as it was (writeFileAtomic removes its temporary file).
      if (after !== before || damaged) {
        try {
          writeFileAtomic(this.file, after, 0o600);
        } catch (e) {
          if (isDiskFull(e)) throw new EngineRoomError('state-dir-full', `The registry ${this.file} was not updated (it is as it was): ${stateDirFullMessage(this.stateDir)}.`);
          throw e;
        }
      }
      return result;
    } finally {
      unlockHost();
      await lock.release().catch(() => {});
    }
  }

  /** Calls `listener` (debounced by the OS) whenever the registry file is replaced. Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    if (this.watchers++ === 0) {
      try {
        this.watcher = fs.watch(this.stateDir, { persistent: false }, (_event, name) => {
          if (name === 'registry.json') this.events.emit('change');
        });
        this.watcher.on('error', () => {});
      } catch {
        this.watcher = undefined; // callers also poll
      }
    }
    return () => {
      this.events.off('change', listener);
      if (--this.watchers === 0) {
        this.watcher?.close();
        this.watcher = undefined;
      }
    };
  }
}

/** Drops leases, the slot and waiters of processes that are gone. */
export function prune(data: RegistryData, now = hostClockMs()): void {
  data.leases = liveLeases(data.leases);
  if (data.slot && !slotIsLive(data.slot, now)) {
    data.slot = null;
    data.slotFreeSince = now;
  }
  data.queue = data.queue.filter((w) => isAlive(w.owner));
  data.stops = data.stops.filter((s) => now - s.at < STOP_RECORD_TTL);
  if (data.external) data.external = data.external.filter((x) => isAlive(x.holder));
}
