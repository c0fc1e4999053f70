import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LogFollower, MAX_LINE, readLastLines } from '../../src/core/logs';
import { tempDir, waitFor } from '../support/helpers';

function follow(file: string) {
  const lines: string[] = [];
  const f = new LogFollower(file, 0, (ls) => lines.push(...ls), 500, 20);
  return { f, lines };
}

test('(unit) a 20 MB line without a newline is held only up to MAX_LINE; the file keeps it whole', async (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'e.log');
  fs.writeFileSync(file, 'before\n');
  const { f, lines } = follow(file);
  t.after(() => f.close());
  const chunk = 'x'.repeat(1 << 20);
  for (let i = 0; i < 20; i++) {
    fs.appendFileSync(file, chunk);
    f.poll();
  }
  fs.appendFileSync(file, 'END');
  await waitFor(() => (f.tail().at(-1) ?? '').endsWith('xEND'), 'the unfinished line to be followed to its end');
  const current = f.tail().at(-1) as string;
  assert.ok(current.length < MAX_LINE + 100, `held ${current.length} characters`);
  assert.ok(/^\[… \d+ characters cut; the whole line is in the log file\] x+END$/.test(current), current.slice(0, 100));
  fs.appendFileSync(file, '\nafter\n');
  await waitFor(() => lines.includes('after'), 'the next line');
  assert.equal(lines[0], 'before');
  assert.equal(lines.length, 3);
  assert.equal(lines[1], current, 'the finished line is what was shown while it grew');
  assert.equal(fs.statSync(file).size, 7 + 20 * (1 << 20) + 3 + 7, 'the file has the whole line');
});

test('(unit) a \\r progress bar is shown as its latest state, while it runs and once it ends; CRLF lines are plain lines', async (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'e.log');
  fs.writeFileSync(file, 'a windows line\r\n');
  const { f, lines } = follow(file);
  t.after(() => f.close());
  for (let i = 1; i <= 50; i++) {
    fs.appendFileSync(file, `downloading ${i}%\r`);
    f.poll();
  }
  await waitFor(() => f.tail().at(-1) === 'downloading 50%', () => `the latest state, tail is ${JSON.stringify(f.tail())}`);
  for (let i = 51; i <= 100; i++) fs.appendFileSync(file, `\rdownloading ${i}%`);
  fs.appendFileSync(file, '\ndone\n');
  await waitFor(() => lines.includes('done'), 'the line after the bar');
  assert.deepEqual(lines, ['a windows line', 'downloading 100%', 'done']);
  assert.deepEqual(readLastLines(file, 3), ['a windows line', 'downloading 100%', 'done']);
});

test('(unit) readLastLines shows a huge last line by its end, without reading all of it', async (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'e.log');
  fs.writeFileSync(file, `first\n${'y'.repeat(30 << 20)}tail\n`);
  const [last, ...rest] = readLastLines(file, 1);
  assert.deepEqual(rest, []);
  assert.ok(/^\[… its start cut; the whole line is in the log file\] y+tail$/.test(last as string), (last as string).slice(0, 100));
  assert.ok((last as string).length < MAX_LINE + 100);
  assert.deepEqual(readLastLines(path.join(dir, 'e.log'), 5, 6), ['first']);
});

test('(unit) a follower reads a flood a bounded piece per turn, and close() still delivers every line', async (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'e.log');
  const n = 100_000;
  fs.writeFileSync(file, Array.from({ length: n }, (_, i) => `line ${i + 1} ${'z'.repeat(30)}`).join('\n') + '\nlast without newline');
  const { f, lines } = follow(file);
  const firstTurn = lines.length;
  assert.ok(firstTurn > 0 && firstTurn < n, `the first turn read a part (${firstTurn} of ${n} lines)`);
  f.close();
  assert.equal(lines.length, n + 1);
  assert.equal(lines[n - 1], `line ${n} ${'z'.repeat(30)}`);
  assert.equal(lines[n], 'last without newline');
});
