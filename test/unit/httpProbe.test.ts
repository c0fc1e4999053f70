// The HTTP health probe against real servers on loopback: what it asks, and what it makes of each answer.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { httpProbe } from '../../src/core/httpProbe';

async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

test('(unit) the probe asks the path and query with the right Host header, and any 2xx is healthy', async (t) => {
  const seen: Array<{ url?: string; host?: string; ua?: string }> = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url, host: req.headers.host, ua: req.headers['user-agent'] });
    res.writeHead(req.url === '/ready?deep=1' ? 204 : 404).end();
  });
  const port = await listen(server);
  t.after(() => server.close());
  assert.equal(await httpProbe(`http://127.0.0.1:${port}/ready?deep=1`, undefined, 2000), true);
  assert.equal(await httpProbe(`http://127.0.0.1:${port}/other`, undefined, 2000), 'HTTP 404');
  assert.equal(await httpProbe(`http://127.0.0.1:${port}/other`, [404], 2000), true);
  assert.deepEqual(seen[0], { url: '/ready?deep=1', host: `127.0.0.1:${port}`, ua: 'engine-room-health' });
});

test('(unit) an interim 1xx answer is skipped and the final status counts', async (t) => {
  const server = http.createServer((_req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
    res.writeHead(503).end('loading');
  });
  const port = await listen(server);
  t.after(() => server.close());
  assert.equal(await httpProbe(`http://127.0.0.1:${port}/health`, undefined, 2000), 'HTTP 503');
  assert.equal(await httpProbe(`http://127.0.0.1:${port}/health`, [503], 2000), true);
});

test('(unit) an HTTP/1.0 server that answers and closes, status line split over several writes', async (t) => {
  const server = net.createServer((s) => {
    s.once('data', () => {
      s.write('HTTP/1.0 2');
      setTimeout(() => s.end('00 OK\r\ncontent-length: 2\r\n\r\nok'), 20);
    });
  });
  const port = await listen(server);
  t.after(() => server.close());
  assert.equal(await httpProbe(`http://127.0.0.1:${port}/`, undefined, 2000), true);
});

test('(unit) refused, silent, closing and non-HTTP servers are each told apart', async (t) => {
  const closed = net.createServer();
  const refusedPort = await listen(closed);
  await new Promise<void>((r) => closed.close(() => r()));
  assert.equal(await httpProbe(`http://127.0.0.1:${refusedPort}/`, undefined, 2000), 'connection refused');

  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s));
  const silentPort = await listen(silent);
  const closer = net.createServer((s) => s.once('data', () => s.end()));
  const closerPort = await listen(closer);
  const garbage = net.createServer((s) => s.once('data', () => s.end('SSH-2.0-OpenSSH_9.2\r\n')));
  const garbagePort = await listen(garbage);
  t.after(() => {
    for (const s of sockets) s.destroy();
    for (const s of [silent, closer, garbage]) s.close();
  });
  assert.equal(await httpProbe(`http://127.0.0.1:${silentPort}/`, undefined, 300), 'no answer in 300 ms');
  assert.equal(await httpProbe(`http://127.0.0.1:${closerPort}/`, undefined, 2000), 'the connection closed without an answer');
  assert.equal(await httpProbe(`http://127.0.0.1:${garbagePort}/`, undefined, 2000), 'not an HTTP answer: "SSH-2.0-OpenSSH_9.2\\r"');
});

test('(unit) an IPv6 loopback engine is probed at its bracketed address', async (t) => {
  let hostHeader: string | undefined;
  const server = http.createServer((req, res) => {
    hostHeader = req.headers.host;
    res.end('ok');
  });
  let port: number;
  try {
    port = await listen(server, '::1');
  } catch (e) {
    // A host without IPv6 loopback: the probe cannot be tried there, and that must be visible.
    assert.fail(`no IPv6 loopback on this host: ${String(e)}`);
  }
  t.after(() => server.close());
  assert.equal(await httpProbe(`http://[::1]:${port}/health`, undefined, 2000), true);
  assert.equal(hostHeader, `[::1]:${port}`);
});
