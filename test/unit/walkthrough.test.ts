/**
 * The walkthrough in package.json: every command a step links to or waits for is one the extension
 * contributes (or one of VS Code's own, named here; both are in code-server 4.100.3's workbench), every step's media file exists and is packaged (.vscodeignore is an allow-list).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../support/helpers';

/** VS Code's own commands the steps use. */
const BUILTIN_COMMANDS = ['workbench.action.openSettings', 'workbench.action.debug.configure'];

interface Step { id: string; description: string; media: { markdown?: string; image?: string }; completionEvents?: string[] }
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { commands: Array<{ command: string }>; walkthroughs: Array<{ id: string; steps: Step[] }>; configuration: { properties: Record<string, unknown> } };
};

test('(unit) the walkthrough: create from a preset, start, panel, launch.json; each link and completion event names a command that exists', () => {
  const ours = new Set(pkg.contributes.commands.map((c) => c.command));
  const [walk] = pkg.contributes.walkthroughs;
  assert.ok(walk);
  assert.deepEqual(walk.steps.map((s) => s.id), ['createConfig', 'start', 'panel', 'launch']);
  for (const step of walk.steps) {
    const linked = [...step.description.matchAll(/\(command:([\w.]+)/g)].map((m) => m[1]!);
    assert.ok(linked.length > 0, `step ${step.id} has a button`);
    const waited = (step.completionEvents ?? []).filter((e) => e.startsWith('onCommand:')).map((e) => e.slice('onCommand:'.length));
    for (const c of [...linked, ...waited]) assert.ok(ours.has(c) || BUILTIN_COMMANDS.includes(c), `step ${step.id}: command ${c} exists`);
    for (const e of step.completionEvents ?? []) {
      if (e.startsWith('onSettingChanged:')) assert.ok(e.slice('onSettingChanged:'.length) in pkg.contributes.configuration.properties, `step ${step.id}: ${e}`);
    }
  }
});

test('(unit) the walkthrough\'s media files exist and go into the .vsix', () => {
  const allow = fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1));
  const packaged = (file: string) => allow.some((a) => path.matchesGlob(file, a));
  for (const step of pkg.contributes.walkthroughs[0]!.steps) {
    const file = step.media.markdown ?? step.media.image;
    assert.ok(file && fs.existsSync(path.join(ROOT, file)), `step ${step.id}: ${file} exists`);
    assert.ok(packaged(file), `${file} is in the .vscodeignore allow-list`);
    for (const m of fs.readFileSync(path.join(ROOT, file), 'utf8').matchAll(/\(command:([\w.]+)/g)) assert.fail(`${file} links to command ${m[1]}: markdown media cannot run commands`);
  }
});
