/**
 * The engines as Language Model tools (`contributes.languageModelTools`), for agents in VS Code: the
 * operations of `engine-room mcp` (list, start, stop, restart, a log's tail, endpoints), acting through
 * the engine store like the commands do. Start, stop and restart ask the user first (`prepareInvocation`
 * returns confirmation messages). Registered only in a trusted workspace (see registerAgentAccess).
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { endpointJson, endpointLine, engineJson, startReport, stateLine } from '../core/engineReport';
import { readLastLines } from '../core/logs';
import type { EngineSnapshot, StartOutcome } from '../core/supervisor/supervisor';
import { type EngineStore } from './engineStore';
import { CONFIG_RELATIVE, jobsOf, type EngineRef, type FolderEngines } from './engineRefs';

/** The tools' names, as in package.json's `contributes.languageModelTools`. */
export const LM_TOOL_NAMES = {
  list: 'engineRoom_listEngines',
  start: 'engineRoom_startEngines',
  stop: 'engineRoom_stopEngines',
  restart: 'engineRoom_restartEngines',
  logs: 'engineRoom_engineLogs',
  endpoints: 'engineRoom_engineEndpoints',
} as const;

const MAX_LOG_LINES = 5000;

/** `{ names?, folder? }`: the input of every tool but the log's. */
export interface EnginesInput {
  readonly names?: readonly string[];
  readonly folder?: string;
}

export interface LogInput {
  readonly name: string;
  readonly lines?: number;
  readonly folder?: string;
}

/** Input from a model is checked here again (VS Code validates against the schema, other callers may not). */
function checkInput(input: unknown, tool: string): EnginesInput {
  const i = (input ?? {}) as Record<string, unknown>;
  if (typeof i !== 'object' || Array.isArray(i)) throw new Error(`${tool}: the input must be an object`);
  if (i.names !== undefined && (!Array.isArray(i.names) || !i.names.every((n) => typeof n === 'string' && n.length > 0))) {
    throw new Error(`${tool}: "names" must be an array of engine names`);
  }
  if (i.folder !== undefined && typeof i.folder !== 'string') throw new Error(`${tool}: "folder" must be a workspace folder's name`);
  return { names: i.names as string[] | undefined, folder: i.folder as string | undefined };
}

function checkLogInput(input: unknown): LogInput {
  const i = (input ?? {}) as Record<string, unknown>;
  const tool = LM_TOOL_NAMES.logs;
  if (typeof i.name !== 'string' || i.name.length === 0) throw new Error(`${tool}: "name" (an engine's name) is required`);
  if (i.lines !== undefined && (typeof i.lines !== 'number' || !Number.isInteger(i.lines) || i.lines < 1 || i.lines > MAX_LOG_LINES)) {
    throw new Error(`${tool}: "lines" must be a whole number from 1 to ${MAX_LOG_LINES}`);
  }
  const { folder } = checkInput({ folder: i.folder }, tool);
  return { name: i.name, lines: i.lines as number | undefined, folder };
}

function result(text: string, json: unknown): vscode.LanguageModelToolResult {
  return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(text), new vscode.LanguageModelTextPart(JSON.stringify(json))]);
}

function quoted(names: readonly string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}

export class EngineTools {
  constructor(private readonly store: EngineStore) {}

  /** The engines the input names (all of them when it names none); an unknown name is an error. */
  resolve(input: EnginesInput): EngineRef[] {
    let all = this.store.engines();
    if (input.folder !== undefined) {
      const inFolder = all.filter((r) => r.folder.folder.name === input.folder);
      if (inFolder.length === 0) {
        const folders = [...new Set(all.map((r) => r.folder.folder.name))];
        throw new Error(`No workspace folder named "${input.folder}" has engines; the folders with engines are: ${folders.join(', ') || 'none'}.`);
      }
      all = inFolder;
    }
    if (all.length === 0) throw new Error(`No engines are configured in this workspace (${CONFIG_RELATIVE}).`);
    const wanted = input.names ?? [];
    if (wanted.length === 0) return all;
    const unknown = wanted.filter((n) => !all.some((r) => r.name === n));
    if (unknown.length > 0) throw new Error(`No engine named ${quoted(unknown)}; the engines are: ${[...new Set(all.map((r) => r.name))].join(', ')}.`);
    return all.filter((r) => wanted.includes(r.name));
  }

  private snap(ref: EngineRef): EngineSnapshot {
    const s = this.store.snapshot(ref);
    if (!s) throw new Error(`Engine "${ref.name}" is no longer in ${CONFIG_RELATIVE}.`);
    return s;
  }

  private label(ref: EngineRef): string {
    return this.store.configured().length > 1 ? `${ref.name} (${ref.folder.folder.name})` : ref.name;
  }

  async list(input: EnginesInput): Promise<vscode.LanguageModelToolResult> {
    const refs = this.resolve(input);
    await this.store.refresh(true);
    const snaps = refs.map((r) => this.snap(r));
    return result(snaps.map(stateLine).join('\n'), { engines: snaps.map(engineJson) });
  }

