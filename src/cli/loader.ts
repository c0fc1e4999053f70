/**
 * dist/cli.js: runs the CLI bundle (dist/cli-bundle.js) from V8's code cache of it when the cache fits.
 *
 * Why: Node 20 compiles a CommonJS file as one function, eagerly, and then every function the command
 * calls on its first call; for the CLI that was about a third of a `status` call. The build
 * (esbuild.config.mjs) runs a few read-only commands with ENGINE_ROOM_WRITE_CODE_CACHE=1, each writing
 * what V8 compiled so far, so a later call starts with the bytecode of what those commands ran.
 * A cache made from other bundle text (a rebuild without training, an edit) or by another V8 is not
 * used: the bundle is then compiled as usual. The cache lives beside the bundle and is as trusted as it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';

const BUNDLE = path.join(__dirname, 'cli-bundle.js');
const CACHE = path.join(__dirname, 'cli-bundle.cache');
/** The CommonJS wrapper, as Node's loader applies it. */
const WRAP = ['(function (exports, require, module, __filename, __dirname) { ', '\n});'] as const;

/** FNV-1a of the text: ties a cache to the bundle it was made from (V8 itself compares lengths only). */
function textHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return `${s.length}-${(h >>> 0).toString(16)}`;
}

/** The cache's bytes when it was made from this text: `<hash>\n<V8 data>`. */
function readCache(hash: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(CACHE);
  } catch {
    return undefined;
  }
  const nl = data.indexOf(10);
  return nl > 0 && data.toString('latin1', 0, nl) === hash ? data.subarray(nl + 1) : undefined;
}

const source = fs.readFileSync(BUNDLE, 'utf8');
const hash = textHash(source);
const cachedData = readCache(hash);
// The build turns every `import()` into a require(); should one remain, Node's own loader takes it (Node >= 20.18).
const importModuleDynamically = (vm.constants as Partial<typeof vm.constants> | undefined)?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
const script = new vm.Script(WRAP[0] + source + WRAP[1], { filename: BUNDLE, cachedData, ...(importModuleDynamically ? { importModuleDynamically } : {}) } as vm.ScriptOptions);
if (process.env.ENGINE_ROOM_DEBUG_CODE_CACHE) {
  process.stderr.write(`engine-room: code cache ${cachedData === undefined ? 'absent or stale' : script.cachedDataRejected ? 'rejected by V8' : 'used'}\n`);
}
if (process.env.ENGINE_ROOM_WRITE_CODE_CACHE) {
  // At exit: the bytecode of everything this command ran (and of what the cache it started from held).
  process.on('exit', () => {
    const tmp = `${CACHE}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${hash}\n`, 'latin1'), script.createCachedData()]));
    fs.renameSync(tmp, CACHE);
  });
}
const run = script.runInThisContext() as (exports: unknown, req: NodeJS.Require, mod: NodeJS.Module, filename: string, dirname: string) => void;
run(module.exports, require, module, BUNDLE, __dirname);
