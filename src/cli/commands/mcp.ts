// `engine-room mcp [--config FILE]`: an MCP server over stdio for the engines of one config. The server
// and the MCP SDK are a bundle of their own (dist/mcp.js), loaded here and by no other command.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '../../core/errors';
import { UsageError, loadOrExit, makeSupervisor } from '../common';

type ServerModule = typeof import('../mcp/server');

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } } });
  } catch (e) {
    throw new UsageError(`mcp: ${errorMessage(e)}`);
  }
  // stdout is the protocol: the config's problems and every message go to stderr.
  const config = await loadOrExit(parsed.values.config);
  // dist/mcp.js beside this bundle.
  const load = createRequire(__filename);
  const server = load(path.join(__dirname, 'mcp.js')) as ServerModule;
  const version = (load(path.join(__dirname, '..', 'package.json')) as { version: string }).version;
  return server.serve(makeSupervisor(config, 'engine-room mcp', 'adopt'), version);
}
