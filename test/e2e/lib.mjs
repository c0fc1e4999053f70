// Reusable helpers for end-to-end tests of a VS Code extension in a REAL VS Code (code-server, installed by
// test/e2e/setup.sh) driven by playwright-core + Debian Chromium, fully offline. No product logic here.
//
//   import * as e2e from './lib.mjs';
//   const vsix = await e2e.packageVsix(extDir);
//   const server = await e2e.startCodeServer({ workspace, vsix, env: { ENGINE_ROOM_STATE_DIR: dir } });
//   const ui = await e2e.launchBrowser({ artifactsDir: server.artifactsDir });
//   try { await e2e.openWorkbench(ui.page, server); ... } finally { await ui.close(); await server.stop(); }
//
// Every wait has a timeout. Every process started here (code-server and its whole tree, including what the
// extension spawns; Chromium) is tracked and killed by pid on stop(), on SIGINT/SIGTERM/SIGHUP and at exit.
/* global document */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = path.resolve(E2E_DIR, '../..');
export const WORK_DIR = process.env.E2E_HOME ? path.resolve(process.env.E2E_HOME) : path.join(E2E_DIR, '.work');
const MARKER_VAR = 'E2E_RUN_MARKER';
const OWNER_VAR = 'E2E_RUN_OWNER'; // "<pid>:<starttime>" of the Node process that started it

// ------------------------------------------------------------------------------------------------ basics

const T0 = Date.now();
/** console.log with the seconds elapsed since this module was loaded. */
export function log(...args) {
  console.log(`[e2e +${((Date.now() - T0) / 1000).toFixed(1)}s]`, ...args);
}

/** Resolves/rejects like `promise`, or rejects after `ms` with "timeout after <ms> ms: <what>". */
export function withTimeout(promise, ms, what = 'operation') {
  let timer;
  return Promise.race([
    Promise.resolve(promise).finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms); }),
  ]);
}

/**
 * Polls `fn` (sync or async) until it returns a truthy value, which is returned; throws after timeoutMs.
 * Errors thrown by `fn` count as "not yet", except an error with `fatal: true`, which is rethrown at once.
 */
