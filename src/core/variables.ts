/**
 * `${...}` variables in engine strings (`command`, `cwd`, `env` values, `envFile`, `health.http`,
 * `health.command`). `config/references.ts` validates them when the file is loaded; the supervisor
 * expands them at start time, once the ports are leased.
 */
import { EngineRoomError } from './errors';

export interface VariableContext {
  /** The engine's own leased port, for `${port}`. */
  port?: number;
  /** First and last port of the engine's block, for `${portBlock}` and `${portBlockEnd}`. */
  portBlock?: readonly [number, number];
  /** The leased port of another engine, for `${port:OTHER}`. */
  portOf(name: string): number | undefined;
  workspaceFolder: string;
  env: Readonly<Record<string, string | undefined>>;
}

/** One `${name}` or `${name:arg}` occurrence; `index` and `length` cover the whole `${...}`. */
export interface VariableUse {
  name: string;
  arg?: string;
  index: number;
  length: number;
}

/** What a variable refers to; see {@link classifyVariable}. */
export type VariableRef =
  | { readonly kind: 'port' }
  | { readonly kind: 'portOf'; readonly engine: string }
  | { readonly kind: 'portBlock' }
  | { readonly kind: 'portBlockEnd' }
  | { readonly kind: 'workspaceFolder' }
  | { readonly kind: 'env'; readonly name: string };

/** The supported forms, for messages. */
export const SUPPORTED_VARIABLES: readonly string[] = [
  '${port}',
  '${portBlock}',
  '${portBlockEnd}',
  '${port:ENGINE}',
  '${workspaceFolder}',
  '${env:NAME}',
];

// `${` up to the first `}`; no nesting and no escape, like VS Code's own variables.
const VARIABLE = /\$\{([^{}]*)\}/g;

export function listVariables(template: string): VariableUse[] {
  const uses: VariableUse[] = [];
  for (const m of template.matchAll(VARIABLE)) {
    const inner = m[1] ?? '';
    const colon = inner.indexOf(':');
    const use: VariableUse =
      colon < 0
        ? { name: inner, index: m.index, length: m[0].length }
        : { name: inner.slice(0, colon), arg: inner.slice(colon + 1), index: m.index, length: m[0].length };
    uses.push(use);
  }
  return uses;
}

/** The source text of a variable use, e.g. `${port:db}`. */
export function variableText(v: Pick<VariableUse, 'name' | 'arg'>): string {
  return v.arg === undefined ? `\${${v.name}}` : `\${${v.name}:${v.arg}}`;
}

/** Which variable `v` is, or `undefined` when it is not a supported one. */
export function classifyVariable(v: Pick<VariableUse, 'name' | 'arg'>): VariableRef | undefined {
  switch (v.name) {
    case 'port':
      if (v.arg === undefined) return { kind: 'port' };
      return v.arg !== '' ? { kind: 'portOf', engine: v.arg } : undefined;
    case 'portBlock':
      return v.arg === undefined ? { kind: 'portBlock' } : undefined;
    case 'portBlockEnd':
      return v.arg === undefined ? { kind: 'portBlockEnd' } : undefined;
    case 'workspaceFolder':
      return v.arg === undefined ? { kind: 'workspaceFolder' } : undefined;
    case 'env':
      return v.arg !== undefined && v.arg !== '' ? { kind: 'env', name: v.arg } : undefined;
    default:
      return undefined;
  }
}

/** The message for a variable that {@link classifyVariable} does not know. */
export function unknownVariableMessage(v: Pick<VariableUse, 'name' | 'arg'>): string {
  let message = `unknown variable "${variableText(v)}"; supported: ${SUPPORTED_VARIABLES.join(', ')}`;
  // `${HOME}` is shell syntax; with Engine Room (as in VS Code) environment variables need the `env:` prefix.
  if (v.arg === undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v.name) && v.name.toUpperCase() === v.name) {
    message += `; for the environment variable write "\${env:${v.name}}"`;
  }
  return message;
}

/**
 * Replaces every variable of `template`. `${env:NAME}` of an unset variable gives an empty string, like
 * VS Code; any other variable that cannot be resolved throws `bad-config` naming it.
 */
export function expandVariables(template: string, ctx: VariableContext): string {
  return template.replace(VARIABLE, (whole: string, inner: string) => {
    const colon = inner.indexOf(':');
    const use = colon < 0 ? { name: inner } : { name: inner.slice(0, colon), arg: inner.slice(colon + 1) };
    const ref = classifyVariable(use);
    const fail = (why: string): never => {
      throw new EngineRoomError('bad-config', `cannot expand ${whole} in "${template}": ${why}`, { variable: whole });
    };
    if (ref === undefined) return fail(unknownVariableMessage(use));
    switch (ref.kind) {
      case 'port':
        return ctx.port !== undefined ? String(ctx.port) : fail('the engine has no port');
      case 'portOf': {
        const port = ctx.portOf(ref.engine);
        return port !== undefined ? String(port) : fail(`engine "${ref.engine}" has no leased port`);
      }
      case 'portBlock':
        return ctx.portBlock !== undefined ? String(ctx.portBlock[0]) : fail('the engine has no port block');
      case 'portBlockEnd':
        return ctx.portBlock !== undefined ? String(ctx.portBlock[1]) : fail('the engine has no port block');
      case 'workspaceFolder':
        return ctx.workspaceFolder;
      case 'env':
        return ctx.env[ref.name] ?? '';
    }
  });
}
