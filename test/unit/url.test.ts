/** URLs of engines: IPv6 hosts in brackets, wildcard binds reached through loopback. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { browsableHost, httpUrl, urlHost } from '../../src/shared/url';

describe('url (unit)', () => {
  it('puts an IPv6 literal in brackets, once', () => {
    assert.equal(urlHost('::1'), '[::1]');
    assert.equal(urlHost('[::1]'), '[::1]');
    assert.equal(urlHost('fe80::1%eth0'), '[fe80::1%eth0]');
    assert.equal(urlHost('127.0.0.1'), '127.0.0.1');
    assert.equal(urlHost('localhost'), 'localhost');
  });

  it('builds http://host:port with an optional path', () => {
    assert.equal(httpUrl('::1', 8000), 'http://[::1]:8000');
    assert.equal(httpUrl('127.0.0.1', 8000, '/v1/models'), 'http://127.0.0.1:8000/v1/models');
    assert.equal(new URL(httpUrl('::1', 8000, '/health')).port, '8000');
  });

  it('reaches a wildcard bind through loopback and leaves other hosts alone', () => {
    assert.equal(browsableHost('0.0.0.0'), '127.0.0.1');
    assert.equal(browsableHost('::'), '127.0.0.1');
    assert.equal(browsableHost('::1'), '::1');
    assert.equal(browsableHost('192.0.2.7'), '192.0.2.7');
  });
});
