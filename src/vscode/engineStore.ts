/**
 * The engines of every workspace folder: loads and watches each folder's `.vscode/engines.json`, keeps
 * one core Supervisor per valid config, shows config problems in the Problems panel, and tells the views
 * which engine changed. The views only read from here; the commands act through here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { loadConfig } from '../core/config';
import type { LoadResult } from '../core/model';
import type { ConfigProblem } from '../core/model';
import { Supervisor, type EngineSnapshot } from '../core/supervisor/supervisor';
import { defaultStateDir } from '../core/stateDir';
import { errorMessage } from '../core/errors';

export const CONFIG_RELATIVE = '.vscode/engines.json';

/** One workspace folder and what its config gave. */
export interface FolderEngines {
  readonly folder: vscode.WorkspaceFolder;
  readonly configUri: vscode.Uri;
  /** Present once the config has been valid; keeps running engines through later bad edits. */
  supervisor?: Supervisor;
  problems: readonly ConfigProblem[];
  exists: boolean;
}

/** What a tree item, a quick pick or a command refers to. */
export interface EngineRef {
  readonly folder: FolderEngines;
  readonly name: string;
  /** `${configFile}#${name}`: stable across refreshes. */
  readonly key: string;
}

export class EngineStore implements vscode.Disposable {
  private readonly folders = new Map<string, FolderEngines>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly engineChanged = new vscode.EventEmitter<EngineRef>();
  private readonly structureChanged = new vscode.EventEmitter<void>();
  private readonly diagnostics: vscode.DiagnosticCollection;
  private readonly refs = new Map<string, EngineRef>();
  private reloadTimers = new Map<string, NodeJS.Timeout>();
  private readonly reloading = new Map<FolderEngines, Promise<void>>();
  private shuttingDown = false;

