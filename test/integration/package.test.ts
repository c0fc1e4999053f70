/**
 * The .vsix as vsce builds it: what a user installs shows its icon, its README with the README's images,
 * and its changelog; no link in the manifest or the README points at a host that cannot exist, and every
 * `command:engineRoom.*` link of the welcome view names a command the extension declares.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../support/helpers';

/** The files `vsce package` would put in the .vsix (it reads .vscodeignore the same way). */
function packagedFiles(): string[] {
  const vsce = path.join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
  const r = spawnSync(process.execPath, [vsce, 'ls', '--no-dependencies'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Width and height of a PNG file (its IHDR chunk). */
function pngSize(file: string): [number, number] {
  const b = fs.readFileSync(file);
  assert.equal(b.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', `${file} is not a PNG`);
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

test('(integration) the .vsix holds the icon (a 128 px PNG), the README with its images, and the CHANGELOG', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { icon?: string };
  const files = new Set(packagedFiles());
  assert.ok(manifest.icon, 'package.json names an icon');
  assert.ok(files.has(manifest.icon), `${manifest.icon} is packaged`);
  assert.deepEqual(pngSize(path.join(ROOT, manifest.icon)), [128, 128]);
  for (const f of ['README.md', 'CHANGELOG.md', 'LICENSE', 'dist/extension.js']) assert.ok(files.has(f), `${f} is packaged`);
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const images = [...readme.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1] as string).filter((src) => !/^[a-z]+:/i.test(src));
  assert.ok(images.length > 0, 'the README shows an image');
  for (const src of images) assert.ok(files.has(src), `the README's image ${src} is packaged`);
});

test('(integration) no link points at an invalid host, and the welcome view links only commands the extension declares', () => {
  const text = fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8');
  for (const [name, body] of [['package.json', text], ['README.md', fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')]] as const) {
    assert.doesNotMatch(body, /https?:\/\/[^\s)"]*\.(invalid|example)\b/, `${name} links to a host that cannot exist`);
  }
  const manifest = JSON.parse(text) as { contributes: { commands: { command: string }[]; viewsWelcome: { contents: string }[] } };
  const declared = new Set(manifest.contributes.commands.map((c) => c.command));
  const linked = manifest.contributes.viewsWelcome.flatMap((v) => [...v.contents.matchAll(/\(command:(engineRoom\.[\w.]+)/g)].map((m) => m[1] as string));
  assert.ok(linked.length > 0, 'the welcome view links a command');
  for (const c of linked) assert.ok(declared.has(c), `the welcome view links ${c}, which is declared`);
});
