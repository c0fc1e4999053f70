/**
 * A separate OS process that takes the host-wide start slot and holds it until killed (or for holdMs, or
 * until the file @path exists), printing what it does, first its wall clock (`clock <name> <Date.now()>`):
 * `node --import tsx lockClient.ts <stateDir> <name> [holdMs|@file]`.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { StartLock } from '../../src/core/hostLock';
import { Registry } from '../../src/core/registry';
import { selfIdentity } from '../../src/core/platform';

const [stateDir, name, holdMs] = process.argv.slice(2) as [string, string, string?];
const registry = new Registry(stateDir);
const lock = new StartLock(registry);
const owner = { ...selfIdentity(), id: randomUUID(), kind: 'other' as const, label: `lockClient ${name}` };
const t0 = Date.now();
console.log(`clock ${name} ${t0}`);
lock
  .acquire({
    owner,
    keys: [`test#${name}`],
    names: [name],
    holdFor: 60_000,
    onWait: (info) => console.log(`waiting ${name} holder=${info.holder?.pid ?? 'none'} ahead=${info.ahead}`),
    inside: () => undefined,
  })
  .then(async (held) => {
    console.log(`acquired ${name} after ${Date.now() - t0} ms at ${Date.now()}`);
    if (holdMs !== undefined) {
      if (holdMs.startsWith('@')) {
        // Hold until the test creates this file.
        while (!fs.existsSync(holdMs.slice(1))) await new Promise((r) => setTimeout(r, 10));
      } else {
        await new Promise((r) => setTimeout(r, Number(holdMs)));
      }
      await held.release();
      console.log(`released ${name} at ${Date.now()}`);
      process.exit(0);
    }
    setInterval(() => {}, 1000);
  });
