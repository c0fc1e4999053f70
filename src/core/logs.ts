/**
 * Engine logs: every line is in the log file (the engine writes it directly); this module follows the
 * file for the UI, the CLI and the log health probe, and keeps a bounded tail in memory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { errorMessage } from './errors';

/** `<stateDir>/logs/<folder>-<hash of the config path>/<engine>.log` */
export function logFileFor(stateDir: string, configFile: string, name: string): string {
  const hash = createHash('sha256').update(configFile).digest('hex').slice(0, 8);
  const folder = path.basename(path.dirname(path.dirname(configFile))).replace(/[^A-Za-z0-9_.-]/g, '_') || 'root';
  return path.join(stateDir, 'logs', `${folder}-${hash}`, `${name}.log`);
}

/**
 * Appends one line of our own to an engine's log, marked so it stands out from the engine's lines. A note
 * that cannot be written (a full disk) is dropped, with `warn`: it never stops a start or a stop.
 */
export function appendLogNote(file: string, text: string, warn: (message: string) => void = () => {}): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.appendFileSync(file, `[engine-room ${new Date().toISOString()}] ${text}\n`, { mode: 0o600 });
  } catch (e) {
    warn(`a note for the log ${file} was dropped (${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}): ${text}`);
  }
}

export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * The fallback polls of every follower with the same period share one timer: 64 engines are one wake-up
 * per period, not 64.
 */
const pollers = new Map<number, { timer: NodeJS.Timeout; followers: Set<LogFollower> }>();

function pollEvery(ms: number, f: LogFollower): () => void {
  let group = pollers.get(ms);
  if (!group) {
    const followers = new Set<LogFollower>();
    const timer = setInterval(() => followers.forEach((x) => x.poll()), ms);
    timer.unref();
    group = { timer, followers };
    pollers.set(ms, group);
  }
  const g = group;
  g.followers.add(f);
  return () => {
    g.followers.delete(f);
    if (g.followers.size === 0 && pollers.get(ms) === g) {
      clearInterval(g.timer);
      pollers.delete(ms);
    }
  };
}

/**
 * How often a follower that has a file watcher polls as well. The watcher sees every write made on this
 * host (inotify is told of writes by the kernel whatever the file system); the poll is a safety net for
 * a watcher that stops, not the way lines arrive.
 */
const WATCHED_POLL_MS = 5000;

/**
 * The most of one line held in memory (characters): a progress bar that only writes `\r` is one line of
 * many megabytes. The file keeps the whole line; in memory its latest part stands for it.
 */
export const MAX_LINE = 16 * 1024;
/** A poll reads at most this much before it lets the event loop run (health probes, Ctrl-C). */
const MAX_READ_PER_TURN = 1 << 20;

/**
 * What a terminal would show of a line: the text after its last `\r` (a progress bar's latest state),
 * at most MAX_LINE characters of it, with a note of what was cut (`cut` < 0: an unknown amount).
 */
export function latestState(line: string, cut = 0): string {
  let end = line.length;
  while (end > 0 && line.charCodeAt(end - 1) === 13) end--;
  const start = line.lastIndexOf('\r', end - 1) + 1;
  let text = start > 0 || end < line.length ? line.slice(start, end) : line;
  if (start > 0) cut = 0; // an overwritten line: what came before is not part of its latest state
  if (text.length > MAX_LINE) {
    if (cut >= 0) cut += text.length - MAX_LINE;
    text = text.slice(-MAX_LINE);
  }
  if (cut === 0) return text;
  return `[… ${cut > 0 ? `${cut} characters` : 'its start'} cut; the whole line is in the log file] ${text}`;
}

/**
 * Follows a growing file from an offset and hands out whole lines (as their latest state, see
 * latestState); keeps the last `keep` in memory. Work per chunk is bounded: a chunk is scanned once,
 * and a line without a newline is held only up to MAX_LINE.
 */
export class LogFollower {
  private offset: number;
  private readonly decoder = new StringDecoder('utf8');
  /** The unfinished line: from its last `\r` on (earlier states are overwritten), at most MAX_LINE. */
  private partial = '';
  /** Characters of the unfinished line dropped from `partial` for the cap. */
  private cut = 0;
  private readonly ring: string[] = [];
  private watcher: fs.FSWatcher | undefined;
  private stopPolling: (() => void) | undefined;
  private reading = false;
  private again = false;
  private closed = false;
  /** Closing: the last read takes everything there is. */
  private draining = false;

  constructor(
    readonly file: string,
    from: number,
    private readonly onLines: (lines: string[]) => void,
    private readonly keep = 500,
    pollMs = 250,
  ) {
    this.offset = from;
    try {
      this.watcher = fs.watch(file, { persistent: false }, () => this.poll());
      this.watcher.on('error', () => {});
    } catch {
      this.watcher = undefined;
    }
    // Events can be coalesced or missing (network file systems): poll as well, every `pollMs` without a
    // watcher and every WATCHED_POLL_MS with one (a safety net then: 64 idle engines' logs polled every
    // 250 ms cost a supervisor about a tenth of its idle CPU, every second a twentieth).
    this.stopPolling = pollEvery(this.watcher ? Math.max(pollMs, WATCHED_POLL_MS) : pollMs, this);
    this.poll();
  }

