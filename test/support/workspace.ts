/**
 * The fixture of every test that starts engines: a workspace folder with its `.vscode/engines.json`, a
 * private state dir next to it (not inside: as for a user, the workspace does not see the registry and
 * the logs change) and a port range of its own (see ports.ts), all given back when the test ends.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import type { PortRanges } from '../../src/core/ports';
import { claimPorts } from './ports';
import { tempDir, writeConfig } from './helpers';

export interface WorkspaceOptions {
  /** Written as `{ "engines": [...] }`. */
  readonly engines?: readonly unknown[];
  /** Written as it is (a string stays byte for byte, e.g. a bad config); wins over `engines`. */
  readonly config?: unknown;
  /** How many ports the auto range and the block range get (default 100 and 400). */
  readonly ports?: { readonly auto?: number; readonly blocks?: number };
}

/** Another workspace folder on the same host: same state dir, same ports (a second window). */
export interface Folder {
  readonly dir: string;
  readonly configFile: string;
}

export interface Workspace extends Folder {
  /** Next to `dir`, not created: the CLI, the extension or `ensureStateDir` creates it as for a user. */
  readonly stateDir: string;
  /** This workspace's own ports: nobody else leases from them while the test runs. */
  readonly ranges: PortRanges;
  /** The environment that points the CLI at `stateDir` and `ranges`. */
  readonly env: NodeJS.ProcessEnv;
  /** A further folder whose config shares this workspace's state dir and ports. */
  addFolder(config: unknown): Folder;
  /** Runs `fn` at cleanup, before the ports are given back and the folders removed (last added, first run). */
  onCleanup(fn: () => unknown): void;
  /** Stops what was registered, gives the ports back, removes the folders; idempotent. */
  cleanup(): Promise<void>;
}

function configText(options: WorkspaceOptions): unknown {
  if (options.config !== undefined) return options.config;
  return options.engines ? { engines: options.engines } : undefined;
}

/**
 * A fresh workspace for the test `t`, cleaned up when `t` ends (or earlier by `cleanup()`).
 * Without `engines` or `config` no engines.json is written.
 */
export async function createWorkspace(t: TestContext, options: WorkspaceOptions = {}): Promise<Workspace> {
  const auto = options.ports?.auto ?? 100;
  const blocks = options.ports?.blocks ?? 400;
  const claim = await claimPorts(auto + blocks);
  const root = tempDir();
  const folder = (name: string): string => {
    const dir = path.join(root, name);
    fs.mkdirSync(dir, { mode: 0o700 });
    return dir;
  };
  const dir = folder('workspace');
  const ranges: PortRanges = { auto: [claim.from, claim.from + auto - 1], blocks: [claim.from + auto, claim.from + auto + blocks - 1] };
  const stateDir = path.join(root, 'state');
  const config = configText(options);
  const cleanups: Array<() => unknown> = [];
  let folders = 0;
  let done: Promise<void> | undefined;
  const ws: Workspace = {
    dir,
    configFile: config === undefined ? path.join(dir, '.vscode', 'engines.json') : writeConfig(dir, config),
    stateDir,
    ranges,
    env: {
      ENGINE_ROOM_STATE_DIR: stateDir,
      ENGINE_ROOM_PORT_RANGE: `${ranges.auto[0]}-${ranges.auto[1]}`,
      ENGINE_ROOM_BLOCK_RANGE: `${ranges.blocks[0]}-${ranges.blocks[1]}`,
    },
    addFolder(folderConfig) {
      const other = folder(`workspace-${++folders}`);
      return { dir: other, configFile: writeConfig(other, folderConfig) };
    },
    onCleanup(fn) {
      cleanups.push(fn);
    },
    cleanup() {
      done ??= (async () => {
        try {
          for (const fn of cleanups.reverse()) await fn();
        } finally {
          await claim.release();
          fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 });
        }
      })();
      return done;
    },
  };
  t.after(() => ws.cleanup());
  return ws;
}
