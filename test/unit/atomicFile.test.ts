/** writeFileAtomic: a reader in another process sees a whole file, old or new; the mode holds from the start. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { writeFileAtomic } from '../../src/core/atomicFile';
import { tempDir } from '../support/helpers';

const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('writeFileAtomic (unit)', () => {
  it('replaces the file with the mode asked for and leaves no temporary file', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'registry.json');
      fs.writeFileSync(file, 'old', { mode: 0o644 });
      writeFileAtomic(file, 'new', 0o600);
      assert.equal(fs.readFileSync(file, 'utf8'), 'new');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(leftovers(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without a mode, creates the file as writeFileSync would (0666 less the umask)', () => {
    const dir = tempDir();
    const umask = process.umask();
    try {
      const file = path.join(dir, 'engines.env');
      writeFileAtomic(file, 'A=1\n');
      assert.equal(fs.statSync(file).mode & 0o777, 0o666 & ~umask);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws, keeps the old file and removes its temporary file when the rename fails', () => {
    const dir = tempDir();
    try {
      const target = path.join(dir, 'a-directory');
      fs.mkdirSync(path.join(target, 'inside'), { recursive: true });
      assert.throws(() => writeFileAtomic(target, 'x'), /EISDIR|ENOTEMPTY|EEXIST|EPERM/);
      assert.ok(fs.statSync(target).isDirectory());
      assert.deepEqual(leftovers(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never shows a reader in another process a part of a file', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'big.json');
      const a = 'a'.repeat(1 << 20);
      const b = 'b'.repeat(1 << 20);
      writeFileAtomic(file, a);
      // Reads until told to stop; prints how many reads it made and how many were neither a nor b.
      const reader = spawn(process.execPath, ['-e', `
        const fs = require('node:fs');
        let reads = 0, torn = 0, stop = false;
        process.stdin.on('data', () => { stop = true; });
        (function loop() {
          for (let i = 0; i < 50; i++) {
            const t = fs.readFileSync(${JSON.stringify(file)}, 'utf8');
            reads++;
            if (t.length !== ${1 << 20} || (t[0] !== t[t.length - 1])) torn++;
          }
          if (stop) { process.stdout.write(JSON.stringify({ reads, torn })); process.exit(0); }
          setImmediate(loop);
        })();
      `], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const deadline = Date.now() + 1000;
      for (let i = 0; Date.now() < deadline; i++) {
        writeFileAtomic(file, i % 2 ? a : b);
        await new Promise((r) => setImmediate(r));
      }
      reader.stdin.end('stop');
      await new Promise((r) => reader.on('exit', r));
      const { reads, torn } = JSON.parse(out) as { reads: number; torn: number };
      assert.ok(reads > 0, 'the reader read');
      assert.equal(torn, 0, `${torn} of ${reads} reads saw a part of a file`);
      assert.deepEqual(leftovers(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
