/**
 * The `engine-room` task type: `{ "type": "engine-room", "engines": ["policy"] }` starts the engines
 * through the store and ends when they are healthy (exit 0) or when one fails (exit 1), so a launch's
 * `"preLaunchTask": "engine-room: up policy"` waits for readiness without problem matchers (VS Code
 * waits on a background task only through their patterns). The engines keep running after the task
 * ends; `"action": "down"` stops them (a `postDebugTask`). In an untrusted workspace no task is offered
 * and none starts anything.
 */
import * as vscode from 'vscode';
import type { EngineSnapshot } from '../core/supervisor/supervisor';
import { errorMessage } from '../core/errors';
import type { EngineStore } from './engineStore';
import type { FolderEngines } from './engineRefs';
import { TASK_TYPE, parseTaskDefinition, progressLine, providedSpecs, startSummary, taskDefinition, taskName, type EngineTaskDefinition, type EngineTaskSpec } from './engineTaskSpec';

export class EngineTaskProvider implements vscode.TaskProvider, vscode.Disposable {
  private readonly registration: vscode.Disposable;

  constructor(
    private readonly store: EngineStore,
    private readonly log: vscode.LogOutputChannel,
    /** Runs after the engines are healthy, before the task ends (the env file is written by then). */
    private readonly beforeEnd: () => void = () => {},
  ) {
    this.registration = vscode.tasks.registerTaskProvider(TASK_TYPE, this);
  }

  async provideTasks(): Promise<vscode.Task[]> {
    if (!vscode.workspace.isTrusted) return [];
    await this.store.ready();
    const folders = this.store.configured().filter((f) => this.store.loaded(f));
    const multi = folders.length > 1;
    return folders.flatMap((f) =>
      providedSpecs(
        this.store.engines(f).map((r) => r.name),
        multi ? f.folder.name : undefined,
      ).map((spec) => this.task(spec, f.folder)),
    );
  }

  /** A task of tasks.json (its own label, maybe options): the same definition, with our execution. */
  resolveTask(task: vscode.Task): vscode.Task | undefined {
    if (task.definition.type !== TASK_TYPE) return undefined;
    const scope = task.scope ?? vscode.TaskScope.Workspace;
    const resolved = new vscode.Task(task.definition, scope, task.name, TASK_TYPE, this.execution(task.definition as EngineTaskDefinition, typeof scope === 'object' ? scope : undefined), []);
    resolved.presentationOptions = task.presentationOptions;
    return resolved;
  }

  private task(spec: EngineTaskSpec, folder: vscode.WorkspaceFolder): vscode.Task {
    const def = taskDefinition(spec);
    const t = new vscode.Task(def, folder, taskName(spec), TASK_TYPE, this.execution(def, folder), []);
    t.detail = spec.action === 'up' ? 'Start the engines and wait until they are healthy' : 'Stop the engines';
    return t;
  }

  private execution(def: EngineTaskDefinition, scope: vscode.WorkspaceFolder | undefined): vscode.CustomExecution {
    return new vscode.CustomExecution(async () => new EngineTaskTerminal(def, scope, this.store, this.log, this.beforeEnd));
  }

  dispose(): void {
    this.registration.dispose();
  }
}

/** One run of a task: its progress as terminal lines, its end as the exit code. */
class EngineTaskTerminal implements vscode.Pseudoterminal {
  private readonly write = new vscode.EventEmitter<string>();
  private readonly done = new vscode.EventEmitter<number>();
  private readonly abort = new AbortController();
  readonly onDidWrite = this.write.event;
  readonly onDidClose = this.done.event;

  constructor(
    private readonly def: EngineTaskDefinition,
    private readonly scope: vscode.WorkspaceFolder | undefined,
    private readonly store: EngineStore,
    private readonly log: vscode.LogOutputChannel,
    private readonly beforeEnd: () => void,
  ) {}

  open(): void {
    void this.run().then(
      (code) => this.end(code),
      (e: unknown) => {
        this.line(`\x1b[31m${errorMessage(e)}\x1b[0m`);
        this.log.error(`task ${JSON.stringify(this.def)} failed: ${errorMessage(e)}`);
        this.end(1);
      },
    );
  }

  /** The terminal was closed or the task terminated: a start under way is cancelled. */
  close(): void {
    this.abort.abort();
  }

