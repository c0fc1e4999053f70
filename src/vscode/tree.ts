/**
 * The "Engines" tree: a thin view over the store. Engines have stable ids, so selections survive
 * refreshes, and only the engine that changed is redrawn.
 */
import * as vscode from 'vscode';
import type { EngineSnapshot } from '../core/supervisor/supervisor';
import { type EngineStore } from './engineStore';
import { configDisplayPath, type EngineRef, type FolderEngines } from './engineRefs';
import { stateIcon } from './present';
import { contextValue, groupContextValue, groupKey, groupState, healthySummary, portsText, stateLabel } from '../shared/viewModel';
import { formatDuration, formatGiB } from '../shared/format';

export type TreeNode =
  | { readonly kind: 'folder'; readonly folder: FolderEngines }
  | { readonly kind: 'engine'; readonly ref: EngineRef }
  /** The replicas of one config entry with `"replicas"`, under its name; `key` as `groupKey` gives it. */
  | { readonly kind: 'group'; readonly folder: FolderEngines; readonly name: string; readonly key: string }
  | { readonly kind: 'trust' }
  | { readonly kind: 'stateDirFull'; readonly message: string }
  | { readonly kind: 'problems'; readonly folder: FolderEngines };

export function isEngineNode(n: unknown): n is { kind: 'engine'; ref: EngineRef } {
  return typeof n === 'object' && n !== null && (n as { kind?: unknown }).kind === 'engine';
}

function isGroupNode(n: unknown): n is Extract<TreeNode, { kind: 'group' }> {
  return typeof n === 'object' && n !== null && (n as { kind?: unknown }).kind === 'group';
}

/** The replicas of a group, in the config's order. */
function groupMembers(store: EngineStore, folder: FolderEngines, key: string): EngineRef[] {
  return store.engines(folder).filter((r) => {
    const s = store.snapshot(r);
    return s !== undefined && groupKey(s) === key;
  });
}

/** The engines a tree node stands for: an engine, or a group's replicas; none for other nodes. */
export function nodeRefs(store: EngineStore, n: unknown): EngineRef[] {
  if (isEngineNode(n)) return [n.ref];
  if (isGroupNode(n)) return groupMembers(store, n.folder, n.key);
  return [];
}

