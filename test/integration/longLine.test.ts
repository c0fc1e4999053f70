/**
 * One long line without a newline (a progress bar that only writes `\r`) must not freeze the
 * supervisor: it stays healthy, `up --detach` returns, the supervisor's memory stays bounded, and the
 * file has the whole line. The CPU it costs is in `npm run bench -- --only longline`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, ENGINES, cliStatus, exitCode, runCli, startProcess } from '../support/helpers';
import { createWorkspace } from '../support/workspace';

const node = process.execPath;
const longline = path.join(ENGINES, 'longline.cjs');
const MB = 1 << 20;

/** Peak resident memory of a process (VmHWM, bytes). */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmHWM in /proc/<pid>/status');
  return Number(m[1]) * 1024;
}

/** The length of the longest line of a file, read in chunks. */
function longestLine(file: string): number {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(MB);
  let longest = 0;
  let current = 0;
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) {
      for (let i = 0, nl; i < n; i = nl + 1) {
        nl = buf.indexOf(10, i);
        if (nl < 0 || nl >= n) {
          current += n - i;
          break;
        }
        longest = Math.max(longest, current + nl - i);
        current = 0;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return Math.max(longest, current);
}

test('(integration) 50 MB without a newline after healthy: the foreground supervisor stays healthy, its memory bounded, the file has the whole line', async (t) => {
  const ws = await createWorkspace(t);
  const go = path.join(ws.dir, 'go');
  const config = ws.addFolder({
    engines: [{ name: 'bar', command: [node, longline, '--port', '${port}', '--mb', '50', '--cr', '--go', go], port: 'auto', health: { http: '/', interval: 200 } }],
  }).configFile;
  const up = startProcess(node, [CLI, 'up', '--config', config], ws.env);
  t.after(async () => {
    up.child.kill('SIGINT');
    await exitCode(up.child);
  });
  await up.waitForOutput(/bar: healthy/, 30000);
  const before = peakRss(up.child.pid as number);
  fs.writeFileSync(go, '');
  // The follower reached the end of the line: the next line came out.
  await up.waitForOutput(/bar +\| flood done/, 120000);
  const peak = peakRss(up.child.pid as number);
  t.diagnostic(`supervisor peak RSS ${Math.round(before / MB)} MB before, ${Math.round(peak / MB)} MB after 50 MB of one line`);
  assert.ok(peak - before < 64 * MB, `the supervisor grew by ${Math.round((peak - before) / MB)} MB`);
  assert.doesNotMatch(up.output(), /bar: unhealthy/);
  // The line as the UI shows it: its latest state, not 50 MB.
  const shown = /bar +\| (.*downloading[^\n]*)\n/.exec(up.output());
  assert.ok(shown, 'the progress line was shown');
  assert.match(shown[1] as string, /^downloading 49\.\d+ of 50 MB$/);
  const [engine] = await cliStatus(config, ws.env);
  assert.equal(engine?.state, 'healthy');
  assert.ok(longestLine(engine.logFile) >= 50 * MB, 'the whole line is in the log file');
});

test('(integration) `up --detach` returns while its engine writes 50 MB without a newline, and the engine is healthy', async (t) => {
  const ws = await createWorkspace(t);
  const config = ws.addFolder({
    engines: [{ name: 'bar', command: [node, longline, '--port', '${port}', '--mb', '50'], port: 'auto', health: { http: '/' } }],
  }).configFile;
  t.after(() => runCli(['down', '--config', config], { env: ws.env }));
  const started = Date.now();
  const r = await runCli(['up', '--detach', '--config', config], { env: ws.env, timeoutMs: 60000 });
  t.diagnostic(`up --detach returned after ${Date.now() - started} ms`);
  assert.equal(r.code, 0, r.stderr);
  const [engine] = await cliStatus(config, ws.env);
  assert.equal(engine?.state, 'healthy');
  const down = await runCli(['down', '--config', config], { env: ws.env });
  assert.equal(down.code, 0, down.stderr);
});
