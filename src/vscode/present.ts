/** Icons as VS Code objects; the rest of how engines look is in viewModel.ts (no vscode import). */
import * as vscode from 'vscode';
import type { EngineState } from '../core/supervisor/supervisor';
import { STATE_ICONS } from './viewModel';

export function stateIcon(state: EngineState): vscode.ThemeIcon {
  const [id, color] = STATE_ICONS[state];
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}
