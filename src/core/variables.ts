/**
 * `${...}` variables in engine strings (`command`, `cwd`, `env` values, `envFile`, `health.http`,
 * `health.command`). `config/references.ts` validates them when the file is loaded; the supervisor
 * expands them at start time, once the ports are leased. `${replica}` is the exception: the loader
 * replaces it in each replica's strings (see `config/replicas.ts`), so it never reaches the supervisor.
 */
import { EngineRoomError } from './errors';

export interface VariableContext {
  /** The engine's own leased port, for `${port}`. */
  port?: number;
  /** The engine's own leased named ports (`"ports"` of the config), for `${port.NAME}`. */
  ports?: Readonly<Record<string, number>>;
  /** First and last port of the engine's block, for `${portBlock}`, `${portBlockEnd}` and `${portBlock+N}`. */
  portBlock?: readonly [number, number];
  /**
   * The leased port of another engine, for `${port:OTHER}`: its main port, or with `portName` its named
   * port (`${port:OTHER.metrics}`).
   */
  portOf(name: string, portName?: string): number | undefined;
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
  /** `${port.NAME}`: one of the engine's own named ports. */
  | { readonly kind: 'namedPort'; readonly port: string }
  /**
   * `${port:OTHER}` or `${port:OTHER.NAME}`. Engine names may hold dots, so `engine` is the whole argument
   * and `named` its split at the last dot (when the part after it is a port name): the whole argument is
   * taken first when an engine has that name.
   */
  | { readonly kind: 'portOf'; readonly engine: string; readonly named?: { readonly engine: string; readonly port: string } }
  | { readonly kind: 'portBlock' }
  | { readonly kind: 'portBlockEnd' }
  /** `${portBlock+N}`: the block's port at offset N (0 is `${portBlock}`). */
  | { readonly kind: 'portBlockOffset'; readonly offset: number }
  /** `${replica}`: the replica's index, 0-based. */
  | { readonly kind: 'replica' }
  | { readonly kind: 'workspaceFolder' }
  | { readonly kind: 'env'; readonly name: string };

/** The supported forms, for messages. */
export const SUPPORTED_VARIABLES: readonly string[] = [
  '${port}',
  '${portBlock}',
  '${portBlockEnd}',
  '${portBlock+N}',
  '${port.NAME}',
  '${port:ENGINE}',
  '${port:ENGINE.NAME}',
  '${replica}',
  '${workspaceFolder}',
  '${env:NAME}',
];

/** A named port's name (`"ports": { "metrics": ... }`): also a part of environment variable names. */
export const PORT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const BLOCK_OFFSET = /^portBlock\+([0-9]{1,5})$/;

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
  if (v.arg === undefined && v.name.startsWith('port.')) {
    const port = v.name.slice('port.'.length);
    return PORT_NAME.test(port) ? { kind: 'namedPort', port } : undefined;
  }
  const offset = BLOCK_OFFSET.exec(v.name);
  if (offset && v.arg === undefined) return { kind: 'portBlockOffset', offset: Number(offset[1]) };
  switch (v.name) {
    case 'port': {
      if (v.arg === undefined) return { kind: 'port' };
      if (v.arg === '') return undefined;
      const dot = v.arg.lastIndexOf('.');
      const engine = v.arg.slice(0, dot);
      const port = v.arg.slice(dot + 1);
      return dot > 0 && PORT_NAME.test(port) ? { kind: 'portOf', engine: v.arg, named: { engine, port } } : { kind: 'portOf', engine: v.arg };
    }
    case 'replica':
      return v.arg === undefined ? { kind: 'replica' } : undefined;
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
      case 'namedPort': {
        const port = ctx.ports?.[ref.port];
        return port !== undefined ? String(port) : fail(`the engine has no port named "${ref.port}"`);
      }
      case 'portOf': {
        const port = ctx.portOf(ref.engine) ?? (ref.named ? ctx.portOf(ref.named.engine, ref.named.port) : undefined);
        return port !== undefined ? String(port) : fail(`engine "${ref.engine}" has no leased port`);
      }
      case 'portBlock':
        return ctx.portBlock !== undefined ? String(ctx.portBlock[0]) : fail('the engine has no port block');
      case 'portBlockEnd':
        return ctx.portBlock !== undefined ? String(ctx.portBlock[1]) : fail('the engine has no port block');
      case 'portBlockOffset': {
        if (ctx.portBlock === undefined) return fail('the engine has no port block');
        const port = ctx.portBlock[0] + ref.offset;
        return port <= ctx.portBlock[1] ? String(port) : fail(`the block ${ctx.portBlock[0]}-${ctx.portBlock[1]} has no port at offset ${ref.offset}`);
      }
      case 'replica':
        return fail('the engine has no "replicas"');
      case 'workspaceFolder':
        return ctx.workspaceFolder;
      case 'env':
        return ctx.env[ref.name] ?? '';
    }
  });
}