export class EnginesTree implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | TreeNode[] | undefined | void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly nodes = new Map<string, TreeNode>();
  private readonly folderNodes = new Map<string, TreeNode>();
  private readonly groupNodes = new Map<string, TreeNode>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly store: EngineStore) {
    this.disposables.push(
      this.changed,
      store.onDidChangeStructure(() => this.changed.fire()),
      store.onDidChangeEngine(({ ref, snapshot }) => {
        this.tickCountdown(ref, snapshot);
        const node = this.nodes.get(ref.key);
        // Fire for that engine only (and its group's and folder's "x/y healthy"); one not shown yet needs a full redraw.
        if (!node) return this.changed.fire();
        const folder = this.store.configured().length > 1 ? this.folderNodes.get(ref.folder.folder.uri.toString()) : undefined;
        const gk = groupKey(snapshot);
        const group = gk !== undefined ? this.groupNodes.get(gk) : undefined;
        this.changed.fire([node, ...(group ? [group] : []), ...(folder ? [folder] : [])]);
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.changed.fire()),
    );
  }

  private readonly countdowns = new Map<string, NodeJS.Timeout>();

  /** "restarting in 3 s" counts down: redraw that engine every second until its restart. */
  private tickCountdown(ref: EngineRef, s: EngineSnapshot): void {
    if (!s.nextRestartAt || this.countdowns.has(ref.key)) return;
    const timer = setInterval(() => {
      const now = this.store.snapshot(ref);
      const node = this.nodes.get(ref.key);
      if (node) this.changed.fire(node);
      if (!now?.nextRestartAt || now.nextRestartAt <= Date.now()) {
        clearInterval(timer);
        this.countdowns.delete(ref.key);
      }
    }, 1000);
    this.countdowns.set(ref.key, timer);
  }

  private engineNode(ref: EngineRef): TreeNode {
    let n = this.nodes.get(ref.key);
    if (!n || (n.kind === 'engine' && n.ref !== ref)) {
      n = { kind: 'engine', ref };
      this.nodes.set(ref.key, n);
    }
    return n;
  }

  private groupNode(folder: FolderEngines, name: string, key: string): TreeNode {
    let n = this.groupNodes.get(key);
    if (!n || (n.kind === 'group' && n.folder !== folder)) {
      n = { kind: 'group', folder, name, key };
      this.groupNodes.set(key, n);
    }
    return n;
  }

  private folderNode(f: FolderEngines): TreeNode {
    const k = f.folder.uri.toString();
    let n = this.folderNodes.get(k);
    if (!n || (n.kind === 'folder' && n.folder !== f)) {
      n = { kind: 'folder', folder: f };
      this.folderNodes.set(k, n);
    }
    return n;
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (!node) {
      const configured = this.store.configured();
      const top: TreeNode[] = [];
      if (configured.length > 0 && !vscode.workspace.isTrusted) top.push({ kind: 'trust' });
      const full = this.store.stateDirFull();
      if (full) top.push({ kind: 'stateDirFull', message: full });
      if (configured.length === 1) return [...top, ...this.folderChildren(configured[0]!)];
      return [...top, ...configured.map((f) => this.folderNode(f))];
    }
    if (node.kind === 'folder') return this.folderChildren(node.folder);
    if (node.kind === 'group') return groupMembers(this.store, node.folder, node.key).map((r) => this.engineNode(r));
    return [];
  }

  /** The folder's engines in the config's order, the replicas of a group under one node at the first's place. */
  private folderChildren(f: FolderEngines): TreeNode[] {
    const out: TreeNode[] = [];
    if (f.problems.some((p) => p.severity === 'error')) out.push({ kind: 'problems', folder: f });
    const groups = new Set<string>();
    for (const r of this.store.engines(f)) {
      const s = this.store.snapshot(r);
      const key = s ? groupKey(s) : undefined;
      if (key === undefined || !s?.replica) out.push(this.engineNode(r));
      else if (!groups.has(key)) {
        groups.add(key);
        out.push(this.groupNode(f, s.replica.group, key));
      }
    }
    return out;
  }

  getParent(node: TreeNode): TreeNode | undefined {
    if (node.kind === 'engine') {
      const s = this.store.snapshot(node.ref);
      const key = s ? groupKey(s) : undefined;
      if (key !== undefined && s?.replica) return this.groupNode(node.ref.folder, s.replica.group, key);
    }
    const folder = node.kind === 'engine' ? node.ref.folder : node.kind === 'group' ? node.folder : undefined;
    if (folder && this.store.configured().length > 1) return this.folderNode(folder);
    return undefined;
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    switch (node.kind) {
      case 'trust': {
        const item = new vscode.TreeItem('Workspace not trusted: nothing starts', vscode.TreeItemCollapsibleState.None);
        item.id = 'engineRoom:trust';
        item.iconPath = new vscode.ThemeIcon('shield', new vscode.ThemeColor('problemsWarningIcon.foreground'));
        item.tooltip = 'Engines are commands from this workspace. Engine Room starts them only in a trusted workspace. Click to manage Workspace Trust.';
        item.command = { command: 'workbench.trust.manage', title: 'Manage Workspace Trust' };
        item.contextValue = 'untrusted';
        return item;
      }
      case 'stateDirFull': {
        const item = new vscode.TreeItem('State directory full', vscode.TreeItemCollapsibleState.None);
        item.id = 'engineRoom:stateDirFull';
        item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
        item.description = 'stops still work; new starts fail';
        item.tooltip = node.message;
        item.contextValue = 'stateDirFull';
        return item;
      }
      case 'problems': {
        const n = node.folder.problems.filter((p) => p.severity === 'error').length;
        const item = new vscode.TreeItem(`${configDisplayPath(node.folder)}: ${n} problem${n === 1 ? '' : 's'}`, vscode.TreeItemCollapsibleState.None);
        item.id = `engineRoom:problems:${node.folder.folder.uri.toString()}`;
        item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
        const first = node.folder.problems[0];
        item.tooltip = first ? `Line ${first.range.line}: ${first.field ? `${first.field}: ` : ''}${first.message}` : undefined;
        item.description = this.store.loaded(node.folder) ? 'showing the last valid version' : 'nothing can start';
        item.command = { command: 'workbench.actions.view.problems', title: 'Show Problems' };
        return item;
      }
      case 'folder': {
        const item = new vscode.TreeItem(node.folder.folder.name, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `engineRoom:folder:${node.folder.folder.uri.toString()}`;
        item.iconPath = vscode.ThemeIcon.Folder;
        item.resourceUri = node.folder.folder.uri;
        item.contextValue = 'engineFolder';
        const snaps = this.store.snapshots(node.folder);
        item.description = `${snaps.filter((s) => s.state === 'healthy').length}/${snaps.length} healthy`;
        return item;
      }
      case 'group':
        return this.groupItem(node);
      case 'engine':
        return this.engineItem(node.ref);
    }
  }

  private groupItem(node: Extract<TreeNode, { kind: 'group' }>): vscode.TreeItem {
    const snaps = groupMembers(this.store, node.folder, node.key).flatMap((r) => this.store.snapshot(r) ?? []);
    const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Expanded);
    item.id = node.key;
    item.iconPath = stateIcon(groupState(snaps));
    item.description = `${healthySummary(snaps)} · ${snaps.length} replicas`;
    item.tooltip = `${node.name}: ${snaps.length} replicas (${snaps.map((s) => `${s.name} ${s.state}`).join(', ')})`;
    item.contextValue = groupContextValue(snaps);
    item.accessibilityInformation = { label: `${node.name}, group of ${snaps.length} replicas, ${healthySummary(snaps)}`, role: 'treeitem' };
    return item;
  }

  private engineItem(ref: EngineRef): vscode.TreeItem {
    const s = this.store.snapshot(ref);
    const item = new vscode.TreeItem(ref.name, vscode.TreeItemCollapsibleState.None);
    item.id = ref.key;
    if (!s) return item;
    item.iconPath = stateIcon(s.state);
    const owner = s.owner && !s.owner.self ? ` · ${s.owner.kind === 'cli' ? 'CLI' : s.owner.kind === 'vscode' ? 'other window' : 'other'}` : '';
    const ports = portsText(s);
    item.description = `${ports ? `${ports} · ` : ''}${stateLabel(s)}${owner}`;
    item.tooltip = tooltip(s);
    item.contextValue = contextValue(s);
    item.accessibilityInformation = { label: `${ref.name}, ${stateLabel(s)}${ports ? `, ${ports}` : ''}`, role: 'treeitem' };
    return item;
  }

  dispose(): void {
    for (const t of this.countdowns.values()) clearInterval(t);
    for (const d of this.disposables) d.dispose();
  }
}

