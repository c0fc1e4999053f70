/**
 * An engine's log in a terminal (a pseudoterminal keeps the engine's ANSI colors): the tail of the log
 * file first, then every new line as the engine writes it. Fed from the file, so nothing is missed.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { LogFollower, fileSize, lineBoundary, readLastLines } from '../core/logs';

/** The terminal's default scrollback: more would scroll out of reach (the whole log is in the file). */
const BACKLOG_LINES = 1000;

export class LogTerminals implements vscode.Disposable {
  private readonly open = new Map<string, vscode.Terminal>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor() {
    this.disposables.push(
      vscode.window.onDidCloseTerminal((t) => {
        for (const [k, v] of this.open) if (v === t) this.open.delete(k);
      }),
    );
  }

  /** Shows (creating it if needed) the log terminal of one engine. */
  show(key: string, title: string, logFile: string): void {
    const existing = this.open.get(key);
    if (existing) {
      existing.show(true);
      return;
    }
    const write = new vscode.EventEmitter<string>();
    let follower: LogFollower | undefined;
    const pty: vscode.Pseudoterminal = {
      onDidWrite: write.event,
      open: () => {
        write.fire(`\x1b[2m── ${logFile} ──\x1b[0m\r\n`);
        // Whole lines up to now from the file, then the follower from exactly there.
        const from = lineBoundary(logFile, fileSize(logFile));
        if (fs.existsSync(logFile)) {
          write.fire(readLastLines(logFile, BACKLOG_LINES, from).map((l) => l + '\r\n').join(''));
        } else {
          write.fire('\x1b[2m(no log yet: the engine has not been started)\x1b[0m\r\n');
        }
        follower = new LogFollower(logFile, from, (lines) => write.fire(lines.map((l) => l + '\r\n').join('')), 0, 250);
      },
      close: () => {
        follower?.close();
        write.dispose();
      },
    };
    const terminal = vscode.window.createTerminal({ name: title, pty, iconPath: new vscode.ThemeIcon('output'), isTransient: true });
    this.open.set(key, terminal);
    terminal.show(true);
  }

  dispose(): void {
    for (const t of this.open.values()) t.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
