/**
 * `engine-room mcp` offered to VS Code's MCP clients (`contributes.mcpServerDefinitionProviders`, VS Code
 * 1.101 and later): one stdio server a workspace folder with a config, run by the extension host's own
 * runtime (`process.execPath`; ELECTRON_RUN_AS_NODE makes the desktop's Electron a plain Node, Node ignores
 * it) on the CLI bundled in the extension. The MCP API is not in the 1.100 types the extension builds
 * against: it is declared here structurally and looked up at run time; absent, nothing is offered.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { type EngineStore } from './engineStore';

/** The provider's id, as in package.json's `contributes.mcpServerDefinitionProviders`. */
export const MCP_PROVIDER_ID = 'engineRoom.mcpServers';

/** vscode.McpStdioServerDefinition (1.101): the fields the extension sets. */
export interface StdioServerDefinition {
  readonly label: string;
  cwd?: vscode.Uri;
  command: string;
  args: string[];
  env: Record<string, string | number | null>;
  version?: string;
}

type StdioServerDefinitionClass = new (label: string, command: string, args?: string[], env?: Record<string, string | number | null>, version?: string) => StdioServerDefinition;

interface McpServerDefinitionProvider {
  readonly onDidChangeMcpServerDefinitions?: vscode.Event<void>;
  provideMcpServerDefinitions(token: vscode.CancellationToken): vscode.ProviderResult<StdioServerDefinition[]>;
}

/**
 * The MCP part of `vscode` where this VS Code has it (1.101+), else undefined. VS Code 1.100 has a
 * proposed function of the same name that wants another contribution point and throws (seen in
 * code-server 4.100.3): the version decides, not the function's presence.
 */
export function mcpApi(api: unknown = vscode): { Definition: StdioServerDefinitionClass; register: (id: string, p: McpServerDefinitionProvider) => vscode.Disposable } | undefined {
  const v = api as { version: string; lm?: { registerMcpServerDefinitionProvider?: (id: string, p: McpServerDefinitionProvider) => vscode.Disposable }; McpStdioServerDefinition?: StdioServerDefinitionClass };
  const [major = 0, minor = 0] = v.version.split('.').map(Number);
  if (major < 1 || (major === 1 && minor < 101)) return undefined;
  const register = v.lm?.registerMcpServerDefinitionProvider;
  if (typeof register !== 'function' || typeof v.McpStdioServerDefinition !== 'function') return undefined;
  return { Definition: v.McpStdioServerDefinition, register: (id, p) => register.call(v.lm, id, p) };
}

export class McpServers implements McpServerDefinitionProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly subs: vscode.Disposable[];
  readonly onDidChangeMcpServerDefinitions = this.changed.event;

  constructor(
    private readonly store: EngineStore,
    private readonly Definition: StdioServerDefinitionClass,
    private readonly extensionPath: string,
    private readonly version: string,
  ) {
    // A config created or removed adds or drops a folder's server.
    this.subs = [this.changed, store.onDidChangeStructure(() => this.changed.fire())];
  }

  async provideMcpServerDefinitions(): Promise<StdioServerDefinition[]> {
    if (!vscode.workspace.isTrusted) return [];
    await this.store.ready();
    const folders = this.store.configured().filter((f) => f.exists && f.configUri.scheme === 'file');
    return folders.map((f) => {
      const label = folders.length > 1 ? `Engine Room (${f.folder.name})` : 'Engine Room';
      const cli = path.join(this.extensionPath, 'dist', 'cli.js');
      const def = new this.Definition(label, process.execPath, [cli, 'mcp', '--config', f.configUri.fsPath], { ELECTRON_RUN_AS_NODE: '1' }, this.version);
      def.cwd = f.folder.uri;
      return def;
    });
  }

  dispose(): void {
    for (const d of this.subs) d.dispose();
  }
}
