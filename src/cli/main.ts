/**
 * `engine-room`: the command-line face of the core, for terminals and scripts.
 * Exit codes: 0 success, 1 an engine failed, 2 bad configuration or usage.
 */
import { parseArgs } from 'node:util';
import { errorMessage, isEngineRoomError } from '../core/errors';
import { BadConfig, UsageError, err, out } from './io';

const USAGE = `Usage: engine-room <command> [options]

Commands:
  up [NAME...]        start engines (and what they depend on); supervises in the foreground
      --detach        return once all are healthy (exit 0) or one failed (exit 1); they keep running,
                      supervised by a background process (restarts, health, exit codes) that exits
                      with the last of them
      --json          with --detach: print the engines as JSON
      --stop-on-kill  stop the engines even if this command is killed (SIGKILL); by default they stay
                      running and the next \`up\` (or a VS Code window) adopts them
  down [NAME...]      stop engines of the config, whoever started them; returns when they are gone
  status              state, pid, ports, health and owner of each engine
      --all           every engine on this host, of any config
      --json          machine-readable output
  logs NAME           print an engine's log
      --lines N       the last N lines (default 100)
      --follow, -f    keep printing new lines
  validate            check the config; --json prints the problems as JSON
  env [NAME...]       the running engines' URLs and ports as variables: ENGINE_<NAME>_URL, _PORT,
                      _PORT_BLOCK, _OPENAI_BASE_URL (eval "$(engine-room env)")
      --format F      shell (export lines, the default), dotenv or json
  lease               lease ports from the host-wide registry for a process Engine Room did not start;
                      prints ENGINE_ROOM_LEASE_ID=, ENGINE_ROOM_PORT=, ENGINE_ROOM_PORT_BLOCK=first-last
      --port          a port (the default when --block is not given)
      --block N       a block of N contiguous ports
      --label TEXT    shown by \`status --all\`
      --pid PID       the lease lasts while this process lives (default: the caller: our parent, or
                      the process above it when that is npm, npx or a \`sh -c\` wrapper)
      --json          print { "id", "port", "portBlock": [first, last] }
  release ID          end a lease before its process exits
  exec [OPTIONS] -- COMMAND ARGS...
                      lease (--port, --block N, --label as for lease), run COMMAND with ENGINE_ROOM_PORT,
                      ENGINE_ROOM_PORT_BLOCK set, forward signals, exit with its code, end the lease
      --env NAME=TEMPLATE  also set NAME, with the config's variables: --env 'VLLM_PORT=\${portBlock}'
  mcp                 an MCP server over stdio for the config's engines (list, start, stop, restart,
                      logs, endpoints), for AI agents and MCP clients

Common options:
  --config FILE       the engines file (default: .vscode/engines.json, searched upwards from here)
  -h, --help          this help

Exit codes: 0 success, 1 an engine failed, 2 bad configuration or usage.`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  detach: { type: 'boolean', short: 'd' },
  json: { type: 'boolean' },
  all: { type: 'boolean', short: 'a' },
  lines: { type: 'string', short: 'n' },
  follow: { type: 'boolean', short: 'f' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'stop-on-kill': { type: 'boolean' },
} as const;

type Options = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>>['values'];

/*
 * Every command's module is imported when it runs, never before: `--help` and `validate` do not pay for
 * the supervisor, execa and the rest (the bundle keeps them all, each initialized on its first import).
 * Add a command as `name: async (names, o) => (await import('./commands/name')).run(names, o)`.
 */
const COMMANDS: Readonly<Record<string, (names: string[], o: Options) => Promise<number>>> = {
  up: async (names, o) => (await import('./commands/up')).run(names, o),
  down: async (names, o) => (await import('./commands/down')).run(names, o),
  status: async (_names, o) => (await import('./commands/status')).run(o),
  logs: async (names, o) => (await import('./commands/logs')).run(names, o),
  validate: async (_names, o) => (await import('./commands/validate')).run(o),
  env: async (names, o) => (await import('./commands/env')).run(names, o),
};

/**
 * Commands that parse their own arguments, given everything after the command's name (so that
 * `exec -- COMMAND ARGS...` reaches its command untouched). Add one as
 * `['name', async (argv) => (await import('./commands/name')).run(argv)]`: imported when it runs, as above.
 */
const OWN_ARGS = new Map<string, (argv: string[]) => Promise<number>>([
  ['lease', async (argv) => (await import('./commands/lease')).run(argv)],
  ['release', async (argv) => (await import('./commands/release')).run(argv)],
  ['exec', async (argv) => (await import('./commands/exec')).run(argv)],
  ['mcp', async (argv) => (await import('./commands/mcp')).run(argv)],
]);

export async function main(argv: string[]): Promise<number> {
  const own = OWN_ARGS.get(argv[0] ?? '');
  if (own) return guarded(() => own(argv.slice(1)));
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    err(`engine-room: ${errorMessage(e)}\n\n${USAGE}`);
    return 2;
  }
  const [command, ...names] = parsed.positionals;
  const o = parsed.values;
  if (o.help || !command) {
    (o.help ? out : err)(USAGE);
    return o.help ? 0 : 2;
  }
  return guarded(async () => {
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw new UsageError(`Unknown command "${command}".`);
    return await run(names, o);
  });
}

/** Runs a command and turns what it throws into a message and an exit code. */
async function guarded(command: () => Promise<number>): Promise<number> {
  try {
    return await command();
  } catch (e) {
    if (e instanceof BadConfig) return 2;
    if (e instanceof UsageError) {
      err(`engine-room: ${e.message}\n\nRun \`engine-room --help\` for usage.`);
      return 2;
    }
    err(`engine-room: ${errorMessage(e)}`);
    return isEngineRoomError(e, 'bad-config') || isEngineRoomError(e, 'unknown-engine') ? 2 : 1;
  }
}
