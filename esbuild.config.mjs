// Bundles the extension and the CLI into CommonJS files: execa, get-port and proper-lockfile are ESM-only
// or CommonJS and must all load in VS Code's CommonJS extension host and in plain Node 20.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const CONFIG_DIR = path.resolve('src/core/config');

/**
 * The source of a module with the interface of `src/core/config/schemaValidator.ts` whose validator was
 * compiled here: `schemaCompile.ts`, bundled and run in this process, gives ajv's standalone code of the
 * very validator that the sources compile at run time.
 */
async function precompiledValidatorModule() {
  const { outputFiles } = await esbuild.build({
    entryPoints: [path.join(CONFIG_DIR, 'schemaCompile.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    logLevel: 'warning',
  });
  const compiler = { exports: {} };
  new Function('module', 'exports', 'require', outputFiles[0].text)(compiler, compiler.exports, createRequire(import.meta.url));
  return (
    compiler.exports.standaloneSchemaValidatorCode() +
    '\n// The interface of src/core/config/schemaValidator.ts.\n' +
    'const precompiledSchemaValidator = module.exports;\n' +
    'module.exports = { schemaValidator: () => precompiledSchemaValidator };\n'
  );
}

/**
 * Puts the validator compiled at build time in place of `src/core/config/schemaValidator.ts`: the bundles
 * then carry neither ajv's compiler nor the work of compiling the schema (before, about half the time of
 * a CLI call and of the extension's activation).
 */
let generated;
const precompiledSchema = {
  name: 'precompiled-schema-validator',
  setup(build) {
    build.onResolve({ filter: /^\.\/schemaValidator$/ }, (args) =>
      args.resolveDir === CONFIG_DIR ? { path: path.join(CONFIG_DIR, 'schemaValidator.ts'), namespace: 'precompiled-schema' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'precompiled-schema' }, async () => ({
      // generated once for all the bundles of a build; again on every rebuild with --watch
      contents: await (watch ? precompiledValidatorModule() : (generated ??= precompiledValidatorModule())),
      loader: 'js',
      // where its `require("ajv/dist/runtime/...")` resolves
      resolveDir: CONFIG_DIR,
      watchFiles: ['schema/engines.schema.json', 'schema.ts', 'schemaCompile.ts', 'jsonTree.ts'].map((f) => path.resolve(f.startsWith('schema/') ? '' : CONFIG_DIR, f)),
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  external: ['vscode'],
  // jsonc-parser's UMD build hides its requires from the bundler; its ESM build bundles cleanly.
  mainFields: ['module', 'main'],
  // `import()` becomes a require() on first use (what the lazy imports want: no ESM loader, and the
  // CLI's loader runs the bundle as a vm.Script, which has no dynamic import).
  supported: { 'dynamic-import': false },
  plugins: [precompiledSchema],
};

const builds = [
  // dist/cli.js is the loader (src/cli/loader.ts): it runs the bundle from V8's code cache, see trainCodeCache().
  { ...common, entryPoints: ['src/cli/index.ts'], outfile: 'dist/cli-bundle.js', minify: true },
  { ...common, entryPoints: ['src/cli/loader.ts'], outfile: 'dist/cli.js', minify: true, sourcemap: false, plugins: [] },
  // `engine-room mcp`'s server and the MCP SDK: loaded by that command only.
  { ...common, entryPoints: ['src/cli/mcp/server.ts'], outfile: 'dist/mcp.js' },
  // Stops an owner's engines if the owner is killed (when the user chose so); small and dependency-light.
  { ...common, entryPoints: ['src/cli/reaper.ts'], outfile: 'dist/reaper.js', minify: true },
  // The background supervisor that `up --detach` leaves with its engines (src/cli/background.ts).
  { ...common, entryPoints: ['src/cli/background.ts'], outfile: 'dist/background.js', minify: true },
  // Minified: the extension host loads it on activation.
  { ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', minify: true },
  // The panel's browser code.
  { bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: false, logLevel: 'warning', entryPoints: ['src/webview/panel.ts'], outfile: 'dist/webview.js' },
];

// The package is "type": "module" (the sources and tests run as ESM, as execa and get-port require);
// this marker makes Node and VS Code load the CommonJS bundles in dist/ as CommonJS.
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');

/**
 * Writes dist/cli-bundle.cache: runs read-only commands on the demo config (a throwaway state directory),
 * each starting from the cache the previous one wrote and adding what it compiled.
 */
function trainCodeCache() {
  fs.rmSync('dist/cli-bundle.cache', { force: true });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'er-build-'));
  const env = { ...process.env, ENGINE_ROOM_WRITE_CODE_CACHE: '1', ENGINE_ROOM_STATE_DIR: stateDir };
  const config = 'test/demo/.vscode/engines.json';
  try {
    for (const args of [['--help'], ['validate', '--config', config], ['status', '--config', config], ['env', '--config', config], ['status', '--all']]) {
      const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { env, stdio: 'ignore', timeout: 30_000 });
      if (r.status !== 0) console.warn(`esbuild.config.mjs: engine-room ${args.join(' ')} exited ${r.status ?? r.signal} while writing the code cache`);
    }
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

if (watch) {
  // No cache: the loader sees that it does not fit the rebuilt bundle and compiles as usual.
  fs.rmSync('dist/cli-bundle.cache', { force: true });
  for (const b of builds) (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  trainCodeCache();
}
