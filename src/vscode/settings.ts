/** The `engineRoom.*` settings, read when needed (they can change at any time). */
import * as vscode from 'vscode';

export interface Settings {
  /** Stop the engines this window started when it closes (else they keep running, registered). */
  readonly stopOnClose: boolean;
  /** How often (ms) the views look for engines that other windows and the CLI run, and probe them. */
  readonly refreshInterval: number;
  /** Engines of this workspace left running by a window or CLI that died: adopt them or stop them. */
  readonly orphans: 'adopt' | 'stop';
  /** Keep `.vscode/engines.env` current with the running engines' URLs and ports. */
  readonly writeEnvFile: boolean;
  /** If this window's extension host dies (crash, SIGKILL): keep its engines (adoptable) or stop them. */
  readonly onWindowCrash: 'keep' | 'stop';
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('engineRoom');
  return {
    stopOnClose: c.get<boolean>('stopOnClose', true),
    refreshInterval: Math.max(500, c.get<number>('refreshInterval', 2000)),
    orphans: c.get<string>('orphans', 'adopt') === 'stop' ? 'stop' : 'adopt',
    writeEnvFile: c.get<boolean>('writeEnvFile', false),
    onWindowCrash: c.get<string>('onWindowCrash', 'keep') === 'stop' ? 'stop' : 'keep',
  };
}
