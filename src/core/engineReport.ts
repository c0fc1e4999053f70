/**
 * What the agents' tools say about engines (the MCP server of `engine-room mcp` and the extension's
 * Language Model tools): the stable JSON of one engine (also `status --json`), its state in one line,
 * its endpoints, and the report of a start. Plain data from snapshots: no process run, no file read.
 */
import { endpointVariables } from './endpoints';
import type { EngineSnapshot, StartOutcome } from './supervisor/supervisor';
import { browsableHost, httpUrl } from '../shared/url';

/** The stable JSON shape of one engine (documented in the README). */
export function engineJson(s: EngineSnapshot) {
  return {
    name: s.name,
    state: s.state,
    pid: s.pid,
    ports: s.ports,
    portBlock: s.portBlock,
    health: s.health ? { ok: s.health.ok, latencyMs: s.health.latencyMs, detail: s.health.detail, at: new Date(s.health.at).toISOString() } : null,
    owner: s.owner ? { pid: s.owner.pid, kind: s.owner.kind, label: s.owner.label, alive: s.owner.alive } : null,
    reason: s.reason ?? null,
    failure: s.failure ? { kind: s.failure.kind, summary: s.failure.summary, hint: s.failure.hint ?? null, lines: s.failure.lines } : null,
    exitCode: s.exitCode,
    restarts: s.restarts,
    lastExit: s.lastExit ? { exitCode: s.lastExit.exitCode, signal: s.lastExit.signal, reason: s.lastExit.reason, at: new Date(s.lastExit.at).toISOString() } : null,
    gpuMemoryMiB: s.gpuMemoryMiB ?? null,
    models: s.models ?? null,
    logFile: s.logFile,
    configFile: s.configFile,
  };
}

/** "policy: healthy on port 8001 (reason)". */
export function stateLine(s: EngineSnapshot): string {
  const port = s.ports.port !== undefined ? ` on port ${s.ports.port}` : '';
  return `${s.name}: ${s.state}${port}${s.reason ? ` (${s.reason})` : ''}`;
}

/** URL, OpenAI base URL, ports, block and the ENGINE_<NAME>_* variables of one engine. */
export function endpointJson(s: EngineSnapshot) {
  const port = s.ports.port ?? null;
  const url = port !== null ? httpUrl(browsableHost(s.host), port) : null;
  return {
    name: s.name,
    state: s.state,
    url,
    openaiBaseUrl: url && s.openai ? `${url}/v1` : null,
    ports: s.ports,
    portBlock: s.portBlock,
    variables: s.pid !== null ? endpointVariables([s]) : {},
  };
}

export function endpointLine(e: ReturnType<typeof endpointJson>): string {
  return `${e.name}: ${e.url ?? `no endpoint (${e.state})`}`;
}

/** Which engines of a start became healthy and which failed (with why), as text and as JSON. */
export function startReport(outcomes: readonly StartOutcome[], snapshot: (name: string) => EngineSnapshot) {
  const healthy = outcomes.filter((o) => o.ok).map((o) => o.name);
  const failed = outcomes.filter((o) => !o.ok).map((o) => ({ name: o.name, state: o.state, reason: o.reason ?? snapshot(o.name).reason ?? null }));
  const parts = [healthy.length > 0 ? `healthy: ${healthy.join(', ')}` : '', ...failed.map((f) => `failed: ${f.name}${f.reason ? ` (${f.reason})` : ''}`)].filter(Boolean);
  return {
    text: parts.join('; ') || 'nothing to start',
    json: { ok: failed.length === 0, healthy, failed, engines: outcomes.map((o) => engineJson(snapshot(o.name))) },
  };
}
