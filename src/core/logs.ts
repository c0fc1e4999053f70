/**
 * Engine logs: every line is in the log file (the engine writes it directly); this module follows the
 * file for the UI, the CLI and the log health probe, and keeps a bounded tail in memory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';

/** `<stateDir>/logs/<folder>-<hash of the config path>/<engine>.log` */
export function logFileFor(stateDir: string, configFile: string, name: string): string {
  const hash = createHash('sha256').update(configFile).digest('hex').slice(0, 8);
  const folder = path.basename(path.dirname(path.dirname(configFile))).replace(/[^A-Za-z0-9_.-]/g, '_') || 'root';
  return path.join(stateDir, 'logs', `${folder}-${hash}`, `${name}.log`);
}

/** Appends one line of our own to an engine's log, marked so it stands out from the engine's lines. */
export function appendLogNote(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.appendFileSync(file, `[engine-room ${new Date().toISOString()}] ${text}\n`, { mode: 0o600 });
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

/** How often a follower that has a file watcher polls as well. */
const WATCHED_POLL_MS = 1000;

/** Follows a growing file from an offset and hands out whole lines; keeps the last `keep` in memory. */
export class LogFollower {
  private offset: number;
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private readonly ring: string[] = [];
  private watcher: fs.FSWatcher | undefined;
  private stopPolling: (() => void) | undefined;
  private reading = false;
  private again = false;
  private closed = false;

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
    // watcher and at most once a second with one (a safety net then: 64 idle engines' logs polled every
    // 250 ms cost a supervisor about a tenth of its idle CPU).
    this.stopPolling = pollEvery(this.watcher ? Math.max(pollMs, WATCHED_POLL_MS) : pollMs, this);
    this.poll();
  }

  /** The last lines seen (at most `keep`). */
  tail(n = this.keep): string[] {
    return this.ring.slice(-n);
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
    // Most polls find nothing new: one stat, no open.
    if (fileSize(this.file) === this.offset) return;
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // truncated by someone: start over
      const buf = Buffer.allocUnsafe(1 << 16);
      while (this.offset < size) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - this.offset), this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.push(this.decoder.write(buf.subarray(0, n)));
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  private push(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    if (parts.length === 0) return;
    const lines = parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    this.ring.push(...lines.slice(-this.keep));
    if (this.ring.length > this.keep) this.ring.splice(0, this.ring.length - this.keep);
    this.onLines(lines);
  }

  /** Stops following; a final read picks up what is there (and a last line without newline). */
  close(): void {
    if (this.closed) return;
    this.poll();
    if (this.partial) {
      const last = this.partial;
      this.partial = '';
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

/** The last `n` lines of a file, or of its first `end` bytes (no cap of our own: reads backwards in chunks). */
export function readLastLines(file: string, n: number, end?: number): string[] {
  if (n <= 0) return [];
  const fd = fs.openSync(file, 'r');
  try {
    const size = end ?? fs.fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let pos = size;
    let newlines = 0;
    const chunk = 1 << 16;
    while (pos > 0 && newlines <= n) {
      const len = Math.min(chunk, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, pos);
      for (const b of buf) if (b === 10) newlines++;
      chunks.unshift(buf);
    }
    let text = Buffer.concat(chunks).toString('utf8');
    if (text === '') return [];
    if (text.endsWith('\n')) text = text.slice(0, -1);
    const lines = text.split('\n');
    return lines.slice(-n);
  } finally {
    fs.closeSync(fd);
  }
}
