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

let store: EngineStore | undefined;
let log: vscode.LogOutputChannel | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const t0 = performance.now();
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
  context.subscriptions.push(
    tree,
    view,
    logs,
    panel,
    refresher,
    contextKeys,
    new EnginesStatusBar(store),
    new EnvFileWriter(store, () => readSettings().writeEnvFile, log),
    vscode.window.registerWebviewViewProvider(PANEL_VIEW_ID, panel, { webviewOptions: { retainContextWhenHidden: false } }),
    ...commands.register(),
  );
  await store.init();
  log.info(`activated in ${(performance.now() - t0).toFixed(1)} ms`);
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
