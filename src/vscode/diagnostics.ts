/** Config problems in the Problems panel: file, line, column and field of each. */
import * as vscode from 'vscode';
import type { ConfigProblem } from '../core/model';

export class ConfigDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('engineRoom');

  set(uri: vscode.Uri, problems: readonly ConfigProblem[]): void {
    this.collection.set(uri, problems.map(toDiagnostic));
  }

  delete(uri: vscode.Uri): void {
    this.collection.delete(uri);
  }

  dispose(): void {
    this.collection.dispose();
  }
}

export function toDiagnostic(p: ConfigProblem): vscode.Diagnostic {
  const r = p.range;
  const range = new vscode.Range(Math.max(0, r.line - 1), Math.max(0, r.column - 1), Math.max(0, r.endLine - 1), Math.max(0, r.endColumn - 1));
  const d = new vscode.Diagnostic(range, p.field ? `${p.field}: ${p.message}` : p.message, p.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  d.source = 'Engine Room';
  return d;
}
