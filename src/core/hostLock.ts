/**
 * The host-wide start lock. It is a slot in the registry, not a lock file held for the whole start: a
 * proper-lockfile lock held for minutes is lost when the holder's event loop stalls (two holders at
 * once), whereas a slot record is taken and given back in millisecond critical sections, and a dead
 * holder is seen at once by its pid. Waiters queue in FIFO order across every process on the host.
 */
import { randomUUID } from 'node:crypto';
import { EngineRoomError } from './errors';
import { hostClockMs, isAlive } from './platform';
import { slotIsLive, type OwnerRecord, type Registry, type RegistryData, type SlotRecord, type WaiterRecord } from './registry';

export interface LockWaitInfo {
  /** Who holds the slot now (undefined: it is free, but others queue ahead of us). */
  readonly holder?: { readonly pid: number; readonly label: string; readonly names: readonly string[] };
  /** Waiters ahead of us. */
  readonly ahead: number;
}

export interface AcquireOptions<T> {
  readonly owner: OwnerRecord;
  /** The engines the slot is taken for: the first one queues, all are named in the slot. */
  readonly keys: readonly string[];
  readonly names: readonly string[];
  /** How long the slot may be held before others may take it over from a live but stuck holder. */
  readonly holdFor: number;
  /**
   * False: the turn is the critical section alone, and the slot is given back in the same registry
   * write that takes it (an engine whose every port is leased: nothing of its start can race).
   */
  readonly keep?: boolean;
  readonly signal?: AbortSignal;
  /** Called when we have to wait, and again when the holder changes. */
  readonly onWait?: (info: LockWaitInfo) => void;
  /** Runs inside the critical section that takes the slot (lease ports here). A throw gives the slot back. */
  readonly inside: (data: RegistryData, slot: SlotRecord) => T | Promise<T>;
}

/** The first waiter whose owner still runs. */
function headOfQueue(data: RegistryData): WaiterRecord | undefined {
  return [...data.queue].sort((a, b) => a.ticket - b.ticket).find((w) => !w.skipped && isAlive(w.owner));
}

/**
 * A head of the queue that has not taken a free slot within this time is passed over (a stopped
 * process, a debugger pause): the slot then goes to whoever asks first, the stalled head included.
 */
const HEAD_GRACE = 2000;

/** Another registry's slot (another user's, or another state dir's): the slot is host-wide. */
function foreignSlot(data: RegistryData, now = hostClockMs()) {
  return data.foreign?.slots.find((s) => now < s.expiresAt && isAlive(s.holder));
}

/**
 * `foreignSeen`: when this waiter last saw another registry hold the slot (its release is written in no
 * registry of ours), so the grace of our head of the queue counts from then.
 */
function mayTake(data: RegistryData, ticket: number, foreignSeen: number, now = hostClockMs()): boolean {
  const free = (!data.slot || !slotIsLive(data.slot, now)) && !foreignSlot(data, now);
  if (!free) return false;
  const head = headOfQueue(data);
  return !head || head.ticket === ticket || now - Math.max(data.slotFreeSince ?? 0, head.since, foreignSeen) > HEAD_GRACE;
}

/** Our entry, unless it vanished or was passed over (then we queue again, at the back). */
function inQueue(data: RegistryData, ticket: number, owner: OwnerRecord): boolean {
  return data.queue.some((w) => w.ticket === ticket && w.owner.id === owner.id && !w.skipped);
}

function waitInfo(data: RegistryData, ticket: number): LockWaitInfo {
  const slot = data.slot && slotIsLive(data.slot) ? data.slot : undefined;
  const ahead = data.queue.filter((w) => w.ticket < ticket && !w.skipped && isAlive(w.owner)).length;
  if (slot) return { holder: { pid: slot.owner.pid, label: slot.owner.label, names: slot.names }, ahead };
  const other = foreignSlot(data);
  return other ? { holder: { pid: other.holder.pid, label: `another Engine Room registry on this host (uid ${other.uid})`, names: [] }, ahead } : { ahead };
}

/** What a held slot lets you do. */
export interface HeldSlot<T> {
  readonly value: T;
  /** Gives the slot back; safe to call twice. */
  release(): Promise<void>;
}

export class StartLock {
  constructor(private readonly registry: Registry) {}

