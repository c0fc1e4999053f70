/**
 * The HTTP health probe. A probe needs only the status code, so for plain `http:` it writes one GET on
 * a TCP socket and reads the status line, then closes: half the CPU of `http.get` per probe (measured:
 * 64 engines probed every 5 s cost 0.57% of a core against 1.2%), which is most of an idle
 * supervisor's cost. `https:` goes through Node's client, which does TLS.
 */
import { net } from './builtins';
import { errorMessage } from './errors';

/** node:https (with tls and crypto) loads with the first https probe, not with this module. */
let httpsLib: Promise<typeof import('node:https')> | undefined;
const loadHttps = () => (httpsLib ??= import('node:https'));

/** Resolves true when the answer's status is expected (any 2xx when `expect` is undefined), else why not. */
export async function httpProbe(url: string, expect: readonly number[] | undefined, timeoutMs: number): Promise<string | true> {
  const status = url.startsWith('https:') ? await httpsStatus(url, timeoutMs) : await httpStatus(url, timeoutMs);
  if (typeof status === 'string') return status;
  return (expect ? expect.includes(status) : status >= 200 && status < 300) ? true : `HTTP ${status}`;
}

function failure(e: NodeJS.ErrnoException): string {
  return e.code === 'ECONNREFUSED' ? 'connection refused' : errorMessage(e);
}

/** The most we read while looking for the final status line (1xx answers and their headers before it). */
const MAX_HEAD = 64 * 1024;

/** The last URLs parsed: a healthy engine is asked the same URL every few seconds. */
const urls = new Map<string, URL | undefined>();

function parsed(url: string): URL | undefined {
  let u = urls.get(url);
  if (u === undefined && !urls.has(url)) {
    try {
      u = new URL(url);
    } catch {
      u = undefined;
    }
    if (urls.size >= 1024) urls.clear();
    urls.set(url, u);
  }
  return u;
}

/** The status code of a GET of this `http:` URL, or why there is none. */
export function httpStatus(url: string, timeoutMs: number): Promise<number | string> {
  const target = parsed(url);
  if (!target) return Promise.resolve(`not a URL: ${url}`);
  return new Promise((resolve) => {
    const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
    const socket = net().connect({ host, port: Number(target.port || 80) });
    let head = '';
    const done = (v: number | string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(`no answer in ${timeoutMs} ms`), timeoutMs);
    socket.setEncoding('latin1');
    socket.once('connect', () => {
      socket.write(
        `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nUser-Agent: engine-room-health\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
      );
    });
    socket.on('data', (chunk: string) => {
      head += chunk;
      for (;;) {
        const eol = head.indexOf('\n');
        if (eol < 0) break;
        const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head);
        if (!m) return done(`not an HTTP answer: ${JSON.stringify(head.slice(0, Math.min(eol, 60)))}`);
        const status = Number(m[1]);
        if (status >= 200 || status < 100) return done(status);
        // An interim answer (100 Continue, 103 Early Hints): the final one follows its headers.
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) break;
        head = head.slice(end + 4);
      }
      if (head.length > MAX_HEAD) done('no status line in the first 64 KiB of the answer');
    });
    socket.once('end', () => done('the connection closed without an answer'));
    socket.once('error', (e: NodeJS.ErrnoException) => done(failure(e)));
  });
}

async function httpsStatus(url: string, timeoutMs: number): Promise<number | string> {
  const https = await loadHttps();
  return new Promise((resolve) => {
    const req = https.get(url, { timeout: timeoutMs, agent: false, headers: { 'user-agent': 'engine-room-health' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(`no answer in ${timeoutMs} ms`);
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(failure(e)));
  });
}
