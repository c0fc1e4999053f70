/**
 * `.vscode/engines.env`: the running engines' URLs and ports as a dotenv file for the user's own code
 * (python-dotenv, `--env-file`, launch.json `envFile`), kept current as engines start and stop. Off
 * unless `engineRoom.writeEnvFile` is on; the README says to keep the file out of version control.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeFileAtomic } from '../core/atomicFile';
import { endpointVariables, formatDotenv } from '../core/endpoints';
import type { EngineStore } from './engineStore';
import type { FolderEngines } from './engineRefs';
import { browsableHost } from '../shared/url';
import { debounce } from '../shared/debounce';

export const ENV_FILE_RELATIVE = '.vscode/engines.env';

const HEADER = '# Written by Engine Room: the URLs and ports of the engines that run now. Do not edit; do not commit.\n';

export class EnvFileWriter implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly written = new Map<string, string>();

  constructor(
    private readonly store: EngineStore,
    private readonly enabled: () => boolean,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      store.onDidChangeEngine(() => this.schedule()),
      store.onDidChangeStructure(() => this.schedule()),
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('engineRoom.writeEnvFile') && this.schedule()),
    );
    this.schedule();
  }

  private readonly schedule = debounce(() => this.writeAll(), 200, 'first');

  /** Writes now what a pending change would write soon (a task that ends once its engines are healthy). */
  flush(): void {
    this.schedule.cancel();
    this.writeAll();
  }

  private writeAll(): void {
    if (this.enabled()) for (const f of this.store.configured()) this.write(f);
  }

  /** The file's text for one folder now. */
  text(f: FolderEngines): string {
    const snaps = this.store.snapshots(f).filter((s) => s.pid !== null);
    const vars = endpointVariables(snaps.map((s) => ({ name: s.name, host: browsableHost(s.host), ports: s.ports, portBlock: s.portBlock, openai: s.openai, preset: s.preset })));
    return HEADER + formatDotenv(vars);
  }

  private write(f: FolderEngines): void {
    const file = path.join(f.folder.uri.fsPath, ENV_FILE_RELATIVE);
    let text: string;
    try {
      text = this.text(f);
    } catch (e) {
      this.log.warn(`[${f.folder.name}] ${ENV_FILE_RELATIVE} not written: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (this.written.get(file) === text) return;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      writeFileAtomic(file, text);
      this.written.set(file, text);
    } catch (e) {
      this.log.warn(`[${f.folder.name}] could not write ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  dispose(): void {
    this.schedule.cancel();
    for (const d of this.disposables) d.dispose();
  }
}
