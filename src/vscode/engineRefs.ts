/** What the extension's parts use to name engines and folders (the store hands them out). */
import * as path from 'node:path';
import type * as vscode from 'vscode';
import type { ConfigProblem } from '../core/model';
import type { EngineSnapshot } from '../core/supervisor/supervisor';
import type { lockState } from '../core/hostLock';

export const CONFIG_RELATIVE = '.vscode/engines.json';

/** One workspace folder and what its config gave (its supervisor is the store's: see `loaded()`). */
export interface FolderEngines {
  readonly folder: vscode.WorkspaceFolder;
  readonly configUri: vscode.Uri;
  readonly problems: readonly ConfigProblem[];
  readonly exists: boolean;
}

/** What a tree item, a quick pick or a command refers to. */
export interface EngineRef {
  readonly folder: FolderEngines;
  readonly name: string;
  /** `${configFile}#${name}`: stable across refreshes. */
  readonly key: string;
}

/** One engine changed: its new snapshot, as the supervisor built it. */
export interface EngineChange {
  readonly ref: EngineRef;
  readonly snapshot: EngineSnapshot;
}

/** Engines of one folder to act on; no names: all of them. */
export interface EngineJob {
  readonly folder: FolderEngines;
  readonly names: readonly string[];
}

/** Who holds the host-wide start lock and who waits. */
export type LockStatus = ReturnType<typeof lockState>;

/** The refs grouped by folder, in the order given. */
export function jobsOf(refs: readonly EngineRef[]): EngineJob[] {
  const byFolder = new Map<FolderEngines, string[]>();
  for (const r of refs) byFolder.set(r.folder, [...(byFolder.get(r.folder) ?? []), r.name]);
  return [...byFolder].map(([folder, names]) => ({ folder, names }));
}

/** "api" or "api (folder)" when several folders have engines. */
export function engineLabel(ref: EngineRef, multiFolder: boolean): string {
  return multiFolder ? `${ref.name} (${ref.folder.folder.name})` : ref.name;
}

export function configDisplayPath(f: FolderEngines): string {
  return path.join(f.folder.name, CONFIG_RELATIVE);
}
