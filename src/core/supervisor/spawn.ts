/** Spawning an engine (its log follower and exit handler attached at once) and the reaper process. */
import { childProcess } from '../builtins';
import { EngineProcess } from '../engineProcess';
import { errorMessage } from '../errors';
import type { Launch } from '../launch';
import { appendLogNote, fileSize, LogFollower } from '../logs';
import { reaperArgv } from '../reaper';
import type { SupervisorContext } from './context';
import { onExit } from './exit';
import { recordFollowed } from './leases';
import type { Runtime } from './runtime';

export async function spawnEngine(ctx: SupervisorContext, rt: Runtime, port: number | undefined, block: [number, number] | undefined): Promise<EngineProcess> {
  const launch = rt.launch as Launch;
  const ports = [port !== undefined ? `port ${port}` : '', block ? `block ${block[0]}-${block[1]}` : ''].filter(Boolean).join(', ');
  appendLogNote(rt.logFile, `starting ${rt.spec.name}: ${JSON.stringify(launch.command)} in ${launch.cwd}${ports ? ` (${ports})` : ''}`, (m) => ctx.log('warn', m));
  const from = fileSize(rt.logFile);
  let proc: EngineProcess;
  try {
    proc = await EngineProcess.spawn({
      command: launch.command,
      shell: rt.spec.shell,
      cwd: launch.cwd,
      env: launch.env,
      logFile: rt.logFile,
      marker: rt.marker,
      pidFile: launch.pidFile,
      onDaemon: (p) => followDaemon(ctx, rt, p),
    });
  } catch (e) {
    appendLogNote(rt.logFile, errorMessage(e), (m) => ctx.log('warn', m));
    throw e;
  }
  rt.proc = proc;
  rt.startedAt = Date.now();
  ensureReaper(ctx);
  // Attached at once: a stop during the registry update that follows must find it to wait on.
  rt.gone = proc.exited.then((exit) => onExit(ctx, rt, proc, exit));
  rt.follower?.close();
  const pattern = rt.spec.health.probe.kind === 'log' ? new RegExp(rt.spec.health.probe.pattern) : undefined;
  rt.follower = new LogFollower(rt.logFile, from, (lines) => {
    for (const line of lines) {
      if (pattern && !rt.logMatched && pattern.test(line)) rt.logMatched = true;
      ctx.events.emit('line', rt.spec.name, line);
    }
  });
  return proc;
}

/** The leader exited 0 and its daemon runs on: it is the engine now, for us and in the registry. */
function followDaemon(ctx: SupervisorContext, rt: Runtime, proc: EngineProcess): void {
  if (rt.state === 'stopping' || rt.proc !== proc) return;
  appendLogNote(rt.logFile, `${rt.spec.name}: its main process exited 0 and left pid ${proc.pid} running: following it as a daemon`);
  ctx.emit(rt);
  rt.recording = recordFollowed(ctx, rt, proc).catch((e) => ctx.log('warn', `could not record the daemon of ${rt.spec.name}: ${errorMessage(e)}`));
}

/** Starts the reaper once, with the first engine this supervisor spawns (if asked for). */
function ensureReaper(ctx: SupervisorContext): void {
  const r = ctx.opts.reaper;
  if (!r || ctx.reaperStarted) return;
  ctx.reaperStarted = true;
  const { owner } = ctx;
  try {
    const child = childProcess().spawn(r.execPath ?? process.execPath, [r.script, ...reaperArgv({ stateDir: ctx.opts.stateDir, ownerId: owner.id, ownerPid: owner.pid, ownerStartTime: owner.startTime })], {
      detached: true,
      stdio: 'ignore',
      // VS Code's extension host runs on Electron: make it behave as plain Node for this script.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    child.on('error', (e) => ctx.log('warn', `could not start the reaper: ${errorMessage(e)}`));
    child.unref();
  } catch (e) {
    ctx.log('warn', `could not start the reaper: ${errorMessage(e)}`);
  }
}
