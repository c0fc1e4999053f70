/**
 * What agents get in VS Code: the Language Model tools and the MCP server definitions, registered only
 * once the workspace is trusted (the engines are commands from the workspace) and only where this VS Code
 * has the API (`vscode.lm` is looked up, not assumed: the extension still runs on 1.100).
 */
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import { type EngineStore } from './engineStore';
import { EngineTools } from './lmTools';
import { MCP_PROVIDER_ID, McpServers, mcpApi } from './mcpServers';

function register(store: EngineStore, extensionPath: string, version: string, log: vscode.LogOutputChannel): vscode.Disposable[] {
  const owned: vscode.Disposable[] = [];
  const lm = (vscode as { lm?: Partial<typeof vscode.lm> }).lm;
  if (typeof lm?.registerTool === 'function') {
    for (const [name, tool] of new EngineTools(store).tools()) {
      try {
        owned.push(lm.registerTool(name, tool));
      } catch (e) {
        log.warn(`the Language Model tool ${name} could not be registered: ${errorMessage(e)}`);
      }
    }
  } else {
    log.info('this VS Code has no Language Model tools API: no tools registered');
  }
  const mcp = mcpApi();
  if (mcp) {
    const servers = new McpServers(store, mcp.Definition, extensionPath, version);
    owned.push(servers);
    try {
      owned.push(mcp.register(MCP_PROVIDER_ID, servers));
    } catch (e) {
      // An API that changed under us must not take the extension's activation down with it.
      log.warn(`the MCP server definition provider could not be registered: ${errorMessage(e)}`);
    }
  } else {
    log.info('this VS Code has no MCP server definition API (1.101+): no MCP server offered');
  }
  return owned;
}

/** Registers the agents' tools now if the workspace is trusted, else once it is. */
export function registerAgentAccess(store: EngineStore, extensionPath: string, version: string, log: vscode.LogOutputChannel): vscode.Disposable {
  const owned: vscode.Disposable[] = [];
  const now = () => owned.push(...register(store, extensionPath, version, log));
  if (vscode.workspace.isTrusted) now();
  else owned.push(vscode.workspace.onDidGrantWorkspaceTrust(now));
  return { dispose: () => owned.splice(0).forEach((d) => d.dispose()) };
}
