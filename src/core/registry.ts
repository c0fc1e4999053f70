/**
 * The host-wide registry: which engine holds which ports, who holds the start slot, who waits for it.
 * One JSON file in the state directory, changed only inside short critical sections under a
 * proper-lockfile lock and written atomically (temp file + rename), so a reader without the lock always
 * sees a whole file. Records of dead processes are pruned in every critical section.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';
import lockfile from 'proper-lockfile';
import type { HealthProbe } from './model';
import { EngineRoomError, errorMessage } from './errors';
import { groupMembers, isAlive, type ProcessIdentity } from './platform';

export interface OwnerRecord extends ProcessIdentity {
  /** Distinguishes several supervisors in one process (a VS Code window with several folders). */
  readonly id: string;
  readonly kind: 'cli' | 'vscode' | 'other';
  /** For people: "engine-room up (pid 123)", "VS Code window". */
  readonly label: string;
}

export interface EngineProcessRecord extends ProcessIdentity {
  readonly pgid: number;
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
  /** Set by another process that is stopping this engine, so its owner does not take it for a crash. */
  stopRequestedBy?: string;
}

export interface SlotRecord {
  readonly owner: OwnerRecord;
  /** Unique per taking, so a late release never frees a slot taken again since. */
  readonly token: string;
  /** Keys of the engines this holder is starting (several for a `leaseOnly` batch). */
  readonly keys: string[];
  readonly names: string[];
  readonly since: number;
  /** A holder that is alive but stuck past this time loses the slot. */
  readonly expiresAt: number;
}

export interface WaiterRecord {
  readonly owner: OwnerRecord;
  readonly key: string;
  readonly name: string;
  readonly ticket: number;
  readonly since: number;
}

export interface RegistryData {
  version: 1;
  nextTicket: number;
  slot: SlotRecord | null;
  queue: WaiterRecord[];
  leases: LeaseRecord[];
}

export function emptyRegistry(): RegistryData {
  return { version: 1, nextTicket: 1, slot: null, queue: [], leases: [] };
}

export function leaseKey(configFile: string, name: string): string {
  return `${configFile}#${name}`;
}

/** A lease is live while its engine's process group has members, or, before the spawn, while its owner lives. */
export function leaseIsLive(l: LeaseRecord): boolean {
  if (l.engine) return isAlive(l.engine) || groupMembers(l.engine.pgid).length > 0;
  return isAlive(l.owner);
}

export function slotIsLive(s: SlotRecord, now = Date.now()): boolean {
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
  return out;
}

function isRegistryData(v: unknown): v is RegistryData {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Partial<RegistryData>;
  return r.version === 1 && Array.isArray(r.leases) && Array.isArray(r.queue) && typeof r.nextTicket === 'number';
}

const LOCK_OPTIONS = {
  realpath: false,
  // Critical sections last milliseconds; a lock older than this was left by a killed process.
  stale: 5000,
  update: 1000,
  retries: { retries: 400, minTimeout: 2, maxTimeout: 40, factor: 1.3 },
} as const;

/** The registry in one state directory. Cheap to create; watch() is started lazily. */
export class Registry {
  readonly file: string;
  private readonly lockPath: string;
  private readonly events = new EventEmitter();
  private watcher: fs.FSWatcher | undefined;
  private watchers = 0;

  constructor(
    readonly stateDir: string,
    private readonly warn: (message: string) => void = () => {},
  ) {
    this.file = path.join(stateDir, 'registry.json');
    this.lockPath = path.join(stateDir, 'registry.lock');
    this.events.setMaxListeners(0);
  }

  /** The registry as last written; no lock needed since writes are atomic. A damaged file reads as empty. */
  read(): RegistryData {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return emptyRegistry();
    }
    try {
      const data: unknown = JSON.parse(text);
      if (isRegistryData(data)) return data;
    } catch {
      // reported below
    }
    this.warn(`The registry ${this.file} was damaged and is started anew; engines it listed are no longer tracked.`);
    return emptyRegistry();
  }

  /**
   * Runs `fn` in a critical section: lock, read, prune dead records, let `fn` change the data, write it
   * atomically if it changed, unlock. Keep `fn` short: it holds every other Engine Room process back.
   */
  async update<T>(fn: (data: RegistryData) => T | Promise<T>): Promise<T> {
    let compromised: Error | undefined;
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.file, {
        ...LOCK_OPTIONS,
        lockfilePath: this.lockPath,
        onCompromised: (err) => {
          compromised = err;
        },
      });
    } catch (e) {
      throw new EngineRoomError('lock-timeout', `Could not lock the Engine Room registry ${this.lockPath}: ${errorMessage(e)}`);
    }
    try {
      const data = this.read();
      const before = JSON.stringify(data);
      prune(data);
      const result = await fn(data);
      if (compromised) {
        throw new EngineRoomError('lock-timeout', `Lost the registry lock while updating it (${compromised.message}); nothing was written.`);
      }
      const after = JSON.stringify(data);
      if (after !== before) this.write(after);
      return result;
    } finally {
      await release().catch(() => {});
    }
  }

  private write(text: string): void {
    const tmp = `${this.file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    fs.writeFileSync(tmp, text, { mode: 0o600 });
    fs.renameSync(tmp, this.file);
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
export function prune(data: RegistryData, now = Date.now()): void {
  data.leases = data.leases.filter(leaseIsLive);
  if (data.slot && !slotIsLive(data.slot, now)) data.slot = null;
  data.queue = data.queue.filter((w) => isAlive(w.owner));
}
