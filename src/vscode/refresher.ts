/**
 * The window's one refresh owner (after vscode-containers' RefreshManager): it watches the registry
 * file, polls other owners' engines and samples GPU memory once for every folder, only as often as a
 * visible view needs it. The timing rules are in refreshScheduler.ts (no vscode, tested in plain Node).
 *
 * What needs what: the Engines tree and the panel show engines (and GPU memory, in the tree's tooltip
 * and the panel's column): while one of them is visible it polls every `engineRoom.refreshInterval`,
 * and samples GPU memory while an engine runs. The status bar is always shown when engines are
 * configured: for it alone a registry change refreshes at once and the poll slows to IDLE_INTERVAL_MS.
 * An untrusted workspace is refreshed from the registry only, never with probes (a `command` probe
 * would run a workspace command).
 */
import * as vscode from 'vscode';
import { gpuMemoryByPid } from '../core/platform';
import { errorMessage } from '../core/errors';
import type { EngineStore } from './engineStore';
import { RefreshScheduler } from './refreshScheduler';

/** A view whose visibility decides the poll rate: a TreeView, the panel. */
export interface VisibleView {
  readonly visible: boolean;
  onDidChangeVisibility(listener: () => void): vscode.Disposable;
}

export class Refresher implements vscode.Disposable {
  private readonly scheduler: RefreshScheduler;
  private readonly disposables: vscode.Disposable[] = [];
  private registryWatch: vscode.Disposable | undefined;

  constructor(
    private readonly store: EngineStore,
    private readonly views: readonly VisibleView[],
    private readonly intervalMs: () => number,
    log: vscode.LogOutputChannel,
  ) {
    this.scheduler = new RefreshScheduler({
      refresh: () => store.refresh(vscode.workspace.isTrusted),
      wantsGpu: () => this.anyViewVisible() && store.anyRunning(),
      sampleGpu: () => store.attachGpuMemory(gpuMemoryByPid()),
      intervalMs: intervalMs(),
      onError: (e) => log.warn(`refresh failed: ${errorMessage(e)}`),
    });
    this.disposables.push(
      ...views.map((v) => v.onDidChangeVisibility(() => this.scheduler.setVisible(this.anyViewVisible()))),
      store.onDidChangeStructure(() => this.update()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.scheduler.soon()),
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('engineRoom.refreshInterval') && this.scheduler.setInterval(this.intervalMs())),
    );
    this.scheduler.setVisible(this.anyViewVisible());
  }

  /** The Refresh command: at once, never debounced. */
  refreshNow(): Promise<void> {
    return this.scheduler.now();
  }

  private anyViewVisible(): boolean {
    return this.views.some((v) => v.visible);
  }

  /** Engines appeared or went away, a config changed: refresh soon (new engines may run elsewhere). */
  private update(): void {
    const active = this.store.engines().length > 0;
    // The registry's folder exists once a supervisor was made (it creates it): watch it from then on.
    if (active && !this.registryWatch) this.registryWatch = this.store.onRegistryChange(() => this.scheduler.soon());
    this.scheduler.setActive(active);
    this.scheduler.soon();
  }

  dispose(): void {
    this.scheduler.dispose();
    this.registryWatch?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
