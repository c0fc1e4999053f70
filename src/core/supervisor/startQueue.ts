/**
 * The start queue and the host-wide start slot. Engines whose dependencies are satisfied queue here
 * for this supervisor's turn, then for the slot; inside it they are leased and spawned. The slot goes
 * on when the engine's start mode says so: with the registry write that leases the ports, before the
 * spawn (`leaseOnly`), once its port listens (`untilListening`), or once the start attempt says the
 * engine is past its start (`untilHealthy`).
 * This file is the only one that knows how that handshake works: the attempt only calls `passed()`.
 */
import { EngineProcess } from '../engineProcess';
import { EngineRoomError, errorMessage } from '../errors';
import { untilListening } from '../listening';
import type { Backoff } from '../poll';
import type { SupervisorContext } from './context';
import { dropLease, leaseInside, recordSpawned, type Leased } from './leases';
import type { Runtime } from './runtime';
import { spawnEngine } from './spawn';
import { kill } from './stop';

/** An engine's turn in the start slot, once it is spawned. */
export interface SlotTurn {
  /** The engine is past its start (healthy, failed, stopped or cancelled); safe to call twice. */
  passed(): void;
}

interface Pending {
  readonly rt: Runtime;
  readonly resolve: (turn: SlotTurn) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * The health poll while starting, once the engine's port listens (or for a probe that is not of a
 * port: a log line, a command): from 5 ms, growing by half each time, up to 100 ms. An engine whose
 * probe succeeds as soon as it listens is seen healthy within a few milliseconds (see
 * src/core/listening.ts); one that answers 503 while it loads is asked ten times a second.
 */
export const START_POLL: Backoff = { first: 5, factor: 1.5, max: 100 };

const cancelledError = () => new EngineRoomError('lock-cancelled', 'Start cancelled.');

export class StartQueue {
  private readonly pending: Pending[] = [];
  private pumping = false;

  constructor(private readonly ctx: SupervisorContext) {}

