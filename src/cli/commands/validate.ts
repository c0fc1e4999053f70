// `engine-room validate`.
import * as path from 'node:path';
import { findConfigFile, formatProblem, loadConfig } from '../../core/config';
import { UsageError, err, out } from '../io';

export async function run(opts: { config?: string; json?: boolean }): Promise<number> {
  const file = opts.config ? path.resolve(opts.config) : findConfigFile(process.cwd());
  if (!file) throw new UsageError('No .vscode/engines.json found in this folder or above it; pass --config FILE.');
  const result = await loadConfig(file);
  if (opts.json) {
    out(JSON.stringify({ file, ok: !!result.config, problems: result.problems }, null, 2));
  } else {
    for (const p of result.problems) err(formatProblem(p));
    if (result.config) out(`${file}: ${result.config.engines.length} engine${result.config.engines.length === 1 ? '' : 's'}, no errors.`);
  }
  return result.config ? 0 : 2;
}
