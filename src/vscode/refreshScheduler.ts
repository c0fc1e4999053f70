/**
 * When the window looks again at the registry, at other owners' engines and at GPU memory. No vscode
 * import, so the timing rules are tested in plain Node; refresher.ts feeds it from the views.
 *
 * - A poll every `intervalMs` while a view that shows engines (tree or panel) is visible; every
 *   IDLE_INTERVAL_MS while only the status bar is (it is always shown when engines are configured,
 *   and a registry change still refreshes it at once).
 * - Automatic requests (a registry change, a view coming into sight, trust granted, a new config)
 *   are debounced: a burst gives one refresh within DEBOUNCE_MS, never two at a time.
 * - A manual refresh (the Refresh command) runs at once, never debounced.
 * - GPU memory is sampled after a refresh, at most once per `intervalMs`, only while `wantsGpu()`.
 */

/** The slow poll while no view that shows engines is visible. */
export const IDLE_INTERVAL_MS = 30_000;
/** Automatic requests within this window are served by one refresh. */
export const DEBOUNCE_MS = 250;

export interface RefreshSchedulerOptions {
  /** Re-reads the registry and probes other owners' engines. */
  readonly refresh: () => Promise<void>;
  /** Whether a visible view shows GPU memory and an engine runs. */
  readonly wantsGpu: () => boolean;
  /** One nvidia-smi call for the whole window. */
  readonly sampleGpu: () => void;
  readonly intervalMs: number;
  readonly onError?: (e: unknown) => void;
}

export class RefreshScheduler {
  private intervalMs: number;
  private visible = false;
  private active = false;
  private disposed = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** An automatic request came while a refresh ran: the registry may have changed after it was read. */
  private again = false;
  private lastGpuAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: RefreshSchedulerOptions) {
    this.intervalMs = opts.intervalMs;
  }

  /** The time between two polls now. */
  get pollDelayMs(): number {
    return this.visible ? this.intervalMs : Math.max(IDLE_INTERVAL_MS, this.intervalMs);
  }

  /** Engines are configured (there is something to refresh); off: no timer runs. */
  setActive(active: boolean): void {
    if (active === this.active) return;
    this.active = active;
    if (active) this.soon();
    else this.clearTimers();
  }

  /** A view that shows engines (tree, panel) is visible: poll fast, and refresh soon on coming into sight. */
  setVisible(visible: boolean): void {
    if (visible === this.visible) return;
    this.visible = visible;
    if (visible) this.soon();
    else this.schedulePoll();
  }

  setInterval(ms: number): void {
    if (ms === this.intervalMs) return;
    this.intervalMs = ms;
    this.schedulePoll();
  }

  /** An automatic request: one refresh within DEBOUNCE_MS, however many requests come. */
  soon(): void {
    if (!this.active || this.disposed || this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.runAutomatic();
    }, DEBOUNCE_MS);
  }

  /** The Refresh command: at once, even while an automatic refresh runs. */
  async now(): Promise<void> {
    if (this.disposed) return;
    clearTimeout(this.soonTimer);
    this.soonTimer = undefined;
    await this.refreshOnce();
    this.schedulePoll();
  }

  private runAutomatic(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.refreshOnce().finally(() => {
      this.running = undefined;
      this.schedulePoll();
      if (this.again) {
        this.again = false;
        this.soon();
      }
    });
    return this.running;
  }

  private async refreshOnce(): Promise<void> {
    try {
      await this.opts.refresh();
    } catch (e) {
      this.opts.onError?.(e);
    }
    if (this.disposed || Date.now() - this.lastGpuAt < this.intervalMs || !this.opts.wantsGpu()) return;
    this.lastGpuAt = Date.now();
    try {
      this.opts.sampleGpu();
    } catch (e) {
      this.opts.onError?.(e);
    }
  }

  /** The next poll, counted from now (a refresh just ran, or the rate changed). */
  private schedulePoll(): void {
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    if (!this.active || this.disposed) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      void this.runAutomatic();
    }, this.pollDelayMs);
  }

  private clearTimers(): void {
    clearTimeout(this.pollTimer);
    clearTimeout(this.soonTimer);
    this.pollTimer = undefined;
    this.soonTimer = undefined;
  }

  dispose(): void {
    this.disposed = true;
    this.clearTimers();
  }
}