  private line(text: string): void {
    this.write.fire(text.replace(/\r?\n/g, '\r\n') + '\r\n');
  }

  private end(code: number): void {
    this.done.fire(code);
    this.write.dispose();
    this.done.dispose();
  }

  private async run(): Promise<number> {
    if (!vscode.workspace.isTrusted) {
      this.line('Engine Room starts nothing in an untrusted workspace: the engines are commands from this workspace.');
      return 1;
    }
    const spec = parseTaskDefinition(this.def);
    if ('error' in spec) {
      this.line(`\x1b[31mtask "${TASK_TYPE}": ${spec.error}\x1b[0m`);
      return 1;
    }
    await this.store.ready();
    const folder = this.folderFor(spec);
    if (typeof folder === 'string') {
      this.line(`\x1b[31m${folder}\x1b[0m`);
      return 1;
    }
    const known = new Set(this.store.engines(folder).map((r) => r.name));
    const unknown = spec.engines.filter((n) => !known.has(n));
    if (unknown.length > 0) {
      this.line(`\x1b[31mno engine named ${unknown.map((n) => `"${n}"`).join(', ')} in ${folder.configUri.fsPath} (it has: ${[...known].join(', ') || 'none'})\x1b[0m`);
      return 1;
    }
    return spec.action === 'up' ? await this.up(folder, spec.engines) : await this.down(folder, spec.engines);
  }

  /** The folder the task acts on: named, the task's own, or the one folder whose config has the engines. */
  private folderFor(spec: EngineTaskSpec): FolderEngines | string {
    const loaded = this.store.configured().filter((f) => this.store.loaded(f));
    if (spec.folder !== undefined) {
      return loaded.find((f) => f.folder.name === spec.folder) ?? `no workspace folder named "${spec.folder}" has valid engines (folders with engines: ${loaded.map((f) => f.folder.name).join(', ') || 'none'})`;
    }
    const own = this.scope && loaded.find((f) => f.folder.uri.toString() === this.scope?.uri.toString());
    if (own) return own;
    const candidates = loaded.filter((f) => spec.engines.every((n) => this.store.engines(f).some((r) => r.name === n)));
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length > 1) return `several workspace folders have ${spec.engines.join(', ') || 'engines'}: add "folder" to the task`;
    return loaded.length === 0 ? 'no workspace folder has a valid .vscode/engines.json' : `no workspace folder has the engines ${spec.engines.join(', ')}`;
  }

  private async up(folder: FolderEngines, names: readonly string[]): Promise<number> {
    this.line(`\x1b[2mEngine Room: starting ${names.join(', ') || 'every engine'} of ${folder.configUri.fsPath}\x1b[0m`);
    const seen = new Map<string, EngineSnapshot>();
    const onProgress = (s: EngineSnapshot) => {
      const text = progressLine(s, seen.get(s.name));
      seen.set(s.name, s);
      if (text) this.line(text);
    };
    const [result] = await this.store.start([{ folder, names }], { signal: this.abort.signal, onProgress });
    const outcomes = result?.results ?? [];
    for (const o of outcomes) {
      const s = this.store.engines(folder).find((r) => r.name === o.name);
      const snap = s && this.store.snapshot(s);
      if (!o.ok && snap?.lastLines?.length) this.line(`\x1b[2m${o.name}'s last lines:\r\n${snap.lastLines.join('\r\n')}\x1b[0m`);
      else if (o.ok && snap && !seen.has(o.name)) this.line(progressLine(snap, undefined) ?? '');
    }
    const summary = startSummary(outcomes);
    if (summary.exitCode === 0) {
      try {
        this.beforeEnd();
      } catch (e) {
        this.log.warn(`after task: ${errorMessage(e)}`);
      }
    }
    this.line(summary.line);
    return summary.exitCode;
  }

  private async down(folder: FolderEngines, names: readonly string[]): Promise<number> {
    const all = names.length > 0 ? names : this.store.engines(folder).map((r) => r.name);
    this.line(`\x1b[2mEngine Room: stopping ${all.join(', ') || 'nothing'}\x1b[0m`);
    const failed = await this.store.stop([{ folder, names: all }]);
    for (const { error } of failed) this.line(`\x1b[31m${errorMessage(error)}\x1b[0m`);
    if (failed.length === 0) this.line('stopped');
    return failed.length === 0 ? 0 : 1;
  }
}
