/** Exits once everything written to stdout and stderr has reached the kernel (pipes can lag behind). */
export function exitAfterFlush(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
