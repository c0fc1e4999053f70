/**
 * `remote.portsAttributes` for the port blocks: the block range (less what the auto ports share) is not
 * auto-forwarded, serving ports inside it stay forwardable, and the user's own entries are kept. The
 * ranges come from the core's defaultPortRanges(), with this machine's ephemeral range.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPortRanges } from '../../src/core/ports';
import { BLOCK_LABEL, forwardingAttributes, ignoredRangesText, mergePortsAttributes, subtractRange } from '../../src/vscode/portsAttributes';

/** What VS Code does with the setting (its matching, as read in 1.100's workbench): an exact port wins over a range, ranges are inclusive. */
function onAutoForward(attrs: Record<string, { onAutoForward?: string }>, port: number): string {
  if (attrs[String(port)]?.onAutoForward) return attrs[String(port)]!.onAutoForward!;
  for (const [k, v] of Object.entries(attrs)) {
    const m = /^(\d+)-(\d+)$/.exec(k);
    if (m && port >= Number(m[1]) && port <= Number(m[2]) && v.onAutoForward) return v.onAutoForward;
  }
  return 'notify';
}

test('(unit) the default ranges: every block port is ignored, every auto port is not', () => {
  const ranges = defaultPortRanges({});
  const attrs = forwardingAttributes(ranges, []);
  assert.deepEqual(Object.keys(attrs), [`${ranges.blocks[0]}-${ranges.blocks[1]}`]);
  assert.equal(attrs[`${ranges.blocks[0]}-${ranges.blocks[1]}`]!.label, BLOCK_LABEL);
  for (const p of [ranges.blocks[0], ranges.blocks[0] + 19, ranges.blocks[1]]) assert.equal(onAutoForward(attrs, p), 'ignore', `block port ${p}`);
  for (const p of [ranges.auto[0], ranges.auto[1], 8000]) assert.equal(onAutoForward(attrs, p), 'notify', `serving port ${p}`);
});

test('(unit) a serving port inside the block range stays forwardable; overlapping ranges leave only the part that holds no auto ports', () => {
  const attrs = forwardingAttributes({ auto: [20000, 23999], blocks: [24000, 32767] }, [{ engine: 'policy', port: 25000 }, { engine: 'web', port: 20001 }]);
  assert.deepEqual(attrs['25000'], { label: 'policy', onAutoForward: 'notify' });
  assert.equal(attrs['20001'], undefined);
  assert.equal(onAutoForward(attrs, 25000), 'notify');
  assert.equal(onAutoForward(attrs, 25001), 'ignore');
  // ENGINE_ROOM_BLOCK_RANGE over part of the auto range: only the rest is ignored.
  const over = forwardingAttributes(defaultPortRanges({ ENGINE_ROOM_PORT_RANGE: '20000-24999', ENGINE_ROOM_BLOCK_RANGE: '24000-30000' }), []);
  assert.deepEqual(Object.keys(over), ['25000-30000']);
  assert.equal(ignoredRangesText(over), '25000-30000');
  // Blocks and auto ports in one range (an unusual ephemeral range): nothing can be ignored as a range.
  assert.deepEqual(forwardingAttributes({ auto: [10000, 20000], blocks: [10000, 20000] }, []), {});
  assert.deepEqual(subtractRange([10, 20], [12, 15]), [[10, 11], [16, 20]]);
  assert.deepEqual(subtractRange([10, 20], [30, 40]), [[10, 20]]);
});

test('(unit) merging into the workspace setting keeps the user\'s entries, replaces its own old range, and says when nothing changes', () => {
  const wanted = forwardingAttributes({ auto: [20000, 23999], blocks: [24000, 32767] }, []);
  const user = { '3000': { label: 'app', onAutoForward: 'openBrowser' }, '24000-32767': { label: 'mine', onAutoForward: 'silent' } };
  const kept = mergePortsAttributes(user, wanted);
  assert.equal(kept.changed, false, 'the user decided about that very range');
  assert.deepEqual(kept.value, user);

  const first = mergePortsAttributes({ '3000': { label: 'app' } }, wanted);
  assert.equal(first.changed, true);
  assert.deepEqual(first.value, { '3000': { label: 'app' }, '24000-32767': { label: BLOCK_LABEL, onAutoForward: 'ignore' } });
  assert.equal(mergePortsAttributes(first.value, wanted).changed, false, 'written once, nothing more to write');

  const moved = mergePortsAttributes(first.value, forwardingAttributes({ auto: [20000, 23999], blocks: [40000, 41000] }, []));
  assert.deepEqual(Object.keys(moved.value), ['3000', '40000-41000'], 'its old range is gone');
  assert.equal(mergePortsAttributes(undefined, wanted).changed, true);
  assert.equal(mergePortsAttributes('not an object', wanted).changed, true);
});
