/**
 * The "Engines" panel: a webview view in the bottom panel with a table of every engine and the start
 * lock's holder and queue. Strict CSP with a crypto nonce; the webview says `ready` before we post.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { isWebviewMessage, type HostMessage, type PanelEngine, type WebviewMessage } from '../shared/protocol';
import type { EngineSnapshot } from '../core/supervisor/supervisor';
import type { EngineStore } from './engineStore';
import type { VisibleView } from './refresher';
import { isRunning } from '../shared/engineState';
import { browsableHost } from '../shared/url';
import { debounce } from '../shared/debounce';
import { groupKey } from '../shared/viewModel';

export const PANEL_VIEW_ID = 'engineRoom.panel';

export class EnginesPanel implements vscode.WebviewViewProvider, VisibleView, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private readonly visibility = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.visibility];
  /** The panel came into sight or left it (the refresher polls faster while it is visible). */
  readonly onDidChangeVisibility = this.visibility.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly store: EngineStore,
    private readonly onMessage: (m: Exclude<WebviewMessage, { type: 'ready' }>) => void,
  ) {
    this.disposables.push(
      store.onDidChangeEngine(() => this.schedule()),
      store.onDidChangeStructure(() => this.schedule()),
      store.onDidChangeLock(() => this.schedule()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.schedule()),
    );
  }

  get visible(): boolean {
    return this.view?.visible ?? false;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    view.webview.options = { enableScripts: true, localResourceRoots: [media, dist] };
    const nonce = randomBytes(16).toString('base64');
    const csp = [
      "default-src 'none'",
      `style-src ${view.webview.cspSource}`,
      `img-src ${view.webview.cspSource} data:`,
      `font-src ${view.webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    const css = view.webview.asWebviewUri(vscode.Uri.joinPath(media, 'panel.css'));
    const js = view.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js'));
    view.webview.html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css}">
<title>Engines</title>
</head>
<body>
<div id="lock" class="lock" role="status" aria-live="polite"></div>
<table id="engines" aria-label="Engines">
<thead><tr><th>Engine</th><th>State</th><th>Reason</th><th>PID</th><th>Ports</th><th>Block</th><th>Health</th><th>Recent</th><th>Uptime</th><th>Restarts</th><th class="gpu">GPU</th><th>Owner</th><th><span class="sr-only">Actions</span></th></tr></thead>
<tbody></tbody>
</table>
<p id="empty" class="empty" hidden>No engines configured. Run <em>Engine Room: Open Engines Configuration</em> to create <code>.vscode/engines.json</code>.</p>
<script nonce="${nonce}" src="${js}"></script>
</body>
</html>`;
    // Per view: VS Code resolves the view again after it was disposed (moved, closed and reopened).
    const viewDisposables: vscode.Disposable[] = [];
    viewDisposables.push(
      view.webview.onDidReceiveMessage((m: unknown) => {
        if (!isWebviewMessage(m)) return;
        if (m.type === 'ready') {
          this.ready = true;
          this.post();
        } else {
          this.onMessage(m);
        }
      }),
      view.onDidChangeVisibility(() => {
        if (view.visible) this.post();
        this.visibility.fire();
      }),
    );
    // The uptime column moves on its own: refresh it while the panel is visible.
    const tick = setInterval(() => view.visible && this.post(), 5000);
    viewDisposables.push({ dispose: () => clearInterval(tick) });
    const disposeView = { dispose: () => viewDisposables.splice(0).forEach((d) => d.dispose()) };
    this.disposables.push(disposeView);
    view.onDidDispose(() => {
      if (this.view === view) {
        this.view = undefined;
        this.ready = false;
      }
      disposeView.dispose();
      this.visibility.fire();
    });
    this.visibility.fire();
  }

  private readonly schedule = debounce(() => this.post(), 50, 'first');

  /** The message the panel shows now. Public for tests. */
  message(): HostMessage {
    const multiFolder = this.store.configured().length > 1;
    const engines: PanelEngine[] = [];
    for (const r of this.store.engines()) {
      const s = this.store.snapshot(r);
      if (s) engines.push(toPanelEngine(s, r.folder.folder.name));
    }
    const lock = this.store.lockStatus();
    return {
      type: 'state',
      engines,
      trusted: vscode.workspace.isTrusted,
      multiFolder,
      lock: {
        holder: lock.holder ? { pid: lock.holder.owner.pid, label: lock.holder.owner.label, engines: lock.holder.names } : null,
        queue: lock.queue.map((w) => ({ pid: w.owner.pid, label: w.owner.label, engine: w.name })),
      },
    };
  }

  private post(): void {
    if (!this.view || !this.ready || !this.view.visible) return;
    void this.view.webview.postMessage(this.message());
  }

  dispose(): void {
    this.schedule.cancel();
    for (const d of this.disposables) d.dispose();
  }
}

function toPanelEngine(s: EngineSnapshot, folder: string): PanelEngine {
  return {
    key: s.key,
    name: s.name,
    folder,
    state: s.state,
    reason: s.reason ?? null,
    failure: s.failure ? { kind: s.failure.kind, summary: s.failure.summary, hint: s.failure.hint, lines: [...s.failure.lines] } : null,
    pid: s.pid,
    ports: s.ports,
    host: browsableHost(s.host),
    portBlock: s.portBlock,
    health: s.health ? { ok: s.health.ok, latencyMs: s.health.latencyMs, detail: s.health.detail } : null,
    history: s.healthHistory,
    startedAt: s.pid ? s.startedAt : null,
    restarts: s.restarts,
    previousExit: s.lastExit ? s.lastExit.reason : null,
    owner: s.owner ? (s.owner.self ? 'this window' : `${s.owner.label}${s.owner.alive ? '' : ' (exited)'}`) : null,
    ownedHere: s.owner?.self ?? false,
    running: isRunning(s),
    models: s.models ? [...s.models] : null,
    gpuMemoryMiB: s.gpuMemoryMiB ?? null,
    group: s.replica ? { name: s.replica.group, key: groupKey(s) ?? s.key } : null,
  };
}
