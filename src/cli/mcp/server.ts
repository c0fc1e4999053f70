/**
 * The MCP server of `engine-room mcp`, bundled on its own (dist/mcp.js) with the MCP SDK and zod, so
 * that no other command loads them: commands/mcp.ts loads this file only for the `mcp` command.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Supervisor } from '../../core/supervisor/supervisor';
import { registerTools } from './tools';

/**
 * Serves the supervisor's engines over stdio until the client goes away (stdin closed) or a signal
 * comes; then stops the engines this server started and resolves with the exit code.
 */
export function serve(sup: Supervisor, version: string): Promise<number> {
  const server = new McpServer(
    { name: 'engine-room', version },
    { instructions: `Runs the engines of ${sup.configFile}. start_engines returns once they are healthy or failed; engine_endpoints gives their URLs; engine_logs shows why one failed.` },
  );
  registerTools(server, sup);
  return new Promise<number>((resolve, reject) => {
    let closing = false;
    const close = (code: number) => () => {
      if (closing) return;
      closing = true;
      void sup
        .dispose()
        .then(() => server.close())
        .then(() => resolve(code), reject);
    };
    process.stdin.on('end', close(0));
    process.stdin.on('close', close(0));
    process.on('SIGINT', close(130));
    process.on('SIGTERM', close(143));
    process.on('SIGHUP', close(129));
    server.connect(new StdioServerTransport()).catch(reject);
  });
}
