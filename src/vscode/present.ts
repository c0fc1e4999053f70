/** Icons as VS Code objects; the rest of how engines look is in src/shared/viewModel.ts (no vscode import). */
import * as vscode from 'vscode';
import type { EngineState } from '../shared/engineState';
import { STATE_ICONS } from '../shared/viewModel';

export function stateIcon(state: EngineState): vscode.ThemeIcon {
  const [id, color] = STATE_ICONS[state];
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}
