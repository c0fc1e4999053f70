/** Codes that the UI and the CLI act on; never match errors by message text. */
export type EngineRoomErrorCode =
  | 'bad-config'
  | 'config-not-found'
  | 'state-dir-unsafe'
  | 'state-dir-full'
  | 'lock-timeout'
  | 'lock-cancelled'
  | 'port-busy'
  | 'port-conflict'
  | 'port-leased'
  | 'no-free-port'
  | 'EADDRINUSE'
  | 'spawn-failed'
  | 'exited'
  | 'health-timeout'
  | 'dependency-failed'
  | 'stopped'
  | 'unknown-engine'
  | 'unknown-lease'
  | 'no-such-process';

/** An error with a stable code. */
export class EngineRoomError extends Error {
  override readonly name = 'EngineRoomError';
  constructor(
    readonly code: EngineRoomErrorCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

export function isEngineRoomError(e: unknown, code?: EngineRoomErrorCode): e is EngineRoomError {
  return e instanceof EngineRoomError && (code === undefined || e.code === code);
}

/** A write failed because the disk (or the user's quota) is full. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