export async function waitUntil(fn, { timeoutMs = 10_000, intervalMs = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e && e.fatal) throw e; // fn says: stop polling
      last = e;
    }
    if (Date.now() >= deadline) throw new Error(`timeout after ${timeoutMs} ms waiting for ${message}${last ? ` (last error: ${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Polls `fn` for `forMs` and throws with `message` at the first falsy value or error: for what must not
 * happen (an engine that starts where nothing may start). Resolves once it held for the whole time.
 */
export async function holdsFor(fn, { forMs, intervalMs = 250, message = 'condition' }) {
  const end = Date.now() + forMs;
  for (;;) {
    let v, err;
    try { v = await fn(); } catch (e) { err = e; }
    if (!v) throw new Error(`${message} stopped holding after ${forMs - Math.max(0, end - Date.now())} ms${err ? `: ${err.message}` : ''}`);
    if (Date.now() >= end) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Reads what setup.sh wrote: { CS_VERSION, CS_NODE_BIN, CS_ENTRY, CHROMIUM }: test/e2e/.work/env-$CS_VERSION.sh
 * when CS_VERSION is set (`CS_VERSION=4.139.1 npm run test:e2e`), else env.sh (the default version's).
 */
export function loadEnv(envFile = path.join(WORK_DIR, process.env.CS_VERSION ? `env-${process.env.CS_VERSION}.sh` : 'env.sh')) {
  if (!fs.existsSync(envFile)) throw new Error(`${envFile} is missing: run '${process.env.CS_VERSION ? `CS_VERSION=${process.env.CS_VERSION} ` : ''}bash test/e2e/setup.sh' first`);
  const env = {};
  for (const line of fs.readFileSync(envFile, 'utf8').split('\n')) {
    const m = /^export ([A-Z_0-9]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
  }
  for (const k of ['CS_VERSION', 'CS_NODE_BIN', 'CS_ENTRY']) if (!env[k]) throw new Error(`${envFile}: ${k} missing`);
  if (!fs.existsSync(env.CS_ENTRY)) throw new Error(`${env.CS_ENTRY} is missing: run 'bash test/e2e/setup.sh'`);
  env.CHROMIUM = process.env.CHROMIUM || env.CHROMIUM || '/usr/bin/chromium';
  return env;
}

/** A free TCP port on 127.0.0.1 (asked from the kernel). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Runs a command; resolves { code, signal, stdout, stderr }; kills it (SIGKILL) after timeoutMs. */
export function run(cmd, args, { cwd, env, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; killTreeSync(child.pid); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`timeout after ${timeoutMs} ms: ${cmd} ${args.join(' ')}\n${stdout}\n${stderr}`));
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Packages an extension folder into a .vsix with the repo's @vscode/vsce (offline, --no-dependencies). */
export async function packageVsix(extDir, { out, timeoutMs = 120_000 } = {}) {
  const vsce = path.join(REPO_DIR, 'node_modules/.bin/vsce');
  if (!fs.existsSync(vsce)) throw new Error(`${vsce} missing: run 'npm ci'`);
  const outFile = path.resolve(out ?? path.join(WORK_DIR, 'vsix', `${path.basename(path.resolve(extDir))}.vsix`));
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.rmSync(outFile, { force: true });
  const r = await run(vsce, ['package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--skip-license', '-o', outFile],
    { cwd: extDir, timeoutMs });
  if (r.code !== 0 || !fs.existsSync(outFile)) throw new Error(`vsce package failed (exit ${r.code}) in ${extDir}:\n${r.stdout}\n${r.stderr}`);
  return outFile;
}

// ------------------------------------------------------------------------------------ process management

function readProcs() {
  const procs = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state ppid pgrp ...
      procs.push({ pid: Number(name), ppid: Number(rest[1]), state: rest[0] });
    } catch { /* process went away */ }
  }
  return procs;
}

/** Pids of all live (non-zombie) descendants of `pid` (walks /proc by ppid). */
export function descendants(pid) {
  const procs = readProcs();
  const kids = new Map();
  for (const p of procs) {
    if (p.state === 'Z') continue; // zombies are dead already (waiting to be reaped)
    if (!kids.has(p.ppid)) kids.set(p.ppid, []);
    kids.get(p.ppid).push(p.pid);
  }
  const out = [];
  const stack = [...(kids.get(pid) ?? [])];
  while (stack.length) { const c = stack.pop(); out.push(c); stack.push(...(kids.get(c) ?? [])); }
  return out;
}

function procStartTime(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]; // field 22: starttime
  } catch { return null; }
}
const OWNER = `${process.pid}:${procStartTime(process.pid)}`;
function ownerAlive(owner) {
  const [pid, start] = String(owner).split(':');
  try {
    const s = fs.readFileSync(`/proc/${Number(pid)}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return f[0] !== 'Z' && f[19] === start; // a zombie (not yet reaped) is dead too
  } catch { return false; }
}

/**
 * Kills processes left by an earlier test process that died without cleaning up (SIGKILL, OOM): any process
 * carrying E2E_RUN_MARKER whose owner (E2E_RUN_OWNER = pid:starttime of the Node process that started it) is
 * gone. Processes of other live test runs are left alone. Called by startCodeServer() and launchBrowser().
 * Resolves the killed [{pid, cmd}].
 */
export function sweepOrphans() {
  const killed = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let env;
    try { env = fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0'); } catch { continue; }
    const owner = env.find((e) => e.startsWith(OWNER_VAR + '='))?.slice(OWNER_VAR.length + 1);
    if (!owner || !env.some((e) => e.startsWith(MARKER_VAR + '='))) continue;
    if (ownerAlive(owner)) continue;
    const pid = Number(name);
    killed.push({ pid, cmd: cmdline(pid) });
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  if (killed.length) log(`killed ${killed.length} orphaned process(es) of an earlier e2e run`, killed.slice(0, 5));
  // private dirs of dead runs (profile + TMPDIR, recorded in <profile>/.owner.json)
  const profiles = path.join(WORK_DIR, 'profiles');
  for (const d of fs.existsSync(profiles) ? fs.readdirSync(profiles) : []) {
    try {
      const o = JSON.parse(fs.readFileSync(path.join(profiles, d, '.owner.json'), 'utf8'));
      if (ownerAlive(o.owner)) continue;
      if (o.tmpDir && o.tmpDir.startsWith('/tmp/cs-tmp.')) fs.rmSync(o.tmpDir, { recursive: true, force: true });
      fs.rmSync(path.join(profiles, d), { recursive: true, force: true });
    } catch { /* no owner file (yet) or already removed */ }
  }
  return killed;
}

/** Pids of live processes whose environment holds E2E_RUN_MARKER=<marker> (survives re-parenting to init). */
export function pidsWithMarker(marker) {
  if (!marker) return [];
  const needle = Buffer.from(`\0${MARKER_VAR}=${marker}\0`);
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = Buffer.concat([Buffer.from([0]), fs.readFileSync(`/proc/${name}/environ`), Buffer.from([0])]);
      if (env.includes(needle)) out.push(Number(name));
    } catch { /* gone or not ours */ }
  }
  return out;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3) !== 'Z'; // a zombie is as good as gone
  } catch { return false; }
}

function signalAll(pids, sig) {
  for (const p of pids) { try { process.kill(p, sig); } catch { /* gone */ } }
}

/** SIGKILLs `pid`, its descendants and every process carrying `marker`, synchronously. */
export function killTreeSync(pid, marker) {
  const pids = new Set([...(pid ? [pid, ...descendants(pid)] : []), ...pidsWithMarker(marker)]);
  signalAll([...pids], 'SIGKILL');
  return [...pids];
}

/**
 * Stops a process tree: SIGTERM to `pid` (code-server forwards it to its server child, which shuts the
 * extension host down and runs the extensions' deactivate()), then up to graceMs for the whole tree (snapshot
 * taken before the signal, plus current descendants, plus processes carrying `marker`) to exit on its own;
 * what is still alive then gets SIGTERM and, 2 s later, SIGKILL. Resolves { leftovers: [{pid, cmd}] }: the
 * processes that had not exited graceMs after the SIGTERM (e.g. children an extension failed to stop).
 */
export async function killTree(pid, { marker, graceMs = 10_000 } = {}) {
  const snapshot = new Set(pid ? [pid, ...descendants(pid)] : []);
  for (const p of pidsWithMarker(marker)) snapshot.add(p);
  const rest = () => {
    const s = new Set([...snapshot, ...pidsWithMarker(marker)]);
    if (pid) for (const p of descendants(pid)) s.add(p);
    return [...s].filter(alive);
  };
  if (pid && alive(pid)) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    const deadline = Date.now() + graceMs;
    while (rest().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }
  const survivors = rest();
  const leftovers = survivors.map((p) => ({ pid: p, cmd: cmdline(p) }));
  if (survivors.length) {
    signalAll(survivors, 'SIGTERM');
    const deadline = Date.now() + 2_000;
    while (rest().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    signalAll(rest(), 'SIGKILL');
    await waitUntil(() => rest().length === 0, { timeoutMs: 5_000, message: `process tree of ${pid} to die` })
      .catch(() => log(`process tree of ${pid}: still alive 5 s after SIGKILL:`, rest().map((p) => ({ pid: p, cmd: cmdline(p) }))));
  }
  return { leftovers };
}

function cmdline(pid) {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { return ''; }
}

// Everything started here, for the emergency exit hooks and leftoverProcesses().
const live = new Set();
const allMarkers = new Set();
let hooksInstalled = false;
let graceful = null;
let gracefulSince = 0;

/**
 * Makes SIGINT, SIGTERM and SIGHUP call `fn(signal)` (a graceful stop, e.g. server.stop()) instead of the
 * emergency SIGKILL of everything started here. A second signal more than 2 s later kills at once; one
 * sooner is the same Ctrl-C seen twice (a terminal signals npm, the shell and node, and npm forwards it).
 */
export function onSignal(fn) {
  graceful = fn;
  installHooks();
}

function installHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', emergencyCleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (graceful && (!gracefulSince || Date.now() - gracefulSince < 2_000)) {
        if (gracefulSince) return;
        gracefulSince = Date.now();
        Promise.resolve().then(() => graceful(sig)).catch((e) => console.error(`[e2e] graceful stop failed: ${e?.message ?? e}`));
        return;
      }
      console.error(`[e2e] ${sig}: stopping code-server/Chromium processes`);
      emergencyCleanup();
      process.exit(128 + os.constants.signals[sig]);
    });
  }
}

function track(entry) {
  live.add(entry);
  allMarkers.add(entry.marker);
  installHooks();
  return () => live.delete(entry);
}

/**
 * Processes started through this module (in this Node process) that are still alive: live descendants of
 * this process plus anything carrying one of the markers given to code-server/Chromium. [{pid, cmd}]
 */
export function leftoverProcesses() {
  const pids = new Set(descendants(process.pid));
  for (const m of allMarkers) for (const p of pidsWithMarker(m)) pids.add(p);
  return [...pids].filter(alive).map((pid) => ({ pid, cmd: cmdline(pid) }));
}

/** Synchronously kills everything this module started and removes its private dirs (exit/signal hook). */
export function emergencyCleanup() {
  for (const e of [...live]) {
    try { killTreeSync(e.pid, e.marker); } catch { /* best effort */ }
    for (const d of e.dirs ?? []) { try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ } }
    live.delete(e);
  }
}

// ------------------------------------------------------------------------------------------- code-server

/** User settings of a fresh profile: no welcome page/walkthrough, trust modal, telemetry notice, port/git toasts. */
export function defaultSettings({ trust = false } = {}) {
  return {
    'workbench.startupEditor': 'none',
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'security.workspace.trust.enabled': trust,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'remote.autoForwardPorts': false,
    'chat.disableAIFeatures': true,
    // workspaces inside this repo: no "A git repository was found in the parent folders" toast
    'git.openRepositoryInParentFolders': 'never',
  };
}

function serverEnv({ xdgRoot, tmpDir, marker, env }) {
  const base = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Keep the host's environment (the extension's child processes inherit it) but not what would make the
    // run depend on the caller: a VS Code terminal's IPC hooks, Electron flags, Node loaders/options.
    if (/^VSCODE_/.test(k) || k === 'ELECTRON_RUN_AS_NODE' || k === 'NODE_OPTIONS' || k === MARKER_VAR || k === OWNER_VAR) continue;
    base[k] = v;
  }
  Object.assign(base, {
    XDG_DATA_HOME: path.join(xdgRoot, 'data'),
    XDG_CONFIG_HOME: path.join(xdgRoot, 'config'),
    XDG_CACHE_HOME: path.join(xdgRoot, 'cache'),
    TMPDIR: tmpDir,
    [MARKER_VAR]: marker,
    [OWNER_VAR]: OWNER,
  });
  for (const [k, v] of Object.entries(env ?? {})) {
    if (v === undefined || v === null) delete base[k]; else base[k] = String(v);
  }
  return base;
}

/**
 * Starts code-server on 127.0.0.1 with a fresh profile, installs the given .vsix file(s) first, and waits
 * for /healthz. Options:
 *   workspace     folder to open (absolute path; required)
 *   vsix          path or array of paths of .vsix files to install (install failures throw)
 *   env           extra environment for code-server (inherited by the extension host and what it spawns);
 *                 a value of undefined/null removes the variable
 *   trust         false (default): --disable-workspace-trust + trust setting off. true: workspace trust ON
 *                 (no flag, "security.workspace.trust.enabled": true): a fresh profile starts untrusted
 *   settings      user settings merged over defaultSettings()
 *   name          label used for the artifacts dir; artifactsDir: where server.log and VS Code logs go
 *   port, extraArgs (more code-server flags), healthTimeoutMs (60 s), installTimeoutMs (120 s),
 *   keepProfile   keep the profile (user-data, extensions, XDG dirs) after stop()
 * Returns a server object: { url, port, pid, workspace, artifactsDir, logFile, profileDir, userDataDir,
 *   extensionsDir, env, marker, spawnedAt, healthyAt, workbenchUrl(folder?), logTail(n), stop() }.
 */
export async function startCodeServer(opts = {}) {
  const {
    workspace, vsix = [], env = {}, trust = false, settings = {}, name = 'code-server', extraArgs = [],
    healthTimeoutMs = 60_000, installTimeoutMs = 120_000, keepProfile = false,
  } = opts;
  if (!workspace || !path.isAbsolute(workspace)) throw new Error('startCodeServer: workspace must be an absolute path');
  if (!fs.existsSync(workspace)) throw new Error(`startCodeServer: workspace ${workspace} does not exist`);
  const cfg = loadEnv();
  sweepOrphans();
  const port = opts.port ?? await freePort();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const artifactsDir = path.resolve(opts.artifactsDir ?? path.join(WORK_DIR, 'artifacts', `${stamp}-${name}`));
  fs.mkdirSync(artifactsDir, { recursive: true });
  fs.mkdirSync(path.join(WORK_DIR, 'profiles'), { recursive: true });
  const profileDir = fs.mkdtempSync(path.join(WORK_DIR, 'profiles', `${name}-`));
  // Unix socket paths (vscode-ipc-*.sock in os.tmpdir()) must stay < 108 chars: a short private TMPDIR.
  const tmpDir = fs.mkdtempSync('/tmp/cs-tmp.');
  const userDataDir = path.join(profileDir, 'user');
  const extensionsDir = path.join(profileDir, 'ext');
  const xdgRoot = path.join(profileDir, 'xdg');
  fs.writeFileSync(path.join(profileDir, '.owner.json'), JSON.stringify({ owner: OWNER, tmpDir }));
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...defaultSettings({ trust }), ...settings }, null, 2));
  const marker = randomUUID();
  const childEnv = serverEnv({ xdgRoot, tmpDir, marker, env });
  const flags = ['--config', '/dev/null', '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry', '--disable-update-check', '--disable-getting-started-override',
    ...(trust ? [] : ['--disable-workspace-trust']),
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  const node = path.join(cfg.CS_NODE_BIN, 'node');
  const entry = { pid: 0, marker, dirs: keepProfile ? [tmpDir] : [tmpDir, profileDir] };
  const untrack = track(entry);
  const logFile = path.join(artifactsDir, 'server.log');

  const server = {
    url: `http://127.0.0.1:${port}`, port, pid: 0, workspace, artifactsDir, logFile, profileDir, userDataDir,
    extensionsDir, env: childEnv, marker, trust, spawnedAt: 0, healthyAt: 0, csVersion: cfg.CS_VERSION,
    workbenchUrl(folder = workspace) { return `${this.url}/?folder=${encodeURIComponent(folder)}`; },
    logTail(n = 40) { try { return fs.readFileSync(logFile, 'utf8').split('\n').slice(-n).join('\n'); } catch { return ''; } },
    stopped: false,
    async stop({ graceMs = 10_000 } = {}) {
      if (this.stopped) return this.stopResult;
      this.stopped = true;
      const res = await killTree(this.pid, { marker, graceMs });
      try { // keep VS Code's own logs (exthost, remote agent, output channels) as artifacts
        const logs = path.join(userDataDir, 'logs');
        if (fs.existsSync(logs)) fs.cpSync(logs, path.join(artifactsDir, 'vscode-logs'), { recursive: true });
      } catch { /* best effort */ }
      for (const d of entry.dirs) fs.rmSync(d, { recursive: true, force: true });
      untrack();
      if (res.leftovers.length) log(`code-server ${this.pid}: still running ${graceMs} ms after SIGTERM, killed:`, res.leftovers);
      this.stopResult = res;
      return res;
    },
  };

  try {
    const list = [].concat(vsix).filter(Boolean);
    if (list.length) {
      const args = [cfg.CS_ENTRY, ...flags];
      for (const v of list) { if (!fs.existsSync(v)) throw new Error(`vsix ${v} does not exist`); args.push('--install-extension', path.resolve(v)); }
      const r = await run(node, args, { env: childEnv, timeoutMs: installTimeoutMs });
      fs.writeFileSync(path.join(artifactsDir, 'install.log'), r.stdout + r.stderr);
      const ok = (r.stdout.match(/was successfully installed/g) ?? []).length;
      if (r.code !== 0 || ok < list.length) {
        throw new Error(`--install-extension failed (exit ${r.code}, ${ok}/${list.length} installed):\n${r.stdout}\n${r.stderr}`);
      }
    }
    const out = fs.openSync(logFile, 'a');
    server.spawnedAt = Date.now();
    const child = spawn(node, [cfg.CS_ENTRY, ...flags, ...extraArgs, workspace],
      { env: childEnv, stdio: ['ignore', out, out], detached: true });
    fs.closeSync(out);
    child.unref(); // an unstopped server must not keep the test process alive: the exit hook kills it
    server.pid = entry.pid = child.pid;
    let exited = null;
    child.on('exit', (code, signal) => { exited = { code, signal }; });
    await waitUntil(async () => {
      if (exited) throw Object.assign(new Error(`code-server exited early (${JSON.stringify(exited)})`), { fatal: true });
      const res = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      return res.ok;
    }, { timeoutMs: healthTimeoutMs, intervalMs: 100, message: `code-server /healthz on port ${port}` }).catch((e) => {
      throw new Error(`${e.message}\n--- server.log tail ---\n${server.logTail()}`, { cause: e });
    });
    server.healthyAt = Date.now();
    return server;
  } catch (e) {
    await server.stop({ graceMs: 2_000 }).catch(() => {});
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------ browser

/** Chromium flags for this closed network (see the machine notes: background networking is refused). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Launches headless Debian Chromium (fresh temporary browser profile) and opens a page.
 * Options: viewport ({width:1400,height:900}), artifactsDir (for trace.zip), trace (Playwright trace on
 * close), headless (true), timeoutMs (default action timeout for the page: 15 s).
 * Returns { browser, context, page, errors, close() }; `errors` collects page errors and console errors.
 */
export async function launchBrowser({ viewport = { width: 1400, height: 900 }, artifactsDir, trace = false,
  headless = true, timeoutMs = 15_000 } = {}) {
  const cfg = loadEnv();
  sweepOrphans();
  const marker = randomUUID();
  const entry = { pid: 0, marker, dirs: [] };
  const untrack = track(entry);
  const browser = await withTimeout(chromium.launch({
    executablePath: cfg.CHROMIUM, headless, args: CHROMIUM_ARGS, timeout: 60_000,
    env: { ...process.env, [MARKER_VAR]: marker, [OWNER_VAR]: OWNER },
  }), 70_000, 'Chromium launch');
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(timeoutMs);
  if (trace) await context.tracing.start({ screenshots: true, snapshots: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console.error: ${m.text().slice(0, 300)}`); });
  let closed = false;
  return {
    browser, context, page, errors,
    async close() {
      if (closed) return;
      closed = true;
      if (trace && artifactsDir) await withTimeout(context.tracing.stop({ path: path.join(artifactsDir, 'trace.zip') }), 30_000, 'trace').catch(() => {});
      await withTimeout(browser.close(), 15_000, 'browser.close()').catch(() => {});
      killTreeSync(0, marker); // whatever Chromium left behind
      untrack();
    },
  };
}

/**
 * Opens the workbench for `folder` (default: server.workspace) and waits until the workbench and its status
 * bar are in the DOM. Resolves { loadMs (goto -> workbench), sinceSpawnMs (code-server spawn -> workbench) }.
 */
export async function openWorkbench(page, server, { folder, timeoutMs = 60_000 } = {}) {
  const t = Date.now();
  await page.goto(server.workbenchUrl(folder ?? server.workspace), { waitUntil: 'domcontentloaded', timeout: timeoutMs });
  await page.locator('.monaco-workbench').waitFor({ timeout: timeoutMs });
  await page.locator('.part.statusbar').waitFor({ timeout: Math.max(1_000, timeoutMs - (Date.now() - t)) });
  return { loadMs: Date.now() - t, sinceSpawnMs: Date.now() - server.spawnedAt };
}

/**
 * Convenience: startCodeServer(serverOpts) + launchBrowser + openWorkbench, then `fn({ server, page, ui,
 * timing })`; on error a "failure" screenshot goes to the server's artifactsDir; the browser and the server
 * are always stopped. Options: browser (launchBrowser options), workbenchTimeoutMs. Resolves fn's result.
 */
export async function withWorkbench(serverOpts, fn, { browser: browserOpts = {}, workbenchTimeoutMs = 60_000 } = {}) {
  const server = await startCodeServer(serverOpts);
  let ui;
  try {
    ui = await launchBrowser({ artifactsDir: server.artifactsDir, ...browserOpts });
    const timing = await openWorkbench(ui.page, server, { timeoutMs: workbenchTimeoutMs });
    return await fn({ server, page: ui.page, ui, timing });
  } catch (e) {
    if (ui) await screenshot(ui.page, server.artifactsDir, 'failure').catch(() => {});
    throw e;
  } finally {
    if (ui) await ui.close();
    await server.stop();
  }
}

// ------------------------------------------------------------------------------------------- UI helpers

/** Moves keyboard focus out of any iframe/input back to the workbench document (no click, no side effect). */
export async function focusWorkbench(page) {
  await page.evaluate(() => {
    const a = document.activeElement;
    if (a && a !== document.body && typeof a.blur === 'function') a.blur();
  });
}

const QUICK_INPUT = '.quick-input-widget';

/**
 * Runs a command from the command palette by its exact title as shown there ("Category: Title").
 * Waits until the palette closed or turned into the command's own quick pick / input box (answer that with
 * answerQuickInput). Throws, listing the rows seen, if no palette entry has exactly this title.
 */
export async function runCommand(page, title, { timeoutMs = 15_000 } = {}) {
  const input = page.locator(`${QUICK_INPUT} input.input`);
  await focusWorkbench(page);
  await page.keyboard.press('F1');
  await input.waitFor({ state: 'visible', timeout: timeoutMs });
  await input.fill('>' + title);
  const row = page.locator(`${QUICK_INPUT} .monaco-list-row`).filter({
    has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }),
  }).first();
  await row.waitFor({ timeout: timeoutMs }).catch(async (e) => {
    const seen = await page.locator(`${QUICK_INPUT} .monaco-list-row .label-name`).allTextContents().catch(() => []);
    await page.keyboard.press('Escape').catch(() => {});
    throw new Error(`command "${title}" not in the palette (${e.message.split('\n')[0]}); rows: ${JSON.stringify(seen.slice(0, 10))}`);
  });
  await row.click();
  // Closed, or re-used by the command's own showQuickPick/showInputBox (value no longer our filter).
  await waitUntil(async () => !(await input.isVisible()) || (await input.inputValue()) !== '>' + title,
    { timeoutMs, message: `palette to close after "${title}"` });
}

/** Answers an open quick pick / input box: types `value` (optional) and picks the row with label `pick` or presses Enter. */
export async function answerQuickInput(page, { value, pick, timeoutMs = 15_000 } = {}) {
  const input = page.locator(`${QUICK_INPUT} input.input`);
  await input.waitFor({ state: 'visible', timeout: timeoutMs });
  if (value !== undefined) await input.fill(value);
  if (pick !== undefined) {
    const row = page.locator(`${QUICK_INPUT} .monaco-list-row`).filter({
      has: page.locator('.label-name', { hasText: pick instanceof RegExp ? pick : new RegExp(`^${escapeRegExp(pick)}$`) }),
    }).first();
    await row.click({ timeout: timeoutMs });
  } else {
    await page.keyboard.press('Enter');
  }
}

function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

/** Locator of the activity-bar entry (side-bar view container) whose title is `title`. */
export function activityBarItem(page, title) {
  return page.locator('.part.activitybar .action-item').filter({
    has: page.locator(`a.action-label[aria-label="${title}"], a.action-label[aria-label^="${title} ("]`),
  }).first();
}

/** Locator of the tab of the panel view container `title` (only in the DOM while the panel is open). */
export function panelTab(page, title) {
  return page.locator('.part.panel .composite-bar .action-item').filter({
    has: page.locator(`a.action-label[aria-label="${title}"], a.action-label[aria-label^="${title} ("]`),
  }).first();
}

// The side bar title is the container's title, or "<container>: <view>" when the container has a single view.
function sidebarTitleMatches(text, title) {
  const t = text.toLowerCase(), w = title.toLowerCase();
  return t === w || t.startsWith(w + ': ');
}

/**
 * Shows the view container titled `title` and waits until it is the visible one. Never toggles an open
 * container closed (clicking an open activity-bar icon would close it).
 *   location 'sidebar': clicks its activity-bar icon. 'panel' (bottom panel): clicks its tab if the panel is
 *   open, else runs "View: Toggle <title>". 'auto' (default): 'sidebar' if an activity-bar icon with this
 *   title shows up within 5 s, else 'panel'.
 */
export async function openViewContainer(page, title, { location = 'auto', timeoutMs = 15_000 } = {}) {
  const act = activityBarItem(page, title);
  const tab = panelTab(page, title);
  if (location === 'auto') {
    location = (await tab.count()) ? 'panel'
      : await act.waitFor({ timeout: 5_000 }).then(() => 'sidebar', () => 'panel');
  }
  if (location === 'sidebar') {
    await act.waitFor({ timeout: timeoutMs });
    const h2 = page.locator('.part.sidebar .composite.title .title-label h2').first();
    const isOpen = async () => (await page.locator('.part.sidebar').isVisible())
      && /\bchecked\b/.test((await act.getAttribute('class')) ?? '')
      && sidebarTitleMatches(((await h2.textContent().catch(() => '')) ?? '').trim(), title);
    if (!(await isOpen())) await act.locator('a.action-label').click({ timeout: timeoutMs });
    await waitUntil(isOpen, { timeoutMs, message: `side bar to show "${title}"` });
    return;
  }
  const isOpen = async () => (await page.locator('.part.panel').isVisible())
    && (await tab.count()) > 0 && /\bchecked\b/.test((await tab.getAttribute('class')) ?? '');
  if (!(await isOpen())) {
    if ((await tab.count()) && (await tab.isVisible())) await tab.locator('a.action-label').click({ timeout: timeoutMs });
    else await runCommand(page, `View: Toggle ${title}`, { timeoutMs });
  }
  await waitUntil(isOpen, { timeoutMs, message: `panel to show "${title}"` });
}

/**
 * Focuses view `view` of container `containerTitle` through its generated palette command
 * "<container>: Focus on <view> View" (opens side bar / panel as needed; works for webview views too).
 */
export async function focusView(page, containerTitle, view, { timeoutMs = 15_000 } = {}) {
  await runCommand(page, `${containerTitle}: Focus on ${view} View`, { timeoutMs });
}

/**
 * Locator of a view pane. `view` is the view's name as shown in its header (string), or
 * { name?, id?, part? }: id = the view id from package.json (matched through the header icon's
 * "view-<id>" class), part = 'sidebar' | 'panel' | 'auxiliarybar' to tell apart views with the same name.
 * Single-view containers merge the view header into the container title: the (hidden) header still names it.
 */
export function viewPane(page, view) {
  const v = typeof view === 'string' ? { name: view } : view;
  const scope = v.part ? page.locator(`.part.${v.part}`) : page;
  let pane = scope.locator('.pane');
  if (v.name) {
    pane = pane.filter({ has: page.locator('.pane-header h3.title', { hasText: new RegExp(`^\\s*${escapeRegExp(v.name)}\\s*$`, 'i') }) });
  }
  if (v.id) pane = pane.filter({ has: page.locator(`.pane-header .icon.view-${v.id.replace(/[^\w-]/g, '-')}`) });
  return pane.first();
}

function viewLabel(view) { return typeof view === 'string' ? view : JSON.stringify(view); }

/** Expands the view pane `view` (see viewPane) if it is collapsed; resolves its locator. */
export async function expandView(page, view, { timeoutMs = 15_000 } = {}) {
  const pane = viewPane(page, view);
  const header = pane.locator('.pane-header').first();
  await header.waitFor({ state: 'attached', timeout: timeoutMs });
  if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
  await waitUntil(async () => (await header.getAttribute('aria-expanded')) !== 'false', { timeoutMs, message: `view ${viewLabel(view)} expanded` });
  return pane;
}

/**
 * Locator of the tree row labelled `label` (exact label text, or a RegExp) in the view `view` (a view name or { name, id, part }: see viewPane).
 * Only rendered rows are found (trees are virtualised): scroll or enlarge the view for long trees.
 */
export function treeItem(page, view, label) {
  const rx = label instanceof RegExp ? label : new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`);
  return viewPane(page, view).locator('.monaco-list-row').filter({
    has: page.locator('.label-name', { hasText: rx }),
  }).first();
}

/** Waits for the tree row `label` in view `view` (expanding the view first) and resolves its locator. */
export async function findTreeItem(page, view, label, { timeoutMs = 15_000 } = {}) {
  await expandView(page, view, { timeoutMs });
  const row = treeItem(page, view, label);
  await row.waitFor({ timeout: timeoutMs });
  return row;
}

/** Rendered rows of the tree in view `view`, in order: [{ label, description, ariaLabel, expanded, level, selected }]. */
export async function treeItems(page, view) {
  return viewPane(page, view).locator('.monaco-list-row').evaluateAll((rows) => rows.map((r) => ({
    label: r.querySelector('.label-name')?.textContent?.trim() ?? '',
    description: r.querySelector('.label-description')?.textContent?.trim() ?? '',
    ariaLabel: r.getAttribute('aria-label'),
    expanded: r.hasAttribute('aria-expanded') ? r.getAttribute('aria-expanded') === 'true' : null,
    level: Number(r.getAttribute('aria-level')),
    selected: r.getAttribute('aria-selected') === 'true',
  })));
}

/** Clicks the tree row `label` in view `view` (selects it and runs its TreeItem.command, if any). */
export async function clickTreeItem(page, view, label, { timeoutMs = 15_000 } = {}) {
  const row = await findTreeItem(page, view, label, { timeoutMs });
  await row.click({ timeout: timeoutMs });
  return row;
}

/**
 * Clicks an inline action (view/item/context menu, group "inline") of the tree row `label`: hovers the row
 * so its action bar shows, then clicks the action whose aria-label/title is `actionTitle` (exact or RegExp).
 */
export async function clickTreeItemAction(page, view, label, actionTitle, { timeoutMs = 15_000 } = {}) {
  const row = await findTreeItem(page, view, label, { timeoutMs });
  await row.hover({ timeout: timeoutMs });
  const rx = actionTitle instanceof RegExp ? actionTitle : new RegExp(`^${escapeRegExp(actionTitle)}( \\(.*\\))?$`);
  const actions = row.locator('.actions .action-item a.action-label');
  const n = await actions.count();
  for (let i = 0; i < n; i++) {
    const a = actions.nth(i);
    const name = (await a.getAttribute('aria-label')) ?? (await a.getAttribute('title')) ?? '';
    if (rx.test(name)) { await a.click({ timeout: timeoutMs }); return; }
  }
  const names = [];
  for (let i = 0; i < n; i++) names.push(await actions.nth(i).getAttribute('aria-label'));
  throw new Error(`no inline action ${rx} on tree item "${label}" in ${viewLabel(view)} (actions: ${JSON.stringify(names)})`);
}

/** Inline actions of the tree row `label` (hovered so that they render): [{ title, enabled }]. */
export async function treeItemActions(page, view, label, { timeoutMs = 15_000 } = {}) {
  const row = await findTreeItem(page, view, label, { timeoutMs });
  await row.hover({ timeout: timeoutMs });
  return row.locator('.actions .action-item a.action-label').evaluateAll((links) => links.map((a) => ({
    title: a.getAttribute('aria-label') ?? a.getAttribute('title') ?? '',
    enabled: a.getAttribute('aria-disabled') !== 'true',
  })));
}

/** Locator of a status bar item: { id } = the extension's item id (createStatusBarItem(id, ...)) or { text }. */
export function statusBarItem(page, { id, text, extensionId } = {}) {
  const bar = page.locator('.part.statusbar');
  if (id) {
    // DOM id of an extension's item is "<publisher.name>.<id>" (the bare id when extensionId is omitted
    // matches by suffix).
    const sel = extensionId ? `.statusbar-item[id="${extensionId}.${id}"]` : `.statusbar-item[id="${id}"], .statusbar-item[id$=".${id}"]`;
    return bar.locator(sel).first();
  }
  if (text) return bar.locator('.statusbar-item').filter({ hasText: text }).first();
  throw new Error('statusBarItem: give { id } or { text }');
}

/** Waits for a status bar item (see statusBarItem) and resolves its visible text (trimmed; icons omitted). */
export async function readStatusBar(page, query, { timeoutMs = 15_000 } = {}) {
  const item = statusBarItem(page, query);
  await item.waitFor({ timeout: timeoutMs });
  return ((await item.innerText()) ?? '').replace(/\s+/g, ' ').trim();
}

/** Waits until the status bar item `query` has text matching `expected` (substring or RegExp); resolves it. */
export async function waitForStatusBarText(page, query, expected, { timeoutMs = 15_000 } = {}) {
  let last = '';
  try {
    return await waitUntil(async () => {
      last = await readStatusBar(page, query, { timeoutMs: 1_000 }).catch(() => '');
      return (expected instanceof RegExp ? expected.test(last) : last.includes(expected)) ? last : '';
    }, { timeoutMs, message: `status bar ${JSON.stringify(query)} to show ${expected}` });
  } catch (e) { throw new Error(`${e.message}; last text: ${JSON.stringify(last)}`, { cause: e }); }
}

/** Text of all visible status bar items, left to right. */
export async function statusBarTexts(page) {
  return (await page.locator('.part.statusbar .statusbar-item').allInnerTexts()).map((s) => s.replace(/\s+/g, ' ').trim()).filter(Boolean);
}

/**
 * The content frame of a webview (webview view or panel). VS Code nests two iframes: the outer
 * `iframe.webview` (host page, in an overlay container outside the view's DOM) and the extension's document
 * in `#active-frame` inside it. Options:
 *   extensionId  "publisher.name" of the contributing extension
 *   purpose      "webviewView" (a view contributed with "type": "webview"), "webviewPanel" (createWebviewPanel:
 *                VS Code sets no purpose for those), "customEditor" or "notebookRenderer"
 *   waitFor      a selector inside the webview document: only a webview that contains it is picked, and we
 *                wait for it (recommended: tells several webviews of one extension apart)
 *   timeoutMs    30 s
 * Resolves a Playwright FrameLocator of the inner document of the first VISIBLE matching webview.
 */
export async function webviewFrame(page, { extensionId, purpose, waitFor, timeoutMs = 30_000 } = {}) {
  let sel = 'iframe.webview.ready';
  if (extensionId) sel += `[src*="extensionId=${encodeURIComponent(extensionId)}&"]`;
  if (purpose === 'webviewPanel') sel += ':not([src*="purpose="])';
  else if (purpose) sel += `[src*="purpose=${purpose}"]`;
  const outer = page.locator(sel);
  const inner = (i) => page.frameLocator(sel).nth(i).frameLocator('#active-frame');
  const idx = await waitUntil(async () => {
    const n = await outer.count();
    for (let i = 0; i < n; i++) {
      if (!(await outer.nth(i).isVisible())) continue;
      if (!waitFor || (await inner(i).locator(waitFor).count()) > 0) return i + 1;
    }
    return 0;
  }, { timeoutMs, intervalMs: 200, message: `a visible webview ${sel}${waitFor ? ` containing ${waitFor}` : ''}` });
  return inner(idx - 1);
}

/**
 * Opens the Problems panel (unless open=false or it is already visible) and resolves its entries:
 * [{ file, path, folder, severity: 'error'|'warning'|'info', message, source, code, line, column, ariaLabel }].
 * Only rendered rows are read (the list is virtualised): with many entries, maximise the panel or filter.
 */
export async function readProblems(page, { timeoutMs = 15_000, open = true } = {}) {
  if (open && !(await page.locator('.markers-panel').first().isVisible().catch(() => false))) {
    await runCommand(page, 'Problems: Focus on Problems View', { timeoutMs });
  }
  const panel = page.locator('.markers-panel');
  await panel.first().waitFor({ timeout: timeoutMs });
  return page.evaluate(() => {
    const out = [];
    let file = null, filePath = null, folder = null;
    for (const row of document.querySelectorAll('.markers-panel .monaco-list-row')) {
      const level = row.getAttribute('aria-level');
      if (level === '1') {
        file = row.querySelector('.label-name')?.textContent?.trim() ?? null;
        filePath = row.querySelector('.monaco-icon-label')?.getAttribute('aria-label') ?? null;
        folder = row.querySelector('.label-description')?.textContent?.trim() ?? null;
        continue;
      }
      if (level !== '2') continue; // level 3: related information of the entry above
      const icon = row.querySelector('.marker-icon');
      const cls = icon ? icon.className : '';
      const severity = /error/.test(cls) ? 'error' : /warning/.test(cls) ? 'warning' : /info/.test(cls) ? 'info' : 'unknown';
      const txt = (s) => row.querySelector(s)?.textContent?.trim() ?? '';
      const pos = /Ln (\d+), Col (\d+)/.exec(txt('.marker-line'));
      out.push({
        file, path: filePath, folder, severity, message: txt('.marker-message'), source: txt('.marker-source'), code: txt('.marker-code'),
        line: pos ? Number(pos[1]) : null, column: pos ? Number(pos[2]) : null, ariaLabel: row.getAttribute('aria-label'),
      });
    }
    return out;
  });
}

/** Notification toasts currently shown: [{ message, source }]. */
export async function notifications(page) {
  return page.evaluate(() => [...document.querySelectorAll('.notification-toast .notification-list-item')].map((n) => ({
    message: n.querySelector('.notification-list-item-message')?.textContent?.trim() ?? '',
    source: n.querySelector('.notification-list-item-source')?.textContent?.trim() ?? '',
  })));
}

/** Waits for a notification toast containing `text` (substring or RegExp); resolves its locator. */
export async function waitForNotification(page, text, { timeoutMs = 15_000 } = {}) {
  const toast = page.locator('.notification-toast .notification-list-item').filter({ hasText: text }).first();
  await toast.waitFor({ timeout: timeoutMs });
  return toast;
}

/** Full-page screenshot into artifactsDir/<name>.png; resolves its path. */
export async function screenshot(page, artifactsDir, name, { timeoutMs = 15_000 } = {}) {
  fs.mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name.replace(/[^\w.-]+/g, '_')}.png`);
  await page.screenshot({ path: file, timeout: timeoutMs });
  return file;
}

/** Every file called `name` under `dir` (e.g. a VS Code log of an output channel: "Engine Room.log"). */
export function findFiles(dir, name) {
  const out = [];
  for (const e of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...findFiles(p, name));
    else if (e.name === name) out.push(p);
  }
  return out;
}

// ------------------------------------------------------------------------------------- workspace trust

/** True when the workbench is in Restricted Mode (workspace not trusted): its status bar item is shown. */
export async function isRestrictedMode(page) {
  return (await page.locator('.part.statusbar .statusbar-item', { hasText: 'Restricted Mode' }).count()) > 0;
}

/**
 * Answers the workspace-trust startup modal ("Do you trust the authors ...?"): trust=true clicks
 * "Yes, I trust the authors", false clicks "No, I don't trust the authors". Waits for the modal first.
 */
export async function answerTrustPrompt(page, trust, { timeoutMs = 30_000 } = {}) {
  const dialog = page.locator('.monaco-dialog-box');
  await dialog.waitFor({ timeout: timeoutMs });
  const label = trust ? /Yes, I trust/ : /No, I don.t trust/;
  await dialog.locator('.monaco-button', { hasText: label }).first().click({ timeout: timeoutMs });
  await dialog.waitFor({ state: 'hidden', timeout: timeoutMs });
}

/**
 * Grants workspace trust after startup (e.g. after answerTrustPrompt(page, false)): runs "Workspaces: Manage
 * Workspace Trust", clicks "Trust" in that editor and waits until Restricted Mode is gone.
 */
export async function trustWorkspace(page, { timeoutMs = 15_000 } = {}) {
  await runCommand(page, 'Workspaces: Manage Workspace Trust', { timeoutMs });
  await page.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust$/ }).first().click({ timeout: timeoutMs });
  await waitUntil(async () => !(await isRestrictedMode(page)), { timeoutMs, message: 'Restricted Mode to end' });
}

// ------------------------------------------------------------------------------ extension-host test runs

/**
 * Runs an extensionTestsPath module (export run(): Promise<void>) inside code-server's real Node extension
 * host via the workbench `payload` URL parameter (code-server has no --extensionTestsPath flag). Uses its
 * own browser. The server should be a separate instance from the UI tests' (start it without vsix: the
 * extension is loaded from extensionDevelopmentPath). code-server >= 4.134 also needs
 * extraArgs: ['--vscode-option', 'enable-smoke-test-driver'] (4.100.3 does not). Test output arrives only
 * through window.codeAutomationLog (passed to onLog, default console.log); the exit code through
 * window.codeAutomationExit. Resolves { code, output: [lines] }. `onPage(page, { done })` runs beside the tests.
 */
export async function runExtensionHostTests(server, { extensionDevelopmentPath, extensionTestsPath, folder, timeoutMs = 180_000, loadTimeoutMs = 60_000, onLog, onPage } = {}) {
  const { format } = await import('node:util');
  const authority = new URL(server.url).host;
  const remote = (p) => `vscode-remote://${authority}${path.resolve(p)}`;
  const payload = [['extensionDevelopmentPath', remote(extensionDevelopmentPath)], ['extensionTestsPath', remote(extensionTestsPath)]];
  const url = `${server.workbenchUrl(folder ?? server.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const ui = await launchBrowser({});
  const output = [];
  try {
    let resolveExit;
    const exited = new Promise((r) => (resolveExit = r));
    await ui.page.exposeFunction('codeAutomationExit', (code) => resolveExit(code));
    await ui.page.exposeFunction('codeAutomationLog', (level, args) => {
      const line = format(...(Array.isArray(args) ? args : [args]));
      if (/getaddrinfo ENOTFOUND open-vsx\.org/.test(line)) return; // extension gallery lookups: offline noise
      if (/^(info|trace|debug)$/.test(level) && /^(Resolving|Resolved|Creating a socket|Updating additional|\[Service Worker\]|ChatSessionStore)/.test(line)) return;
      output.push(line);
      (onLog ?? console.log)(line);
    });
    await ui.page.goto(url, { waitUntil: 'domcontentloaded', timeout: loadTimeoutMs });
    // onPage(page, { done }): UI work while the tests run (answering the dialogs they open); `done` is
    // a promise that settles when they end. Its error fails the run once the tests are over.
    const done = exited.then(() => {});
    const side = onPage ? Promise.resolve().then(() => onPage(ui.page, { done })) : Promise.resolve();
    side.catch(() => {});
    const code = await withTimeout(exited, timeoutMs, 'extension-host tests');
    await withTimeout(side, 30_000, 'onPage');
    return { code, output };
  } finally {
    await ui.close();
  }
}
