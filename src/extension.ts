/**
 * Composition root: builds the objects, registers them, owns every disposable. No logic lives here.
 * `deactivate()` returns the promise that stops the engines this window started.
 */
import * as vscode from 'vscode';
import { EngineStore } from './vscode/engineStore';
import { EnginesTree } from './vscode/tree';
import { EnginesStatusBar } from './vscode/statusBar';
import { EnginesPanel, PANEL_VIEW_ID } from './vscode/panel';
import { LogTerminals } from './vscode/logTerminal';
import { Commands } from './vscode/commands';
import { readSettings } from './vscode/settings';
import { ContextKeys } from './vscode/contextKeys';
import { EnvFileWriter } from './vscode/envFile';
import { Refresher } from './vscode/refresher';
import { registerAgentAccess } from './vscode/agentAccess';
import { EngineTaskProvider } from './vscode/engineTasks';
import { PortForwarding } from './vscode/forwarding';
import { errorMessage } from './core/errors';

let store: EngineStore | undefined;
let log: vscode.LogOutputChannel | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  // Not in context.subscriptions: VS Code disposes those right after calling deactivate(), while the
  // engines may still be stopping and logging. deactivate() disposes it last.
  log = vscode.window.createOutputChannel('Engine Room', { log: true });
  store = new EngineStore(log, () => readSettings(), context.extensionUri.fsPath);
  context.subscriptions.push(store);

  const tree = new EnginesTree(store);
  const view = vscode.window.createTreeView('engineRoom.engines', { treeDataProvider: tree, showCollapseAll: false, canSelectMany: true });
  const logs = new LogTerminals();
  const panel = new EnginesPanel(context.extensionUri, store, (m) => {
    if (m.type === 'openPort') void commands.openPort(m.key, m.port);
    else void vscode.commands.executeCommand(`engineRoom.engine.${m.action}`, m.key);
  });
  const refresher = new Refresher(store, [view, panel], () => readSettings().refreshInterval, log);
  const commands = new Commands(store, logs, log, refresher);
  const contextKeys = new ContextKeys(store);
  const envFile = new EnvFileWriter(store, () => readSettings().writeEnvFile, log);
  const forwarding = new PortForwarding(store, context.workspaceState, log);
  context.subscriptions.push(
    tree,
    view,
    logs,
    panel,
    refresher,
    contextKeys,
    new EnginesStatusBar(store),
    envFile,
    new EngineTaskProvider(store, log, () => envFile.flush()),
    forwarding,
    ...forwarding.register(),
    vscode.window.registerWebviewViewProvider(PANEL_VIEW_ID, panel, { webviewOptions: { retainContextWhenHidden: false } }),
    ...commands.register(),
    // Language Model tools and the MCP server definition, once the workspace is trusted.
    registerAgentAccess(store, context.extensionUri.fsPath, String((context.extension.packageJSON as { version?: unknown }).version ?? ''), log),
  );
  // The views exist now and VS Code can show them; the configs load after activate() returned (the welcome
  // view waits for `engineRoom.loaded`, the commands for `store.ready()`), so a slow disk or a busy
  // extension host does not hold the window's other extensions back.
  const loading = store.init();
  // Wall time, and this process's CPU time (on a busy machine the wall time counts other programs' turns too).
  const cpu = process.cpuUsage(cpu0);
  log.info(`activated in ${(performance.now() - t0).toFixed(1)} ms (${((cpu.user + cpu.system) / 1000).toFixed(1)} ms of CPU)`);
  const channel = log;
  loading.then(
    () => channel.info(`configs loaded in ${(performance.now() - t0).toFixed(1)} ms from the start of activate()`),
    (e: unknown) => channel.error(`loading the configs failed: ${errorMessage(e)}`),
  );
}

export async function deactivate(): Promise<void> {
  const s = store;
  store = undefined;
  try {
    await s?.shutdown(readSettings().stopOnClose);
  } finally {
    log?.dispose();
    log = undefined;
  }
}
