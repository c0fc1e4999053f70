/**
 * Ports of an engine's block handed to the engine by position, resolved at launch once the block is
 * leased: those its preset places (`PresetBlockPort`: Ray's ten port flags, vLLM's data-parallel master
 * and NIXL side-channel ports) and `MASTER_PORT`, torch.distributed's rendezvous port (default 29500 on
 * every engine of a host), which every engine with a block gets unless it sets it: at the place its
 * preset chooses, else the block's last port.
 *
 * The config's own variables name only the block's first and last port (`${portBlock}`,
 * `${portBlockEnd}`), so a preset that spreads one block over many flags does the arithmetic here, in
 * code, not through a shell.
 */
import { EngineRoomError } from './errors';
import type { EngineSpec } from './model';
import { PRESETS, findFlag, isPresetName, shellHasFlag, type PresetBlockPort } from './presets';

/** The ports a preset places by offset (none for an engine without a preset). */
export function presetBlockPorts(preset: string | undefined): readonly PresetBlockPort[] {
  return isPresetName(preset) ? (PRESETS[preset].blockPorts ?? []) : [];
}

/** The smallest block in which these ports are all different ports. */
export function minBlockSize(ports: readonly PresetBlockPort[]): number {
  const fromFirst = ports.filter((p) => p.offset >= 0).map((p) => p.offset + 1);
  const fromLast = ports.filter((p) => p.offset < 0).map((p) => -p.offset);
  return Math.max(0, ...fromFirst) + Math.max(0, ...fromLast);
}

/** The port at `offset` of a block: from its first port, or (negative) from its last. */
export function blockPortAt(block: readonly [number, number], offset: number): number {
  return offset >= 0 ? block[0] + offset : block[1] + 1 + offset;
}

export interface PlacedPorts {
  /** Appended to the command (for a shell command, to its line). */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The flags and variables that place an engine's block ports: a flag unless the command has it, a
 * variable unless `isSet` says the engine sets it (its `env` or `envFile`). Nothing without a block.
 */
export function placeBlockPorts(
  spec: Pick<EngineSpec, 'name' | 'preset' | 'command' | 'shell'>,
  block: readonly [number, number] | undefined,
  isSet: (name: string) => boolean,
): PlacedPorts {
  if (!block) return { args: [], env: {} };
  const own = presetBlockPorts(spec.preset);
  const size = block[1] - block[0] + 1;
  const need = minBlockSize(own);
  if (size < need) {
    throw new EngineRoomError('bad-config', `Engine "${spec.name}": the ${spec.preset} preset needs a portBlock of at least ${need}; it has ${size}`);
  }
  const ports = own.some((p) => p.env === 'MASTER_PORT') ? own : [...own, { offset: -1, env: 'MASTER_PORT' }];
  const has = (flag: string): boolean =>
    spec.shell ? shellHasFlag(spec.command[0] ?? '', [flag]) : findFlag(spec.command, [flag]) !== undefined;
  const args: string[] = [];
  const env: Record<string, string> = {};
  for (const p of ports) {
    const port = String(blockPortAt(block, p.offset));
    if (p.flag !== undefined && !has(p.flag)) args.push(p.flag, port);
    if (p.env !== undefined && !isSet(p.env)) env[p.env] = port;
  }
  return { args, env };
}
