/** The status bar item: "3/4 healthy" at a glance, a spinner while starting, warning colors on trouble. */
import * as vscode from 'vscode';
import type { EngineSnapshot } from '../core/supervisor/supervisor';
import type { EngineStore } from './engineStore';
import { portsText, stateCodicon, stateLabel } from './viewModel';

export class EnginesStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private pending: NodeJS.Timeout | undefined;

  constructor(private readonly store: EngineStore) {
    this.item = vscode.window.createStatusBarItem('engineRoom.status', vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'Engine Room';
    this.item.command = 'engineRoom.showPanel';
    this.disposables.push(
      this.item,
      store.onDidChangeEngine(() => this.schedule()),
      store.onDidChangeStructure(() => this.schedule()),
    );
    this.update();
  }

  /** Coalesces bursts of engine events (a batch start) into one redraw. */
  private schedule(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.update();
    }, 50);
  }

  update(): void {
    const snaps = this.store.engines().map((r) => this.store.snapshot(r)).filter((s): s is EngineSnapshot => !!s);
    if (this.store.configured().length === 0) {
      this.item.hide();
      return;
    }
    const healthy = snaps.filter((s) => s.state === 'healthy').length;
    const busy = snaps.some((s) => s.state === 'starting' || s.state === 'waiting' || s.state === 'stopping');
    const trouble = snaps.filter((s) => s.state === 'failed' || s.state === 'unhealthy');
    const problems = this.store.configured().some((f) => f.problems.some((p) => p.severity === 'error'));
    const icon = busy ? '$(loading~spin)' : trouble.length > 0 || problems ? '$(warning)' : '$(server)';
    this.item.text = `${icon} ${healthy}/${snaps.length} healthy`;
    this.item.backgroundColor = trouble.length > 0 || problems ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    const md = new vscode.MarkdownString(undefined, true);
    md.supportThemeIcons = true;
    md.appendMarkdown('**Engine Room**\n\n');
    for (const s of snaps) {
      const ports = portsText(s);
      md.appendMarkdown(`$(${stateCodicon(s.state).replace('~spin', '')}) **${s.name}** ${stateLabel(s)}${ports ? ` · ${ports}` : ''}\n\n`);
    }
    if (problems) md.appendMarkdown('$(error) The engines configuration has problems (see the Problems panel).\n\n');
    md.appendMarkdown('_Click to open the Engines panel._');
    this.item.tooltip = md;
    const summary = snaps.map((s) => `${s.name} ${s.state}`).join(', ');
    this.item.accessibilityInformation = { label: `Engine Room: ${healthy} of ${snaps.length} engines healthy${trouble.length ? `, ${trouble.length} with problems` : ''}. ${summary}`, role: 'button' };
    this.item.show();
  }

  dispose(): void {
    clearTimeout(this.pending);
    for (const d of this.disposables) d.dispose();
  }
}