  /** The last lines seen (at most `keep`), and the unfinished one as it stands now (a progress bar). */
  tail(n = this.keep): string[] {
    if (n <= 0) return [];
    const current = this.partial ? latestState(this.partial, this.cut) : '';
    const lines = this.ring.slice(-n);
    if (current) lines.push(current);
    return lines.slice(-n);
  }

  /** Reads what was appended since the last read. Safe to call at any time. */
  poll(): void {
    if (this.closed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.again = false;
        this.readAvailable();
      } while (this.again && !this.closed);
    } finally {
      this.reading = false;
    }
  }

  private readAvailable(): void {
    const more = this.readSome(this.draining ? Infinity : MAX_READ_PER_TURN);
    // A flood: give the event loop a turn, then read on.
    if (more && !this.closed) setImmediate(() => this.poll());
  }

  /** Reads up to `limit` bytes; true when more is there. */
  private readSome(limit: number): boolean {
    // Most polls find nothing new: one stat, no open.
    if (fileSize(this.file) === this.offset) return false;
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return false;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // truncated by someone: start over
      const buf = Buffer.allocUnsafe(1 << 16);
      let read = 0;
      while (this.offset < size && read < limit) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - this.offset), this.offset);
        if (n <= 0) break;
        this.offset += n;
        read += n;
        this.push(this.decoder.write(buf.subarray(0, n)));
      }
      return this.offset < size;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** One chunk: scanned once for newlines; only the unfinished line is carried over, capped. */
  private push(text: string): void {
    const lines: string[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      lines.push(latestState(this.partial + text.slice(start, nl), this.cut));
      this.partial = '';
      this.cut = 0;
      start = nl + 1;
    }
    this.hold(start === 0 ? text : text.slice(start));
    if (lines.length === 0) return;
    this.ring.push(...lines.slice(-this.keep));
    if (this.ring.length > this.keep) this.ring.splice(0, this.ring.length - this.keep);
    this.onLines(lines);
  }

  /** Adds to the unfinished line: what an inner `\r` overwrote is dropped, the rest capped at MAX_LINE. */
  private hold(text: string): void {
    if (!text) return;
    let p = this.partial + text;
    // Keep the last state and the `\r` that ends it (the next chunk may overwrite it).
    const cr = p.lastIndexOf('\r', p.length - 2);
    if (cr >= 0) {
      p = p.slice(cr + 1);
      this.cut = 0;
    }
    if (p.length > MAX_LINE) {
      this.cut += p.length - MAX_LINE;
      p = p.slice(-MAX_LINE);
    }
    this.partial = p;
  }

  /** Stops following; a final read picks up what is there (and a last line without newline). */
  close(): void {
    if (this.closed) return;
    this.draining = true;
    this.poll();
    if (this.partial) {
      const last = latestState(this.partial, this.cut);
      this.partial = '';
      this.cut = 0;
      this.ring.push(last);
      this.onLines([last]);
    }
    this.closed = true;
    this.watcher?.close();
    this.stopPolling?.();
  }
}

/**
 * The offset just after the last newline before `end`: where whole lines stop. A follower that starts
 * there neither repeats a line nor splits one that was still being written.
 */
export function lineBoundary(file: string, end: number): number {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return 0;
  }
  try {
    const chunk = 1 << 16;
    for (let pos = end; pos > 0; ) {
      const len = Math.min(chunk, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, pos);
      const i = buf.lastIndexOf(10);
      if (i >= 0) return pos + i + 1;
    }
    return 0;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The last `n` lines of a file, or of its first `end` bytes, each as its latest state (latestState).
 * Reads backwards in chunks, and no further back than `n` lines of MAX_LINE each could need: a line
 * longer than that (one huge progress bar) is shown by its end.
 */
export function readLastLines(file: string, n: number, end?: number): string[] {
  if (n <= 0) return [];
  const fd = fs.openSync(file, 'r');
  try {
    const size = end ?? fs.fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let pos = size;
    let newlines = 0;
    const chunk = 1 << 16;
    // UTF-8: at most 4 bytes a character.
    const floor = Math.max(0, size - (n + 1) * MAX_LINE * 4);
    while (pos > floor && newlines <= n) {
      const len = Math.min(chunk, pos - floor);
      pos -= len;
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, pos);
      for (const b of buf) if (b === 10) newlines++;
      chunks.unshift(buf);
    }
    let text = Buffer.concat(chunks).toString('utf8');
    if (text === '') return [];
    if (text.endsWith('\n')) text = text.slice(0, -1);
    const all = text.split('\n');
    // The window started inside a line (at `floor`): that line's start is not here.
    const startCut = pos > 0 && all.length <= n;
    return all.slice(-n).map((l, i) => latestState(l, i === 0 && startCut ? -1 : 0));
  } finally {
    fs.closeSync(fd);
  }
}