function tooltip(s: EngineSnapshot): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.supportThemeIcons = true;
  md.appendMarkdown(`**${s.name}** · ${stateLabel(s)}\n\n`);
  if (s.description) md.appendText(`${s.description}\n\n`);
  md.appendMarkdown('| | |\n|---|---|\n');
  const row = (k: string, v: string) => md.appendMarkdown(`| ${k} | ${v.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |\n`);
  row('Command', '`' + s.command.join(' ').slice(0, 200) + '`');
  if (s.pid) row('PID', String(s.pid));
  const ports = portsText(s);
  if (ports) row('Ports', ports);
  if (s.health) row('Health', `${s.health.ok ? 'ok' : s.health.detail}, ${s.health.latencyMs} ms`);
  if (s.models?.length) row('Models', s.models.join(', '));
  if (s.gpuMemoryMiB !== undefined) row('GPU memory', formatGiB(s.gpuMemoryMiB));
  if (s.startedAt && s.pid) row('Uptime', formatDuration(Date.now() - s.startedAt));
  if (s.restarts) row('Restarts', String(s.restarts));
  if (s.lastExit && s.pid) row('Previous exit', `${s.lastExit.reason} (${new Date(s.lastExit.at).toLocaleTimeString()})`);
  if (s.exitCode !== null || s.signal) row('Exit', s.signal ? `killed by ${s.signal}` : `code ${s.exitCode}`);
  if (s.reason) row('Reason', s.reason);
  if (s.owner) row('Started by', `${s.owner.self ? 'this window' : s.owner.label}${s.owner.alive ? '' : ' (exited)'}`);
  const f = s.failure;
  if (f) {
    // Why it failed, where the user looks: the signature and its hint, then the log's last words.
    md.appendMarkdown('\n\n$(error) ');
    md.appendText(f.summary);
    if (f.hint) md.appendMarkdown('\n\n').appendText(f.hint);
    // One paragraph a line: the hover renders a fenced block as one run of text.
    for (const line of f.lines) md.appendMarkdown('\n\n').appendText(line);
  }
  return md;
}