  async start(input: EnginesInput, token: vscode.CancellationToken, restart = false): Promise<vscode.LanguageModelToolResult> {
    const refs = this.resolve(input);
    if (restart) await this.stopRefs(refs);
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    let outcomes: Array<{ folder: FolderEngines; results: StartOutcome[] }>;
    try {
      outcomes = await this.store.start(jobsOf(refs), { signal: abort.signal });
    } finally {
      sub.dispose();
    }
    const reports = outcomes.map(({ folder, results }) => {
      const inFolder = this.store.engines(folder);
      return startReport(results, (name) => this.snap(inFolder.find((r) => r.name === name)!));
    });
    const json = {
      ok: reports.every((r) => r.json.ok),
      healthy: reports.flatMap((r) => r.json.healthy),
      failed: reports.flatMap((r) => r.json.failed),
      engines: reports.flatMap((r) => r.json.engines),
    };
    return result(reports.map((r) => r.text).join('; '), json);
  }

  private async stopRefs(refs: EngineRef[]): Promise<void> {
    const failed = await this.store.stop(jobsOf(refs));
    if (failed.length > 0) throw new Error(`Could not stop ${failed.flatMap((f) => f.job.names).join(', ')}: ${failed.map((f) => String(f.error)).join('; ')}`);
  }

  async stop(input: EnginesInput): Promise<vscode.LanguageModelToolResult> {
    const refs = this.resolve(input);
    await this.stopRefs(refs);
    const snaps = refs.map((r) => this.snap(r));
    return result(snaps.map(stateLine).join('\n'), { engines: snaps.map(engineJson) });
  }

  logs(input: LogInput): vscode.LanguageModelToolResult {
    const [ref] = this.resolve({ names: [input.name], folder: input.folder });
    const snap = this.snap(ref!);
    const lines = fs.existsSync(snap.logFile) ? readLastLines(snap.logFile, input.lines ?? 100) : [];
    return result(lines.length > 0 ? lines.join('\n') : `(the log of ${input.name} is empty)`, { name: input.name, logFile: snap.logFile, lines });
  }

  async endpoints(input: EnginesInput): Promise<vscode.LanguageModelToolResult> {
    const refs = this.resolve(input);
    await this.store.refresh(false);
    const list = refs.map((r) => endpointJson(this.snap(r)));
    return result(list.map(endpointLine).join('\n'), { endpoints: list });
  }

  /** What the user is asked before a start, stop or restart: which engines, and the commands a start runs. */
  confirmation(verb: 'start' | 'stop' | 'restart', input: EnginesInput): vscode.PreparedToolInvocation {
    const refs = this.resolve(input);
    const names = refs.map((r) => this.label(r));
    const md = new vscode.MarkdownString(undefined);
    const title = { start: 'Start engines', stop: 'Stop engines', restart: 'Restart engines' }[verb];
    md.appendMarkdown(`Engine Room will ${verb} ${names.map((n) => `**${n}**`).join(', ')}`);
    if (verb === 'stop') {
      md.appendMarkdown(' and their whole process trees, whoever started them.');
    } else {
      md.appendMarkdown(` from ${CONFIG_RELATIVE}, running:\n\n`);
      // A code span: no markdown escapes in it (the dialog outside chat shows the message as plain text).
      for (const r of refs) md.appendMarkdown(`- ${this.label(r)}: \`${this.snap(r).command.join(' ').replace(/`/g, "'")}\`\n`);
    }
    const ing = { start: 'Starting', stop: 'Stopping', restart: 'Restarting' }[verb];
    return { invocationMessage: `${ing} ${names.join(', ')}`, confirmationMessages: { title, message: md } };
  }

  /** The tools, by name, as vscode.lm.registerTool takes them. */
  tools(): Array<[string, vscode.LanguageModelTool<unknown>]> {
    const n = LM_TOOL_NAMES;
    const lifecycle = (verb: 'start' | 'stop' | 'restart', name: string, run: (i: EnginesInput, t: vscode.CancellationToken) => Promise<vscode.LanguageModelToolResult>) =>
      [
        name,
        {
          prepareInvocation: (o: vscode.LanguageModelToolInvocationPrepareOptions<unknown>) => this.confirmation(verb, checkInput(o.input, name)),
          invoke: (o: vscode.LanguageModelToolInvocationOptions<unknown>, t: vscode.CancellationToken) => run(checkInput(o.input, name), t),
        },
      ] as [string, vscode.LanguageModelTool<unknown>];
    return [
      [n.list, { invoke: (o) => this.list(checkInput(o.input, n.list)), prepareInvocation: () => ({ invocationMessage: 'Reading the engines' }) }],
      lifecycle('start', n.start, (i, t) => this.start(i, t)),
      lifecycle('stop', n.stop, (i) => this.stop(i)),
      lifecycle('restart', n.restart, (i, t) => this.start(i, t, true)),
      [n.logs, { invoke: (o) => this.logs(checkLogInput(o.input)), prepareInvocation: (o) => ({ invocationMessage: `Reading the log of ${checkLogInput(o.input).name}` }) }],
      [n.endpoints, { invoke: (o) => this.endpoints(checkInput(o.input, n.endpoints)), prepareInvocation: () => ({ invocationMessage: 'Reading the endpoints' }) }],
    ];
  }
}
