// What every command and the dispatch share and that costs nothing to load: output, and the errors that
// pick the exit code. (common.ts, which loads the config and the supervisor, re-exports them.)

export class UsageError extends Error {}
/** The configuration has errors (already printed): exit 2. */
export class BadConfig extends Error {}

export const out = (s: string) => process.stdout.write(s + '\n');
export const err = (s: string) => process.stderr.write(s + '\n');
