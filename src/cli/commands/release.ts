// `engine-room release ID`: ends a lease of `engine-room lease` before its process exits.
import { releaseExternal } from '../../core/externalLeases';
import { UsageError, err } from '../common';
import { cliRegistry } from './lease';

export async function run(argv: string[]): Promise<number> {
  if (argv.length !== 1 || argv[0]!.startsWith('-')) throw new UsageError('release takes one lease id: engine-room release ID.');
  const id = argv[0]!;
  if (await releaseExternal(cliRegistry(), id)) return 0;
  err(`engine-room: no lease "${id}" on this host (released already, or its process is gone).`);
  return 1;
}
