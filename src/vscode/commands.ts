/**
 * The commands. Each handler takes `(node?, nodes?)` so the palette (no node: a quick pick), a click in
 * the tree and a multi-selection share one path. Long work runs with cancellable progress; a failure
 * offers "Show Log".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineSnapshot, StartOutcome } from '../core/supervisor/supervisor';
import { errorMessage } from '../core/errors';
import { type EngineStore } from './engineStore';
import { CONFIG_RELATIVE, engineLabel, jobsOf, type EngineJob, type EngineRef, type FolderEngines } from './engineRefs';
import { engineUrl, groupKey, portsText, stateCodicon, stateLabel } from '../shared/viewModel';
import { isRunning } from '../shared/engineState';
import { nodeRefs } from './tree';
import type { LogTerminals } from './logTerminal';
import { PANEL_VIEW_ID } from './panel';
import { CONFIG_TEMPLATE, presetTemplate } from '../shared/template';
import { PRESETS, PRESET_NAMES } from '../core/presets';

type Picker = (s: EngineSnapshot) => boolean;

export class Commands {
  constructor(
    private readonly store: EngineStore,
    private readonly logs: LogTerminals,
    private readonly log: vscode.LogOutputChannel,
    private readonly refresher: { refreshNow(): Promise<void> },
  ) {}

  register(): vscode.Disposable[] {
    // A command run while the configs still load (activation does not wait for them) acts once they are read.
    const r = (id: string, fn: (...args: unknown[]) => unknown) =>
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        await this.store.ready();
        return await fn(...args);
      });
    return [
      r('engineRoom.startAll', () => this.startAll()),
      r('engineRoom.stopAll', () => this.stopAll()),
      r('engineRoom.engine.start', (n, ns) => this.withEngines(n, ns, 'Start which engine?', (s) => !isRunning(s), (refs) => this.start(refs))),
      r('engineRoom.engine.stop', (n, ns) => this.withEngines(n, ns, 'Stop which engine?', isRunning, (refs) => this.stop(refs))),
      r('engineRoom.engine.restart', (n, ns) => this.withEngines(n, ns, 'Restart which engine?', () => true, (refs) => this.restart(refs))),
      r('engineRoom.engine.showLog', (n, ns) => this.withEngines(n, ns, 'Show the log of which engine?', () => true, (refs) => refs.forEach((x) => this.showLog(x)))),
      r('engineRoom.engine.copyUrl', (n, ns) => this.withEngines(n, ns, 'Copy the URL of which engine?', (s) => !!engineUrl(s), (refs) => this.copyUrl(refs))),
      r('engineRoom.engine.openInBrowser', (n, ns) => this.withEngines(n, ns, 'Open which engine in the browser?', (s) => !!engineUrl(s), (refs) => this.openInBrowser(refs))),
      r('engineRoom.showPanel', () => vscode.commands.executeCommand(`${PANEL_VIEW_ID}.focus`)),
      r('engineRoom.openConfig', () => this.openConfig()),
      r('engineRoom.createConfig', () => this.openConfig()),
      r('engineRoom.refresh', () => this.refresh()),
      // For launch.json and tasks.json: "${command:engineRoom.port}" or an input of type "command"
      // with "args": "policy". They return a string, or undefined (which cancels the launch).
      r('engineRoom.port', (arg) => this.endpointOf(arg, (s) => (s.ports.port === undefined ? undefined : String(s.ports.port)))),
      r('engineRoom.url', (arg) => this.endpointOf(arg, (s) => engineUrl(s))),
    ];
  }

  private multiFolder(): boolean {
    return this.store.configured().length > 1;
  }

  /** Resolves the engines a command acts on: the selection, the clicked node, or a quick pick. */
  private async withEngines(node: unknown, nodes: unknown, placeHolder: string, preferred: Picker, run: (refs: EngineRef[]) => unknown): Promise<void> {
    let refs: EngineRef[];
    if (Array.isArray(nodes) && nodes.length > 0) refs = [...new Set(nodes.flatMap((n) => nodeRefs(this.store, n)))];
    else if (typeof node === 'string') {
      // From a webview, a link or a keybinding: an engine key or a name, or a group's (its replicas).
      const byKey = this.store.find(node) ?? this.store.engines().find((r) => r.name === node);
      refs = byKey ? [byKey] : this.store.engines().filter((r) => {
        const s = this.store.snapshot(r);
        const key = s ? groupKey(s) : undefined;
        return key !== undefined && (key === node || s?.replica?.group === node);
      });
    } else refs = nodeRefs(this.store, node);
    if (refs.length === 0) {
      const picked = await this.pick(placeHolder, preferred);
      if (!picked) return;
      refs = [picked];
    }
    await run(refs);
  }

  private async pick(placeHolder: string, preferred: Picker): Promise<EngineRef | undefined> {
    const all = this.store.engines();
    if (all.length === 0) {
      const choice = await vscode.window.showInformationMessage('No engines are configured in this workspace.', 'Open Engines Configuration');
      if (choice) await this.openConfig();
      return undefined;
    }
    const items = all
      .map((ref) => ({ ref, s: this.store.snapshot(ref) }))
      .filter((x): x is { ref: EngineRef; s: EngineSnapshot } => !!x.s)
      .sort((a, b) => Number(preferred(b.s)) - Number(preferred(a.s)))
      .map(({ ref, s }) => ({
        label: `$(${stateCodicon(s.state)}) ${engineLabel(ref, this.multiFolder())}`,
        description: [stateLabel(s), portsText(s)].filter(Boolean).join(' · '),
        detail: s.description,
        ref,
      }));
    const choice = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true });
    return choice?.ref;
  }

  private trusted(): boolean {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window
      .showWarningMessage('Engine Room starts nothing in an untrusted workspace: the engines are commands from this workspace.', 'Manage Workspace Trust')
      .then((c) => c && vscode.commands.executeCommand('workbench.trust.manage'));
    return false;
  }

  async startAll(): Promise<void> {
    if (!this.trusted()) return;
    const folders = this.store.configured().filter((f) => this.store.loaded(f));
    if (folders.length === 0) {
      await this.explainNoEngines();
      return;
    }
    await this.startIn(folders.map((f) => ({ folder: f, names: [] })));
  }

  async start(refs: EngineRef[]): Promise<void> {
    if (!this.trusted()) return;
    await this.startIn(jobsOf(refs));
  }

  private async explainNoEngines(): Promise<void> {
    const bad = this.store.configured().find((f) => f.problems.some((p) => p.severity === 'error'));
    if (bad) {
      const c = await vscode.window.showErrorMessage(`${CONFIG_RELATIVE} has problems; nothing was started.`, 'Show Problems');
      if (c) await vscode.commands.executeCommand('workbench.actions.view.problems');
      return;
    }
    const c = await vscode.window.showInformationMessage('No engines are configured in this workspace.', 'Open Engines Configuration');
    if (c) await this.openConfig();
  }

  /** Starts with a cancellable progress notification that follows each engine's state. */
  private async startIn(jobs: readonly EngineJob[]): Promise<void> {
    jobs = jobs.filter((j) => this.store.loaded(j.folder));
    for (const j of jobs) {
      if (j.folder.problems.some((p) => p.severity === 'error')) {
        void vscode.window.showWarningMessage(`${CONFIG_RELATIVE} of ${j.folder.folder.name} has problems: starting the engines of its last valid version.`, 'Show Problems').then((c) => c && vscode.commands.executeCommand('workbench.actions.view.problems'));
      }
    }
    let outcomes: Array<{ folder: FolderEngines; results: StartOutcome[] }>;
    try {
      outcomes = await this.startWithProgress(jobs);
    } catch (e) {
      // An engine renamed or removed since it was shown, a folder closed: say so, with the log at hand.
      this.log.error(`start failed: ${errorMessage(e)}`);
      void vscode.window.showErrorMessage(`Engine Room: ${errorMessage(e)}`, 'Show Log').then((c) => c && this.log.show());
      return;
    }
    const failed: Array<{ folder: FolderEngines; o: StartOutcome }> = [];
    for (const { folder, results } of outcomes) for (const o of results) if (!o.ok && !o.cancelled) failed.push({ folder, o });
    for (const { folder, o } of failed) {
      const ref = this.store.engines(folder).find((r) => r.name === o.name);
      const f = ref && this.store.snapshot(ref)?.failure;
      // The signature and its hint, or the log's last line: never only "exited with code 1".
      const why = f ? `${f.summary}${f.kind === 'unknown' && o.reason ? ` (${o.reason})` : ''}${f.hint ? `. ${f.hint}` : ''}` : (o.reason ?? o.state);
      this.log.error(`[${folder.folder.name}] ${o.name} failed: ${o.reason ?? o.state}${f ? `\n${f.lines.join('\n')}` : ''}`);
      void vscode.window.showErrorMessage(`Engine "${o.name}" failed: ${why}`, 'Show Log').then((c) => c && ref && this.showLog(ref));
    }
  }

  private startWithProgress(jobs: readonly EngineJob[]): Thenable<Array<{ folder: FolderEngines; results: StartOutcome[] }>> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Engine Room', cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        const onProgress = (s: EngineSnapshot) => {
          if (s.state === 'waiting' || s.state === 'starting') progress.report({ message: `${s.name}: ${s.reason ?? s.state}` });
          else if (s.state === 'healthy') progress.report({ message: `${s.name} is healthy` });
        };
        try {
          progress.report({ message: 'starting...' });
          return await this.store.start(jobs, { signal: abort.signal, onProgress });
        } finally {
          sub.dispose();
        }
      },
    );
  }

  async stopAll(): Promise<void> {
    const refs = this.store.engines().filter((r) => {
      const s = this.store.snapshot(r);
      return s !== undefined && isRunning(s);
    });
    if (refs.length === 0) {
      void vscode.window.setStatusBarMessage('Engine Room: no engine is running', 3000);
      return;
    }
    await this.stop(refs);
  }

  async stop(refs: EngineRef[]): Promise<void> {
    const names = refs.map((r) => r.name).join(', ');
    const failed = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Stopping ${names}` }, () => this.store.stop(jobsOf(refs)));
    for (const { job, error } of failed) {
      this.log.error(`stop failed: ${errorMessage(error)}`);
      void vscode.window.showErrorMessage(`Engine Room: could not stop ${job.names.join(', ')}: ${errorMessage(error)}`, 'Show Log').then((c) => c && this.log.show());
    }
  }

  async restart(refs: EngineRef[]): Promise<void> {
    if (!this.trusted()) return;
    await this.stop(refs);
    await this.start(refs);
  }

  showLog(ref: EngineRef): void {
    const logFile = this.store.logFile(ref);
    if (logFile) this.logs.show(ref.key, `Engine: ${engineLabel(ref, this.multiFolder())}`, logFile);
  }

  private async copyUrl(refs: EngineRef[]): Promise<void> {
    const urls = refs.map((r) => this.store.snapshot(r)).map((s) => s && engineUrl(s)).filter((u): u is string => !!u);
    if (urls.length === 0) {
      void vscode.window.showInformationMessage('That engine has no port yet: start it first.');
      return;
    }
    // Under Remote-SSH, in a container or in a browser, 127.0.0.1 is the remote machine: let VS Code
    // forward the port and give the URL that works where the user is.
    const external = await Promise.all(urls.map(async (u) => (await vscode.env.asExternalUri(vscode.Uri.parse(u))).toString(true)));
    await vscode.env.clipboard.writeText(external.join('\n'));
    void vscode.window.setStatusBarMessage(`Copied ${external.join(', ')}`, 3000);
  }

  private async openInBrowser(refs: EngineRef[]): Promise<void> {
    for (const r of refs) {
      const s = this.store.snapshot(r);
      const url = s && engineUrl(s);
      if (url) await vscode.env.openExternal(vscode.Uri.parse(url));
    }
  }

  /** The port or URL of a running engine named by `arg` (a name, `{ engine }`, or nothing: a quick pick). */
  private async endpointOf(arg: unknown, get: (s: EngineSnapshot) => string | undefined): Promise<string | undefined> {
    const name = typeof arg === 'string' ? arg : typeof arg === 'object' && arg !== null && typeof (arg as { engine?: unknown }).engine === 'string' ? (arg as { engine: string }).engine : undefined;
    let ref = name ? (this.store.find(name) ?? this.store.engines().find((r) => r.name === name)) : undefined;
    if (!name) ref = await this.pick('Which engine?', (s) => s.pid !== null);
    if (!ref) {
      if (name) void vscode.window.showErrorMessage(`Engine Room: no engine named "${name}" in this workspace.`);
      return undefined;
    }
    const s = this.store.snapshot(ref);
    const value = s && s.pid !== null ? get(s) : undefined;
    if (value === undefined) void vscode.window.showErrorMessage(`Engine Room: engine "${ref.name}" is not running; start it first.`, 'Start Engine').then((c) => c && this.start([ref]));
    return value;
  }

  /** Opens a port of an engine (a link in the panel). */
  async openPort(key: string, port: number): Promise<void> {
    const ref = this.store.find(key);
    const s = ref && this.store.snapshot(ref);
    if (!s || !Object.values(s.ports).includes(port)) return;
    const url = engineUrl({ ports: { port }, host: s.host });
    if (url) await vscode.env.openExternal(vscode.Uri.parse(url));
  }

  /** Opens `.vscode/engines.json`, creating it from a template (one engine, a commented vLLM example) when it does not exist. */
  async openConfig(): Promise<void> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    if (folders.length === 0) {
      void vscode.window.showInformationMessage('Open a folder first: Engine Room reads .vscode/engines.json from the workspace folders.');
      return;
    }
    let folder = folders[0]!;
    if (folders.length > 1) {
      const pick = await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Open the engines configuration of which folder?' });
      if (!pick) return;
      folder = pick;
    }
    const uri = vscode.Uri.joinPath(folder.uri, CONFIG_RELATIVE);
    if (!fs.existsSync(uri.fsPath)) {
      const choice = await vscode.window.showQuickPick(
        [
          { label: 'A plain HTTP server', description: 'python3 -m http.server', template: CONFIG_TEMPLATE },
          ...PRESET_NAMES.filter((p) => p !== 'http').map((p) => ({ label: `A ${p} server`, description: `"preset": "${p}"`, template: presetTemplate(p, PRESETS[p].example) })),
        ],
        { placeHolder: `Create ${CONFIG_RELATIVE} with which engine?` },
      );
      if (!choice) return;
      fs.mkdirSync(path.dirname(uri.fsPath), { recursive: true });
      fs.writeFileSync(uri.fsPath, choice.template, { flag: 'wx' });
      const f = this.store.list().find((x) => x.folder.uri.toString() === folder.uri.toString());
      if (f) await this.store.reload(f);
    }
    await vscode.window.showTextDocument(uri);
  }

  private async refresh(): Promise<void> {
    await Promise.all(this.store.list().map((f) => this.store.reload(f)));
    await this.refresher.refreshNow();
  }
}