  /** One engine's state, health or ports changed. */
  readonly onDidChangeEngine = this.engineChanged.event;
  /** Folders, configs or the list of engines changed: redraw everything. */
  readonly onDidChangeStructure = this.structureChanged.event;

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly settings: () => { refreshInterval: number; orphans: 'adopt' | 'stop'; onWindowCrash: 'keep' | 'stop' },
    private readonly extensionPath: string,
  ) {
    this.diagnostics = vscode.languages.createDiagnosticCollection('engineRoom');
    const watcher = vscode.workspace.createFileSystemWatcher(`**/${CONFIG_RELATIVE}`);
    this.disposables.push(
      this.diagnostics,
      this.engineChanged,
      this.structureChanged,
      watcher,
      watcher.onDidChange((u) => this.scheduleReload(u)),
      watcher.onDidCreate((u) => this.scheduleReload(u)),
      watcher.onDidDelete((u) => this.scheduleReload(u)),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.syncFolders()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.startWatching()),
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('engineRoom.refreshInterval') && this.startWatching()),
    );
  }

  /** True once every folder's config has been read (the welcome view waits for it). */
  initialized = false;

  get stateDir(): string {
    return defaultStateDir();
  }

  /** Loads every folder's config. */
  async init(): Promise<void> {
    await this.syncFolders();
    this.initialized = true;
    this.structureChanged.fire();
  }

  list(): FolderEngines[] {
    const order = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
    return [...this.folders.values()].sort((a, b) => order.indexOf(a.folder.uri.toString()) - order.indexOf(b.folder.uri.toString()));
  }

  /** Folders whose config exists (valid or not), or whose engines still run after it was deleted. */
  configured(): FolderEngines[] {
    return this.list().filter((f) => f.exists || this.anyRunning(f));
  }

  private anyRunning(f: FolderEngines): boolean {
    return !!f.supervisor && f.supervisor.snapshots().some((s) => s.pid !== null || s.nextRestartAt !== null || s.state === 'waiting' || s.state === 'starting' || s.state === 'stopping');
  }

  engines(folder?: FolderEngines): EngineRef[] {
    const folders = folder ? [folder] : this.list();
    return folders.flatMap((f) => (f.supervisor ? f.supervisor.names().map((n) => this.ref(f, n)) : []));
  }

  snapshot(ref: EngineRef): EngineSnapshot | undefined {
    try {
      return ref.folder.supervisor?.snapshot(ref.name);
    } catch {
      return undefined;
    }
  }

  find(key: string): EngineRef | undefined {
    return this.engines().find((r) => r.key === key);
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
    clearTimeout(this.reloadTimers.get(uri.fsPath));
    this.reloadTimers.set(
      uri.fsPath,
      setTimeout(() => void this.reload(f, true), 150),
    );
  }

  /** Re-reads one folder's config; a valid one updates (or creates) its supervisor. Serialised per folder. */
  reload(f: FolderEngines, fire = true): Promise<void> {
    const previous = this.reloading.get(f) ?? Promise.resolve();
    const next = previous.then(() => this.reloadNow(f, fire)).catch((e) => this.log.error(`[${f.folder.name}] reload failed: ${errorMessage(e)}`));
    this.reloading.set(f, next);
    return next;
  }

  private async reloadNow(f: FolderEngines, fire: boolean): Promise<void> {
    // The folder was removed, or the window is closing, while this reload waited.
    if (this.shuttingDown || this.folders.get(f.folder.uri.toString()) !== f) return;
    if (f.configUri.scheme !== 'file') return;
    const missing = !fs.existsSync(f.configUri.fsPath);
    const result: LoadResult = missing ? { problems: [] } : await loadConfig(f.configUri.fsPath);
    if (this.shuttingDown) return;
    f.exists = !missing;
    // The file is gone: keep the supervisor only while its engines still run (they stay visible).
    if (missing && f.supervisor && !this.anyRunning(f)) await this.release(f, false);
    f.problems = result.problems;
    this.diagnostics.set(f.configUri, f.problems.map(toDiagnostic));
    if (result.config) {
      if (f.supervisor) {
        f.supervisor.setConfig(result.config);
      } else {
        try {
          f.supervisor = new Supervisor({
            config: result.config,
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
          return;
        }
        const sup = f.supervisor;
        sup.on('change', (s) => this.engineChanged.fire(this.ref(f, s.name)));
        this.watch(sup);
      }
      this.log.info(`[${f.folder.name}] loaded ${result.config.engines.length} engine(s) from ${f.configUri.fsPath}`);
    } else if (!missing) {
      this.log.warn(`[${f.folder.name}] ${f.problems.length} problem(s) in ${f.configUri.fsPath}`);
    }
    if (fire) this.structureChanged.fire();
  }

  /**
   * Follows the engines that other windows and the CLI run. Untrusted: the registry only, no health
   * probes (a `command` probe would run a workspace command), so running engines can still be stopped.
   */
  private watch(sup: Supervisor): void {
    sup.watch(this.settings().refreshInterval, vscode.workspace.isTrusted);
  }

  /** After trust is granted or the interval changed. */
  private startWatching(): void {
    for (const f of this.folders.values()) if (f.supervisor) this.watch(f.supervisor);
    this.structureChanged.fire();
  }

  private async release(f: FolderEngines, stopEngines = true): Promise<void> {
    const sup = f.supervisor;
    f.supervisor = undefined;
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
    for (const t of this.reloadTimers.values()) clearTimeout(t);
    await Promise.all([...this.folders.values()].map((f) => this.release(f, stopEngines)));
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

export function toDiagnostic(p: ConfigProblem): vscode.Diagnostic {
  const r = p.range;
  const range = new vscode.Range(Math.max(0, r.line - 1), Math.max(0, r.column - 1), Math.max(0, r.endLine - 1), Math.max(0, r.endColumn - 1));
  const d = new vscode.Diagnostic(range, p.field ? `${p.field}: ${p.message}` : p.message, p.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  d.source = 'Engine Room';
  return d;
}

/** "api" or "api (folder)" when several folders have engines. */
export function engineLabel(ref: EngineRef, multiFolder: boolean): string {
  return multiFolder ? `${ref.name} (${ref.folder.folder.name})` : ref.name;
}

export function configDisplayPath(f: FolderEngines): string {
  return path.join(f.folder.name, CONFIG_RELATIVE);
}
