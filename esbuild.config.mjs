// Bundles the extension and the CLI into CommonJS files: execa, get-port and proper-lockfile are ESM-only
// or CommonJS and must all load in VS Code's CommonJS extension host and in plain Node 20.
import * as fs from 'node:fs';
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
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
};

const builds = [
  { ...common, entryPoints: ['src/cli/index.ts'], outfile: 'dist/cli.js' },
  // `engine-room mcp`'s server and the MCP SDK: loaded by that command only.
  { ...common, entryPoints: ['src/cli/mcp/server.ts'], outfile: 'dist/mcp.js' },
  // Stops an owner's engines if the owner is killed (when the user chose so); small and dependency-light.
  { ...common, entryPoints: ['src/cli/reaper.ts'], outfile: 'dist/reaper.js', minify: true },
  // Minified: the extension host loads it on activation.
  { ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', minify: true },
  // The panel's browser code.
  { bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: false, logLevel: 'warning', entryPoints: ['src/webview/panel.ts'], outfile: 'dist/webview.js' },
];

// The package is "type": "module" (the sources and tests run as ESM, as execa and get-port require);
// this marker makes Node and VS Code load the CommonJS bundles in dist/ as CommonJS.
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');

if (watch) {
  for (const b of builds) (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
