// The bundled entry of the reaper process (dist/reaper.js): see src/core/reaper.ts.
import { parseReaperArgv, runReaper } from '../core/reaper';

const args = parseReaperArgv(process.argv.slice(2));
if (!args) {
  process.stderr.write('usage: reaper.js STATE_DIR OWNER_ID OWNER_PID OWNER_START_TIME\n');
  process.exit(2);
}
runReaper(args).then(
  () => process.exit(0),
  () => process.exit(1),
);
