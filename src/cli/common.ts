// What the CLI commands share: config loading, the supervisor, tables; and (from io.ts) output and the errors that pick the exit code.
import * as path from 'node:path';
import { findConfigFile, formatProblem, loadConfig } from '../core/config';
import type { EnginesConfig } from '../core/model';
import { defaultStateDir, ensureStateDir, stateDirFull, stateDirFullMessage } from '../core/stateDir';
import { Supervisor, type EngineSnapshot } from '../core/supervisor/supervisor';
import { reasonText } from '../shared/viewModel';
import { BadConfig, UsageError, err, out } from './io';

// Re-exported: a command reaches everything it shares through this one module.
export { BadConfig, UsageError, err, out };

// The stable JSON of one engine (`status --json`), shared with the agents' tools.
export { engineJson } from '../core/engineReport';

export async function loadOrExit(configOpt: string | undefined): Promise<EnginesConfig> {
  const file = configOpt ? path.resolve(configOpt) : findConfigFile(process.cwd());
  if (!file) throw new UsageError('No .vscode/engines.json found in this folder or above it; pass --config FILE.');
  const result = await loadConfig(file);
  for (const p of result.problems) err(formatProblem(p));
  if (!result.config) {
    const n = result.problems.filter((p) => p.severity === 'error').length;
    err(`${n} error${n === 1 ? '' : 's'} in ${file}; nothing was started.`);
    throw new BadConfig();
  }
  return result.config;
}

export function makeSupervisor(config: EnginesConfig, label: string, orphans: 'adopt' | 'leave' = 'leave', stopOnKill = false): Supervisor {
  const stateDir = ensureStateDir(defaultStateDir());
  return new Supervisor({
    config,
    stateDir,
    ownerKind: 'cli',
    ownerLabel: `${label} (pid ${process.pid})`,
    orphans,
    // dist/reaper.js beside this bundle.
    reaper: stopOnKill ? { script: path.join(__dirname, 'reaper.js') } : undefined,
    log: (level, m) => {
      if (level !== 'info') err(`engine-room: ${m}`);
    },
  });
}

/** Says so on stderr when the state directory's disk is full (status, up, down). */
export function warnIfStateDirFull(): void {
  const dir = defaultStateDir();
  if (stateDirFull(dir)) err(`engine-room: ${stateDirFullMessage(dir)}`);
}

export function portsText(s: Pick<EngineSnapshot, 'ports' | 'portBlock'>): string {
  const parts = Object.entries(s.ports).map(([k, v]) => (k === 'port' ? String(v) : `${k}=${v}`));
  if (s.portBlock) parts.push(`block ${s.portBlock[0]}-${s.portBlock[1]}`);
  return parts.join(', ') || '-';
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** "killed by SIGKILL", "exit 3" */
function exitText(e: NonNullable<EngineSnapshot['lastExit']>): string {
  return e.signal ? `killed by ${e.signal}` : e.exitCode !== null ? `exit ${e.exitCode}` : e.reason;
}

export function printStatus(snaps: readonly EngineSnapshot[]): void {
  const rows = [['NAME', 'STATE', 'PID', 'PORTS', 'HEALTH', 'OWNER', 'RESTARTS', 'REASON']];
  for (const s of snaps) {
    const health = s.health ? `${s.health.ok ? 'ok' : s.health.detail} (${s.health.latencyMs} ms)` : '-';
    const owner = s.owner ? `${s.owner.label}${s.owner.alive ? '' : ' (exited)'}` : '-';
    const restarts = s.restarts > 0 || s.lastExit ? `${s.restarts}${s.lastExit ? ` (previous: ${exitText(s.lastExit)})` : ''}` : '-';
    rows.push([s.name, s.state, s.pid ? String(s.pid) : '-', portsText(s), health, owner, restarts, reasonText(s) || '-']);
  }
  out(table(rows));
  for (const s of snaps) if (s.state === 'failed') out(`\n${failureText(s)}`);
}

/** A failed engine, in full: why (the signature or the reason), what to do, its last meaningful lines. */
export function failureText(s: EngineSnapshot): string {
  const f = s.failure;
  const head = `${s.name} failed: ${s.reason ?? f?.summary ?? 'failed'}`;
  if (!f) return head;
  const parts = [f.kind !== 'unknown' && !head.includes(f.summary) ? `${head}: ${f.summary}` : head];
  if (f.hint) parts.push(`  hint: ${f.hint}`);
  if (f.lines.length > 0) parts.push(`  last log lines (${s.logFile}):`, ...f.lines.map((l) => `    ${l}`));
  return parts.join('\n');
}