  /**
   * Waits for this supervisor's turn, then for the host-wide slot; leases and spawns. Resolves once the
   * engine is spawned and recorded; rejects (`lock-cancelled` when `signal` fired) if it is not.
   */
  take(rt: Runtime, signal: AbortSignal): Promise<SlotTurn> {
    return new Promise((resolve, reject) => {
      const item = { rt, resolve, reject };
      this.pending.push(item);
      const onAbort = () => {
        const i = this.pending.indexOf(item);
        if (i >= 0) {
          this.pending.splice(i, 1);
          reject(cancelledError());
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void this.pump();
    });
  }

  /** Rejects every engine that still waits for its turn. */
  cancelAll(reason: unknown): void {
    for (const p of this.pending.splice(0)) p.reject(reason);
  }

  /**
   * Takes pending engines one at a time (a batch for `leaseOnly` engines) through the host-wide start
   * lock. An `untilHealthy` engine keeps the slot until healthy; others start in parallel once past it.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending.length > 0 && !this.ctx.disposed) {
        const head = this.pending[0]!;
        const batch = head.rt.spec.startLock === 'leaseOnly' ? this.pending.filter((p) => p.rt.spec.startLock === 'leaseOnly') : [head];
        for (const b of batch) this.pending.splice(this.pending.indexOf(b), 1);
        await this.startBatch(batch);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async startBatch(batch: readonly Pending[]): Promise<void> {
    const { ctx } = this;
    const live = batch.filter((b) => !b.rt.run?.signal.aborted);
    for (const b of batch) if (b.rt.run?.signal.aborted) b.reject(cancelledError());
    if (live.length === 0) return;
    const abort = new AbortController();
    const offs = live.map((b) => {
      const s = b.rt.run?.signal;
      const f = () => {
        // Cancel the wait only if every engine of the batch was cancelled.
        if (live.every((x) => x.rt.run?.signal.aborted)) abort.abort();
      };
      s?.addEventListener('abort', f, { once: true });
      return () => s?.removeEventListener('abort', f);
    });
    const holdFor = Math.max(...live.map((b) => (b.rt.spec.startLock === 'leaseOnly' ? 30_000 : b.rt.spec.startTimeout + 10_000)));
    // A leaseOnly batch needs the slot only while its ports are leased: the registry write that leases
    // them gives the slot back, and the engines spawn outside the critical section, beside the next
    // batch of another process (their ports are theirs already; a kill before their pids are recorded
    // leaves engines that their marker finds).
    const keep = !live.every((b) => b.rt.spec.startLock === 'leaseOnly');
    const leased = new Map<Runtime, Leased>();
    let held;
    try {
      held = await ctx.lock.acquire({
        owner: ctx.owner,
        keys: live.map((b) => b.rt.key),
        names: live.map((b) => b.rt.spec.name),
        holdFor,
        keep,
        signal: abort.signal,
        onWait: (info) => {
          for (const b of live) {
            const who = info.holder ? `pid ${info.holder.pid} (${info.holder.names.join(', ')})` : undefined;
            const reason = who ? `waiting for the start lock held by ${who}` : `waiting for the start lock (${info.ahead} ahead)`;
            ctx.set(b.rt, { state: 'waiting', reason, lockWait: info });
          }
        },
        inside: async (data) => {
          for (const b of live) leased.set(b.rt, await leaseInside(ctx, b.rt, data));
        },
      });
    } catch (e) {
      offs.forEach((f) => f());
      for (const b of live) b.reject(e);
      return;
    }
    offs.forEach((f) => f());
    const spawned = await this.spawnAll(live, leased);
    const turns = spawned.map(({ b, proc }) => {
      let passed = () => {};
      const done = new Promise<void>((resolve) => (passed = resolve));
      b.resolve({ passed });
      return this.slotReleased(b.rt, proc, done);
    });
    await Promise.all(turns);
    await held.release().catch((e) => ctx.log('warn', `could not release the start lock: ${errorMessage(e)}`));
  }

  /**
   * Spawns every engine of the batch at once and records their pids in one registry write; each then
   * waits for its own health. The ones that could not be leased, spawned or recorded are rejected.
   */
  private async spawnAll(live: readonly Pending[], leased: ReadonlyMap<Runtime, Leased>): Promise<Array<{ b: Pending; proc: EngineProcess }>> {
    const { ctx } = this;
    const spawned: Array<{ b: Pending; proc: EngineProcess }> = [];
    await Promise.all(
      live.map(async (b) => {
        const l = leased.get(b.rt);
        if (!l || l.error || b.rt.run?.signal.aborted) {
          if (l && !l.error) await dropLease(ctx, b.rt).catch(() => {});
          b.reject(l?.error ?? cancelledError());
          return;
        }
        try {
          spawned.push({ b, proc: await spawnEngine(ctx, b.rt, l.port, l.block) });
        } catch (e) {
          await dropLease(ctx, b.rt).catch(() => {});
          b.reject(e);
        }
      }),
    );
    // A test hook (test/integration/marker.test.ts): stop between the spawn and the registry write of
    // the pids, the worst moment for a kill, so that a test can SIGKILL us right there.
    if (spawned.length > 0 && process.env.ENGINE_ROOM_TEST_PAUSE_AFTER_SPAWN === '1') process.kill(process.pid, 'SIGSTOP');
    try {
      await recordSpawned(ctx, spawned.map(({ b, proc }) => ({ rt: b.rt, proc })));
    } catch (e) {
      // Unrecorded, nobody could stop them: do not leave them running.
      await Promise.all(spawned.map(({ b, proc }) => kill(ctx, b.rt, proc)));
      for (const x of spawned) x.b.reject(e);
      return [];
    }
    for (const { b, proc } of spawned) {
      if (!b.rt.run?.signal.aborted && b.rt.proc === proc && b.rt.state !== 'stopping') {
        ctx.set(b.rt, { state: 'starting', reason: `started (pid ${proc.pid})` });
      }
    }
    return spawned;
  }

  /** When the start slot may go to the next engine. */
  private async slotReleased(rt: Runtime, proc: EngineProcess, passed: Promise<void>): Promise<void> {
    const mode = rt.spec.startLock;
    if (mode === 'leaseOnly') return;
    const port = rt.ports.port;
    if (mode !== 'untilListening' || port === undefined) return passed;
    let past = false;
    void passed.then(() => (past = true));
    const deadline = (rt.startedAt ?? Date.now()) + rt.spec.startTimeout;
    await untilListening(rt.spec.host, port, { signal: rt.run?.signal, until: deadline, done: () => past || rt.proc !== proc });
  }
}
