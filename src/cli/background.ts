/**
 * The background supervisor that `up --detach` leaves (bundled as dist/background.js; the command's
 * side is src/cli/detached.ts). It starts the engines, so it is their parent: it sees each exit with
 * its code or signal, restarts under `restart: "on-failure"` with the backoff, keeps the health
 * probes, and records restarts and the last exit in the registry (for `status`, the tree, the panel).
 * It exits once none of its engines runs (after `down`, or when one that does not restart has ended).
 *
 * A proper detached process: its own session (no terminal signal reaches it), stdout and stderr in
 * its log in the state directory, stdin closed; the IPC channel to the command is closed once the
 * engines are up. SIGTERM, SIGINT or SIGHUP make it let go: its engines keep running, unsupervised,
 * marked as left on purpose. A command interrupted (Ctrl-C) or killed before the engines are up makes
 * it stop what it started and exit.
 */
import { errorMessage } from '../core/errors';
import { formatProblem, loadConfig } from '../core/config';
import { Supervisor } from '../core/supervisor/supervisor';
import type { FromSupervisor, ToSupervisor } from './detached';

const note = (m: string) => process.stderr.write(`${new Date().toISOString()} [pid ${process.pid}] ${m}\n`);
const send = (m: FromSupervisor) => {
  try {
    if (process.connected) process.send?.(m);
  } catch {
    // the command is gone: the log has it
  }
};

async function supervise(start: Extract<ToSupervisor, { t: 'start' }>): Promise<number> {
  const loaded = await loadConfig(start.configFile);
  if (!loaded.config) {
    const message = `bad config: ${loaded.problems.map(formatProblem).join('\n')}`;
    note(message);
    send({ t: 'fatal', message });
    return 2;
  }
  const sup = new Supervisor({
    config: loaded.config,
    stateDir: start.stateDir,
    ownerKind: 'cli',
    ownerLabel: `engine-room up --detach, background supervisor (pid ${process.pid})`,
    env: start.env,
    log: (level, m) => {
      note(`${level}: ${m}`);
      if (level !== 'info') send({ t: 'log', message: m });
    },
  });
  // Each transition once: health probes re-emit the same state.
  const said = new Map<string, string>();
  sup.on('change', (s) => {
    const line = `${s.name}: ${s.state}${s.reason ? ` - ${s.reason}` : ''}`;
    if (said.get(s.name) === line) return;
    said.set(s.name, line);
    note(line);
    send({ t: 'change', snapshot: s });
  });
  let letGo = false;
  const release = async (why: string) => {
    if (letGo) return;
    letGo = true;
    note(`${why}: leaving the engines running, unsupervised`);
    await sup.detach();
    process.exit(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void release(sig));
  let aborted = false;
  let reported = false;
  const abort = (why: string) => {
    if (aborted || reported) return;
    aborted = true;
    note(`${why}: stopping what was started`);
    void sup.dispose().then(() => process.exit(130));
  };
  process.on('message', (m: ToSupervisor) => {
    if (m.t === 'abort') abort('the command was interrupted');
  });
  // Killed while the engines start, the command is interrupted as much as by Ctrl-C.
  process.on('disconnect', () => abort('the command ended before the engines were up'));
  const names = start.names;
  note(`starting ${names.length > 0 ? names.join(', ') : 'every engine'} of ${start.configFile}`);
  const outcomes = await sup.settle(await sup.start(names));
  if (aborted) return new Promise<number>(() => {});
  reported = true;
  send({ t: 'done', outcomes, snapshots: sup.snapshots() });
  if (process.connected) process.disconnect();
  // Until none of its engines runs (or waits for a restart).
  return new Promise<number>((resolve) => {
    const check = () => {
      if (letGo || sup.busy()) return;
      note('no engine of mine runs any more: exiting');
      resolve(0);
    };
    sup.on('change', () => setImmediate(check));
    check();
  });
}

// The first message says what to start; a command that dies before sending it leaves nothing to do.
let started = false;
process.on('message', (m: ToSupervisor) => {
  if (m.t !== 'start' || started) return;
  started = true;
  supervise(m).then(
    (code) => process.exit(code),
    (e: unknown) => {
      note(`internal error: ${errorMessage(e)}`);
      send({ t: 'fatal', message: `the background supervisor failed: ${errorMessage(e)}` });
      process.exit(1);
    },
  );
});
process.once('disconnect', () => {
  if (!started) process.exit(0);
});
