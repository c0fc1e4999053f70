/**
 * The tools of `engine-room mcp`: what an AI agent needs to run the engines of one config (list, start,
 * stop, restart, read a log, get endpoints). Each returns structured JSON (structuredContent) and a
 * short text; an unknown engine or a bad argument is a tool error, never a crash of the server.
 */
import * as fs from 'node:fs';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { endpointJson, endpointLine, engineJson, startReport, stateLine } from '../../core/engineReport';
import { readLastLines } from '../../core/logs';
import type { Supervisor } from '../../core/supervisor/supervisor';

const MAX_LOG_LINES = 5000;

const names = z.array(z.string().min(1)).optional().describe('Engine names of the config; all engines when absent or empty.');
const namesInput = { names };

function result(text: string, structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

function toolError(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** The named engines' names (a group of replicas named by its entry stands for its replicas), or the error that names the unknown ones. */
function pick(sup: Supervisor, wanted: readonly string[] | undefined): { names: string[] } | { error: CallToolResult } {
  const all = sup.names();
  const expanded = sup.expand(wanted ?? []);
  const unknown = expanded.filter((n) => !all.includes(n));
  if (unknown.length > 0) return { error: toolError(`No engine named ${unknown.map((n) => `"${n}"`).join(', ')} in ${sup.configFile}; the engines are: ${all.join(', ')}.`) };
  return { names: expanded.length > 0 ? expanded : all };
}

/** Starts (or restarts) and reports which engines became healthy and which failed. */
async function startEngines(sup: Supervisor, list: string[], restart: boolean): Promise<CallToolResult> {
  const outcomes = restart ? await sup.restart(list) : await sup.start(list);
  const report = startReport(outcomes, (n) => sup.snapshot(n));
  return result(report.text, report.json);
}

export function registerTools(server: McpServer, sup: Supervisor): void {
  server.registerTool(
    'list_engines',
    { title: 'List engines', description: 'The engines of the config: state, pid, ports, health and owner (whoever started them).', inputSchema: namesInput, annotations: { readOnlyHint: true } },
    async ({ names: wanted }) => {
      const p = pick(sup, wanted);
      if ('error' in p) return p.error;
      await sup.refresh();
      const snaps = p.names.map((n) => sup.snapshot(n));
      return result(snaps.map(stateLine).join('\n'), { configFile: sup.configFile, engines: snaps.map(engineJson) });
    },
  );
  server.registerTool(
    'start_engines',
    {
      title: 'Start engines',
      description: 'Starts engines (and what they depend on) one after another under the host-wide start lock; returns once each is healthy or has failed, and says which.',
      inputSchema: namesInput,
      annotations: { destructiveHint: false, openWorldHint: false },
    },
    async ({ names: wanted }) => {
      const p = pick(sup, wanted);
      return 'error' in p ? p.error : startEngines(sup, p.names, false);
    },
  );
  server.registerTool(
    'stop_engines',
    { title: 'Stop engines', description: 'Stops engines, whoever started them; returns once their process trees are gone.', inputSchema: namesInput, annotations: { destructiveHint: true } },
    async ({ names: wanted }) => {
      const p = pick(sup, wanted);
      if ('error' in p) return p.error;
      await sup.stop(p.names);
      const snaps = p.names.map((n) => sup.snapshot(n));
      return result(snaps.map(stateLine).join('\n'), { engines: snaps.map(engineJson) });
    },
  );
  server.registerTool(
    'restart_engines',
    { title: 'Restart engines', description: 'Stops and starts engines again; returns once each is healthy or has failed.', inputSchema: namesInput, annotations: { destructiveHint: true } },
    async ({ names: wanted }) => {
      const p = pick(sup, wanted);
      return 'error' in p ? p.error : startEngines(sup, p.names, true);
    },
  );
  server.registerTool(
    'engine_logs',
    {
      title: 'Engine log',
      description: "The last lines of an engine's log (its stdout and stderr).",
      inputSchema: { name: z.string().min(1).describe('The engine.'), lines: z.number().int().min(1).max(MAX_LOG_LINES).optional().describe('How many lines (default 100).') },
      annotations: { readOnlyHint: true },
    },
    async ({ name, lines }) => {
      const p = pick(sup, [name]);
      if ('error' in p) return p.error;
      const snap = sup.snapshot(name);
      const text = fs.existsSync(snap.logFile) ? readLastLines(snap.logFile, lines ?? 100) : [];
      return result(text.length > 0 ? text.join('\n') : `(the log of ${name} is empty)`, { name, logFile: snap.logFile, lines: text });
    },
  );
  server.registerTool(
    'engine_endpoints',
    { title: 'Engine endpoints', description: 'URLs, ports and OpenAI base URLs of engines, with the ENGINE_<NAME>_* variables of `engine-room env`.', inputSchema: namesInput, annotations: { readOnlyHint: true } },
    async ({ names: wanted }) => {
      const p = pick(sup, wanted);
      if ('error' in p) return p.error;
      await sup.refresh(false);
      const list = p.names.map((n) => endpointJson(sup.snapshot(n)));
      const text = list.map(endpointLine).join('\n');
      return result(text, { endpoints: list });
    },
  );
}
