/**
 * Writing a file in one step: a reader (another process, without a lock) sees the old file or the new
 * one, never a part. Used for the registry and for `.vscode/engines.env`.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

/**
 * Replaces `file` with `text`: writes a temporary file beside it (a rename is atomic only within one
 * file system) and renames it over `file`. The temporary file is created with `mode` (default 0o666,
 * less the umask), so a private file is never readable by others, not even for a moment. On failure
 * the temporary file is removed and the error thrown; `file` is then as it was.
 */
export function writeFileAtomic(file: string, text: string, mode?: number): void {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, text, mode === undefined ? undefined : { mode });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
