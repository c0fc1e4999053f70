/**
 * A separate OS process that adds 1 to the registry's `nextTicket` `n` times, each in its own critical
 * section with a pause between the read and the write (so overlapping sections would lose updates):
 * `node --import tsx registryClient.ts <stateDir> <n>`.
 */
import { Registry } from '../../src/core/registry';

const [stateDir, n] = process.argv.slice(2) as [string, string];
const registry = new Registry(stateDir);
for (let i = 0; i < Number(n); i++) {
  await registry.update(async (d) => {
    const v = d.nextTicket;
    await new Promise((r) => setTimeout(r, 1));
    d.nextTicket = v + 1;
  });
}
console.log('done');
