/** Durations and sizes as the tree, the panel and the status texts show them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, formatGiB, formatSeconds } from '../../src/shared/format';

describe('format (unit)', () => {
  it('shows an uptime in seconds, then minutes and seconds, then hours and minutes', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(999), '0s');
    assert.equal(formatDuration(59_999), '59s');
    assert.equal(formatDuration(60_000), '1m 0s');
    assert.equal(formatDuration(185_000), '3m 5s');
    assert.equal(formatDuration(3_599_999), '59m 59s');
    assert.equal(formatDuration(3_600_000), '1h 0m');
    assert.equal(formatDuration((26 * 60 + 7) * 60_000 + 59_000), '26h 7m');
  });

  it('shows a delay in seconds with the decimals asked for', () => {
    assert.equal(formatSeconds(1500), '1.5 s');
    assert.equal(formatSeconds(250, 2), '0.25 s');
    assert.equal(formatSeconds(12_345, 0), '12 s');
  });

  it('shows GPU memory in GiB with one decimal', () => {
    assert.equal(formatGiB(1536), '1.5 GiB');
    assert.equal(formatGiB(80 * 1024), '80.0 GiB');
  });
});
