/**
 * What `remote.portsAttributes` should say so that VS Code (Remote-SSH, code-server, Codespaces) does
 * not auto-forward the ports inside engines' port blocks, while the serving ports stay forwardable.
 * Plain code (tested in plain Node); forwarding.ts asks the user and writes the setting.
 *
 * Why a setting: the API made for this, `workspace.registerPortAttributesProvider`, is still a proposed
 * API (vscode.proposed.portsAttributes.d.ts, absent from @types/vscode 1.140), which a published
 * extension cannot use. The setting's keys are a port ("8000"), an inclusive range ("24000-32767") or a
 * regular expression of the command line; an exact port's entry wins over a range's.
 */
import type { PortRanges } from '../core/ports';

export const SETTING_SECTION = 'remote';
export const SETTING_KEY = 'portsAttributes';
/** The label of the entries Engine Room writes: how it finds its own entries again (to update them). */
export const BLOCK_LABEL = 'Engine Room port blocks (internal)';

export interface PortAttributesEntry {
  readonly label?: string;
  readonly onAutoForward?: string;
  readonly [key: string]: unknown;
}
export type PortsAttributes = Readonly<Record<string, PortAttributesEntry>>;

/** A serving port of an engine, as a snapshot has it. */
export interface ServingPort {
  readonly engine: string;
  readonly port: number;
}

type Range = readonly [number, number];

/** The parts of `outer` that `cut` does not cover (0, 1 or 2 ranges). */
export function subtractRange(outer: Range, cut: Range): Range[] {
  const out: Range[] = [];
  if (cut[1] < outer[0] || cut[0] > outer[1]) return [outer];
  if (cut[0] > outer[0]) out.push([outer[0], cut[0] - 1]);
  if (cut[1] < outer[1]) out.push([cut[1] + 1, outer[1]]);
  return out;
}

/**
 * The entries Engine Room wants: the block range (less any part the auto ports share, where serving
 * ports live) not forwarded, and any serving port that falls inside it forwardable as usual.
 */
export function forwardingAttributes(ranges: PortRanges, serving: readonly ServingPort[]): Record<string, PortAttributesEntry> {
  const ignored = subtractRange(ranges.blocks, ranges.auto);
  const out: Record<string, PortAttributesEntry> = {};
  for (const [a, b] of ignored) out[a === b ? String(a) : `${a}-${b}`] = { label: BLOCK_LABEL, onAutoForward: 'ignore' };
  for (const s of serving) {
    if (ignored.some(([a, b]) => s.port >= a && s.port <= b)) out[String(s.port)] = { label: s.engine, onAutoForward: 'notify' };
  }
  return out;
}

function isEntry(v: unknown): v is PortAttributesEntry {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The setting's new value: `existing` (the workspace's value, kept as it is) with `wanted` added. A key
 * the user already gave an `onAutoForward` is theirs and left alone; entries Engine Room wrote before
 * (its label) that it no longer wants (the block range changed) are removed. `changed` is false when
 * there is nothing to write.
 */
export function mergePortsAttributes(existing: unknown, wanted: PortsAttributes): { value: Record<string, PortAttributesEntry>; changed: boolean } {
  const before: Record<string, PortAttributesEntry> = {};
  if (isEntry(existing)) for (const [k, v] of Object.entries(existing)) if (isEntry(v)) before[k] = v;
  const value: Record<string, PortAttributesEntry> = {};
  for (const [k, v] of Object.entries(before)) {
    if (v.label === BLOCK_LABEL && v.onAutoForward === 'ignore' && !(k in wanted)) continue;
    value[k] = v;
  }
  for (const [k, v] of Object.entries(wanted)) {
    const mine = value[k];
    if (mine?.onAutoForward !== undefined && mine.label !== BLOCK_LABEL) continue;
    value[k] = { ...mine, ...v };
  }
  return { value, changed: JSON.stringify(value) !== JSON.stringify(before) };
}

/** "24000-32767" for a message. */
export function ignoredRangesText(wanted: PortsAttributes): string {
  return Object.entries(wanted)
    .filter(([, v]) => v.onAutoForward === 'ignore')
    .map(([k]) => k)
    .join(', ');
}