  /** Waits (cancellably, in FIFO order across processes) for the slot, takes it and runs `inside`. */
  async acquire<T>(opts: AcquireOptions<T>): Promise<HeldSlot<T>> {
    const { owner, signal } = opts;
    const enqueue = (previous?: number) =>
      this.registry.update((data) => {
        if (previous !== undefined) data.queue = data.queue.filter((w) => !(w.ticket === previous && w.owner.id === owner.id));
        const t = data.nextTicket++;
        data.queue.push({ owner, key: opts.keys[0] ?? '', name: opts.names[0] ?? '', ticket: t, since: hostClockMs() });
        return t;
      });
    let ticket = await enqueue();
    let wake: (() => void) | undefined;
    const unsubscribe = this.registry.onChange(() => wake?.());
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort);
    let lastHolder = '';
    let foreignSeen = 0;
    try {
      for (;;) {
        if (signal?.aborted) throw new EngineRoomError('lock-cancelled', 'Cancelled while waiting for the start lock.');
        const snapshot = this.registry.read();
        // Other users' slots are not in our registry, and their changes wake no watcher of ours (the timer
        // does). Read only by a waiter that could take the slot otherwise: it costs a look at their pids.
        if (mayTake(snapshot, ticket, foreignSeen)) {
          snapshot.foreign = this.registry.readForeign();
          if (foreignSlot(snapshot)) foreignSeen = hostClockMs();
        }
        // Our entry can vanish (a registry file deleted or replaced by hand) or have been passed over
        // while we were stalled: queue again.
        if (!inQueue(snapshot, ticket, owner)) {
          ticket = await enqueue(ticket);
          continue;
        }
        if (mayTake(snapshot, ticket, foreignSeen)) {
          const taken = await this.registry.update(async (data) => {
            if (!inQueue(data, ticket, owner) || !mayTake(data, ticket, foreignSeen)) return undefined;
            const now = hostClockMs();
            const slot: SlotRecord = {
              owner,
              token: randomUUID(),
              keys: [...opts.keys],
              names: [...opts.names],
              since: now,
              expiresAt: now + opts.holdFor,
            };
            // A stalled head we passed over is marked, so it does not hold up every handover; when it
            // wakes up it queues again at the back.
            const head = headOfQueue(data);
            if (head && head.ticket !== ticket) head.skipped = true;
            data.queue = data.queue.filter((w) => w.ticket !== ticket);
            // `inside` may throw: then nothing of this critical section is written.
            const value = await opts.inside(data, slot);
            if (opts.keep === false) {
              data.slot = null;
              data.slotFreeSince = hostClockMs();
            } else data.slot = slot;
            return { value, token: slot.token };
          });
          if (taken) return opts.keep === false ? { value: taken.value, release: async () => {} } : this.held(taken.value, taken.token);
        } else if (opts.onWait) {
          const info = waitInfo(snapshot, ticket);
          const key = `${info.holder?.pid}:${info.holder?.names.join(',')}:${info.ahead}`;
          if (key !== lastHolder) {
            lastHolder = key;
            opts.onWait(info);
          }
        }
        // The watcher wakes us when the registry is rewritten; the timer covers a holder that dies
        // without writing, and file systems without change events.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 100);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } catch (e) {
      await this.registry
        .update((data) => {
          data.queue = data.queue.filter((w) => w.ticket !== ticket);
        })
        .catch(() => {});
      throw e;
    } finally {
      unsubscribe();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private held<T>(value: T, token: string): HeldSlot<T> {
    let released = false;
    return {
      value,
      release: async () => {
        if (released) return;
        released = true;
        await this.registry.update((data) => {
          if (data.slot?.token === token) {
            data.slot = null;
            data.slotFreeSince = hostClockMs();
          }
        });
      },
    };
  }
}

/** For status displays: who holds the slot and who waits, with dead entries left out. */
export function lockState(data: RegistryData): { holder: SlotRecord | null; queue: WaiterRecord[] } {
  const holder = data.slot && slotIsLive(data.slot) ? data.slot : null;
  const queue = [...data.queue].filter((w) => isAlive(w.owner)).sort((a, b) => a.ticket - b.ticket);
  return { holder, queue };
}

