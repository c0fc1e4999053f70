/** What tests of stops share: the processes of a workspace, seen without Engine Room's own marker. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { pidAlive, runCli } from './helpers';
import type { Workspace } from './workspace';

/**
 * The test's own view, independent of Engine Room's marker: every live process whose environment
 * points at this workspace's state directory (the engines inherit it from the CLI), with its marker.
 */
export function processesOf(ws: Workspace): Array<{ pid: number; marker: string | undefined }> {
  const out: Array<{ pid: number; marker: string | undefined }> = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let env: string[];
    try {
      env = fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!env.includes(`ENGINE_ROOM_STATE_DIR=${ws.stateDir}`) || !pidAlive(Number(name))) continue;
    out.push({ pid: Number(name), marker: env.find((e) => e.startsWith('ENGINE_ROOM_START='))?.slice('ENGINE_ROOM_START='.length) });
  }
  return out;
}

/** `down` stops the engines; afterwards no process of the workspace is left. Returns what down said. */
export async function downLeavesNothing(ws: Workspace): Promise<string> {
  const r = await runCli(['down', '--config', ws.configFile], { env: ws.env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(processesOf(ws), [], `down left processes running (down said: ${r.stderr})`);
  return r.stderr;
}

/** Live processes whose command line matches `re` (for daemons that overwrite their environment). */
export function processesByCommand(re: RegExp): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n) && pidAlive(Number(n)))
    .filter((n) => {
      try {
        return re.test(fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').replace(/\0/g, ' '));
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Kills what a failed test left running, at cleanup. */
export function killLeftovers(ws: Workspace): void {
  ws.onCleanup(() => {
    for (const p of processesOf(ws)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
}

