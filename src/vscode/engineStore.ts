/**
 * The engines of every workspace folder: loads and watches each folder's `.vscode/engines.json`, keeps
 * one core Supervisor per valid config, shows config problems in the Problems panel, and tells the views
 * which engine changed, with its new snapshot. The extension's only way into the core: the views read
 * the snapshots cached here (built once per change, by the supervisor), the commands and the refresher
 * act through here; no one else holds a supervisor.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { loadConfig } from '../core/config';
import type { LoadResult } from '../core/model';
import { Supervisor, type EngineSnapshot, type StartOutcome } from '../core/supervisor/supervisor';
import { defaultStateDir, stateDirFull, stateDirFullMessage } from '../core/stateDir';
import { errorMessage } from '../core/errors';
import { lockState } from '../core/hostLock';
import { Registry } from '../core/registry';
import { isRunning } from '../shared/engineState';
import { debounce, type Debounced } from '../shared/debounce';
import { ConfigDiagnostics } from './diagnostics';
import { CONFIG_RELATIVE, configDisplayPath, type EngineChange, type EngineJob, type EngineRef, type FolderEngines, type LockStatus } from './engineRefs';

type FolderState = { -readonly [K in keyof FolderEngines]: FolderEngines[K] };

export class EngineStore implements vscode.Disposable {
  private readonly folders = new Map<string, FolderState>();
  /** Present once a folder's config has been valid; keeps running engines through later bad edits. */
  private readonly supervisors = new Map<FolderEngines, Supervisor>();
  /** The latest snapshot of every engine, by ref key: what every view renders. */
  private readonly snaps = new Map<string, EngineSnapshot>();
  private readonly registry: Registry;
  private lock: LockStatus = { holder: null, queue: [] };
  private lockText = '';
  private readonly disposables: vscode.Disposable[] = [];
  private readonly engineChanged = new vscode.EventEmitter<EngineChange>();
  private readonly structureChanged = new vscode.EventEmitter<void>();
  private readonly lockChanged = new vscode.EventEmitter<void>();
  private readonly diagnostics = new ConfigDiagnostics();
  private readonly refs = new Map<string, EngineRef>();
  private readonly reloads = new Map<string, Debounced<[FolderEngines]>>();
  private readonly reloading = new Map<FolderEngines, Promise<void>>();
  private shuttingDown = false;

  /** One engine's state, health or ports changed: its new snapshot. */
  readonly onDidChangeEngine = this.engineChanged.event;
  /** Folders, configs or the list of engines changed: redraw everything. */
  readonly onDidChangeStructure = this.structureChanged.event;
  /** The holder or the queue of the host-wide start lock changed. */
  readonly onDidChangeLock = this.lockChanged.event;

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly settings: () => { orphans: 'adopt' | 'stop'; onWindowCrash: 'keep' | 'stop' },
    private readonly extensionPath: string,
  ) {
    this.registry = new Registry(this.stateDir, (m) => this.log.warn(m));
    const watcher = vscode.workspace.createFileSystemWatcher(`**/${CONFIG_RELATIVE}`);
    this.disposables.push(
      this.diagnostics,
      this.engineChanged,
      this.structureChanged,
      this.lockChanged,
      watcher,
      watcher.onDidChange((u) => this.scheduleReload(u)),
      watcher.onDidCreate((u) => this.scheduleReload(u)),
      watcher.onDidDelete((u) => this.scheduleReload(u)),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.syncFolders()),
    );
  }

  /** True once every folder's config has been read (the welcome view waits for it). */
  initialized = false;

  get stateDir(): string {
    return defaultStateDir();
  }

  private loading: Promise<void> | undefined;

  /** Loads every folder's config, once (a later call returns the same promise). */
  init(): Promise<void> {
    this.loading ??= (async () => {
      await this.syncFolders();
      this.readLock();
      this.initialized = true;
      this.structureChanged.fire();
    })();
    return this.loading;
  }

  /** Resolves once `init()` has read every folder's config: the commands wait for it. */
  async ready(): Promise<void> {
    await this.loading?.catch(() => {});
  }

  list(): FolderEngines[] {
    const order = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
    return [...this.folders.values()].sort((a, b) => order.indexOf(a.folder.uri.toString()) - order.indexOf(b.folder.uri.toString()));
  }

  /** Folders whose config exists (valid or not), or whose engines still run after it was deleted. */
  configured(): FolderEngines[] {
    return this.list().filter((f) => f.exists || this.anyRunning(f));
  }

  /** Whether the folder's config has been valid once: its engines can be shown and started. */
  loaded(f: FolderEngines): boolean {
    return this.supervisors.has(f);
  }

  /** Something to stop in that folder, or anywhere. */
  anyRunning(f?: FolderEngines): boolean {
    return this.snapshots(f).some(isRunning);
  }

  engines(folder?: FolderEngines): EngineRef[] {
    const folders = folder ? [folder] : this.list();
    return folders.flatMap((f) => this.supervisors.get(f)?.names().map((n) => this.ref(f, n)) ?? []);
  }

  /** The engine's latest snapshot (cached: no supervisor work). */
  snapshot(ref: EngineRef): EngineSnapshot | undefined {
    return this.snaps.get(ref.key);
  }

  /** The latest snapshots of a folder's engines, or of every engine, in order. */
  snapshots(folder?: FolderEngines): EngineSnapshot[] {
    return this.engines(folder).flatMap((r) => this.snaps.get(r.key) ?? []);
  }

  find(key: string): EngineRef | undefined {
    return this.engines().find((r) => r.key === key);
  }

  /** The engine's log file (its owner's, for an engine another window or the CLI runs). */
  logFile(ref: EngineRef): string | undefined {
    return this.snapshot(ref)?.logFile;
  }

  /** The host-wide start lock as last read (it is one registry for every folder). */
  lockStatus(): LockStatus {
    return this.lock;
  }

  /** Calls `listener` whenever the registry file is replaced (any owner's change). */
  onRegistryChange(listener: () => void): vscode.Disposable {
    return { dispose: this.registry.onChange(listener) };
  }

  /**
   * Starts engines (and what they depend on) under the host-wide start lock; `onProgress` sees every
   * change of the engines this call starts, until then. Never rejects for an engine's failure (see the outcomes).
   */
  async start(jobs: readonly EngineJob[], opts: { signal?: AbortSignal; onProgress?: (s: EngineSnapshot) => void } = {}): Promise<Array<{ folder: FolderEngines; results: StartOutcome[] }>> {
    // Only the engines this call starts (and their dependencies): not the health of others that run.
    const starting = new Set(jobs.flatMap((j) => this.supervisorOf(j.folder).plan(j.names).map((n) => this.ref(j.folder, n).key)));
    const sub = opts.onProgress && this.onDidChangeEngine((c) => starting.has(c.ref.key) && opts.onProgress?.(c.snapshot));
    try {
      return await Promise.all(jobs.map(async (j) => ({ folder: j.folder, results: await this.supervisorOf(j.folder).start(j.names, opts.signal) })));
    } finally {
      sub?.dispose();
    }
  }

  /** Stops engines and their whole process trees; resolves with the jobs that failed. */
  async stop(jobs: readonly EngineJob[]): Promise<Array<{ job: EngineJob; error: unknown }>> {
    const failed: Array<{ job: EngineJob; error: unknown }> = [];
    await Promise.all(jobs.map((job) => this.supervisors.get(job.folder)?.stop(job.names).catch((error: unknown) => void failed.push({ job, error }))));
    return failed;
  }

  /**
   * Re-reads the start lock and the registry: other owners' engines, adopted or stopped orphans, fresh
   * probes of those (probe false: registry only, for an untrusted workspace). The refresher calls it.
   */
  async refresh(probe: boolean): Promise<void> {
    if (this.shuttingDown) return;
    this.readLock();
    const full = stateDirFull(this.stateDir);
    if (full !== this.full) {
      this.full = full;
      this.structureChanged.fire();
    }
    await Promise.all([...this.supervisors].map(([f, sup]) => sup.refresh(probe).catch((e) => this.log.warn(`[${f.folder.name}] refresh failed: ${errorMessage(e)}`))));
  }

  private full = false;

  /** "state directory full: ..." while its disk is full (the tree shows it; one statfs per refresh). */
  stateDirFull(): string | undefined {
    return this.full ? stateDirFullMessage(this.stateDir) : undefined;
  }

  /** One nvidia-smi answer (pid to MiB) for every folder's engines. */
  attachGpuMemory(byPid: ReadonlyMap<number, number> | undefined): void {
    for (const sup of this.supervisors.values()) {
      sup.attachGpuMemory(byPid);
    }
  }

  private supervisorOf(f: FolderEngines): Supervisor {
    const sup = this.supervisors.get(f);
    if (!sup) throw new Error(`${configDisplayPath(f)} has no valid engines.`);
    return sup;
  }

  private readLock(): void {
    try {
      this.lock = lockState(this.registry.read());
    } catch (e) {
      this.log.warn(`could not read the start lock: ${errorMessage(e)}`);
      return;
    }
    const text = JSON.stringify(this.lock);
    if (text === this.lockText) return;
    this.lockText = text;
    this.lockChanged.fire();
  }

  private ref(folder: FolderEngines, name: string): EngineRef {
    const key = `${folder.configUri.fsPath}#${name}`;
    let r = this.refs.get(key);
    if (!r || r.folder !== folder) {
      r = { folder, name, key };
      this.refs.set(key, r);
    }
    return r;
  }

  /** Rebuilds the cached snapshots of one folder (after its config changed): once per engine. */
  private resnapshot(f: FolderEngines, sup: Supervisor | undefined): void {
    const keep = new Set<string>();
    for (const name of sup?.names() ?? []) {
      const ref = this.ref(f, name);
      keep.add(ref.key);
      this.snaps.set(ref.key, sup!.snapshot(name));
    }
    for (const r of this.refs.values()) if (r.folder === f && !keep.has(r.key)) this.snaps.delete(r.key);
  }

  private async syncFolders(): Promise<void> {
    const current = vscode.workspace.workspaceFolders ?? [];
    const keys = new Set(current.map((f) => f.uri.toString()));
    for (const [k, f] of this.folders) {
      if (!keys.has(k)) {
        this.folders.delete(k);
        this.diagnostics.delete(f.configUri);
        await this.release(f);
      }
    }
    for (const folder of current) {
      if (!this.folders.has(folder.uri.toString())) {
        this.folders.set(folder.uri.toString(), { folder, configUri: vscode.Uri.joinPath(folder.uri, CONFIG_RELATIVE), problems: [], exists: false });
      }
    }
    await Promise.all([...this.folders.values()].map((f) => this.reload(f, false)));
    this.structureChanged.fire();
  }

  private scheduleReload(uri: vscode.Uri): void {
    const f = [...this.folders.values()].find((x) => x.configUri.fsPath === uri.fsPath);
    if (!f) return;
    // Saves come in bursts (format on save, several editors): reload once they settle.
    const reload = this.reloads.get(uri.fsPath) ?? debounce((folder: FolderEngines) => void this.reload(folder, true), 150);
    this.reloads.set(uri.fsPath, reload);
    reload(f);
  }

  /** Re-reads one folder's config; a valid one updates (or creates) its supervisor. Serialised per folder. */
  reload(f: FolderEngines, fire = true): Promise<void> {
    const previous = this.reloading.get(f) ?? Promise.resolve();
    const next = previous.then(() => this.reloadNow(f, fire)).catch((e) => this.log.error(`[${f.folder.name}] reload failed: ${errorMessage(e)}`));
    this.reloading.set(f, next);
    return next;
  }

  private async reloadNow(folder: FolderEngines, fire: boolean): Promise<void> {
    const f = this.folders.get(folder.folder.uri.toString());
    // The folder was removed, or the window is closing, while this reload waited.
    if (this.shuttingDown || f !== folder) return;
    if (f.configUri.scheme !== 'file') return;
    const missing = !fs.existsSync(f.configUri.fsPath);
    const result: LoadResult = missing ? { problems: [] } : await loadConfig(f.configUri.fsPath);
    if (this.shuttingDown) return;
    f.exists = !missing;
    // The file is gone: keep the supervisor only while its engines still run (they stay visible).
    if (missing && this.supervisors.has(f) && !this.anyRunning(f)) await this.release(f, false);
    f.problems = result.problems;
    this.diagnostics.set(f.configUri, f.problems);
    if (result.config) {
      const existing = this.supervisors.get(f);
      if (existing) {
        existing.setConfig(result.config);
        this.resnapshot(f, existing);
      } else if (!this.createSupervisor(f, result.config)) {
        return;
      }
      this.log.info(`[${f.folder.name}] loaded ${result.config.engines.length} engine(s) from ${f.configUri.fsPath}`);
    } else if (!missing) {
      this.log.warn(`[${f.folder.name}] ${f.problems.length} problem(s) in ${f.configUri.fsPath}`);
    }
    if (fire) this.structureChanged.fire();
  }

  private createSupervisor(f: FolderEngines, config: NonNullable<LoadResult['config']>): boolean {
    let sup: Supervisor;
    try {
      sup = new Supervisor({
        config,
        stateDir: this.stateDir,
        ownerKind: 'vscode',
        ownerLabel: `VS Code window (pid ${process.pid})`,
        orphans: this.settings().orphans,
        reaper: this.settings().onWindowCrash === 'stop' ? { script: path.join(this.extensionPath, 'dist', 'reaper.js') } : undefined,
        log: (level, m) => {
          try {
            this.log[level](`[${f.folder.name}] ${m}`);
          } catch {
            // the channel is closed while the window shuts down
          }
        },
      });
    } catch (e) {
      this.log.error(`[${f.folder.name}] ${errorMessage(e)}`);
      void vscode.window.showErrorMessage(`Engine Room: ${errorMessage(e)}`);
      return false;
    }
    this.supervisors.set(f, sup);
    this.resnapshot(f, sup);
    // The event carries the snapshot the supervisor built for it: kept here, handed to every view.
    sup.on('change', (snapshot) => {
      if (this.supervisors.get(f) !== sup) return;
      const ref = this.ref(f, snapshot.name);
      this.snaps.set(ref.key, snapshot);
      this.engineChanged.fire({ ref, snapshot });
    });
    return true;
  }

  private async release(f: FolderEngines, stopEngines = true): Promise<void> {
    const sup = this.supervisors.get(f);
    this.supervisors.delete(f);
    this.resnapshot(f, undefined);
    if (!sup) return;
    if (stopEngines) await sup.dispose();
    else await sup.detach();
  }

  /**
   * Stops the engines this window started (or leaves them running, registered, when the user chose so)
   * and resolves when they are gone: `deactivate()` returns this.
   */
  async shutdown(stopEngines: boolean): Promise<void> {
    this.shuttingDown = true;
    for (const r of this.reloads.values()) r.cancel();
    await Promise.all([...this.folders.values()].map((f) => this.release(f, stopEngines)));
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
