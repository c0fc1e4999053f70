/**
 * The URLs and ports of running engines as environment variables for the user's own code, and their
 * formats: `engine-room env` prints them (`--format shell|dotenv|json`); other front ends (a workspace env
 * file, the extension's commands) can use the same functions.
 *
 * For an engine named `policy` on port 20001 with block 24000-24019 that serves the OpenAI API:
 *
 *     ENGINE_POLICY_URL=http://127.0.0.1:20001
 *     ENGINE_POLICY_PORT=20001
 *     ENGINE_POLICY_PORT_BLOCK=24000-24019
 *     ENGINE_POLICY_OPENAI_BASE_URL=http://127.0.0.1:20001/v1
 *
 * and, for each named port (`"ports": { "metrics": "auto" }`), `ENGINE_POLICY_PORT_METRICS=20002`.
 * A Ray head (`"preset": "ray"`) named `ray-head` also has `ENGINE_RAY_HEAD_RAY_ADDRESS=127.0.0.1:20002`
 * (its GCS), and, when it is the only Ray head given, plain `RAY_ADDRESS`, which `ray.init()` and the
 * `ray` CLI read.
 *
 * The name is upper-cased and every character other than A-Z and 0-9 becomes `_` (`reward-model` ->
 * `ENGINE_REWARD_MODEL_...`), and so are port names. Only engines with a port (or a named port) appear.
 */

import { httpUrl, urlHost } from '../shared/url';

/** What the endpoints need of an engine; an `EngineSnapshot` plus `openai` from its spec fits. */
export interface EndpointSource {
  readonly name: string;
  /** Where the engine is reached; `127.0.0.1` when absent. */
  readonly host?: string;
  /** Port name to number; the main one is `port`. */
  readonly ports: Readonly<Record<string, number | undefined>>;
  readonly portBlock?: readonly [number, number] | null;
  /** Serves the OpenAI API under `/v1`. */
  readonly openai?: boolean;
  /** Its preset: a `ray` head also gets `RAY_ADDRESS`, where Ray's clients look for the cluster. */
  readonly preset?: string;
}

export type EndpointFormat = 'shell' | 'dotenv' | 'json';
export const ENDPOINT_FORMATS: readonly EndpointFormat[] = ['shell', 'dotenv', 'json'];

/** `ENGINE_<NAME>`: the prefix of an engine's variables. */
export function endpointPrefix(name: string): string {
  return `ENGINE_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * The variables of the engines that have a port, in the order given, each engine's in the order URL, PORT,
 * PORT_<PORTNAME> (its named ports), PORT_BLOCK, OPENAI_BASE_URL. Two names with the same prefix (`a-b`, `a.b`): the first keeps it and
 * `onConflict` hears about the second, which is left out.
 */
export function endpointVariables(
  engines: readonly EndpointSource[],
  onConflict?: (name: string, other: string, prefix: string) => void,
): Record<string, string> {
  const vars: Record<string, string> = {};
  const owners = new Map<string, string>();
  const rayHeads: string[] = [];
  for (const e of engines) {
    const port = e.ports.port;
    const named = Object.entries(e.ports).filter((p): p is [string, number] => p[0] !== 'port' && p[1] !== undefined);
    if (port === undefined && named.length === 0) continue;
    const prefix = endpointPrefix(e.name);
    const owner = owners.get(prefix);
    if (owner !== undefined) {
      if (owner !== e.name) onConflict?.(e.name, owner, prefix);
      continue;
    }
    owners.set(prefix, e.name);
    const host = e.host === undefined || e.host === '' ? '127.0.0.1' : e.host;
    const url = port !== undefined ? httpUrl(host, port) : undefined;
    if (url !== undefined) vars[`${prefix}_URL`] = url;
    if (port !== undefined) vars[`${prefix}_PORT`] = String(port);
    for (const [portName, p] of named) vars[`${prefix}_PORT_${portName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = String(p);
    if (e.portBlock) vars[`${prefix}_PORT_BLOCK`] = `${e.portBlock[0]}-${e.portBlock[1]}`;
    if (e.openai && url !== undefined) vars[`${prefix}_OPENAI_BASE_URL`] = `${url}/v1`;
    if (e.preset === 'ray' && port !== undefined) {
      // The GCS address as Ray writes it: host:port, an IPv6 host in brackets.
      vars[`${prefix}_RAY_ADDRESS`] = `${urlHost(host)}:${port}`;
      rayHeads.push(vars[`${prefix}_RAY_ADDRESS`]);
    }
  }
  if (rayHeads.length === 1) vars.RAY_ADDRESS = rayHeads[0]!;
  return vars;
}

/** A POSIX shell single-quoted word: `'it'\''s'`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `export K='v'` lines, for `eval "$(engine-room env)"` in sh, bash, zsh. */
export function formatShell(vars: Readonly<Record<string, string>>): string {
  return Object.entries(vars)
    .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
    .join('');
}

// Left bare in a dotenv file: nothing that either parser treats specially (no quotes, `#`, `$`, spaces).
const DOTENV_BARE = /^[A-Za-z0-9_./:@,+=-]*$/;

/**
 * A dotenv value that Node's `util.parseEnv` / `--env-file` and python-dotenv both read back unchanged:
 * bare when it is plain, else single-quoted (literal in both), else double-quoted when that needs no
 * escape. Throws for a value neither form can carry (newlines, backslashes, both kinds of quotes, and
 * `${`, which python-dotenv expands even in single quotes); engine URLs and ports never are one.
 */
export function dotenvQuote(value: string): string {
  if (value.includes('${')) throw new Error(`cannot write ${JSON.stringify(value)} as a dotenv value`);
  if (DOTENV_BARE.test(value) && value !== '') return value;
  // python-dotenv reads `\\` and `\'` as escapes even in single quotes.
  if (!/['\\\n]/.test(value)) return `'${value}'`;
  // python-dotenv expands `${VAR}` and backslash escapes inside double quotes; Node only `\n`.
  if (!/["\\$\n]/.test(value)) return `"${value}"`;
  throw new Error(`cannot write ${JSON.stringify(value)} as a dotenv value`);
}

/** `K=v` lines. */
export function formatDotenv(vars: Readonly<Record<string, string>>): string {
  return Object.entries(vars)
    .map(([k, v]) => `${k}=${dotenvQuote(v)}\n`)
    .join('');
}

/** One JSON object, `{}` when there is nothing. */
export function formatJson(vars: Readonly<Record<string, string>>): string {
  return `${JSON.stringify(vars, null, 2)}\n`;
}

export function formatEndpoints(vars: Readonly<Record<string, string>>, format: EndpointFormat): string {
  switch (format) {
    case 'shell':
      return formatShell(vars);
    case 'dotenv':
      return formatDotenv(vars);
    case 'json':
      return formatJson(vars);
  }
}
