/** Context keys for `when` clauses, set only when their value changes. */
import * as vscode from 'vscode';
import type { EngineStore } from './engineStore';
import { isRunning } from '../shared/engineState';

export class ContextKeys implements vscode.Disposable {
  private readonly values = new Map<string, unknown>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly store: EngineStore) {
    this.disposables.push(
      store.onDidChangeStructure(() => this.update()),
      store.onDidChangeEngine(() => this.update()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.update()),
    );
    this.update();
  }

  private set(key: string, value: unknown): void {
    if (this.values.get(key) === value) return;
    this.values.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  }

  private update(): void {
    const configured = this.store.configured();
    this.set('engineRoom.hasConfig', configured.length > 0);
    this.set('engineRoom.loaded', this.store.initialized);
    const running = this.store.engines().some((r) => {
      const s = this.store.snapshot(r);
      return s !== undefined && isRunning(s);
    });
    this.set('engineRoom.anyRunning', running);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
