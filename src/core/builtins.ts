/**
 * Node built-ins that a short CLI call seldom needs, loaded on first use. Each costs several milliseconds
 * to load (node:child_process brings node:net and node:dgram), against a budget of a few tens for
 * `engine-room status`; they are used from synchronous code, so `import()` will not do.
 */
import { createRequire } from 'node:module';

// Built-ins resolve alike from any path.
const requireBuiltin = createRequire('/');

let childProcessModule: typeof import('node:child_process') | undefined;

/** node:child_process (on Linux, `status` and the extension's refreshes read /proc and spawn nothing). */
export function childProcess(): typeof import('node:child_process') {
  childProcessModule ??= requireBuiltin('node:child_process') as typeof import('node:child_process');
  return childProcessModule;
}

let netModule: typeof import('node:net') | undefined;

/** node:net (for TCP probes: `status` of stopped engines probes nothing). */
export function net(): typeof import('node:net') {
  netModule ??= requireBuiltin('node:net') as typeof import('node:net');
  return netModule;
}
